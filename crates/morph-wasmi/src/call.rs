//! Store state, limits, and the one way guest code is called: in fuel slices, with the
//! wall-clock deadline checked between slices.
//!
//! wasmi has no epochs or interrupts; what it has is fuel and *resumable* calls: a call
//! that runs out of fuel returns a handle that continues where it stopped once fuel is
//! added. [`run`] hands the store at most [`SLICE`] units at a time. When a slice runs
//! out, it checks the deadline (stopping with `LimitExceeded(timeout)` when it has
//! passed) and the call's budget (stopping with `LimitExceeded(cpu)` when it is spent),
//! then refuels and resumes. Fuel not yet handed to the store waits in
//! [`StoreData::reserve`], so the budget is exact however it is sliced.
//!
//! Every guest call goes through [`run`]: the exports, the start function and the
//! guest's allocator, including calls to the allocator from inside a host call (wasmi
//! gives a nested call its own stack), so no guest code runs outside the deadline.

use morph_runtime::meter::{FUEL_GLOBAL, exhausted};
use morph_runtime::{Error, HostContext, Limit, Result, TrapKind};
use std::fmt;
use std::time::{Duration, Instant};
use wasmi::{
    AsContext, AsContextMut, Global, Memory, ResourceLimiter, TrapCode, TypedFunc,
    TypedResumableCall, Val, WasmParams, WasmResults,
};
use wasmi_core::LimiterError;

/// Fuel handed to the store per slice: the deadline's resolution. wasmi charges roughly
/// one unit per instruction; a slice took 0.75 ms in a debug build of the tests (wasmi at
/// opt-level 1), less when optimised. Checking the clock and resuming costs well under a
/// microsecond, so the overhead stays below 0.1%.
pub(crate) const SLICE: u64 = 1 << 18;

/// Table elements a guest may grow a table to (as in the wasmtime backend).
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// How deeply host calls may re-enter the guest (a host call that lowers its result calls
/// the guest's allocator, which could make another host call...). Each level costs native
/// stack, so a guest must not be able to nest without bound; legitimate guests nest once.
const MAX_REENTRY: u32 = 8;

/// Guest exports that host calls need, resolved once per instance.
#[derive(Clone, Copy)]
pub(crate) struct Guest {
    pub(crate) memory: Memory,
    pub(crate) realloc: TypedFunc<(u32, u32, u32, u32), u32>,
    /// The deterministic-metering counter, when the module is instrumented.
    pub(crate) fuel_global: Option<Global>,
}

/// What every store holds: Morph's host state and the state of the current call.
pub(crate) struct StoreData {
    pub(crate) host: HostContext,
    /// The deterministic-metering budget compiled into the module, if any.
    pub(crate) metered: Option<u64>,
    /// When the current call began.
    pub(crate) started: Instant,
    /// When the current call must stop (`None`: too far away to represent).
    deadline: Option<Instant>,
    /// Native fuel budget of the current call (`u64::MAX`: unlimited).
    pub(crate) budget: u64,
    /// Fuel of the current call not yet handed to the store.
    pub(crate) reserve: u64,
    /// Guest calls in progress (more than one when a host call re-enters the guest).
    depth: u32,
    /// Wall-clock time of the last finished call.
    pub(crate) elapsed: Duration,
    /// The guest's exports, once instantiated.
    pub(crate) guest: Option<Guest>,
}

impl StoreData {
    pub(crate) fn new(host: HostContext, metered: Option<u64>) -> Self {
        StoreData {
            host,
            metered,
            started: Instant::now(),
            deadline: None,
            budget: 0,
            reserve: 0,
            depth: 0,
            elapsed: Duration::ZERO,
            guest: None,
        }
    }

    fn timeout_error(&self) -> Error {
        let used = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let max = u64::try_from(self.host.limits().timeout.as_millis()).unwrap_or(u64::MAX);
        Error::limit(Limit::Timeout, used, max)
    }

