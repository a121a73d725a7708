//! The per-call rows of `morph bench` under criterion: for each backend, the call
//! through Morph and the same call through the raw engine, side by side (and, for
//! `sha256`, native Rust). The work and both sides come from morph-bench, as in
//! `morph bench`; read `<backend>/morph` against `<backend>/raw`.
//!
//! Needs `target/extensions/hello.wasm` (`cargo xtask build`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use morph_bench::{Calls, native_sha256};
use morph_host::Backend;
use std::hint::black_box;
use std::path::Path;

fn benches(c: &mut Criterion) {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/extensions/hello.wasm");
    let wasm = std::fs::read(&p)
        .unwrap_or_else(|_| panic!("{} missing: run `cargo xtask build`", p.display()));
    let mut calls: Vec<Calls> = Backend::available_backends()
        .into_iter()
        .map(|b| Calls::new(b, &wasm).expect("prepares both ways"))
        .collect();
    for row in Calls::ROWS {
        let mut g = c.benchmark_group(format!("pair/{row}"));
        if row == "sha256" {
            g.sample_size(10);
            let n = calls.first().map_or(1 << 20, Calls::sha256_bytes);
            g.bench_function("native", |b| b.iter(|| native_sha256(black_box(n))));
        }
        for pair in &mut calls {
            let name = pair.backend().name();
            g.bench_function(BenchmarkId::new(name, "morph"), |b| {
                b.iter(|| pair.morph(row).expect("runs"))
            });
            g.bench_function(BenchmarkId::new(name, "raw"), |b| {
                b.iter(|| pair.raw(row).expect("runs"))
            });
        }
        g.finish();
    }
}

criterion_group!(pairs, benches);
criterion_main!(pairs);
