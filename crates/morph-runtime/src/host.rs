//! The host side of the boundary: the embedder's async [`HostHandler`], the [`Policy`]
//! that decides each [`Request`], and [`HostContext`], the one checkpoint every host
//! call of every backend goes through (phase, count, deadline, byte budget, permission,
//! decision, then the handler).

use crate::call::{HostCall, HostReply};
use crate::error::{Error, ErrorKind, Limit, Result, TrapKind};
use crate::limits::Limits;
use crate::runtime::Usage;
use morph_abi::{HostError, HostErrorKind, LogLevel, SideEffect};
use morph_permissions::{Decision, Denial, GrantSet, Request};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::call::{IMPORTS, find_import};

/// A boxed, `Send` future: what [`HostHandler`]s and [`Instance`](crate::Instance)s
/// return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Which guest call is running: what a host call happens inside of.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallKind {
    /// The module's start function, while instantiating. No host calls are allowed.
    Start,
    /// `describe()`: runs with no permissions, as the contract says.
    Describe,
    /// `execute(action, input)`.
    Execute {
        /// The action's name.
        action: Arc<str>,
        /// The action's declared side-effect class.
        side_effect: SideEffect,
    },
}

impl CallKind {
    /// The action's name, for `execute`.
    pub fn action(&self) -> Option<&str> {
        match self {
            CallKind::Execute { action, .. } => Some(action),
            _ => None,
        }
    }
}

/// Who is calling and from where: handed to the [`Policy`] and the [`HostHandler`] with
/// every host call. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// The extension's id (its label until `describe` has named it).
    pub extension: Arc<str>,
    /// The guest call the host call happens in.
    pub kind: CallKind,
}

/// What the embedder does for host calls that the [`Policy`] allowed. Async: a handler
/// may do real I/O, and the guest waits without holding a thread on the async backends
/// (see `docs/ARCHITECTURE.md` for how each backend suspends the guest).
///
/// `log` never reaches the handler: the checkpoint writes it to `tracing`, rate-limited.
/// Handlers must not panic; an answer of the wrong kind for the call reaches the guest as
/// an `internal` host error.
pub trait HostHandler: Send + Sync + 'static {
    /// Performs `call` for the extension in `cx`.
    ///
    /// # Errors
    /// The host error handed back to the guest (which may handle it).
    fn handle<'a>(
        &'a self,
        cx: &'a CallContext,
        call: HostCall,
    ) -> BoxFuture<'a, std::result::Result<HostReply, HostError>>;

    /// Whether every future [`handle`](HostHandler::handle) returns is ready when first
    /// polled: the handler never waits. A backend may then serve host calls without
    /// suspending the guest (see [`InstanceConfig::synchronous`](crate::InstanceConfig)).
    /// `false` unless a handler says otherwise; a handler that says `true` and then
    /// waits fails the guest call with an `Engine` error.
    fn answers_at_once(&self) -> bool {
        false
    }
}

/// A handler that needs no `async`: wrap it in [`Blocking`] to use it as a
/// [`HostHandler`]. It runs on the guest's task, so it must be quick.
pub trait SyncHostHandler: Send + Sync + 'static {
    /// Performs `call` for the extension in `cx`.
    ///
    /// # Errors
    /// The host error handed back to the guest.
    fn handle(&self, cx: &CallContext, call: HostCall)
    -> std::result::Result<HostReply, HostError>;
}

/// Adapts a [`SyncHostHandler`] to [`HostHandler`].
#[derive(Debug, Clone, Default)]
pub struct Blocking<H>(pub H);

impl<H: SyncHostHandler> HostHandler for Blocking<H> {
    fn handle<'a>(
        &'a self,
        cx: &'a CallContext,
        call: HostCall,
    ) -> BoxFuture<'a, std::result::Result<HostReply, HostError>> {
        let r = self.0.handle(cx, call);
        Box::pin(std::future::ready(r))
    }

    fn answers_at_once(&self) -> bool {
        true
    }
}

