//! The embeddable host: [`Host`] (built once, shared), [`Prepared`] extensions (compiled,
//! described, schemas compiled: once per module), and executions on fresh instances.

use crate::backend::Backend;
use crate::cache::CodeCache;
use morph_abi::{ExtensionInfo, SideEffect};
use morph_permissions::{ErrorKind as NameErrorKind, Name};
use morph_runtime::{
    CompiledModule, DenyAll, Error, ErrorKind, ExecuteCall, HostHandler, Instance, InstanceConfig,
    Limits, NoCapabilities, Policy, Result, Runtime, Usage,
};
use morph_schema::{Schema, TextViolation};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Builds a [`Host`]: the backend, default limits, the host-call handler and the
/// permission policy.
#[must_use]
pub struct HostBuilder {
    backend: Backend,
    limits: Limits,
    handler: Arc<dyn HostHandler>,
    policy: Arc<dyn Policy>,
    cache: Option<CodeCache>,
    max_concurrent: Option<usize>,
}

impl Default for HostBuilder {
    fn default() -> Self {
        HostBuilder {
            backend: Backend::Wasmtime,
            limits: Limits::default(),
            handler: Arc::new(NoCapabilities),
            policy: Arc::new(DenyAll),
            cache: None,
            max_concurrent: None,
        }
    }
}

impl HostBuilder {
    /// The backend that runs extensions (default: `wasmtime`).
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// The limits of every call, unless an execution overrides the per-call ones.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Performs the host calls the policy allows (default: none available).
    pub fn handler(mut self, handler: Arc<dyn HostHandler>) -> Self {
        self.handler = handler;
        self
    }

    /// Decides each permission (default: [`DenyAll`]).
    pub fn policy(mut self, policy: Arc<dyn Policy>) -> Self {
        self.policy = policy;
        self
    }

    /// Real host functions: `capabilities` performs the host calls and decides each
    /// permission by the effective grants of the extension making it (register each
    /// prepared extension with [`Capabilities::register`]); refusals go to its audit
    /// log. Sets both the handler and the policy.
    ///
    /// [`Capabilities::register`]: morph_capabilities::Capabilities::register
    pub fn capabilities(self, capabilities: morph_capabilities::Capabilities) -> Self {
        let policy = Arc::new(capabilities.clone());
        self.handler(Arc::new(capabilities)).policy(policy)
    }

    /// Keeps compiled code in `cache`, so that a module prepared before loads instead of
    /// compiling (see [`CodeCache`]).
    pub fn cache(mut self, cache: CodeCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// At most `n` (at least 1) executions of one prepared extension at once; further
    /// [`Prepared::execute`] calls wait for a slot (back-pressure, without holding a
    /// thread). Other extensions are not held up. Unbounded unless set.
    pub fn max_concurrent_executions(mut self, n: usize) -> Self {
        self.max_concurrent = Some(n.max(1));
        self
    }

    /// Builds the host.
    ///
    /// # Errors
    /// `BackendUnavailable` when this build lacks the backend; `Engine` when its engine
    /// cannot start.
    pub fn build(self) -> Result<Host> {
        Ok(Host {
            inner: Arc::new(HostInner {
                runtime: self.backend.runtime()?,
                backend: self.backend,
                limits: self.limits,
                handler: self.handler,
                policy: self.policy,
                cache: self.cache,
                max_concurrent: self.max_concurrent,
            }),
        })
    }
}

struct HostInner {
    backend: Backend,
    runtime: Arc<dyn Runtime>,
    limits: Limits,
    handler: Arc<dyn HostHandler>,
    policy: Arc<dyn Policy>,
    cache: Option<CodeCache>,
    max_concurrent: Option<usize>,
}

/// The host an app embeds: `Send + Sync`, cheap to clone. Prepare an extension once with
/// [`Host::prepare`], then run its actions as often and as concurrently as needed with
/// [`Prepared::execute`], each on a fresh instance.
///
/// The async API runs on tokio (the wasmer backends use its blocking pool); the
/// `_blocking` methods serve programs without a runtime of their own.
#[derive(Clone)]
pub struct Host {
    inner: Arc<HostInner>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("backend", &self.inner.backend)
            .finish_non_exhaustive()
    }
}

