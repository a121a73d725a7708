//! Compiled modules and live instances: the host functions, and the [`GuestCalls`] the
//! shared per-call protocol drives.

use crate::call::{
    Guest, HostErr, Parked, StoreAccess, StoreData, arm, fuel_global, fuel_used, map_error,
    run_async,
};
use morph_runtime::protocol::{
    Answering, CoreInstance, Export, GuestAccess, GuestCalls, admit, deliver, now,
};
use morph_runtime::{
    CompiledModule, Error, GuestMemory, HostContext, IMPORTS, Instance, InstanceConfig, ModuleInfo,
    Result, Usage,
};
use std::any::Any;
use std::sync::Arc;
use wasmi::{Caller, Engine, FuncType, Linker, Module, Store, TypedFunc, Val, ValType};

/// The engine and its version, bound into compiled-code frames.
const ENGINE_VERSION: &str = "wasmi 2.0";

/// A module compiled by wasmi, with what serialization needs.
pub(crate) struct WasmiModule {
    module: Module,
    info: ModuleInfo,
    /// The prepared bytes (validated, instrumented when metered): wasmi has no
    /// compiled-code format, so a "serialized" module is these bytes, recompiled on load.
    prepared: Vec<u8>,
    /// The export the start function was moved to, if the module has one.
    start: Option<String>,
}

