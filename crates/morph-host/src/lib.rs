//! # morph-host: run Morph extensions in an app
//!
//! The facade an app embeds. Pick a [`Backend`] (each is behind a Cargo feature, so a
//! mobile app can take only `wasmi`), [`Extension::load`] a module with [`LoadOptions`]
//! (limits and a host-call handler that denies every capability by default), then
//! [`Extension::run`] its actions with JSON in and out. Inputs and outputs are checked
//! against the JSON Schemas the extension declared.
//!
//! ```no_run
//! use morph_host::{Backend, Extension, LoadOptions};
//!
//! # fn main() -> Result<(), morph_host::Error> {
//! let wasm = std::fs::read("target/extensions/hello.wasm").expect("built by cargo xtask build");
//! let mut ext = Extension::load(&wasm, LoadOptions { backend: Backend::Wasmtime, ..Default::default() })?;
//! let out = ext.run("greet", r#"{"name":"Ada"}"#)?;
//! assert!(out.contains("Ada"));
//! # Ok(())
//! # }
//! ```
//!
//! ## Cargo features
//! - `wasmtime` (default): the `wasmtime` and `wasmtime-core` backends.
//! - `wasmer-cranelift`, `wasmer-singlepass` (default): wasmer with either compiler.
//! - `wasmi` (default): the interpreter; a mobile app can take it alone
//!   (`default-features = false, features = ["wasmi"]`).
#![deny(missing_docs)]

mod backend;
mod extension;

pub use backend::Backend;
pub use extension::{Compiled, Extension, LoadOptions};
pub use morph_abi::ExtensionInfo;
pub use morph_runtime::{
    CallContext, DenyAll, Error, ErrorKind, HostHandler, Limit, Limits, Metering, Result, TrapKind,
    Usage,
};
