//! The per-call protocol, written once for every core backend: the usable check, the
//! limits, a tracing span, the call kind, argument lowering, the guest call, lifting the
//! answer, post-return, poisoning and usage. A backend implements [`GuestCalls`] (enter
//! the guest, read and write its memory, call its allocator) and nothing else; host
//! calls come back through [`serve`] (or [`admit`], [`PendingCall::answer`] and
//! [`deliver`] on a backend that must suspend the guest between them).

use crate::abi::{GuestMemory, Lifter, Lowerer};
use crate::call::{Answer, HostCall, HostFunc};
use crate::error::{Error, Limit, Result};
use crate::host::{Admission, BoxFuture, CallKind, HostContext, Phase};
use crate::module::ModuleInfo;
use crate::runtime::{ExecuteCall, Instance, Usage};
use morph_abi::{Error as GuestError, ExtensionInfo};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use tracing::Instrument;

/// A contract export the protocol enters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    /// `describe() -> i32`
    Describe,
    /// `execute(i32, i32, i32, i32) -> i32`
    Execute,
    /// `cabi_post_describe(i32)`
    PostDescribe,
    /// `cabi_post_execute(i32)`
    PostExecute,
    /// The start function, moved to an export where the engine runs it inside
    /// instantiation (see [`hide_start`](crate::hide_start)).
    Start,
}

/// What a host call can reach of the guest: its memory, its allocator and the
/// checkpoint. Backends implement it for the instance and for the view they get inside a
/// host call.
pub trait GuestAccess: GuestMemory + Send {
    /// The instance's checkpoint.
    fn host(&mut self) -> &mut HostContext;

    /// Calls the guest's `cabi_realloc(0, 0, align, size)`. Must map engine errors to
    /// Morph's taxonomy.
    fn alloc(&mut self, align: u32, size: u32) -> impl Future<Output = Result<u32>> + Send;

    /// Takes `units` from the current call's native CPU budget (the engine's fuel): what
    /// a host call costs ([`HOST_CALL_FUEL`](crate::HOST_CALL_FUEL)). Never called under
    /// deterministic metering, where the module's import wrappers pay.
    ///
    /// # Errors
    /// `LimitExceeded(cpu)` when the budget left is smaller.
    fn burn(&mut self, units: u64) -> Result<()>;
}

/// What a core backend implements so that the protocol can drive it.
pub trait GuestCalls: GuestAccess {
    /// The backend's name, for tracing.
    fn backend(&self) -> &'static str;

    /// What validation learned about the module.
    fn module(&self) -> &ModuleInfo;

    /// Arms the engine's own limits for a guest call that begins now: fuel, the engine's
    /// deadline mechanism. The checkpoint's clock is already running.
    ///
    /// # Errors
    /// `Engine` when the engine refuses the settings.
    fn arm(&mut self) -> Result<()>;

    /// Enters the guest: calls `export` with `args`; returns its `i32` result (0 for
    /// exports without one). Must map engine errors to Morph's taxonomy, passing errors
    /// raised by host calls through unchanged.
    fn enter(&mut self, export: Export, args: &[u32]) -> impl Future<Output = Result<u32>> + Send;

    /// What the last call used.
    fn usage(&self) -> Usage;
}

/// The span of one guest call: which call, of which extension and action, on which
/// backend.
fn span(backend: &'static str, host: &HostContext, what: &str) -> tracing::Span {
    let cx = host.context();
    tracing::debug_span!(
        "morph.call",
        call = what,
        extension = &*cx.extension,
        action = cx.kind.action(),
        backend
    )
}

/// Runs the start function, if the module has one, with no host calls allowed.
///
/// # Errors
/// A trap or a limit.
pub async fn start<G: GuestCalls>(g: &mut G) -> Result<()> {
    if !g.module().has_start {
        return Ok(());
    }
    g.host().begin(CallKind::Start)?;
    let span = span(g.backend(), g.host(), "start");
    let r = async {
        g.arm()?;
        g.enter(Export::Start, &[]).await.map(drop)
    }
    .instrument(span)
    .await;
    g.host().end(r)
}

/// Runs `describe()`.
///
/// # Errors
/// `Poisoned` or `Cancelled`; a trap, a limit, or `BadGuestData`.
pub async fn describe<G: GuestCalls>(g: &mut G) -> Result<ExtensionInfo> {
    g.host().begin(CallKind::Describe)?;
    let span = span(g.backend(), g.host(), "describe");
    let r = describe_inner(g).instrument(span).await;
    g.host().end(r)
}

