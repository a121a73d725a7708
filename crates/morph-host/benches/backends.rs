//! Every backend side by side in one run: compile, instantiate, a call round trip, and
//! CPU-bound guest work against the same work in native Rust. Read the ratios, not the
//! absolute numbers: these machines are shared.
//!
//! Needs `target/extensions/{hello,adversary}.wasm` (`cargo xtask build`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use morph_host::{Backend, Extension, Limits, LoadOptions, Metering};
use std::hint::black_box;
use std::path::Path;

fn module(name: &str) -> Vec<u8> {
    let p =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../target/extensions/{name}.wasm"));
    std::fs::read(&p).unwrap_or_else(|_| panic!("{} missing: run `cargo xtask build`", p.display()))
}

fn options(backend: Backend) -> LoadOptions {
    LoadOptions {
        backend,
        ..LoadOptions::default()
    }
}

fn benches(c: &mut Criterion) {
    let hello = module("hello");
    let adversary = module("adversary");
    let backends = Backend::available_backends();

    let mut g = c.benchmark_group("compile/hello");
    g.sample_size(10);
    for &b in &backends {
        g.bench_function(BenchmarkId::from_parameter(b), |bench| {
            bench.iter(|| Extension::compile(black_box(&hello), &options(b)).expect("compiles"))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("instantiate+describe/hello");
    for &b in &backends {
        let compiled = Extension::compile(&hello, &options(b)).expect("compiles");
        g.bench_function(BenchmarkId::from_parameter(b), |bench| {
            bench.iter(|| Extension::from_compiled(&compiled, options(b)).expect("loads"))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("call/echo");
    for &b in &backends {
        let mut ext = Extension::load(&hello, options(b)).expect("loads");
        g.bench_function(BenchmarkId::from_parameter(b), |bench| {
            bench.iter(|| ext.run("echo", black_box(r#"{"x":1}"#)).expect("runs"))
        });
    }
    g.finish();

    let n: u64 = 2_000_000;
    let input = format!(r#"{{"n":{n}}}"#);
    let mut g = c.benchmark_group("cpu/xorshift-2M");
    g.sample_size(10);
    g.bench_function("native", |bench| {
        bench.iter(|| adversary::work(black_box(n)))
    });
    for &b in &backends {
        let mut ext = Extension::load(&adversary, options(b)).expect("loads");
        g.bench_function(BenchmarkId::from_parameter(b), |bench| {
            bench.iter(|| ext.run("work", black_box(&input)).expect("runs"))
        });
    }
    g.finish();

    // What CPU metering costs on each backend: no metering, the engine's own fuel, and
    // the module counting its own instructions (deterministic).
    let mut g = c.benchmark_group("metering/xorshift-2M");
    g.sample_size(10);
    let modes = [
        ("unmetered", None, Metering::Native),
        ("native-fuel", Some(Limits::DEFAULT_FUEL), Metering::Native),
        (
            "deterministic",
            Some(Limits::DEFAULT_FUEL),
            Metering::Deterministic,
        ),
    ];
    for &b in &backends {
        for (mode, fuel, metering) in modes {
            let limits = Limits {
                fuel,
                metering,
                ..Limits::default()
            };
            let mut ext = Extension::load(
                &adversary,
                LoadOptions {
                    backend: b,
                    limits,
                    ..LoadOptions::default()
                },
            )
            .expect("loads");
            g.bench_function(BenchmarkId::new(b.name(), mode), |bench| {
                bench.iter(|| ext.run("work", black_box(&input)).expect("runs"))
            });
        }
    }
    g.finish();
}

criterion_group!(backends, benches);
criterion_main!(backends);
