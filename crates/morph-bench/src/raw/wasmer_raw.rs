//! wasmer, Cranelift or Singlepass: an engine with the metering middleware (one per
//! compile: a `Metering` serves one module, which is why Morph makes one per compile
//! too), `Module`, `Instance::new`, `TypedFunction`.

use super::core::{CoreExports, KV_MISS};
use super::{RawInstance, RawModule};
use morph_runtime::{HostFunc, IMPORTS};
use std::sync::Arc;
use wasmer::sys::{CompilerConfig, EngineBuilder, NativeEngineExt};
use wasmer::{
    Function, FunctionEnv, FunctionEnvMut, FunctionType, Imports, Memory, Module, RuntimeError,
    Store, Type, TypedFunction, Value,
};

#[derive(Clone, Copy)]
enum Compiler {
    #[cfg(feature = "wasmer-cranelift")]
    Cranelift,
    #[cfg(feature = "wasmer-singlepass")]
    Singlepass,
}

pub(crate) struct Engine {
    compiler: Compiler,
    headless: wasmer::Engine,
}

impl Engine {
    #[cfg(feature = "wasmer-cranelift")]
    pub(crate) fn cranelift() -> Self {
        Engine {
            compiler: Compiler::Cranelift,
            headless: wasmer::Engine::headless(),
        }
    }

    #[cfg(feature = "wasmer-singlepass")]
    pub(crate) fn singlepass() -> Self {
        Engine {
            compiler: Compiler::Singlepass,
            headless: wasmer::Engine::headless(),
        }
    }

    /// An engine with a fresh metering middleware (one point per operator, as Morph's).
    fn engine(&self) -> wasmer::Engine {
        let metering = Arc::new(wasmer_middlewares::Metering::new(
            u64::MAX / 2,
            |_: &wasmer::sys::wasmparser::Operator<'_>| 1,
        ));
        let builder = match self.compiler {
            #[cfg(feature = "wasmer-cranelift")]
            Compiler::Cranelift => {
                let mut config = wasmer::sys::Cranelift::new();
                config.push_middleware(metering);
                EngineBuilder::new(config)
            }
            #[cfg(feature = "wasmer-singlepass")]
            Compiler::Singlepass => {
                let mut config = wasmer::sys::Singlepass::new();
                config.push_middleware(metering);
                EngineBuilder::new(config)
            }
        };
        wasmer::Engine::from(builder.engine())
    }
}

impl super::RawEngine for Engine {
    fn compile(&self, input: &[u8]) -> Result<Arc<dyn RawModule>, String> {
        let engine = self.engine();
        let module = Module::new(&engine, input).map_err(|e| e.to_string())?;
        Ok(Arc::new(Compiled { engine, module }))
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<Arc<dyn RawModule>, String> {
        // SAFETY: the bytes come from `Module::serialize` of this wasmer, in this process.
        let module = unsafe { Module::deserialize(&self.headless, bytes.to_vec()) }
            .map_err(|e| e.to_string())?;
        Ok(Arc::new(Compiled {
            engine: self.headless.clone(),
            module,
        }))
    }
}

struct Compiled {
    engine: wasmer::Engine,
    module: Module,
}

/// What the host functions reach: the guest's memory, once instantiated.
struct Env {
    memory: Option<Memory>,
}

fn write_ret(env: &FunctionEnvMut<'_, Env>, ret: u32, bytes: &[u8]) -> Result<(), RuntimeError> {
    let memory = env
        .data()
        .memory
        .clone()
        .ok_or_else(|| RuntimeError::new("no memory"))?;
    memory
        .view(env)
        .write(u64::from(ret), bytes)
        .map_err(|e| RuntimeError::new(e.to_string()))
}

fn imports(store: &mut Store, env: &FunctionEnv<Env>) -> Imports {
    let mut imports = Imports::new();
    for spec in IMPORTS {
        let f = match spec.func {
            HostFunc::KvGet => Function::new_typed_with_env(
                store,
                env,
                |env: FunctionEnvMut<'_, Env>, _key: u32, _len: u32, ret: u32| {
                    write_ret(&env, ret, &KV_MISS)
                },
            ),
            func => {
                let ty = FunctionType::new(vec![Type::I32; spec.params], vec![]);
                Function::new_with_env(store, env, ty, move |env, params: &[Value]| match func {
                    HostFunc::Log => Ok(Vec::new()),
                    HostFunc::EventsEmit => {
                        let ret = params.last().and_then(Value::i32).unwrap_or(0);
                        write_ret(&env, ret as u32, &[0]).map(|()| Vec::new())
                    }
                    other => Err(RuntimeError::new(format!(
                        "the raw bench host does not provide {}",
                        other.name()
                    ))),
                })
            }
        };
        imports.define(spec.module, spec.name, f);
    }
    imports
}

