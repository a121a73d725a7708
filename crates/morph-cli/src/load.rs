//! Loading from the command line: an extension with `--backend` and the limit flags
//! (shared by every command that runs a guest), and the files of the trust commands
//! (packages and key files), each failure naming the file.

use crate::backend::BackendArg;
use crate::exit::{Exit, Failure};
use crate::limits::LimitArgs;
use clap::Args;
use morph_host::{Backend, Capabilities, Host, Prepared};
use morph_package::{Limits, Package, PackageError};
use morph_signing::{PrivateKey, PublicKey, SigningError};
use std::path::Path;

/// `--backend` and the limits.
#[derive(Args, Debug)]
pub struct LoadArgs {
    /// The backend to run on (`morph backends` lists what this build includes).
    #[arg(long, value_enum, default_value_t = BackendArg::Wasmtime)]
    backend: BackendArg,
    #[command(flatten)]
    limits: LimitArgs,
}

impl LoadArgs {
    /// Reads, validates, compiles and describes `module` (see
    /// `morph_host::Host::prepare`), on a host that grants nothing.
    ///
    /// # Errors
    /// Exit 11 when the backend is not in this build, 3 when the file cannot be read,
    /// and what the library reports for the module.
    pub fn prepare(&self, module: &Path) -> Result<Prepared, Failure> {
        let wasm = read_file(module, "module")?;
        self.prepare_wasm(&Self::label(module), &wasm, None)
    }

    /// The label of `module` until `describe` names it: its file name without the
    /// extension.
    pub fn label(module: &Path) -> String {
        module
            .file_stem()
            .map_or_else(|| "extension".into(), |s| s.to_string_lossy().into_owned())
    }

    /// [`LoadArgs::prepare`] for a module already in memory (an installed extension's),
    /// with real host functions when `capabilities` are given (which then decide each
    /// permission).
    ///
    /// # Errors
    /// Exit 11 when the backend is not in this build; what the library reports.
    pub fn prepare_wasm(
        &self,
        label: &str,
        wasm: &[u8],
        capabilities: Option<Capabilities>,
    ) -> Result<Prepared, Failure> {
        let mut host = Host::builder()
            .backend(Backend::from(self.backend))
            .limits(self.limits.limits());
        if let Some(cache) = crate::commands::cache::open() {
            host = host.cache(cache);
        }
        if let Some(capabilities) = capabilities {
            host = host.capabilities(capabilities);
        }
        let host = host.build()?;
        Ok(host.prepare_blocking(label, wasm)?)
    }
}

/// The bytes of `path`; `what` names it in the error.
///
/// # Errors
/// Exit 3 with the path and the OS's reason.
pub fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| {
        Failure::new(
            Exit::File,
            format!("cannot read {what} `{}`: {e}", path.display()),
        )
    })
}

/// A package file, checked as `Package::read_file` checks it (default limits).
///
/// # Errors
/// Exit 3 when it cannot be read; 12 when a part does not match its digest (changed after
/// packing); 14 when it is not a valid package.
pub fn read_package(path: &Path) -> Result<Package, Failure> {
    Package::read_file(path, &Limits::default()).map_err(|e| match e {
        PackageError::Io { source, .. } => Failure::new(
            Exit::File,
            format!("cannot read package `{}`: {source}", path.display()),
        ),
        other => Failure::from(other).about(format!("`{}`", path.display())),
    })
}

/// Writes `package` to `path` (atomically: a reader sees the old file or the new one).
///
/// # Errors
/// Exit 3 when it cannot be written; 14 when the package is over the default limits.
pub fn write_package(package: &Package, path: &Path) -> Result<(), Failure> {
    package
        .write_file(path, &Limits::default())
        .map_err(|e| match e {
            PackageError::Io { source, .. } => Failure::new(
                Exit::File,
                format!("cannot write package `{}`: {source}", path.display()),
            ),
            other => Failure::from(other),
        })
}

/// A private key file (PKCS#8 PEM).
///
/// # Errors
/// Exit 3 when it cannot be read; 14 when it is not a private key of a supported kind (a
/// public key given by mistake is named as such).
pub fn read_private_key(path: &Path) -> Result<PrivateKey, Failure> {
    PrivateKey::read_pem_file(path).map_err(|e| {
        let failure = key_failure(path, "private key", e);
        if PublicKey::read_pem_file(path).is_ok() {
            failure.hint("this is a public key: sign with the private one (`PREFIX.key` from `morph keygen --out PREFIX`)")
        } else {
            failure
        }
    })
}

/// A public key file (SPKI PEM).
///
/// # Errors
/// Exit 3 when it cannot be read; 14 when it is not a public key of a supported kind (a
/// private key given by mistake is named as such).
pub fn read_public_key(path: &Path) -> Result<PublicKey, Failure> {
    PublicKey::read_pem_file(path).map_err(|e| {
        let failure = key_failure(path, "public key", e);
        if PrivateKey::read_pem_file(path).is_ok() {
            failure.hint("this is a private key, which must stay secret: give the public one (`PREFIX.pub` from `morph keygen --out PREFIX`)")
        } else {
            failure
        }
    })
}

fn key_failure(path: &Path, what: &str, e: SigningError) -> Failure {
    match e {
        SigningError::Io { source, .. } => Failure::new(
            Exit::File,
            format!("cannot read {what} `{}`: {source}", path.display()),
        ),
        other => Failure::from(other).about(format!("`{}`", path.display())),
    }
}
