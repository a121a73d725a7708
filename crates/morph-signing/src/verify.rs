//! Signing a package and verifying one against a trust store.

use crate::envelope::SignatureEnvelope;
use crate::error::SigningError;
use crate::keys::{Algorithm, KeyId, PrivateKey};
use crate::statement::Statement;
use crate::trust::TrustStore;
use morph_package::{Digest, Package};
use std::fmt;

/// Signs `package` with `key` and attaches the signature (replacing any earlier one).
///
/// # Errors
/// [`SigningError::Unsignable`] when the manifest names no `publisher` or a field cannot go
/// into a statement; [`SigningError::Crypto`] when the signer fails.
pub fn sign_package(package: &mut Package, key: &PrivateKey) -> Result<(), SigningError> {
    let unsignable = |reason| SigningError::Unsignable {
        package: package.display_name(),
        reason,
    };
    let statement = Statement::for_package(package).map_err(unsignable)?;
    let envelope = sign_statement(&statement, key).map_err(|e| match e {
        SigningError::KeyFormat(reason) => unsignable(reason),
        other => other,
    })?;
    package.set_signature(envelope.to_json());
    Ok(())
}

/// Signs a statement as it is, without looking at any package. [`sign_package`] is what
/// authors use; this is for tools and tests that build statements themselves.
///
/// # Errors
/// [`SigningError::KeyFormat`] when the statement cannot be encoded (see
/// [`Statement::to_bytes`]); [`SigningError::Crypto`] when the signer fails.
pub fn sign_statement(
    statement: &Statement,
    key: &PrivateKey,
) -> Result<SignatureEnvelope, SigningError> {
    let bytes = statement.to_bytes().map_err(SigningError::KeyFormat)?;
    let signature = key.sign_raw(&bytes)?;
    Ok(SignatureEnvelope {
        algorithm: key.algorithm(),
        key_id: key.public_key().key_id(),
        statement: bytes,
        signature,
    })
}

/// A package whose signature checked out against a trust store. The only way to get one is
/// [`verify`], so holding one is proof that the check ran.
#[derive(Debug, Clone)]
pub struct VerifiedPackage {
    package: Package,
    key_id: KeyId,
    algorithm: Algorithm,
    publisher: String,
    statement: Statement,
}

impl VerifiedPackage {
    /// The package.
    #[must_use]
    pub fn package(&self) -> &Package {
        &self.package
    }
    /// The package, giving up the proof.
    #[must_use]
    pub fn into_package(self) -> Package {
        self.package
    }
    /// The key that signed it.
    #[must_use]
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }
    /// The signature's algorithm.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
    /// The publisher the trust store ties the key to (and the manifest names).
    #[must_use]
    pub fn publisher(&self) -> &str {
        &self.publisher
    }
    /// What the signature vouches for.
    #[must_use]
    pub fn statement(&self) -> &Statement {
        &self.statement
    }
}

/// A part of a package that a statement covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedPart {
    /// The manifest.
    Manifest,
    /// The module.
    Module,
    /// An asset, by name.
    Asset(String),
}

impl fmt::Display for SignedPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Manifest => f.write_str("manifest"),
            Self::Module => f.write_str("module"),
            Self::Asset(name) => write!(f, "asset `{name}`"),
        }
    }
}

fn or_none(d: Option<&Digest>) -> String {
    d.map_or_else(|| "nothing".to_owned(), Digest::to_string)
}

