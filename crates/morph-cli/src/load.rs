//! Loading an extension from the command line: the module file, `--backend` and the
//! limit flags, shared by every command that runs a guest.

use crate::backend::BackendArg;
use crate::exit::{Exit, Failure};
use crate::limits::LimitArgs;
use clap::Args;
use morph_host::{Backend, Host, Prepared};
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
    /// `morph_host::Host::prepare`). Grants no permission: the host denies every one.
    ///
    /// # Errors
    /// Exit 11 when the backend is not in this build, 3 when the file cannot be read,
    /// and what the library reports for the module.
    pub fn prepare(&self, module: &Path) -> Result<Prepared, Failure> {
        let host = Host::builder()
            .backend(Backend::from(self.backend))
            .limits(self.limits.limits())
            .build()?;
        let wasm = read_file(module, "module")?;
        let label = module
            .file_stem()
            .map_or_else(|| "extension".into(), |s| s.to_string_lossy().into_owned());
        Ok(host.prepare_blocking(&label, &wasm)?)
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