/// The handler of a host that provides no capability: every call it is asked to perform
/// fails with `unavailable`. With the default [`DenyAll`] policy it is never asked.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCapabilities;

impl SyncHostHandler for NoCapabilities {
    fn handle(
        &self,
        _cx: &CallContext,
        call: HostCall,
    ) -> std::result::Result<HostReply, HostError> {
        Err(HostError::new(
            HostErrorKind::Unavailable,
            format!("this host does not provide {}", call.func().name()),
        ))
    }
}

impl HostHandler for NoCapabilities {
    fn handle<'a>(
        &'a self,
        cx: &'a CallContext,
        call: HostCall,
    ) -> BoxFuture<'a, std::result::Result<HostReply, HostError>> {
        Box::pin(std::future::ready(SyncHostHandler::handle(self, cx, call)))
    }

    fn answers_at_once(&self) -> bool {
        true
    }
}

/// Decides whether an extension may do what a host call (or a destructive action)
/// requests. Effective permissions (requested by the manifest and granted by the person)
/// are the embedder's business; the checkpoint asks before every call, and a refusal
/// carries the [`Denial`] (what was refused, what is granted, what would allow it).
pub trait Policy: Send + Sync + 'static {
    /// Whether the extension in `cx` may do `request`.
    fn decide(&self, cx: &CallContext, request: &Request) -> Decision;
}

/// The default policy: deny everything (log needs no permission).
#[derive(Debug, Clone, Copy, Default)]
pub struct DenyAll;

impl Policy for DenyAll {
    fn decide(&self, _: &CallContext, request: &Request) -> Decision {
        GrantSet::new().allows(request)
    }
}

/// A fixed set of grants, for whichever extension runs with it.
#[derive(Debug, Clone, Default)]
pub struct Grants(GrantSet);

impl Grants {
    /// Grants exactly `grants`.
    pub fn new(grants: impl IntoIterator<Item = morph_permissions::Grant>) -> Self {
        Grants(grants.into_iter().collect())
    }

    /// Grants written as text, e.g. `["clock", "http:GET https://api.github.com"]`.
    ///
    /// # Errors
    /// The first grant that does not parse.
    pub fn parse<S: AsRef<str>>(
        grants: impl IntoIterator<Item = S>,
    ) -> std::result::Result<Self, morph_permissions::Error> {
        grants
            .into_iter()
            .map(|g| g.as_ref().parse())
            .collect::<std::result::Result<GrantSet, _>>()
            .map(Grants)
    }
}

impl Policy for Grants {
    fn decide(&self, _: &CallContext, request: &Request) -> Decision {
        self.0.allows(request)
    }
}

/// Where the guest is in a call; host calls are allowed only in [`Phase::Guest`], the
/// component model's rule (no leaving the instance while the host lowers a value, in a
/// post-return function or in a start function).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The guest runs its export: host calls are allowed.
    Guest,
    /// The host is lowering a value (the guest's `cabi_realloc` runs).
    Lowering,
    /// A `cabi_post_*` function runs.
    PostReturn,
    /// The start function runs.
    Start,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Ready,
    InCall,
    Poisoned(String),
    Cancelled,
}

/// What the checkpoint decided for one host call.
pub enum Admission {
    /// Answered already (a log, or a refusal handed back to the guest).
    Answered(std::result::Result<HostReply, HostError>),
    /// Allowed: ask the handler.
    Serve(Arc<dyn HostHandler>, CallContext),
}

impl Admission {
    /// The answer: the refusal, or what the handler says.
    pub async fn answer(self, call: HostCall) -> std::result::Result<HostReply, HostError> {
        match self {
            Admission::Answered(r) => r,
            Admission::Serve(handler, cx) => handler.handle(&cx, call).await,
        }
    }
}

