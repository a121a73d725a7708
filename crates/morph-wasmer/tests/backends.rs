//! Both wasmer compilers on the sample and on hand-written modules, in one table: the
//! same answers, the same errors and the same limits on each; host calls refused where
//! the component model forbids them, async host calls and cancellation.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns panic on failure by design"
)]

#[path = "../../morph-runtime/tests/support/backend.rs"]
mod support;
use morph_runtime::{
    Blocking, Error, ErrorKind, Grants, Instance, InstanceConfig, Limit, Limits, Metering, Runtime,
    TrapKind,
};
use morph_wasmer::WasmerRuntime;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use support::{BlockingCalls, EmptyKv, LOG, NOW_MS, SlowClock, call};

fn runtimes() -> Vec<WasmerRuntime> {
    vec![
        WasmerRuntime::cranelift().unwrap(),
        WasmerRuntime::singlepass().unwrap(),
    ]
}

fn hello() -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/extensions/hello.wasm");
    std::fs::read(&p).unwrap_or_else(|_| panic!("{} missing: run `cargo xtask build`", p.display()))
}

/// Runs `f` to completion on a fresh multi-thread tokio runtime (timers on): the
/// blocking shim of the tests that make one call at a time. Multi-thread, because a
/// wasmer guest call runs on tokio's blocking pool and an async host handler is driven
/// from there.
fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
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

/// The exports every module needs, minus `execute` (each fixture brings its own).
const EXPORTS: &str = r#"
    (func (export "describe") (result i32) i32.const 0)
    (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) i32.const 1024)
    (@custom "morph:contract" "0.1.0")
"#;

/// A module whose `execute` runs `body` and then returns an all-zero result (ok, "").
fn module(extra: &str, body: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module (memory (export "memory") 1) {EXPORTS} {extra}
            (func (export "execute") (param i32 i32 i32 i32) (result i32) {body} i32.const 2048))"#
    ))
    .unwrap()
}

fn spin(iterations: Option<u32>) -> Vec<u8> {
    match iterations {
        Some(n) => module(
            "",
            &format!(
                "(local $i i32) (local.set $i (i32.const {n}))
                 (block $done (loop $l
                    (br_if $done (i32.eqz (local.get $i)))
                    (local.set $i (i32.sub (local.get $i) (i32.const 1)))
                    (br $l)))"
            ),
        ),
        None => module("", "(loop $l (br $l))"),
    }
}

fn limit_of(e: &Error) -> Option<Limit> {
    match e.kind() {
        ErrorKind::LimitExceeded { limit, .. } => Some(*limit),
        _ => None,
    }
}

fn trap_of(e: &Error) -> Option<TrapKind> {
    match e.kind() {
        ErrorKind::Trap { kind, .. } => Some(*kind),
        _ => None,
    }
}

#[test]
fn names_are_the_backend_names() {
    let names: Vec<&str> = runtimes().iter().map(|r| r.name()).collect();
    assert_eq!(names, ["wasmer-cranelift", "wasmer-singlepass"]);
}

