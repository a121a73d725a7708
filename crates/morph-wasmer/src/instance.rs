//! Instances: host functions, the guest-memory glue, limits per call, error mapping.

use crate::engine::WasmerModule;
use crate::tunables::{MemoryCap, instantiating};
use crate::watchdog;
use morph_abi::ExtensionInfo;
use morph_runtime::START_EXPORT;
use morph_runtime::{
    CoreInstance, Error, GuestMemory, HostCaller, HostContext, IMPORTS, Instance, InstanceConfig,
    Limit, ModuleInfo, PostReturn, Result, TrapKind, Usage, check_range, dispatch,
};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmer::sys::vm::TrapCode;
use wasmer::{
    AsStoreMut, AsStoreRef, Function, FunctionEnv, FunctionEnvMut, FunctionType, Global, Imports,
    InstantiationError, Memory, RuntimeError, Store, Type, TypedFunction, Value, WasmTypeList,
};

/// Names of the globals wasmer's metering middleware exports.
const POINTS_REMAINING: &str = "wasmer_metering_remaining_points";
const POINTS_EXHAUSTED: &str = "wasmer_metering_points_exhausted";

type Realloc = TypedFunction<(u32, u32, u32, u32), u32>;

/// How the instance counts CPU.
enum Meter {
    /// wasmer's metering middleware: two globals it exports.
    Native {
        remaining: Global,
        exhausted: Global,
    },
    /// Morph's deterministic metering: the module's own counter (`meter::FUEL_GLOBAL`).
    Deterministic { fuel: Global, budget: u64 },
}

/// What the store holds for host functions and error mapping.
struct Env {
    host: HostContext,
    memory: Option<Memory>,
    realloc: Option<Realloc>,
    meter: Option<Meter>,
    cap: Arc<MemoryCap>,
    /// When the current call began.
    started: Instant,
}

impl Env {
    /// The CPU budget of a call, as the limit errors report it.
    fn budget(&self) -> u64 {
        match &self.meter {
            Some(Meter::Deterministic { budget, .. }) => *budget,
            _ => self.host.limits().fuel.unwrap_or(u64::MAX),
        }
    }
}