/// The per-instance checkpoint every backend keeps in its store: the handler and policy,
/// the limits, and the state and counters of the current guest call. Every host call of
/// every backend goes through [`HostContext::admit`]; every guest call through
/// [`HostContext::begin`] and [`HostContext::end`].
pub struct HostContext {
    handler: Arc<dyn HostHandler>,
    policy: Arc<dyn Policy>,
    cx: CallContext,
    declared_events: Option<Arc<[String]>>,
    limits: Limits,
    state: State,
    phase: Phase,
    started: Instant,
    deadline: Option<Instant>,
    elapsed: Duration,
    host_calls: u64,
    transferred: u64,
    log_bytes: u64,
    logs_dropped: u64,
    denied: Option<Box<Denial>>,
    memory_refused: Option<u64>,
}

/// The most bytes a 32-bit linear memory can hold: 65 536 pages of 64 KiB.
const MAX_MEMORY32_BYTES: u64 = 1 << 32;

impl HostContext {
    /// State for an instance made with `config`.
    pub fn new(config: crate::runtime::InstanceConfig) -> Self {
        let now = Instant::now();
        HostContext {
            handler: config.handler,
            policy: config.policy,
            cx: CallContext {
                extension: config.label,
                kind: CallKind::Start,
            },
            declared_events: config.declared_events,
            limits: config.limits,
            state: State::Ready,
            phase: Phase::Start,
            started: now,
            deadline: None,
            elapsed: Duration::ZERO,
            host_calls: 0,
            transferred: 0,
            log_bytes: 0,
            logs_dropped: 0,
            denied: None,
            memory_refused: None,
        }
    }

    /// Starts a guest call of `kind`: fails when the instance is unusable (an earlier
    /// call trapped, hit a limit or was cancelled) or when a destructive action is not
    /// granted, otherwise resets the per-call counters and starts the clock. Every backend
    /// calls this before entering the guest, and [`HostContext::end`] after.
    ///
    /// # Errors
    /// `Poisoned` or `Cancelled`; `PermissionDenied` for a destructive action without its
    /// grant (the instance stays usable).
    pub fn begin(&mut self, kind: CallKind) -> Result<()> {
        match &self.state {
            State::Ready => {}
            State::InCall => {
                // The previous call's future was dropped while the guest ran.
                self.state = State::Cancelled;
                return Err(Error::new(ErrorKind::Cancelled));
            }
            State::Cancelled => return Err(Error::new(ErrorKind::Cancelled)),
            State::Poisoned(cause) => {
                return Err(Error::new(ErrorKind::Poisoned {
                    cause: cause.clone(),
                }));
            }
        }
        if let CallKind::Execute {
            action,
            side_effect: side_effect @ morph_abi::SideEffect::Destructive,
        } = &kind
        {
            let request = Request::action(action, *side_effect).map_err(|e| {
                Error::new(ErrorKind::InvalidInput {
                    action: action.to_string(),
                    message: format!("a destructive action needs a grant by its name: {e}"),
                })
            })?;
            let cx = CallContext {
                extension: self.cx.extension.clone(),
                kind: kind.clone(),
            };
            if let Decision::Deny(denial) = self.policy.decide(&cx, &request) {
                return Err(Error::new(ErrorKind::PermissionDenied {
                    denial,
                    extension: self.cx.extension.to_string(),
                }));
            }
        }
        self.state = State::InCall;
        self.phase = match kind {
            CallKind::Start => Phase::Start,
            _ => Phase::Lowering,
        };
        self.cx.kind = kind;
        self.host_calls = 0;
        self.transferred = 0;
        self.log_bytes = 0;
        self.logs_dropped = 0;
        self.denied = None;
        self.memory_refused = None;
        self.started = Instant::now();
        self.deadline = self.started.checked_add(self.limits.timeout);
        self.elapsed = Duration::ZERO;
        Ok(())
    }

