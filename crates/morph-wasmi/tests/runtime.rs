//! The wasmi backend end to end: the sample extension, every limit, trap mapping, the
//! serialization round trip, host calls where the component model forbids them, async
//! host calls and cancellation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../morph-runtime/tests/support/backend.rs"]
mod support;
use morph_runtime::{
    Blocking, Error, ErrorKind, Grants, Instance, InstanceConfig, Limit, Limits, Metering, Runtime,
    TrapKind,
};
use morph_wasmi::WasmiRuntime;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use support::{BlockingCalls, EmptyKv, LOG, NOW_MS, SlowClock, call};

fn hello() -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/extensions/hello.wasm");
    std::fs::read(&p).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `cargo xtask build` first (cargo xtask ci does)",
            p.display()
        )
    })
}

/// The exports every Morph module needs, for hand-written fixtures; `execute` is given.
const EXPORTS: &str = r#"
    (memory (export "memory") 1)
    (func (export "describe") (result i32) i32.const 0)
    (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) i32.const 1024)
    (@custom "morph:contract" "0.1.0")
"#;

fn wat(body: &str) -> Vec<u8> {
    wat::parse_str(format!("(module {body})")).expect("fixture WAT parses")
}

/// A fixture whose `execute` runs `code` and returns 0.
fn execute_fixture(code: &str) -> Vec<u8> {
    wat(&format!(
        r#"{EXPORTS}
        (func (export "execute") (param i32 i32 i32 i32) (result i32) {code} i32.const 0)"#
    ))
}

fn runtime() -> WasmiRuntime {
    WasmiRuntime::new().expect("wasmi runtime")
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
    InstanceConfig::new("fixture.wasm", limits)
}

fn instantiate(wasm: &[u8], limits: Limits) -> Result<Box<dyn Instance>, Error> {
    let rt = runtime();
    let module = rt.compile(wasm, &limits)?;
    block_on(rt.instantiate(&*module, config(limits)))
}

fn instance(wasm: &[u8], limits: Limits) -> Box<dyn Instance> {
    instantiate(wasm, limits).expect("instantiates")
}

fn limit_of(e: &Error) -> (Limit, u64, u64) {
    match e.kind() {
        ErrorKind::LimitExceeded { limit, used, max } => (*limit, *used, *max),
        other => panic!("expected a limit, got {other:?}: {e}"),
    }
}

fn trap_of(e: &Error) -> TrapKind {
    match e.kind() {
        ErrorKind::Trap { kind, .. } => *kind,
        other => panic!("expected a trap, got {other:?}: {e}"),
    }
}

#[test]
fn runtime_is_named_wasmi() {
    assert_eq!(runtime().name(), "wasmi");
}

#[test]
fn hello_describes_itself() {
    let mut inst = instance(&hello(), Limits::default());
    let info = inst.describe_blocking().unwrap();
    assert_eq!(info.id, "hello");
    let names: Vec<_> = info.actions.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        ["greet", "count-words", "echo", "sha256", "kv-reads"]
    );
    assert_eq!(info.events.len(), 1);
}

