//! # morph-package: the Morph package file
//!
//! A package is what an author publishes and a host installs: the manifest (`morph.toml`,
//! carried as opaque bytes), one wasm module, optional assets and an optional attached
//! signature, each named by its sha256 [`Digest`].
//!
//! - **[`Package`]**: the parts in memory; [`Package::pack`] and [`Package::unpack`]
//!   write and read the `.morph` file format (a 16-byte header, a JSON index, the parts
//!   back to back; see `docs/trust.md`). Unpacking never panics on bad input, checks every
//!   declared size against [`Limits`] before allocating, and every part against its digest.
//! - **[`ManifestFields`]**: the only manifest keys read here (`id`, `name`, `version`,
//!   `publisher`, at the top level); the full schema belongs to the manifest crate.
//! - **[`write_atomic`]**: write-temp, fsync, rename; shared by the trust store and the
//!   local OCI layout.
//!
//! Nothing here parses wasm, so a package can be checked and verified before any engine
//! sees a byte. Signing and verification live in `morph-signing`; OCI transport in
//! `morph-registry`. All types are `Send + Sync`.
#![deny(missing_docs)]

mod atomic;
mod digest;
mod manifest;
mod package;

pub use atomic::write_atomic;
pub use digest::{Digest, DigestParseError, hex_encode};
pub use manifest::{MAX_FIELD_LEN, ManifestFields, check_field};
pub use package::{
    Asset, EntryKind, Limits, MANIFEST_NAME, MODULE_NAME, Package, PackageError, SIGNATURE_NAME,
};
