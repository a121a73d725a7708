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
    /// A key-value write would take an extension's store past its quota. Nothing was
    /// written.
    #[error(
        "the key-value store of `{extension}` would hold {used} {what}, over its quota of {max} {what}; nothing was written"
    )]
    QuotaExceeded {
        /// The extension id.
        extension: String,
        /// Which part of the quota: bytes (keys and values) or keys.
        what: QuotaPart,
        /// What the store would hold after the write.
        used: u64,
        /// The quota.
        max: u64,
    },
    /// A key-value key is refused (empty or too long). The key is quoted escaped and cut
    /// after 64 characters: it may come from a guest.
    #[error("the key `{key}` {reason}")]
    InvalidKey {
        /// The key, escaped and cut.
        key: String,
        /// Why.
        reason: &'static str,
    },
    /// A secret's name, value or binding is refused. The value is never quoted.
    #[error("the secret `{name}` is refused: {reason}")]
    InvalidSecret {
        /// The secret's name, escaped and cut.
        name: String,
        /// Why.
        reason: String,
    },
    /// A configuration is refused (not JSON, or too large).
    #[error("the configuration of `{id}` is refused: {reason}")]
    InvalidConfig {
        /// The extension id.
        id: String,
        /// Why.
        reason: String,
    },
}

/// The part of a key-value quota a write would exceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuotaPart {
    /// Bytes held, keys and values counted.
    Bytes,
    /// Keys held.
    Keys,
}

impl std::fmt::Display for QuotaPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            QuotaPart::Bytes => "bytes",
            QuotaPart::Keys => "keys",
        })
    }
}

/// Text that may come from outside (a guest's key, a secret's name), for an error:
/// control characters and backquotes escaped, cut after 64 characters.
pub(crate) fn quoted(text: &str) -> String {
    const MAX: usize = 64;
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == MAX {
            out.push_str("...");
            break;
        }
        match c {
            '`' => out.push_str("\\`"),
            c if c.is_control() || is_invisible(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out
}

/// Bidi controls and line separators, which can make a terminal show other text.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}