impl CompiledModule for WasmiModule {
    fn info(&self) -> &ModuleInfo {
        &self.info
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Compiles prepared bytes: moves the start function to an export, then lets wasmi
/// validate the module and translate its functions lazily, on first call.
///
/// # Errors
/// `Engine` when the section framing is malformed or wasmi refuses the module.
pub(crate) fn compile(
    engine: &Engine,
    prepared: Vec<u8>,
    info: ModuleInfo,
) -> Result<Arc<dyn CompiledModule>> {
    let (module, start) =
        match morph_runtime::hide_start(&prepared).map_err(|e| Error::engine(e.to_string()))? {
            Some(hidden) => (Module::new(engine, &hidden.wasm), Some(hidden.export)),
            None => (Module::new(engine, &prepared), None),
        };
    let module = module.map_err(|e| Error::engine(format!("wasmi refused the module: {e}")))?;
    Ok(Arc::new(WasmiModule {
        module,
        info,
        prepared,
        start,
    }))
}

fn downcast(module: &dyn CompiledModule) -> Result<&WasmiModule> {
    module
        .as_any()
        .downcast_ref::<WasmiModule>()
        .ok_or_else(|| Error::engine("the compiled module belongs to another backend"))
}

/// Frames the prepared bytes with the module's info.
///
/// # Errors
/// `Engine` when the module is not this backend's.
pub(crate) fn serialize(module: &dyn CompiledModule) -> Result<Vec<u8>> {
    let m = downcast(module)?;
    Ok(morph_runtime::frame_compiled(
        "wasmi",
        ENGINE_VERSION,
        &m.info,
        &m.prepared,
    ))
}

/// Recompiles bytes written by [`serialize`]; wasmi validates them again.
///
/// # Errors
/// `Engine` when the bytes are not a framed module, or wasmi refuses them.
pub(crate) fn deserialize(engine: &Engine, bytes: &[u8]) -> Result<Arc<dyn CompiledModule>> {
    let (info, wasm) = morph_runtime::unframe_compiled(bytes, "wasmi", ENGINE_VERSION)?;
    compile(engine, wasm.to_vec(), info)
}

/// The contract's host functions. Each lifts its call and takes it through the shared
/// checkpoint; an answer known at once (a log, a refusal) is lowered right here, a call
/// that needs the async handler is parked for the driver (see `call.rs`).
///
/// # Errors
/// `Engine` when wasmi refuses a definition.
pub(crate) fn linker(engine: &Engine) -> Result<Linker<StoreData>> {
    let mut linker = Linker::new(engine);
    for spec in IMPORTS {
        let ty = FuncType::new(std::iter::repeat_n(ValType::I32, spec.params), []);
        let func = spec.func;
        linker
            .func_new(
                spec.module,
                spec.name,
                ty,
                move |mut caller: Caller<'_, StoreData>, params: &[Val], _results: &mut [Val]| {
                    let mut args = [0u32; 16];
                    let n = params.len().min(args.len());
                    for (slot, v) in args.iter_mut().zip(params) {
                        *slot = v.i32().unwrap_or(0) as u32;
                    }
                    let mut access = StoreAccess { store: &mut caller };
                    let host_err = |e| wasmi::Error::host(HostErr(e));
                    let pending = admit(&mut access, func, &args[..n]).map_err(host_err)?;
                    match pending.try_answer() {
                        // The allocator runs synchronously here: delivering completes at
                        // once.
                        Answering::Ready(delivery) => now(deliver(&mut access, delivery))
                            .unwrap_or_else(|| Err(Error::engine("lowering did not complete")))
                            .map_err(host_err),
                        Answering::Waiting(pending) => {
                            caller.data_mut().parked = Some(*pending);
                            Err(wasmi::Error::host(Parked))
                        }
                    }
                },
            )
            .map_err(|e| Error::engine(e.to_string()))?;
    }
    Ok(linker)
}

/// A live instance: one store, one guest.
struct WasmiInstance {
    store: Store<StoreData>,
    describe: TypedFunc<(), u32>,
    execute: TypedFunc<(u32, u32, u32, u32), u32>,
    post_describe: Option<TypedFunc<u32, ()>>,
    post_execute: Option<TypedFunc<u32, ()>>,
    start: Option<TypedFunc<(), ()>>,
    info: ModuleInfo,
    /// Deterministic metering: instructions counted by the last export call.
    counted: Option<u64>,
}

/// Instantiates a compiled module and runs its start function under `config.limits`.
///
/// # Errors
/// A trap or limit from the start function, or `Engine`.
pub(crate) async fn instantiate(
    engine: &Engine,
    linker: &Linker<StoreData>,
    module: &dyn CompiledModule,
    config: InstanceConfig,
) -> Result<Box<dyn Instance>> {
    let m = downcast(module)?;
    let mut store = Store::new(
        engine,
        StoreData::new(HostContext::new(config), m.info.metered),
    );
    store.limiter(|d| d as &mut dyn wasmi::ResourceLimiter);
    // The start section was removed at compile time: this only links and initialises
    // memory and tables (which needs no fuel).
    store
        .set_fuel(u64::MAX)
        .map_err(|e| Error::engine(e.to_string()))?;
    let instance = linker
        .instantiate_and_start(&mut store, &m.module)
        .map_err(|e| map_error(&e, &store))?;

    let vanished = |name: &str| Error::engine(format!("export `{name}` vanished"));
    let te = |e: wasmi::Error| Error::engine(e.to_string());
    macro_rules! typed {
        ($name:expr) => {
            instance
                .get_func(&store, $name)
                .ok_or_else(|| vanished($name))?
                .typed(&store)
                .map_err(te)?
        };
        ($present:expr, $name:expr) => {
            match $present {
                true => Some(typed!($name)),
                false => None,
            }
        };
    }
    let memory = instance
        .get_memory(&store, "memory")
        .ok_or_else(|| vanished("memory"))?;
    let guest = Guest {
        memory,
        realloc: typed!("cabi_realloc"),
        fuel_global: fuel_global(&instance, &store),
    };
    let mut inst = WasmiInstance {
        describe: typed!("describe"),
        execute: typed!("execute"),
        post_describe: typed!(m.info.has_post_describe, "cabi_post_describe"),
        post_execute: typed!(m.info.has_post_execute, "cabi_post_execute"),
        start: match &m.start {
            Some(name) => Some(typed!(name.as_str())),
            None => None,
        },
        info: m.info.clone(),
        counted: None,
        store,
    };
    inst.store.data_mut().guest = Some(guest);
    morph_runtime::protocol::start(&mut inst).await?;
    Ok(Box::new(CoreInstance(inst)))
}

impl GuestMemory for WasmiInstance {
    fn read(&mut self, ptr: u32, buf: &mut [u8]) -> Result<()> {
        StoreAccess {
            store: &mut self.store,
        }
        .read(ptr, buf)
    }
    fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<()> {
        StoreAccess {
            store: &mut self.store,
        }
        .write(ptr, bytes)
    }
    fn size(&mut self) -> u64 {
        StoreAccess {
            store: &mut self.store,
        }
        .size()
    }
}

impl GuestAccess for WasmiInstance {
    fn host(&mut self) -> &mut HostContext {
        &mut self.store.data_mut().host
    }
    async fn alloc(&mut self, align: u32, size: u32) -> Result<u32> {
        StoreAccess {
            store: &mut self.store,
        }
        .alloc(align, size)
        .await
    }
    fn burn(&mut self, units: u64) -> Result<()> {
        StoreAccess {
            store: &mut self.store,
        }
        .burn(units)
    }
}

impl GuestCalls for WasmiInstance {
    fn backend(&self) -> &'static str {
        "wasmi"
    }
    fn module(&self) -> &ModuleInfo {
        &self.info
    }
    fn arm(&mut self) -> Result<()> {
        self.counted = None;
        arm(&mut self.store)
    }
    async fn enter(&mut self, export: Export, args: &[u32]) -> Result<u32> {
        let arg = args.first().copied().unwrap_or(0);
        let store = &mut self.store;
        match export {
            Export::Describe => {
                let r = run_async(store, &self.describe, ()).await;
                self.count_instructions();
                r
            }
            Export::Execute => {
                let [a, b, c, d] = <[u32; 4]>::try_from(args)
                    .map_err(|_| Error::engine("execute takes four arguments"))?;
                let r = run_async(store, &self.execute, (a, b, c, d)).await;
                self.count_instructions();
                r
            }
            Export::PostDescribe | Export::PostExecute => {
                let f = match export {
                    Export::PostDescribe => self.post_describe,
                    _ => self.post_execute,
                };
                match f {
                    Some(f) => run_async(store, &f, arg).await.map(|()| 0),
                    None => Ok(0),
                }
            }
            Export::Start => match self.start {
                Some(f) => run_async(store, &f, ()).await.map(|()| 0),
                None => Ok(0),
            },
        }
    }
    fn usage(&self) -> Usage {
        let memory = self
            .store
            .data()
            .guest
            .map_or(0, |g| g.memory.data_size(&self.store) as u64);
        self.store.data().host.usage(self.fuel_used(), memory)
    }
}

impl WasmiInstance {
    /// In deterministic metering, reads how many instructions the export just called
    /// counted (before its post-return call resets the counter).
    fn count_instructions(&mut self) {
        let budget = self.store.data().metered;
        let global = self.store.data().guest.and_then(|g| g.fuel_global);
        if let (Some(budget), Some(g)) = (budget, global)
            && let Val::I64(left) = g.get(&self.store)
        {
            self.counted = Some(budget.saturating_sub(u64::try_from(left).unwrap_or(0)));
        }
    }

    /// Fuel used by the last call: in deterministic metering the instructions the module
    /// counted itself (the same number on every engine), wasmi's fuel otherwise.
    fn fuel_used(&self) -> u64 {
        match self.counted {
            Some(n) => n,
            None if self.store.data().metered.is_some() => 0,
            None => fuel_used(&self.store),
        }
    }
}
