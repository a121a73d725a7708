//! wasmtime, core module: `Module`, `Linker::instantiate_pre`, `TypedFunc`.

use super::core::{CoreExports, KV_MISS};
use super::{RawInstance, RawModule};
use morph_runtime::{HostFunc, IMPORTS};
use std::sync::Arc;
use wasmtime::{
    Caller, Config, FuncType, InstancePre, Linker, Memory, Module, Store, TypedFunc, ValType,
};

/// The configuration of Morph's `wasmtime-core` engine that shapes the machine code:
/// fuel and epoch checks on, the same proposals off.
pub(crate) fn config(component: bool) -> Config {
    let mut config = Config::new();
    config
        .consume_fuel(true)
        .epoch_interruption(true)
        .wasm_component_model(component)
        .wasm_memory64(false)
        .wasm_multi_memory(false)
        .wasm_gc(false)
        .wasm_tail_call(false)
        .wasm_relaxed_simd(false)
        .max_wasm_stack(1 << 20);
    config
}

/// A store as a raw embedder sets one up for a call: fuel and a deadline that never
/// comes (nothing advances this engine's epoch).
pub(crate) fn store<T>(engine: &wasmtime::Engine, data: T) -> Result<Store<T>, String> {
    let mut store = Store::new(engine, data);
    store.set_fuel(u64::MAX / 2).map_err(|e| e.to_string())?;
    store.set_epoch_deadline(u64::MAX / 2);
    Ok(store)
}

pub(crate) struct Engine {
    engine: wasmtime::Engine,
    linker: Arc<Linker<()>>,
}

impl Engine {
    pub(crate) fn new() -> Result<Self, String> {
        let engine = wasmtime::Engine::new(&config(false)).map_err(|e| e.to_string())?;
        let mut linker = Linker::new(&engine);
        for spec in IMPORTS {
            let ty = FuncType::new(&engine, std::iter::repeat_n(ValType::I32, spec.params), []);
            let r = match spec.func {
                HostFunc::KvGet => linker
                    .func_wrap(
                        spec.module,
                        spec.name,
                        |mut caller: Caller<'_, ()>, _key: u32, _len: u32, ret: u32| {
                            let Some(memory) =
                                caller.get_export("memory").and_then(|e| e.into_memory())
                            else {
                                return Err(wasmtime::Error::msg("no memory"));
                            };
                            memory
                                .write(&mut caller, ret as usize, &KV_MISS)
                                .map_err(wasmtime::Error::from)
                        },
                    )
                    .map(drop),
                HostFunc::EventsEmit => linker
                    .func_new(spec.module, spec.name, ty, |mut caller, params, _| {
                        let ret = params.last().and_then(wasmtime::Val::i32).unwrap_or(0);
                        let Some(memory) =
                            caller.get_export("memory").and_then(|e| e.into_memory())
                        else {
                            return Err(wasmtime::Error::msg("no memory"));
                        };
                        memory
                            .write(&mut caller, ret as u32 as usize, &[0])
                            .map_err(wasmtime::Error::from)
                    })
                    .map(drop),
                HostFunc::Log => linker
                    .func_new(spec.module, spec.name, ty, |_, _, _| Ok(()))
                    .map(drop),
                other => {
                    let name = other.name();
                    linker
                        .func_new(spec.module, spec.name, ty, move |_, _, _| {
                            Err(wasmtime::Error::msg(format!(
                                "the raw bench host does not provide {name}"
                            )))
                        })
                        .map(drop)
                }
            };
            r.map_err(|e| e.to_string())?;
        }
        Ok(Engine {
            engine,
            linker: Arc::new(linker),
        })
    }
}

