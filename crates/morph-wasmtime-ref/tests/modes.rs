//! Both wasmtime modes on the sample and on hand-written modules: same answers, same
//! errors, same limits, and deterministic metering that trips at the same instruction.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use morph_runtime::{
    DenyAll, Error, ErrorKind, Instance, InstanceConfig, Limit, Limits, Metering, Runtime,
};
use morph_wasmtime_ref::WasmtimeRuntime;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn runtimes() -> Vec<WasmtimeRuntime> {
    vec![
        WasmtimeRuntime::component().unwrap(),
        WasmtimeRuntime::core().unwrap(),
    ]
}

fn hello() -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/extensions/hello.wasm");
    std::fs::read(&p).unwrap_or_else(|_| panic!("{} missing: run `cargo xtask build`", p.display()))
}

fn load(rt: &dyn Runtime, wasm: &[u8], limits: Limits) -> Result<Box<dyn Instance>, Error> {
    let m = rt.compile(wasm, &limits)?;
    rt.instantiate(
        &*m,
        InstanceConfig {
            limits,
            handler: Arc::new(DenyAll),
            label: "test".into(),
        },
    )
}

const EXPORTS: &str = r#"
    (func (export "describe") (result i32) i32.const 0)
    (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) i32.const 1024)
    (@custom "morph:contract" "0.1.0")
"#;

fn spin_module(iterations: Option<u32>) -> Vec<u8> {
    // execute: count down from N (or forever), then return a pointer to an all-zero
    // result (ok, empty string).
    let body = match iterations {
        Some(n) => format!(
            "(local $i i32) (local.set $i (i32.const {n}))
             (block $done (loop $l
                (br_if $done (i32.eqz (local.get $i)))
                (local.set $i (i32.sub (local.get $i) (i32.const 1)))
                (br $l)))
             i32.const 2048"
        ),
        None => "(loop $l (br $l)) i32.const 2048".to_owned(),
    };
    wat::parse_str(format!(
        r#"(module (memory (export "memory") 1) {EXPORTS}
            (func (export "execute") (param i32 i32 i32 i32) (result i32) {body}))"#
    ))
    .unwrap()
}

#[test]
fn hello_runs_identically_in_both_modes_and_both_meterings() {
    for metering in [Metering::Native, Metering::Deterministic] {
        let limits = Limits {
            metering,
            ..Limits::default()
        };
        let outs: Vec<String> = runtimes()
            .iter()
            .map(|rt| {
                let mut inst = load(rt, &hello(), limits.clone()).unwrap();
                let info = inst.describe().unwrap();
                assert_eq!(info.id, "hello");
                inst.execute("greet", r#"{"name":"Ada"}"#).unwrap();
                inst.execute("greet", r#"{"name":"Ada"}"#).unwrap()
            })
            .collect();
        assert_eq!(outs[0], r#"{"greeting":"Hello, Ada!","count":2}"#);
        assert_eq!(outs[0], outs[1]);
    }
}

#[test]
fn guest_errors_are_the_same_in_both_modes() {
    for rt in runtimes() {
        let mut inst = load(&rt, &hello(), Limits::default()).unwrap();
        let e = inst.execute("nope", "{}").unwrap_err();
        match e.kind() {
            ErrorKind::Guest(g) => assert_eq!(g.kind, morph_abi::ErrorKind::UnknownAction),
            other => panic!("{}: {other:?}", rt.name()),
        }
    }
}

#[test]
fn infinite_loops_trip_fuel_and_deadline() {
    for rt in runtimes() {
        let mut inst = load(&rt, &spin_module(None), Limits::default()).unwrap();
        let e = inst.execute("x", "{}").unwrap_err();
        assert!(
            matches!(
                e.kind(),
                ErrorKind::LimitExceeded {
                    limit: Limit::Cpu,
                    ..
                }
            ),
            "{e}"
        );

        let limits = Limits {
            fuel: None,
            timeout: Duration::from_millis(200),
            ..Limits::default()
        };
        let mut inst = load(&rt, &spin_module(None), limits).unwrap();
        let started = std::time::Instant::now();
        let e = inst.execute("x", "{}").unwrap_err();
        assert!(
            matches!(
                e.kind(),
                ErrorKind::LimitExceeded {
                    limit: Limit::Timeout,
                    ..
                }
            ),
            "{e}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        // The instance refuses further calls, in both modes alike.
        let e = inst.execute("x", "{}").unwrap_err();
        assert_eq!(e.class(), "poisoned");
        assert!(e.to_string().contains("limit-exceeded:timeout"), "{e}");
    }
}

/// The smallest budget with which `iterations` of the loop complete.
fn threshold(rt: &dyn Runtime, iterations: u32) -> u64 {
    let wasm = spin_module(Some(iterations));
    let ok = |budget: u64| {
        let limits = Limits {
            fuel: Some(budget),
            metering: Metering::Deterministic,
            ..Limits::default()
        };
        let mut inst = load(rt, &wasm, limits).unwrap();
        match inst.execute("x", "{}") {
            Ok(_) => true,
            Err(e) if e.detail() == "limit-exceeded:cpu" => false,
            Err(e) => panic!("{}: {e}", rt.name()),
        }
    };
    let (mut lo, mut hi) = (1u64, 1u64 << 20);
    assert!(ok(hi));
    while lo < hi {
        let mid = (lo + hi) / 2;
        if ok(mid) { hi = mid } else { lo = mid + 1 }
    }
    lo
}

#[test]
fn deterministic_budget_trips_at_the_same_instruction_in_both_modes() {
    let rts = runtimes();
    let t: Vec<u64> = rts.iter().map(|rt| threshold(rt, 100)).collect();
    assert_eq!(t[0], t[1]);
    // Each extra iteration costs the same fixed number of instructions.
    let t2 = threshold(&rts[0], 200);
    assert_eq!((t2 - t[0]) % 100, 0, "{t:?} {t2}");
    assert!(t2 > t[0]);
}

#[test]
fn compiled_code_round_trips() {
    for rt in runtimes() {
        let m = rt.compile(&hello(), &Limits::default()).unwrap();
        let bytes = rt.serialize(&*m).unwrap();
        // SAFETY: the bytes come straight from `serialize` of the same runtime.
        let m2 = unsafe { rt.deserialize(&bytes) }.unwrap();
        assert_eq!(m2.info(), m.info());
        let mut inst = rt
            .instantiate(
                &*m2,
                InstanceConfig {
                    limits: Limits::default(),
                    handler: Arc::new(DenyAll),
                    label: "t".into(),
                },
            )
            .unwrap();
        assert_eq!(inst.describe().unwrap().id, "hello");
        // SAFETY: testing that garbage is refused, not mapped.
        assert!(unsafe { rt.deserialize(b"garbage") }.is_err());
    }
}
