//! Pushing to and pulling from an OCI registry (through `oci-client`).
//!
//! TLS is rustls with the ring provider (installed process-wide on first use). Plain HTTP
//! is used only when asked for, and only for a registry on the loopback interface.

use crate::Pulled;
use crate::artifact::{self, PullLimits, Wanted};
use crate::error::RegistryError;
use crate::progress::Progress;
use crate::reference::{RemoteRef, Target};
use futures_util::StreamExt;
use morph_package::{Digest, Package};
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::OciDescriptor;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use std::time::Duration;

/// A user name and password for HTTP basic authentication.
#[derive(Clone)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, ***)", self.username)
    }
}

/// How to reach a registry.
#[derive(Debug, Clone, Default)]
pub struct RemoteOptions {
    /// Basic-auth credentials; anonymous when `None`.
    pub credentials: Option<Credentials>,
    /// Talk plain HTTP. Refused unless the registry is on the loopback interface.
    pub plain_http: bool,
    /// Extra trusted root certificates, PEM (the system's roots are trusted too).
    pub extra_root_certificates: Vec<Vec<u8>>,
    /// Bounds on what a pull reads.
    pub limits: PullLimits,
    /// Connect and read timeout (default 30 s each).
    pub timeout: Option<Duration>,
}

/// A client for one registry.
pub struct RegistryClient {
    client: Client,
    auth: RegistryAuth,
    registry: String,
    limits: PullLimits,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RegistryClient({})", self.registry)
    }
}

fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means another provider is installed already: that one serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Whether `registry` (`host[:port]`) is on the loopback interface.
#[must_use]
pub fn is_loopback(registry: &str) -> bool {
    let host = match registry.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => h,
        _ => registry,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl RegistryClient {
    /// A client for `registry` (`host[:port]`).
    ///
    /// # Errors
    /// [`RegistryError::InsecureRefused`] when plain HTTP is asked for a registry not on
    /// the loopback interface.
    pub fn new(registry: &str, options: &RemoteOptions) -> Result<Self, RegistryError> {
        if options.plain_http && !is_loopback(registry) {
            return Err(RegistryError::InsecureRefused {
                registry: registry.to_owned(),
            });
        }
        install_crypto_provider();
        let timeout = options.timeout.unwrap_or(Duration::from_secs(30));
        let config = ClientConfig {
            protocol: if options.plain_http {
                ClientProtocol::HttpsExcept(vec![registry.to_owned()])
            } else {
                ClientProtocol::Https
            },
            extra_root_certificates: options
                .extra_root_certificates
                .iter()
                .map(|pem| Certificate {
                    encoding: CertificateEncoding::Pem,
                    data: pem.clone(),
                })
                .collect(),
            connect_timeout: Some(timeout),
            read_timeout: Some(timeout),
            ..ClientConfig::default()
        };
        let auth = match &options.credentials {
            Some(c) => RegistryAuth::Basic(c.username.clone(), c.password.clone()),
            None => RegistryAuth::Anonymous,
        };
        Ok(Self {
            client: Client::new(config),
            auth,
            registry: registry.to_owned(),
            limits: options.limits,
        })
    }

    fn oci_ref(&self, r: &RemoteRef) -> Result<Reference, RegistryError> {
        if r.registry != self.registry {
            return Err(RegistryError::InvalidReference {
                reference: r.to_string(),
                reason: format!("this client talks to `{}`", self.registry),
            });
        }
        Ok(match &r.target {
            Target::Tag(t) => {
                Reference::with_tag(r.registry.clone(), r.repository.clone(), t.clone())
            }
            Target::Digest(d) => {
                Reference::with_digest(r.registry.clone(), r.repository.clone(), d.to_string())
            }
        })
    }

    fn map_err(&self, reference: &RemoteRef, e: OciDistributionError) -> RegistryError {
        let message = chain(&e);
        match &e {
            OciDistributionError::AuthenticationFailure(_)
            | OciDistributionError::UnauthorizedError { .. } => RegistryError::Unauthorized {
                registry: self.registry.clone(),
                message,
            },
            OciDistributionError::RegistryError { envelope, .. } => {
                let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
                if codes
                    .iter()
                    .any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied))
                {
                    RegistryError::Unauthorized {
                        registry: self.registry.clone(),
                        message,
                    }
                } else if codes.iter().any(|c| {
                    matches!(
                        c,
                        OciErrorCode::ManifestUnknown
                            | OciErrorCode::BlobUnknown
                            | OciErrorCode::NameUnknown
                            | OciErrorCode::NotFound
                    )
                }) {
                    RegistryError::NotFound {
                        reference: reference.to_string(),
                        message,
                    }
                } else {
                    self.transport(message)
                }
            }
            OciDistributionError::ImageManifestNotFoundError(_) => RegistryError::NotFound {
                reference: reference.to_string(),
                message,
            },
            OciDistributionError::ServerError { code: 404, .. } => RegistryError::NotFound {
                reference: reference.to_string(),
                message,
            },
            OciDistributionError::ServerError {
                code: 401 | 403, ..
            } => RegistryError::Unauthorized {
                registry: self.registry.clone(),
                message,
            },
            OciDistributionError::RequestError(e) => match e.status().map(|s| s.as_u16()) {
                Some(401 | 403) => RegistryError::Unauthorized {
                    registry: self.registry.clone(),
                    message,
                },
                Some(404) => RegistryError::NotFound {
                    reference: reference.to_string(),
                    message,
                },
                _ => self.transport(message),
            },
            _ => self.transport(message),
        }
    }

    fn transport(&self, message: String) -> RegistryError {
        RegistryError::Transport {
            registry: self.registry.clone(),
            message,
        }
    }

    /// Pushes `package` as an OCI artifact: every blob, then the manifest under the tag
    /// (or by its digest, which must then be the artifact's). Returns the manifest digest.
    ///
    /// # Errors
    /// [`RegistryError::Package`] when the package is over the limits;
    /// [`RegistryError::BlobDigestMismatch`] when a digest target is not the artifact's;
    /// [`RegistryError::Unauthorized`], [`RegistryError::Transport`],
    /// [`RegistryError::InvalidReference`] (another registry than this client's).
    pub async fn push(
        &self,
        reference: &RemoteRef,
        package: &Package,
        progress: &dyn Progress,
    ) -> Result<Digest, RegistryError> {
        let image = self.oci_ref(reference)?;
        let art = artifact::build(package, &self.limits.package)?;
        if let Target::Digest(d) = &reference.target
            && *d != art.digest
        {
            return Err(RegistryError::BlobDigestMismatch {
                reference: reference.to_string(),
                part: "OCI manifest".into(),
                expected: *d,
                actual: art.digest,
            });
        }
        self.client
            .store_auth_if_needed(image.resolve_registry(), &self.auth)
            .await;
        for (desc, bytes, label) in &art.blobs {
            progress.start(label, desc.size);
            let exists = self
                .client
                .blob_exists(&image, &desc.digest)
                .await
                .map_err(|e| self.map_err(reference, e))?;
            if !exists {
                self.client
                    .push_blob(&image, bytes.to_vec(), &desc.digest)
                    .await
                    .map_err(|e| self.map_err(reference, e))?;
            }
            progress.advance(label, desc.size);
            progress.finish(label);
        }
        let content_type = http::HeaderValue::from_static(artifact::OCI_MANIFEST_MEDIA_TYPE);
        self.client
            .push_manifest_raw(&image, art.manifest.clone(), content_type)
            .await
            .map_err(|e| self.map_err(reference, e))?;
        Ok(art.digest)
    }

    /// Pulls the package at `reference`: the manifest (its size and, by digest, its digest
    /// checked), then every blob, each refused before download when its declared size is
    /// over the limits, cut off when it sends more than declared, and checked against its
    /// digest. Layers are matched by media type.
    ///
    /// The package is not verified here: call `morph_signing::verify` on it.
    ///
    /// # Errors
    /// [`RegistryError::NotFound`], [`RegistryError::Unauthorized`],
    /// [`RegistryError::Transport`]; [`RegistryError::ManifestTooLarge`],
    /// [`RegistryError::MalformedManifest`], [`RegistryError::NotAMorphArtifact`];
    /// [`RegistryError::BlobTooLarge`], [`RegistryError::BlobSizeMismatch`],
    /// [`RegistryError::BlobDigestMismatch`]; [`RegistryError::Package`].
    pub async fn pull(
        &self,
        reference: &RemoteRef,
        progress: &dyn Progress,
    ) -> Result<Pulled, RegistryError> {
        let image = self.oci_ref(reference)?;
        // oci-client reads the manifest body whole before we can look at its size; the
        // read timeout bounds how long a hostile registry can feed it. See docs/trust.md.
        let (manifest, digest) = self
            .client
            .pull_manifest_raw(&image, &self.auth, &[artifact::OCI_MANIFEST_MEDIA_TYPE])
            .await
            .map_err(|e| self.map_err(reference, e))?;
        let manifest_digest = Digest::of(&manifest);
        if let Target::Digest(d) = &reference.target
            && *d != manifest_digest
        {
            return Err(RegistryError::BlobDigestMismatch {
                reference: reference.to_string(),
                part: "OCI manifest".into(),
                expected: *d,
                actual: manifest_digest,
            });
        }
        if Digest::parse(&digest).is_ok_and(|d| d != manifest_digest) {
            return Err(RegistryError::MalformedManifest {
                reference: reference.to_string(),
                reason: format!(
                    "the registry says its digest is {digest} but it hashes to {manifest_digest}"
                ),
            });
        }
        let plan = artifact::plan(&reference.to_string(), &manifest, &self.limits)?;
        let package = artifact::fetch_all(&plan, progress, |w| {
            self.fetch_blob(&image, &plan.reference, w, progress)
        })
        .await?;
        Ok(Pulled {
            package,
            manifest_digest,
        })
    }

    async fn fetch_blob(
        &self,
        image: &Reference,
        reference: &str,
        want: Wanted,
        progress: &dyn Progress,
    ) -> Result<Vec<u8>, RegistryError> {
        let descriptor = OciDescriptor {
            media_type: want.media_type.clone(),
            digest: want.digest.to_string(),
            size: i64::try_from(want.size).unwrap_or(i64::MAX),
            ..OciDescriptor::default()
        };
        let transport = |m: String| RegistryError::Transport {
            registry: self.registry.clone(),
            message: format!("{}: {m}", want.label),
        };
        let mut stream = self
            .client
            .pull_blob_stream(image, &descriptor)
            .await
            .map_err(|e| transport(chain(&e)))?;
        if let Some(len) = stream.content_length
            && len != want.size
        {
            return Err(RegistryError::BlobSizeMismatch {
                reference: reference.to_owned(),
                part: want.label,
                declared: want.size,
                actual: len,
            });
        }
        // Room for what was declared (already checked against the limits), never more.
        let mut bytes = Vec::with_capacity(usize::try_from(want.size).unwrap_or(0));
        let mut stream_error = None;
        while let Some(chunk) = stream.stream.next().await {
            match chunk {
                Ok(chunk) => {
                    let total =
                        u64::try_from(bytes.len().saturating_add(chunk.len())).unwrap_or(u64::MAX);
                    if total > want.size {
                        return Err(RegistryError::BlobSizeMismatch {
                            reference: reference.to_owned(),
                            part: want.label,
                            declared: want.size,
                            actual: total,
                        });
                    }
                    bytes.extend_from_slice(&chunk);
                    progress.advance(&want.label, u64::try_from(chunk.len()).unwrap_or(0));
                }
                Err(e) => {
                    stream_error = Some(chain(&e));
                    break;
                }
            }
        }
        // oci-client's own digest check ends the stream with an error; when every byte
        // arrived, our check (in fetch_all) gives the typed mismatch instead.
        match stream_error {
            Some(m) if u64::try_from(bytes.len()).ok() != Some(want.size) => Err(transport(m)),
            Some(m) if Digest::of(&bytes) == want.digest => Err(transport(m)),
            _ => Ok(bytes),
        }
    }
}

/// An error and its causes, on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