/// Why a package was refused. Each message names the package, what failed, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// No signature is attached.
    #[error(
        "`{package}` is not signed; only signed packages can be installed: ask its publisher for a signed package"
    )]
    Unsigned {
        /// `id@version`.
        package: String,
    },
    /// The attached signature cannot be read.
    #[error(
        "`{package}` carries a malformed signature ({reason}); get the package again from its publisher"
    )]
    MalformedSignature {
        /// `id@version`.
        package: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A part's digest is on the trust store's denylist.
    #[error(
        "`{package}` is refused: its {part} ({digest}) is on the denylist ({reason}); it must not be installed, whoever signed it"
    )]
    DeniedDigest {
        /// `id@version`.
        package: String,
        /// Which part.
        part: SignedPart,
        /// The denied digest.
        digest: Digest,
        /// The denylist's reason.
        reason: String,
    },
    /// The signing key is not in the trust store.
    #[error("`{package}` is signed by key {} which is not in the trust store; if you trust its publisher, add their public key to the trust store", .key_id.short())]
    UnknownKey {
        /// `id@version`.
        package: String,
        /// The signing key.
        key_id: KeyId,
    },
    /// The signing key was revoked.
    #[error("`{package}` is signed by key {} of `{publisher}`, which was revoked; ask the publisher for a package signed with their current key", .key_id.short())]
    RevokedKey {
        /// `id@version`.
        package: String,
        /// The revoked key.
        key_id: KeyId,
        /// Its publisher.
        publisher: String,
    },
    /// The signature's algorithm is not the trusted key's.
    #[error("`{package}`'s signature says {signature} but trusted key {} is an {key} key; the signature is forged or corrupt", .key_id.short())]
    AlgorithmMismatch {
        /// `id@version`.
        package: String,
        /// The key.
        key_id: KeyId,
        /// The signature's algorithm.
        signature: Algorithm,
        /// The key's algorithm.
        key: Algorithm,
    },
    /// The signature does not verify with the trusted key.
    #[error("`{package}`'s signature does not verify with key {} of `{publisher}`: the signature or its statement was altered; get the package again from its publisher", .key_id.short())]
    BadSignature {
        /// `id@version`.
        package: String,
        /// The key.
        key_id: KeyId,
        /// Its publisher.
        publisher: String,
    },
    /// The signed statement cannot be read (it verified, so the signer wrote it).
    #[error(
        "`{package}`'s signed statement is malformed ({reason}); the publisher's signing tool is broken or too new"
    )]
    MalformedStatement {
        /// `id@version`.
        package: String,
        /// What is wrong.
        reason: String,
    },
    /// The key signs for another publisher than the statement names.
    #[error("`{package}` claims publisher `{claimed}` but is signed by key {} which the trust store ties to `{trusted}`; a key only vouches for its own publisher", .key_id.short())]
    PublisherMismatch {
        /// `id@version`.
        package: String,
        /// The key.
        key_id: KeyId,
        /// The publisher the trust store ties the key to.
        trusted: String,
        /// The publisher the statement names.
        claimed: String,
    },
    /// A part's bytes differ from what was signed.
    #[error("`{package}`'s {part} was changed after signing (signed {}, found {}); get the package again from its publisher", or_none(.signed.as_ref()), or_none(.actual.as_ref()))]
    DigestMismatch {
        /// `id@version`.
        package: String,
        /// Which part.
        part: SignedPart,
        /// The digest in the statement (`None`: the part is not covered, e.g. an added asset).
        signed: Option<Digest>,
        /// The part's digest (`None`: the signed part is missing).
        actual: Option<Digest>,
    },
    /// The statement was signed for another package identity.
    #[error(
        "`{package}` carries a signature for {field} `{claimed}`, not `{actual}`: the signature belongs to another package; get the package again from its publisher"
    )]
    StatementMismatch {
        /// `id@version` (from the manifest).
        package: String,
        /// `id`, `version` or `publisher`.
        field: &'static str,
        /// What the statement says.
        claimed: String,
        /// What the manifest says.
        actual: String,
    },
}

