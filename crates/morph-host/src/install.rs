//! Installing a package into the local store: verify, compile, record, activate.
//!
//! The order is the point. The package's signature is verified against the trust store
//! (which also checks the manifest's and module's digests and the denylist) *before*
//! any engine parses a byte of the module: an untrusted module never reaches a
//! compiler. Only then is it compiled and described, and its self-description must
//! name the id and version its manifest does, so a signed manifest cannot front for a
//! different module. The store records it last (blob, then one transaction), so a
//! failure at any step leaves what was installed before.

use crate::{Host, Prepared};
use morph_package::{Digest, Package, PackageError};
use morph_signing::{SignedPart, TrustStore, VerifyError};
use std::cmp::Ordering;

// The store's types are part of the installer's API: an app opens a `Store` and reads
// its records without naming morph-store.
pub use morph_store::{Installed, Record, Store, StoreError, UNSIGNED};

/// What [`install`] allows beyond a signed, trusted, newer package.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InstallOptions {
    /// Install a package without a signature. The denylist still applies, and a package
    /// that *is* signed is still verified (a bad signature is never waved through).
    pub allow_unsigned: bool,
    /// Install a version lower than the active one.
    pub allow_downgrade: bool,
}

/// What [`install`] did.
#[derive(Debug, Clone)]
pub struct InstallReport {
    /// The stored record of the new active version.
    pub record: Record,
    /// The version that was active before, if any.
    pub previous: Option<String>,
    /// Whether the package was installed without a signature.
    pub unsigned: bool,
}

