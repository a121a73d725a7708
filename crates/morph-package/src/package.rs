//! The package and its file format (`.morph`).
//!
//! ```text
//! offset  size  field
//! 0       8     magic  b"MORPHPKG"
//! 8       2     format version, big-endian u16 = 1
//! 10      2     flags, big-endian u16 = 0 (anything else is refused)
//! 12      4     index length N, big-endian u32 (at most Limits::max_index)
//! 16      N     index: UTF-8 JSON {"entries":[{"kind","name","size","digest"}, ...]}
//! 16+N    ...   the entries' bytes, back to back, in index order; nothing after the last
//! ```
//!
//! Entries come in a fixed order: the manifest (`morph.toml`), the module (`module.wasm`),
//! the assets sorted by name, and at most one signature (`signature.json`). One order means
//! one encoding: packing the same package twice gives the same bytes. Every size is checked
//! against [`Limits`] before anything is allocated for it, and every entry's sha256 against
//! the index.

use crate::digest::{Digest, shorten};
use crate::manifest::ManifestFields;
use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

const MAGIC: &[u8; 8] = b"MORPHPKG";
const FORMAT_VERSION: u16 = 1;
const HEADER_LEN: usize = 16;
/// The manifest's name inside a package.
pub const MANIFEST_NAME: &str = "morph.toml";
/// The module's name inside a package.
pub const MODULE_NAME: &str = "module.wasm";
/// The signature's name inside a package.
pub const SIGNATURE_NAME: &str = "signature.json";

const MIB: u64 = 1024 * 1024;

/// Size bounds for reading (and writing) packages. Every size read from untrusted bytes is
/// compared with these before memory is allocated for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The manifest, in bytes (default 1 MiB).
    pub max_manifest: u64,
    /// The module, in bytes (default 32 MiB).
    pub max_module: u64,
    /// One asset, in bytes (default 16 MiB).
    pub max_asset: u64,
    /// How many assets (default 256).
    pub max_assets: usize,
    /// The signature, in bytes (default 256 KiB: room for a statement listing every asset).
    pub max_signature: u64,
    /// The JSON index of a package file, in bytes (default 1 MiB).
    pub max_index: u64,
    /// A whole package: every entry together (default 64 MiB).
    pub max_total: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_manifest: MIB,
            max_module: 32 * MIB,
            max_asset: 16 * MIB,
            max_assets: 256,
            max_signature: 256 * 1024,
            max_index: MIB,
            max_total: 64 * MIB,
        }
    }
}

impl Limits {
    /// The limit for one entry of `kind`.
    #[must_use]
    pub fn for_kind(&self, kind: EntryKind) -> u64 {
        match kind {
            EntryKind::Manifest => self.max_manifest,
            EntryKind::Module => self.max_module,
            EntryKind::Asset => self.max_asset,
            EntryKind::Signature => self.max_signature,
        }
    }
}

/// What an entry of a package is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// The manifest, `morph.toml`.
    Manifest,
    /// The wasm module.
    Module,
    /// A file the extension ships (icon, readme...).
    Asset,
    /// The attached signature (its format belongs to `morph-signing`).
    Signature,
}

impl std::fmt::Display for EntryKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Manifest => "manifest",
            Self::Module => "module",
            Self::Asset => "asset",
            Self::Signature => "signature",
        })
    }
}

