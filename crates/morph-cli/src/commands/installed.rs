//! What `install`, `list`, `inspect`, `uninstall` and `run <id>` share: where the local
//! store is (`--store DIR`, else `$MORPH_HOME/store`), how its errors and the
//! installer's become exit codes, and loading an installed extension's module.

use crate::exit::{Exit, Failure};
use crate::trust_store::TrustStoreArg;
use clap::Args;
use morph_host::{InstallError, Record, Store, StoreError};
use morph_package::{Digest, Limits, Package};
use std::ffi::OsString;
use std::path::PathBuf;

/// The help text of `--store`.
pub const HELP: &str = "The local store of installed extensions [default: $MORPH_HOME/store; MORPH_HOME defaults to $XDG_DATA_HOME/morph, else ~/.local/share/morph]. Created on first use";

/// How long a command waits for another process to close the store.
const BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// `--store DIR`.
#[derive(Args, Debug)]
pub struct StoreArg {
    #[arg(long, value_name = "DIR", help = HELP)]
    store: Option<PathBuf>,
}

/// `$MORPH_HOME/store` ([`crate::trust_store::morph_home`]).
fn default_dir(var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    crate::trust_store::morph_home(var).map(|home| home.join("store"))
}

impl StoreArg {
    /// Whether the store's folder is known: the flag, or an environment to find the
    /// default in.
    pub fn is_located(&self) -> bool {
        self.store.is_some() || default_dir(|name| std::env::var_os(name)).is_some()
    }

    /// Opens the store (created when missing).
    ///
    /// # Errors
    /// Exit 2 when there is no flag and no environment to find the default in; what
    /// opening fails with (see [`store_failure`]).
    pub fn open(&self) -> Result<Store, Failure> {
        let dir = match &self.store {
            Some(dir) => dir.clone(),
            None => default_dir(|name| std::env::var_os(name)).ok_or_else(|| {
                Failure::new(
                    Exit::Usage,
                    "cannot tell where the store is (none of MORPH_HOME, XDG_DATA_HOME or HOME is set); set MORPH_HOME or pass `--store DIR`",
                )
            })?,
        };
        // redb lets one process at a time open the database, and every command holds it
        // only for a moment: wait a little for another `morph` to finish.
        let deadline = std::time::Instant::now() + BUSY_WAIT;
        loop {
            match Store::open(&dir) {
                Err(StoreError::Busy { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                result => return result.map_err(Failure::from),
            }
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        let exit = match &e {
            StoreError::NotInstalled { .. } | StoreError::NoSuchVersion { .. } => {
                Exit::NotInstalled
            }
            StoreError::Io { .. } => Exit::File,
            StoreError::Busy { .. }
            | StoreError::Database { .. }
            | StoreError::CorruptRecord { .. }
            | StoreError::DigestMismatch { .. }
            | StoreError::BlobCorrupt { .. }
            | StoreError::InvalidRecord { .. } => Exit::InvalidPackage,
            StoreError::Aborted(_) => Exit::Internal,
            // #[non_exhaustive]: see `Exit::for_package`.
            _ => Exit::Internal,
        };
        let failure = Failure::new(exit, e.to_string());
        match e {
            StoreError::NotInstalled { .. } => failure
                .hint("`morph list` shows what is installed; `morph install <package>` adds it"),
            _ => failure,
        }
    }
}

impl From<InstallError> for Failure {
    fn from(e: InstallError) -> Self {
        match e {
            InstallError::Package(e) => e.into(),
            InstallError::Verify(e) => e.into(),
            InstallError::Host(e) => e.into(),
            InstallError::Store(e) => e.into(),
            e @ InstallError::Unsigned { .. } => Failure::new(Exit::Untrusted, e.to_string())
                .hint("its author signs it with `morph sign <package> --key <file>`; to install it anyway, pass `--allow-unsigned`"),
            e @ InstallError::Downgrade { .. } => Failure::new(Exit::Untrusted, e.to_string())
                .hint("pass `--allow-downgrade` to install it anyway"),
            e @ InstallError::Mismatch { .. } => Failure::new(Exit::InvalidPackage, e.to_string()),
            // #[non_exhaustive]: see `Exit::for_package`.
            e => Failure::internal(e.to_string()),
        }
    }
}

/// Whether `text` could be an extension id rather than a path: no path separator, no
/// `.wasm` suffix, and the characters the manifest's ids use.
pub fn looks_like_id(text: &str) -> bool {
    !text.is_empty()
        && !text.ends_with(".wasm")
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The active version of `id` from the store, ready to run: its blob checked against
/// the record's digest (by the store), unpacked, and each part checked against the trust
/// store's denylist (a digest denied after install stops it from running).
///
/// # Errors
/// Exit 15 when `id` is not installed; 14 when the store or the stored package is
/// damaged; 12 when a part is denied.
pub fn load_active(
    id: &str,
    store: &Store,
    trust: &TrustStoreArg,
) -> Result<(Record, Package), Failure> {
    let (record, bytes) = store
        .active(id)?
        .ok_or_else(|| Failure::from(StoreError::NotInstalled { id: id.to_owned() }))?;
    let package = Package::unpack(&bytes, &Limits::default()).map_err(|e| {
        Failure::from(e).about(format!("the stored package of `{id}@{}`", record.version))
    })?;
    let (trust_store, _) = trust.load()?;
    let parts: [(&str, Digest); 3] = [
        ("package", record.package_digest),
        ("manifest", package.manifest_digest()),
        ("module", package.module_digest()),
    ];
    for (part, digest) in parts {
        if let Some(reason) = trust_store.denied_reason(&digest) {
            return Err(Failure::new(
                Exit::Untrusted,
                format!(
                    "`{id}@{}` is refused: its {part} ({digest}) is on the denylist ({reason}); it must not run",
                    record.version
                ),
            )
            .hint(format!("remove it with `morph uninstall {id}`")));
        }
    }
    if package.manifest_digest() != record.manifest_digest
        || package.module_digest() != record.module_digest
    {
        return Err(Failure::new(
            Exit::InvalidPackage,
            format!(
                "the stored package of `{id}@{}` does not match its record; install it again",
                record.version
            ),
        ));
    }
    Ok((record, package))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_paths_are_told_apart() {
        assert!(looks_like_id("hello"));
        assert!(looks_like_id("my-ext_2"));
        assert!(!looks_like_id("hello.wasm"));
        assert!(!looks_like_id("target/hello"));
        assert!(!looks_like_id(""));
    }

    #[test]
    fn the_default_store_is_under_morph_home() {
        let dir = default_dir(|n| (n == "MORPH_HOME").then(|| OsString::from("/m")));
        assert_eq!(dir, Some(PathBuf::from("/m/store")));
        assert_eq!(default_dir(|_| None), None);
    }
}