impl Host {
    /// A builder with the defaults: `wasmtime`, default limits, nothing granted.
    pub fn builder() -> HostBuilder {
        HostBuilder::default()
    }

    /// The backend this host runs extensions on.
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// The default limits.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Validates and compiles `wasm`, calls `describe()` once, and compiles every JSON
    /// Schema it declares. `label` names the extension in logs until `describe` has.
    ///
    /// # Errors
    /// A validation error of [`morph_runtime::validate`]; a trap or limit in the start
    /// function or `describe`; `InvalidOutput` when the description breaks the contract
    /// (an action or event name no grant can hold, a schema outside Morph's dialect, an
    /// action declared twice).
    pub async fn prepare(&self, label: &str, wasm: &[u8]) -> Result<Prepared> {
        let module = self.compile(wasm).await?;
        let config = self.config(label.into(), &self.inner.limits);
        let mut instance = self.inner.runtime.instantiate(&*module, config).await?;
        let info = instance.describe().await?;
        Prepared::new(self.clone(), module, info)
    }

    /// [`Host::prepare`] for callers without an async runtime.
    ///
    /// # Errors
    /// As [`Host::prepare`]; `Engine` when called from inside an async runtime.
    pub fn prepare_blocking(&self, label: &str, wasm: &[u8]) -> Result<Prepared> {
        block_on(self.prepare(label, wasm))
    }

    /// Compiles on tokio's blocking pool when a runtime drives this task (compiling takes
    /// milliseconds to seconds of CPU).
    async fn compile(&self, wasm: &[u8]) -> Result<Arc<dyn CompiledModule>> {
        let inner = self.inner.clone();
        let compile = move |wasm: &[u8]| match &inner.cache {
            Some(cache) => {
                cache.load_or_compile(inner.backend, &*inner.runtime, wasm, &inner.limits)
            }
            None => inner.runtime.compile(wasm, &inner.limits),
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                let wasm = wasm.to_vec();
                rt.spawn_blocking(move || compile(&wasm))
                    .await
                    .map_err(|e| Error::engine(format!("compiling failed: {e}")))?
            }
            Err(_) => compile(wasm),
        }
    }

    fn config(&self, label: Arc<str>, limits: &Limits) -> InstanceConfig {
        InstanceConfig::new(label, limits.clone())
            .handler(self.inner.handler.clone())
            .policy(self.inner.policy.clone())
    }
}

struct Schemas {
    input: Schema,
    output: Schema,
    side_effect: SideEffect,
}

/// A prepared extension: compiled code, its description and its compiled schemas, built
/// once per module. `Send + Sync`, cheap to clone; every [`Prepared::execute`] runs on a
/// fresh instance, so calls share no guest state and may run concurrently, unless the
/// extension opts in to reuse ([`Prepared::with_instance_reuse`]).
#[derive(Clone)]
pub struct Prepared {
    inner: Arc<PreparedInner>,
}

struct PreparedInner {
    host: Host,
    module: Arc<dyn CompiledModule>,
    info: ExtensionInfo,
    actions: Arc<HashMap<String, Schemas>>,
    /// Slots for executions at once, when the host bounds them.
    slots: Option<Arc<tokio::sync::Semaphore>>,
    /// Idle instances kept between calls, when the extension opted in.
    reuse: Option<Reuse>,
}

/// Instances kept between calls: at most `max_idle` of each kind (index 0: driven by an
/// async caller; 1: by a blocking one, which may run inline).
struct Reuse {
    max_idle: usize,
    idle: std::sync::Mutex<[Vec<Box<dyn Instance>>; 2]>,
}

impl Reuse {
    fn take(&self, synchronous: bool) -> Option<Box<dyn Instance>> {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        idle[usize::from(synchronous)].pop()
    }

    fn put(&self, synchronous: bool, instance: Box<dyn Instance>) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let pool = &mut idle[usize::from(synchronous)];
        if pool.len() < self.max_idle {
            pool.push(instance);
        }
    }
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("id", &self.inner.info.id)
            .field("version", &self.inner.info.version)
            .field("backend", &self.inner.host.backend())
            .finish_non_exhaustive()
    }
}

fn invalid_output(message: String) -> Error {
    Error::new(ErrorKind::InvalidOutput { message })
}

