//! Both wasmtime modes on the sample and on hand-written modules: same answers, same
//! errors, same limits, deterministic metering that trips at the same instruction, host
//! calls refused where the component model forbids them, async host calls and
//! cancellation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../morph-runtime/tests/support/backend.rs"]
mod support;
use morph_runtime::{
    Blocking, Error, ErrorKind, Grants, Instance, InstanceConfig, Limit, Limits, Metering, Runtime,
};
use morph_wasmtime_ref::WasmtimeRuntime;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use support::{BlockingCalls, EmptyKv, LOG, NOW_MS, SlowClock, call};

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

/// Runs `f` to completion on a fresh current-thread tokio runtime (timers on): the
/// blocking shim of the tests that make one call at a time.
fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(f)
}

/// Nothing granted, no capabilities: the defaults.
fn config(limits: Limits) -> InstanceConfig {
    InstanceConfig::new("test", limits)
}

fn load(rt: &dyn Runtime, wasm: &[u8], limits: Limits) -> Result<Box<dyn Instance>, Error> {
    let m = rt.compile(wasm, &limits)?;
    block_on(rt.instantiate(&*m, config(limits)))
}

const EXPORTS: &str = r#"
    (func (export "describe") (result i32) i32.const 0)
    (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) i32.const 1024)
    (@custom "morph:contract" "0.1.0")
"#;

/// A module: `imports`, then memory, the contract's exports, `extra` items, and an
/// `execute` that runs `body` and returns a pointer to an all-zero result (ok, "").
fn fixture(imports: &str, extra: &str, body: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module {imports} (memory (export "memory") 1) {EXPORTS} {extra}
            (func (export "execute") (param i32 i32 i32 i32) (result i32) {body} i32.const 2048))"#
    ))
    .expect("fixture WAT parses")
}

