//! `wasmtime-core`: the module as a core module, through morph-runtime's Canonical ABI,
//! host-call checkpoint and per-call protocol. This file only enters the guest, reads and
//! writes its memory and calls its allocator, all asynchronously.

use crate::engine::{StoreData, arm, burn, fuel_used, map_error, map_error_data, new_store};
use morph_runtime::protocol::{CoreInstance, Export, GuestAccess, GuestCalls, now, serve};
use morph_runtime::{
    CompiledModule, Error, GuestMemory, HostContext, IMPORTS, Instance, InstanceConfig, ModuleInfo,
    Result, Usage, check_range,
};
use std::any::Any;
use std::sync::Arc;
use wasmtime::{
    AsContext, AsContextMut, Caller, Engine, FuncType, InstancePre, Linker, Memory, Module, Store,
    TypedFunc, Val, ValType, WasmParams, WasmResults,
};

/// A compiled module, pre-instantiated against both linkers (see [`Linkers`]).
///
/// [`Linkers`]: crate::engine::Linkers
struct CoreModule {
    fibers: InstancePre<StoreData>,
    inline: InstancePre<StoreData>,
    info: ModuleInfo,
}

impl CompiledModule for CoreModule {
    fn info(&self) -> &ModuleInfo {
        &self.info
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The fiber linker, then the inline one.
pub(crate) type LinkerPair<'a> = [&'a Linker<StoreData>; 2];

fn pre(
    [fibers, inline]: LinkerPair<'_>,
    module: &Module,
    info: ModuleInfo,
) -> Result<Arc<dyn CompiledModule>> {
    let pre = |linker: &Linker<StoreData>| {
        linker
            .instantiate_pre(module)
            .map_err(|e| Error::engine(format!("{e:#}")))
    };
    Ok(Arc::new(CoreModule {
        fibers: pre(fibers)?,
        inline: pre(inline)?,
        info,
    }))
}

pub(crate) fn compile(
    engine: &Engine,
    linker: LinkerPair<'_>,
    wasm: &[u8],
    info: ModuleInfo,
) -> Result<Arc<dyn CompiledModule>> {
    // The start function runs as an export under the call protocol, as on every core
    // backend (see `morph_runtime::hide_start`).
    let wasm = match morph_runtime::hide_start(wasm)? {
        Some(hidden) => std::borrow::Cow::Owned(hidden.wasm),
        None => std::borrow::Cow::Borrowed(wasm),
    };
    let module = Module::new(engine, &wasm).map_err(|e| Error::engine(format!("{e:#}")))?;
    pre(linker, &module, info)
}

fn downcast(module: &dyn CompiledModule) -> Result<&CoreModule> {
    module
        .as_any()
        .downcast_ref::<CoreModule>()
        .ok_or_else(|| Error::engine("the compiled module belongs to another backend"))
}

pub(crate) fn serialize(module: &dyn CompiledModule) -> Result<Vec<u8>> {
    let m = downcast(module)?;
    let code = m
        .fibers
        .module()
        .serialize()
        .map_err(|e| Error::engine(e.to_string()))?;
    Ok(morph_runtime::frame_compiled(
        "wasmtime-core",
        crate::engine::ENGINE_VERSION,
        &m.info,
        &code,
    ))
}

/// # Safety
/// `bytes` must come from [`serialize`].
pub(crate) unsafe fn deserialize(
    engine: &Engine,
    linker: LinkerPair<'_>,
    bytes: &[u8],
) -> Result<Arc<dyn CompiledModule>> {
    let (info, code) =
        morph_runtime::unframe_compiled(bytes, "wasmtime-core", crate::engine::ENGINE_VERSION)?;
    // SAFETY: the caller guarantees the bytes came from `serialize` unchanged.
    let module =
        unsafe { Module::deserialize(engine, code) }.map_err(|e| Error::engine(e.to_string()))?;
    pre(linker, &module, info)
}

/// Guest exports resolved once per instance.
#[derive(Clone)]
pub(crate) struct Exports {
    memory: Memory,
    realloc: TypedFunc<(u32, u32, u32, u32), u32>,
}

/// The contract's host functions: each hands its flat arguments to the shared
/// [`serve`], which lifts, checks and answers the call. `inline`: the functions answer at
/// once, for stores whose guest runs without a fiber; otherwise they may suspend it.
pub(crate) fn linker(engine: &Engine, inline: bool) -> Result<Linker<StoreData>> {
    let mut linker = Linker::new(engine);
    for spec in IMPORTS {
        let ty = FuncType::new(engine, std::iter::repeat_n(ValType::I32, spec.params), []);
        let func = spec.func;
        let defined = match inline {
            true => linker.func_new(spec.module, spec.name, ty, move |mut caller, params, _| {
                let (args, n) = flat(params);
                let mut mem = CallerMem {
                    caller: &mut caller,
                };
                now(serve(&mut mem, func, &args[..n]))
                    .unwrap_or_else(|| {
                        Err(Error::engine(
                            "the host handler said it answers at once, then waited",
                        ))
                    })
                    .map_err(wasmtime::Error::new)
            }),
            false => {
                linker.func_new_async(spec.module, spec.name, ty, move |mut caller, params, _| {
                    let (args, n) = flat(params);
                    Box::new(async move {
                        let mut mem = CallerMem {
                            caller: &mut caller,
                        };
                        serve(&mut mem, func, &args[..n])
                            .await
                            .map_err(wasmtime::Error::new)
                    })
                })
            }
        };
        defined.map_err(|e| Error::engine(e.to_string()))?;
    }
    Ok(linker)
}

/// A host call's flat `i32` arguments (the contract's imports take at most 16).
fn flat(params: &[Val]) -> ([u32; 16], usize) {
    let mut args = [0u32; 16];
    let n = params.len().min(args.len());
    for (slot, v) in args.iter_mut().zip(params) {
        *slot = v.i32().unwrap_or(0) as u32;
    }
    (args, n)
}

/// Calls a guest function the way the store runs its guest: inline, or on a fiber.
async fn invoke<P, R>(
    f: &TypedFunc<P, R>,
    cx: impl AsContextMut<Data = StoreData>,
    params: P,
) -> wasmtime::Result<R>
where
    P: WasmParams + Sync,
    R: WasmResults + Sync,
{
    match cx.as_context().data().inline {
        true => f.call(cx, params),
        false => f.call_async(cx, params).await,
    }
}

/// Guest memory seen from inside a host call.
struct CallerMem<'a, 'b> {
    caller: &'a mut Caller<'b, StoreData>,
}

impl CallerMem<'_, '_> {
    fn exports(&self) -> Result<Exports> {
        self.caller
            .data()
            .core
            .clone()
            .ok_or_else(|| Error::engine("a host call arrived before the instance was set up"))
    }
}

fn read(ctx: impl AsContext, memory: Memory, ptr: u32, buf: &mut [u8]) -> Result<()> {
    let data = memory.data(&ctx);
    let r = check_range(ptr, buf.len(), data.len())?;
    buf.copy_from_slice(&data[r]);
    Ok(())
}

fn write(mut ctx: impl AsContextMut, memory: Memory, ptr: u32, bytes: &[u8]) -> Result<()> {
    let data = memory.data_mut(&mut ctx);
    let r = check_range(ptr, bytes.len(), data.len())?;
    data[r].copy_from_slice(bytes);
    Ok(())
}

impl GuestMemory for CallerMem<'_, '_> {
    fn read(&mut self, ptr: u32, buf: &mut [u8]) -> Result<()> {
        let e = self.exports()?;
        read(&*self.caller, e.memory, ptr, buf)
    }
    fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<()> {
        let e = self.exports()?;
        write(&mut *self.caller, e.memory, ptr, bytes)
    }
    fn size(&mut self) -> u64 {
        self.exports()
            .map_or(0, |e| e.memory.data_size(&*self.caller) as u64)
    }
}

impl GuestAccess for CallerMem<'_, '_> {
    fn host(&mut self) -> &mut HostContext {
        &mut self.caller.data_mut().host
    }
    async fn alloc(&mut self, align: u32, size: u32) -> Result<u32> {
        let e = self.exports()?;
        invoke(&e.realloc, &mut *self.caller, (0, 0, align, size))
            .await
            .map_err(|err| map_error_data(err, self.caller.data()))
    }
    fn burn(&mut self, units: u64) -> Result<()> {
        burn(&mut *self.caller, units)
    }
}

struct CoreInst {
    store: Store<StoreData>,
    exports: Exports,
    describe: TypedFunc<(), u32>,
    execute: TypedFunc<(u32, u32, u32, u32), u32>,
    post_describe: Option<TypedFunc<u32, ()>>,
    post_execute: Option<TypedFunc<u32, ()>>,
    start: Option<TypedFunc<(), ()>>,
    info: ModuleInfo,
    /// Deterministic metering: the module's instruction counter (`meter::FUEL_GLOBAL`).
    fuel_global: Option<wasmtime::Global>,
    /// Deterministic metering: what the last `describe` or `execute` counted.
    counted: Option<u64>,
}

pub(crate) async fn instantiate(
    engine: &Engine,
    module: &dyn CompiledModule,
    config: InstanceConfig,
) -> Result<Box<dyn Instance>> {
    let m = downcast(module)?;
    let inline = config.runs_inline();
    let mut store = new_store(engine, config, &m.info, inline);
    // No guest code runs here: the start function, if any, is an export run below. But
    // wasmtime 48 charges fuel for initializing a passive or declared element segment
    // (`(elem func $f)`), and a new store has none: without fuel it traps `OutOfFuel`,
    // which read as the CPU limit (found by the differential fuzzer, docs/fuzzing.md).
    // Every guest call arms its own fuel, so what instantiation takes is not charged.
    arm(&mut store)?;
    let instance = match inline {
        true => m.inline.instantiate(&mut store),
        false => m.fibers.instantiate_async(&mut store).await,
    }
    .map_err(|e| map_error(e, &store))?;
    let te = |e: wasmtime::Error| Error::engine(e.to_string());
    let func = |store: &mut Store<StoreData>, name: &str| {
        instance
            .get_func(&mut *store, name)
            .ok_or_else(|| Error::engine(format!("export `{name}` vanished")))
    };
    macro_rules! typed {
        ($name:expr) => {
            func(&mut store, $name)?.typed(&store).map_err(te)?
        };
        ($present:expr, $name:expr) => {
            match $present {
                true => Some(func(&mut store, $name)?.typed(&store).map_err(te)?),
                false => None,
            }
        };
    }
    let memory = instance
        .get_memory(&mut store, "memory")
        .ok_or_else(|| Error::engine("export `memory` vanished"))?;
    let exports = Exports {
        memory,
        realloc: typed!("cabi_realloc"),
    };
    let mut inst = CoreInst {
        describe: typed!("describe"),
        execute: typed!("execute"),
        post_describe: typed!(m.info.has_post_describe, "cabi_post_describe"),
        post_execute: typed!(m.info.has_post_execute, "cabi_post_execute"),
        start: typed!(m.info.has_start, morph_runtime::START_EXPORT),
        exports: exports.clone(),
        info: m.info.clone(),
        fuel_global: match m.info.metered {
            Some(_) => instance.get_global(&mut store, morph_runtime::meter::FUEL_GLOBAL),
            None => None,
        },
        counted: None,
        store,
    };
    inst.store.data_mut().core = Some(exports);
    morph_runtime::protocol::start(&mut inst).await?;
    Ok(Box::new(CoreInstance(inst)))
}

impl GuestMemory for CoreInst {
    fn read(&mut self, ptr: u32, buf: &mut [u8]) -> Result<()> {
        read(&self.store, self.exports.memory, ptr, buf)
    }
    fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<()> {
        write(&mut self.store, self.exports.memory, ptr, bytes)
    }
    fn size(&mut self) -> u64 {
        self.exports.memory.data_size(&self.store) as u64
    }
}

impl GuestAccess for CoreInst {
    fn host(&mut self) -> &mut HostContext {
        &mut self.store.data_mut().host
    }
    async fn alloc(&mut self, align: u32, size: u32) -> Result<u32> {
        invoke(&self.exports.realloc, &mut self.store, (0, 0, align, size))
            .await
            .map_err(|e| map_error(e, &self.store))
    }
    fn burn(&mut self, units: u64) -> Result<()> {
        burn(&mut self.store, units)
    }
}

impl GuestCalls for CoreInst {
    fn backend(&self) -> &'static str {
        "wasmtime-core"
    }
    fn module(&self) -> &ModuleInfo {
        &self.info
    }
    fn arm(&mut self) -> Result<()> {
        self.counted = None;
        arm(&mut self.store)
    }
    async fn enter(&mut self, export: Export, args: &[u32]) -> Result<u32> {
        let store = &mut self.store;
        let arg = args.first().copied().unwrap_or(0);
        let r = match export {
            Export::Describe => {
                let r = invoke(&self.describe, &mut *store, ()).await;
                self.counted = counted(&self.info, self.fuel_global, store);
                r
            }
            Export::Execute => {
                let [a, b, c, d] = <[u32; 4]>::try_from(args)
                    .map_err(|_| Error::engine("execute takes four arguments"))?;
                let r = invoke(&self.execute, &mut *store, (a, b, c, d)).await;
                self.counted = counted(&self.info, self.fuel_global, store);
                r
            }
            Export::PostDescribe | Export::PostExecute => {
                let f = match export {
                    Export::PostDescribe => &self.post_describe,
                    _ => &self.post_execute,
                };
                match f {
                    Some(f) => invoke(f, &mut *store, arg).await.map(|()| 0),
                    None => Ok(0),
                }
            }
            Export::Start => match &self.start {
                Some(f) => invoke(f, &mut *store, ()).await.map(|()| 0),
                None => Ok(0),
            },
        };
        r.map_err(|e| map_error(e, store))
    }
    fn usage(&self) -> Usage {
        self.store.data().host.usage(
            self.counted.unwrap_or_else(|| fuel_used(&self.store)),
            self.exports.memory.data_size(&self.store) as u64,
        )
    }
}

/// In deterministic metering, the instructions the guest call counted, read right after
/// `describe` or `execute` returned or trapped (before a post-return function resets the
/// counter): the same number on every core backend.
fn counted(
    info: &ModuleInfo,
    global: Option<wasmtime::Global>,
    store: &mut Store<StoreData>,
) -> Option<u64> {
    let budget = info.metered?;
    let left = global?.get(&mut *store).i64()?;
    Some(budget.saturating_sub(u64::try_from(left).unwrap_or(0)))
}