fn compile_schema(owner: &str, which: &str, text: &str) -> Result<Schema> {
    Schema::compile(text)
        .map_err(|e| invalid_output(format!("{owner} declares {which} schema that {e}")))
}

/// The most characters of a refused name an error quotes.
const MAX_SHOWN_NAME: usize = 64;

/// Refuses an action or event name that no grant could hold. Grants name actions and
/// events (`action:destructive:NAME`, `events:NAME`) in morph-permissions' [`Name`]
/// grammar; a name outside it could never be granted (an event would only be refused
/// when emitted), so the description is refused at once, the same on every backend.
///
/// # Errors
/// `InvalidOutput` naming the action or event, the rule its name breaks and what to do.
fn check_grant_name(what: &str, grant: &str, name: &str) -> Result<()> {
    let Err(e) = Name::parse(name) else {
        return Ok(());
    };
    let why = match e.kind() {
        NameErrorKind::Name { reason, .. } => (*reason).to_owned(),
        other => other.to_string(),
    };
    let shown: String = match name.char_indices().nth(MAX_SHOWN_NAME) {
        Some((end, _)) => format!("{}...", &name[..end]),
        None => name.to_owned(),
    };
    Err(invalid_output(format!(
        "{what} `{}` has a name no grant can hold (`{grant}`): a name {why}; rename the \
         {what} in the extension's `describe()` (and in its morph.toml)",
        shown.escape_debug()
    )))
}

/// Checks a description, once and the same for every backend, before any action runs:
/// every action and event has a name a grant can hold, every schema it declares passes
/// morph-schema's gate, and no action is declared twice.
///
/// Returns each action's compiled schemas and side-effect class.
///
/// # Errors
/// `InvalidOutput` naming what is wrong, checked in declaration order: each action (its
/// name, input schema, output schema, whether it was declared before), each event (its
/// name, payload schema), then the config schema.
fn check_description(info: &ExtensionInfo) -> Result<HashMap<String, Schemas>> {
    let mut actions = HashMap::new();
    for action in &info.actions {
        check_grant_name("action", "action:destructive:NAME", &action.name)?;
        let owner = format!("action `{}`", action.name.escape_debug());
        let s = Schemas {
            input: compile_schema(&owner, "an input", &action.input_schema)?,
            output: compile_schema(&owner, "an output", &action.output_schema)?,
            side_effect: action.side_effect,
        };
        if actions.insert(action.name.clone(), s).is_some() {
            return Err(invalid_output(format!(
                "action `{}` is declared twice",
                action.name.escape_debug()
            )));
        }
    }
    for event in &info.events {
        check_grant_name("event", "events:NAME", &event.name)?;
        let owner = format!("event `{}`", event.name.escape_debug());
        compile_schema(&owner, "a payload", &event.payload_schema)?;
    }
    if let Some(config) = &info.config_schema {
        compile_schema("the extension", "a config", config)?;
    }
    Ok(actions)
}

impl Prepared {
    fn new(host: Host, module: Arc<dyn CompiledModule>, info: ExtensionInfo) -> Result<Self> {
        let actions = check_description(&info)?;
        let slots = host
            .inner
            .max_concurrent
            .map(|n| Arc::new(tokio::sync::Semaphore::new(n)));
        Ok(Prepared {
            inner: Arc::new(PreparedInner {
                host,
                module,
                info,
                actions: Arc::new(actions),
                slots,
                reuse: None,
            }),
        })
    }

    /// The same extension, keeping up to `max_idle` instances between calls instead of
    /// starting each [`Prepared::execute`] on a fresh one (0: no reuse). For an
    /// extension whose manifest opts in (`[runtime] reuse-instances = true`): its guest
    /// state (globals, memory, a cache it keeps) then carries from one call to a later
    /// one, which also saves the instantiation. Calls still run on one instance at a
    /// time each, so concurrent calls take different instances. An instance that
    /// trapped, hit a limit or was cancelled is dropped, never reused; a call with its
    /// own limits ([`ExecuteOptions`] not default) runs on a fresh instance.
    #[must_use]
    pub fn with_instance_reuse(&self, max_idle: usize) -> Prepared {
        let inner = &self.inner;
        Prepared {
            inner: Arc::new(PreparedInner {
                host: inner.host.clone(),
                module: Arc::clone(&inner.module),
                info: inner.info.clone(),
                actions: Arc::clone(&inner.actions),
                slots: inner.slots.clone(),
                reuse: (max_idle > 0).then(|| Reuse {
                    max_idle,
                    idle: std::sync::Mutex::new([Vec::new(), Vec::new()]),
                }),
            }),
        }
    }

