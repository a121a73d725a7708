//! The shared engine and linker, and the `Runtime` implementation.

use crate::call::StoreData;
use morph_runtime::{BoxFuture, CompiledModule, Instance, InstanceConfig, Limits, Result, Runtime};
use std::sync::Arc;
use wasmi::{CompilationMode, Config, CustomFuelCosts, Engine, Linker};

/// Maximum depth of guest-to-guest calls before a `stack-overflow` trap.
const MAX_RECURSION_DEPTH: usize = 16_384;

/// Maximum size of wasmi's value stack (locals and operands of every live frame), in bytes.
const MAX_VALUE_STACK: usize = 8 << 20;

/// Morph's interpreter backend on wasmi. See the crate docs.
///
/// Cheap to clone (the engine and the host-function linker are shared); `Send + Sync`.
#[derive(Clone)]
pub struct WasmiRuntime {
    engine: Engine,
    linker: Arc<Linker<StoreData>>,
}

impl WasmiRuntime {
    /// A wasmi engine configured for Morph: fuel on (for CPU budgets and deadline slices),
    /// lazy translation, the wasm features of [`morph_runtime::wasm_features`], and a
    /// bounded call stack.
    ///
    /// # Errors
    /// `Engine` when the contract's host functions cannot be defined (never, in practice).
    pub fn new() -> Result<Self> {
        let mut config = Config::default();
        config
            .consume_fuel(true)
            // wasmi charges fuel for translating a function on its first call, but cannot
            // resume a call stopped there: with fuel slices (see `call`), a call would
            // fail whenever a first call met the end of a slice. Translation is bounded by
            // the module's size and happens once per module, so it is not charged; copies
            // (`memory.copy`, `memory.fill`, ...) keep wasmi's default cost.
            .fuel_cost(CustomFuelCosts {
                bytes_copied_per_fuel: 64,
                fuel_per_bytes_translated: 0,
                fuel_per_bytes_validated: 0,
            })
            // Validate eagerly (so every error surfaces at compile time, as on the other
            // backends), translate each function to wasmi bytecode on its first call.
            .compilation_mode(CompilationMode::LazyTranslation)
            .set_max_recursion_depth(MAX_RECURSION_DEPTH)
            .set_max_stack_height(MAX_VALUE_STACK)
            .wasm_multi_memory(false)
            .wasm_tail_call(false)
            .wasm_extended_const(false)
            .wasm_wide_arithmetic(false)
            .wasm_custom_page_sizes(false)
            .wasm_relaxed_simd(false)
            .wasm_simd(true);
        let engine = Engine::new(&config);
        let linker = Arc::new(crate::instance::linker(&engine)?);
        Ok(WasmiRuntime { engine, linker })
    }
}

impl Runtime for WasmiRuntime {
    fn name(&self) -> &'static str {
        "wasmi"
    }

    fn compile(&self, wasm: &[u8], limits: &Limits) -> Result<Arc<dyn CompiledModule>> {
        let (bytes, info) = morph_runtime::prepare(wasm, limits)?;
        crate::instance::compile(&self.engine, bytes.into_owned(), info)
    }

    fn serialize(&self, module: &dyn CompiledModule) -> Result<Vec<u8>> {
        crate::instance::serialize(module)
    }

    /// Recompiles the module from the framed wasm bytes. wasmi validates them again, so
    /// for this backend corrupted bytes give an `Engine` error, never undefined behaviour.
    unsafe fn deserialize(&self, bytes: &[u8]) -> Result<Arc<dyn CompiledModule>> {
        crate::instance::deserialize(&self.engine, bytes)
    }

    fn instantiate<'a>(
        &'a self,
        module: &'a dyn CompiledModule,
        config: InstanceConfig,
    ) -> BoxFuture<'a, Result<Box<dyn Instance>>> {
        Box::pin(crate::instance::instantiate(
            &self.engine,
            &self.linker,
            module,
            config,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_is_shareable() {
        fn assert_shareable<T: Clone + Send + Sync + 'static>() {}
        assert_shareable::<WasmiRuntime>();
        assert_eq!(WasmiRuntime::new().unwrap().name(), "wasmi");
    }
}
