//! A local OCI image layout: the embedded default store.
//!
//! The folder follows the OCI image-layout spec: `oci-layout`
//! (`{"imageLayoutVersion":"1.0.0"}`), `index.json` (an image index whose entries carry the
//! tag in `org.opencontainers.image.ref.name`) and `blobs/sha256/<hex>`. Every file is
//! written atomically (temp + fsync + rename); blobs are content-addressed, so a crash
//! leaves at worst an unreferenced blob. One writer at a time: concurrent pushes into the
//! same folder can lose an index update (the host serialises them).

use crate::artifact::{self, OCI_MANIFEST_MEDIA_TYPE, PullLimits, Wanted};
use crate::error::RegistryError;
use crate::progress::Progress;
use crate::reference::Target;
use crate::{ARTIFACT_TYPE, Pulled};
use morph_package::{Digest, Package, write_atomic};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

const REF_NAME: &str = "org.opencontainers.image.ref.name";
const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
const MAX_INDEX: u64 = 16 * 1024 * 1024;

/// An OCI image layout folder.
#[derive(Debug, Clone)]
pub struct OciLayout {
    dir: PathBuf,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Index {
    schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    manifests: Vec<IndexEntry>,
}

#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct IndexEntry {
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    annotations: Option<BTreeMap<String, String>>,
}

impl IndexEntry {
    fn tag(&self) -> Option<&str> {
        self.annotations
            .as_ref()
            .and_then(|a| a.get(REF_NAME))
            .map(String::as_str)
    }
}

