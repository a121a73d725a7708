//! Instances: host functions, the guest-memory glue, limits per call, error mapping, and
//! the blocking pool guest calls run on.
//!
//! **Async.** wasmer 7.3's own async support is experimental, `!Send` and
//! single-threaded, so a guest call runs synchronously on a thread of tokio's blocking
//! pool (at most [`MAX_CONCURRENT_CALLS`] at once), driving the shared per-call protocol;
//! a host call whose answer needs the embedder's async handler blocks that thread on it
//! with the runtime's `Handle::block_on`. No `.await` ever happens inside a wasmer call
//! (the `SendStore` argument below depends on it). Dropping a call's future interrupts
//! the guest through the watchdog; the instance is then gone (`Cancelled`).

use crate::engine::WasmerModule;
use crate::tunables::{MemoryCap, instantiating};
use crate::watchdog;
use morph_abi::ExtensionInfo;
use morph_runtime::protocol::{
    Answering, Export, GuestAccess, GuestCalls, admit, deliver, describe, execute,
    is_waiting_synchronously, now, start,
};
use morph_runtime::{
    BoxFuture, Error, ErrorKind, ExecuteCall, GuestMemory, HostContext, IMPORTS, Instance,
    InstanceConfig, Limit, ModuleInfo, Result, START_EXPORT, TrapKind, Usage, check_range,
};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;
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
    /// The tokio runtime of the task that started the current call: host calls block on
    /// their handler with it.
    runtime: Option<tokio::runtime::Handle>,
}

