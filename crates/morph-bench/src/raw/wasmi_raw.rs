//! wasmi: `Module` (validated eagerly, translated lazily, as Morph configures it),
//! `Linker::instantiate_and_start`, `TypedFunc`. wasmi has no compiled-code format: its
//! "cache load" compiles the module again, as Morph's does.

use super::core::{CoreExports, KV_MISS};
use super::{RawInstance, RawModule};
use morph_runtime::{HostFunc, IMPORTS};
use std::sync::Arc;
use wasmi::{
    Caller, CompilationMode, Config, CustomFuelCosts, FuncType, Linker, Memory, Module, Store,
    TypedFunc, Val, ValType,
};

pub(crate) struct Engine {
    engine: wasmi::Engine,
    linker: Arc<Linker<()>>,
}

fn memory_of(caller: &Caller<'_, ()>) -> Result<Memory, wasmi::Error> {
    caller
        .get_export("memory")
        .and_then(wasmi::Extern::into_memory)
        .ok_or_else(|| wasmi::Error::new("no memory"))
}

impl Engine {
    pub(crate) fn new() -> Result<Self, String> {
        let mut config = Config::default();
        config
            .consume_fuel(true)
            .fuel_cost(CustomFuelCosts {
                bytes_copied_per_fuel: 64,
                fuel_per_bytes_translated: 0,
                fuel_per_bytes_validated: 0,
            })
            .compilation_mode(CompilationMode::LazyTranslation);
        let engine = wasmi::Engine::new(&config);
        let mut linker = Linker::new(&engine);
        for spec in IMPORTS {
            let r = match spec.func {
                HostFunc::KvGet => linker
                    .func_wrap(
                        spec.module,
                        spec.name,
                        |mut caller: Caller<'_, ()>, _key: u32, _len: u32, ret: u32| {
                            let memory = memory_of(&caller)?;
                            memory
                                .write(&mut caller, ret as usize, &KV_MISS)
                                .map_err(|e| wasmi::Error::new(e.to_string()))
                        },
                    )
                    .map(drop),
                func => {
                    let ty = FuncType::new(std::iter::repeat_n(ValType::I32, spec.params), []);
                    linker
                        .func_new(
                            spec.module,
                            spec.name,
                            ty,
                            move |mut caller: Caller<'_, ()>, params: &[Val], _: &mut [Val]| {
                                match func {
                                    HostFunc::Log => Ok(()),
                                    HostFunc::EventsEmit => {
                                        let ret = params.last().and_then(Val::i32).unwrap_or(0);
                                        let memory = memory_of(&caller)?;
                                        memory
                                            .write(&mut caller, ret as u32 as usize, &[0])
                                            .map_err(|e| wasmi::Error::new(e.to_string()))
                                    }
                                    other => Err(wasmi::Error::new(format!(
                                        "the raw bench host does not provide {}",
                                        other.name()
                                    ))),
                                }
                            },
                        )
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
        let module = Module::new(&self.engine, input).map_err(|e| e.to_string())?;
        Ok(Arc::new(Compiled {
            engine: self.engine.clone(),
            linker: self.linker.clone(),
            module,
            wasm: input.to_vec(),
        }))
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<Arc<dyn RawModule>, String> {
        self.compile(bytes)
    }

    fn cache_note(&self) -> Option<&'static str> {
        Some("wasmi has no compiled-code format: both sides compile the module again")
    }
}

struct Compiled {
    engine: wasmi::Engine,
    linker: Arc<Linker<()>>,
    module: Module,
    /// The module's bytes: what a wasmi "cache" holds.
    wasm: Vec<u8>,
}

impl RawModule for Compiled {
    fn serialize(&self) -> Result<Vec<u8>, String> {
        Ok(self.wasm.clone())
    }

    fn instantiate(&self) -> Result<Box<dyn RawInstance>, String> {
        let mut store = Store::new(&self.engine, ());
        store.set_fuel(u64::MAX / 2).map_err(|e| e.to_string())?;
        let instance = self
            .linker
            .instantiate_and_start(&mut store, &self.module)
            .map_err(|e| e.to_string())?;
        let memory = instance
            .get_memory(&store, "memory")
            .ok_or_else(|| "export `memory` missing".to_owned())?;
        let realloc = instance
            .get_typed_func(&store, "cabi_realloc")
            .map_err(|e| e.to_string())?;
        let execute = instance
            .get_typed_func(&store, "execute")
            .map_err(|e| e.to_string())?;
        let describe = instance
            .get_typed_func(&store, "describe")
            .map_err(|e| e.to_string())?;
        let post_execute = instance.get_typed_func(&store, "cabi_post_execute").ok();
        let post_describe = instance.get_typed_func(&store, "cabi_post_describe").ok();
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

fn err(e: wasmi::Error) -> String {
    e.to_string()
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