    /// Ends the guest call begun by [`HostContext::begin`]: an error that
    /// [poisons](Error::poisons) makes the instance refuse further calls. Returns `r`.
    ///
    /// # Errors
    /// `r`'s error.
    pub fn end<T>(&mut self, r: Result<T>) -> Result<T> {
        self.elapsed = self.started.elapsed();
        if self.logs_dropped > 0 {
            tracing::warn!(
                target: "morph::guest",
                extension = &*self.cx.extension,
                dropped = self.logs_dropped,
                "log messages dropped: the extension logged more than {} bytes in one call",
                self.limits.max_log_bytes
            );
        }
        self.state = match &r {
            Err(e) if e.poisons() => State::Poisoned(e.detail()),
            _ => State::Ready,
        };
        r
    }

    /// Sets where the guest is in the current call.
    pub fn set_phase(&mut self, phase: Phase) {
        self.phase = phase;
    }

    /// Where the guest is in the current call.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The limits of this instance.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Who is calling and from where.
    pub fn context(&self) -> &CallContext {
        &self.cx
    }

    /// The extension's label.
    pub fn extension(&self) -> &str {
        &self.cx.extension
    }

    /// Names the extension after `describe` and records the events it declared.
    pub fn described(&mut self, info: &morph_abi::ExtensionInfo) {
        self.cx.extension = Arc::from(info.id.as_str());
        self.declared_events = Some(info.events.iter().map(|e| e.name.clone()).collect());
    }

    /// When the current call began.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// When the current call must end (`None`: too far away to represent).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether the deadline has passed.
    pub fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// The timeout error of the current call.
    pub fn timeout_error(&self) -> Error {
        let used = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let max = u64::try_from(self.limits.timeout.as_millis()).unwrap_or(u64::MAX);
        Error::limit(Limit::Timeout, used, max)
    }

    /// Host calls made in the current guest call.
    pub fn host_calls(&self) -> u64 {
        self.host_calls
    }

    /// What the last call used, with the backend's own fuel and memory figures.
    pub fn usage(&self, fuel: u64, memory_bytes: u64) -> Usage {
        Usage {
            fuel,
            host_calls: self.host_calls,
            memory_bytes,
            transferred_bytes: self.transferred,
            elapsed: match self.state {
                State::InCall => self.started.elapsed(),
                _ => self.elapsed,
            },
        }
    }

    /// Records that a memory growth to `requested` bytes was refused by the memory limit;
    /// a trap that follows is then reported as that limit.
    ///
    /// A growth past 4 GiB, more than a 32-bit memory can hold, is not recorded: it fails
    /// whatever the limit, and wasmi fails it before asking its limiter while wasmtime and
    /// wasmer ask theirs, so recording it made the trap that follows a memory limit on some
    /// backends only (found by the differential fuzzer, `docs/fuzzing.md`).
    pub fn memory_refused(&mut self, requested: u64) {
        if requested <= MAX_MEMORY32_BYTES {
            self.memory_refused = Some(requested);
        }
    }

    /// Whether a memory growth was refused in this call, and to what size.
    pub fn refused_memory(&self) -> Option<u64> {
        self.memory_refused
    }

    /// Turns a trap into the limit that caused it, when a memory growth was refused just
    /// before (a Rust guest aborts when its allocator fails).
    pub fn explain_trap(&self, err: Error) -> Error {
        match (err.kind(), self.memory_refused) {
            (ErrorKind::Trap { .. }, Some(requested)) => {
                Error::limit(Limit::Memory, requested, self.limits.max_memory_bytes)
            }
            _ => err,
        }
    }

    /// Maps an action's own error: a `permission-denied` error after a refused host call
    /// becomes [`ErrorKind::PermissionDenied`] with the permission the checkpoint refused
    /// (a typed value, never read from the guest's message).
    pub fn guest_error(&self, e: morph_abi::Error) -> Error {
        if e.kind == morph_abi::ErrorKind::PermissionDenied
            && let Some(denial) = &self.denied
        {
            return Error::new(ErrorKind::PermissionDenied {
                denial: denial.clone(),
                extension: self.cx.extension.to_string(),
            });
        }
        Error::new(ErrorKind::Guest(e))
    }