impl Env {
    /// Takes `units` of native fuel (wasmer's metering points) from the current call: a
    /// host call's cost. Nothing to take when the call is unmetered.
    ///
    /// # Errors
    /// `LimitExceeded(cpu)` when fewer points are left.
    fn burn(&self, store: &mut wasmer::StoreMut<'_>, units: u64) -> Result<()> {
        let Some(Meter::Native {
            remaining,
            exhausted,
        }) = &self.meter
        else {
            return Ok(());
        };
        let engine = |e: wasmer::RuntimeError| {
            Error::engine(format!("could not set the fuel: {}", e.message()))
        };
        let left = match remaining.get(store) {
            Value::I64(points) => points as u64,
            _ => 0,
        };
        match left.checked_sub(units) {
            Some(rest) => remaining
                .set(store, Value::I64(rest as i64))
                .map_err(engine),
            None => {
                remaining.set(store, Value::I64(0)).map_err(engine)?;
                exhausted.set(store, Value::I32(1)).map_err(engine)?;
                let max = self.budget();
                Err(Error::limit(Limit::Cpu, max, max))
            }
        }
    }

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
    // The watchdog interrupts a call only once its deadline has passed. Singlepass code
    // interrupted there sometimes reports another trap (`HeapAccessOutOfBounds` was seen
    // under load, `tests/concurrency.rs`): a trap past the deadline is the deadline.
    if code == Some(TrapCode::HostInterrupt) || (code.is_some() && env.host.past_deadline()) {
        return env.host.timeout_error();
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
    fn size(&mut self) -> u64 {
        let (env, store) = self.cx.data_and_store_mut();
        env.memory
            .as_ref()
            .map_or(0, |m| m.view(&store).data_size())
    }
}

impl GuestAccess for CallerMem<'_, '_> {
    fn host(&mut self) -> &mut HostContext {
        &mut self.cx.data_mut().host
    }
    async fn alloc(&mut self, align: u32, size: u32) -> Result<u32> {
        let realloc = self.cx.data().realloc.clone().ok_or_else(not_ready)?;
        realloc
            .call(self.cx, 0, 0, align, size)
            .map_err(|e| map_error(e, self.cx))
    }
    fn burn(&mut self, units: u64) -> Result<()> {
        let (env, mut store) = self.cx.data_and_store_mut();
        env.burn(&mut store, units)
    }
}

// SAFETY-relevant: `CallerMem` is only ever used on the thread running the wasmer call;
// `GuestAccess` asks for `Send` because the async backends move their views across
// awaits, which never happens here (every future below is driven by `now` in place).
// SAFETY: see above; the view is never sent to another thread.
unsafe impl Send for CallerMem<'_, '_> {}

/// Waits for `f` on this thread: with the tokio runtime that started the call when there
/// is one (timers and I/O of the handler need it), otherwise by parking the thread.
fn block_on<F: Future>(runtime: Option<&tokio::runtime::Handle>, f: F) -> F::Output {
    match runtime {
        Some(rt) => rt.block_on(f),
        None => park_on(f),
    }
}

/// A minimal executor: polls `f`, parking the thread until it is woken.
fn park_on<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

/// One host call: through the shared checkpoint; when the handler must be awaited, this
/// thread blocks on it (see the module docs).
fn host_call(
    cx: &mut FunctionEnvMut<'_, Env>,
    func: morph_runtime::HostFunc,
    args: &[u32],
) -> Result<()> {
    let mut mem = CallerMem { cx };
    let pending = admit(&mut mem, func, args)?;
    let delivery = match pending.try_answer() {
        Answering::Ready(d) => d,
        Answering::Waiting(pending) => {
            let runtime = mem.cx.data().runtime.clone();
            block_on(runtime.as_ref(), pending.answer())
        }
    };
    now(deliver(&mut mem, delivery)).unwrap_or_else(|| {
        Err(Error::engine(
            "lowering a host call's answer did not complete",
        ))
    })
}

/// The contract's host functions, each a call to [`host_call`].
fn imports(store: &mut Store, env: &FunctionEnv<Env>) -> Imports {
    let mut imports = Imports::new();
    for spec in IMPORTS {
        let ty = FunctionType::new(vec![Type::I32; spec.params], vec![]);
        let func = spec.func;
        let f = Function::new_with_env(store, env, ty, move |mut cx, params| {
            let mut args = [0u32; 16];
            let n = params.len().min(args.len());
            for (slot, v) in args.iter_mut().zip(params) {
                *slot = v.i32().unwrap_or(0) as u32;
            }
            host_call(&mut cx, func, &args[..n])
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
// when it returns; a guest call runs start to finish on one blocking-pool thread and
// never awaits inside wasm (host calls block that thread), so no call is in flight when
// the store moves. The `on_called` callback (the reason wasmer dropped `Send`) is only
// set by asyncify-style embedders; this crate never sets it.
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

/// One instance: the store and the exports the protocol enters.
struct WasmerGuest {
    store: SendStore,
    env: FunctionEnv<Env>,
    memory: Memory,
    realloc: Realloc,
    describe: TypedFunction<(), u32>,
    execute: TypedFunction<(u32, u32, u32, u32), u32>,
    post_describe: Option<TypedFunction<u32, ()>>,
    post_execute: Option<TypedFunction<u32, ()>>,
    start: Option<TypedFunction<(), ()>>,
    interrupter: watchdog::Interrupter,
    info: ModuleInfo,
    name: &'static str,
    /// Fuel used by the current call: native fuel after each entry into wasm, the
    /// module's own count after `describe` or `execute` (deterministic metering).
    fuel: u64,
}

pub(crate) async fn instantiate(
    m: &WasmerModule,
    name: &'static str,
    config: InstanceConfig,
) -> Result<Box<dyn Instance>> {
    let mut inst = WasmerInstance {
        guest: Some(Box::new(build(m, name, config)?)),
    };
    inst.on_pool(|g| now(start(g)).unwrap_or_else(|| Err(stalled())))
        .await?;
    Ok(Box::new(inst))
}

/// Instantiates the module in a new store (no guest code runs).
fn build(m: &WasmerModule, name: &'static str, config: InstanceConfig) -> Result<WasmerGuest> {
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
            host: HostContext::new(config),
            memory: None,
            realloc: None,
            meter: None,
            cap: cap.clone(),
            runtime: None,
        },
    );
    let imports = imports(&mut store, &env);
    // No guest code runs here: the start function was turned into an export at compile
    // time and runs below under the call protocol.
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
    fn optional<A: WasmTypeList, R: WasmTypeList>(
        exports: &wasmer::Exports,
        store: &Store,
        present: bool,
        name: &str,
    ) -> Result<Option<TypedFunction<A, R>>> {
        match present {
            true => typed(exports, store, name).map(Some),
            false => Ok(None),
        }
    }
    let memory = exports
        .get_memory("memory")
        .map_err(|e| missing("memory", e))?
        .clone();
    let realloc: Realloc = typed(exports, &store, "cabi_realloc")?;
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
    let guest = WasmerGuest {
        describe: typed(exports, &store, "describe")?,
        execute: typed(exports, &store, "execute")?,
        post_describe: optional(
            exports,
            &store,
            m.info.has_post_describe,
            "cabi_post_describe",
        )?,
        post_execute: optional(
            exports,
            &store,
            m.info.has_post_execute,
            "cabi_post_execute",
        )?,
        start: optional(exports, &store, m.info.has_start, START_EXPORT)?,
        interrupter: watchdog::interrupter(&store),
        realloc: realloc.clone(),
        memory: memory.clone(),
        env: env.clone(),
        info: m.info.clone(),
        name,
        fuel: 0,
        store: SendStore(store),
    };
    let mut guest = guest;
    let e = guest.env.as_mut(&mut guest.store);
    e.memory = Some(memory);
    e.realloc = Some(realloc);
    e.meter = Some(meter);
    Ok(guest)
}

fn stalled() -> Error {
    Error::engine("a wasmer call waited on an executor")
}

impl WasmerGuest {
    /// Enters wasm once under the current call's deadline, then counts the native fuel
    /// used and maps an error.
    fn run<T>(
        &mut self,
        f: impl FnOnce(&mut Store) -> std::result::Result<T, RuntimeError>,
    ) -> Result<T> {
        let (deterministic, deadline) = {
            let cx = self.env.as_ref(&self.store);
            let deterministic = matches!(cx.meter, Some(Meter::Deterministic { .. }));
            (deterministic, cx.host.deadline())
        };
        let deadline =
            deadline.unwrap_or_else(|| Instant::now() + std::time::Duration::from_secs(86_400));
        let r = if watchdog::past(deadline) {
            let mut cx = self.env.clone().into_mut(&mut self.store);
            Err(RuntimeError::user(Box::new(
                cx.data_mut().host.timeout_error(),
            )))
        } else {
            let _armed = watchdog::arm(&self.interrupter, deadline);
            f(&mut self.store)
        };
        let mut cx = self.env.clone().into_mut(&mut self.store);
        let (env, mut store) = cx.data_and_store_mut();
        // Native: the points were set once for the whole guest call. Deterministic: the
        // module counts the whole call itself (`count_instructions`); adding up each
        // entry's difference counted the argument allocations twice, since `execute`
        // continues the budget they started.
        if !deterministic {
            let left = fuel_left(env, &mut store).unwrap_or(0).max(0);
            let budget = i128::from(env.budget());
            self.fuel = u64::try_from(budget - left).unwrap_or(0);
        }
        r.map_err(|e| map_error(e, &mut cx))
    }

    /// In deterministic metering, reads how many instructions the guest call counted,
    /// right after `describe` or `execute` returned or trapped (before a post-return
    /// function resets the counter): the same number on every engine.
    fn count_instructions(&mut self) {
        let mut cx = self.env.clone().into_mut(&mut self.store);
        let (env, mut store) = cx.data_and_store_mut();
        if let Some(Meter::Deterministic { budget, .. }) = &env.meter {
            let budget = i128::from(*budget);
            let left = fuel_left(env, &mut store).unwrap_or(0).max(0);
            self.fuel = u64::try_from(budget - left).unwrap_or(0);
        }
    }
}

impl GuestMemory for WasmerGuest {
    fn read(&mut self, ptr: u32, buf: &mut [u8]) -> Result<()> {
        read(&self.memory, &self.store, ptr, buf)
    }
    fn write(&mut self, ptr: u32, data: &[u8]) -> Result<()> {
        write(&self.memory, &self.store, ptr, data)
    }
    fn size(&mut self) -> u64 {
        self.memory.view(&*self.store).data_size()
    }
}

impl GuestAccess for WasmerGuest {
    fn host(&mut self) -> &mut HostContext {
        &mut self.env.as_mut(&mut self.store).host
    }
    async fn alloc(&mut self, align: u32, size: u32) -> Result<u32> {
        let realloc = self.realloc.clone();
        self.run(|store| realloc.call(store, 0, 0, align, size))
    }
    fn burn(&mut self, units: u64) -> Result<()> {
        let mut cx = self.env.clone().into_mut(&mut self.store);
        let (env, mut store) = cx.data_and_store_mut();
        env.burn(&mut store, units)
    }
}

impl GuestCalls for WasmerGuest {
    fn backend(&self) -> &'static str {
        self.name
    }

    fn module(&self) -> &ModuleInfo {
        &self.info
    }

    fn arm(&mut self) -> Result<()> {
        let mut cx = self.env.clone().into_mut(&mut self.store);
        let (env, mut store) = cx.data_and_store_mut();
        env.cap.reset();
        if let Some(Meter::Native {
            remaining,
            exhausted,
        }) = &env.meter
        {
            let points = env.host.limits().fuel.unwrap_or(u64::MAX);
            let set = |g: &Global, v: Value, store: &mut wasmer::StoreMut<'_>| {
                g.set(store, v)
                    .map_err(|e| Error::engine(format!("could not set the fuel: {}", e.message())))
            };
            set(remaining, Value::I64(points as i64), &mut store)?;
            set(exhausted, Value::I32(0), &mut store)?;
        }
        self.fuel = 0;
        Ok(())
    }

    async fn enter(&mut self, export: Export, args: &[u32]) -> Result<u32> {
        let arg = args.first().copied().unwrap_or(0);
        match export {
            Export::Describe => {
                let f = self.describe.clone();
                let r = self.run(|store| f.call(store));
                self.count_instructions();
                r
            }
            Export::Execute => {
                let [a, b, c, d] = <[u32; 4]>::try_from(args)
                    .map_err(|_| Error::engine("execute takes four arguments"))?;
                let f = self.execute.clone();
                let r = self.run(|store| f.call(store, a, b, c, d));
                self.count_instructions();
                r
            }
            Export::PostDescribe | Export::PostExecute | Export::Start => {
                let f = match export {
                    Export::PostDescribe => self.post_describe.clone(),
                    Export::PostExecute => self.post_execute.clone(),
                    _ => None,
                };
                if export == Export::Start {
                    return match self.start.clone() {
                        Some(f) => self.run(|store| f.call(store)).map(|()| 0),
                        None => Ok(0),
                    };
                }
                match f {
                    Some(f) => self.run(|store| f.call(store, arg)).map(|()| 0),
                    None => Ok(0),
                }
            }
        }
    }

    fn usage(&self) -> Usage {
        let env = self.env.as_ref(&self.store);
        env.host
            .usage(self.fuel, self.memory.view(&*self.store).data_size())
    }
}

/// At most this many wasmer guest calls run at once, each on a thread of tokio's
/// blocking pool; further calls wait for a slot.
pub const MAX_CONCURRENT_CALLS: usize = 16;

fn pool() -> &'static tokio::sync::Semaphore {
    static POOL: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_CONCURRENT_CALLS);
    &POOL
}

