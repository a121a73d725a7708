//! # morph-signing: package signatures and the trust store
//!
//! - **Keys** ([`PrivateKey`], [`PublicKey`], [`KeyId`]): Ed25519 (the default) or RSA
//!   (2048 to 4096 bits, 3072 by default) for RSASSA-PSS-SHA-256 with a 32-byte salt.
//!   Private keys are PKCS#8 PEM files written with mode 0600 and never overwritten;
//!   public keys are SPKI PEM. A key's id is the sha256 of its SPKI DER.
//! - **The statement** ([`Statement`]): what a signature covers (id, version, publisher,
//!   the sha256 of the manifest, the module and each asset) in one canonical, versioned
//!   byte encoding. [`sign_package`] signs it and attaches a [`SignatureEnvelope`] to the
//!   package.
//! - **The trust store** ([`TrustStore`]): trusted keys, each tied to one publisher and
//!   possibly revoked, and a denylist of digests; persisted through [`TrustStorage`]
//!   ([`FileTrustStorage`] writes one JSON file atomically).
//! - **Verification** ([`verify`]): from the package's bytes, without parsing the wasm;
//!   returns a [`VerifiedPackage`] or a [`VerifyError`] that says what failed and what to
//!   do.
//!
//! Signing happens offline on the author's machine; hosts only verify with public keys.
//! Every type is `Send + Sync`. See `docs/trust.md` for the formats.
//!
//! ```
//! use morph_package::Package;
//! use morph_signing::{Algorithm, PrivateKey, TrustStore, sign_package, verify};
//!
//! let manifest = b"id = \"hello\"\nversion = \"1.0.0\"\npublisher = \"Acme\"\n".to_vec();
//! let mut package = Package::new(manifest, b"\0asm\x01\0\0\0".to_vec())?;
//! let key = PrivateKey::generate(Algorithm::Ed25519)?;
//! sign_package(&mut package, &key)?;
//!
//! let mut trust = TrustStore::new();
//! trust.add_key(key.public_key().clone(), "Acme")?;
//! let verified = verify(package, &trust)?;
//! assert_eq!(verified.publisher(), "Acme");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod envelope;
mod error;
mod keys;
mod statement;
mod trust;
mod verify;

pub use envelope::SignatureEnvelope;
pub use error::SigningError;
pub use keys::{
    Algorithm, KeyId, PrivateKey, PublicKey, RSA_DEFAULT_BITS, RSA_MIN_BITS, RSA_PSS_SALT_LEN,
};
pub use morph_package::Digest;
pub use statement::Statement;
pub use trust::{FileTrustStorage, TrustStorage, TrustStore, TrustedKey};
pub use verify::{SignedPart, VerifiedPackage, VerifyError, sign_package, sign_statement, verify};