    fn cpu_error(&self) -> Error {
        let max = self.metered.unwrap_or(self.budget);
        Error::limit(Limit::Cpu, max, max)
    }
}

impl ResourceLimiter for StoreData {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, LimiterError> {
        let desired = desired as u64;
        if desired > self.host.limits().max_memory_bytes {
            self.host.memory_refused(desired);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, LimiterError> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        10_000
    }

    fn memories(&self) -> usize {
        1
    }
}

/// A Morph error travelling through wasmi as a host error, so that it comes back out
/// unchanged (a limit from a host call stays that limit).
#[derive(Debug)]
pub(crate) struct HostErr(pub(crate) Error);

impl fmt::Display for HostErr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl wasmi::errors::HostError for HostErr {}

/// Arms the limits for a new guest call: the fuel budget, the deadline, the per-call
/// counters.
///
/// # Errors
/// `Engine` when the store refuses fuel (it never does: fuel is always on).
pub(crate) fn begin_call(mut ctx: impl AsContextMut<Data = StoreData>) -> Result<()> {
    let mut ctx = ctx.as_context_mut();
    let data = ctx.data_mut();
    let limits = data.host.limits();
    // In deterministic mode the module counts its own instructions; native fuel then only
    // slices the call for the deadline.
    data.budget = match data.metered {
        Some(_) => u64::MAX,
        None => limits.fuel.unwrap_or(u64::MAX),
    };
    let first = data.budget.min(SLICE);
    data.reserve = data.budget - first;
    data.started = Instant::now();
    data.deadline = data.started.checked_add(limits.timeout);
    data.host.begin_call();
    ctx.set_fuel(first)
        .map_err(|e| Error::engine(e.to_string()))
}

/// Native fuel used in the current call.
pub(crate) fn fuel_used(ctx: impl AsContext<Data = StoreData>) -> u64 {
    let ctx = ctx.as_context();
    let data = ctx.data();
    let left = ctx.get_fuel().unwrap_or(0).saturating_add(data.reserve);
    data.budget.saturating_sub(left)
}

/// Moves fuel from the reserve into the store so that it holds at least `need` and,
/// budget permitting, a whole slice.
///
/// # Errors
/// `LimitExceeded(cpu)` when the budget cannot cover `need`.
fn refuel(ctx: &mut impl AsContextMut<Data = StoreData>, need: u64) -> Result<()> {
    let mut ctx = ctx.as_context_mut();
    let in_store = ctx.get_fuel().map_err(|e| Error::engine(e.to_string()))?;
    let want = need.max(SLICE);
    if in_store >= want {
        return Ok(());
    }
    let data = ctx.data_mut();
    let total = in_store.saturating_add(data.reserve);
    if total < need || total == 0 {
        return Err(data.cpu_error());
    }
    let give = want.min(total);
    data.reserve = total - give;
    ctx.set_fuel(give).map_err(|e| Error::engine(e.to_string()))
}

/// Between two slices: stops the call when its deadline has passed, refuels it otherwise.
fn next_slice(ctx: &mut impl AsContextMut<Data = StoreData>, need: u64) -> Result<()> {
    {
        let ctx = ctx.as_context();
        let data = ctx.data();
        if data.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(data.timeout_error());
        }
    }
    refuel(ctx, need)
}

/// Calls `func` under the current call's limits, in fuel slices with the deadline checked
/// between them, and maps every failure to Morph's taxonomy.
///
/// # Errors
/// A trap, a limit, or the error of a host call, unchanged.
pub(crate) fn run<P: WasmParams, R: WasmResults>(
    mut ctx: impl AsContextMut<Data = StoreData>,
    func: &TypedFunc<P, R>,
    params: P,
) -> Result<R> {
    {
        let mut ctx = ctx.as_context_mut();
        let data = ctx.data_mut();
        if data.depth >= MAX_REENTRY {
            return Err(Error::trap(TrapKind::StackOverflow));
        }
        data.depth += 1;
    }
    let out = run_sliced(&mut ctx, func, params);
    let mut ctx = ctx.as_context_mut();
    let data = ctx.data_mut();
    data.depth -= 1;
    if data.depth == 0 {
        data.elapsed = data.started.elapsed();
    }
    out
}