    /// Whether calls reuse instances ([`Prepared::with_instance_reuse`]).
    pub fn reuses_instances(&self) -> bool {
        self.inner.reuse.is_some()
    }

    /// What the extension said of itself.
    pub fn info(&self) -> &ExtensionInfo {
        &self.inner.info
    }

    /// The backend it runs on.
    pub fn backend(&self) -> Backend {
        self.inner.host.backend()
    }

    /// The contract version the module was built for (its `morph:contract` section), one
    /// of [`SUPPORTED_CONTRACTS`](crate::SUPPORTED_CONTRACTS).
    pub fn contract(&self) -> &str {
        &self.inner.module.info().contract
    }

    /// Runs `action` with `input` (JSON text) on a fresh instance: checks that the action
    /// exists and that the input is JSON matching its schema, runs the guest under the
    /// limits (the host's, or `options`'), and checks that the output is JSON matching
    /// the output schema. Dropping the future cancels the call.
    ///
    /// # Errors
    /// `UnknownAction`, `InvalidInput`, `Guest`, `PermissionDenied`, a trap, a limit,
    /// `BadGuestData`, `InvalidOutput`, `Cancelled`.
    pub async fn execute(
        &self,
        action: &str,
        input: &str,
        options: &ExecuteOptions,
    ) -> Result<Output> {
        self.execute_driven(action, input, options, false).await
    }

    async fn execute_driven(
        &self,
        action: &str,
        input: &str,
        options: &ExecuteOptions,
        synchronous: bool,
    ) -> Result<Output> {
        // Held until the execution ends; the semaphore is never closed.
        let _slot = match &self.inner.slots {
            Some(slots) => Some(
                slots
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|e| Error::engine(format!("execution slots closed: {e}")))?,
            ),
            None => None,
        };
        let reuse = self.inner.reuse.as_ref().filter(|_| options.is_default());
        let mut session = match reuse.and_then(|r| r.take(synchronous)) {
            Some(instance) => Session {
                prepared: self.clone(),
                instance,
            },
            None => self.session(options, synchronous).await?,
        };
        let result = session.execute(action, input).await;
        let usage = session.usage();
        if let Some(reuse) = reuse
            && result.as_ref().err().is_none_or(|e| !e.poisons())
        {
            reuse.put(synchronous, session.instance);
        }
        Ok(Output {
            text: result?,
            usage,
        })
    }

    /// [`Prepared::execute`] for callers without an async runtime.
    ///
    /// # Errors
    /// As [`Prepared::execute`]; `Engine` when called from inside an async runtime.
    pub fn execute_blocking(
        &self,
        action: &str,
        input: &str,
        options: &ExecuteOptions,
    ) -> Result<Output> {
        block_on(self.execute_driven(action, input, options, true))
    }

    /// A live instance that serves several calls in turn, keeping its guest state
    /// between them (for extensions that want it; [`Prepared::execute`] starts afresh).
    ///
    /// # Errors
    /// A trap or limit in the start function, or `Engine`.
    pub async fn instantiate(&self) -> Result<Session> {
        self.instantiate_with(&ExecuteOptions::default()).await
    }

    /// [`Prepared::instantiate`] with per-call settings.
    ///
    /// # Errors
    /// A trap or limit in the start function, or `Engine`.
    pub async fn instantiate_with(&self, options: &ExecuteOptions) -> Result<Session> {
        self.session(options, false).await
    }

    /// A new instance; `synchronous` when every call on it will be driven by a blocking
    /// caller (see `InstanceConfig::synchronous`).
    pub(crate) async fn session(
        &self,
        options: &ExecuteOptions,
        synchronous: bool,
    ) -> Result<Session> {
        let host = &self.inner.host;
        let limits = options.apply(host.limits());
        let config = host
            .config(Arc::from(self.inner.info.id.as_str()), &limits)
            .described(&self.inner.info)
            .synchronous(synchronous);
        let instance = host
            .inner
            .runtime
            .instantiate(&*self.inner.module, config)
            .await?;
        Ok(Session {
            prepared: self.clone(),
            instance,
        })
    }
}

