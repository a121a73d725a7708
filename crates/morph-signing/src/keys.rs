//! Key pairs, key files and key ids.

use crate::error::SigningError;
use ed25519_dalek::pkcs8::spki::{DecodePublicKey, EncodePublicKey};
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use morph_package::Digest;
use rsa::pkcs8::LineEnding;
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::traits::PublicKeyParts;
use sha2::Sha256;
use std::fmt;
use std::io::Write;
use std::path::Path;

/// The smallest RSA modulus accepted, for signing or verifying, in bits.
pub const RSA_MIN_BITS: u32 = 2048;
/// The RSA modulus [`PrivateKey::generate`] uses, in bits.
pub const RSA_DEFAULT_BITS: u32 = 3072;
/// The RSA-PSS salt length, in bytes: the SHA-256 output size. Signing uses it and
/// verification requires it (`openssl ... -sigopt rsa_pss_saltlen:32`).
pub const RSA_PSS_SALT_LEN: usize = 32;
/// The largest key file read, in bytes (a 4096-bit RSA PKCS#8 PEM is about 3.3 KiB).
const MAX_KEY_FILE: u64 = 64 * 1024;

/// A signature algorithm.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Algorithm {
    /// Ed25519 (RFC 8032, pure: the statement is signed as it is). The default.
    #[default]
    #[serde(rename = "ed25519")]
    Ed25519,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt (RFC 8017).
    #[serde(rename = "rsa-pss-sha256")]
    RsaPssSha256,
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ed25519 => "ed25519",
            Self::RsaPssSha256 => "rsa-pss-sha256",
        })
    }
}

/// A key's id: the sha256 of its SubjectPublicKeyInfo DER encoding. Shown in full as 64
/// hex digits, or shortened to 16 by [`KeyId::short`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(Digest);

impl KeyId {
    /// The id of a public key given as SPKI DER.
    #[must_use]
    pub fn of_spki_der(der: &[u8]) -> Self {
        Self(Digest::of(der))
    }
    /// Parses 64 hex digits (what [`fmt::Display`] writes).
    ///
    /// # Errors
    /// [`SigningError::KeyFormat`] when `hex` is not 64 hex digits.
    pub fn parse(hex: &str) -> Result<Self, SigningError> {
        Digest::from_hex(hex).map(Self).ok_or_else(|| {
            SigningError::KeyFormat("a key id must be 64 hex digits (sha256 of the key)".into())
        })
    }
    /// The first 16 hex digits, for display.
    #[must_use]
    pub fn short(&self) -> String {
        let mut hex = self.0.hex();
        hex.truncate(16);
        hex
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.hex())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.short())
    }
}

/// A public key: what a trust store holds and a host verifies with. Two keys are equal
/// when their SPKI encodings (so their ids) are.
#[derive(Clone)]
pub struct PublicKey {
    inner: PublicInner,
    id: KeyId,
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for PublicKey {}

#[derive(Clone)]
enum PublicInner {
    Ed25519(ed25519_dalek::VerifyingKey),
    Rsa(rsa::pss::VerifyingKey<Sha256>),
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({}, {})", self.algorithm(), self.id.short())
    }
}

impl PublicKey {
    /// Reads a SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`), Ed25519 or RSA.
    ///
    /// # Errors
    /// [`SigningError::KeyFormat`] when it is neither an Ed25519 nor an RSA public key;
    /// [`SigningError::KeyTooSmall`] for an RSA modulus under [`RSA_MIN_BITS`].
    pub fn from_spki_pem(pem: &str) -> Result<Self, SigningError> {
        if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_pem(pem) {
            return Self::from_inner(PublicInner::Ed25519(k));
        }
        match rsa::PublicKey::from_public_key_pem(pem) {
            Ok(k) => Self::from_rsa(k),
            Err(e) => Err(SigningError::KeyFormat(format!(
                "not an Ed25519 or RSA public key in SPKI PEM (`BEGIN PUBLIC KEY`): {e}"
            ))),
        }
    }

