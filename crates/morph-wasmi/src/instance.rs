//! Compiled modules and live instances: the host functions, the guest memory seen by the
//! shared Canonical ABI, and the `CoreInstance` the shared export call sequence drives.

use crate::call::{Guest, HostErr, StoreData, begin_call, fuel_global, fuel_used, map_error, run};
use morph_abi::ExtensionInfo;
use morph_runtime::{
    CompiledModule, CoreInstance, Error, GuestMemory, HostCaller, HostContext, IMPORTS, Instance,
    InstanceConfig, ModuleInfo, PostReturn, Result, Usage, check_range, dispatch,
};
use std::any::Any;
use std::sync::Arc;
use wasmi::{
    AsContext, AsContextMut, Caller, Engine, FuncType, Linker, Module, Store, TypedFunc, Val,
    ValType,
};

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
    Ok(morph_runtime::frame_compiled(&m.info, &m.prepared))
}

/// Recompiles bytes written by [`serialize`].
///
/// # Errors
/// `Engine` when the bytes are not a framed module, or wasmi refuses them.
pub(crate) fn deserialize(engine: &Engine, bytes: &[u8]) -> Result<Arc<dyn CompiledModule>> {
    let (info, wasm) = morph_runtime::unframe_compiled(bytes)?;
    compile(engine, wasm.to_vec(), info)
}

/// The contract's host functions, each a call to the one shared [`dispatch`].
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
                    for (slot, v) in args.iter_mut().zip(params) {
                        *slot = match v {
                            Val::I32(x) => *x as u32,
                            _ => 0,
                        };
                    }
                    let n = params.len().min(args.len());
                    dispatch(
                        func,
                        &args[..n],
                        &mut CallerMem {
                            caller: &mut caller,
                        },
                    )
                    .map_err(|e| wasmi::Error::host(HostErr(e)))
                },
            )
            .map_err(|e| Error::engine(e.to_string()))?;
    }
    Ok(linker)
}

fn read(
    ctx: impl AsContext<Data = StoreData>,
    guest: Guest,
    ptr: u32,
    buf: &mut [u8],
) -> Result<()> {
    let data = guest.memory.data(&ctx);
    let r = check_range(ptr, buf.len(), data.len())?;
    buf.copy_from_slice(&data[r]);
    Ok(())
}

fn write(
    mut ctx: impl AsContextMut<Data = StoreData>,
    guest: Guest,
    ptr: u32,
    bytes: &[u8],
) -> Result<()> {
    let data = guest.memory.data_mut(&mut ctx);
    let r = check_range(ptr, bytes.len(), data.len())?;
    data[r].copy_from_slice(bytes);
    Ok(())
}

fn alloc(
    mut ctx: impl AsContextMut<Data = StoreData>,
    guest: Guest,
    align: u32,
    size: u32,
) -> Result<u32> {
    run(&mut ctx, &guest.realloc, (0, 0, align, size))
}

/// Guest memory seen from inside a host call.
struct CallerMem<'a, 'b> {
    caller: &'a mut Caller<'b, StoreData>,
}

impl CallerMem<'_, '_> {
    fn guest(&self) -> Result<Guest> {
        self.caller
            .data()
            .guest
            .ok_or_else(|| Error::engine("host call before the instance was set up"))
    }
}

impl GuestMemory for CallerMem<'_, '_> {
    fn read(&mut self, ptr: u32, buf: &mut [u8]) -> Result<()> {
        let g = self.guest()?;
        read(&*self.caller, g, ptr, buf)
    }
    fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<()> {
        let g = self.guest()?;
        write(&mut *self.caller, g, ptr, bytes)
    }
    fn alloc(&mut self, align: u32, size: u32) -> Result<u32> {
        let g = self.guest()?;
        alloc(&mut *self.caller, g, align, size)
    }
}

impl HostCaller for CallerMem<'_, '_> {
    fn host(&mut self) -> &mut HostContext {
        &mut self.caller.data_mut().host
    }
}

/// A live instance: one store, one guest.
struct WasmiInstance {
    store: Store<StoreData>,
    guest: Guest,
    describe: TypedFunc<(), u32>,
    execute: TypedFunc<(u32, u32, u32, u32), u32>,
    post_describe: Option<TypedFunc<u32, ()>>,
    post_execute: Option<TypedFunc<u32, ()>>,
    info: ModuleInfo,
    /// Deterministic metering: instructions counted by the last export call.
    counted: Option<u64>,
}

