//! # morph-store: the local store of installed extensions
//!
//! Internal crate: morph-host's installer and the `morph` CLI depend on it; apps reach it
//! through `morph_host::install`.
//!
//! - **[`Store`]**: one folder. Records live in a [redb](https://docs.rs/redb) database
//!   (`store.redb`, pure Rust, so the store builds wherever the wasmi backend does,
//!   iOS included); each installed package's bytes live in
//!   `blobs/sha256/<hex of the package digest>`. Several versions of an extension sit
//!   side by side; one of them is active. A `Store` holds the database open (redb locks
//!   the file: a second process opening the same store gets [`StoreError::Busy`]); it
//!   is `Send + Sync` and lives as long as the app wants to use the store.
//! - **[`Record`]**: what is known about one installed version (digests of the package,
//!   manifest and module; publisher; signing key or `unsigned`; when).
//! - **Crash safety**: [`Store::install`] writes the blob first (temporary file, fsync,
//!   rename, fsync of the folder), then commits the record in one redb write
//!   transaction (redb commits are durable and atomic). A process killed at any point
//!   leaves either the previous state or the new one; at worst a blob without a record,
//!   which is ignored and collected by [`Store::uninstall`] with `purge`.
//!
//! Nothing here verifies signatures or parses wasm: the installer in morph-host does
//! that before it calls [`Store::install`]. What the store does check is that a blob
//! still has the digest its record names, every time it hands one out.
#![deny(missing_docs)]

mod error;
mod store;

pub use error::StoreError;
pub use store::{Installed, Record, Store, UNSIGNED};
