//! A package as an OCI artifact: written once here, read once here, whatever the transport.
//!
//! ```text
//! OCI image manifest (application/vnd.oci.image.manifest.v1+json)
//!   artifactType  application/vnd.morph.extension.v1
//!   config        application/vnd.morph.manifest.v1+toml     the morph.toml bytes
//!   layers        application/wasm                           the module
//!                 application/vnd.morph.asset.v1             one per asset, named by the
//!                                                            org.opencontainers.image.title annotation
//!                 application/vnd.morph.signature.v1+json    the attached signature, if any
//!   annotations   org.opencontainers.image.title = id, org.opencontainers.image.version = version
//! ```
//!
//! Layers are matched by media type, never by position. The signature is a layer of the
//! same manifest because registries without the referrers API (distribution 2.8) cannot
//! attach it any other way.

use crate::error::RegistryError;
use crate::progress::Progress;
use morph_package::{Asset, Digest, Limits, Package};
use std::collections::BTreeMap;

/// The OCI `artifactType` of a Morph extension.
pub const ARTIFACT_TYPE: &str = "application/vnd.morph.extension.v1";
/// The config blob's media type: the manifest (`morph.toml`) bytes.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.morph.manifest.v1+toml";
/// The module layer's media type.
pub const MODULE_MEDIA_TYPE: &str = "application/wasm";
/// An asset layer's media type (the name is the `org.opencontainers.image.title` annotation).
pub const ASSET_MEDIA_TYPE: &str = "application/vnd.morph.asset.v1";
/// The signature layer's media type.
pub const SIGNATURE_MEDIA_TYPE: &str = "application/vnd.morph.signature.v1+json";
/// The OCI image manifest media type.
pub const OCI_MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The annotation naming an asset (and the artifact's id).
pub const TITLE_ANNOTATION: &str = "org.opencontainers.image.title";
const VERSION_ANNOTATION: &str = "org.opencontainers.image.version";

/// Bounds for everything read from a registry or a layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PullLimits {
    /// The OCI manifest JSON, in bytes (default 1 MiB).
    pub max_oci_manifest: u64,
    /// The package's parts (module 32 MiB, manifest 1 MiB... see [`Limits`]).
    pub package: Limits,
}

impl Default for PullLimits {
    fn default() -> Self {
        Self {
            max_oci_manifest: 1024 * 1024,
            package: Limits::default(),
        }
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImageManifest {
    schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    artifact_type: Option<String>,
    config: Descriptor,
    layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    annotations: Option<BTreeMap<String, String>>,
}

/// A package laid out as blobs and the manifest that lists them.
pub(crate) struct Artifact<'a> {
    pub manifest: Vec<u8>,
    pub digest: Digest,
    /// `(descriptor, bytes, label)`: the config first, then the layers.
    pub blobs: Vec<(Descriptor, &'a [u8], String)>,
}

fn descriptor(media_type: &str, bytes: &[u8], title: Option<&str>) -> Descriptor {
    Descriptor {
        media_type: media_type.to_owned(),
        digest: Digest::of(bytes).to_string(),
        size: u64::try_from(bytes.len()).unwrap_or(u64::MAX),
        annotations: title.map(|t| BTreeMap::from([(TITLE_ANNOTATION.to_owned(), t.to_owned())])),
    }
}

/// Lays `package` out as an OCI artifact.
pub(crate) fn build<'a>(
    package: &'a Package,
    limits: &Limits,
) -> Result<Artifact<'a>, RegistryError> {
    package.check_limits(limits)?;
    let config = descriptor(MANIFEST_MEDIA_TYPE, package.manifest(), None);
    let mut blobs = vec![(config.clone(), package.manifest(), "manifest".to_owned())];
    blobs.push((
        descriptor(MODULE_MEDIA_TYPE, package.module(), None),
        package.module(),
        "module".to_owned(),
    ));
    for asset in package.assets() {
        blobs.push((
            descriptor(ASSET_MEDIA_TYPE, asset.bytes(), Some(asset.name())),
            asset.bytes(),
            format!("asset `{}`", asset.name()),
        ));
    }
    if let Some(sig) = package.signature() {
        blobs.push((
            descriptor(SIGNATURE_MEDIA_TYPE, sig, None),
            sig,
            "signature".to_owned(),
        ));
    }
    let fields = package.fields();
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST_MEDIA_TYPE.to_owned()),
        artifact_type: Some(ARTIFACT_TYPE.to_owned()),
        config,
        layers: blobs.iter().skip(1).map(|(d, _, _)| d.clone()).collect(),
        annotations: Some(BTreeMap::from([
            (TITLE_ANNOTATION.to_owned(), fields.id.clone()),
            (VERSION_ANNOTATION.to_owned(), fields.version.clone()),
        ])),
    };
    let manifest = serde_json::to_vec(&manifest).map_err(|e| RegistryError::MalformedManifest {
        reference: package.display_name(),
        reason: format!("cannot encode it: {e}"),
    })?;
    Ok(Artifact {
        digest: Digest::of(&manifest),
        manifest,
        blobs,
    })
}

