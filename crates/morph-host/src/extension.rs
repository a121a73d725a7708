//! A blocking convenience for one instance: what the CLI, tests and scripts use.

use crate::backend::Backend;
use crate::host::{ExecuteOptions, Host, Prepared, Session, block_on};
use morph_abi::ExtensionInfo;
use morph_runtime::{DenyAll, HostHandler, Limits, NoCapabilities, Policy, Result, Usage};
use std::sync::Arc;

/// Options for [`Extension::load`].
#[derive(Clone)]
pub struct LoadOptions {
    /// Which backend runs the module.
    pub backend: Backend,
    /// Resource limits.
    pub limits: Limits,
    /// Performs the host calls the policy allows; [`NoCapabilities`] by default.
    pub handler: Arc<dyn HostHandler>,
    /// Decides each permission; [`DenyAll`] by default.
    pub policy: Arc<dyn Policy>,
    /// A label for logs until `describe` names the extension (the file name, say).
    pub label: String,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            backend: Backend::Wasmtime,
            limits: Limits::default(),
            handler: Arc::new(NoCapabilities),
            policy: Arc::new(DenyAll),
            label: "extension".to_owned(),
        }
    }
}

/// One running instance of an extension, driven synchronously: a [`Host`], a
/// [`Prepared`] extension and a [`Session`] in one value. Calls take `&mut self`, one at
/// a time, and must not be made from inside an async runtime (use [`Host`] there).
pub struct Extension {
    session: Session,
}

impl std::fmt::Debug for Extension {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extension")
            .field("id", &self.info().id)
            .field("version", &self.info().version)
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

impl Extension {
    /// Validates, compiles and describes `wasm` on `options.backend` (see
    /// [`Host::prepare`]), then instantiates it.
    ///
    /// # Errors
    /// As [`Host::prepare`]; `Engine` when called from inside an async runtime.
    pub fn load(wasm: &[u8], options: LoadOptions) -> Result<Extension> {
        let host = Host::builder()
            .backend(options.backend)
            .limits(options.limits)
            .handler(options.handler)
            .policy(options.policy)
            .build()?;
        let prepared = host.prepare_blocking(&options.label, wasm)?;
        Self::from_prepared(&prepared)
    }

    /// A new instance of a prepared extension.
    ///
    /// # Errors
    /// A trap or limit in the start function; `Engine` when called from inside an async
    /// runtime.
    pub fn from_prepared(prepared: &Prepared) -> Result<Extension> {
        Ok(Extension {
            // Every call on it blocks this facade's caller: it may run inline.
            session: block_on(prepared.session(&ExecuteOptions::default(), true))?,
        })
    }

    /// What the extension said of itself.
    pub fn info(&self) -> &ExtensionInfo {
        self.session.prepared().info()
    }

    /// The backend it runs on.
    pub fn backend(&self) -> Backend {
        self.session.prepared().backend()
    }

    /// What the last call used.
    pub fn usage(&self) -> Usage {
        self.session.usage()
    }

    /// Runs `action` with `input` (JSON text); see [`Session::execute`].
    ///
    /// # Errors
    /// `UnknownAction`, `InvalidInput`, `Guest`, `PermissionDenied`, a trap, a limit,
    /// `BadGuestData`, `InvalidOutput`, `Poisoned`.
    pub fn run(&mut self, action: &str, input: &str) -> Result<String> {
        self.session.execute_blocking(action, input)
    }
}
