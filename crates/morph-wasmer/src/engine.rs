//! The runtime: engines per compiler, compile, serialize and deserialize.

use crate::tunables::CapTunables;
use morph_runtime::{
    BoxFuture, CompiledModule, Error, ErrorKind, Instance, InstanceConfig, Limits, ModuleInfo,
    Result, Runtime,
};
use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use wasmer::sys::{BaseTunables, EngineBuilder, Features, NativeEngineExt};
use wasmer::{Engine, Module};

/// The engine and its version, bound into compiled-code frames.
const ENGINE_VERSION: &str = "wasmer 7.3.0";

/// Which wasmer compiler a runtime uses.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Compiler {
    Cranelift,
    Singlepass,
}

impl Compiler {
    fn name(self) -> &'static str {
        match self {
            Compiler::Cranelift => "wasmer-cranelift",
            Compiler::Singlepass => "wasmer-singlepass",
        }
    }

    /// Whether this build has the compiler.
    fn available(self) -> bool {
        match self {
            Compiler::Cranelift => cfg!(feature = "cranelift"),
            Compiler::Singlepass => cfg!(feature = "singlepass"),
        }
    }

    /// The wasm features the engine accepts: Morph's set (`morph_runtime::wasm_features`),
    /// minus SIMD on singlepass, which does not compile it.
    fn features(self) -> Features {
        let mut f = Features::new();
        f.threads(false)
            .reference_types(true)
            .simd(self == Compiler::Cranelift)
            .relaxed_simd(false)
            .bulk_memory(true)
            .multi_value(true)
            .tail_call(false)
            .module_linking(false)
            .multi_memory(false)
            .memory64(false)
            .exceptions(false)
            .wide_arithmetic(false)
            .extended_const(false);
        f
    }

    /// A new engine with Morph's tunables and, when `metering` is `Some(initial)`, wasmer's
    /// metering middleware counting one point per operator.
    fn engine(self, metering: Option<u64>) -> Result<Engine> {
        let builder = match self {
            #[cfg(feature = "cranelift")]
            Compiler::Cranelift => {
                use wasmer::sys::CompilerConfig;
                let mut config = wasmer::sys::Cranelift::new();
                if let Some(initial) = metering {
                    config.push_middleware(metering_middleware(initial));
                }
                EngineBuilder::new(config)
            }
            #[cfg(feature = "singlepass")]
            Compiler::Singlepass => {
                use wasmer::sys::CompilerConfig;
                let mut config = wasmer::sys::Singlepass::new();
                if let Some(initial) = metering {
                    config.push_middleware(metering_middleware(initial));
                }
                EngineBuilder::new(config)
            }
            #[allow(unreachable_patterns)]
            _ => return Err(unavailable(self)),
        };
        let mut engine = builder.set_features(Some(self.features())).engine();
        let base = BaseTunables::for_target(engine.target());
        engine.set_tunables(CapTunables::new(base));
        Ok(Engine::from(engine))
    }
}

fn metering_middleware(initial: u64) -> Arc<dyn wasmer::sys::ModuleMiddleware> {
    Arc::new(wasmer_middlewares::Metering::new(
        initial,
        |_: &wasmer::sys::wasmparser::Operator<'_>| 1,
    ))
}

fn unavailable(compiler: Compiler) -> Error {
    let available = [Compiler::Cranelift, Compiler::Singlepass]
        .into_iter()
        .filter(|c| c.available())
        .map(|c| c.name().to_owned())
        .collect();
    Error::new(ErrorKind::BackendUnavailable {
        name: compiler.name().to_owned(),
        available,
    })
}

/// Morph's wasmer backend with one of its compilers. See the crate docs.
///
/// Cheap to clone (the engine for cached code is reference-counted), `Send + Sync`.
#[derive(Clone)]
pub struct WasmerRuntime {
    compiler: Compiler,
    /// A compiler-less engine with Morph's tunables, for deserialized modules.
    headless: Engine,
}

impl std::fmt::Debug for WasmerRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmerRuntime")
            .field("name", &self.compiler.name())
            .finish_non_exhaustive()
    }
}

impl WasmerRuntime {
    /// The `wasmer-cranelift` backend: wasmer's optimizing compiler.
    ///
    /// # Errors
    /// `BackendUnavailable` when this build lacks the `cranelift` feature.
    pub fn cranelift() -> Result<Self> {
        Self::new(Compiler::Cranelift)
    }