    /// Reads a SubjectPublicKeyInfo DER, Ed25519 or RSA.
    ///
    /// # Errors
    /// As [`PublicKey::from_spki_pem`].
    pub fn from_spki_der(der: &[u8]) -> Result<Self, SigningError> {
        if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_der(der) {
            return Self::from_inner(PublicInner::Ed25519(k));
        }
        match rsa::PublicKey::from_public_key_der(der) {
            Ok(k) => Self::from_rsa(k),
            Err(e) => Err(SigningError::KeyFormat(format!(
                "not an Ed25519 or RSA public key in SPKI DER: {e}"
            ))),
        }
    }

    /// Reads a public key file (SPKI PEM).
    ///
    /// # Errors
    /// [`SigningError::Io`], and as [`PublicKey::from_spki_pem`].
    pub fn read_pem_file(path: &Path) -> Result<Self, SigningError> {
        Self::from_spki_pem(&read_small_text(path)?)
    }

    fn from_rsa(k: rsa::PublicKey) -> Result<Self, SigningError> {
        let bits = k.n().as_ref().bit_width();
        if bits < RSA_MIN_BITS {
            return Err(SigningError::KeyTooSmall {
                bits,
                min: RSA_MIN_BITS,
            });
        }
        Self::from_inner(PublicInner::Rsa(rsa::pss::VerifyingKey::new_with_salt_len(
            k,
            RSA_PSS_SALT_LEN,
        )))
    }

    fn from_inner(inner: PublicInner) -> Result<Self, SigningError> {
        let der = spki_der(&inner)?;
        Ok(Self {
            id: KeyId::of_spki_der(&der),
            inner,
        })
    }

    /// The SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`, LF line endings).
    ///
    /// # Errors
    /// [`SigningError::KeyFormat`] if encoding fails (it does not for keys this crate read).
    pub fn to_spki_pem(&self) -> Result<String, SigningError> {
        let pem = match &self.inner {
            PublicInner::Ed25519(k) => k.to_public_key_pem(LineEnding::LF),
            PublicInner::Rsa(k) => k.to_public_key_pem(LineEnding::LF),
        };
        pem.map_err(|e| SigningError::KeyFormat(format!("cannot encode the public key: {e}")))
    }

    /// The SubjectPublicKeyInfo DER.
    ///
    /// # Errors
    /// As [`PublicKey::to_spki_pem`].
    pub fn to_spki_der(&self) -> Result<Vec<u8>, SigningError> {
        spki_der(&self.inner)
    }

    /// The key's id.
    #[must_use]
    pub fn key_id(&self) -> KeyId {
        self.id
    }

    /// The algorithm this key verifies.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        match self.inner {
            PublicInner::Ed25519(_) => Algorithm::Ed25519,
            PublicInner::Rsa(_) => Algorithm::RsaPssSha256,
        }
    }

    /// Whether `signature` is this key's signature of `message` (Ed25519 in strict mode;
    /// RSA-PSS-SHA-256 with a 32-byte salt). This is the primitive under package
    /// verification, exposed for interoperability tests and tools.
    #[must_use]
    pub fn verify_raw(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.inner {
            PublicInner::Ed25519(k) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|s| k.verify_strict(message, &s).is_ok()),
            PublicInner::Rsa(k) => rsa::pss::Signature::try_from(signature)
                .is_ok_and(|s| k.verify(message, &s).is_ok()),
        }
    }
}

fn spki_der(inner: &PublicInner) -> Result<Vec<u8>, SigningError> {
    let doc = match inner {
        PublicInner::Ed25519(k) => k.to_public_key_der(),
        PublicInner::Rsa(k) => k.to_public_key_der(),
    };
    doc.map(|d| d.as_bytes().to_vec())
        .map_err(|e| SigningError::KeyFormat(format!("cannot encode the public key: {e}")))
}

/// A private key: an author's, used offline to sign packages. Hosts never need one.
pub struct PrivateKey {
    inner: PrivateInner,
    public: PublicKey,
}

enum PrivateInner {
    Ed25519(ed25519_dalek::SigningKey),
    Rsa(rsa::pss::SigningKey<Sha256>),
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PrivateKey({}, {})",
            self.algorithm(),
            self.public.id.short()
        )
    }
}