/// Per-call settings of [`Prepared::execute`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ExecuteOptions {
    /// Per-call limits instead of the host's. The limits compiled into the code
    /// (`max_memory_bytes`, `max_module_bytes`, `metering`, and `fuel` under
    /// deterministic metering) stay the host's.
    pub limits: Option<Limits>,
    /// Wall-clock deadline, instead of the host's (or `limits`').
    pub timeout: Option<Duration>,
    /// Native CPU budget, instead of the host's (or `limits`').
    pub fuel: Option<Option<u64>>,
}

impl ExecuteOptions {
    /// With this deadline.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// With these per-call limits.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// No per-call setting: the host's limits apply.
    fn is_default(&self) -> bool {
        self.limits.is_none() && self.timeout.is_none() && self.fuel.is_none()
    }

    fn apply(&self, host: &Limits) -> Limits {
        let mut l = match &self.limits {
            Some(call) => Limits {
                max_memory_bytes: host.max_memory_bytes,
                max_module_bytes: host.max_module_bytes,
                metering: host.metering,
                fuel: match host.metering {
                    morph_runtime::Metering::Deterministic => host.fuel,
                    morph_runtime::Metering::Native => call.fuel,
                },
                ..call.clone()
            },
            None => host.clone(),
        };
        if let Some(t) = self.timeout {
            l.timeout = t;
        }
        if let Some(f) = self.fuel
            && l.metering == morph_runtime::Metering::Native
        {
            l.fuel = f;
        }
        l
    }
}

/// An action's output and what producing it used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The output, JSON text as the extension wrote it.
    pub text: String,
    /// What the call used.
    pub usage: Usage,
}

/// One live instance of a prepared extension: calls run in turn on the same guest.
/// An instance that trapped, hit a limit or was cancelled refuses further calls.
pub struct Session {
    prepared: Prepared,
    instance: Box<dyn Instance>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("extension", &self.prepared)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// The prepared extension this instance runs.
    pub fn prepared(&self) -> &Prepared {
        &self.prepared
    }

    /// What the last call used.
    pub fn usage(&self) -> Usage {
        self.instance.usage()
    }

    /// Runs `action` with `input` on this instance, with the checks of
    /// [`Prepared::execute`].
    ///
    /// # Errors
    /// As [`Prepared::execute`], and `Poisoned` after a trap or limit.
    pub async fn execute(&mut self, action: &str, input: &str) -> Result<String> {
        let inner = &self.prepared.inner;
        let Some(schemas) = inner.actions.get(action) else {
            return Err(Error::new(ErrorKind::UnknownAction {
                action: action.to_owned(),
                available: inner.info.actions.iter().map(|a| a.name.clone()).collect(),
            }));
        };
        let invalid_input = |message: String| {
            Error::new(ErrorKind::InvalidInput {
                action: action.to_owned(),
                message,
            })
        };
        schemas.input.check_text(input).map_err(|e| {
            invalid_input(match e {
                TextViolation::NotJson(e) => format!("the input is not JSON: {e}"),
                TextViolation::Violation(why) => {
                    format!("the input does not match the action's schema: {why}")
                }
            })
        })?;
        let output = self
            .instance
            .execute(ExecuteCall {
                action,
                input,
                side_effect: schemas.side_effect,
            })
            .await?;
        schemas.output.check_text(&output).map_err(|e| {
            invalid_output(match e {
                TextViolation::NotJson(e) => {
                    format!("action `{action}` returned output that is not JSON: {e}")
                }
                TextViolation::Violation(why) => format!(
                    "action `{action}` returned output that does not match its schema: {why}"
                ),
            })
        })?;
        Ok(output)
    }

    /// [`Session::execute`] for callers without an async runtime.
    ///
    /// # Errors
    /// As [`Session::execute`]; `Engine` when called from inside an async runtime.
    pub fn execute_blocking(&mut self, action: &str, input: &str) -> Result<String> {
        block_on(self.execute(action, input))
    }
}