async fn describe_inner<G: GuestCalls>(g: &mut G) -> Result<ExtensionInfo> {
    g.arm()?;
    g.host().set_phase(Phase::Guest);
    let ret = g.enter(Export::Describe, &[]).await?;
    let info: ExtensionInfo = lift(g, ret)?;
    if g.module().has_post_describe {
        g.host().set_phase(Phase::PostReturn);
        g.enter(Export::PostDescribe, &[ret]).await?;
    }
    g.host().described(&info);
    Ok(info)
}

/// Runs `execute(action, input)`.
///
/// # Errors
/// `Guest` or `PermissionDenied` for the action's own error; `Poisoned`, `Cancelled`, a
/// trap, a limit, or `BadGuestData` otherwise.
pub async fn execute<G: GuestCalls>(g: &mut G, call: ExecuteCall<'_>) -> Result<String> {
    g.host().begin(CallKind::Execute {
        action: Arc::from(call.action),
        side_effect: call.side_effect,
    })?;
    let span = span(g.backend(), g.host(), "execute");
    let r = execute_inner(g, call).instrument(span).await;
    g.host().end(r)
}

async fn execute_inner<G: GuestCalls>(g: &mut G, call: ExecuteCall<'_>) -> Result<String> {
    let max_in = u64::from(g.host().limits().max_input_bytes);
    let size = (call.action.len() as u64).saturating_add(call.input.len() as u64);
    if size > max_in {
        return Err(Error::limit(Limit::Input, size, max_in));
    }
    g.arm()?;
    let parts = [call.action.as_bytes(), call.input.as_bytes()];
    let plan = Lowerer::plan_bytes(&parts)?;
    g.host().charge(plan.bytes)?;
    let ptrs = allocate(g, &plan.allocs).await?;
    let mut args = [0u32; 4];
    {
        let mut w = Lowerer::writer(g, &ptrs);
        for (slot, part) in args.chunks_exact_mut(2).zip(parts) {
            let (p, n) = w.bytes(part, 1)?;
            slot.copy_from_slice(&[p, n]);
        }
    }
    g.host().set_phase(Phase::Guest);
    let ret = g.enter(Export::Execute, &args).await?;
    let result: std::result::Result<String, GuestError> = lift(g, ret)?;
    if g.module().has_post_execute {
        g.host().set_phase(Phase::PostReturn);
        g.enter(Export::PostExecute, &[ret]).await?;
    }
    result.map_err(|e| g.host().guest_error(e))
}

/// Lifts an export's answer at `ret`, within the output limit and the transfer budget.
fn lift<G: GuestAccess, T: crate::abi::Abi>(g: &mut G, ret: u32) -> Result<T> {
    let max = u64::from(g.host().limits().max_output_bytes);
    let mut l = Lifter::new(g, max, Limit::Output);
    let value = l.load(ret)?;
    let used = l.used();
    g.host().charge(used)?;
    Ok(value)
}

/// Calls the guest's allocator for each `(align, size)`, with host calls refused while
/// it runs; restores the phase after.
async fn allocate<G: GuestAccess>(g: &mut G, allocs: &[(u32, u32)]) -> Result<Vec<u32>> {
    let phase = g.host().phase();
    g.host().set_phase(Phase::Lowering);
    let mut ptrs = Vec::with_capacity(allocs.len());
    for &(align, size) in allocs {
        ptrs.push(g.alloc(align, size).await?);
    }
    g.host().set_phase(phase);
    Ok(ptrs)
}

/// A host call lifted and through the checkpoint, waiting for its answer.
pub struct PendingCall {
    call: HostCall,
    ret: Option<u32>,
    admission: Admission,
}

/// What [`PendingCall::try_answer`] found.
pub enum Answering {
    /// The answer, ready to deliver.
    Ready(Delivery),
    /// The call, whose handler must be awaited.
    Waiting(Box<PendingCall>),
}

/// A host call's answer, waiting to be lowered into the guest.
pub struct Delivery {
    ret: Option<u32>,
    answer: Answer,
}