/// What a pull must fetch, every size checked against the limits before any download.
#[derive(Debug)]
pub(crate) struct Plan {
    pub reference: String,
    pub config: Wanted,
    pub module: Wanted,
    pub assets: Vec<(String, Wanted)>,
    pub signature: Option<Wanted>,
}

/// One blob to fetch.
#[derive(Debug, Clone)]
pub(crate) struct Wanted {
    pub label: String,
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
}

impl Plan {
    pub fn all(&self) -> impl Iterator<Item = &Wanted> {
        [&self.config, &self.module]
            .into_iter()
            .chain(self.assets.iter().map(|(_, w)| w))
            .chain(self.signature.iter())
    }
}

/// Reads an OCI manifest and decides what to fetch.
pub(crate) fn plan(
    reference: &str,
    manifest: &[u8],
    limits: &PullLimits,
) -> Result<Plan, RegistryError> {
    let size = u64::try_from(manifest.len()).unwrap_or(u64::MAX);
    if size > limits.max_oci_manifest {
        return Err(RegistryError::ManifestTooLarge {
            reference: reference.to_owned(),
            size,
            limit: limits.max_oci_manifest,
        });
    }
    let malformed = |reason: String| RegistryError::MalformedManifest {
        reference: reference.to_owned(),
        reason,
    };
    let m: ImageManifest = serde_json::from_slice(manifest)
        .map_err(|e| malformed(format!("it is not an OCI image manifest: {e}")))?;
    if m.schema_version != 2 {
        return Err(malformed(format!(
            "schemaVersion is {}, not 2",
            m.schema_version
        )));
    }
    if let Some(mt) = &m.media_type
        && mt != OCI_MANIFEST_MEDIA_TYPE
    {
        return Err(malformed(format!(
            "mediaType is `{mt}`, not `{OCI_MANIFEST_MEDIA_TYPE}`"
        )));
    }
    let artifact_type = m.artifact_type.as_deref().unwrap_or("(none)");
    if artifact_type != ARTIFACT_TYPE {
        return Err(RegistryError::NotAMorphArtifact {
            reference: reference.to_owned(),
            found: artifact_type.chars().take(100).collect(),
            expected: ARTIFACT_TYPE,
        });
    }
    let pkg = &limits.package;
    let wanted = |d: &Descriptor, label: String, limit: u64| -> Result<Wanted, RegistryError> {
        if d.size > limit {
            return Err(RegistryError::BlobTooLarge {
                reference: reference.to_owned(),
                part: label,
                declared: d.size,
                limit,
            });
        }
        let digest = Digest::parse(&d.digest)
            .map_err(|e| malformed(format!("the {label}'s digest: {e}")))?;
        Ok(Wanted {
            label,
            media_type: d.media_type.clone(),
            digest,
            size: d.size,
        })
    };
    if m.config.media_type != MANIFEST_MEDIA_TYPE {
        return Err(malformed(format!(
            "the config's media type is `{}`, not `{MANIFEST_MEDIA_TYPE}`",
            m.config.media_type.chars().take(100).collect::<String>()
        )));
    }
    let config = wanted(&m.config, "manifest".into(), pkg.max_manifest)?;
    let mut module = None;
    let mut signature = None;
    let mut assets = Vec::new();
    for layer in &m.layers {
        match layer.media_type.as_str() {
            MODULE_MEDIA_TYPE => {
                if module.is_some() {
                    return Err(malformed("it has two module layers".into()));
                }
                module = Some(wanted(layer, "module".into(), pkg.max_module)?);
            }
            SIGNATURE_MEDIA_TYPE => {
                if signature.is_some() {
                    return Err(malformed("it has two signature layers".into()));
                }
                signature = Some(wanted(layer, "signature".into(), pkg.max_signature)?);
            }
            ASSET_MEDIA_TYPE => {
                let name = layer
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(TITLE_ANNOTATION))
                    .ok_or_else(|| {
                        malformed(format!(
                            "an asset layer lacks the `{TITLE_ANNOTATION}` annotation"
                        ))
                    })?;
                if assets.len() >= pkg.max_assets {
                    return Err(RegistryError::BlobTooLarge {
                        reference: reference.to_owned(),
                        part: "asset count".into(),
                        declared: u64::try_from(m.layers.len()).unwrap_or(u64::MAX),
                        limit: u64::try_from(pkg.max_assets).unwrap_or(u64::MAX),
                    });
                }
                let label = format!("asset `{}`", name.chars().take(100).collect::<String>());
                assets.push((name.clone(), wanted(layer, label, pkg.max_asset)?));
            }
            other => {
                return Err(malformed(format!(
                    "a layer has media type `{}`, which a Morph extension does not use",
                    other.chars().take(100).collect::<String>()
                )));
            }
        }
    }
    let module =
        module.ok_or_else(|| malformed(format!("it has no `{MODULE_MEDIA_TYPE}` layer")))?;
    let plan = Plan {
        reference: reference.to_owned(),
        config,
        module,
        assets,
        signature,
    };
    let total = plan.all().fold(0u64, |sum, w| sum.saturating_add(w.size));
    if total > pkg.max_total {
        return Err(RegistryError::BlobTooLarge {
            reference: reference.to_owned(),
            part: "package".into(),
            declared: total,
            limit: pkg.max_total,
        });
    }
    Ok(plan)
}

