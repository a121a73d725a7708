//! # morph-wasmer: Morph's backend on wasmer
//!
//! Internal crate: `morph-host` depends on it; apps pick a backend by name through
//! `morph-host`. No wasmer type appears in this crate's API.
//!
//! One [`WasmerRuntime`] type, two compilers:
//!
//! - **`wasmer-cranelift`** ([`WasmerRuntime::cranelift`]): the optimizing compiler, for
//!   desktop and Android. In the prototype it compiled and ran about as fast as wasmtime.
//! - **`wasmer-singlepass`** ([`WasmerRuntime::singlepass`]): a one-pass compiler; in the
//!   prototype about ten times faster to compile and three times slower to run: for
//!   extensions that run briefly or change often. It does not compile SIMD; such modules are refused
//!   with an `Engine` error naming the cranelift backend.
//!
//! Both run the extension as a core module through morph-runtime's Canonical ABI and
//! host-call dispatch, exactly like `wasmtime-core`, so the same module gives the same
//! answers and the same errors.
//!
//! ## Concepts and costs
//!
//! - **Runtime** ([`WasmerRuntime`]): cheap to clone, `Send + Sync`; keep one per compiler
//!   per process. Each `compile` builds its own wasmer engine, because wasmer's metering
//!   middleware can instrument only one module; the compiled module keeps that engine.
//! - **Compiled module**: shareable across threads. `serialize` writes wasmer's artifact
//!   inside Morph's framing; `deserialize` maps it back without compiling (unsafe: the
//!   bytes become machine code).
//! - **Instance**: one wasmer store; `Send` (moved between threads only between calls),
//!   one call at a time. Instantiating registers the contract's host functions and runs
//!   the start function, if any, under the call limits.
//!
//! ## Limits
//!
//! - **Memory**: the engine's tunables wrap every linear memory so that `memory.grow`
//!   beyond [`Limits::max_memory_bytes`](morph_runtime::Limits) returns -1, and the refusal
//!   is remembered: a trap that follows is reported as the memory limit.
//! - **CPU**: native fuel is wasmer's metering middleware (one point per operator), reset
//!   before every call from `Limits::fuel`. In deterministic metering the module counts
//!   itself (see `morph_runtime::meter`) and no middleware is added; `Usage::fuel` is
//!   then that count, read after `describe` or `execute`.
//! - **Wall clock**: one process-wide watchdog thread keeps the deadlines of the calls
//!   running now and interrupts a late one with wasmer's host interrupt (a SIGUSR1 sent to
//!   the guest's thread), start functions included. The interrupt reaches wasm code; a
//!   host function that overruns the deadline finishes first (its blocking system calls
//!   may see `EINTR`) and the call then fails with the timeout.
//!
//! **Signals.** With `host-interrupt`, wasmer owns the process's SIGUSR1 handler: the
//! app must not use SIGUSR1, nor receive one from outside (reading wasmer-vm 7.3, its
//! handler asserts that it sent the signal, and a panic in a signal handler aborts).
//! A thread that blocks SIGUSR1 never sees the interrupt (Android's runtime blocks it
//! for its own use, as far as we know; untested): there, only fuel bounds a guest.
//! Without the feature, or off unix, deadlines are not enforced and fuel is the only
//! bound.
//!
//! ## Cargo features
//!
//! - `cranelift` (default): the `wasmer-cranelift` backend.
//! - `singlepass` (default): the `wasmer-singlepass` backend.
//! - `host-interrupt` (default): wall-clock deadlines through wasmer's host interrupt
//!   (unix; see **Signals** above).
//!
//! At least one compiler feature must be enabled (wasmer needs one). A constructor whose compiler
//! is compiled out returns [`ErrorKind::BackendUnavailable`](morph_runtime::ErrorKind).
#![deny(missing_docs)]

mod engine;
mod instance;
mod tunables;
mod watchdog;

pub use engine::WasmerRuntime;
pub use instance::MAX_CONCURRENT_CALLS;