/// Verifies `package`'s attached signature against `trust`, from the package's bytes
/// alone (the module is hashed, never parsed).
///
/// # Errors
/// The first failed check, in this order:
/// 1. [`VerifyError::Unsigned`], [`VerifyError::MalformedSignature`];
/// 2. [`VerifyError::DeniedDigest`]: the manifest, module or an asset is denied;
/// 3. [`VerifyError::UnknownKey`], [`VerifyError::RevokedKey`],
///    [`VerifyError::AlgorithmMismatch`];
/// 4. [`VerifyError::BadSignature`]: the signature over the statement bytes;
/// 5. [`VerifyError::MalformedStatement`];
/// 6. [`VerifyError::PublisherMismatch`]: the statement's publisher is not the key's;
/// 7. [`VerifyError::StatementMismatch`]: the statement's id, version or publisher differ
///    from the manifest's (a signature taken from another package, or a signer that
///    signed the wrong identity);
/// 8. [`VerifyError::DigestMismatch`]: manifest, module, then each asset (added or missing
///    ones included).
pub fn verify(package: Package, trust: &TrustStore) -> Result<VerifiedPackage, VerifyError> {
    let name = package.display_name();
    let Some(signature) = package.signature() else {
        return Err(VerifyError::Unsigned { package: name });
    };
    let envelope = SignatureEnvelope::from_json(signature).map_err(|reason| {
        VerifyError::MalformedSignature {
            package: name.clone(),
            reason,
        }
    })?;

    let manifest = package.manifest_digest();
    let module = package.module_digest();
    let parts = [
        (SignedPart::Manifest, manifest),
        (SignedPart::Module, module),
    ]
    .into_iter()
    .chain(
        package
            .assets()
            .iter()
            .map(|a| (SignedPart::Asset(a.name().to_owned()), a.digest())),
    );
    for (part, digest) in parts {
        if let Some(reason) = trust.denied_reason(&digest) {
            return Err(VerifyError::DeniedDigest {
                package: name,
                part,
                digest,
                reason: reason.to_owned(),
            });
        }
    }

    let key_id = envelope.key_id;
    let Some(trusted) = trust.key(&key_id) else {
        return Err(VerifyError::UnknownKey {
            package: name,
            key_id,
        });
    };
    if trusted.revoked {
        return Err(VerifyError::RevokedKey {
            package: name,
            key_id,
            publisher: trusted.publisher.clone(),
        });
    }
    if trusted.public_key.algorithm() != envelope.algorithm {
        return Err(VerifyError::AlgorithmMismatch {
            package: name,
            key_id,
            signature: envelope.algorithm,
            key: trusted.public_key.algorithm(),
        });
    }
    if !trusted
        .public_key
        .verify_raw(&envelope.statement, &envelope.signature)
    {
        return Err(VerifyError::BadSignature {
            package: name,
            key_id,
            publisher: trusted.publisher.clone(),
        });
    }
    let statement = Statement::parse(&envelope.statement).map_err(|reason| {
        VerifyError::MalformedStatement {
            package: name.clone(),
            reason,
        }
    })?;
    if statement.publisher != trusted.publisher {
        return Err(VerifyError::PublisherMismatch {
            package: name,
            key_id,
            trusted: trusted.publisher.clone(),
            claimed: statement.publisher,
        });
    }

    let fields = package.fields();
    let identity = [
        ("id", &statement.id, Some(&fields.id)),
        ("version", &statement.version, Some(&fields.version)),
        ("publisher", &statement.publisher, fields.publisher.as_ref()),
    ];
    for (field, claimed, actual) in identity {
        if actual != Some(claimed) {
            return Err(VerifyError::StatementMismatch {
                package: name,
                field,
                claimed: claimed.clone(),
                actual: actual.cloned().unwrap_or_else(|| "(none)".to_owned()),
            });
        }
    }

    let mismatch = |part, signed: Option<Digest>, actual: Option<Digest>| {
        (signed != actual).then(|| VerifyError::DigestMismatch {
            package: name.clone(),
            part,
            signed,
            actual,
        })
    };
    if let Some(e) = mismatch(
        SignedPart::Manifest,
        Some(statement.manifest),
        Some(manifest),
    ) {
        return Err(e);
    }
    if let Some(e) = mismatch(SignedPart::Module, Some(statement.module), Some(module)) {
        return Err(e);
    }
    for asset in package.assets() {
        let signed = statement
            .assets
            .iter()
            .find(|(n, _)| n == asset.name())
            .map(|(_, d)| *d);
        if let Some(e) = mismatch(
            SignedPart::Asset(asset.name().to_owned()),
            signed,
            Some(asset.digest()),
        ) {
            return Err(e);
        }
    }
    for (signed_name, digest) in &statement.assets {
        if !package.assets().iter().any(|a| a.name() == signed_name) {
            return Err(VerifyError::DigestMismatch {
                package: name,
                part: SignedPart::Asset(signed_name.clone()),
                signed: Some(*digest),
                actual: None,
            });
        }
    }

    Ok(VerifiedPackage {
        key_id,
        algorithm: envelope.algorithm,
        publisher: trusted.publisher.clone(),
        statement,
        package,
    })
}
