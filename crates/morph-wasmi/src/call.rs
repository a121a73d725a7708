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
//! Every guest call goes through [`run`] (sync: the guest's allocator, including from
//! inside a host call, where wasmi gives the nested call its own stack) or [`run_async`]
//! (the exports and the start function), so no guest code runs outside the deadline.
//!
//! **Async host calls.** A host function cannot await inside wasmi. The import trampoline
//! lifts the call and takes it through the checkpoint at once; when the handler must be
//! awaited, it parks the call in the store and returns a [`Parked`] host error, which
//! wasmi turns into a resumable host trap. [`run_async`] then awaits the handler, lowers
//! the answer (calling the allocator as a new root call while the first is suspended)
//! and resumes the guest. Between slices it yields to the executor at most every
//! [`YIELD_EVERY`], so a long guest call never holds a worker thread for longer, and a
//! dropped call future stops the guest there.

use morph_runtime::meter::{FUEL_GLOBAL, exhausted};
use morph_runtime::protocol::{GuestAccess, PendingCall, deliver, yield_now};
use morph_runtime::{Error, GuestMemory, HostContext, Limit, Result, TrapKind, check_range};
use std::fmt;
use std::time::{Duration, Instant};
use wasmi::{
    AsContext, AsContextMut, Global, Memory, ResourceLimiter, Store, TrapCode, TypedFunc,
    TypedResumableCall, Val, WasmParams, WasmResults,
};
use wasmi_core::LimiterError;

/// Fuel handed to the store per slice: the deadline's resolution. wasmi charges roughly
/// one unit per instruction; a slice took 0.75 ms in a debug build of the tests (wasmi at
/// opt-level 1), less when optimised. Checking the clock and resuming costs well under a
/// microsecond, so the overhead stays below 0.1%.
pub(crate) const SLICE: u64 = 1 << 18;

/// How long a guest runs between two yields to the executor.
pub(crate) const YIELD_EVERY: Duration = Duration::from_millis(5);

/// Guest exports that host calls need, resolved once per instance.
#[derive(Clone, Copy)]
pub(crate) struct Guest {
    pub(crate) memory: Memory,
    pub(crate) realloc: TypedFunc<(u32, u32, u32, u32), u32>,
    /// The deterministic-metering counter, when the module is instrumented.
    pub(crate) fuel_global: Option<Global>,
}

/// What every store holds: Morph's checkpoint and the fuel state of the current call.
pub(crate) struct StoreData {
    pub(crate) host: HostContext,
    /// The deterministic-metering budget compiled into the module, if any.
    pub(crate) metered: Option<u64>,
    /// Native fuel budget of the current call (`u64::MAX`: unlimited).
    pub(crate) budget: u64,
    /// Fuel of the current call not yet handed to the store.
    pub(crate) reserve: u64,
    /// The guest's exports, once instantiated.
    pub(crate) guest: Option<Guest>,
    /// A host call waiting for its handler (see the module docs).
    pub(crate) parked: Option<PendingCall>,
}

impl StoreData {
    pub(crate) fn new(host: HostContext, metered: Option<u64>) -> Self {
        StoreData {
            host,
            metered,
            budget: 0,
            reserve: 0,
            guest: None,
            parked: None,
        }
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
        Ok(desired as u64 <= morph_runtime::MAX_TABLE_ELEMENTS)
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

/// The host error a trampoline returns when it parked its call for the driver.
#[derive(Debug)]
pub(crate) struct Parked;

impl fmt::Display for Parked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("host call parked for its async handler")
    }
}

impl wasmi::errors::HostError for Parked {}

