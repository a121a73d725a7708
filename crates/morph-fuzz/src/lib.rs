//! # morph-fuzz: Morph's fuzz targets
//!
//! Internal crate (`publish = false`): the fuzz targets and the harness that runs them,
//! used by this crate's bounded tests (`cargo test -p morph-fuzz`, part of
//! `cargo test --workspace`) and by the cargo-fuzz targets in `fuzz/` (nightly), which
//! call the same functions. See `docs/fuzzing.md`.
//!
//! - [`differential`]: a `wasm-smith` module wrapped in the contract ([`wrap`]) runs on
//!   every backend under deterministic metering; outcomes, errors and fuel must agree.
//! - [`abi`]: the Canonical ABI's lifting and lowering over arbitrary guest memory,
//!   pointers and host answers: typed errors only, never a panic.
//! - [`manifest`]: `morph.toml` parsing.
//! - [`signing`]: signature envelopes, statements, keys, packages and verification.
//! - [`driver`]: the seeded, bounded runs that stand in for a fuzzer on stable Rust.
#![deny(missing_docs)]

pub mod abi;
pub mod differential;
pub mod driver;
pub mod manifest;
pub mod signing;
pub mod wrap;