/// Checks a fetched blob against what the plan wanted.
pub(crate) fn check_blob(plan: &Plan, want: &Wanted, bytes: &[u8]) -> Result<(), RegistryError> {
    let actual_size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if actual_size != want.size {
        return Err(RegistryError::BlobSizeMismatch {
            reference: plan.reference.clone(),
            part: want.label.clone(),
            declared: want.size,
            actual: actual_size,
        });
    }
    let actual = Digest::of(bytes);
    if actual != want.digest {
        return Err(RegistryError::BlobDigestMismatch {
            reference: plan.reference.clone(),
            part: want.label.clone(),
            expected: want.digest,
            actual,
        });
    }
    Ok(())
}

/// Builds the package from fetched blobs, in plan order (config, module, assets, signature).
pub(crate) fn assemble(plan: &Plan, blobs: Vec<Vec<u8>>) -> Result<Package, RegistryError> {
    let mut blobs = blobs.into_iter();
    let mut next = move || blobs.next().unwrap_or_default();
    let manifest = next();
    let module = next();
    let mut package = Package::new(manifest, module)?;
    for (name, _) in &plan.assets {
        package.add_asset(Asset::new(name.clone(), next())?)?;
    }
    if plan.signature.is_some() {
        package.set_signature(next());
    }
    Ok(package)
}

/// Fetches every blob of `plan` with `fetch`, checking each, reporting progress.
pub(crate) async fn fetch_all<F, Fut>(
    plan: &Plan,
    progress: &dyn Progress,
    mut fetch: F,
) -> Result<Package, RegistryError>
where
    F: FnMut(Wanted) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<u8>, RegistryError>>,
{
    let mut blobs = Vec::new();
    for want in plan.all() {
        progress.start(&want.label, want.size);
        let bytes = fetch(want.clone()).await?;
        check_blob(plan, want, &bytes)?;
        progress.finish(&want.label);
        blobs.push(bytes);
    }
    assemble(plan, blobs)
}