fn spin_module(iterations: Option<u32>) -> Vec<u8> {
    // execute: count down from N (or forever), then return a pointer to an all-zero
    // result (ok, empty string).
    let body = match iterations {
        Some(n) => format!(
            "(local $i i32) (local.set $i (i32.const {n}))
             (block $done (loop $l
                (br_if $done (i32.eqz (local.get $i)))
                (local.set $i (i32.sub (local.get $i) (i32.const 1)))
                (br $l)))"
        ),
        None => "(loop $l (br $l))".to_owned(),
    };
    fixture("", "", &body)
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
                let info = inst.describe_blocking().unwrap();
                assert_eq!(info.id, "hello");
                inst.execute_blocking("greet", r#"{"name":"Ada"}"#).unwrap();
                inst.execute_blocking("greet", r#"{"name":"Ada"}"#).unwrap()
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
        let e = inst.execute_blocking("nope", "{}").unwrap_err();
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
        let e = inst.execute_blocking("x", "{}").unwrap_err();
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
        let started = Instant::now();
        let e = inst.execute_blocking("x", "{}").unwrap_err();
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
        assert!(started.elapsed() < Duration::from_secs(10));
        // The instance refuses further calls, in both modes alike.
        let e = inst.execute_blocking("x", "{}").unwrap_err();
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
        match inst.execute_blocking("x", "{}") {
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
        let mut inst = block_on(rt.instantiate(&*m2, config(Limits::default()))).unwrap();
        assert_eq!(inst.describe_blocking().unwrap().id, "hello");
        // SAFETY: testing that garbage is refused, not mapped.
        assert!(unsafe { rt.deserialize(b"garbage") }.is_err());
    }
}

/// `cabi_realloc` logs before it allocates: the host calls it to lower `execute`'s
/// arguments, where the component model forbids leaving the instance.
#[test]
fn a_host_call_from_cabi_realloc_cannot_leave() {
    let wasm = wat::parse_str(format!(
        r#"(module {LOG}
            (memory (export "memory") 1)
            (data (i32.const 16) "hi")
            (func (export "describe") (result i32) i32.const 0)
            (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
                (call $log (i32.const 2) (i32.const 16) (i32.const 2))
                i32.const 1024)
            (func (export "execute") (param i32 i32 i32 i32) (result i32) i32.const 2048)
            (@custom "morph:contract" "0.1.0"))"#
    ))
    .unwrap();
    for rt in runtimes() {
        let mut inst = load(&rt, &wasm, Limits::default()).unwrap();
        let e = inst.execute_blocking("run", "{}").unwrap_err();
        assert_eq!(e.detail(), "trap:cannot-leave", "{}: {e}", rt.name());
        assert_eq!(inst.usage().host_calls, 0, "{}", rt.name());
        let e = inst.execute_blocking("run", "{}").unwrap_err();
        assert_eq!(e.class(), "poisoned", "{}: {e}", rt.name());
        assert!(e.to_string().contains("trap:cannot-leave"), "{e}");
    }
}

/// A start function runs while the instance is built, where no host call is allowed:
/// instantiation fails with the trap, and the host never serves the call. In component
/// mode the start function runs as `_initialize` once wit-component has wired the
/// imports, so the call reaches the checkpoint there too (before, it trapped on an empty
/// shim-table entry: `indirect-call`).
#[test]
fn a_host_call_from_a_start_function_cannot_leave() {
    let wasm = fixture(
        LOG,
        r#"(data (i32.const 16) "hi")
           (func $init (call $log (i32.const 2) (i32.const 16) (i32.const 2)))
           (start $init)"#,
        "",
    );
    for rt in runtimes() {
        let e = load(&rt, &wasm, Limits::default()).err().unwrap();
        assert_eq!(e.detail(), "trap:cannot-leave", "{}: {e}", rt.name());
    }
}

/// Unmetered, a guest that only makes cheap host calls is stopped at the deadline: it is
/// checked at every host call too.
#[test]
fn a_loop_of_host_calls_stops_at_the_deadline() {
    let wasm = fixture(
        LOG,
        r#"(data (i32.const 16) "hi")"#,
        "(loop $l (call $log (i32.const 0) (i32.const 16) (i32.const 2)) (br $l))",
    );
    let limits = Limits {
        fuel: None,
        timeout: Duration::from_millis(500),
        max_host_calls: u64::MAX,
        max_transfer_bytes: u64::MAX,
        ..Limits::default()
    };
    for rt in runtimes() {
        let mut inst = load(&rt, &wasm, limits.clone()).unwrap();
        let started = Instant::now();
        let e = inst.execute_blocking("run", "{}").unwrap_err();
        assert_eq!(e.detail(), "limit-exceeded:timeout", "{}: {e}", rt.name());
        assert!(inst.usage().host_calls > 0, "{}", rt.name());
        // A sanity bound only: the deadline is 500 ms.
        assert!(started.elapsed() < Duration::from_secs(10), "{}", rt.name());
    }
}

/// A module whose `execute` makes one `kv.get` with its return area at `ret`.
fn kv_get_fixture(ret: i32) -> Vec<u8> {
    fixture(
        r#"(import "morph:extension/kv@0.1.0" "get" (func $get (param i32 i32 i32)))"#,
        r#"(data (i32.const 16) "k")"#,
        &format!("(call $get (i32.const 16) (i32.const 1) (i32.const {ret}))"),
    )
}

#[test]
fn pointers_at_the_end_of_the_address_space_are_bad_guest_data() {
    // `execute` answers with a result at 0xfffffffc: its 12 bytes wrap past 2^32.
    let wasm = wat::parse_str(format!(
        r#"(module (memory (export "memory") 1) {EXPORTS}
            (func (export "execute") (param i32 i32 i32 i32) (result i32) i32.const -4))"#
    ))
    .unwrap();
    let granted = || {
        config(Limits::default())
            .handler(Arc::new(Blocking(EmptyKv)))
            .policy(Arc::new(Grants::parse(["kv-read"]).expect("a grant")))
    };
    for rt in runtimes() {
        let mut inst = load(&rt, &wasm, Limits::default()).unwrap();
        let e = inst.execute_blocking("run", "{}").unwrap_err();
        assert_eq!(e.detail(), "bad-guest-data", "{}: {e}", rt.name());

        // A granted host call whose return area is there.
        let m = rt.compile(&kv_get_fixture(-4), &Limits::default()).unwrap();
        let mut inst = block_on(rt.instantiate(&*m, granted())).unwrap();
        let e = inst.execute_blocking("run", "{}").unwrap_err();
        assert_eq!(e.detail(), "bad-guest-data", "{}: {e}", rt.name());

        // The same call with a sound return area succeeds.
        let m = rt.compile(&kv_get_fixture(64), &Limits::default()).unwrap();
        let mut inst = block_on(rt.instantiate(&*m, granted())).unwrap();
        assert_eq!(
            inst.execute_blocking("run", "{}").unwrap(),
            "",
            "{}",
            rt.name()
        );
    }
}