/// Lifts the host call `func` from its flat arguments and takes it through the
/// checkpoint.
///
/// # Errors
/// An error that traps the guest: malformed arguments, a limit, a host call where none
/// is allowed.
pub fn admit<G: GuestAccess>(g: &mut G, func: HostFunc, args: &[u32]) -> Result<PendingCall> {
    // The call's cost first, as deterministic metering charges it before the call.
    if g.host().limits().metering == crate::Metering::Native {
        g.burn(crate::HOST_CALL_FUEL)?;
    }
    // The component model's rule, before any byte is read.
    if g.host().phase() != Phase::Guest {
        return Err(Error::trap(crate::error::TrapKind::CannotLeave));
    }
    let budget = g.host().transfer_left();
    let (call, ret, bytes) = HostCall::lift(func, args, &mut *g, budget)?;
    let admission = g.host().admit(&call, bytes)?;
    Ok(PendingCall {
        call,
        ret,
        admission,
    })
}

impl PendingCall {
    /// The answer at once when the checkpoint gave it (a log, a refusal), or the call
    /// back when the handler must be awaited.
    pub fn try_answer(self) -> Answering {
        match self.admission {
            Admission::Answered(reply) => Answering::Ready(Delivery {
                ret: self.ret,
                answer: Answer::new(self.call.func(), reply),
            }),
            admission @ Admission::Serve(..) => {
                Answering::Waiting(Box::new(PendingCall { admission, ..self }))
            }
        }
    }

    /// Awaits the handler (or takes the checkpoint's answer).
    pub async fn answer(self) -> Delivery {
        let func = self.call.func();
        let reply = self.admission.answer(self.call).await;
        Delivery {
            ret: self.ret,
            answer: Answer::new(func, reply),
        }
    }
}

/// Lowers a host call's answer into the guest's return area, allocating with the guest's
/// allocator (host calls refused meanwhile) and charging the transfer budget.
///
/// # Errors
/// An error that traps the guest: a bad return area, a limit, an allocator failure.
pub async fn deliver<G: GuestAccess>(g: &mut G, d: Delivery) -> Result<()> {
    let Some(ret) = d.ret else {
        return Ok(());
    };
    let plan = d.answer.plan()?;
    g.host().charge(plan.bytes)?;
    let ptrs = allocate(g, &plan.allocs).await?;
    d.answer.write(g, &ptrs, ret)
}

/// Serves one host call of a core module: [`admit`], answer, [`deliver`]. What every
/// core backend's import trampolines run.
///
/// # Errors
/// An error that must trap the guest. Refusals and host failures are not errors here:
/// they reach the guest as values.
pub async fn serve<G: GuestAccess>(g: &mut G, func: HostFunc, args: &[u32]) -> Result<()> {
    let delivery = match admit(g, func, args)?.try_answer() {
        Answering::Ready(d) => d,
        Answering::Waiting(pending) => pending.answer().await,
    };
    deliver(g, delivery).await
}

/// Polls `f` once; `Some` when it completed. For backends whose guest runs on a thread
/// that must not wait on an executor, driving futures that are ready at once.
pub fn now<F: Future>(f: F) -> Option<F::Output> {
    let f = pin!(f);
    match f.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// An [`Instance`] over any [`GuestCalls`]: the protocol, boxed.
pub struct CoreInstance<G>(pub G);

impl<G: GuestCalls + 'static> Instance for CoreInstance<G> {
    fn describe(&mut self) -> BoxFuture<'_, Result<ExtensionInfo>> {
        Box::pin(describe(&mut self.0))
    }

    fn execute<'a>(&'a mut self, call: ExecuteCall<'a>) -> BoxFuture<'a, Result<String>> {
        Box::pin(execute(&mut self.0, call))
    }

    fn usage(&self) -> Usage {
        self.0.usage()
    }
}

/// What a backend implements when its engine lifts and lowers the contract's values
/// itself (the component model): the protocol around its calls is the same as for core
/// backends, with the same checkpoint, the same limits and the same byte accounting.
pub trait LiftedCalls: Send {
    /// The backend's name, for tracing.
    fn backend(&self) -> &'static str;

    /// The instance's checkpoint.
    fn host(&mut self) -> &mut HostContext;

    /// Arms the engine's own limits for a guest call that begins now.
    ///
    /// # Errors
    /// `Engine` when the engine refuses the settings.
    fn arm(&mut self) -> Result<()>;

    /// Calls `describe()`; the engine lifts the answer.
    fn call_describe(&mut self) -> impl Future<Output = Result<ExtensionInfo>> + Send;