/// What a call's future shares with the thread running it, to stop the guest when the
/// future is dropped.
struct Cancel {
    interrupter: watchdog::Interrupter,
    /// `None` while running; `Some(armed)` once cancelled (the watchdog interrupts the
    /// guest until the call returns); the call's end takes it.
    state: Mutex<(bool, Option<watchdog::Armed>)>,
}

struct CancelOnDrop(Option<Arc<Cancel>>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            let mut state = c.state.lock().unwrap_or_else(|e| e.into_inner());
            if !state.0 {
                state.1 = Some(watchdog::arm(&c.interrupter, Instant::now()));
            }
        }
    }
}

/// An instance as the rest of Morph sees it: the guest moves to a pool thread for each
/// call and comes back after; a cancelled call keeps it.
struct WasmerInstance {
    guest: Option<Box<WasmerGuest>>,
}

impl WasmerInstance {
    /// Runs `f` on the guest, on the blocking pool when a tokio runtime drives this task
    /// (inline otherwise).
    async fn on_pool<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut WasmerGuest) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let mut guest = self
            .guest
            .take()
            .ok_or_else(|| Error::new(ErrorKind::Cancelled))?;
        let runtime = match tokio::runtime::Handle::try_current() {
            Ok(rt) if !is_waiting_synchronously() => rt,
            // No runtime, or a caller that waits for this call on this thread anyway:
            // run here (a handler that must be awaited is waited on by parking the
            // thread; its timers and I/O still run on the runtime's own threads).
            _ => {
                guest.env.as_mut(&mut guest.store).runtime = None;
                let r = f(&mut guest);
                self.guest = Some(guest);
                return r;
            }
        };
        let _permit = pool()
            .acquire()
            .await
            .map_err(|_| Error::engine("the wasmer call pool is closed"))?;
        guest.env.as_mut(&mut guest.store).runtime = Some(runtime.clone());
        let cancel = Arc::new(Cancel {
            interrupter: guest.interrupter.clone(),
            state: Mutex::new((false, None)),
        });
        let mut on_drop = CancelOnDrop(Some(cancel.clone()));
        let task = runtime.spawn_blocking(move || {
            let r = f(&mut guest);
            let mut state = cancel.state.lock().unwrap_or_else(|e| e.into_inner());
            state.0 = true;
            state.1 = None;
            (guest, r)
        });
        let joined = task.await;
        on_drop.0 = None;
        let (guest, r) = joined.map_err(|e| Error::engine(format!("a wasmer call failed: {e}")))?;
        self.guest = Some(guest);
        r
    }
}

impl Instance for WasmerInstance {
    fn describe(&mut self) -> BoxFuture<'_, Result<ExtensionInfo>> {
        Box::pin(self.on_pool(|g| now(describe(g)).unwrap_or_else(|| Err(stalled()))))
    }

    fn execute<'a>(&'a mut self, call: ExecuteCall<'a>) -> BoxFuture<'a, Result<String>> {
        let action = call.action.to_owned();
        let input = call.input.to_owned();
        let side_effect = call.side_effect;
        Box::pin(self.on_pool(move |g| {
            let call = ExecuteCall {
                action: &action,
                input: &input,
                side_effect,
            };
            now(execute(g, call)).unwrap_or_else(|| Err(stalled()))
        }))
    }

    fn usage(&self) -> Usage {
        self.guest
            .as_ref()
            .map_or_else(Usage::default, |g| g.usage())
    }
}