/// Runs `f` to completion on Morph's own runtime, for callers without one.
///
/// # Errors
/// `f`'s error; `Engine` when called from inside an async runtime (await the async
/// method there instead) or when the runtime cannot start.
pub(crate) fn block_on<T>(f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::engine(
            "a blocking Morph call was made from inside an async runtime; await the async method instead",
        ));
    }
    static RUNTIME: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> =
        OnceLock::new();
    let rt = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("morph-host")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    });
    match rt {
        Ok(rt) => morph_runtime::protocol::waiting_synchronously(|| {
            // Most calls never wait on anything (no host call, or a handler that answers at
            // once): poll once inside the runtime's context first, and hand the future to
            // the runtime's `block_on` only when it is pending.
            let mut f = std::pin::pin!(f);
            {
                let _context = rt.enter();
                let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                    return v;
                }
            }
            rt.block_on(f)
        }),
        Err(e) => Err(Error::engine(format!(
            "could not start Morph's async runtime: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use morph_abi::{ActionInfo, EventInfo};

    fn info(actions: &[&str], events: &[&str]) -> ExtensionInfo {
        ExtensionInfo {
            id: "x".to_owned(),
            name: "X".to_owned(),
            version: "1.0.0".to_owned(),
            description: String::new(),
            actions: actions.iter().map(|a| ActionInfo::new(*a, "")).collect(),
            events: events
                .iter()
                .map(|e| EventInfo::new(*e, "", serde_json::json!({})))
                .collect(),
            config_schema: None,
        }
    }

    fn refused(info: &ExtensionInfo) -> String {
        match check_description(info) {
            Ok(_) => panic!("accepted {info:?}"),
            Err(e) => match e.kind() {
                ErrorKind::InvalidOutput { message } => message.clone(),
                other => panic!("{other:?}"),
            },
        }
    }

    // Grants name actions and events; a name no grant can hold is refused at prepare,
    // naming it, the rule it breaks and what to do.
    #[test]
    fn action_and_event_names_must_be_names_a_grant_can_hold() {
        assert_eq!(
            refused(&info(&["run", "evil\u{1b}]0;x\u{7}"], &[])),
            "action `evil\\u{1b}]0;x\\u{7}` has a name no grant can hold \
             (`action:destructive:NAME`): a name may hold only ASCII letters, digits, `_`, \
             `-` and `.`; rename the action in the extension's `describe()` (and in its \
             morph.toml)"
        );
        assert_eq!(
            refused(&info(&["run"], &["issue opened"])),
            "event `issue opened` has a name no grant can hold (`events:NAME`): a name may \
             hold only ASCII letters, digits, `_`, `-` and `.`; rename the event in the \
             extension's `describe()` (and in its morph.toml)"
        );
        for (name, rule) in [
            ("", "is empty"),
            ("-x", "must start with a letter or a digit"),
            ("a:b", "may hold only"),
            ("caf\u{e9}", "may hold only"),
        ] {
            let message = refused(&info(&[], &[name]));
            assert!(message.contains(rule), "{name:?}: {message}");
        }
        let long = "a".repeat(100);
        let message = refused(&info(&[&long], &[]));
        assert!(message.contains("is longer than 64 bytes"), "{message}");
        assert!(
            message.contains(&format!("`{}...`", "a".repeat(MAX_SHOWN_NAME))),
            "{message}"
        );

        let good = info(
            &["greet", "create-issue", "a.b_c", "9lives", &"a".repeat(64)],
            &["issue-opened", "noted"],
        );
        assert_eq!(check_description(&good).map(|a| a.len()).ok(), Some(5));
    }

    // The name is checked before anything else the action declares.
    #[test]
    fn a_bad_name_is_reported_before_a_bad_schema() {
        let mut bad = info(&["a b"], &[]);
        if let Some(action) = bad.actions.first_mut() {
            action.input_schema = "{".to_owned();
        }
        assert!(refused(&bad).starts_with("action `a b` has a name no grant can hold"));
        let mut twice = info(&["run", "run"], &[]);
        twice.config_schema = Some("{".to_owned());
        assert_eq!(refused(&twice), "action `run` is declared twice");
    }
}