impl PrivateKey {
    /// A new key from the operating system's random source: Ed25519, or RSA with
    /// [`RSA_DEFAULT_BITS`] bits.
    ///
    /// # Errors
    /// [`SigningError::Random`] when the OS random source fails.
    pub fn generate(algorithm: Algorithm) -> Result<Self, SigningError> {
        match algorithm {
            Algorithm::Ed25519 => {
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed).map_err(|e| SigningError::Random(e.to_string()))?;
                let key = ed25519_dalek::SigningKey::from_bytes(&seed);
                seed.fill(0);
                Self::from_inner(PrivateInner::Ed25519(key))
            }
            Algorithm::RsaPssSha256 => Self::generate_rsa(RSA_DEFAULT_BITS),
        }
    }

    /// A new RSA key of `bits` bits (2048 to 4096; 3072 is the default, and slow: seconds).
    ///
    /// # Errors
    /// [`SigningError::KeyTooSmall`] under [`RSA_MIN_BITS`]; [`SigningError::Random`] when
    /// generation fails (including sizes over 4096).
    pub fn generate_rsa(bits: u32) -> Result<Self, SigningError> {
        if bits < RSA_MIN_BITS {
            return Err(SigningError::KeyTooSmall {
                bits,
                min: RSA_MIN_BITS,
            });
        }
        let size = usize::try_from(bits).map_err(|e| SigningError::Random(e.to_string()))?;
        let key = rsa::PrivateKey::new(&mut getrandom::SysRng, size)
            .map_err(|e| SigningError::Random(format!("RSA key generation failed: {e}")))?;
        Self::from_inner(PrivateInner::Rsa(rsa::pss::SigningKey::new_with_salt_len(
            key,
            RSA_PSS_SALT_LEN,
        )))
    }

    /// Reads a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`, unencrypted), Ed25519
    /// or RSA (`rsaEncryption`, as `openssl genpkey -algorithm RSA` writes).
    ///
    /// # Errors
    /// [`SigningError::KeyFormat`] when it is neither; [`SigningError::KeyTooSmall`] for an
    /// RSA modulus under [`RSA_MIN_BITS`].
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, SigningError> {
        if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
            return Self::from_inner(PrivateInner::Ed25519(k));
        }
        match rsa::PrivateKey::from_pkcs8_pem(pem) {
            Ok(k) => {
                let bits = k.n().as_ref().bit_width();
                if bits < RSA_MIN_BITS {
                    return Err(SigningError::KeyTooSmall {
                        bits,
                        min: RSA_MIN_BITS,
                    });
                }
                Self::from_inner(PrivateInner::Rsa(rsa::pss::SigningKey::new_with_salt_len(
                    k,
                    RSA_PSS_SALT_LEN,
                )))
            }
            Err(e) => Err(SigningError::KeyFormat(format!(
                "not an unencrypted Ed25519 or RSA private key in PKCS#8 PEM (`BEGIN PRIVATE KEY`): {e}"
            ))),
        }
    }

    /// Reads a private key file (PKCS#8 PEM).
    ///
    /// # Errors
    /// [`SigningError::Io`], and as [`PrivateKey::from_pkcs8_pem`].
    pub fn read_pem_file(path: &Path) -> Result<Self, SigningError> {
        Self::from_pkcs8_pem(&read_small_text(path)?)
    }

    /// Writes the key as PKCS#8 PEM to a new file readable by its owner only (mode 0600 on
    /// Unix), never replacing an existing file. The file appears whole or not at all.
    ///
    /// # Errors
    /// [`SigningError::KeyFileExists`] when `path` exists; [`SigningError::Io`].
    pub fn write_pkcs8_pem(&self, path: &Path) -> Result<(), SigningError> {
        let pem = match &self.inner {
            // RFC 8410's PKCS#8 v1 form, without the public key: ed25519-dalek writes the
            // v2 form (with it), which OpenSSL 3.0 refuses to read ("unsupported").
            PrivateInner::Ed25519(k) => ed25519_dalek::pkcs8::KeypairBytes {
                secret_key: k.to_bytes(),
                public_key: None,
            }
            .to_pkcs8_pem(LineEnding::LF),
            PrivateInner::Rsa(k) => k.to_pkcs8_pem(LineEnding::LF),
        }
        .map_err(|e| SigningError::KeyFormat(format!("cannot encode the private key: {e}")))?;
        let io = |source| SigningError::Io {
            action: "writing",
            path: path.display().to_string(),
            source,
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        // tempfile creates the file with mode 0600 on Unix; set it again to be explicit.
        let mut tmp = tempfile::Builder::new()
            .prefix(".morph-key-")
            .tempfile_in(dir)
            .map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(io)?;
        }
        tmp.write_all(pem.as_bytes()).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist_noclobber(path).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                SigningError::KeyFileExists {
                    path: path.display().to_string(),
                }
            } else {
                io(e.error)
            }
        })?;
        Ok(())
    }

    fn from_inner(inner: PrivateInner) -> Result<Self, SigningError> {
        let public = PublicKey::from_inner(match &inner {
            PrivateInner::Ed25519(k) => PublicInner::Ed25519(k.verifying_key()),
            PrivateInner::Rsa(k) => PublicInner::Rsa(rsa::pss::VerifyingKey::new_with_salt_len(
                k.as_ref().to_public_key(),
                RSA_PSS_SALT_LEN,
            )),
        })?;
        Ok(Self { inner, public })
    }

    /// The matching public key.
    #[must_use]
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The key's algorithm.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.public.algorithm()
    }

    /// Signs `message` as it is (Ed25519; or RSA-PSS over its SHA-256 with a random
    /// 32-byte salt). This is the primitive under [`crate::sign_package`].
    ///
    /// # Errors
    /// [`SigningError::Crypto`] when the RSA signer fails (its random source).
    pub fn sign_raw(&self, message: &[u8]) -> Result<Vec<u8>, SigningError> {
        match &self.inner {
            PrivateInner::Ed25519(k) => Ok(k.sign(message).to_bytes().to_vec()),
            PrivateInner::Rsa(k) => k
                .try_sign(message)
                .map(|s| s.to_vec())
                .map_err(|e| SigningError::Crypto(format!("RSA-PSS signing failed: {e}"))),
        }
    }
}

