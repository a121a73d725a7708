//! The raw side: each engine through its own API, doing what Morph does for the same
//! figure, and nothing else. No validation, no limits but the engine's own fuel (turned
//! on as Morph turns it on, so that both run the same machine code), no checkpoint, no
//! schemas: what an embedder writing against the engine directly would pay.
//!
//! The core engines (`core.rs`) share the Canonical ABI work of a call: two
//! `cabi_realloc`s, writing the action and the input, the export, reading the answer,
//! the post-return function. The component backend's raw side is wasmtime's own
//! component bindings (`wasmtime_component.rs`) over the component made from the module
//! once, before any timing. Host calls are answered by stubs: `kv.get` says "no such
//! key", `log.log` does nothing, `events.emit` succeeds, anything else traps.

use morph_host::Backend;
use std::any::Any;
use std::sync::Arc;

#[cfg(any(
    feature = "wasmtime",
    feature = "wasmer-cranelift",
    feature = "wasmer-singlepass",
    feature = "wasmi"
))]
mod core;
#[cfg(any(feature = "wasmer-cranelift", feature = "wasmer-singlepass"))]
mod wasmer_raw;
#[cfg(feature = "wasmi")]
mod wasmi_raw;
#[cfg(feature = "wasmtime")]
mod wasmtime_component;
#[cfg(feature = "wasmtime")]
mod wasmtime_core;

/// An engine, configured as Morph configures it for this backend.
pub(crate) trait RawEngine: Send + Sync {
    /// What an embedder of the raw engine would hand it for `wasm`: the module itself,
    /// or the component made from it (done once, outside every timing).
    ///
    /// # Errors
    /// The module cannot be turned into what the engine takes.
    fn input(&self, wasm: &[u8]) -> Result<Vec<u8>, String> {
        Ok(wasm.to_vec())
    }

    /// Compiles what [`RawEngine::input`] returned.
    ///
    /// # Errors
    /// The engine refused it.
    fn compile(&self, input: &[u8]) -> Result<Arc<dyn RawModule>, String>;

    /// Loads code written by [`RawModule::serialize`].
    ///
    /// # Errors
    /// The engine refused the bytes.
    fn deserialize(&self, bytes: &[u8]) -> Result<Arc<dyn RawModule>, String>;

    /// What its cache load does, when that is not what the engine calls deserializing.
    fn cache_note(&self) -> Option<&'static str> {
        None
    }
}

/// Compiled code, ready to instantiate (with its imports resolved where the engine
/// offers that).
pub(crate) trait RawModule: Send + Sync + Any {
    /// The code in the engine's serialized form.
    ///
    /// # Errors
    /// The engine cannot serialize it.
    fn serialize(&self) -> Result<Vec<u8>, String>;

    /// A new instance in a new store, its start function run.
    ///
    /// # Errors
    /// Instantiation failed or trapped.
    fn instantiate(&self) -> Result<Box<dyn RawInstance>, String>;
}

/// One instance in its store.
pub(crate) trait RawInstance {
    /// `execute(action, input)`: the output, or the guest's error as text.
    ///
    /// # Errors
    /// A trap, malformed guest data, or the guest's own error.
    fn execute(&mut self, action: &str, input: &str) -> Result<String, String>;

    /// `describe()`, every string of the answer copied out; the number of actions.
    ///
    /// # Errors
    /// A trap or malformed guest data.
    fn describe(&mut self) -> Result<usize, String>;
}

/// The raw engine of `backend`; `None` when this build lacks it.
///
/// # Errors
/// The engine cannot be configured on this machine.
pub(crate) fn engine(backend: Backend) -> Result<Option<Box<dyn RawEngine>>, String> {
    Ok(match backend {
        #[cfg(feature = "wasmtime")]
        Backend::Wasmtime => Some(Box::new(wasmtime_component::Engine::new()?)),
        #[cfg(feature = "wasmtime")]
        Backend::WasmtimeCore => Some(Box::new(wasmtime_core::Engine::new()?)),
        #[cfg(feature = "wasmer-cranelift")]
        Backend::WasmerCranelift => Some(Box::new(wasmer_raw::Engine::cranelift())),
        #[cfg(feature = "wasmer-singlepass")]
        Backend::WasmerSinglepass => Some(Box::new(wasmer_raw::Engine::singlepass())),
        #[cfg(feature = "wasmi")]
        Backend::Wasmi => Some(Box::new(wasmi_raw::Engine::new()?)),
        _ => None,
    })
}
