//! The `Runtime` trait every backend implements, and what it hands out.

use crate::error::Result;
use crate::host::{BoxFuture, DenyAll, HostHandler, NoCapabilities, Policy};
use crate::limits::Limits;
use crate::module::ModuleInfo;
use morph_abi::{ExtensionInfo, SideEffect};
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

    /// Instantiates a compiled module: runs its start function under `config.limits`
    /// (with no host calls allowed, as in the component model).
    ///
    /// # Errors
    /// A trap or limit error from the start function, or `Engine`.
    fn instantiate<'a>(
        &'a self,
        module: &'a dyn CompiledModule,
        config: InstanceConfig,
    ) -> BoxFuture<'a, Result<Box<dyn Instance>>>;
}

/// Compiled code of one module for one backend. Cheap to share across threads.
pub trait CompiledModule: Send + Sync + Any {
    /// What validation learned about the module.
    fn info(&self) -> &ModuleInfo;

    /// Upcast for backends to recover their own type.
    fn as_any(&self) -> &dyn Any;
}

/// How to instantiate: limits, the host-call handler and policy, and what is known of
/// the extension.
#[derive(Clone)]
pub struct InstanceConfig {
    /// Resource limits.
    pub limits: Limits,
    /// Performs the host calls the policy allows.
    pub handler: Arc<dyn HostHandler>,
    /// Decides each permission a host call needs.
    pub policy: Arc<dyn Policy>,
    /// The extension's id, or a label until `describe` names it (the file name, say).
    pub label: Arc<str>,
    /// The events the extension declared, when its description is known (an instance of
    /// a prepared extension); `describe` sets them otherwise. Undeclared events are
    /// refused.
    pub declared_events: Option<Arc<[String]>>,
    /// Every call on this instance is driven by a thread that blocks until the call
    /// completes (a blocking facade such as morph-host's `Extension`): no call can be
    /// cancelled half-way and no executor is kept waiting. With a handler that
    /// [answers at once](HostHandler::answers_at_once), a backend may then run the guest
    /// inline, without the machinery that lets an async caller suspend and cancel it (see
    /// [`InstanceConfig::runs_inline`]). Limits hold either way.
    pub synchronous: bool,
}

impl InstanceConfig {
    /// A configuration that grants nothing: no handler ([`NoCapabilities`]), every
    /// permission denied ([`DenyAll`]).
    pub fn new(label: impl Into<Arc<str>>, limits: Limits) -> Self {
        InstanceConfig {
            limits,
            handler: Arc::new(NoCapabilities),
            policy: Arc::new(DenyAll),
            label: label.into(),
            declared_events: None,
            synchronous: false,
        }
    }

    /// Whether calls may run inline: [`synchronous`](InstanceConfig::synchronous) and a
    /// handler that [answers at once](HostHandler::answers_at_once).
    pub fn runs_inline(&self) -> bool {
        self.synchronous && self.handler.answers_at_once()
    }

    /// Driven synchronously or not; see [`InstanceConfig::synchronous`].
    #[must_use]
    pub fn synchronous(mut self, synchronous: bool) -> Self {
        self.synchronous = synchronous;
        self
    }

    /// With this handler.
    #[must_use]
    pub fn handler(mut self, handler: Arc<dyn HostHandler>) -> Self {
        self.handler = handler;
        self
    }

    /// With this policy.
    #[must_use]
    pub fn policy(mut self, policy: Arc<dyn Policy>) -> Self {
        self.policy = policy;
        self
    }

    /// Knowing what the extension declared.
    #[must_use]
    pub fn described(mut self, info: &ExtensionInfo) -> Self {
        self.label = Arc::from(info.id.as_str());
        self.declared_events = Some(info.events.iter().map(|e| e.name.clone()).collect());
        self
    }
}

/// One `execute` call: the action, its input and its declared side-effect class.
#[derive(Debug, Clone, Copy)]
pub struct ExecuteCall<'a> {
    /// The action's name.
    pub action: &'a str,
    /// The input, as JSON text.
    pub input: &'a str,
    /// The action's side-effect class, as the extension declared it.
    pub side_effect: SideEffect,
}

/// A live instance: one store, one guest. `Send` but not `Sync`: one call at a time.
///
/// Dropping a call's future cancels it: the guest is stopped within one deadline tick and
/// the instance refuses further calls ([`ErrorKind::Cancelled`](crate::ErrorKind)).
pub trait Instance: Send {
    /// Calls the guest's `describe()`.
    ///
    /// # Errors
    /// A trap, a limit, or `BadGuestData` when the guest's answer is malformed.
    fn describe(&mut self) -> BoxFuture<'_, Result<ExtensionInfo>>;

    /// Calls the guest's `execute(action, input)` and returns its output text.
    ///
    /// # Errors
    /// `Guest` (or `PermissionDenied`) when the action returned an error; a trap, a limit,
    /// or `BadGuestData` otherwise.
    fn execute<'a>(&'a mut self, call: ExecuteCall<'a>) -> BoxFuture<'a, Result<String>>;

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
    /// Bytes that crossed the boundary (both ways).
    pub transferred_bytes: u64,
    /// Wall-clock time.
    pub elapsed: Duration,
}