    /// Charges `bytes` moved across the boundary in this call (either way).
    ///
    /// # Errors
    /// `LimitExceeded(transfer)`.
    pub fn charge(&mut self, bytes: u64) -> Result<()> {
        self.transferred = self.transferred.saturating_add(bytes);
        if self.transferred > self.limits.max_transfer_bytes {
            return Err(Error::limit(
                Limit::Transfer,
                self.transferred,
                self.limits.max_transfer_bytes,
            ));
        }
        Ok(())
    }

    /// What is left of this call's transfer budget: the most a lift may copy.
    pub fn transfer_left(&self) -> u64 {
        self.limits
            .max_transfer_bytes
            .saturating_sub(self.transferred)
    }

    /// The checkpoint. Checks, in order: that the guest may leave the instance now
    /// (the component model's rule), the host-call count, the deadline, the bytes the
    /// call carries (`bytes`, already copied by the caller's lifting); then writes a
    /// `log`, refuses an undeclared event, and asks the [`Policy`] about each
    /// [`Request`] the call makes. A refusal is recorded (typed) and answered to the
    /// guest; an allowed call goes to the handler.
    ///
    /// # Errors
    /// An error that traps the guest: `Trap(cannot-leave)`, `LimitExceeded` (host
    /// calls, timeout, transfer).
    pub fn admit(&mut self, call: &HostCall, bytes: u64) -> Result<Admission> {
        if self.phase != Phase::Guest {
            return Err(Error::trap(TrapKind::CannotLeave));
        }
        self.host_calls = self.host_calls.saturating_add(1);
        if self.host_calls > self.limits.max_host_calls {
            return Err(Error::limit(
                Limit::HostCalls,
                self.host_calls,
                self.limits.max_host_calls,
            ));
        }
        if self.past_deadline() {
            return Err(self.timeout_error());
        }
        self.charge(bytes)?;
        if let HostCall::Log { level, message } = call {
            self.log(*level, message);
            return Ok(Admission::Answered(Ok(HostReply::Done)));
        }
        if let HostCall::EventsEmit { name, .. } = call {
            let declared = self
                .declared_events
                .as_ref()
                .is_some_and(|d| d.iter().any(|e| e == name));
            if !declared {
                return Ok(Admission::Answered(Err(HostError::new(
                    HostErrorKind::InvalidArgument,
                    format!(
                        "event `{}` is not declared in describe(); declare it to emit it",
                        name.escape_debug()
                    ),
                ))));
            }
        }
        let requests = match call.requests() {
            Ok(r) => r,
            Err(e) => return Ok(Admission::Answered(Err(e))),
        };
        for request in requests {
            let decision = match self.cx.kind {
                // describe() and the start function run with no permissions.
                CallKind::Execute { .. } => self.policy.decide(&self.cx, &request),
                _ => DenyAll.decide(&self.cx, &request),
            };
            if let Decision::Deny(denial) = decision {
                let message = format!(
                    "extension `{}` may not do this: {denial}",
                    self.cx.extension.escape_debug()
                );
                self.denied = Some(denial);
                return Ok(Admission::Answered(Err(HostError::new(
                    HostErrorKind::PermissionDenied,
                    message,
                ))));
            }
        }
        Ok(Admission::Serve(self.handler.clone(), self.cx.clone()))
    }