/// Why a package was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackageError {
    /// The bytes end before the structure they announce.
    #[error("the package is truncated: {what} needs {needed} bytes but only {available} remain")]
    Truncated {
        /// What was being read.
        what: String,
        /// Bytes it needs.
        needed: u64,
        /// Bytes left.
        available: u64,
    },
    /// The file does not start with the package magic.
    #[error("this is not a Morph package (it does not start with `MORPHPKG`)")]
    NotAPackage,
    /// A format version or flags this build does not read.
    #[error(
        "the package uses format version {version} (flags {flags:#06x}); this build reads version {FORMAT_VERSION} with no flags: update Morph to read it"
    )]
    UnsupportedFormat {
        /// The version in the header.
        version: u16,
        /// The flags in the header.
        flags: u16,
    },
    /// Something is larger than its limit.
    #[error("the package's {what} is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// What is too large (`module`, `index`, `asset icon.png`, `package`...).
        what: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The index is not what the format says.
    #[error("the package index is malformed: {0}")]
    MalformedIndex(String),
    /// Bytes follow the last entry.
    #[error("the package has {0} unexpected bytes after its last entry")]
    TrailingBytes(u64),
    /// An entry's bytes do not hash to the digest the index declares.
    #[error(
        "the package's {entry} is corrupt: the index declares {declared} but its bytes hash to {actual}"
    )]
    DigestMismatch {
        /// Which entry (`module`, `manifest`, `asset icon.png`...).
        entry: String,
        /// What the index says.
        declared: Digest,
        /// What the bytes hash to.
        actual: Digest,
    },
    /// An asset name that could escape a folder or is otherwise unusable.
    #[error("asset name `{name}` is refused: {reason}")]
    InvalidAssetName {
        /// The name (shortened).
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// The manifest cannot be read.
    #[error("the package's manifest (morph.toml) is refused: {0}")]
    Manifest(String),
    /// Reading or writing a file failed.
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
}

/// A file shipped with an extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    name: String,
    bytes: Vec<u8>,
}

impl Asset {
    /// An asset named `name` (a relative path with `/` separators, e.g. `icons/64.png`).
    ///
    /// # Errors
    /// [`PackageError::InvalidAssetName`] when the name is empty, longer than 255 bytes,
    /// absolute, has an empty, `.` or `..` component, a backslash or a control character.
    pub fn new(name: impl Into<String>, bytes: Vec<u8>) -> Result<Self, PackageError> {
        let name = name.into();
        check_asset_name(&name)?;
        Ok(Self { name, bytes })
    }
    /// The asset's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The asset's bytes.
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// The sha256 of its bytes.
    #[must_use]
    pub fn digest(&self) -> Digest {
        Digest::of(&self.bytes)
    }
}

fn check_asset_name(name: &str) -> Result<(), PackageError> {
    let refuse = |reason| {
        Err(PackageError::InvalidAssetName {
            name: shorten(name),
            reason,
        })
    };
    if name.is_empty() || name.len() > 255 {
        return refuse("it must be 1 to 255 bytes long");
    }
    if name.starts_with('/') {
        return refuse("it must be a relative path");
    }
    if name.contains('\\') || name.chars().any(char::is_control) {
        return refuse("it must not hold a backslash or a control character");
    }
    if name
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return refuse("it must not have an empty, `.` or `..` component");
    }
    Ok(())
}

