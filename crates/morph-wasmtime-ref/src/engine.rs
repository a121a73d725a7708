//! The shared engine, its epoch ticker, store state and error mapping.

use morph_runtime::{
    BoxFuture, CompiledModule, Error, HostContext, Instance, InstanceConfig, Limit, Limits, Result,
    Runtime, TrapKind,
};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::{
    AsContextMut, Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig,
    ResourceLimiter, Store, Trap, UpdateDeadline,
};

/// How often the epoch advances: the wall-clock deadline's resolution.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// The engine and its version, bound into compiled-code frames.
pub(crate) const ENGINE_VERSION: &str = "wasmtime 48.0.8";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Mode {
    Component,
    Core,
}

/// The wasmtime backend in one of its two modes. See the crate docs.
#[derive(Clone)]
pub struct WasmtimeRuntime {
    pub(crate) engine: Engine,
    mode: Mode,
    /// The contract's host functions, defined once per runtime.
    linkers: Arc<Linkers>,
}

/// The contract's host functions, built when the runtime is: for core mode, one linker
/// whose host functions may suspend the guest (async, on a fiber) and one whose host
/// functions answer at once (for instances that run inline, see
/// [`InstanceConfig::runs_inline`]).
pub(crate) enum Linkers {
    Core {
        fibers: wasmtime::Linker<StoreData>,
        inline: wasmtime::Linker<StoreData>,
    },
    Component(wasmtime::component::Linker<StoreData>),
}

impl WasmtimeRuntime {
    /// The `wasmtime` backend: the module runs as a component (reference semantics).
    ///
    /// # Errors
    /// `Engine` when wasmtime cannot be configured on this machine.
    pub fn component() -> Result<Self> {
        Self::new(Mode::Component)
    }

    /// The `wasmtime-core` backend: the module runs as a core module through Morph's
    /// Canonical ABI.
    ///
    /// # Errors
    /// `Engine` when wasmtime cannot be configured on this machine.
    pub fn core() -> Result<Self> {
        Self::new(Mode::Core)
    }

    fn new(mode: Mode) -> Result<Self> {
        let mut config = Config::new();
        config
            .consume_fuel(true)
            .epoch_interruption(true)
            .wasm_component_model(mode == Mode::Component)
            .wasm_memory64(false)
            .wasm_multi_memory(false)
            .wasm_gc(false)
            .wasm_tail_call(false)
            .wasm_relaxed_simd(false)
            .max_wasm_stack(1 << 20);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool()));
        let engine = Engine::new(&config).map_err(|e| Error::engine(e.to_string()))?;
        start_ticker(&engine);
        let linkers = Arc::new(match mode {
            Mode::Core => Linkers::Core {
                fibers: crate::core_mode::linker(&engine, false)?,
                inline: crate::core_mode::linker(&engine, true)?,
            },
            Mode::Component => Linkers::Component(crate::component::linker(&engine)?),
        });
        Ok(WasmtimeRuntime {
            engine,
            mode,
            linkers,
        })
    }
}

/// The most instances of one wasmtime backend alive at once in a process (core module
/// instances; a component holds a few). Past it an instantiation fails with an `engine`
/// error naming the limit; a host that runs more at once bounds them with
/// `HostBuilder::max_concurrent_executions`.
pub const MAX_LIVE_INSTANCES: u32 = 4_000;

/// wasmtime's pooling allocator, sized for Morph: memories, tables and fiber stacks are
/// reserved once and reused, so an instance costs no `mmap`/`munmap` (which also took
/// the process's memory-map lock and shot down other cores' TLBs, so that two threads
/// instantiated slower than one). Measured with `morph bench` (wasmtime-core, hello,
/// release): instantiate 15 us -> 5.2 us, instantiate + first call 40 -> 27.6 us,
/// fresh-instance calls/s on one thread 19.7k -> 35.0k.
///
/// Every slot is reset when an instance ends (memory zeroed or decommitted back to the
/// module's image); `tests/concurrency.rs` checks on every backend that what an
/// instance wrote, grown memory included, never reaches the next (CVE-2022-39393 was
/// that leak). Slots are sized for what validation admits: memories up to 4 GiB (the
/// limiter enforces the host's smaller limit), `MAX_TABLES` tables of
/// `MAX_TABLE_ELEMENTS` elements; a module beyond them was refused before.
fn pool() -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_core_instances(MAX_LIVE_INSTANCES)
        .total_component_instances(MAX_LIVE_INSTANCES / 4)
        .total_memories(MAX_LIVE_INSTANCES / 2)
        .total_tables(MAX_LIVE_INSTANCES / 2)
        .total_stacks(MAX_LIVE_INSTANCES / 4)
        .max_tables_per_module(morph_runtime::MAX_TABLES)
        .table_elements(usize::try_from(morph_runtime::MAX_TABLE_ELEMENTS).unwrap_or(usize::MAX))
        .max_memory_size(1 << 32);
    pool
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the engine is dropped.
fn start_ticker(engine: &Engine) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("morph-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("could not start the epoch ticker; wall-clock deadlines are off: {e}");
    }
}

