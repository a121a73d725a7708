//! Errors of key handling, signing and the trust store. Verification refusals are
//! [`crate::VerifyError`]: a host matches on those, an author tool on these.

use crate::keys::{KeyId, RSA_DEFAULT_BITS};

/// What went wrong while handling keys, signing or the trust store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SigningError {
    /// An RSA key below the minimum size.
    #[error(
        "the RSA key has {bits} bits; at least {min} are required ({RSA_DEFAULT_BITS} recommended)"
    )]
    KeyTooSmall {
        /// The key's modulus size.
        bits: u32,
        /// The minimum.
        min: u32,
    },
    /// Bytes that are not a key of a supported kind, or a key that cannot be encoded.
    #[error("{0}")]
    KeyFormat(String),
    /// The operating system's random source failed.
    #[error("the system random source failed: {0}")]
    Random(String),
    /// Refusing to overwrite a key file.
    #[error(
        "{path} already exists; a key file is never overwritten: move it away or choose another path"
    )]
    KeyFileExists {
        /// The file.
        path: String,
    },
    /// A file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// `reading` or `writing`.
        action: &'static str,
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The package cannot be signed as it is.
    #[error("cannot sign `{package}`: {reason}")]
    Unsignable {
        /// `id@version`.
        package: String,
        /// Why (e.g. the manifest names no `publisher`).
        reason: String,
    },
    /// The signer failed.
    #[error("{0}")]
    Crypto(String),
    /// The trust store file is not what this build writes.
    #[error("the trust store {path} is unreadable: {reason}")]
    TrustStoreFormat {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The key is not in the trust store.
    #[error("key {} is not in the trust store", .0.short())]
    NoSuchKey(KeyId),
}
