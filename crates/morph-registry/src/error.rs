//! The registry crate's one error type.

use morph_package::{Digest, PackageError};

/// Why a push, a pull or a reference was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// A reference that is not `oci://host[:port]/repo:tag`, `oci://...@sha256:...`,
    /// `oci-layout:<dir>:tag` or `oci-layout:<dir>@sha256:...`.
    #[error("`{reference}` is not a package reference: {reason}")]
    InvalidReference {
        /// The text (shortened).
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Plain HTTP was asked for a registry that is not on this machine.
    #[error(
        "plain HTTP is only allowed for a registry on the loopback interface, not `{registry}`: use HTTPS"
    )]
    InsecureRefused {
        /// The registry host.
        registry: String,
    },
    /// The registry refused the credentials, or wants some.
    #[error("registry `{registry}` refused access ({message}): check the user name and password")]
    Unauthorized {
        /// The registry host.
        registry: String,
        /// What it said.
        message: String,
    },
    /// The tag or digest is not there.
    #[error("`{reference}` was not found ({message})")]
    NotFound {
        /// What was looked for.
        reference: String,
        /// What the registry said.
        message: String,
    },
    /// Talking to the registry failed (connection, TLS, HTTP, protocol).
    #[error("talking to registry `{registry}` failed: {message}")]
    Transport {
        /// The registry host.
        registry: String,
        /// The client's message.
        message: String,
    },
    /// The OCI manifest is larger than allowed.
    #[error("the OCI manifest of `{reference}` is {size} bytes, over the limit of {limit}")]
    ManifestTooLarge {
        /// What was pulled.
        reference: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The OCI manifest is not one this crate reads.
    #[error("the OCI manifest of `{reference}` is malformed: {reason}")]
    MalformedManifest {
        /// What was pulled.
        reference: String,
        /// What is wrong.
        reason: String,
    },
    /// The artifact is an OCI artifact of another kind (a container image, a Helm chart...).
    #[error(
        "`{reference}` is not a Morph extension (its artifact type is `{found}`, not `{expected}`)"
    )]
    NotAMorphArtifact {
        /// What was pulled.
        reference: String,
        /// The artifact type found.
        found: String,
        /// Ours.
        expected: &'static str,
    },
    /// A blob declared larger than its limit: refused before downloading it.
    #[error(
        "`{reference}`'s {part} declares {declared} bytes, over the limit of {limit}; not downloaded"
    )]
    BlobTooLarge {
        /// What was pulled.
        reference: String,
        /// Which part (`module`, `manifest`, `asset icon.png`, `package`...).
        part: String,
        /// The declared size.
        declared: u64,
        /// The limit.
        limit: u64,
    },
    /// A blob's size differs from the size its descriptor declares.
    #[error(
        "`{reference}`'s {part} should be {declared} bytes but the source has {actual}; the registry is corrupt or lying"
    )]
    BlobSizeMismatch {
        /// What was pulled.
        reference: String,
        /// Which part.
        part: String,
        /// The declared size.
        declared: u64,
        /// The size seen (a lower bound when the download was cut off for being too long).
        actual: u64,
    },
    /// A blob does not hash to its digest.
    #[error(
        "`{reference}`'s {part} does not match its digest (expected {expected}, got {actual}); the registry is corrupt or tampered with"
    )]
    BlobDigestMismatch {
        /// What was pulled.
        reference: String,
        /// Which part.
        part: String,
        /// The descriptor's digest.
        expected: Digest,
        /// What the bytes hash to.
        actual: Digest,
    },
    /// The pulled parts do not form a valid package, or a package to push is invalid.
    #[error(transparent)]
    Package(#[from] PackageError),
    /// A local file could not be read or written.
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
    /// The local OCI layout is not one this crate reads.
    #[error("the OCI layout at {path} is unusable: {reason}")]
    LayoutFormat {
        /// The folder.
        path: String,
        /// What is wrong.
        reason: String,
    },
}