/// A Morph package: the manifest, the module, assets and an optional attached signature.
///
/// The bytes are kept as they are; digests are computed from them on demand. Nothing here
/// parses the wasm module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    manifest: Vec<u8>,
    fields: ManifestFields,
    module: Vec<u8>,
    assets: Vec<Asset>,
    signature: Option<Vec<u8>>,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Index {
    entries: Vec<IndexEntry>,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct IndexEntry {
    kind: EntryKind,
    name: String,
    size: u64,
    digest: Digest,
}

impl Package {
    /// A package from a manifest and a module, without assets or signature.
    ///
    /// # Errors
    /// [`PackageError::Manifest`] when the manifest's `id`/`version` cannot be read
    /// (see [`ManifestFields::parse`]).
    pub fn new(manifest: Vec<u8>, module: Vec<u8>) -> Result<Self, PackageError> {
        let fields = ManifestFields::parse(&manifest)?;
        Ok(Self {
            manifest,
            fields,
            module,
            assets: Vec::new(),
            signature: None,
        })
    }

    /// Adds an asset (kept sorted by name).
    ///
    /// # Errors
    /// [`PackageError::MalformedIndex`] when an asset of that name is already there.
    pub fn add_asset(&mut self, asset: Asset) -> Result<(), PackageError> {
        match self.assets.binary_search_by(|a| a.name.cmp(&asset.name)) {
            Ok(_) => Err(PackageError::MalformedIndex(format!(
                "two assets are named `{}`",
                shorten(&asset.name)
            ))),
            Err(at) => {
                self.assets.insert(at, asset);
                Ok(())
            }
        }
    }

    /// The manifest's bytes.
    #[must_use]
    pub fn manifest(&self) -> &[u8] {
        &self.manifest
    }
    /// The manifest fields read at construction.
    #[must_use]
    pub fn fields(&self) -> &ManifestFields {
        &self.fields
    }
    /// The module's bytes (not parsed).
    #[must_use]
    pub fn module(&self) -> &[u8] {
        &self.module
    }
    /// The assets, sorted by name.
    #[must_use]
    pub fn assets(&self) -> &[Asset] {
        &self.assets
    }
    /// The attached signature's bytes, if any.
    #[must_use]
    pub fn signature(&self) -> Option<&[u8]> {
        self.signature.as_deref()
    }
    /// Attaches (or replaces) the signature.
    pub fn set_signature(&mut self, signature: Vec<u8>) {
        self.signature = Some(signature);
    }
    /// Removes the signature, returning it.
    pub fn take_signature(&mut self) -> Option<Vec<u8>> {
        self.signature.take()
    }
    /// The sha256 of the manifest's bytes.
    #[must_use]
    pub fn manifest_digest(&self) -> Digest {
        Digest::of(&self.manifest)
    }
    /// The sha256 of the module's bytes.
    #[must_use]
    pub fn module_digest(&self) -> Digest {
        Digest::of(&self.module)
    }

    /// `id@version`, for messages.
    #[must_use]
    pub fn display_name(&self) -> String {
        format!("{}@{}", self.fields.id, self.fields.version)
    }

    /// Checks every size against `limits`.
    ///
    /// # Errors
    /// [`PackageError::TooLarge`] naming the first part over its limit.
    pub fn check_limits(&self, limits: &Limits) -> Result<(), PackageError> {
        if self.assets.len() > limits.max_assets {
            return Err(PackageError::TooLarge {
                what: "asset count".into(),
                size: len64(self.assets.len()),
                limit: len64(limits.max_assets),
            });
        }
        let mut total = 0u64;
        for (kind, name, bytes) in self.parts() {
            let size = len64(bytes.len());
            let limit = limits.for_kind(kind);
            if size > limit {
                return Err(PackageError::TooLarge {
                    what: entry_label(kind, name),
                    size,
                    limit,
                });
            }
            total = total.saturating_add(size);
        }
        if total > limits.max_total {
            return Err(PackageError::TooLarge {
                what: "content".into(),
                size: total,
                limit: limits.max_total,
            });
        }
        Ok(())
    }

    fn parts(&self) -> impl Iterator<Item = (EntryKind, &str, &[u8])> {
        let head = [
            (EntryKind::Manifest, MANIFEST_NAME, self.manifest.as_slice()),
            (EntryKind::Module, MODULE_NAME, self.module.as_slice()),
        ];
        head.into_iter()
            .chain(
                self.assets
                    .iter()
                    .map(|a| (EntryKind::Asset, a.name.as_str(), a.bytes.as_slice())),
            )
            .chain(
                self.signature
                    .as_deref()
                    .map(|s| (EntryKind::Signature, SIGNATURE_NAME, s)),
            )
    }

    /// Writes the package in the `.morph` file format (see the module docs).
    ///
    /// # Errors
    /// [`PackageError::TooLarge`] when a part is over `limits` (a package this function
    /// writes is one [`Package::unpack`] with the same limits reads back).
    pub fn pack(&self, limits: &Limits) -> Result<Vec<u8>, PackageError> {
        self.check_limits(limits)?;
        let index = Index {
            entries: self
                .parts()
                .map(|(kind, name, bytes)| IndexEntry {
                    kind,
                    name: name.to_owned(),
                    size: len64(bytes.len()),
                    digest: Digest::of(bytes),
                })
                .collect(),
        };
        let index = serde_json::to_vec(&index)
            .map_err(|e| PackageError::MalformedIndex(format!("cannot encode it: {e}")))?;
        let index_len = u32::try_from(index.len())
            .ok()
            .filter(|&n| u64::from(n) <= limits.max_index)
            .ok_or(PackageError::TooLarge {
                what: "index".into(),
                size: len64(index.len()),
                limit: limits.max_index,
            })?;
        let body: usize = self.parts().map(|(_, _, b)| b.len()).sum();
        let mut out = Vec::with_capacity(HEADER_LEN + index.len() + body);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
        out.extend_from_slice(&0u16.to_be_bytes());
        out.extend_from_slice(&index_len.to_be_bytes());
        out.extend_from_slice(&index);
        for (_, _, bytes) in self.parts() {
            out.extend_from_slice(bytes);
        }
        Ok(out)
    }

    /// Reads a package from the `.morph` file format.
    ///
    /// # Errors
    /// In the order checked:
    /// - [`PackageError::NotAPackage`] / [`PackageError::Truncated`]: no full header;
    /// - [`PackageError::UnsupportedFormat`]: another format version, or flags set;
    /// - [`PackageError::TooLarge`]: the index, an entry, the asset count or the total
    ///   is over `limits` (checked from the declared sizes, before reading the entry);
    /// - [`PackageError::MalformedIndex`]: not the JSON described, entries out of order,
    ///   missing or repeated, or with a wrong name;
    /// - [`PackageError::InvalidAssetName`];
    /// - [`PackageError::Truncated`] / [`PackageError::TrailingBytes`]: the declared sizes
    ///   do not add up to the bytes there are;
    /// - [`PackageError::DigestMismatch`]: an entry does not hash to its declared digest;
    /// - [`PackageError::Manifest`]: the manifest's `id`/`version` cannot be read.
    pub fn unpack(bytes: &[u8], limits: &Limits) -> Result<Self, PackageError> {
        let mut rest = bytes;
        if rest.len() < MAGIC.len() {
            return if MAGIC.starts_with(rest) && !rest.is_empty() {
                Err(truncated("the header", HEADER_LEN, rest.len()))
            } else {
                Err(PackageError::NotAPackage)
            };
        }
        let magic = take(&mut rest, MAGIC.len(), "the header")?;
        if magic != MAGIC {
            return Err(PackageError::NotAPackage);
        }
        let version = u16::from_be_bytes(take_array(&mut rest, "the header")?);
        let flags = u16::from_be_bytes(take_array(&mut rest, "the header")?);
        if version != FORMAT_VERSION || flags != 0 {
            return Err(PackageError::UnsupportedFormat { version, flags });
        }
        let index_len = u32::from_be_bytes(take_array(&mut rest, "the header")?);
        if u64::from(index_len) > limits.max_index {
            return Err(PackageError::TooLarge {
                what: "index".into(),
                size: u64::from(index_len),
                limit: limits.max_index,
            });
        }
        let index_len = usize::try_from(index_len).map_err(|_| PackageError::TooLarge {
            what: "index".into(),
            size: u64::from(index_len),
            limit: limits.max_index,
        })?;
        let index = take(&mut rest, index_len, "the index")?;
        let index: Index = serde_json::from_slice(index).map_err(|e| {
            PackageError::MalformedIndex(format!("it is not the expected JSON: {e}"))
        })?;
        check_index(&index, limits)?;

        let declared: u64 = index.entries.iter().map(|e| e.size).sum();
        let available = len64(rest.len());
        if declared > available {
            return Err(PackageError::Truncated {
                what: "the entries".into(),
                needed: declared,
                available,
            });
        }
        if declared < available {
            return Err(PackageError::TrailingBytes(available - declared));
        }

        let mut manifest = None;
        let mut module = None;
        let mut assets = Vec::new();
        let mut signature = None;
        for entry in &index.entries {
            let size = usize::try_from(entry.size).map_err(|_| PackageError::TooLarge {
                what: entry_label(entry.kind, &entry.name),
                size: entry.size,
                limit: limits.for_kind(entry.kind),
            })?;
            let what = entry_label(entry.kind, &entry.name);
            let data = take(&mut rest, size, &what)?;
            let actual = Digest::of(data);
            if actual != entry.digest {
                return Err(PackageError::DigestMismatch {
                    entry: what,
                    declared: entry.digest,
                    actual,
                });
            }
            match entry.kind {
                EntryKind::Manifest => manifest = Some(data.to_vec()),
                EntryKind::Module => module = Some(data.to_vec()),
                EntryKind::Asset => assets.push(Asset {
                    name: entry.name.clone(),
                    bytes: data.to_vec(),
                }),
                EntryKind::Signature => signature = Some(data.to_vec()),
            }
        }
        let (Some(manifest), Some(module)) = (manifest, module) else {
            return Err(PackageError::MalformedIndex(
                "it lacks the manifest or the module".into(),
            ));
        };
        let mut package = Self::new(manifest, module)?;
        package.assets = assets;
        package.signature = signature;
        Ok(package)
    }

    /// Reads and unpacks a package file, refusing a file larger than the limits allow
    /// before reading it.
    ///
    /// # Errors
    /// [`PackageError::Io`] when the file cannot be read, [`PackageError::TooLarge`] when
    /// it is larger than `limits.max_total + limits.max_index` plus the header, and
    /// everything [`Package::unpack`] refuses.
    pub fn read_file(path: &Path, limits: &Limits) -> Result<Self, PackageError> {
        let io = |source| PackageError::Io {
            action: "reading",
            path: path.display().to_string(),
            source,
        };
        let max = limits
            .max_total
            .saturating_add(limits.max_index)
            .saturating_add(len64(HEADER_LEN));
        let file = std::fs::File::open(path).map_err(io)?;
        let mut bytes = Vec::new();
        file.take(max.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if len64(bytes.len()) > max {
            return Err(PackageError::TooLarge {
                what: "file".into(),
                size: len64(bytes.len()),
                limit: max,
            });
        }
        Self::unpack(&bytes, limits)
    }

    /// Packs the package into `path` (written to a temporary file beside it, synced,
    /// then renamed, so a reader never sees half a package).
    ///
    /// # Errors
    /// Everything [`Package::pack`] refuses, and [`PackageError::Io`].
    pub fn write_file(&self, path: &Path, limits: &Limits) -> Result<(), PackageError> {
        let bytes = self.pack(limits)?;
        crate::atomic::write_atomic(path, &bytes).map_err(|source| PackageError::Io {
            action: "writing",
            path: path.display().to_string(),
            source,
        })
    }
}

fn check_index(index: &Index, limits: &Limits) -> Result<(), PackageError> {
    let malformed = |m: String| Err(PackageError::MalformedIndex(m));
    let mut kinds = index.entries.iter().map(|e| e.kind);
    if kinds.next() != Some(EntryKind::Manifest) || kinds.next() != Some(EntryKind::Module) {
        return malformed("the first entry must be the manifest, the second the module".into());
    }
    let mut asset_names = BTreeSet::new();
    let mut last_asset: Option<&str> = None;
    let mut total = 0u64;
    let mut seen_signature = false;
    for (position, entry) in index.entries.iter().enumerate() {
        let limit = limits.for_kind(entry.kind);
        if entry.size > limit {
            return Err(PackageError::TooLarge {
                what: entry_label(entry.kind, &entry.name),
                size: entry.size,
                limit,
            });
        }
        total = total.saturating_add(entry.size);
        if seen_signature {
            return malformed("the signature must be the last entry".into());
        }
        match entry.kind {
            EntryKind::Manifest | EntryKind::Module if position > 1 => {
                return malformed(format!("a second {} entry", entry.kind));
            }
            EntryKind::Manifest if entry.name != MANIFEST_NAME => {
                return malformed(format!("the manifest must be named `{MANIFEST_NAME}`"));
            }
            EntryKind::Module if entry.name != MODULE_NAME => {
                return malformed(format!("the module must be named `{MODULE_NAME}`"));
            }
            EntryKind::Signature if entry.name != SIGNATURE_NAME => {
                return malformed(format!("the signature must be named `{SIGNATURE_NAME}`"));
            }
            EntryKind::Signature => seen_signature = true,
            EntryKind::Asset => {
                check_asset_name(&entry.name)?;
                if asset_names.len() >= limits.max_assets {
                    return Err(PackageError::TooLarge {
                        what: "asset count".into(),
                        size: len64(index.entries.len().saturating_sub(2)),
                        limit: len64(limits.max_assets),
                    });
                }
                if last_asset.is_some_and(|prev| prev >= entry.name.as_str()) {
                    return malformed("assets must be sorted by name, each name once".into());
                }
                last_asset = Some(&entry.name);
                asset_names.insert(entry.name.as_str());
            }
            EntryKind::Manifest | EntryKind::Module => {}
        }
    }
    if total > limits.max_total {
        return Err(PackageError::TooLarge {
            what: "content".into(),
            size: total,
            limit: limits.max_total,
        });
    }
    Ok(())
}

fn entry_label(kind: EntryKind, name: &str) -> String {
    match kind {
        EntryKind::Asset => format!("asset `{}`", shorten(name)),
        other => other.to_string(),
    }
}

fn truncated(what: &str, needed: usize, available: usize) -> PackageError {
    PackageError::Truncated {
        what: what.into(),
        needed: len64(needed),
        available: len64(available),
    }
}

fn take<'a>(rest: &mut &'a [u8], n: usize, what: &str) -> Result<&'a [u8], PackageError> {
    let Some((head, tail)) = rest.split_at_checked(n) else {
        return Err(truncated(what, n, rest.len()));
    };
    *rest = tail;
    Ok(head)
}