/// Maps a wasmer error from a guest call to Morph's taxonomy: Morph errors raised by
/// host calls pass through unchanged; interrupts, fuel and refused memory become limits;
/// traps become [`TrapKind`]s.
fn map_error(err: RuntimeError, cx: &mut FunctionEnvMut<'_, Env>) -> Error {
    if let Some(e) = err.downcast_ref::<Error>() {
        return e.clone();
    }
    let (env, mut store) = cx.data_and_store_mut();
    if let Some(requested) = env.cap.refused() {
        env.host.memory_refused(requested);
    }
    let code = err.clone().to_trap();
    let limits = env.host.limits();
    if code == Some(TrapCode::HostInterrupt) {
        let used = u64::try_from(env.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let max = u64::try_from(limits.timeout.as_millis()).unwrap_or(u64::MAX);
        return Error::limit(Limit::Timeout, used, max);
    }
    let out_of_fuel = match &env.meter {
        Some(Meter::Native { exhausted, .. }) => {
            matches!(exhausted.get(&mut store), Value::I32(n) if n != 0)
        }
        Some(Meter::Deterministic { fuel, .. }) => {
            matches!(fuel.get(&mut store), Value::I64(v) if morph_runtime::meter::exhausted(v))
        }
        None => false,
    };
    if out_of_fuel {
        let budget = env.budget();
        return Error::limit(Limit::Cpu, budget, budget);
    }
    if let Some(code) = code {
        let kind = match code {
            TrapCode::StackOverflow => TrapKind::StackOverflow,
            TrapCode::HeapAccessOutOfBounds => TrapKind::MemoryOutOfBounds,
            TrapCode::TableAccessOutOfBounds => TrapKind::TableOutOfBounds,
            TrapCode::IndirectCallToNull | TrapCode::BadSignature => TrapKind::IndirectCall,
            TrapCode::IntegerOverflow => TrapKind::IntegerOverflow,
            TrapCode::IntegerDivisionByZero => TrapKind::IntegerDivisionByZero,
            TrapCode::BadConversionToInteger => TrapKind::BadConversionToInteger,
            TrapCode::UnreachableCodeReached => TrapKind::Unreachable,
            _ => TrapKind::Other,
        };
        return env.host.explain_trap(Error::trap(kind));
    }
    if let Some(requested) = env.host.refused_memory() {
        return Error::limit(Limit::Memory, requested, limits.max_memory_bytes);
    }
    Error::engine(err.message())
}

/// What is left of the budget: native points, or the module's own counter (negative
/// when exhausted).
fn fuel_left(env: &Env, store: &mut impl AsStoreMut) -> Option<i128> {
    match &env.meter {
        Some(Meter::Native {
            remaining,
            exhausted,
        }) => match (exhausted.get(store), remaining.get(store)) {
            (Value::I32(0), Value::I64(v)) => Some(i128::from(v as u64)),
            _ => Some(-1),
        },
        Some(Meter::Deterministic { fuel, .. }) => match fuel.get(store) {
            Value::I64(v) => Some(i128::from(v)),
            _ => None,
        },
        None => None,
    }
}

fn read(memory: &Memory, store: &impl AsStoreRef, ptr: u32, buf: &mut [u8]) -> Result<()> {
    let view = memory.view(store);
    let size = usize::try_from(view.data_size()).unwrap_or(usize::MAX);
    check_range(ptr, buf.len(), size)?;
    view.read(u64::from(ptr), buf)
        .map_err(|e| Error::bad_guest_data(format!("reading guest memory: {e}")))
}

fn write(memory: &Memory, store: &impl AsStoreRef, ptr: u32, data: &[u8]) -> Result<()> {
    let view = memory.view(store);
    let size = usize::try_from(view.data_size()).unwrap_or(usize::MAX);
    check_range(ptr, data.len(), size)?;
    view.write(u64::from(ptr), data)
        .map_err(|e| Error::bad_guest_data(format!("writing guest memory: {e}")))
}

fn not_ready() -> Error {
    Error::engine("a host call arrived before the instance was set up")
}

/// Guest memory seen from inside a host call.
struct CallerMem<'a, 'b> {
    cx: &'a mut FunctionEnvMut<'b, Env>,
}

impl GuestMemory for CallerMem<'_, '_> {
    fn read(&mut self, ptr: u32, buf: &mut [u8]) -> Result<()> {
        let (env, store) = self.cx.data_and_store_mut();
        read(env.memory.as_ref().ok_or_else(not_ready)?, &store, ptr, buf)
    }
    fn write(&mut self, ptr: u32, data: &[u8]) -> Result<()> {
        let (env, store) = self.cx.data_and_store_mut();
        write(
            env.memory.as_ref().ok_or_else(not_ready)?,
            &store,
            ptr,
            data,
        )
    }
    fn alloc(&mut self, align: u32, size: u32) -> Result<u32> {
        let realloc = self.cx.data().realloc.clone().ok_or_else(not_ready)?;
        realloc
            .call(self.cx, 0, 0, align, size)
            .map_err(|e| map_error(e, self.cx))
    }
}

impl HostCaller for CallerMem<'_, '_> {
    fn host(&mut self) -> &mut HostContext {
        &mut self.cx.data_mut().host
    }
}

/// The contract's host functions, each a call to [`dispatch`].
fn imports(store: &mut Store, env: &FunctionEnv<Env>) -> Imports {
    let mut imports = Imports::new();
    for spec in IMPORTS {
        let ty = FunctionType::new(vec![Type::I32; spec.params], vec![]);
        let func = spec.func;
        let f = Function::new_with_env(store, env, ty, move |mut cx, params| {
            let mut args = [0u32; 16];
            for (slot, v) in args.iter_mut().zip(params) {
                *slot = match v {
                    Value::I32(x) => *x as u32,
                    _ => 0,
                };
            }
            let n = params.len().min(args.len());
            dispatch(func, &args[..n], &mut CallerMem { cx: &mut cx })
                .map(|()| Vec::new())
                .map_err(|e| RuntimeError::user(Box::new(e)))
        });
        imports.define(spec.module, spec.name, f);
    }
    imports
}

/// A wasmer store that may move between threads between calls.
///
/// wasmer 7 made `Store` `!Send` (wasmerio/wasmer#7001) because it may hold an
/// `on_called` callback without a `Send` bound and raw pointers into its own VM objects.
struct SendStore(Store);

// SAFETY: everything this crate puts in the store is `Send`: the `Env` (its
// `FunctionEnv` requires `T: Send`), the host-function closures (`new_with_env`
// requires `Send + Sync`) and the capped memories (`Send + Sync`). The raw pointers
// inside point into heap objects the store owns, which move with it. The only
// thread-affine state wasmer keeps (the current store context and the host-interrupt
// registration, both thread-locals) is installed when a call enters wasm and removed
// when it returns; a `WasmerInstance` is `!Sync` and every call takes `&mut self`, so no
// call is in flight when the store moves. The `on_called` callback (the reason wasmer
// dropped `Send`) is only set by asyncify-style embedders; this crate never sets it.
unsafe impl Send for SendStore {}

impl std::ops::Deref for SendStore {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.0
    }
}

impl std::ops::DerefMut for SendStore {
    fn deref_mut(&mut self) -> &mut Store {
        &mut self.0
    }
}

