//! # morph-wasmi: Morph's interpreter backend
//!
//! Backend crate: `morph-host` depends on it (feature `wasmi`); apps use `morph-host`.
//! [`WasmiRuntime`] implements [`morph_runtime::Runtime`] on [wasmi], a WebAssembly
//! interpreter written in pure Rust. It generates no machine code, so it runs where JIT
//! compilation is forbidden (iOS, some consoles and hardened devices) and builds for any
//! Rust target. No wasmi type appears in this crate's API.
//!
//! ## Concepts
//!
//! - **[`WasmiRuntime`]**: one wasmi engine and one linker holding the contract's host
//!   functions. Create it once per process and share it: it is `Clone` (cheap, the engine
//!   is reference-counted) and `Send + Sync`.
//! - **Compiled modules** (`Runtime::compile`): validation by
//!   [`morph_runtime::prepare`], then wasmi validates the module again and translates each
//!   function to its register bytecode lazily, on its first call. Compiling is fast
//!   (about a tenth of a millisecond for a 30 KB guest); running is one to two orders of
//!   magnitude slower than the JIT backends (see the benchmarks). Compiled modules are
//!   `Send + Sync` and shared by reference counting.
//! - **Serialization**: wasmi has no compiled-code format. `Runtime::serialize` frames the
//!   prepared wasm bytes (validated, and instrumented in deterministic metering) with
//!   [`morph_runtime::frame_compiled`], and `Runtime::deserialize` recompiles them. Because
//!   wasmi validates what it loads, corrupted bytes give an `Engine` error here, never
//!   undefined behaviour; caches should still check their digest.
//! - **Instances** (`Runtime::instantiate`): one wasmi store each, holding the guest's
//!   memory and Morph's `HostContext`; `Send`, one call at a time. An instance costs its
//!   linear memory, a few kilobytes, and wasmi's value stack while a call runs (it grows
//!   with the guest's call depth, up to the stack limit below). Arguments and results cross the boundary through
//!   morph-runtime's one Canonical ABI; host calls go through morph-runtime's one
//!   `dispatch`.
//!
//! ## Example
//!
//! ```
//! use morph_abi::SideEffect;
//! use morph_runtime::{ExecuteCall, InstanceConfig, Limits, Runtime};
//! use morph_wasmi::WasmiRuntime;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A minimal extension whose `execute` returns `ok("")` (an all-zero result area).
//! let wasm = wat::parse_str(r#"(module
//!     (memory (export "memory") 1)
//!     (func (export "describe") (result i32) i32.const 0)
//!     (func (export "execute") (param i32 i32 i32 i32) (result i32) i32.const 0)
//!     (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) i32.const 1024)
//!     (@custom "morph:contract" "0.1.0"))"#)?;
//!
//! let runtime = WasmiRuntime::new()?;
//! let limits = Limits::default();
//! let module = runtime.compile(&wasm, &limits)?;
//! // Instances are async. wasmi itself needs nothing from the executor (a long call only
//! // yields now and then), so any will do; the embedder's async host handler may need more.
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! // Nothing granted: the default handler (`NoCapabilities`) and policy (`DenyAll`).
//! let mut instance = runtime
//!     .instantiate(&*module, InstanceConfig::new("example", limits))
//!     .await?;
//! let call = ExecuteCall { action: "anything", input: "{}", side_effect: SideEffect::None };
//! assert_eq!(instance.execute(call).await?, "");
//! # Ok::<(), morph_runtime::Error>(())
//! # })?;
//! # Ok(())
//! # }
//! ```
//!
//! ## Limits
//!
//! Each of [`morph_runtime::Limits`] means what it means on every backend:
//!
//! - **Memory**: a wasmi resource limiter refuses growth beyond `max_memory_bytes`
//!   (`memory.grow` returns -1); a trap that follows is reported as
//!   `LimitExceeded(memory)`. Tables may grow to 100 000 elements.
//! - **CPU**: wasmi fuel (about one unit per instruction), `fuel` units per call, then
//!   `LimitExceeded(cpu)`. Translating a function on its first call is not charged
//!   (wasmi could not resume a call stopped there). In deterministic metering the module
//!   counts its own instructions ([`morph_runtime::meter`]), wasmi fuel is unlimited, and
//!   `Usage::fuel` reports the instructions the module counted.
//! - **Wall-clock deadline**: wasmi has no epochs and no interrupts, so the deadline is
//!   built on *resumable calls*. Every guest call (the exports, the allocator, the start
//!   function) runs with at most 2^18 fuel units in the store; when a slice runs out,
//!   wasmi returns a handle instead of trapping, the backend checks the clock (stopping
//!   with `LimitExceeded(timeout)`) and the remaining budget (stopping with
//!   `LimitExceeded(cpu)`), refuels, and resumes. The deadline's resolution is one slice,
//!   under a millisecond in an optimised build (0.75 ms measured in a debug build); the
//!   cost is a clock read per slice. As with wasmtime's epochs, a host call that blocks
//!   is not interrupted; the deadline trips at the next slice after it returns. Fuel
//!   is therefore always on, even when `fuel` is `None`. wasmi runs a start function
//!   inside instantiation with a call that cannot be resumed, so the backend moves the
//!   start function to an export at compile time and calls it, sliced, right after
//!   instantiation; a trap in it still fails instantiation.
//! - **Host calls, input and output sizes**: counted by morph-runtime.
//! - **Stack**: 16 384 nested wasm calls or 8 MiB of wasmi's value stack, then a
//!   `stack-overflow` trap. wasmi keeps wasm frames on its own heap stack, so deep guest
//!   recursion never touches the native stack; host calls may re-enter the guest (to
//!   allocate) at most 8 levels deep.
//!
//! ## Cargo features
//!
//! None. wasmi is built with `std`, `validate`, `simd` (the contract allows SIMD) and
//! `auto-dispatch` (tail-call dispatch where the target and optimisation level allow
//! it, a portable loop otherwise).
//!
//! [wasmi]: https://docs.rs/wasmi
#![deny(missing_docs)]

mod call;
mod engine;
mod instance;

pub use engine::WasmiRuntime;
