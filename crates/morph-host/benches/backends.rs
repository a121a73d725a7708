//! Every backend side by side in one run: compile, prepare, instantiate, a call round
//! trip (on one instance, and on a fresh instance per call as `Prepared::execute` runs
//! it), and CPU-bound guest work against the same work in native Rust. Read the ratios,
//! not the absolute numbers: these machines are shared.
//!
//! Needs `target/extensions/{hello,adversary}.wasm` (`cargo xtask build`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use morph_host::{
    Backend, CodeCache, ExecuteOptions, Extension, Host, Limits, LoadOptions, Metering,
};
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

    // Validation and the engine's compilation only.
    let mut g = c.benchmark_group("compile/hello");
    g.sample_size(10);
    let limits = Limits::default();
    for &b in &backends {
        let runtime = b.runtime().expect("backend available");
        g.bench_function(BenchmarkId::from_parameter(b), |bench| {
            bench.iter(|| {
                runtime
                    .compile(black_box(&hello), &limits)
                    .expect("compiles")
            })
        });
    }
    g.finish();

    // The same code loaded from the compiled-code cache (its HMAC checked, the engine's
    // deserialization): read it against `compile/hello` above.
    let mut g = c.benchmark_group("cache-load/hello");
    let cache_dir = tempfile::tempdir().expect("tempdir");
    let cache = CodeCache::open(cache_dir.path(), morph_host::DEFAULT_CACHE_BYTES).expect("cache");
    for &b in &backends {
        let runtime = b.runtime().expect("backend available");
        cache
            .load_or_compile(b, &*runtime, &hello, &limits)
            .expect("compiles");
        g.bench_function(BenchmarkId::from_parameter(b), |bench| {
            bench.iter(|| {
                cache
                    .load_or_compile(b, &*runtime, black_box(&hello), &limits)
                    .expect("loads")
            })
        });
    }
    g.finish();
    assert_eq!(
        cache.stats().misses,
        backends.len() as u64,
        "every load was a hit"
    );

    // What a host pays once per module: compile, a first instance, `describe`, schemas.
    let mut g = c.benchmark_group("prepare/hello");
    g.sample_size(10);
    let hosts: Vec<Host> = backends
        .iter()
        .map(|&b| Host::builder().backend(b).build().expect("host"))
        .collect();
    for host in &hosts {
        g.bench_function(BenchmarkId::from_parameter(host.backend()), |bench| {
            bench.iter(|| {
                host.prepare_blocking("hello", black_box(&hello))
                    .expect("prepares")
            })
        });
    }
    g.finish();

    // A fresh instance of a prepared module (start function included; the description
    // is known already, so `describe` does not run).
    let mut g = c.benchmark_group("instantiate/hello");
    for host in &hosts {
        let prepared = host.prepare_blocking("hello", &hello).expect("prepares");
        g.bench_function(BenchmarkId::from_parameter(host.backend()), |bench| {
            bench.iter(|| Extension::from_prepared(&prepared).expect("instantiates"))
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

    // The same round trip awaited by an async caller: the guest runs where it can be
    // suspended and cancelled (a fiber on wasmtime, the blocking pool on wasmer), where
    // `call/echo` above, whose caller blocks, may run it inline.
    let mut g = c.benchmark_group("call-async/echo");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    for host in &hosts {
        let prepared = host.prepare_blocking("hello", &hello).expect("prepares");
        let mut session = rt.block_on(prepared.instantiate()).expect("instantiates");
        g.bench_function(BenchmarkId::from_parameter(host.backend()), |bench| {
            bench.iter(|| {
                rt.block_on(session.execute("echo", black_box(r#"{"x":1}"#)))
                    .expect("runs")
            })
        });
    }
    g.finish();

    // `Prepared::execute`: a fresh instance per call, input and output checked.
    let mut g = c.benchmark_group("execute-fresh/echo");
    let defaults = ExecuteOptions::default();
    for host in &hosts {
        let prepared = host.prepare_blocking("hello", &hello).expect("prepares");
        g.bench_function(BenchmarkId::from_parameter(host.backend()), |bench| {
            bench.iter(|| {
                prepared
                    .execute_blocking("echo", black_box(r#"{"x":1}"#), &defaults)
                    .expect("runs")
            })
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