/// Arms native fuel for a guest call that begins now (the checkpoint's clock is
/// already running).
///
/// # Errors
/// `Engine` when the store refuses fuel (it never does: fuel is always on).
pub(crate) fn arm(mut ctx: impl AsContextMut<Data = StoreData>) -> Result<()> {
    let mut ctx = ctx.as_context_mut();
    let data = ctx.data_mut();
    // In deterministic mode the module counts its own instructions; native fuel then only
    // slices the call for the deadline.
    data.budget = match data.metered {
        Some(_) => u64::MAX,
        None => data.host.limits().fuel.unwrap_or(u64::MAX),
    };
    let first = data.budget.min(SLICE);
    data.reserve = data.budget.saturating_sub(first);
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

/// Takes `units` of native fuel from the current call, from the store's share first, then
/// from the reserve (a host call's cost).
///
/// # Errors
/// `LimitExceeded(cpu)` when less is left.
fn burn(ctx: &mut impl AsContextMut<Data = StoreData>, units: u64) -> Result<()> {
    let mut ctx = ctx.as_context_mut();
    let in_store = ctx.get_fuel().map_err(|e| Error::engine(e.to_string()))?;
    let data = ctx.data_mut();
    let Some(left) = in_store.saturating_add(data.reserve).checked_sub(units) else {
        return Err(data.cpu_error());
    };
    let give = left.min(in_store);
    data.reserve = left - give;
    ctx.set_fuel(give).map_err(|e| Error::engine(e.to_string()))
}

/// Between two slices: stops the call when its deadline has passed, refuels it otherwise.
fn next_slice(ctx: &mut impl AsContextMut<Data = StoreData>, need: u64) -> Result<()> {
    {
        let ctx = ctx.as_context();
        let data = ctx.data();
        if data.host.past_deadline() {
            return Err(data.host.timeout_error());
        }
    }
    refuel(ctx, need)
}

/// Calls `func` under the current call's limits, in fuel slices with the deadline checked
/// between them, and maps every failure to Morph's taxonomy. For the guest's allocator:
/// no host call can be served while it runs (the checkpoint refuses them), so it never
/// parks.
///
/// # Errors
/// A trap, a limit, or the error of a host call, unchanged.
pub(crate) fn run<P: WasmParams, R: WasmResults>(
    mut ctx: impl AsContextMut<Data = StoreData>,
    func: &TypedFunc<P, R>,
    params: P,
) -> Result<R> {
    let ctx = &mut ctx;
    next_slice(ctx, 0)?;
    let mut call = func.call_resumable(&mut *ctx, params);
    loop {
        match call {
            Ok(TypedResumableCall::Finished(results)) => return Ok(results),
            Ok(TypedResumableCall::OutOfFuel(paused)) => {
                next_slice(ctx, paused.required_fuel())?;
                call = paused.resume(&mut *ctx);
            }
            Ok(TypedResumableCall::HostTrap(trapped)) => {
                return Err(map_error(trapped.host_error(), &*ctx));
            }
            Err(e) => return Err(map_error(&e, &*ctx)),
        }
    }
}

/// [`run`] for a root call of the store: also serves parked host calls (awaiting their
/// handlers) and yields to the executor every [`YIELD_EVERY`].
///
/// # Errors
/// A trap, a limit, or the error of a host call, unchanged.
pub(crate) async fn run_async<P: WasmParams, R: WasmResults>(
    store: &mut Store<StoreData>,
    func: &TypedFunc<P, R>,
    params: P,
) -> Result<R> {
    next_slice(store, 0)?;
    let mut last_yield = Instant::now();
    let mut call = func.call_resumable(&mut *store, params);
    loop {
        match call {
            Ok(TypedResumableCall::Finished(results)) => return Ok(results),
            Ok(TypedResumableCall::OutOfFuel(paused)) => {
                next_slice(store, paused.required_fuel())?;
                if last_yield.elapsed() >= YIELD_EVERY {
                    yield_now().await;
                    last_yield = Instant::now();
                }
                call = paused.resume(&mut *store);
            }
            Ok(TypedResumableCall::HostTrap(trapped))
                if trapped.host_error().downcast_ref::<Parked>().is_some() =>
            {
                let pending = store
                    .data_mut()
                    .parked
                    .take()
                    .ok_or_else(|| Error::engine("a parked host call went missing"))?;
                let delivery = pending.answer().await;
                deliver(&mut StoreAccess { store: &mut *store }, delivery).await?;
                last_yield = Instant::now();
                call = trapped.resume(&mut *store, &[]);
            }
            Ok(TypedResumableCall::HostTrap(trapped)) => {
                return Err(map_error(trapped.host_error(), &*store));
            }
            Err(e) => return Err(map_error(&e, &*store)),
        }
    }
}

/// Guest memory and allocator over any wasmi context of the store: the instance's store
/// or a host function's caller.
pub(crate) struct StoreAccess<C> {
    pub(crate) store: C,
}

impl<C: AsContextMut<Data = StoreData>> StoreAccess<C> {
    fn guest(&self) -> Result<Guest> {
        self.store
            .as_context()
            .data()
            .guest
            .ok_or_else(|| Error::engine("a host call arrived before the instance was set up"))
    }
}

impl<C: AsContextMut<Data = StoreData>> GuestMemory for StoreAccess<C> {
    fn read(&mut self, ptr: u32, buf: &mut [u8]) -> Result<()> {
        let g = self.guest()?;
        let data = g.memory.data(&self.store);
        let r = check_range(ptr, buf.len(), data.len())?;
        buf.copy_from_slice(&data[r]);
        Ok(())
    }
    fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<()> {
        let g = self.guest()?;
        let data = g.memory.data_mut(&mut self.store);
        let r = check_range(ptr, bytes.len(), data.len())?;
        data[r].copy_from_slice(bytes);
        Ok(())
    }
    fn size(&mut self) -> u64 {
        self.guest()
            .map_or(0, |g| g.memory.data_size(&self.store) as u64)
    }
}

/// A wasmi context whose store data can be borrowed for as long as the context.
pub(crate) trait StoreContext: AsContextMut<Data = StoreData> + Send {
    fn store_data(&mut self) -> &mut StoreData;
}

impl StoreContext for &mut Store<StoreData> {
    fn store_data(&mut self) -> &mut StoreData {
        Store::data_mut(self)
    }
}

impl StoreContext for &mut wasmi::Caller<'_, StoreData> {
    fn store_data(&mut self) -> &mut StoreData {
        wasmi::Caller::data_mut(self)
    }
}

impl<C: StoreContext> GuestAccess for StoreAccess<C> {
    fn host(&mut self) -> &mut HostContext {
        &mut self.store.store_data().host
    }
    async fn alloc(&mut self, align: u32, size: u32) -> Result<u32> {
        let g = self.guest()?;
        run(&mut self.store, &g.realloc, (0, 0, align, size))
    }
    fn burn(&mut self, units: u64) -> Result<()> {
        burn(&mut self.store, units)
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
    // An active element segment out of its table's bounds: the other engines trap
    // `table-out-of-bounds` while instantiating (found by the differential fuzzer).
    if let wasmi::errors::ErrorKind::Instantiation(
        wasmi::errors::InstantiationError::ElementSegmentDoesNotFit { .. },
    ) = err.kind()
    {
        return Error::trap(TrapKind::TableOutOfBounds);
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