struct WasmerInstance {
    store: SendStore,
    env: FunctionEnv<Env>,
    memory: Memory,
    realloc: Realloc,
    describe: TypedFunction<(), u32>,
    execute: TypedFunction<(u32, u32, u32, u32), u32>,
    post_describe: Option<TypedFunction<u32, ()>>,
    post_execute: Option<TypedFunction<u32, ()>>,
    interrupter: watchdog::Interrupter,
    deadline: Instant,
    info: ModuleInfo,
    /// Fuel used and time taken by the current call, updated after each entry into wasm.
    fuel: u64,
    elapsed: Duration,
}

pub(crate) fn instantiate(m: &WasmerModule, config: InstanceConfig) -> Result<Box<dyn Instance>> {
    let limits = config.limits.clone();
    if m.info.memory_min_bytes > limits.max_memory_bytes {
        return Err(Error::limit(
            Limit::Memory,
            m.info.memory_min_bytes,
            limits.max_memory_bytes,
        ));
    }
    let mut store = Store::new(m.engine.clone());
    let cap = MemoryCap::new(limits.max_memory_bytes);
    let env = FunctionEnv::new(
        &mut store,
        Env {
            host: HostContext::new(config.handler, config.label, config.limits),
            memory: None,
            realloc: None,
            meter: None,
            cap: cap.clone(),
            started: Instant::now(),
        },
    );
    let imports = imports(&mut store, &env);
    // No guest code runs here: the start function was turned into an export at compile
    // time (see `start.rs`) and runs below under the call limits.
    let instance = instantiating(&cap, || {
        wasmer::Instance::new(&mut store, &m.module, &imports).map_err(Box::new)
    })
    .map_err(|e| match *e {
        InstantiationError::Start(err) => map_error(err, &mut env.clone().into_mut(&mut store)),
        other => Error::engine(format!("wasmer could not instantiate the module: {other}")),
    })?;

    let missing = |name: &str, e: wasmer::ExportError| {
        Error::engine(format!("export `{name}` is missing after compilation: {e}"))
    };
    let exports = &instance.exports;
    fn typed<A: WasmTypeList, R: WasmTypeList>(
        exports: &wasmer::Exports,
        store: &Store,
        name: &str,
    ) -> Result<TypedFunction<A, R>> {
        exports
            .get_typed_function(store, name)
            .map_err(|e| Error::engine(format!("export `{name}` is missing or mistyped: {e}")))
    }
    let memory = exports
        .get_memory("memory")
        .map_err(|e| missing("memory", e))?
        .clone();
    let realloc: Realloc = typed(exports, &store, "cabi_realloc")?;
    let describe = typed(exports, &store, "describe")?;
    let execute = typed(exports, &store, "execute")?;
    let post_describe = match m.info.has_post_describe {
        true => Some(typed(exports, &store, "cabi_post_describe")?),
        false => None,
    };
    let post_execute = match m.info.has_post_execute {
        true => Some(typed(exports, &store, "cabi_post_execute")?),
        false => None,
    };
    let start: Option<TypedFunction<(), ()>> = match m.info.has_start {
        true => Some(typed(exports, &store, START_EXPORT)?),
        false => None,
    };
    let global = |name: &str| {
        exports
            .get_global(name)
            .cloned()
            .map_err(|e| missing(name, e))
    };
    let meter = match m.info.metered {
        Some(budget) => Meter::Deterministic {
            fuel: global(morph_runtime::meter::FUEL_GLOBAL)?,
            budget,
        },
        None => Meter::Native {
            remaining: global(POINTS_REMAINING)?,
            exhausted: global(POINTS_EXHAUSTED)?,
        },
    };
    {
        let e = env.as_mut(&mut store);
        e.memory = Some(memory.clone());
        e.realloc = Some(realloc.clone());
        e.meter = Some(meter);
    }
    let interrupter = watchdog::interrupter(&store);
    let mut inst = WasmerInstance {
        store: SendStore(store),
        env,
        memory,
        realloc,
        describe,
        execute,
        post_describe,
        post_execute,
        interrupter,
        deadline: Instant::now(),
        info: m.info.clone(),
        fuel: 0,
        elapsed: Duration::ZERO,
    };
    inst.begin()?;
    if let Some(start) = start {
        inst.run(true, |store| start.call(store))?;
    }
    Ok(Box::new(inst))
}