impl RawModule for Compiled {
    fn serialize(&self) -> Result<Vec<u8>, String> {
        self.module
            .serialize()
            .map(|b| b.to_vec())
            .map_err(|e| e.to_string())
    }

    fn instantiate(&self) -> Result<Box<dyn RawInstance>, String> {
        let mut store = Store::new(self.engine.clone());
        let env = FunctionEnv::new(&mut store, Env { memory: None });
        let imports = imports(&mut store, &env);
        let instance =
            wasmer::Instance::new(&mut store, &self.module, &imports).map_err(|e| e.to_string())?;
        let exports = &instance.exports;
        let memory = exports
            .get_memory("memory")
            .map_err(|e| e.to_string())?
            .clone();
        env.as_mut(&mut store).memory = Some(memory.clone());
        let realloc = exports
            .get_typed_function(&store, "cabi_realloc")
            .map_err(|e| e.to_string())?;
        let execute = exports
            .get_typed_function(&store, "execute")
            .map_err(|e| e.to_string())?;
        let describe = exports
            .get_typed_function(&store, "describe")
            .map_err(|e| e.to_string())?;
        let post_execute = exports.get_typed_function(&store, "cabi_post_execute").ok();
        let post_describe = exports
            .get_typed_function(&store, "cabi_post_describe")
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
    store: Store,
    memory: Memory,
    realloc: TypedFunction<(u32, u32, u32, u32), u32>,
    execute: TypedFunction<(u32, u32, u32, u32), u32>,
    describe: TypedFunction<(), u32>,
    post_execute: Option<TypedFunction<u32, ()>>,
    post_describe: Option<TypedFunction<u32, ()>>,
}

fn err(e: RuntimeError) -> String {
    e.to_string()
}

impl CoreExports for Instance {
    fn realloc(&mut self, align: u32, size: u32) -> Result<u32, String> {
        self.realloc
            .call(&mut self.store, 0, 0, align, size)
            .map_err(err)
    }
    fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<(), String> {
        self.memory
            .view(&self.store)
            .write(u64::from(ptr), bytes)
            .map_err(|e| e.to_string())
    }
    fn read(&mut self, ptr: u32, len: u32) -> Result<Vec<u8>, String> {
        let mut buf = vec![0; len as usize];
        self.memory
            .view(&self.store)
            .read(u64::from(ptr), &mut buf)
            .map_err(|e| e.to_string())?;
        Ok(buf)
    }
    fn call_execute(&mut self, [a, b, c, d]: [u32; 4]) -> Result<u32, String> {
        self.execute.call(&mut self.store, a, b, c, d).map_err(err)
    }
    fn post_execute(&mut self, ret: u32) -> Result<(), String> {
        match &self.post_execute {
            Some(f) => f.call(&mut self.store, ret).map_err(err),
            None => Ok(()),
        }
    }
    fn call_describe(&mut self) -> Result<u32, String> {
        self.describe.call(&mut self.store).map_err(err)
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