#[test]
fn hello_describes_and_greets_with_both_meterings() {
    for metering in [Metering::Native, Metering::Deterministic] {
        for rt in runtimes() {
            let limits = Limits {
                metering,
                ..Limits::default()
            };
            let mut inst = load(&rt, &hello(), limits).unwrap();
            let info = inst.describe_blocking().unwrap();
            assert_eq!(info.id, "hello", "{}", rt.name());
            let names: Vec<&str> = info.actions.iter().map(|a| a.name.as_str()).collect();
            assert!(
                names.starts_with(&["greet", "count-words", "echo"]),
                "{}: {names:?}",
                rt.name()
            );
            let out = inst.execute_blocking("greet", r#"{"name":"Ada"}"#).unwrap();
            assert_eq!(out, r#"{"greeting":"Hello, Ada!","count":1}"#);
            let usage = inst.usage();
            // greet emits an event (refused: DenyAll) and logs the refusal.
            assert!(usage.host_calls >= 1, "{}: {usage:?}", rt.name());
            assert!(usage.fuel > 0, "{}: {usage:?}", rt.name());
            assert!(usage.memory_bytes >= 65536, "{}: {usage:?}", rt.name());
            let out = inst.execute_blocking("greet", r#"{"name":"Ada"}"#).unwrap();
            assert_eq!(out, r#"{"greeting":"Hello, Ada!","count":2}"#);
        }
    }
}

#[test]
fn an_unknown_action_is_the_guests_error() {
    for rt in runtimes() {
        let mut inst = load(&rt, &hello(), Limits::default()).unwrap();
        let e = inst.execute_blocking("nope", "{}").unwrap_err();
        match e.kind() {
            ErrorKind::Guest(g) => assert_eq!(g.kind, morph_abi::ErrorKind::UnknownAction),
            other => panic!("{}: {other:?}", rt.name()),
        }
        // A guest error leaves the instance usable.
        assert!(inst.execute_blocking("greet", r#"{"name":"Bo"}"#).is_ok());
    }
}

#[test]
fn an_infinite_loop_runs_out_of_fuel() {
    for metering in [Metering::Native, Metering::Deterministic] {
        for rt in runtimes() {
            let limits = Limits {
                metering,
                fuel: Some(10_000_000),
                ..Limits::default()
            };
            let mut inst = load(&rt, &spin(None), limits).unwrap();
            let e = inst.execute_blocking("x", "{}").unwrap_err();
            assert_eq!(limit_of(&e), Some(Limit::Cpu), "{}: {e}", rt.name());
            assert!(e.to_string().contains("10000000"), "{e}");
            // A limit inside the guest poisons the instance.
            let e = inst.execute_blocking("x", "{}").unwrap_err();
            assert_eq!(e.class(), "poisoned", "{}: {e}", rt.name());
        }
    }
}

#[test]
fn default_fuel_stops_an_infinite_loop() {
    for rt in runtimes() {
        let mut inst = load(&rt, &spin(None), Limits::default()).unwrap();
        let e = inst.execute_blocking("x", "{}").unwrap_err();
        assert_eq!(limit_of(&e), Some(Limit::Cpu), "{}: {e}", rt.name());
    }
}

#[test]
fn fuel_is_refilled_for_every_call() {
    for rt in runtimes() {
        let limits = Limits {
            fuel: Some(100_000),
            ..Limits::default()
        };
        let mut inst = load(&rt, &spin(Some(5_000)), limits).unwrap();
        for _ in 0..5 {
            inst.execute_blocking("x", "{}").unwrap();
        }
        let used = inst.usage().fuel;
        assert!(used > 5_000 && used < 100_000, "{}: {used}", rt.name());
    }
}

fn no_fuel(timeout_ms: u64) -> Limits {
    Limits {
        fuel: None,
        timeout: Duration::from_millis(timeout_ms),
        ..Limits::default()
    }
}

#[test]
#[cfg(all(unix, feature = "host-interrupt"))]
fn an_infinite_loop_without_fuel_stops_at_the_deadline() {
    for rt in runtimes() {
        let mut inst = load(&rt, &spin(None), no_fuel(300)).unwrap();
        let started = Instant::now();
        let e = inst.execute_blocking("x", "{}").unwrap_err();
        let took = started.elapsed();
        assert_eq!(limit_of(&e), Some(Limit::Timeout), "{}: {e}", rt.name());
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_secs(10),
            "{}: {took:?}",
            rt.name()
        );
        assert!(e.to_string().contains("limit 300 ms"), "{e}");
        let e = inst.execute_blocking("x", "{}").unwrap_err();
        assert_eq!(e.class(), "poisoned");
        assert!(e.to_string().contains("limit-exceeded:timeout"), "{e}");
    }
}

#[test]
#[cfg(all(unix, feature = "host-interrupt"))]
fn a_start_function_that_never_returns_is_stopped() {
    let wasm = wat::parse_str(format!(
        r#"(module (memory (export "memory") 1) {EXPORTS}
            (func (export "execute") (param i32 i32 i32 i32) (result i32) i32.const 0)
            (func $spin (loop $l (br $l)))
            (start $spin))"#
    ))
    .unwrap();
    for rt in runtimes() {
        let started = Instant::now();
        let e = load(&rt, &wasm, no_fuel(300)).err().unwrap();
        assert_eq!(limit_of(&e), Some(Limit::Timeout), "{}: {e}", rt.name());
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        // And with fuel, the fuel runs out first.
        let e = load(&rt, &wasm, Limits::default()).err().unwrap();
        assert_eq!(limit_of(&e), Some(Limit::Cpu), "{}: {e}", rt.name());
    }
}

#[test]
#[cfg(all(unix, feature = "host-interrupt"))]
fn deadlines_of_concurrent_calls_are_independent() {
    // A short deadline on one thread, a long one on another: each stops at its own.
    let handles: Vec<_> = [200u64, 600]
        .into_iter()
        .flat_map(|ms| runtimes().into_iter().map(move |rt| (ms, rt)))
        .map(|(ms, rt)| {
            std::thread::spawn(move || {
                let mut inst = load(&rt, &spin(None), no_fuel(ms)).unwrap();
                let started = Instant::now();
                let e = inst.execute_blocking("x", "{}").unwrap_err();
                (ms, limit_of(&e), started.elapsed())
            })
        })
        .collect();
    for h in handles {
        let (ms, limit, took) = h.join().unwrap();
        assert_eq!(limit, Some(Limit::Timeout));
        assert!(
            took >= Duration::from_millis(ms) && took < Duration::from_millis(ms + 10_000),
            "{ms} ms deadline took {took:?}"
        );
    }
}

#[test]
fn a_quick_call_is_not_interrupted_later() {
    for rt in runtimes() {
        let mut inst = load(&rt, &spin(Some(1000)), no_fuel(50)).unwrap();
        for _ in 0..3 {
            inst.execute_blocking("x", "{}").unwrap();
            std::thread::sleep(Duration::from_millis(80));
        }
    }
}

/// Grows memory a page at a time until refused, then aborts like a Rust guest.
fn hog() -> Vec<u8> {
    module(
        "",
        "(loop $l (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1)))) unreachable",
    )
}

#[test]
fn a_memory_hog_hits_the_memory_limit() {
    let hog = hog();
    for rt in runtimes() {
        let limits = Limits {
            max_memory_bytes: 2 << 20,
            ..Limits::default()
        };
        let mut inst = load(&rt, &hog, limits).unwrap();
        let e = inst.execute_blocking("x", "{}").unwrap_err();
        match e.kind() {
            ErrorKind::LimitExceeded {
                limit: Limit::Memory,
                used,
                max,
            } => {
                assert_eq!(*max, 2 << 20);
                assert_eq!(*used, (2 << 20) + 65536, "{}", rt.name());
            }
            other => panic!("{}: {other:?}", rt.name()),
        }
        assert_eq!(inst.usage().memory_bytes, 2 << 20);
    }
}

#[test]
fn growth_within_the_limit_succeeds_and_a_refusal_alone_is_not_an_error() {
    // Grow to the cap, try once more (refused: -1), and return normally.
    let wasm = module(
        "",
        "(drop (memory.grow (i32.const 31))) (if (i32.ne (memory.grow (i32.const 1)) (i32.const -1)) (then unreachable))",
    );
    for rt in runtimes() {
        let limits = Limits {
            max_memory_bytes: 2 << 20,
            ..Limits::default()
        };
        let mut inst = load(&rt, &wasm, limits).unwrap();
        inst.execute_blocking("x", "{}").unwrap();
        assert_eq!(inst.usage().memory_bytes, 2 << 20, "{}", rt.name());
    }
}

#[test]
fn an_instance_limit_below_the_declared_minimum_is_refused() {
    for rt in runtimes() {
        let m = rt.compile(&spin(Some(1)), &Limits::default()).unwrap();
        let limits = Limits {
            max_memory_bytes: 1000,
            ..Limits::default()
        };
        let e = block_on(rt.instantiate(&*m, config(limits))).err().unwrap();
        assert_eq!(e.detail(), "limit-exceeded:memory", "{}: {e}", rt.name());
    }
}

#[test]
fn traps_map_to_the_same_kinds() {
    let cases: &[(&str, &str, TrapKind)] = &[
        ("", "unreachable", TrapKind::Unreachable),
        (
            "",
            "(drop (i32.load (i32.const 70000)))",
            TrapKind::MemoryOutOfBounds,
        ),
        (
            "",
            "(drop (i32.div_s (i32.const 1) (i32.const 0)))",
            TrapKind::IntegerDivisionByZero,
        ),
        (
            "",
            "(drop (i32.div_s (i32.const -2147483648) (i32.const -1)))",
            TrapKind::IntegerOverflow,
        ),
        (
            "",
            "(drop (i32.trunc_f32_s (f32.const nan)))",
            TrapKind::BadConversionToInteger,
        ),
        ("(func $r (call $r))", "(call $r)", TrapKind::StackOverflow),
        (
            "(table 2 funcref) (type $t (func))",
            "(call_indirect (type $t) (i32.const 1))",
            TrapKind::IndirectCall,
        ),
        (
            "(table 2 funcref) (type $t (func))",
            "(call_indirect (type $t) (i32.const 5))",
            TrapKind::TableOutOfBounds,
        ),
    ];
    for rt in runtimes() {
        for (extra, body, kind) in cases {
            let mut inst = load(&rt, &module(extra, body), Limits::default()).unwrap();
            let e = inst.execute_blocking("x", "{}").unwrap_err();
            assert_eq!(trap_of(&e), Some(*kind), "{} on `{body}`: {e}", rt.name());
            assert!(!e.to_string().contains("wasmer"), "engine words leak: {e}");
        }
    }
}

/// A start function runs while the instance is built, where no host call is allowed:
/// instantiation fails with the trap. (Before the component model's rule was enforced,
/// wasmer served this call.)
#[test]
fn the_start_function_may_not_call_the_host() {
    let module = |start: &str| {
        wat::parse_str(format!(
            r#"(module {LOG}
                (memory (export "memory") 1) {EXPORTS}
                (data (i32.const 16) "started")
                (func (export "execute") (param i32 i32 i32 i32) (result i32)
                    (call $log (i32.const 3) (i32.const 16) (i32.const 7)) i32.const 2048)
                (func $init (call $log (i32.const 2) (i32.const 16) (i32.const 7)))
                {start})"#
        ))
        .unwrap()
    };
    for rt in runtimes() {
        let e = load(&rt, &module("(start $init)"), Limits::default())
            .err()
            .unwrap();
        assert_eq!(e.detail(), "trap:cannot-leave", "{}: {e}", rt.name());
        // The same call from `execute` is served.
        let mut inst = load(&rt, &module(""), Limits::default()).unwrap();
        assert_eq!(inst.execute_blocking("x", "{}").unwrap(), "");
        assert_eq!(inst.usage().host_calls, 1, "{}", rt.name());
    }
}

#[test]
fn bad_pointers_from_the_guest_are_bad_guest_data() {
    let wasm = wat::parse_str(format!(
        r#"(module
            (import "morph:extension/log@0.1.0" "log" (func $log (param i32 i32 i32)))
            (memory (export "memory") 1) {EXPORTS}
            (func (export "execute") (param i32 i32 i32 i32) (result i32)
                (call $log (i32.const 2) (i32.const 65530) (i32.const 100)) i32.const 2048))"#
    ))
    .unwrap();
    for rt in runtimes() {
        let mut inst = load(&rt, &wasm, Limits::default()).unwrap();
        let e = inst.execute_blocking("x", "{}").unwrap_err();
        assert_eq!(e.class(), "bad-guest-data", "{}: {e}", rt.name());
        assert!(e.to_string().contains("out of bounds"), "{e}");
    }
}

#[test]
fn the_host_call_limit_passes_through_the_guest() {
    let wasm = wat::parse_str(format!(
        r#"(module
            (import "morph:extension/log@0.1.0" "log" (func $log (param i32 i32 i32)))
            (memory (export "memory") 1) {EXPORTS}
            (func (export "execute") (param i32 i32 i32 i32) (result i32)
                (loop $l (call $log (i32.const 0) (i32.const 0) (i32.const 0)) (br $l))
                i32.const 2048))"#
    ))
    .unwrap();
    for rt in runtimes() {
        let limits = Limits {
            max_host_calls: 10,
            ..Limits::default()
        };
        let mut inst = load(&rt, &wasm, limits).unwrap();
        let e = inst.execute_blocking("x", "{}").unwrap_err();
        assert_eq!(
            e.detail(),
            "limit-exceeded:host-calls",
            "{}: {e}",
            rt.name()
        );
    }
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
        let out = inst.execute_blocking("greet", r#"{"name":"Ada"}"#).unwrap();
        assert_eq!(out, r#"{"greeting":"Hello, Ada!","count":1}"#);
        // Limits still hold on deserialized code: fuel, memory and (with host
        // interrupts) the deadline.
        let m = rt.compile(&spin(None), &Limits::default()).unwrap();
        let bytes = rt.serialize(&*m).unwrap();
        // SAFETY: as above.
        let m2 = unsafe { rt.deserialize(&bytes) }.unwrap();
        let limits = Limits {
            fuel: Some(1_000_000),
            ..Limits::default()
        };
        let mut inst = block_on(rt.instantiate(&*m2, config(limits))).unwrap();
        let e = inst.execute_blocking("x", "{}").unwrap_err();
        assert_eq!(limit_of(&e), Some(Limit::Cpu), "{}: {e}", rt.name());
        if cfg!(all(unix, feature = "host-interrupt")) {
            let mut inst = block_on(rt.instantiate(&*m2, config(no_fuel(200)))).unwrap();
            let e = inst.execute_blocking("x", "{}").unwrap_err();
            assert_eq!(limit_of(&e), Some(Limit::Timeout), "{}: {e}", rt.name());
        }
        let m = rt.compile(&hog(), &Limits::default()).unwrap();
        let bytes = rt.serialize(&*m).unwrap();
        // SAFETY: as above.
        let m2 = unsafe { rt.deserialize(&bytes) }.unwrap();
        let limits = Limits {
            max_memory_bytes: 1 << 20,
            ..Limits::default()
        };
        let mut inst = block_on(rt.instantiate(&*m2, config(limits))).unwrap();
        let e = inst.execute_blocking("x", "{}").unwrap_err();
        assert_eq!(limit_of(&e), Some(Limit::Memory), "{}: {e}", rt.name());
        // SAFETY: testing that garbage is refused, not mapped.
        assert!(unsafe { rt.deserialize(b"garbage") }.is_err());
    }
}

/// The smallest deterministic budget with which `iterations` of the loop complete.
fn threshold(rt: &dyn Runtime, iterations: u32) -> u64 {
    let wasm = spin(Some(iterations));
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
    let (mut lo, mut hi) = (1u64, 1u64 << 16);
    assert!(ok(hi));
    while lo < hi {
        let mid = (lo + hi) / 2;
        if ok(mid) { hi = mid } else { lo = mid + 1 }
    }
    lo
}

#[test]
fn deterministic_budgets_trip_at_the_same_instruction_on_both_compilers() {
    let t: Vec<u64> = runtimes().iter().map(|rt| threshold(rt, 100)).collect();
    assert_eq!(t[0], t[1]);
}

#[test]
fn instances_move_between_threads() {
    for rt in runtimes() {
        let mut inst = load(&rt, &hello(), Limits::default()).unwrap();
        inst.describe_blocking().unwrap();
        let mut inst = std::thread::spawn(move || {
            inst.execute_blocking("greet", r#"{"name":"Ada"}"#).unwrap();
            inst
        })
        .join()
        .unwrap();
        let out = inst.execute_blocking("greet", r#"{"name":"Ada"}"#).unwrap();
        assert_eq!(out, r#"{"greeting":"Hello, Ada!","count":2}"#);
    }
}

#[test]
fn singlepass_refuses_simd_with_a_clear_error() {
    let wasm = module(
        "",
        "(drop (i32x4.extract_lane 0 (v128.const i32x4 1 2 3 4)))",
    );
    let e = WasmerRuntime::singlepass()
        .unwrap()
        .compile(&wasm, &Limits::default())
        .err()
        .unwrap();
    assert_eq!(e.class(), "engine");
    assert!(e.to_string().contains("wasmer-cranelift"), "{e}");
    let mut inst = load(
        &WasmerRuntime::cranelift().unwrap(),
        &wasm,
        Limits::default(),
    )
    .unwrap();
    inst.execute_blocking("x", "{}").unwrap();
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
        let e = inst.execute_blocking("x", "{}").unwrap_err();
        assert_eq!(e.detail(), "trap:cannot-leave", "{}: {e}", rt.name());
        assert_eq!(inst.usage().host_calls, 0, "{}", rt.name());
        let e = inst.execute_blocking("x", "{}").unwrap_err();
        assert_eq!(e.class(), "poisoned", "{}: {e}", rt.name());
        assert!(e.to_string().contains("trap:cannot-leave"), "{e}");
    }
}

/// Unmetered, a guest that only makes cheap host calls is stopped at the deadline: it is
/// checked at every host call too, with or without wasmer's host interrupt.
#[test]
fn a_loop_of_host_calls_stops_at_the_deadline() {
    let wasm = wat::parse_str(format!(
        r#"(module {LOG}
            (memory (export "memory") 1) {EXPORTS}
            (data (i32.const 16) "hi")
            (func (export "execute") (param i32 i32 i32 i32) (result i32)
                (loop $l (call $log (i32.const 0) (i32.const 16) (i32.const 2)) (br $l))
                i32.const 2048))"#
    ))
    .unwrap();
    let limits = Limits {
        max_host_calls: u64::MAX,
        max_transfer_bytes: u64::MAX,
        ..no_fuel(500)
    };
    for rt in runtimes() {
        let mut inst = load(&rt, &wasm, limits.clone()).unwrap();
        let started = Instant::now();
        let e = inst.execute_blocking("x", "{}").unwrap_err();
        assert_eq!(e.detail(), "limit-exceeded:timeout", "{}: {e}", rt.name());
        assert!(inst.usage().host_calls > 0, "{}", rt.name());
        // A sanity bound only: the deadline is 500 ms.
        assert!(started.elapsed() < Duration::from_secs(10), "{}", rt.name());
    }
}

/// A module whose `execute` makes one `kv.get` with its return area at `ret`.
fn kv_get_fixture(ret: i32) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
            (import "morph:extension/kv@0.1.0" "get" (func $get (param i32 i32 i32)))
            (memory (export "memory") 1) {EXPORTS}
            (data (i32.const 16) "k")
            (func (export "execute") (param i32 i32 i32 i32) (result i32)
                (call $get (i32.const 16) (i32.const 1) (i32.const {ret}))
                i32.const 2048))"#
    ))
    .unwrap()
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
        let e = inst.execute_blocking("x", "{}").unwrap_err();
        assert_eq!(e.detail(), "bad-guest-data", "{}: {e}", rt.name());
        assert!(e.to_string().contains("out of bounds"), "{e}");

        // A granted host call whose return area is there.
        let m = rt.compile(&kv_get_fixture(-4), &Limits::default()).unwrap();
        let mut inst = block_on(rt.instantiate(&*m, granted())).unwrap();
        let e = inst.execute_blocking("x", "{}").unwrap_err();
        assert_eq!(e.detail(), "bad-guest-data", "{}: {e}", rt.name());
        assert!(e.to_string().contains("out of bounds"), "{e}");
        assert_eq!(inst.usage().host_calls, 1, "{}", rt.name());

        // The same call with a sound return area succeeds.
        let m = rt.compile(&kv_get_fixture(64), &Limits::default()).unwrap();
        let mut inst = block_on(rt.instantiate(&*m, granted())).unwrap();
        assert_eq!(
            inst.execute_blocking("x", "{}").unwrap(),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_handler_answers_a_granted_host_call() {
    for rt in runtimes() {
        let m = rt.compile(&clock_fixture(), &Limits::default()).unwrap();
        let clock = Arc::new(SlowClock::default());
        let config = config(Limits::default())
            .handler(clock.clone())
            .policy(Arc::new(Grants::parse(["clock"]).expect("a grant")));
        let mut inst = rt.instantiate(&*m, config).await.unwrap();
        let out = inst.execute(call("x", "{}")).await;
        assert_eq!(out.unwrap(), "{}", "{}", rt.name());
        let out = inst.execute(call("x", "{}")).await;
        assert_eq!(out.unwrap(), "{}", "{}", rt.name());
        assert_eq!(clock.answered.load(Ordering::SeqCst), 2, "{}", rt.name());
        assert_eq!(inst.usage().host_calls, 1, "{}", rt.name());
    }
}

/// Dropping a call's future interrupts the guest through the watchdog, so this needs
/// the host interrupt (without it, only fuel would stop the spinning call).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg(all(unix, feature = "host-interrupt"))]
async fn a_dropped_call_cancels_its_instance_and_no_other() {
    // `execute` spins forever for a four-letter action (`spin`), answers ok("") otherwise.
    let wasm = module(
        "",
        "(if (i32.eq (local.get 1) (i32.const 4)) (then (loop $l (br $l))))",
    );
    let limits = no_fuel(30_000);
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
        let e = inst.execute(call("x", "{}")).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Cancelled, "{}: {e}", rt.name());
        let e = inst.describe().await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Cancelled, "{}: {e}", rt.name());

        // Instances of the same compiled module, old and new, are unaffected.
        let out = sibling.execute(call("x", "{}")).await;
        assert_eq!(out.unwrap(), "", "{}", rt.name());
        let mut fresh = rt.instantiate(&*m, config(limits.clone())).await.unwrap();
        let out = fresh.execute(call("x", "{}")).await;
        assert_eq!(out.unwrap(), "", "{}", rt.name());
        // A sanity bound only: the call's own deadline was 30 s.
        assert!(started.elapsed() < Duration::from_secs(10), "{}", rt.name());
    }
}