impl WasmerInstance {
    /// Enters wasm once under the current call's deadline, then counts the fuel used and
    /// maps an error. `entry` says whether `f` calls an export that starts a guest call
    /// (deterministic metering resets its counter in those; `cabi_realloc` continues it).
    fn run<T>(
        &mut self,
        entry: bool,
        f: impl FnOnce(&mut Store) -> std::result::Result<T, RuntimeError>,
    ) -> Result<T> {
        let before = {
            let mut cx = self.env.clone().into_mut(&mut self.store);
            let (env, mut store) = cx.data_and_store_mut();
            match &env.meter {
                Some(Meter::Deterministic { budget, .. }) if entry => Some(i128::from(*budget)),
                Some(Meter::Deterministic { .. }) => fuel_left(env, &mut store),
                _ => None,
            }
        };
        let r = if watchdog::past(self.deadline) {
            Err(RuntimeError::user(Box::new(self.timeout())))
        } else {
            let _armed = watchdog::arm(&self.interrupter, self.deadline);
            f(&mut self.store)
        };
        let mut cx = self.env.clone().into_mut(&mut self.store);
        let (env, mut store) = cx.data_and_store_mut();
        let left = fuel_left(env, &mut store).unwrap_or(0).max(0);
        match before {
            // Deterministic: add what this entry into wasm used.
            Some(before) => {
                let used = u64::try_from(before - left).unwrap_or(0);
                self.fuel = self.fuel.saturating_add(used);
            }
            // Native: the points were set once for the whole guest call.
            None => {
                let budget = i128::from(env.budget());
                self.fuel = u64::try_from(budget - left).unwrap_or(0);
            }
        }
        self.elapsed = env.started.elapsed();
        r.map_err(|e| map_error(e, &mut cx))
    }

    fn timeout(&mut self) -> Error {
        let env = self.env.as_ref(&self.store);
        let used = u64::try_from(env.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let max = u64::try_from(env.host.limits().timeout.as_millis()).unwrap_or(u64::MAX);
        Error::limit(Limit::Timeout, used, max)
    }
}

impl GuestMemory for WasmerInstance {
    fn read(&mut self, ptr: u32, buf: &mut [u8]) -> Result<()> {
        read(&self.memory, &self.store, ptr, buf)
    }
    fn write(&mut self, ptr: u32, data: &[u8]) -> Result<()> {
        write(&self.memory, &self.store, ptr, data)
    }
    fn alloc(&mut self, align: u32, size: u32) -> Result<u32> {
        let realloc = self.realloc.clone();
        self.run(false, |store| realloc.call(store, 0, 0, align, size))
    }
}

impl HostCaller for WasmerInstance {
    fn host(&mut self) -> &mut HostContext {
        &mut self.env.as_mut(&mut self.store).host
    }
}

impl CoreInstance for WasmerInstance {
    fn begin(&mut self) -> Result<()> {
        let mut cx = self.env.clone().into_mut(&mut self.store);
        let (env, mut store) = cx.data_and_store_mut();
        env.host.begin_call();
        env.cap.reset();
        env.started = Instant::now();
        let limits = env.host.limits();
        self.deadline = env
            .started
            .checked_add(limits.timeout)
            .unwrap_or(env.started + Duration::from_secs(86_400 * 365));
        if let Some(Meter::Native {
            remaining,
            exhausted,
        }) = &env.meter
        {
            let points = limits.fuel.unwrap_or(u64::MAX);
            let set = |g: &Global, v: Value, store: &mut wasmer::StoreMut<'_>| {
                g.set(store, v)
                    .map_err(|e| Error::engine(format!("could not set the fuel: {}", e.message())))
            };
            set(remaining, Value::I64(points as i64), &mut store)?;
            set(exhausted, Value::I32(0), &mut store)?;
        }
        self.fuel = 0;
        self.elapsed = Duration::ZERO;
        Ok(())
    }

    fn call_describe(&mut self) -> Result<u32> {
        let f = self.describe.clone();
        self.run(true, |store| f.call(store))
    }

    fn call_execute(&mut self, [a, b, c, d]: [u32; 4]) -> Result<u32> {
        let f = self.execute.clone();
        self.run(true, |store| f.call(store, a, b, c, d))
    }

    fn call_post_return(&mut self, which: PostReturn, retptr: u32) -> Result<()> {
        let f = match which {
            PostReturn::Describe => self.post_describe.clone(),
            PostReturn::Execute => self.post_execute.clone(),
        };
        match f {
            Some(f) => self.run(true, |store| f.call(store, retptr)),
            None => Ok(()),
        }
    }
}

impl Instance for WasmerInstance {
    fn describe(&mut self) -> Result<ExtensionInfo> {
        let info = self.info.clone();
        morph_runtime::core::describe(self, &info)
    }

    fn execute(&mut self, action: &str, input: &str) -> Result<String> {
        let info = self.info.clone();
        morph_runtime::core::execute(self, &info, action, input)
    }

    fn usage(&self) -> Usage {
        let env = self.env.as_ref(&self.store);
        Usage {
            fuel: self.fuel,
            host_calls: env.host.host_calls(),
            memory_bytes: self.memory.view(&*self.store).data_size(),
            elapsed: self.elapsed,
        }
    }
}