impl Runtime for WasmtimeRuntime {
    fn name(&self) -> &'static str {
        match self.mode {
            Mode::Component => "wasmtime",
            Mode::Core => "wasmtime-core",
        }
    }

    fn compile(&self, wasm: &[u8], limits: &Limits) -> Result<Arc<dyn CompiledModule>> {
        let (wasm, info) = morph_runtime::prepare(wasm, limits)?;
        match &*self.linkers {
            Linkers::Component(l) => crate::component::compile(&self.engine, l, &wasm, info),
            Linkers::Core { fibers, inline } => {
                crate::core_mode::compile(&self.engine, [fibers, inline], &wasm, info)
            }
        }
    }

    fn serialize(&self, module: &dyn CompiledModule) -> Result<Vec<u8>> {
        match self.mode {
            Mode::Component => crate::component::serialize(module),
            Mode::Core => crate::core_mode::serialize(module),
        }
    }

    unsafe fn deserialize(&self, bytes: &[u8]) -> Result<Arc<dyn CompiledModule>> {
        // SAFETY: forwarded contract: the caller guarantees `bytes` came from `serialize`.
        unsafe {
            match &*self.linkers {
                Linkers::Component(l) => crate::component::deserialize(&self.engine, l, bytes),
                Linkers::Core { fibers, inline } => {
                    crate::core_mode::deserialize(&self.engine, [fibers, inline], bytes)
                }
            }
        }
    }

    fn instantiate<'a>(
        &'a self,
        module: &'a dyn CompiledModule,
        config: InstanceConfig,
    ) -> BoxFuture<'a, Result<Box<dyn Instance>>> {
        match self.mode {
            Mode::Component => {
                Box::pin(crate::component::instantiate(&self.engine, module, config))
            }
            Mode::Core => Box::pin(crate::core_mode::instantiate(&self.engine, module, config)),
        }
    }
}

/// What every store holds: Morph's host state and the memory limiter's view of it.
pub(crate) struct StoreData {
    pub(crate) host: HostContext,
    /// Deterministic metering: the per-call budget and the trap function's index.
    pub(crate) metered: Option<(u64, u32)>,
    /// Core mode only: the guest's memory and allocator, once instantiated.
    pub(crate) core: Option<crate::core_mode::Exports>,
    /// The guest runs inline: calls with `call`, not on a fiber (see
    /// [`InstanceConfig::runs_inline`]).
    pub(crate) inline: bool,
    /// Component mode: what wasmtime lifts next, if it lifts anything.
    pub(crate) crossing: Crossing,
    /// Component mode: host calls of the current guest call already charged to native
    /// fuel (see `component::watch_crossings`).
    pub(crate) charged_calls: u64,
}

/// What a component store's next lifting is for, kept by its call hook (see
/// `component::watch_crossings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Crossing {
    /// Nothing is being lifted.
    None,
    /// A host call's arguments, bounded by the transfer budget.
    HostCall,
    /// An export's answer, bounded by the output limit.
    Result,
}

impl ResourceLimiter for StoreData {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
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
    ) -> wasmtime::Result<bool> {
        Ok(desired as u64 <= morph_runtime::MAX_TABLE_ELEMENTS)
    }
}

/// A store with limits. Each epoch tick (every [`EPOCH_TICK`]) the store checks the
/// checkpoint's deadline: past it the guest is interrupted, otherwise it yields to the
/// executor, so that a long guest call never holds a worker for more than a tick and a
/// dropped call future stops it within one. A store that runs `inline` has no executor
/// to yield to (its caller blocks on the call anyway) and only checks the deadline.
pub(crate) fn new_store(
    engine: &Engine,
    config: InstanceConfig,
    info: &morph_runtime::ModuleInfo,
    inline: bool,
) -> Store<StoreData> {
    let mut store = Store::new(
        engine,
        StoreData {
            host: HostContext::new(config),
            metered: info.metered.map(|b| (b, info.meter_trap_func)),
            core: None,
            inline,
            crossing: Crossing::None,
            charged_calls: 0,
        },
    );
    store.limiter(|d| d as &mut dyn ResourceLimiter);
    store.epoch_deadline_callback(|cx| {
        let data = cx.data();
        Ok(match (data.host.past_deadline(), data.inline) {
            (true, _) => UpdateDeadline::Interrupt,
            (false, false) => UpdateDeadline::Yield(1),
            (false, true) => UpdateDeadline::Continue(1),
        })
    });
    store
}