fn take_array<const N: usize>(rest: &mut &[u8], what: &str) -> Result<[u8; N], PackageError> {
    let head = take(rest, N, what)?;
    let mut out = [0u8; N];
    out.copy_from_slice(head);
    Ok(out)
}

/// A length as u64 (lossless on every platform Rust supports).
pub(crate) fn len64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &[u8] = b"id = \"hello\"\nversion = \"1.0.0\"\npublisher = \"Acme\"\n";

    fn sample() -> Package {
        let mut p = Package::new(MANIFEST.to_vec(), b"\0asm\x01\0\0\0".to_vec()).unwrap();
        p.add_asset(Asset::new("icons/64.png", vec![1, 2, 3]).unwrap())
            .unwrap();
        p.add_asset(Asset::new("README.md", b"# hi".to_vec()).unwrap())
            .unwrap();
        p.set_signature(b"{}".to_vec());
        p
    }

    #[test]
    fn pack_unpack_round_trip_is_deterministic() {
        let p = sample();
        let bytes = p.pack(&Limits::default()).unwrap();
        let q = Package::unpack(&bytes, &Limits::default()).unwrap();
        assert_eq!(p, q);
        assert_eq!(q.pack(&Limits::default()).unwrap(), bytes);
        assert_eq!(q.assets()[0].name(), "README.md");
        assert_eq!(q.fields().id, "hello");
    }

    #[test]
    fn every_truncation_is_refused_without_panic() {
        let bytes = sample().pack(&Limits::default()).unwrap();
        for len in 0..bytes.len() {
            let err = Package::unpack(&bytes[..len], &Limits::default()).unwrap_err();
            assert!(
                matches!(
                    err,
                    PackageError::Truncated { .. }
                        | PackageError::NotAPackage
                        | PackageError::MalformedIndex(_)
                ),
                "at {len}: {err}"
            );
        }
    }

    #[test]
    fn every_single_byte_flip_is_refused_or_harmless() {
        let p = sample();
        let bytes = p.pack(&Limits::default()).unwrap();
        for at in 0..bytes.len() {
            let mut b = bytes.clone();
            b[at] ^= 0x01;
            // A flip inside the index's JSON may still parse (e.g. a name's letter); what
            // matters is no panic and no silent acceptance of changed content.
            if let Ok(q) = Package::unpack(&b, &Limits::default()) {
                assert_eq!(q.module(), p.module(), "flip at {at}");
                assert_eq!(q.manifest(), p.manifest(), "flip at {at}");
            }
        }
    }

    #[test]
    fn trailing_bytes_and_bad_headers_are_refused() {
        let mut bytes = sample().pack(&Limits::default()).unwrap();
        bytes.push(0);
        let err = Package::unpack(&bytes, &Limits::default()).unwrap_err();
        assert!(matches!(err, PackageError::TrailingBytes(1)), "{err}");

        let err = Package::unpack(b"PK\x03\x04 a zip file", &Limits::default()).unwrap_err();
        assert!(matches!(err, PackageError::NotAPackage));

        let mut v2 = sample().pack(&Limits::default()).unwrap();
        v2[9] = 2;
        let err = Package::unpack(&v2, &Limits::default()).unwrap_err();
        assert!(matches!(
            err,
            PackageError::UnsupportedFormat { version: 2, .. }
        ));
        assert!(err.to_string().contains("update Morph"));
    }

    #[test]
    fn declared_sizes_over_the_limits_are_refused_before_reading() {
        // A header that claims a 4 GiB index, with nothing after it.
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&1u16.to_be_bytes());
        b.extend_from_slice(&0u16.to_be_bytes());
        b.extend_from_slice(&u32::MAX.to_be_bytes());
        let err = Package::unpack(&b, &Limits::default()).unwrap_err();
        assert!(matches!(err, PackageError::TooLarge { ref what, .. } if what == "index"));

        // An index that declares a 10 GB module.
        let d = Digest::of(b"");
        let index = format!(
            r#"{{"entries":[{{"kind":"manifest","name":"morph.toml","size":1,"digest":"{d}"}},{{"kind":"module","name":"module.wasm","size":10000000000,"digest":"{d}"}}]}}"#
        );
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&1u16.to_be_bytes());
        b.extend_from_slice(&0u16.to_be_bytes());
        b.extend_from_slice(&u32::try_from(index.len()).unwrap().to_be_bytes());
        b.extend_from_slice(index.as_bytes());
        let err = Package::unpack(&b, &Limits::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the package's module is 10000000000 bytes, over the limit of 33554432 bytes"
        );

        let small = Limits {
            max_module: 4,
            ..Limits::default()
        };
        let err = sample().pack(&small).unwrap_err();
        assert!(
            matches!(err, PackageError::TooLarge { ref what, size: 8, limit: 4 } if what == "module")
        );
    }

    #[test]
    fn a_changed_entry_is_refused_by_its_digest() {
        let p = sample();
        let bytes = p.pack(&Limits::default()).unwrap();
        let mut b = bytes.clone();
        let module_at = b.windows(4).position(|w| w == b"\0asm").unwrap();
        b[module_at] ^= 0xff;
        let err = Package::unpack(&b, &Limits::default()).unwrap_err();
        assert!(
            matches!(err, PackageError::DigestMismatch { ref entry, .. } if entry == "module"),
            "{err}"
        );
        assert!(
            err.to_string()
                .starts_with("the package's module is corrupt")
        );
    }

    #[test]
    fn asset_names_that_escape_are_refused() {
        for bad in ["", "/etc/passwd", "../x", "a/./b", "a//b", "a\\b", "a\nb"] {
            assert!(
                matches!(
                    Asset::new(bad, vec![]),
                    Err(PackageError::InvalidAssetName { .. })
                ),
                "{bad:?}"
            );
        }
        let mut p = sample();
        let err = p
            .add_asset(Asset::new("README.md", vec![]).unwrap())
            .unwrap_err();
        assert!(err.to_string().contains("two assets are named `README.md`"));
    }

    #[test]
    fn files_round_trip_and_oversized_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hello.morph");
        sample().write_file(&path, &Limits::default()).unwrap();
        assert_eq!(
            Package::read_file(&path, &Limits::default()).unwrap(),
            sample()
        );
        let tiny = Limits {
            max_total: 10,
            max_index: 10,
            ..Limits::default()
        };
        let err = Package::read_file(&path, &tiny).unwrap_err();
        assert!(matches!(err, PackageError::TooLarge { ref what, .. } if what == "file"));
    }
}