#[test]
fn hello_greets_and_counts() {
    let mut inst = instance(&hello(), Limits::default());
    let out = inst.execute_blocking("greet", r#"{"name":"Ada"}"#).unwrap();
    assert_eq!(out, r#"{"greeting":"Hello, Ada!","count":1}"#);
    let usage = inst.usage();
    // events.emit (refused: no permission) and log.debug.
    assert_eq!(usage.host_calls, 2);
    assert!(usage.fuel > 0);
    assert!(usage.memory_bytes >= 65536);
    assert!(usage.elapsed > Duration::ZERO);
    let out = inst.execute_blocking("greet", r#"{"name":"Ada"}"#).unwrap();
    assert_eq!(out, r#"{"greeting":"Hello, Ada!","count":2}"#);
    assert_eq!(
        inst.execute_blocking("count-words", r#"{"text":"one two  three"}"#)
            .unwrap(),
        r#"{"words":3,"characters":14}"#
    );
    assert_eq!(inst.execute_blocking("echo", "[1,2]").unwrap(), "[1,2]");
}

#[test]
fn unknown_action_is_the_guests_error() {
    let mut inst = instance(&hello(), Limits::default());
    let e = inst.execute_blocking("nope", "{}").unwrap_err();
    match e.kind() {
        ErrorKind::Guest(g) => {
            assert_eq!(g.kind, morph_abi::ErrorKind::UnknownAction);
            assert!(g.message.contains("`nope`"), "{}", g.message);
        }
        other => panic!("expected a guest error, got {other:?}"),
    }
    assert_eq!(e.detail(), "guest-error:unknown-action");
    // The instance is still usable.
    assert!(inst.execute_blocking("echo", "1").is_ok());
}

#[test]
fn oversized_input_is_refused_before_the_guest_runs() {
    let limits = Limits {
        max_input_bytes: 8,
        ..Limits::default()
    };
    let mut inst = instance(&hello(), limits);
    let e = inst.execute_blocking("echo", "[1,2,3,4,5]").unwrap_err();
    assert_eq!(limit_of(&e), (Limit::Input, 15, 8));
}

#[test]
fn infinite_loop_runs_out_of_default_fuel() {
    let wasm = execute_fixture("(loop $l (br $l))");
    // A generous deadline, so that the fuel budget is what stops the loop even in a slow
    // debug build.
    let limits = Limits {
        timeout: Duration::from_secs(120),
        ..Limits::default()
    };
    let mut inst = instance(&wasm, limits);
    let e = inst.execute_blocking("run", "{}").unwrap_err();
    let fuel = Limits::DEFAULT_FUEL;
    assert_eq!(limit_of(&e), (Limit::Cpu, fuel, fuel));
    // The message names the limit and the numbers; remediation is the front end's.
    assert!(
        e.to_string()
            .contains("cpu limit (used 1000000000 fuel, limit 1000000000 fuel)"),
        "{e}"
    );
    assert!(inst.usage().fuel > fuel - 16, "{:?}", inst.usage());
}

#[test]
fn a_small_budget_is_exact_however_it_is_sliced() {
    let wasm = execute_fixture("(loop $l (br $l))");
    for fuel in [1_000, 300_000, 1_000_000] {
        let limits = Limits {
            fuel: Some(fuel),
            ..Limits::default()
        };
        let mut inst = instance(&wasm, limits);
        let e = inst.execute_blocking("run", "{}").unwrap_err();
        assert_eq!(limit_of(&e), (Limit::Cpu, fuel, fuel));
        // All of it, but what the next instruction needed and could not get.
        let used = inst.usage().fuel;
        assert!((fuel - 16..=fuel).contains(&used), "{used} of {fuel}");
    }
}

#[test]
fn infinite_loop_without_fuel_stops_at_the_deadline() {
    let wasm = execute_fixture("(loop $l (br $l))");
    let limits = Limits {
        fuel: None,
        timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let mut inst = instance(&wasm, limits);
    let started = Instant::now();
    let e = inst.execute_blocking("run", "{}").unwrap_err();
    let took = started.elapsed();
    let (limit, used, max) = limit_of(&e);
    assert_eq!(limit, Limit::Timeout);
    assert_eq!(max, 300);
    // Not before the deadline; the upper bound is only a sanity bound (shared machines).
    assert!((300..10_000).contains(&used), "used {used} ms");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(e.to_string().contains("timeout limit"), "{e}");
    assert!(e.to_string().contains("limit 300 ms"), "{e}");
    // The instance refuses further calls, naming why.
    let e = inst.execute_blocking("run", "{}").unwrap_err();
    assert_eq!(e.class(), "poisoned");
    assert!(e.to_string().contains("limit-exceeded:timeout"), "{e}");
}

#[test]
fn a_200ms_deadline_stops_an_unmetered_loop_within_a_second() {
    let wasm = execute_fixture("(loop $l (br $l))");
    let limits = Limits {
        fuel: None,
        timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let mut inst = instance(&wasm, limits);
    let started = Instant::now();
    let e = inst.execute_blocking("run", "{}").unwrap_err();
    assert_eq!(limit_of(&e).0, Limit::Timeout);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_looping_start_function_is_stopped_by_the_deadline() {
    let wasm = wat(&format!(
        r#"{EXPORTS}
        (func (export "execute") (param i32 i32 i32 i32) (result i32) i32.const 0)
        (func $spin (loop $l (br $l)))
        (start $spin)"#
    ));
    let limits = Limits {
        fuel: None,
        timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let started = Instant::now();
    let e = instantiate(&wasm, limits)
        .err()
        .expect("instantiation fails");
    assert_eq!(limit_of(&e).0, Limit::Timeout, "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    // And by fuel when metered.
    let limits = Limits {
        fuel: Some(5_000_000),
        ..Limits::default()
    };
    let e = instantiate(&wasm, limits)
        .err()
        .expect("instantiation fails");
    assert_eq!(limit_of(&e), (Limit::Cpu, 5_000_000, 5_000_000));
}

#[test]
fn a_start_function_runs_before_the_first_call_and_its_traps_fail_instantiation() {
    let wasm = wat(&format!(
        r#"{EXPORTS}
        (global $g (mut i32) (i32.const 0))
        (func $init (global.set $g (i32.const 7)))
        (start $init)
        (func (export "execute") (param i32 i32 i32 i32) (result i32)
            (if (i32.ne (global.get $g) (i32.const 7)) (then unreachable))
            i32.const 0)"#
    ));
    let mut inst = instance(&wasm, Limits::default());
    // The guest reads its result at 0: zeroed memory is `ok("")`.
    assert_eq!(inst.execute_blocking("run", "{}").unwrap(), "");

    let wasm = wat(&format!(
        r#"{EXPORTS}
        (func (export "execute") (param i32 i32 i32 i32) (result i32) i32.const 0)
        (func $boom unreachable)
        (start $boom)"#
    ));
    let e = instantiate(&wasm, Limits::default())
        .err()
        .expect("instantiation fails");
    assert_eq!(trap_of(&e), TrapKind::Unreachable);
}

#[test]
fn memory_growth_beyond_the_limit_is_reported_as_the_memory_limit() {
    let wasm = execute_fixture(
        "(loop $l (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1)))) unreachable",
    );
    let limits = Limits {
        max_memory_bytes: 4 << 20,
        ..Limits::default()
    };
    let mut inst = instance(&wasm, limits);
    let e = inst.execute_blocking("run", "{}").unwrap_err();
    assert_eq!(limit_of(&e), (Limit::Memory, (4 << 20) + 65536, 4 << 20));
    assert_eq!(inst.usage().memory_bytes, 4 << 20);

    // With the default limit too.
    let mut inst = instance(&wasm, Limits::default());
    let e = inst.execute_blocking("run", "{}").unwrap_err();
    assert_eq!(
        limit_of(&e),
        (
            Limit::Memory,
            Limits::DEFAULT_MEMORY + 65536,
            Limits::DEFAULT_MEMORY
        )
    );
}

#[test]
fn traps_map_to_their_kinds() {
    let cases = [
        ("unreachable", TrapKind::Unreachable),
        (
            "(drop (i32.div_s (i32.const 1) (i32.const 0)))",
            TrapKind::IntegerDivisionByZero,
        ),
        (
            "(drop (i32.div_s (i32.const -2147483648) (i32.const -1)))",
            TrapKind::IntegerOverflow,
        ),
        (
            "(drop (i32.trunc_f32_s (f32.const nan)))",
            TrapKind::BadConversionToInteger,
        ),
        (
            "(drop (i32.load (i32.const 70000)))",
            TrapKind::MemoryOutOfBounds,
        ),
    ];
    for (code, kind) in cases {
        let mut inst = instance(&execute_fixture(code), Limits::default());
        let e = inst.execute_blocking("run", "{}").unwrap_err();
        assert_eq!(trap_of(&e), kind, "{code}: {e}");
        assert!(e.to_string().contains(kind.as_str()), "{e}");
    }
}

#[test]
fn indirect_calls_and_tables_trap_as_such() {
    let cases = [
        // A null table element.
        (
            "(call_indirect (type $v) (i32.const 1))",
            TrapKind::IndirectCall,
        ),
        // A function of another type.
        (
            "(drop (call_indirect (type $i) (i32.const 0)))",
            TrapKind::IndirectCall,
        ),
        // Past the end of the table.
        (
            "(call_indirect (type $v) (i32.const 5))",
            TrapKind::TableOutOfBounds,
        ),
        (
            "(table.set (i32.const 9) (ref.null func))",
            TrapKind::TableOutOfBounds,
        ),
    ];
    for (code, kind) in cases {
        let wasm = wat(&format!(
            r#"{EXPORTS}
            (type $v (func))
            (type $i (func (result i32)))
            (table 2 funcref)
            (func $f)
            (elem (i32.const 0) $f)
            (func (export "execute") (param i32 i32 i32 i32) (result i32) {code} i32.const 0)"#
        ));
        let mut inst = instance(&wasm, Limits::default());
        let e = inst.execute_blocking("run", "{}").unwrap_err();
        assert_eq!(trap_of(&e), kind, "{code}: {e}");
    }
}

#[test]
fn runaway_recursion_is_a_stack_overflow_not_a_crash() {
    let wasm = wat(&format!(
        r#"{EXPORTS}
        (func $down (param i32) (result i32)
            (i32.add (call $down (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
        (func (export "execute") (param i32 i32 i32 i32) (result i32)
            (drop (call $down (i32.const 0)))
            i32.const 0)"#
    ));
    let mut inst = instance(&wasm, Limits::default());
    let e = inst.execute_blocking("run", "{}").unwrap_err();
    assert_eq!(trap_of(&e), TrapKind::StackOverflow, "{e}");
}

/// `execute` calls `log.log` in a loop: the host-call limit trips inside a host function
/// and must come back out of wasmi unchanged.
#[test]
fn the_host_call_limit_passes_through_wasmi_unchanged() {
    let wasm = wat(&format!(
        r#"(import "morph:extension/log@0.1.0" "log" (func $log (param i32 i32 i32)))
        {EXPORTS}
        (data (i32.const 16) "hi")
        (func (export "execute") (param i32 i32 i32 i32) (result i32)
            (loop $l (call $log (i32.const 2) (i32.const 16) (i32.const 2)) (br $l))
            i32.const 0)"#
    ));
    let limits = Limits {
        max_host_calls: 3,
        ..Limits::default()
    };
    let mut inst = instance(&wasm, limits);
    let e = inst.execute_blocking("run", "{}").unwrap_err();
    assert_eq!(limit_of(&e), (Limit::HostCalls, 4, 3));
    assert_eq!(inst.usage().host_calls, 4);
}

/// Bad data from the guest in a host call is `BadGuestData`, passed through unchanged.
#[test]
fn bad_guest_data_in_a_host_call_is_reported_as_such() {
    let wasm = wat(&format!(
        r#"(import "morph:extension/log@0.1.0" "log" (func $log (param i32 i32 i32)))
        {EXPORTS}
        (func (export "execute") (param i32 i32 i32 i32) (result i32)
            (call $log (i32.const 2) (i32.const 65530) (i32.const 100))
            i32.const 0)"#
    ));
    let mut inst = instance(&wasm, Limits::default());
    let e = inst.execute_blocking("run", "{}").unwrap_err();
    assert_eq!(e.class(), "bad-guest-data", "{e}");
    assert!(e.to_string().contains("out of bounds"), "{e}");
}

/// The guest's allocator loops forever when the host calls it from inside a host call
/// (to lower `config.get`'s refusal): the nested call is stopped by the deadline too.
#[test]
fn a_looping_allocator_inside_a_host_call_is_stopped_by_the_deadline() {
    let wasm = wat(
        r#"(import "morph:extension/config@0.1.0" "get" (func $get (param i32)))
        (memory (export "memory") 1)
        (global $calls (mut i32) (i32.const 0))
        (func (export "describe") (result i32) i32.const 0)
        (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
            (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
            ;; The first two calls lower `execute`'s arguments; later ones come from
            ;; inside the host call.
            (if (i32.gt_u (global.get $calls) (i32.const 2)) (then (loop $l (br $l))))
            i32.const 1024)
        (func (export "execute") (param i32 i32 i32 i32) (result i32)
            (call $get (i32.const 64))
            i32.const 0)
        (@custom "morph:contract" "0.1.0")"#,
    );
    let limits = Limits {
        fuel: None,
        timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let mut inst = instance(&wasm, limits);
    let started = Instant::now();
    let e = inst.execute_blocking("run", "{}").unwrap_err();
    assert_eq!(limit_of(&e).0, Limit::Timeout, "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    // And by the fuel budget, shared between the outer and the nested call.
    let limits = Limits {
        fuel: Some(2_000_000),
        ..Limits::default()
    };
    let mut inst = instance(&wasm, limits);
    let e = inst.execute_blocking("run", "{}").unwrap_err();
    assert_eq!(limit_of(&e), (Limit::Cpu, 2_000_000, 2_000_000));
}

/// A guest whose allocator makes a host call, whose result would need the allocator
/// again, and so on: the component model's rule stops it at the first step (no host call
/// while the host lowers a value), so it can no longer recurse into a stack overflow.
#[test]
fn unbounded_reentry_through_host_calls_cannot_leave() {
    let wasm = wat(
        r#"(import "morph:extension/config@0.1.0" "get" (func $get (param i32)))
        (memory (export "memory") 1)
        (global $calls (mut i32) (i32.const 0))
        (func (export "describe") (result i32) i32.const 0)
        (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
            (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
            (if (i32.gt_u (global.get $calls) (i32.const 2)) (then (call $get (i32.const 64))))
            i32.const 1024)
        (func (export "execute") (param i32 i32 i32 i32) (result i32)
            (call $get (i32.const 64))
            i32.const 0)
        (@custom "morph:contract" "0.1.0")"#,
    );
    let mut inst = instance(&wasm, Limits::default());
    let e = inst.execute_blocking("run", "{}").unwrap_err();
    assert_eq!(e.detail(), "trap:cannot-leave", "{e}");
    // The outer `config.get` was the only host call that got through.
    assert_eq!(inst.usage().host_calls, 1);
}

#[test]
fn serialized_modules_load_and_run() {
    let rt = runtime();
    let limits = Limits::default();
    let module = rt.compile(&hello(), &limits).unwrap();
    let bytes = rt.serialize(&*module).unwrap();
    // SAFETY: the bytes come from `serialize` of this runtime, unchanged.
    let loaded = unsafe { rt.deserialize(&bytes) }.unwrap();
    assert_eq!(loaded.info(), module.info());
    let mut inst = block_on(rt.instantiate(&*loaded, config(limits))).unwrap();
    assert_eq!(inst.describe_blocking().unwrap().id, "hello");
    assert_eq!(
        inst.execute_blocking("greet", r#"{"name":"Ada"}"#).unwrap(),
        r#"{"greeting":"Hello, Ada!","count":1}"#
    );
}

#[test]
fn serialized_start_functions_still_run_under_the_deadline() {
    let wasm = wat(&format!(
        r#"{EXPORTS}
        (func (export "execute") (param i32 i32 i32 i32) (result i32) i32.const 0)
        (func $spin (loop $l (br $l)))
        (start $spin)"#
    ));
    let rt = runtime();
    let limits = Limits {
        fuel: None,
        timeout: Duration::from_millis(100),
        ..Limits::default()
    };
    let module = rt.compile(&wasm, &limits).unwrap();
    let bytes = rt.serialize(&*module).unwrap();
    // SAFETY: the bytes come from `serialize` of this runtime, unchanged.
    let loaded = unsafe { rt.deserialize(&bytes) }.unwrap();
    let e = block_on(rt.instantiate(&*loaded, config(limits)))
        .err()
        .unwrap();
    assert_eq!(limit_of(&e).0, Limit::Timeout);
}

#[test]
fn corrupted_serialized_bytes_are_an_engine_error() {
    let rt = runtime();
    let module = rt.compile(&hello(), &Limits::default()).unwrap();
    let mut bytes = rt.serialize(&*module).unwrap();
    for garbage in [&b"garbage"[..], &bytes[..bytes.len() / 2]] {
        // SAFETY: deliberately wrong bytes: wasmi validates what it loads.
        let e = unsafe { rt.deserialize(garbage) }.err().unwrap();
        assert_eq!(e.class(), "engine", "{e}");
    }
    let last = bytes.len() - 40;
    bytes[last] ^= 0xff;
    // SAFETY: as above.
    if let Err(e) = unsafe { rt.deserialize(&bytes) } {
        assert_eq!(e.class(), "engine", "{e}");
    }
}

#[test]
fn invalid_modules_are_refused_by_the_shared_validation() {
    let rt = runtime();
    let e = rt.compile(b"not wasm", &Limits::default()).err().unwrap();
    assert_eq!(e.class(), "invalid-module");
    let e = rt.compile(&wat(EXPORTS), &Limits::default()).err().unwrap();
    assert_eq!(e.class(), "missing-export");
}

#[test]
fn instances_are_independent_and_send() {
    let rt = runtime();
    let module = rt.compile(&hello(), &Limits::default()).unwrap();
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let mut inst = block_on(rt.instantiate(&*module, config(Limits::default()))).unwrap();
            std::thread::spawn(move || {
                (0..3)
                    .map(|_| inst.execute_blocking("greet", r#"{"name":"Bo"}"#).unwrap())
                    .last()
                    .unwrap()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), r#"{"greeting":"Hello, Bo!","count":3}"#);
    }
}

fn deterministic(budget: u64) -> Limits {
    Limits {
        fuel: Some(budget),
        metering: Metering::Deterministic,
        ..Limits::default()
    }
}

/// `execute` counts down from `n` and returns an all-zero result (ok, empty string).
fn countdown(n: u32) -> Vec<u8> {
    execute_fixture(&format!(
        "(local $i i32) (local.set $i (i32.const {n}))
         (block $done (loop $l
            (br_if $done (i32.eqz (local.get $i)))
            (local.set $i (i32.sub (local.get $i) (i32.const 1)))
            (br $l)))"
    ))
}

#[test]
fn hello_runs_under_deterministic_metering() {
    let mut inst = instance(&hello(), deterministic(Limits::DEFAULT_FUEL));
    assert_eq!(inst.describe_blocking().unwrap().id, "hello");
    inst.execute_blocking("greet", r#"{"name":"Ada"}"#).unwrap();
    let out = inst.execute_blocking("greet", r#"{"name":"Ada"}"#).unwrap();
    assert_eq!(out, r#"{"greeting":"Hello, Ada!","count":2}"#);
    // Usage counts the module's own instructions: engine-independent.
    let used = inst.usage().fuel;
    assert!(used > 100 && used < 10_000_000, "{used}");
}

#[test]
fn deterministic_budget_stops_loops_and_start_functions() {
    let mut inst = instance(
        &execute_fixture("(loop $l (br $l))"),
        deterministic(100_000),
    );
    let e = inst.execute_blocking("run", "{}").unwrap_err();
    assert_eq!(limit_of(&e), (Limit::Cpu, 100_000, 100_000));

    let wasm = wat(&format!(
        r#"{EXPORTS}
        (func (export "execute") (param i32 i32 i32 i32) (result i32) i32.const 0)
        (func $spin (loop $l (br $l)))
        (start $spin)"#
    ));
    let e = instantiate(&wasm, deterministic(100_000)).err().unwrap();
    assert_eq!(limit_of(&e), (Limit::Cpu, 100_000, 100_000));

    // An ordinary trap stays a trap.
    let mut inst = instance(&execute_fixture("unreachable"), deterministic(100_000));
    let e = inst.execute_blocking("run", "{}").unwrap_err();
    assert_eq!(trap_of(&e), TrapKind::Unreachable);
}

/// The smallest deterministic budget with which `execute` succeeds.
fn threshold(wasm: &[u8]) -> u64 {
    let ok = |budget: u64| match instance(wasm, deterministic(budget)).execute_blocking("run", "{}")
    {
        Ok(_) => true,
        Err(e) if e.detail() == "limit-exceeded:cpu" => false,
        Err(e) => panic!("{e}"),
    };
    let (mut lo, mut hi) = (1u64, 1u64 << 20);
    assert!(ok(hi));
    while lo < hi {
        let mid = (lo + hi) / 2;
        if ok(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

#[test]
fn deterministic_budget_trips_at_an_exact_instruction() {
    let t100 = threshold(&countdown(100));
    let t200 = threshold(&countdown(200));
    assert!(t200 > t100);
    // Each iteration costs the same whole number of instructions.
    assert_eq!((t200 - t100) % 100, 0, "{t100} {t200}");
    // The instruction count is what usage reports.
    let mut inst = instance(&countdown(100), deterministic(t100));
    inst.execute_blocking("run", "{}").unwrap();
    assert_eq!(inst.usage().fuel, t100);
}

/// wasmi translates a function on its first call and, by default, charges fuel for it in
/// a way that cannot be resumed; with the deadline's fuel slices that would fail calls at
/// random. Sweep the point at which a large, never-called function is first called across
/// several slices: every run must succeed.
#[test]
fn lazy_translation_never_fails_a_call_at_a_slice_boundary() {
    let big: String = (0..2_000)
        .map(|i| format!("(drop (i32.add (local.get 0) (i32.const {i})))"))
        .collect();
    for n in (0..400_000).step_by(9_973) {
        let wasm = wat(&format!(
            r#"{EXPORTS}
            (func $big (param i32) {big})
            (func (export "execute") (param i32 i32 i32 i32) (result i32)
                (local $i i32) (local.set $i (i32.const {n}))
                (block $done (loop $l
                    (br_if $done (i32.eqz (local.get $i)))
                    (local.set $i (i32.sub (local.get $i) (i32.const 1)))
                    (br $l)))
                (call $big (i32.const 1))
                i32.const 0)"#
        ));
        let mut inst = instance(&wasm, Limits::default());
        assert_eq!(
            inst.execute_blocking("run", "{}").unwrap(),
            "",
            "after {n} iterations"
        );
    }
}

/// `cabi_realloc` logs before it allocates: the host calls it to lower `execute`'s
/// arguments, where the component model forbids leaving the instance.
#[test]
fn a_host_call_from_cabi_realloc_cannot_leave() {
    let wasm = wat(&format!(
        r#"{LOG}
        (memory (export "memory") 1)
        (data (i32.const 16) "hi")
        (func (export "describe") (result i32) i32.const 0)
        (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
            (call $log (i32.const 2) (i32.const 16) (i32.const 2))
            i32.const 1024)
        (func (export "execute") (param i32 i32 i32 i32) (result i32) i32.const 0)
        (@custom "morph:contract" "0.1.0")"#
    ));
    let mut inst = instance(&wasm, Limits::default());
    let e = inst.execute_blocking("run", "{}").unwrap_err();
    assert_eq!(e.detail(), "trap:cannot-leave", "{e}");
    assert_eq!(inst.usage().host_calls, 0);
    // A trap poisons the instance, and the refusal says why.
    let e = inst.execute_blocking("run", "{}").unwrap_err();
    assert_eq!(e.class(), "poisoned", "{e}");
    assert!(e.to_string().contains("trap:cannot-leave"), "{e}");
}

#[test]
fn a_host_call_from_a_start_function_cannot_leave() {
    let wasm = wat(&format!(
        r#"{LOG}
        {EXPORTS}
        (data (i32.const 16) "hi")
        (func (export "execute") (param i32 i32 i32 i32) (result i32) i32.const 0)
        (func $init (call $log (i32.const 2) (i32.const 16) (i32.const 2)))
        (start $init)"#
    ));
    let e = instantiate(&wasm, Limits::default())
        .err()
        .expect("instantiation fails");
    assert_eq!(e.detail(), "trap:cannot-leave", "{e}");
}

/// Unmetered, a guest that only makes cheap host calls is stopped at the deadline: it is
/// checked at every host call too.
#[test]
fn a_loop_of_host_calls_stops_at_the_deadline() {
    let wasm = wat(&format!(
        r#"{LOG}
        {EXPORTS}
        (data (i32.const 16) "hi")
        (func (export "execute") (param i32 i32 i32 i32) (result i32)
            (loop $l (call $log (i32.const 0) (i32.const 16) (i32.const 2)) (br $l))
            i32.const 0)"#
    ));
    let limits = Limits {
        fuel: None,
        timeout: Duration::from_millis(500),
        max_host_calls: u64::MAX,
        max_transfer_bytes: u64::MAX,
        ..Limits::default()
    };
    let mut inst = instance(&wasm, limits);
    let started = Instant::now();
    let e = inst.execute_blocking("run", "{}").unwrap_err();
    assert_eq!(e.detail(), "limit-exceeded:timeout", "{e}");
    assert!(inst.usage().host_calls > 0, "{:?}", inst.usage());
    // A sanity bound only: the deadline is 500 ms.
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// A fixture whose `execute` makes one `kv.get` with its return area at `ret`.
fn kv_get_fixture(ret: i32) -> Vec<u8> {
    wat(&format!(
        r#"(import "morph:extension/kv@0.1.0" "get" (func $get (param i32 i32 i32)))
        {EXPORTS}
        (data (i32.const 16) "k")
        (func (export "execute") (param i32 i32 i32 i32) (result i32)
            (call $get (i32.const 16) (i32.const 1) (i32.const {ret}))
            i32.const 0)"#
    ))
}

/// Default limits, `kv-read` granted, and [`EmptyKv`] to serve it.
fn kv_readable() -> InstanceConfig {
    config(Limits::default())
        .handler(Arc::new(Blocking(EmptyKv)))
        .policy(Arc::new(Grants::parse(["kv-read"]).expect("a grant")))
}

#[test]
fn pointers_at_the_end_of_the_address_space_are_bad_guest_data() {
    // `execute` answers with a result at 0xfffffffc: its 12 bytes wrap past 2^32.
    let mut inst = instance(
        &wat(&format!(
            r#"{EXPORTS}
        (func (export "execute") (param i32 i32 i32 i32) (result i32) i32.const -4)"#
        )),
        Limits::default(),
    );
    let e = inst.execute_blocking("run", "{}").unwrap_err();
    assert_eq!(e.detail(), "bad-guest-data", "{e}");
    assert!(e.to_string().contains("out of bounds"), "{e}");

    // A granted host call whose return area is there.
    let rt = runtime();
    let module = rt.compile(&kv_get_fixture(-4), &Limits::default()).unwrap();
    let mut inst = block_on(rt.instantiate(&*module, kv_readable())).unwrap();
    let e = inst.execute_blocking("run", "{}").unwrap_err();
    assert_eq!(e.detail(), "bad-guest-data", "{e}");
    assert!(e.to_string().contains("out of bounds"), "{e}");
    assert_eq!(inst.usage().host_calls, 1);

    // The same call with a sound return area succeeds.
    let module = rt.compile(&kv_get_fixture(64), &Limits::default()).unwrap();
    let mut inst = block_on(rt.instantiate(&*module, kv_readable())).unwrap();
    assert_eq!(inst.execute_blocking("run", "{}").unwrap(), "");
}

/// `execute` reads the clock and answers `ok("{}")` when it got [`NOW_MS`], traps
/// otherwise.
fn clock_fixture() -> Vec<u8> {
    wat(&format!(
        r#"(import "morph:extension/clock@0.1.0" "now-ms" (func $now (param i32)))
        {EXPORTS}
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
            i32.const 256)"#
    ))
}

#[tokio::test]
async fn an_async_handler_answers_a_granted_host_call() {
    let rt = runtime();
    let module = rt.compile(&clock_fixture(), &Limits::default()).unwrap();
    let clock = Arc::new(SlowClock::default());
    let config = config(Limits::default())
        .handler(clock.clone())
        .policy(Arc::new(Grants::parse(["clock"]).expect("a grant")));
    let mut inst = rt.instantiate(&*module, config).await.unwrap();
    assert_eq!(inst.execute(call("run", "{}")).await.unwrap(), "{}");
    assert_eq!(inst.execute(call("run", "{}")).await.unwrap(), "{}");
    assert_eq!(clock.answered.load(Ordering::SeqCst), 2);
    assert_eq!(inst.usage().host_calls, 1);
}

/// `execute` spins forever for a four-letter action (`spin`), and answers `ok("")`
/// otherwise.
fn spin_on_request() -> Vec<u8> {
    wat(&format!(
        r#"{EXPORTS}
        (func (export "execute") (param i32 i32 i32 i32) (result i32)
            (if (i32.eq (local.get 1) (i32.const 4)) (then (loop $l (br $l))))
            i32.const 0)"#
    ))
}

#[tokio::test]
async fn a_dropped_call_cancels_its_instance_and_no_other() {
    let rt = runtime();
    let limits = Limits {
        fuel: None,
        timeout: Duration::from_secs(30),
        ..Limits::default()
    };
    let module = rt.compile(&spin_on_request(), &limits).unwrap();
    let mut inst = rt
        .instantiate(&*module, config(limits.clone()))
        .await
        .unwrap();
    let mut sibling = rt
        .instantiate(&*module, config(limits.clone()))
        .await
        .unwrap();
    let started = Instant::now();

    let first =
        tokio::time::timeout(Duration::from_millis(100), inst.execute(call("spin", "{}"))).await;
    assert!(first.is_err(), "the spinning call finished: {first:?}");
    let e = inst.execute(call("run", "{}")).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Cancelled, "{e}");
    let e = inst.describe().await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Cancelled, "{e}");

    // Instances of the same compiled module, old and new, are unaffected.
    assert_eq!(sibling.execute(call("run", "{}")).await.unwrap(), "");
    let mut fresh = rt.instantiate(&*module, config(limits)).await.unwrap();
    assert_eq!(fresh.execute(call("run", "{}")).await.unwrap(), "");
    // A sanity bound only: the call's own deadline was 30 s.
    assert!(started.elapsed() < Duration::from_secs(10));
}
