//! # morph-runtime: the engine-neutral core of Morph
//!
//! Internal crate: backends (`morph-wasmtime-ref`, `morph-wasmer`, `morph-wasmi`) and
//! `morph-host` depend on it; apps use `morph-host`.
//!
//! - **[`Runtime`]**: what a backend is: compile (after [`validate`]), serialize and
//!   deserialize compiled code, instantiate with [`Limits`] and a [`HostHandler`]. An
//!   [`Instance`] then serves `describe` and `execute`.
//! - **The Canonical ABI** ([`GuestMemory`], [`check_range`]): lifting and lowering of every
//!   contract type, written once; a backend only provides checked memory access and a call
//!   to the guest's allocator.
//! - **Host-call dispatch** ([`dispatch`], [`IMPORTS`], [`HostContext`]): the one path from
//!   a core import call to the embedder's [`HostHandler`], which denies every capability
//!   by default ([`DenyAll`]).
//! - **The export call sequence** ([`core::describe`], [`core::execute`]) over a
//!   [`CoreInstance`].
//! - **Errors** ([`Error`], [`ErrorKind`]): one taxonomy for every backend, so the same
//!   failure is the same error everywhere.
#![deny(missing_docs)]

mod abi;
pub mod core;
mod error;
mod host;
mod limits;
pub mod meter;
mod module;
mod runtime;

pub use abi::{GuestMemory, check_range};
pub use core::{CoreInstance, PostReturn};
pub use error::{Error, ErrorKind, Limit, Result, TrapKind};
pub use host::{
    CallContext, DenyAll, HostCaller, HostContext, HostFunc, HostHandler, IMPORTS, ImportSpec,
    dispatch, find_import,
};
pub use limits::{Limits, Metering};
pub use module::{
    HiddenStart, ModuleInfo, START_EXPORT, SUPPORTED_CONTRACTS, frame_compiled, hide_start,
    prepare, unframe_compiled, validate, wasm_features,
};
pub use module::{
    MAX_FUNCTION_BODY_BYTES, MAX_FUNCTION_LOCALS, MAX_FUNCTIONS, MAX_GLOBALS, MAX_NESTING_DEPTH,
    MAX_TABLE_ELEMENTS, MAX_TABLES, MAX_TOTAL_LOCALS, TABLE_ELEMENT_BYTES, table_bytes,
};
pub use runtime::{CompiledModule, Instance, InstanceConfig, Runtime, Usage};
