//! The `Runtime` trait every backend implements, and what it hands out.

use crate::error::Result;
use crate::host::HostHandler;
use crate::limits::Limits;
use crate::module::ModuleInfo;
use morph_abi::ExtensionInfo;
use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

/// A wasm engine behind Morph's contract. Implemented once per backend crate; everything
/// above (morph-host, the CLI, the conformance suite) sees only this trait.
///
/// Runtimes are `Send + Sync` and meant to be shared: one per backend per process.
pub trait Runtime: Send + Sync {
    /// The backend's name, e.g. `wasmtime` or `wasmtime-core`.
    fn name(&self) -> &'static str;

    /// Validates `wasm` with [`validate`](crate::validate) under `limits`, then compiles it.
    ///
    /// # Errors
    /// The validation errors, or `Engine` when the engine fails to compile a valid module.
    fn compile(&self, wasm: &[u8], limits: &Limits) -> Result<Arc<dyn CompiledModule>>;

    /// Serializes compiled code for a cache.
    ///
    /// # Errors
    /// `Engine` when the module is not this backend's or the engine cannot serialize.
    fn serialize(&self, module: &dyn CompiledModule) -> Result<Vec<u8>>;

    /// Loads compiled code written by [`Runtime::serialize`].
    ///
    /// # Safety
    /// `bytes` must come from `serialize` of this backend in this build of Morph and must
    /// not have been changed since: engines map it as machine code. Caches must check an
    /// integrity digest before calling this.
    ///
    /// # Errors
    /// `Engine` when the bytes are not a compiled module of this engine version.
    unsafe fn deserialize(&self, bytes: &[u8]) -> Result<Arc<dyn CompiledModule>>;

    /// Instantiates a compiled module: runs its start function under `config.limits`.
    ///
    /// # Errors
    /// A trap or limit error from the start function, or `Engine`.
    fn instantiate(
        &self,
        module: &dyn CompiledModule,
        config: InstanceConfig,
    ) -> Result<Box<dyn Instance>>;
}

/// Compiled code of one module for one backend. Cheap to share across threads.
pub trait CompiledModule: Send + Sync + Any {
    /// What validation learned about the module.
    fn info(&self) -> &ModuleInfo;

    /// Upcast for backends to recover their own type.
    fn as_any(&self) -> &dyn Any;
}

/// How to instantiate: limits, the host-call handler, and a label for logs.
#[derive(Clone)]
pub struct InstanceConfig {
    /// Resource limits.
    pub limits: Limits,
    /// The host-call handler.
    pub handler: Arc<dyn HostHandler>,
    /// The extension's label until `describe` names it (usually the file name).
    pub label: String,
}

/// A live instance: one store, one guest. `Send` but not `Sync`: one call at a time.
pub trait Instance: Send {
    /// Calls the guest's `describe()`.
    ///
    /// # Errors
    /// A trap, a limit, or `BadGuestData` when the guest's answer is malformed.
    fn describe(&mut self) -> Result<ExtensionInfo>;

    /// Calls the guest's `execute(action, input)` and returns its output text.
    ///
    /// # Errors
    /// `Guest` (or `PermissionDenied`) when the action returned an error; a trap, a limit,
    /// or `BadGuestData` otherwise.
    fn execute(&mut self, action: &str, input: &str) -> Result<String>;

    /// What the last call used.
    fn usage(&self) -> Usage;
}

/// What one guest call used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Fuel consumed (0 when unmetered).
    pub fuel: u64,
    /// Host calls made.
    pub host_calls: u64,
    /// Linear memory size at the end of the call, in bytes.
    pub memory_bytes: u64,
    /// Wall-clock time.
    pub elapsed: Duration,
}
