//! # morph-runtime: the engine-neutral core of Morph
//!
//! Internal crate: backends (`morph-wasmtime-ref`, `morph-wasmer`, `morph-wasmi`) and
//! `morph-host` depend on it; apps use `morph-host`.
//!
//! - **[`Runtime`]**: what a backend is: compile (after [`validate`]), serialize and
//!   deserialize compiled code, instantiate with [`Limits`], a [`HostHandler`] and a
//!   [`Policy`]. An [`Instance`] then serves `describe` and `execute`, asynchronously.
//! - **Host calls as data** ([`HostCall`], [`HostReply`], and the typed [`Request`]s of
//!   `morph-permissions`): one value per import of the contract, lifted once by the
//!   shared Canonical ABI (or built from the component bindings' values) and taken
//!   through **one checkpoint** ([`HostContext::admit`]): phase, count, deadline, bytes,
//!   each request's [`Decision`] by the [`Policy`], then the embedder's async
//!   [`HostHandler`].
//! - **The per-call protocol** ([`protocol`]): usable check, limits, tracing span, call
//!   kind, lowering, guest call, lifting, post-return, poisoning, written once; a backend
//!   only enters the guest, reads and writes its memory and calls its allocator.
//! - **Errors** ([`Error`], [`ErrorKind`]): one taxonomy for every backend, so the same
//!   failure is the same error everywhere.
#![deny(missing_docs)]

#[deny(clippy::arithmetic_side_effects)]
mod abi;
mod call;
#[cfg(test)]
mod drift;
mod error;
mod host;
mod limits;
pub mod meter;
mod module;
pub mod protocol;
mod runtime;

pub use abi::{GuestMemory, LowerPlan, check_range};
pub use call::{Answer, HostCall, HostFunc, HostReply, IMPORTS, ImportSpec, find_import};
pub use error::{Error, ErrorKind, Limit, Result, TrapKind};
pub use host::{
    Admission, Blocking, BoxFuture, CallContext, CallKind, DenyAll, Grants, HostContext,
    HostHandler, NoCapabilities, Phase, Policy, SyncHostHandler,
};
pub use limits::{HOST_CALL_FUEL, Limits, Metering};
pub use module::{
    HiddenStart, ModuleInfo, START_EXPORT, SUPPORTED_CONTRACTS, extension_features, frame_compiled,
    frame_seal, hide_start, hide_start_as, prepare, unframe_compiled, validate, wasm_features,
};
pub use module::{
    MAX_FUNCTION_BODY_BYTES, MAX_FUNCTION_LOCALS, MAX_FUNCTIONS, MAX_GLOBALS, MAX_NESTING_DEPTH,
    MAX_TABLE_ELEMENTS, MAX_TABLES, MAX_TOTAL_LOCALS, TABLE_ELEMENT_BYTES, table_bytes,
};
/// The permission language the checkpoint decides in (re-exported from
/// `morph-permissions`).
pub use morph_permissions::{Decision, Denial, Grant, GrantSet, PermissionKind, Request};
pub use runtime::{CompiledModule, ExecuteCall, Instance, InstanceConfig, Runtime, Usage};
