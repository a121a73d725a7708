//! `wasmtime-core`: the module as a core module, through morph-runtime's Canonical ABI.

use crate::engine::{StoreData, begin_call, fuel_used, map_error, new_store};
use morph_abi::ExtensionInfo;
use morph_runtime::{
    CompiledModule, CoreInstance, Error, GuestMemory, HostCaller, HostContext, IMPORTS, Instance,
    InstanceConfig, ModuleInfo, PostReturn, Result, Usage, check_range, dispatch,
};
use std::any::Any;
use std::sync::Arc;
use wasmtime::{
    AsContext, AsContextMut, Caller, Engine, FuncType, Linker, Memory, Module, Store, TypedFunc,
    Val, ValType,
};

struct CoreModule {
    module: Module,
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

pub(crate) fn compile(
    engine: &Engine,
    wasm: &[u8],
    info: ModuleInfo,
) -> Result<Arc<dyn CompiledModule>> {
    let module = Module::new(engine, wasm).map_err(|e| Error::engine(format!("{e:#}")))?;
    Ok(Arc::new(CoreModule { module, info }))
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
        .module
        .serialize()
        .map_err(|e| Error::engine(e.to_string()))?;
    Ok(morph_runtime::frame_compiled(&m.info, &code))
}

/// # Safety
/// `bytes` must come from [`serialize`].
pub(crate) unsafe fn deserialize(engine: &Engine, bytes: &[u8]) -> Result<Arc<dyn CompiledModule>> {
    let (info, code) = morph_runtime::unframe_compiled(bytes)?;
    // SAFETY: the caller guarantees the bytes came from `serialize` unchanged.
    let module =
        unsafe { Module::deserialize(engine, code) }.map_err(|e| Error::engine(e.to_string()))?;
    Ok(Arc::new(CoreModule { module, info }))
}

/// Guest exports resolved once per instance.
#[derive(Clone)]
pub(crate) struct Exports {
    memory: Memory,
    realloc: TypedFunc<(u32, u32, u32, u32), u32>,
}

fn linker(engine: &Engine) -> Result<Linker<StoreData>> {
    let mut linker = Linker::new(engine);
    for spec in IMPORTS {
        let ty = FuncType::new(engine, std::iter::repeat_n(ValType::I32, spec.params), []);
        let func = spec.func;
        linker
            .func_new(spec.module, spec.name, ty, move |mut caller, params, _| {
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
                .map_err(wasmtime::Error::new)
            })
            .map_err(|e| Error::engine(e.to_string()))?;
    }
    Ok(linker)
}

/// Guest memory seen from inside a host call.
struct CallerMem<'a, 'b> {
    caller: &'a mut Caller<'b, StoreData>,
}

impl CallerMem<'_, '_> {
    fn exports(&mut self) -> Result<Exports> {
        if let Some(e) = &self.caller.data().core {
            return Ok(e.clone());
        }
        // A host call from the start function, before the instance is set up.
        let memory = self
            .caller
            .get_export("memory")
            .and_then(|e| e.into_memory())
            .ok_or_else(|| Error::bad_guest_data("the module exports no memory"))?;
        let realloc = self
            .caller
            .get_export("cabi_realloc")
            .and_then(|e| e.into_func())
            .ok_or_else(|| Error::bad_guest_data("the module exports no cabi_realloc"))?
            .typed(&self.caller)
            .map_err(|e| Error::engine(e.to_string()))?;
        Ok(Exports { memory, realloc })
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
    fn alloc(&mut self, align: u32, size: u32) -> Result<u32> {
        let e = self.exports()?;
        e.realloc
            .call(&mut *self.caller, (0, 0, align, size))
            .map_err(|err| crate::engine::map_error_data(err, self.caller.data()))
    }
}

impl HostCaller for CallerMem<'_, '_> {
    fn host(&mut self) -> &mut HostContext {
        &mut self.caller.data_mut().host
    }
}

struct CoreInst {
    store: Store<StoreData>,
    exports: Exports,
    describe: TypedFunc<(), u32>,
    execute: TypedFunc<(u32, u32, u32, u32), u32>,
    post_describe: Option<TypedFunc<u32, ()>>,
    post_execute: Option<TypedFunc<u32, ()>>,
    info: ModuleInfo,
}

pub(crate) fn instantiate(
    engine: &Engine,
    module: &dyn CompiledModule,
    config: InstanceConfig,
) -> Result<Box<dyn Instance>> {
    let m = downcast(module)?;
    let mut store = new_store(engine, config, &m.info);
    begin_call(&mut store)?;
    let linker = linker(engine)?;
    let instance = linker
        .instantiate(&mut store, &m.module)
        .map_err(|e| map(e, &store))?;
    let typed = |store: &mut Store<StoreData>, name: &str| {
        instance
            .get_func(&mut *store, name)
            .ok_or_else(|| Error::engine(format!("export `{name}` vanished")))
    };
    let memory = instance
        .get_memory(&mut store, "memory")
        .ok_or_else(|| Error::engine("export `memory` vanished"))?;
    let te = |e: wasmtime::Error| Error::engine(e.to_string());
    let realloc = typed(&mut store, "cabi_realloc")?
        .typed(&store)
        .map_err(te)?;
    let describe = typed(&mut store, "describe")?.typed(&store).map_err(te)?;
    let execute = typed(&mut store, "execute")?.typed(&store).map_err(te)?;
    let post_describe = if m.info.has_post_describe {
        Some(
            typed(&mut store, "cabi_post_describe")?
                .typed(&store)
                .map_err(te)?,
        )
    } else {
        None
    };
    let post_execute = if m.info.has_post_execute {
        Some(
            typed(&mut store, "cabi_post_execute")?
                .typed(&store)
                .map_err(te)?,
        )
    } else {
        None
    };
    let exports = Exports { memory, realloc };
    store.data_mut().core = Some(exports.clone());
    Ok(Box::new(CoreInst {
        store,
        exports,
        describe,
        execute,
        post_describe,
        post_execute,
        info: m.info.clone(),
    }))
}

fn map(err: wasmtime::Error, store: &Store<StoreData>) -> Error {
    map_error(err, store)
}

impl GuestMemory for CoreInst {
    fn read(&mut self, ptr: u32, buf: &mut [u8]) -> Result<()> {
        read(&self.store, self.exports.memory, ptr, buf)
    }
    fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<()> {
        write(&mut self.store, self.exports.memory, ptr, bytes)
    }
    fn alloc(&mut self, align: u32, size: u32) -> Result<u32> {
        self.exports
            .realloc
            .call(&mut self.store, (0, 0, align, size))
            .map_err(|e| map(e, &self.store))
    }
}

impl HostCaller for CoreInst {
    fn host(&mut self) -> &mut HostContext {
        &mut self.store.data_mut().host
    }
}

impl CoreInstance for CoreInst {
    fn begin(&mut self) -> Result<()> {
        begin_call(&mut self.store)
    }
    fn call_describe(&mut self) -> Result<u32> {
        self.describe
            .call(&mut self.store, ())
            .map_err(|e| map(e, &self.store))
    }
    fn call_execute(&mut self, [a, b, c, d]: [u32; 4]) -> Result<u32> {
        self.execute
            .call(&mut self.store, (a, b, c, d))
            .map_err(|e| map(e, &self.store))
    }
    fn call_post_return(&mut self, which: PostReturn, retptr: u32) -> Result<()> {
        let f = match which {
            PostReturn::Describe => self.post_describe.clone(),
            PostReturn::Execute => self.post_execute.clone(),
        };
        match f {
            Some(f) => f
                .call(&mut self.store, retptr)
                .map_err(|e| map(e, &self.store)),
            None => Ok(()),
        }
    }
}

impl Instance for CoreInst {
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
            fuel: fuel_used(&self.store),
            host_calls: d.host.host_calls(),
            memory_bytes: self.exports.memory.data_size(&self.store) as u64,
            elapsed: d.started.elapsed(),
        }
    }
}