impl OciLayout {
    /// The layout in `dir` (nothing is read or created until a push or pull).
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The folder.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of a blob.
    #[must_use]
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir.join("blobs").join("sha256").join(digest.hex())
    }

    fn io(
        &self,
        action: &'static str,
        path: &Path,
    ) -> impl FnOnce(std::io::Error) -> RegistryError {
        let path = path.display().to_string();
        move |source| RegistryError::Io {
            action,
            path,
            source,
        }
    }

    fn reference(&self, target: &Target) -> String {
        format!("oci-layout:{}{target}", self.dir.display())
    }

    /// Stores `package` under `target` (a tag, which moves to this package, or the digest
    /// the artifact's manifest must have). Returns the manifest's digest.
    ///
    /// # Errors
    /// [`RegistryError::Package`] when the package is over `limits`;
    /// [`RegistryError::Io`]; [`RegistryError::LayoutFormat`] when an existing
    /// `index.json` is unreadable; [`RegistryError::BlobDigestMismatch`] when a digest
    /// target is not the artifact's digest.
    pub fn push(
        &self,
        target: &Target,
        package: &Package,
        limits: &PullLimits,
        progress: &dyn Progress,
    ) -> Result<Digest, RegistryError> {
        let art = artifact::build(package, &limits.package)?;
        if let Target::Digest(d) = target
            && *d != art.digest
        {
            return Err(RegistryError::BlobDigestMismatch {
                reference: self.reference(target),
                part: "OCI manifest".into(),
                expected: *d,
                actual: art.digest,
            });
        }
        let blobs_dir = self.dir.join("blobs").join("sha256");
        std::fs::create_dir_all(&blobs_dir).map_err(self.io("writing", &blobs_dir))?;
        let marker = self.dir.join("oci-layout");
        if !marker.exists() {
            write_atomic(&marker, br#"{"imageLayoutVersion":"1.0.0"}"#)
                .map_err(self.io("writing", &marker))?;
        }
        for (desc, bytes, label) in &art.blobs {
            progress.start(label, desc.size);
            let digest = Digest::of(bytes);
            self.write_blob(&digest, bytes)?;
            progress.advance(label, desc.size);
            progress.finish(label);
        }
        self.write_blob(&art.digest, &art.manifest)?;

        let mut index = self.read_index()?.unwrap_or(Index {
            schema_version: 2,
            media_type: Some(INDEX_MEDIA_TYPE.to_owned()),
            manifests: Vec::new(),
        });
        let digest_text = art.digest.to_string();
        let annotations = match target {
            Target::Tag(tag) => {
                index.manifests.retain(|e| e.tag() != Some(tag.as_str()));
                Some(BTreeMap::from([(REF_NAME.to_owned(), tag.clone())]))
            }
            Target::Digest(_) => {
                index
                    .manifests
                    .retain(|e| !(e.digest == digest_text && e.tag().is_none()));
                None
            }
        };
        index.manifests.push(IndexEntry {
            media_type: OCI_MANIFEST_MEDIA_TYPE.to_owned(),
            digest: digest_text,
            size: u64::try_from(art.manifest.len()).unwrap_or(u64::MAX),
            artifact_type: Some(ARTIFACT_TYPE.to_owned()),
            annotations,
        });
        let bytes = serde_json::to_vec_pretty(&index).map_err(|e| RegistryError::LayoutFormat {
            path: self.dir.display().to_string(),
            reason: format!("cannot encode index.json: {e}"),
        })?;
        let path = self.dir.join("index.json");
        write_atomic(&path, &bytes).map_err(self.io("writing", &path))?;
        Ok(art.digest)
    }

    fn write_blob(&self, digest: &Digest, bytes: &[u8]) -> Result<(), RegistryError> {
        let path = self.blob_path(digest);
        // Content-addressed: a blob already there with the right size is kept (a corrupt one
        // of the right size is caught by the digest check on pull).
        let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        if std::fs::metadata(&path).is_ok_and(|m| m.len() == len) {
            return Ok(());
        }
        write_atomic(&path, bytes).map_err(self.io("writing", &path))
    }

    fn read_index(&self) -> Result<Option<Index>, RegistryError> {
        let path = self.dir.join("index.json");
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io("reading", &path)(e)),
        };
        let mut bytes = Vec::new();
        file.take(MAX_INDEX + 1)
            .read_to_end(&mut bytes)
            .map_err(self.io("reading", &path))?;
        let bad = |reason: String| RegistryError::LayoutFormat {
            path: self.dir.display().to_string(),
            reason,
        };
        if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_INDEX {
            return Err(bad(format!("index.json is larger than {MAX_INDEX} bytes")));
        }
        let index: Index = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("index.json is not an OCI image index: {e}")))?;
        if index.schema_version != 2 {
            return Err(bad("index.json's schemaVersion is not 2".into()));
        }
        Ok(Some(index))
    }

    /// Reads a blob, refusing it before reading when the file's size is not `size` or is
    /// over `limit`.
    fn read_blob(
        &self,
        reference: &str,
        label: &str,
        digest: &Digest,
        size: u64,
    ) -> Result<Vec<u8>, RegistryError> {
        let path = self.blob_path(digest);
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(RegistryError::NotFound {
                    reference: reference.to_owned(),
                    message: format!("its {label} blob {digest} is missing from the layout"),
                });
            }
            Err(e) => return Err(self.io("reading", &path)(e)),
        };
        let actual = file.metadata().map_err(self.io("reading", &path))?.len();
        if actual != size {
            return Err(RegistryError::BlobSizeMismatch {
                reference: reference.to_owned(),
                part: label.to_owned(),
                declared: size,
                actual,
            });
        }
        let mut bytes = Vec::new();
        file.take(size.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(self.io("reading", &path))?;
        Ok(bytes)
    }

    /// Reads the package stored under `target`, checking every size against `limits`
    /// before reading and every blob against its digest.
    ///
    /// # Errors
    /// [`RegistryError::NotFound`] for an unknown tag or digest or a missing blob;
    /// [`RegistryError::LayoutFormat`]; [`RegistryError::ManifestTooLarge`],
    /// [`RegistryError::BlobTooLarge`], [`RegistryError::BlobSizeMismatch`],
    /// [`RegistryError::BlobDigestMismatch`]; [`RegistryError::MalformedManifest`],
    /// [`RegistryError::NotAMorphArtifact`]; [`RegistryError::Package`]; [`RegistryError::Io`].
    pub fn pull(
        &self,
        target: &Target,
        limits: &PullLimits,
        progress: &dyn Progress,
    ) -> Result<Pulled, RegistryError> {
        let reference = self.reference(target);
        let (digest, size) = match target {
            Target::Tag(tag) => {
                let index = self.read_index()?.ok_or_else(|| RegistryError::NotFound {
                    reference: reference.clone(),
                    message: format!("{} has no index.json", self.dir.display()),
                })?;
                let entry = index
                    .manifests
                    .iter()
                    .rev()
                    .find(|e| e.tag() == Some(tag.as_str()))
                    .ok_or_else(|| RegistryError::NotFound {
                        reference: reference.clone(),
                        message: format!("no manifest is tagged `{tag}`"),
                    })?;
                let digest =
                    Digest::parse(&entry.digest).map_err(|e| RegistryError::LayoutFormat {
                        path: self.dir.display().to_string(),
                        reason: format!("index.json: {e}"),
                    })?;
                (digest, Some(entry.size))
            }
            Target::Digest(d) => (*d, None),
        };
        let path = self.blob_path(&digest);
        let actual = std::fs::metadata(&path)
            .map_err(|_| RegistryError::NotFound {
                reference: reference.clone(),
                message: format!("no manifest {digest} in the layout"),
            })?
            .len();
        if actual > limits.max_oci_manifest {
            return Err(RegistryError::ManifestTooLarge {
                reference,
                size: actual,
                limit: limits.max_oci_manifest,
            });
        }
        let manifest =
            self.read_blob(&reference, "OCI manifest", &digest, size.unwrap_or(actual))?;
        let got = Digest::of(&manifest);
        if got != digest {
            return Err(RegistryError::BlobDigestMismatch {
                reference,
                part: "OCI manifest".into(),
                expected: digest,
                actual: got,
            });
        }
        let plan = artifact::plan(&reference, &manifest, limits)?;
        let package = futures_util::FutureExt::now_or_never(artifact::fetch_all(
            &plan,
            progress,
            |w: Wanted| {
                let r = self.read_blob(&plan.reference, &w.label, &w.digest, w.size);
                std::future::ready(r)
            },
        ))
        .ok_or_else(|| RegistryError::LayoutFormat {
            path: self.dir.display().to_string(),
            reason: "internal: a local read did not complete".into(),
        })??;
        Ok(Pulled {
            package,
            manifest_digest: digest,
        })
    }
}
