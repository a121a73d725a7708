//! # morph-registry: Morph packages as OCI artifacts
//!
//! - **The artifact** ([`ARTIFACT_TYPE`] and the media types): the manifest is the config
//!   blob, the module, each asset and the signature are layers, matched by media type.
//!   The signature travels in the same manifest, so registries without the referrers API
//!   (distribution 2.8) carry it.
//! - **Registries** ([`RegistryClient`]): push and pull by tag or digest over HTTPS
//!   (rustls with ring), basic auth, plain HTTP only for loopback registries.
//! - **The local store** ([`OciLayout`]): an OCI image-layout folder, written atomically.
//! - **References** ([`PackageRef`]): `oci://host[:port]/repo:tag`, `...@sha256:...`,
//!   `oci-layout:<dir>:tag`.
//! - **Bounds** ([`PullLimits`]): every size read is bounded; declared sizes are checked
//!   before downloading; every blob is checked against its digest.
//! - **Progress** ([`Progress`]): a callback per part, for the CLI's bars.
//!
//! A pulled package is not yet trusted: verify it with `morph_signing::verify` before any
//! engine sees its module. The async functions need a Tokio runtime (reqwest's).
#![deny(missing_docs)]

mod artifact;
mod error;
mod layout;
mod progress;
mod reference;
mod remote;

pub use artifact::{
    ARTIFACT_TYPE, ASSET_MEDIA_TYPE, MANIFEST_MEDIA_TYPE, MODULE_MEDIA_TYPE,
    OCI_MANIFEST_MEDIA_TYPE, PullLimits, SIGNATURE_MEDIA_TYPE, TITLE_ANNOTATION,
};
pub use error::RegistryError;
pub use layout::OciLayout;
pub use progress::{NoProgress, Progress};
pub use reference::{LayoutRef, PackageRef, RemoteRef, Target};
pub use remote::{Credentials, RegistryClient, RemoteOptions, is_loopback};

use morph_package::{Digest, Package};

/// A pulled package and the digest of the OCI manifest it came from (pin it to pull the
/// same bytes again).
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The package (not yet verified).
    pub package: Package,
    /// The OCI manifest's digest.
    pub manifest_digest: Digest,
}

/// Pushes `package` to `reference`, a registry or a local layout. Returns the OCI
/// manifest's digest.
///
/// # Errors
/// See [`RegistryClient::push`] and [`OciLayout::push`].
pub async fn push(
    reference: &PackageRef,
    package: &Package,
    options: &RemoteOptions,
    progress: &dyn Progress,
) -> Result<Digest, RegistryError> {
    match reference {
        PackageRef::Remote(r) => {
            RegistryClient::new(&r.registry, options)?
                .push(r, package, progress)
                .await
        }
        PackageRef::Layout(l) => {
            OciLayout::new(&l.dir).push(&l.target, package, &options.limits, progress)
        }
    }
}

/// Pulls the package at `reference`, a registry or a local layout.
///
/// # Errors
/// See [`RegistryClient::pull`] and [`OciLayout::pull`].
pub async fn pull(
    reference: &PackageRef,
    options: &RemoteOptions,
    progress: &dyn Progress,
) -> Result<Pulled, RegistryError> {
    match reference {
        PackageRef::Remote(r) => {
            RegistryClient::new(&r.registry, options)?
                .pull(r, progress)
                .await
        }
        PackageRef::Layout(l) => OciLayout::new(&l.dir).pull(&l.target, &options.limits, progress),
    }
}
