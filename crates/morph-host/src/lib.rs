//! # morph-host: run Morph extensions in an app
//!
//! The facade an app embeds. Build a [`Host`] once (backend, default limits, the
//! [`HostHandler`] that performs host calls and the [`Policy`] that decides each
//! [`Request`]; nothing is granted by default), [`Host::prepare`] each extension once
//! (compiled code, description and compiled JSON Schemas), then
//! [`Prepared::execute`] its actions, concurrently if need be, each on a fresh instance.
//! Inputs and outputs are checked against the schemas the extension declared.
//!
//! ```no_run
//! use morph_host::{Backend, ExecuteOptions, Host};
//!
//! # async fn demo() -> Result<(), morph_host::Error> {
//! let wasm = std::fs::read("target/extensions/hello.wasm").expect("built by cargo xtask build");
//! let host = Host::builder().backend(Backend::WasmtimeCore).build()?;
//! let hello = host.prepare("hello", &wasm).await?;
//! let out = hello.execute("greet", r#"{"name":"Ada"}"#, &ExecuteOptions::default()).await?;
//! assert!(out.text.contains("Ada"));
//! # Ok(())
//! # }
//! ```
//!
//! Programs without an async runtime use the `_blocking` methods, or [`Extension`] for
//! one instance driven synchronously.
//!
//! ## Cargo features
//! - `wasmtime` (default): the `wasmtime` and `wasmtime-core` backends.
//! - `wasmer-cranelift`, `wasmer-singlepass` (default): wasmer with either compiler.
//! - `wasmi` (default): the interpreter; a mobile app can take it alone
//!   (`default-features = false, features = ["wasmi"]`).
#![deny(missing_docs)]

mod backend;
mod cache;
mod extension;
mod host;
mod install;

pub use backend::Backend;
pub use extension::{Extension, LoadOptions};

/// At most this many wasmer guest calls run at once, each on a thread of tokio's
/// blocking pool (wasmer's own async support is experimental, `!Send` and
/// single-threaded); further calls wait for a slot without holding a worker.
#[cfg(any(feature = "wasmer-cranelift", feature = "wasmer-singlepass"))]
pub const WASMER_MAX_CONCURRENT_CALLS: usize = morph_wasmer::MAX_CONCURRENT_CALLS;
pub use cache::{CacheEntry, CacheStats, CodeCache, DEFAULT_CACHE_BYTES};
pub use host::{ExecuteOptions, Host, HostBuilder, Output, Prepared, Session};
pub use install::{
    InstallError, InstallOptions, InstallReport, Installed, Record, Store, StoreError, UNSIGNED,
    compare_versions, install, install_blocking,
};
pub use morph_abi::{
    Completion, CompletionRequest, ExtensionInfo, Header, HostError, HostErrorKind, HttpRequest,
    HttpResponse, LogLevel, Message, Method, Notification, Role, SideEffect, Urgency,
};
#[cfg(feature = "http")]
pub use morph_capabilities::OpenAiCompatible;
pub use morph_capabilities::{
    AiLimits, AiProvider, AuditOutcome, AuditRecord, Capabilities, CapabilitiesBuilder,
    Error as CapabilitiesError, Event, FsLimits, HttpLimits, Notifier,
};
pub use morph_runtime::{
    Blocking, BoxFuture, CallContext, CallKind, Decision, Denial, DenyAll, Error, ErrorKind, Grant,
    GrantSet, Grants, HostCall, HostHandler, HostReply, Limit, Limits, Metering, NoCapabilities,
    PermissionKind, Policy, Request, Result, SUPPORTED_CONTRACTS, SyncHostHandler, TrapKind, Usage,
};

/// The README's examples, compiled as doctests so that they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
