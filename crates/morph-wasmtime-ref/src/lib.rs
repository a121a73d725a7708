//! # morph-wasmtime-ref: Morph's reference backend on wasmtime
//!
//! Two [`Runtime`](morph_runtime::Runtime)s over one engine configuration:
//!
//! - **`wasmtime`** ([`WasmtimeRuntime::component`]): wraps the core module into a
//!   component (wit-component) and runs it through `wasmtime::component::bindgen!`. This
//!   is the reference semantics of the contract: the Canonical ABI as wasmtime implements
//!   it.
//! - **`wasmtime-core`** ([`WasmtimeRuntime::core`]): runs the same bytes as a core module
//!   through morph-runtime's Canonical ABI and host-call dispatch, like every other backend.
//!
//! Both meter CPU with wasmtime fuel, stop runaway guests at a wall-clock deadline with
//! epoch interruption (a ticker thread per engine, every [`EPOCH_TICK`]), and cap linear
//! memory with a resource limiter, instantiation (start function) included. Under
//! deterministic metering `wasmtime-core`'s `Usage::fuel` is the count the module keeps
//! itself, the same as on wasmer and wasmi; the component mode cannot read that global,
//! so its `Usage` reports no fuel and no memory size.
//!
//! Runtimes are cheap to clone and `Send + Sync`; instances are `Send`. No wasmtime type
//! appears in this crate's API.
#![deny(missing_docs)]

mod component;
mod core_mode;
mod engine;

pub use engine::{EPOCH_TICK, WasmtimeRuntime};