/// Instantiates a compiled module and runs its start function under `config.limits`.
///
/// # Errors
/// A trap or limit from the start function, or `Engine`.
pub(crate) fn instantiate(
    engine: &Engine,
    linker: &Linker<StoreData>,
    module: &dyn CompiledModule,
    config: InstanceConfig,
) -> Result<Box<dyn Instance>> {
    let m = downcast(module)?;
    let host = HostContext::new(config.handler, config.label, config.limits);
    let mut store = Store::new(engine, StoreData::new(host, m.info.metered));
    store.limiter(|d| d as &mut dyn wasmi::ResourceLimiter);
    begin_call(&mut store)?;
    // The start section was removed at compile time: this only links and initialises
    // memory and tables (which needs no fuel).
    let instance = linker
        .instantiate_and_start(&mut store, &m.module)
        .map_err(|e| map_error(&e, &store))?;

    let vanished = |name: &str| Error::engine(format!("export `{name}` vanished"));
    let typed = |store: &Store<StoreData>, name: &str| {
        instance.get_func(store, name).ok_or_else(|| vanished(name))
    };
    let te = |e: wasmi::Error| Error::engine(e.to_string());
    let memory = instance
        .get_memory(&store, "memory")
        .ok_or_else(|| vanished("memory"))?;
    let realloc = typed(&store, "cabi_realloc")?.typed(&store).map_err(te)?;
    let describe = typed(&store, "describe")?.typed(&store).map_err(te)?;
    let execute = typed(&store, "execute")?.typed(&store).map_err(te)?;
    let post = |store: &Store<StoreData>, present: bool, name: &str| -> Result<Option<_>> {
        match present {
            true => Ok(Some(typed(store, name)?.typed(store).map_err(te)?)),
            false => Ok(None),
        }
    };
    let post_describe = post(&store, m.info.has_post_describe, "cabi_post_describe")?;
    let post_execute = post(&store, m.info.has_post_execute, "cabi_post_execute")?;
    let guest = Guest {
        memory,
        realloc,
        fuel_global: fuel_global(&instance, &store),
    };
    store.data_mut().guest = Some(guest);

    if let Some(name) = &m.start {
        let start: TypedFunc<(), ()> = typed(&store, name)?.typed(&store).map_err(te)?;
        run(&mut store, &start, ())?;
    }

    Ok(Box::new(WasmiInstance {
        store,
        guest,
        describe,
        execute,
        post_describe,
        post_execute,
        info: m.info.clone(),
        counted: None,
    }))
}

impl GuestMemory for WasmiInstance {
    fn read(&mut self, ptr: u32, buf: &mut [u8]) -> Result<()> {
        read(&self.store, self.guest, ptr, buf)
    }
    fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<()> {
        write(&mut self.store, self.guest, ptr, bytes)
    }
    fn alloc(&mut self, align: u32, size: u32) -> Result<u32> {
        alloc(&mut self.store, self.guest, align, size)
    }
}

impl HostCaller for WasmiInstance {
    fn host(&mut self) -> &mut HostContext {
        &mut self.store.data_mut().host
    }
}

impl CoreInstance for WasmiInstance {
    fn begin(&mut self) -> Result<()> {
        self.counted = None;
        begin_call(&mut self.store)
    }
    fn call_describe(&mut self) -> Result<u32> {
        let r = run(&mut self.store, &self.describe, ());
        self.count_instructions();
        r
    }
    fn call_execute(&mut self, args: [u32; 4]) -> Result<u32> {
        let [a, b, c, d] = args;
        let r = run(&mut self.store, &self.execute, (a, b, c, d));
        self.count_instructions();
        r
    }
    fn call_post_return(&mut self, which: PostReturn, retptr: u32) -> Result<()> {
        let f = match which {
            PostReturn::Describe => self.post_describe,
            PostReturn::Execute => self.post_execute,
        };
        match f {
            Some(f) => run(&mut self.store, &f, retptr),
            None => Ok(()),
        }
    }
}

impl Instance for WasmiInstance {
    fn describe(&mut self) -> Result<ExtensionInfo> {
        let info = self.info.clone();
        morph_runtime::core::describe(self, &info)
    }
    fn execute(&mut self, action: &str, input: &str) -> Result<String> {
        let info = self.info.clone();
        morph_runtime::core::execute(self, &info, action, input)
    }
    fn usage(&self) -> Usage {
        let d = self.store.data();
        Usage {
            fuel: self.fuel_used(),
            host_calls: d.host.host_calls(),
            memory_bytes: self.guest.memory.data_size(&self.store) as u64,
            elapsed: d.elapsed,
        }
    }
}

impl WasmiInstance {
    /// In deterministic metering, reads how many instructions the export just called
    /// counted (before its post-return call resets the counter).
    fn count_instructions(&mut self) {
        let budget = self.store.data().metered;
        if let (Some(budget), Some(g)) = (budget, self.guest.fuel_global)
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
