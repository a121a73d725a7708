//! # morph-store: the one embedded store of a Morph host
//!
//! Internal crate: morph-host's installer, morph-capabilities and the `morph` CLI depend
//! on it; apps reach it through them.
//!
//! - **[`Store`]**: one folder. Records live in a [redb](https://docs.rs/redb) database
//!   (`store.redb`, pure Rust, so the store builds wherever the wasmi backend does,
//!   iOS included; mode 0600 on Unix, since it holds secrets); each installed package's
//!   bytes live in `blobs/sha256/<hex of the package digest>`. Several versions of an
//!   extension sit side by side; one of them is active. A `Store` holds the database
//!   open (redb locks the file: a second process opening the same store gets
//!   [`StoreError::Busy`]); it is `Send + Sync` and lives as long as the app wants to
//!   use the store. Every method is synchronous and short; a write waits for its
//!   commit to reach the disk (an `fsync`), so async callers run writes on a blocking
//!   thread.
//! - **[`Record`]**: what is known about one installed version (digests of the package,
//!   manifest and module; publisher; signing key or `unsigned`; when).
//! - **Crash safety**: [`Store::install`] writes the blob first (temporary file, fsync,
//!   rename, fsync of the folder), then commits the record in one redb write
//!   transaction (redb commits are durable and atomic). A process killed at any point
//!   leaves either the previous state or the new one; at worst a blob without a record,
//!   which is ignored and collected by [`Store::uninstall`] with `purge`.
//!
//! - **Grants and configuration** ([`Store::grants`], [`Store::update_grants`],
//!   [`Store::config`]): what a person gave an extension, per extension id, as
//!   [`GrantSet`](morph_permissions::GrantSet)s and JSON text.
//! - **Key-value stores** ([`Store::kv_get`], [`Store::kv_set`], ...): one namespace per
//!   extension, its [`KvUsage`] kept in the same transaction as the data, the quota
//!   checked before the commit: a refused write writes nothing
//!   ([`StoreError::QuotaExceeded`]).
//! - **Secrets** ([`Store::set_secret`], [`Store::secret`]): a value bound to hosts and
//!   a [`SecretForm`] (bearer, basic with a user, a named header). A [`SecretValue`]
//!   prints as `[redacted]` and no error quotes it.
//! - **Audit** ([`Store::append_audit`], [`Store::audit`]): one [`AuditRecord`] per
//!   permissioned call, read newest first per extension.
//!
//! Nothing here verifies signatures or parses wasm: the installer in morph-host does
//! that before it calls [`Store::install`]. What the store does check is that a blob
//! still has the digest its record names, every time it hands one out.
#![deny(missing_docs)]

mod audit;
mod error;
mod kv;
mod secrets;
mod settings;
mod store;

pub use audit::{AuditOutcome, AuditRecord, MAX_AUDIT_FIELD_LEN};
pub use error::{QuotaPart, StoreError};
pub use kv::{KvUsage, MAX_KV_KEY_LEN};
pub use secrets::{
    FRAMING_HEADERS, MAX_SECRET_LEN, Secret, SecretBinding, SecretForm, SecretValue,
};
pub use settings::MAX_CONFIG_BYTES;
pub use store::{Installed, Record, Store, UNSIGNED};
