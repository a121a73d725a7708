//! The one error type of the store.

use std::path::PathBuf;

/// Why a store operation failed. The store is left as it was before the operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A file or folder of the store could not be read or written.
    #[error("{action} `{}`: {source}", .path.display())]
    Io {
        /// What was being done, e.g. "cannot write the package blob".
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The OS's reason.
        source: std::io::Error,
    },
    /// Another process has the store open.
    #[error(
        "the store `{}` is in use by another process; wait for it to finish",
        .path.display()
    )]
    Busy {
        /// The database file.
        path: PathBuf,
    },
    /// The database failed or is not a store database.
    #[error("the store database `{}` failed: {message}", .path.display())]
    Database {
        /// The database file.
        path: PathBuf,
        /// redb's message.
        message: String,
    },
    /// A record in the database cannot be read.
    #[error("the store's record of `{id}` is corrupt: {message}")]
    CorruptRecord {
        /// The extension id.
        id: String,
        /// What is wrong.
        message: String,
    },
    /// The bytes given to [`crate::Store::install`] do not have the record's digest.
    #[error(
        "the package bytes of `{id}@{version}` have digest {actual}, not {expected} as the record says"
    )]
    DigestMismatch {
        /// The extension id.
        id: String,
        /// The version.
        version: String,
        /// What the record says.
        expected: String,
        /// What the bytes hash to.
        actual: String,
    },
    /// A stored package no longer has the digest its record names (changed or damaged
    /// on disk), or its blob is missing.
    #[error("the stored package of `{id}@{version}` ({}) is missing or was changed on disk; install it again", .path.display())]
    BlobCorrupt {
        /// The extension id.
        id: String,
        /// The version.
        version: String,
        /// The blob file.
        path: PathBuf,
    },
    /// No version of this extension is installed.
    #[error("no extension `{id}` is installed")]
    NotInstalled {
        /// The extension id.
        id: String,
    },
    /// This version of the extension is not installed.
    #[error("`{id}` has no installed version `{version}` (installed: {installed})")]
    NoSuchVersion {
        /// The extension id.
        id: String,
        /// The version asked for.
        version: String,
        /// The installed versions, comma-separated.
        installed: String,
    },
    /// The record names an id or version the store refuses (empty, a control
    /// character, over 256 bytes).
    #[error("the store refuses the {field} `{value}`: {reason}")]
    InvalidRecord {
        /// `id` or `version`.
        field: &'static str,
        /// The value.
        value: String,
        /// Why.
        reason: String,
    },
    /// An install was stopped before its commit (a test hook).
    #[error("the install was aborted before its commit: {0}")]
    Aborted(String),
}