fn run_sliced<P: WasmParams, R: WasmResults>(
    ctx: &mut impl AsContextMut<Data = StoreData>,
    func: &TypedFunc<P, R>,
    params: P,
) -> Result<R> {
    next_slice(ctx, 0)?;
    let mut call = func.call_resumable(&mut *ctx, params);
    loop {
        match call {
            Ok(TypedResumableCall::Finished(results)) => return Ok(results),
            Ok(TypedResumableCall::OutOfFuel(paused)) => {
                next_slice(ctx, paused.required_fuel())?;
                call = paused.resume(&mut *ctx);
            }
            // A host function failed: the guest stops there (we never resume it).
            Ok(TypedResumableCall::HostTrap(trapped)) => {
                return Err(map_error(trapped.host_error(), &*ctx));
            }
            Err(e) => return Err(map_error(&e, &*ctx)),
        }
    }
}

/// Maps a wasmi error from a guest call to Morph's taxonomy: a host call's own error
/// unchanged; a deterministic-metering stop or an out-of-fuel trap as the CPU limit; a
/// trap as its [`TrapKind`] (or as the memory limit, when a growth was refused just
/// before); anything else as `Engine`.
pub(crate) fn map_error(err: &wasmi::Error, ctx: impl AsContext<Data = StoreData>) -> Error {
    if let Some(HostErr(e)) = err.downcast_ref::<HostErr>() {
        return e.clone();
    }
    let ctx = ctx.as_context();
    let data = ctx.data();
    // A deterministic-metering stop is a trap in the module's own trap function; the
    // counter it left behind tells it from any other trap.
    let counter = data.guest.and_then(|g| g.fuel_global);
    if data.metered.is_some()
        && let Some(Val::I64(left)) = counter.map(|g| g.get(ctx))
        && exhausted(left)
    {
        return data.cpu_error();
    }
    if let Some(code) = err.as_trap_code() {
        let kind = match code {
            // Every out-of-fuel stop in a sliced call is resumable, so this one is the
            // budget running out, unless wasmi stopped somewhere it cannot resume: say so
            // rather than blame the guest.
            TrapCode::OutOfFuel if data.reserve == 0 => return data.cpu_error(),
            TrapCode::OutOfFuel => {
                return Error::engine(format!("wasmi stopped for fuel and cannot resume: {err}"));
            }
            TrapCode::UnreachableCodeReached => TrapKind::Unreachable,
            TrapCode::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
            TrapCode::TableOutOfBounds => TrapKind::TableOutOfBounds,
            TrapCode::IndirectCallToNull | TrapCode::BadSignature => TrapKind::IndirectCall,
            TrapCode::IntegerDivisionByZero => TrapKind::IntegerDivisionByZero,
            TrapCode::IntegerOverflow => TrapKind::IntegerOverflow,
            TrapCode::BadConversionToInteger => TrapKind::BadConversionToInteger,
            TrapCode::StackOverflow => TrapKind::StackOverflow,
            _ => TrapKind::Other,
        };
        return data.host.explain_trap(Error::trap(kind));
    }
    if let Some(requested) = data.host.refused_memory() {
        return Error::limit(
            Limit::Memory,
            requested,
            data.host.limits().max_memory_bytes,
        );
    }
    Error::engine(err.to_string())
}

/// The exported deterministic-metering counter of an instance, if it has one.
pub(crate) fn fuel_global(
    instance: &wasmi::Instance,
    ctx: impl AsContext<Data = StoreData>,
) -> Option<Global> {
    instance.get_global(ctx, FUEL_GLOBAL)
}