impl super::RawEngine for Engine {
    fn compile(&self, input: &[u8]) -> Result<Arc<dyn RawModule>, String> {
        let module = Module::new(&self.engine, input).map_err(|e| format!("{e:#}"))?;
        self.module(module)
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<Arc<dyn RawModule>, String> {
        // SAFETY: the bytes come from `Module::serialize` of this engine, in this process.
        let module =
            unsafe { Module::deserialize(&self.engine, bytes) }.map_err(|e| format!("{e:#}"))?;
        self.module(module)
    }
}

impl Engine {
    fn module(&self, module: Module) -> Result<Arc<dyn RawModule>, String> {
        let pre = self
            .linker
            .instantiate_pre(&module)
            .map_err(|e| format!("{e:#}"))?;
        Ok(Arc::new(Compiled { module, pre }))
    }
}

struct Compiled {
    module: Module,
    pre: InstancePre<()>,
}

impl RawModule for Compiled {
    fn serialize(&self) -> Result<Vec<u8>, String> {
        self.module.serialize().map_err(|e| e.to_string())
    }

    fn instantiate(&self) -> Result<Box<dyn RawInstance>, String> {
        let mut store = store(self.module.engine(), ())?;
        let instance = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| format!("{e:#}"))?;
        let e = |what: &str| format!("export `{what}` missing");
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| e("memory"))?;
        let realloc = instance
            .get_typed_func(&mut store, "cabi_realloc")
            .map_err(|err| format!("{}: {err}", e("cabi_realloc")))?;
        let execute = instance
            .get_typed_func(&mut store, "execute")
            .map_err(|err| format!("{}: {err}", e("execute")))?;
        let describe = instance
            .get_typed_func(&mut store, "describe")
            .map_err(|err| format!("{}: {err}", e("describe")))?;
        let post_execute = instance
            .get_typed_func(&mut store, "cabi_post_execute")
            .ok();
        let post_describe = instance
            .get_typed_func(&mut store, "cabi_post_describe")
            .ok();
        Ok(Box::new(Instance {
            store,
            memory,
            realloc,
            execute,
            describe,
            post_execute,
            post_describe,
        }))
    }
}

struct Instance {
    store: Store<()>,
    memory: Memory,
    realloc: TypedFunc<(u32, u32, u32, u32), u32>,
    execute: TypedFunc<(u32, u32, u32, u32), u32>,
    describe: TypedFunc<(), u32>,
    post_execute: Option<TypedFunc<u32, ()>>,
    post_describe: Option<TypedFunc<u32, ()>>,
}

fn err(e: wasmtime::Error) -> String {
    format!("{e:#}")
}

impl CoreExports for Instance {
    fn realloc(&mut self, align: u32, size: u32) -> Result<u32, String> {
        self.realloc
            .call(&mut self.store, (0, 0, align, size))
            .map_err(err)
    }
    fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<(), String> {
        self.memory
            .write(&mut self.store, ptr as usize, bytes)
            .map_err(|e| e.to_string())
    }
    fn read(&mut self, ptr: u32, len: u32) -> Result<Vec<u8>, String> {
        let start = ptr as usize;
        self.memory
            .data(&self.store)
            .get(start..start.saturating_add(len as usize))
            .map(<[u8]>::to_vec)
            .ok_or_else(|| format!("{len} bytes at {ptr:#x} are out of bounds"))
    }
    fn call_execute(&mut self, args: [u32; 4]) -> Result<u32, String> {
        self.execute.call(&mut self.store, args.into()).map_err(err)
    }
    fn post_execute(&mut self, ret: u32) -> Result<(), String> {
        match &self.post_execute {
            Some(f) => f.call(&mut self.store, ret).map_err(err),
            None => Ok(()),
        }
    }
    fn call_describe(&mut self) -> Result<u32, String> {
        self.describe.call(&mut self.store, ()).map_err(err)
    }
    fn post_describe(&mut self, ret: u32) -> Result<(), String> {
        match &self.post_describe {
            Some(f) => f.call(&mut self.store, ret).map_err(err),
            None => Ok(()),
        }
    }
}

impl RawInstance for Instance {
    fn execute(&mut self, action: &str, input: &str) -> Result<String, String> {
        super::core::execute(self, action, input)
    }
    fn describe(&mut self) -> Result<usize, String> {
        super::core::describe(self)
    }
}