fn read_small_text(path: &Path) -> Result<String, SigningError> {
    use std::io::Read;
    let io = |source| SigningError::Io {
        action: "reading",
        path: path.display().to_string(),
        source,
    };
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_KEY_FILE + 1)
        .read_to_string(&mut text)
        .map_err(io)?;
    if u64::try_from(text.len()).unwrap_or(u64::MAX) > MAX_KEY_FILE {
        return Err(SigningError::KeyFormat(format!(
            "{} is larger than {MAX_KEY_FILE} bytes: not a key file",
            path.display()
        )));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ed25519_keys_round_trip_through_pem_files_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let key = PrivateKey::generate(Algorithm::Ed25519).unwrap();
        let path = dir.path().join("author.pem");
        key.write_pkcs8_pem(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = PrivateKey::read_pem_file(&path).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        let err = key.write_pkcs8_pem(&path).unwrap_err();
        assert!(matches!(err, SigningError::KeyFileExists { .. }), "{err}");

        let pem = key.public_key().to_spki_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
        let public = PublicKey::from_spki_pem(&pem).unwrap();
        assert_eq!(public.key_id(), key.public_key().key_id());
        assert_eq!(public.key_id().short().len(), 16);

        let sig = key.sign_raw(b"hello").unwrap();
        assert!(public.verify_raw(b"hello", &sig));
        assert!(!public.verify_raw(b"hellp", &sig));
        assert!(!public.verify_raw(b"hello", &sig[..10]));
    }

    #[test]
    fn small_rsa_keys_are_refused() {
        let err = PrivateKey::generate_rsa(1024).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the RSA key has 1024 bits; at least 2048 are required (3072 recommended)"
        );
    }

    #[test]
    fn garbage_is_not_a_key() {
        let err = PublicKey::from_spki_pem("hello").unwrap_err();
        assert!(matches!(err, SigningError::KeyFormat(_)));
        let err =
            PrivateKey::from_pkcs8_pem("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n")
                .unwrap_err();
        assert!(err.to_string().contains("PKCS#8"), "{err}");
    }
}