/// Arms fuel and the epoch deadline for a guest call that begins now.
pub(crate) fn arm(store: &mut Store<StoreData>) -> Result<()> {
    // In deterministic metering the module counts itself; native fuel stays out of the way.
    let fuel = match store.data().metered {
        Some(_) => u64::MAX,
        None => store.data().host.limits().fuel.unwrap_or(u64::MAX),
    };
    store
        .set_fuel(fuel)
        .map_err(|e| Error::engine(e.to_string()))?;
    store.data_mut().charged_calls = 0;
    store.set_epoch_deadline(1);
    Ok(())
}

/// Takes `units` of native fuel from the current call (a host call's cost).
///
/// # Errors
/// `LimitExceeded(cpu)` when less is left.
pub(crate) fn burn(mut cx: impl AsContextMut<Data = StoreData>, units: u64) -> Result<()> {
    let mut cx = cx.as_context_mut();
    let left = cx.get_fuel().map_err(|e| Error::engine(e.to_string()))?;
    let Some(rest) = left.checked_sub(units) else {
        let max = cx.data().host.limits().fuel.unwrap_or(u64::MAX);
        return Err(Error::limit(Limit::Cpu, max, max));
    };
    cx.set_fuel(rest).map_err(|e| Error::engine(e.to_string()))
}

/// Fuel used in the current call.
pub(crate) fn fuel_used(store: &Store<StoreData>) -> u64 {
    if store.data().metered.is_some() {
        return 0;
    }
    let budget = store.data().host.limits().fuel.unwrap_or(u64::MAX);
    budget.saturating_sub(store.get_fuel().unwrap_or(0))
}

/// Maps a wasmtime error from a guest call to Morph's taxonomy.
pub(crate) fn map_error(err: wasmtime::Error, store: &Store<StoreData>) -> Error {
    map_error_data(err, store.data())
}

/// [`map_error`] from the store's data, for use inside host calls.
pub(crate) fn map_error_data(err: wasmtime::Error, data: &StoreData) -> Error {
    if let Some(e) = err.downcast_ref::<Error>() {
        return e.clone();
    }
    let limits = data.host.limits();
    if let Some(trap) = err.downcast_ref::<Trap>() {
        if let (Some((budget, trap_func)), Trap::UnreachableCodeReached) = (data.metered, trap)
            && err
                .downcast_ref::<wasmtime::WasmBacktrace>()
                .and_then(|bt| bt.frames().first())
                .is_some_and(|f| f.func_index() == trap_func)
        {
            return Error::limit(Limit::Cpu, budget, budget);
        }
        // A host call from a start function in component mode: wit-component routes
        // imports through its shim module's table, which is filled only once the core
        // module has been instantiated, so the call lands on a null entry. That is the
        // component model forbidding to leave the instance, as the core backends report.
        let kind = match trap {
            Trap::OutOfFuel => {
                let max = limits.fuel.unwrap_or(u64::MAX);
                return Error::limit(Limit::Cpu, max, max);
            }
            Trap::Interrupt => return data.host.timeout_error(),
            Trap::CannotLeaveComponent => TrapKind::CannotLeave,
            Trap::StackOverflow => TrapKind::StackOverflow,
            Trap::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
            Trap::TableOutOfBounds => TrapKind::TableOutOfBounds,
            Trap::IndirectCallToNull | Trap::BadSignature => TrapKind::IndirectCall,
            Trap::IntegerOverflow => TrapKind::IntegerOverflow,
            Trap::IntegerDivisionByZero => TrapKind::IntegerDivisionByZero,
            Trap::BadConversionToInteger => TrapKind::BadConversionToInteger,
            Trap::UnreachableCodeReached => TrapKind::Unreachable,
            _ => TrapKind::Other,
        };
        return data.host.explain_trap(Error::trap(kind));
    }
    if let Some(requested) = data.host.refused_memory() {
        return Error::limit(Limit::Memory, requested, limits.max_memory_bytes);
    }
    Error::engine(format!("{err:#}"))
}