    /// Calls `execute(action, input)`; the engine lowers and lifts.
    fn call_execute(
        &mut self,
        action: &str,
        input: &str,
    ) -> impl Future<Output = Result<std::result::Result<String, GuestError>>> + Send;

    /// What the last call used.
    fn usage(&self) -> Usage;
}

/// Charges a value the engine lifted as the shared lifting would have: the output limit,
/// then the transfer budget.
fn account<T: crate::abi::Abi>(host: &mut HostContext, value: &T) -> Result<()> {
    let used = value.guest_bytes();
    let max = u64::from(host.limits().max_output_bytes);
    if used > max {
        return Err(Error::limit(Limit::Output, used, max));
    }
    host.charge(used)
}

/// [`describe`] for a [`LiftedCalls`] backend.
///
/// # Errors
/// As [`describe`].
pub async fn describe_lifted<G: LiftedCalls>(g: &mut G) -> Result<ExtensionInfo> {
    g.host().begin(CallKind::Describe)?;
    let span = span(g.backend(), g.host(), "describe");
    let r = async {
        g.arm()?;
        g.host().set_phase(Phase::Guest);
        let info = g.call_describe().await?;
        account(g.host(), &info)?;
        g.host().described(&info);
        Ok(info)
    }
    .instrument(span)
    .await;
    g.host().end(r)
}

/// [`execute`] for a [`LiftedCalls`] backend.
///
/// # Errors
/// As [`execute`].
pub async fn execute_lifted<G: LiftedCalls>(g: &mut G, call: ExecuteCall<'_>) -> Result<String> {
    g.host().begin(CallKind::Execute {
        action: Arc::from(call.action),
        side_effect: call.side_effect,
    })?;
    let span = span(g.backend(), g.host(), "execute");
    let r = async {
        let max_in = u64::from(g.host().limits().max_input_bytes);
        let size = (call.action.len() as u64).saturating_add(call.input.len() as u64);
        if size > max_in {
            return Err(Error::limit(Limit::Input, size, max_in));
        }
        g.arm()?;
        g.host().charge(size)?;
        g.host().set_phase(Phase::Guest);
        let result = g.call_execute(call.action, call.input).await?;
        account(g.host(), &result)?;
        result.map_err(|e| g.host().guest_error(e))
    }
    .instrument(span)
    .await;
    g.host().end(r)
}

/// Serves a host call whose arguments the engine lifted: the checkpoint, the answer,
/// and the transfer charge for lowering it, exactly as [`serve`] does for core modules.
///
/// # Errors
/// An error that must trap the guest.
pub async fn serve_lifted(host: &mut HostContext, call: HostCall) -> Result<Answer> {
    let func = call.func();
    let admission = host.admit(&call, call.guest_bytes())?;
    let reply = admission.answer(call).await;
    let answer = Answer::new(func, reply);
    let plan = answer.plan()?;
    host.charge(plan.bytes)?;
    Ok(answer)
}

/// An [`Instance`] over any [`LiftedCalls`].
pub struct LiftedInstance<G>(pub G);

impl<G: LiftedCalls + 'static> Instance for LiftedInstance<G> {
    fn describe(&mut self) -> BoxFuture<'_, Result<ExtensionInfo>> {
        Box::pin(describe_lifted(&mut self.0))
    }

    fn execute<'a>(&'a mut self, call: ExecuteCall<'a>) -> BoxFuture<'a, Result<String>> {
        Box::pin(execute_lifted(&mut self.0, call))
    }

    fn usage(&self) -> Usage {
        self.0.usage()
    }
}

std::thread_local! {
    static WAITING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with this thread marked as waiting synchronously for the guest calls it
/// makes (a blocking adapter driving a future to completion): no call future made here
/// can be dropped half-way, so a backend that would move a guest call to another thread
/// to keep it cancellable (wasmer) runs it on this one instead, saving the hand-over.
pub fn waiting_synchronously<T>(f: impl FnOnce() -> T) -> T {
    let before = WAITING.with(|w| w.replace(true));
    let r = f();
    WAITING.with(|w| w.set(before));
    r
}

/// Whether this thread runs inside [`waiting_synchronously`].
pub fn is_waiting_synchronously() -> bool {
    WAITING.with(std::cell::Cell::get)
}

/// Yields to the executor once: lets other tasks run, and lets a dropped call future take
/// effect, on backends that run the guest on the caller's task between two checks.
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
}