    /// The `wasmer-singlepass` backend: wasmer's one-pass compiler, for fast compiles.
    ///
    /// # Errors
    /// `BackendUnavailable` when this build lacks the `singlepass` feature.
    pub fn singlepass() -> Result<Self> {
        Self::new(Compiler::Singlepass)
    }

    fn new(compiler: Compiler) -> Result<Self> {
        if !compiler.available() {
            return Err(unavailable(compiler));
        }
        let mut headless = Engine::headless();
        let base = BaseTunables::for_target(headless.target());
        headless.set_tunables(CapTunables::new(base));
        Ok(WasmerRuntime { compiler, headless })
    }
}

/// A module compiled by wasmer, with the engine that owns its code and tunables.
pub(crate) struct WasmerModule {
    pub(crate) engine: Engine,
    pub(crate) module: Module,
    pub(crate) info: ModuleInfo,
}

impl CompiledModule for WasmerModule {
    fn info(&self) -> &ModuleInfo {
        &self.info
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

pub(crate) fn downcast(module: &dyn CompiledModule) -> Result<&WasmerModule> {
    module
        .as_any()
        .downcast_ref::<WasmerModule>()
        .ok_or_else(|| Error::engine("the compiled module belongs to another backend"))
}

impl Runtime for WasmerRuntime {
    fn name(&self) -> &'static str {
        self.compiler.name()
    }

    fn compile(&self, wasm: &[u8], limits: &Limits) -> Result<Arc<dyn CompiledModule>> {
        let (bytes, info) = morph_runtime::prepare(wasm, limits)?;
        // wasmer runs a start function inside `Instance::new`, out of reach of the
        // deadline and of host calls' memory access: it becomes an export that
        // `instantiate` calls under the usual limits.
        let bytes = match morph_runtime::hide_start(&bytes)? {
            Some(hidden) => std::borrow::Cow::Owned(hidden.wasm),
            None => bytes,
        };
        // Native fuel: wasmer's metering middleware. The initial points do not matter:
        // every call sets them from the instance's limits first.
        let metering = info
            .metered
            .is_none()
            .then(|| limits.fuel.unwrap_or(u64::MAX));
        let engine = self.compiler.engine(metering)?;
        let name = self.name();
        // A compiler bug must not take the host down: a panic becomes an engine error.
        let module = catch_unwind(AssertUnwindSafe(|| Module::new(&engine, &bytes)))
            .map_err(|_| Error::engine(format!("{name} panicked while compiling the module")))?
            .map_err(|e| {
                let simd = e.to_string().to_ascii_lowercase().contains("simd");
                let hint = if self.compiler == Compiler::Singlepass && simd {
                    " (singlepass compiles no SIMD; try wasmer-cranelift)"
                } else {
                    ""
                };
                Error::engine(format!("{name} could not compile the module: {e}{hint}"))
            })?;
        Ok(Arc::new(WasmerModule {
            engine,
            module,
            info,
        }))
    }

    fn serialize(&self, module: &dyn CompiledModule) -> Result<Vec<u8>> {
        let m = downcast(module)?;
        let code = m
            .module
            .serialize()
            .map_err(|e| Error::engine(format!("wasmer could not serialize the module: {e}")))?;
        Ok(morph_runtime::frame_compiled(
            self.name(),
            ENGINE_VERSION,
            &m.info,
            &code,
        ))
    }

    unsafe fn deserialize(&self, bytes: &[u8]) -> Result<Arc<dyn CompiledModule>> {
        let (info, code) = morph_runtime::unframe_compiled(bytes, self.name(), ENGINE_VERSION)?;
        // SAFETY: the caller guarantees that the bytes came from `serialize` of this
        // backend and build, unchanged.
        let module =
            unsafe { Module::deserialize(&self.headless, code.to_vec()) }.map_err(|e| {
                Error::engine(format!("not a module compiled by this wasmer backend: {e}"))
            })?;
        Ok(Arc::new(WasmerModule {
            engine: self.headless.clone(),
            module,
            info,
        }))
    }

    fn instantiate<'a>(
        &'a self,
        module: &'a dyn CompiledModule,
        config: InstanceConfig,
    ) -> BoxFuture<'a, Result<Box<dyn Instance>>> {
        let name = self.name();
        Box::pin(async move { crate::instance::instantiate(downcast(module)?, name, config).await })
    }
}