/// `execute` reads the clock and answers `ok("{}")` when it got [`NOW_MS`], traps
/// otherwise.
fn clock_fixture() -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
            (import "morph:extension/clock@0.1.0" "now-ms" (func $now (param i32)))
            (memory (export "memory") 1) {EXPORTS}
            (data (i32.const 16) "{{}}")
            (func (export "execute") (param i32 i32 i32 i32) (result i32)
                ;; result<u64, host-error>: the tag at 128, the value at 136.
                (call $now (i32.const 128))
                (if (i32.ne (i32.load8_u (i32.const 128)) (i32.const 0)) (then unreachable))
                (if (i64.ne (i64.load (i32.const 136)) (i64.const {NOW_MS})) (then unreachable))
                ;; ok("{{}}") at 256.
                (i32.store8 (i32.const 256) (i32.const 0))
                (i32.store (i32.const 260) (i32.const 16))
                (i32.store (i32.const 264) (i32.const 2))
                i32.const 256))"#
    ))
    .unwrap()
}

#[tokio::test]
async fn an_async_handler_answers_a_granted_host_call() {
    for rt in runtimes() {
        let m = rt.compile(&clock_fixture(), &Limits::default()).unwrap();
        let clock = Arc::new(SlowClock::default());
        let config = config(Limits::default())
            .handler(clock.clone())
            .policy(Arc::new(Grants::parse(["clock"]).expect("a grant")));
        let mut inst = rt.instantiate(&*m, config).await.unwrap();
        let out = inst.execute(call("run", "{}")).await;
        assert_eq!(out.unwrap(), "{}", "{}", rt.name());
        let out = inst.execute(call("run", "{}")).await;
        assert_eq!(out.unwrap(), "{}", "{}", rt.name());
        assert_eq!(clock.answered.load(Ordering::SeqCst), 2, "{}", rt.name());
        assert_eq!(inst.usage().host_calls, 1, "{}", rt.name());
    }
}

#[tokio::test]
async fn a_dropped_call_cancels_its_instance_and_no_other() {
    // `execute` spins forever for a four-letter action (`spin`), answers ok("") otherwise.
    let wasm = fixture(
        "",
        "",
        "(if (i32.eq (local.get 1) (i32.const 4)) (then (loop $l (br $l))))",
    );
    let limits = Limits {
        fuel: None,
        timeout: Duration::from_secs(30),
        ..Limits::default()
    };
    for rt in runtimes() {
        let m = rt.compile(&wasm, &limits).unwrap();
        let mut inst = rt.instantiate(&*m, config(limits.clone())).await.unwrap();
        let mut sibling = rt.instantiate(&*m, config(limits.clone())).await.unwrap();
        let started = Instant::now();

        let first =
            tokio::time::timeout(Duration::from_millis(100), inst.execute(call("spin", "{}")))
                .await;
        assert!(
            first.is_err(),
            "{}: the spinning call finished: {first:?}",
            rt.name()
        );
        let e = inst.execute(call("run", "{}")).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Cancelled, "{}: {e}", rt.name());
        let e = inst.describe().await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Cancelled, "{}: {e}", rt.name());

        // Instances of the same compiled module, old and new, are unaffected.
        let out = sibling.execute(call("run", "{}")).await;
        assert_eq!(out.unwrap(), "", "{}", rt.name());
        let mut fresh = rt.instantiate(&*m, config(limits.clone())).await.unwrap();
        let out = fresh.execute(call("run", "{}")).await;
        assert_eq!(out.unwrap(), "", "{}", rt.name());
        // A sanity bound only: the call's own deadline was 30 s.
        assert!(started.elapsed() < Duration::from_secs(10), "{}", rt.name());
    }
}