    /// Writes a guest's log line to `tracing`, within the per-call log budget; past it,
    /// lines are counted and dropped (one warning at the end of the call).
    fn log(&mut self, level: LogLevel, message: &str) {
        let len = message.len() as u64;
        if self.log_bytes.saturating_add(len) > self.limits.max_log_bytes {
            self.logs_dropped = self.logs_dropped.saturating_add(1);
            return;
        }
        self.log_bytes = self.log_bytes.saturating_add(len);
        let ext = &*self.cx.extension;
        match level {
            LogLevel::Trace => {
                tracing::trace!(target: "morph::guest", extension = ext, "{message}")
            }
            LogLevel::Debug => {
                tracing::debug!(target: "morph::guest", extension = ext, "{message}")
            }
            LogLevel::Info => tracing::info!(target: "morph::guest", extension = ext, "{message}"),
            LogLevel::Warn => tracing::warn!(target: "morph::guest", extension = ext, "{message}"),
            LogLevel::Error => {
                tracing::error!(target: "morph::guest", extension = ext, "{message}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::InstanceConfig;

    fn executing(policy: Arc<dyn Policy>) -> HostContext {
        let mut h = HostContext::new(InstanceConfig::new("t", Limits::default()).policy(policy));
        h.begin(CallKind::Execute {
            action: "a".into(),
            side_effect: SideEffect::None,
        })
        .unwrap();
        h.set_phase(Phase::Guest);
        h
    }

    #[test]
    fn a_refusal_records_the_typed_permission() {
        let mut h = executing(Arc::new(DenyAll));
        let a = h.admit(&HostCall::KvGet { key: "k".into() }, 1).unwrap();
        assert!(
            matches!(a, Admission::Answered(Err(ref e)) if e.kind == HostErrorKind::PermissionDenied)
        );
        let e = h.guest_error(morph_abi::Error::new(
            morph_abi::ErrorKind::PermissionDenied,
            "x: permission `clock` is what this needs",
        ));
        match e.kind() {
            ErrorKind::PermissionDenied { denial, .. } => {
                assert_eq!(denial.request(), &Request::KvRead);
                assert_eq!(
                    denial.suggestion().map(ToString::to_string).as_deref(),
                    Some("kv-read")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_destructive_action_needs_its_own_grant_and_a_refusal_leaves_the_instance_usable() {
        let wipe = || CallKind::Execute {
            action: "wipe".into(),
            side_effect: SideEffect::Destructive,
        };
        let mut h = HostContext::new(InstanceConfig::new("t", Limits::default()));
        let e = h.begin(wipe()).unwrap_err();
        assert_eq!(e.detail(), "permission-denied:action");
        assert!(!e.poisons());
        match e.kind() {
            ErrorKind::PermissionDenied { denial, .. } => assert_eq!(
                denial.suggestion().map(ToString::to_string).as_deref(),
                Some("action:destructive:wipe")
            ),
            other => panic!("{other:?}"),
        }
        // Refused before the call began: the instance serves the next one.
        h.begin(CallKind::Describe).unwrap();
        h.end(Ok(())).unwrap();
        let granted = Arc::new(Grants::parse(["action:destructive:wipe"]).unwrap());
        let mut h = HostContext::new(InstanceConfig::new("t", Limits::default()).policy(granted));
        h.begin(wipe()).unwrap();
    }

    #[test]
    fn host_calls_outside_the_guest_phase_trap() {
        let mut h = executing(Arc::new(DenyAll));
        h.set_phase(Phase::Lowering);
        let e = h
            .admit(
                &HostCall::Log {
                    level: LogLevel::Info,
                    message: "m".into(),
                },
                1,
            )
            .err()
            .unwrap();
        assert_eq!(e.detail(), "trap:cannot-leave");
    }

    #[test]
    fn granted_permissions_reach_the_handler_and_describe_gets_none() {
        let grants = Arc::new(Grants::parse(["clock"]).unwrap());
        let mut h = executing(grants.clone());
        assert!(matches!(
            h.admit(&HostCall::ClockNowMs, 0).unwrap(),
            Admission::Serve(..)
        ));
        h.end(Ok(())).unwrap();
        h.begin(CallKind::Describe).unwrap();
        h.set_phase(Phase::Guest);
        assert!(matches!(
            h.admit(&HostCall::ClockNowMs, 0).unwrap(),
            Admission::Answered(Err(_))
        ));
    }

    #[test]
    fn a_dropped_call_leaves_the_instance_cancelled() {
        let mut h = executing(Arc::new(DenyAll));
        // No `end`: the call's future was dropped.
        let e = h.begin(CallKind::Describe).unwrap_err();
        assert_eq!(e.class(), "cancelled");
        assert_eq!(
            h.begin(CallKind::Describe).unwrap_err().class(),
            "cancelled"
        );
    }
}