/// Why [`install`] refused or failed. Nothing was recorded in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// The bytes are not a valid package.
    #[error(transparent)]
    Package(#[from] PackageError),
    /// The signature does not verify against the trust store, a part was changed, or a
    /// digest is denied.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The package is unsigned and unsigned packages are not allowed.
    #[error("`{package}` is not signed and this host does not install unsigned packages")]
    Unsigned {
        /// `id@version`.
        package: String,
    },
    /// The package is older than the active version.
    #[error(
        "`{id}` {offered} is older than the installed and active {installed}; a downgrade must be allowed explicitly"
    )]
    Downgrade {
        /// The extension id.
        id: String,
        /// The active version.
        installed: String,
        /// The package's version.
        offered: String,
    },
    /// The module describes itself differently from its manifest.
    #[error(
        "the manifest says {field} `{manifest}` but the module describes itself as `{module}`; the package is inconsistent, ask its publisher to rebuild it"
    )]
    Mismatch {
        /// `id` or `version`.
        field: &'static str,
        /// The manifest's value.
        manifest: String,
        /// The module's `describe()` value.
        module: String,
    },
    /// Compiling or describing the module failed.
    #[error(transparent)]
    Host(#[from] crate::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Installs a package file's bytes into `store` and makes it the active version.
///
/// Steps, in order:
/// 1. unpack (sizes bounded, every part checked against its digest in the index);
/// 2. verify the signature against `trust` ([`morph_signing::verify`]: denylist, key,
///    signature, statement, then the manifest, module and asset digests). An unsigned
///    package is refused unless [`InstallOptions::allow_unsigned`], and even then its
///    digests are checked against the denylist and a warning is logged;
/// 3. refuse a version lower than the active one (see [`compare_versions`]) unless
///    [`InstallOptions::allow_downgrade`];
/// 4. compile and describe the module with `host`; its id and version must equal the
///    manifest's;
/// 5. record it in the store (blob, then one transaction) as the active version.
///
/// # Errors
/// [`InstallError::Package`] (1), [`InstallError::Verify`] or [`InstallError::Unsigned`]
/// (2), [`InstallError::Downgrade`] (3), [`InstallError::Host`] or
/// [`InstallError::Mismatch`] (4), [`InstallError::Store`] (3 and 5). The store is
/// unchanged on every error.
pub async fn install(
    host: &Host,
    store: &Store,
    trust: &TrustStore,
    package_bytes: &[u8],
    options: InstallOptions,
) -> Result<InstallReport, InstallError> {
    let checked = check(store, trust, package_bytes, options)?;
    let prepared = host
        .prepare(&checked.package.fields().id, checked.package.module())
        .await?;
    finish(store, checked, &prepared, package_bytes)
}

/// [`install`] for programs without an async runtime.
///
/// # Errors
/// As [`install`].
pub fn install_blocking(
    host: &Host,
    store: &Store,
    trust: &TrustStore,
    package_bytes: &[u8],
    options: InstallOptions,
) -> Result<InstallReport, InstallError> {
    let checked = check(store, trust, package_bytes, options)?;
    let prepared = host.prepare_blocking(&checked.package.fields().id, checked.package.module())?;
    finish(store, checked, &prepared, package_bytes)
}

struct Checked {
    package: Package,
    publisher: String,
    key_id: String,
    previous: Option<String>,
}

/// Steps 1 to 3: nothing here parses wasm.
fn check(
    store: &Store,
    trust: &TrustStore,
    package_bytes: &[u8],
    options: InstallOptions,
) -> Result<Checked, InstallError> {
    let package = Package::unpack(package_bytes, &morph_package::Limits::default())?;
    let (package, publisher, key_id) = if package.signature().is_none() {
        if !options.allow_unsigned {
            return Err(InstallError::Unsigned {
                package: package.display_name(),
            });
        }
        refuse_denied(&package, trust)?;
        tracing::warn!(
            package = %package.display_name(),
            module = %package.module_digest(),
            "installing an UNSIGNED package: nobody vouches for this code"
        );
        let publisher = package.fields().publisher.clone().unwrap_or_default();
        (package, publisher, UNSIGNED.to_owned())
    } else {
        let verified = morph_signing::verify(package, trust)?;
        let publisher = verified.publisher().to_owned();
        let key_id = verified.key_id().to_string();
        (verified.into_package(), publisher, key_id)
    };

    let fields = package.fields();
    let previous = store
        .get(&fields.id)?
        .and_then(|entry| entry.active_record().map(|r| r.version.clone()));
    if let Some(installed) = &previous
        && !options.allow_downgrade
        && compare_versions(&fields.version, installed) == Ordering::Less
    {
        return Err(InstallError::Downgrade {
            id: fields.id.clone(),
            installed: installed.clone(),
            offered: fields.version.clone(),
        });
    }
    Ok(Checked {
        package,
        publisher,
        key_id,
        previous,
    })
}

/// Steps 4 and 5.
fn finish(
    store: &Store,
    checked: Checked,
    prepared: &Prepared,
    package_bytes: &[u8],
) -> Result<InstallReport, InstallError> {
    let fields = checked.package.fields();
    let info = prepared.info();
    for (field, manifest, module) in [
        ("id", &fields.id, &info.id),
        ("version", &fields.version, &info.version),
    ] {
        if manifest != module {
            return Err(InstallError::Mismatch {
                field,
                manifest: manifest.clone(),
                module: module.clone(),
            });
        }
    }
    let record = Record {
        id: fields.id.clone(),
        version: fields.version.clone(),
        package_digest: Digest::of(package_bytes),
        manifest_digest: checked.package.manifest_digest(),
        module_digest: checked.package.module_digest(),
        publisher: checked.publisher,
        key_id: checked.key_id.clone(),
        installed_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    store.install(record.clone(), package_bytes)?;
    Ok(InstallReport {
        record,
        previous: checked.previous,
        unsigned: checked.key_id == UNSIGNED,
    })
}

/// The denylist check [`morph_signing::verify`] does, for a package that has no
/// signature to verify.
fn refuse_denied(package: &Package, trust: &TrustStore) -> Result<(), VerifyError> {
    let parts = [
        (SignedPart::Manifest, package.manifest_digest()),
        (SignedPart::Module, package.module_digest()),
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
                package: package.display_name(),
                part,
                digest,
                reason: reason.to_owned(),
            });
        }
    }
    Ok(())
}

/// Orders two versions semver-ishly: split on `.` (ignoring anything after a `-` or
/// `+`), compare the parts numerically when both are numbers and as strings otherwise,
/// a missing part counting as `0`; equal cores then compare as whole strings, so the
/// order is total.
#[must_use]
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let core = |v: &str| v.split(['-', '+']).next().unwrap_or(v).to_owned();
    let (ca, cb) = (core(a), core(b));
    let (pa, pb): (Vec<&str>, Vec<&str>) = (ca.split('.').collect(), cb.split('.').collect());
    for i in 0..pa.len().max(pb.len()) {
        let x = pa.get(i).copied().unwrap_or("0");
        let y = pb.get(i).copied().unwrap_or("0");
        let order = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    a.cmp(b)
}

#[cfg(test)]
mod tests {
    use super::compare_versions;
    use std::cmp::Ordering::{Equal, Greater, Less};

    #[test]
    fn versions_compare_numerically_part_by_part() {
        assert_eq!(compare_versions("1.10.0", "1.9.0"), Greater);
        assert_eq!(compare_versions("1.0.0", "1.0.1"), Less);
        assert_eq!(compare_versions("2.0", "2.0.0"), Less); // equal cores: as strings
        assert_eq!(compare_versions("1.2.3", "1.2.3"), Equal);
        assert_eq!(compare_versions("0.9.0", "0.10.0-rc1"), Less);
        assert_eq!(compare_versions("1.a", "1.b"), Less);
    }
}
