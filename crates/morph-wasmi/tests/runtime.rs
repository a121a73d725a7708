//! The wasmi backend end to end: the sample extension, every limit, trap mapping, and the
//! serialization round trip.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use morph_runtime::{
    DenyAll, Error, ErrorKind, Instance, InstanceConfig, Limit, Limits, Metering, Runtime, TrapKind,
};
use morph_wasmi::WasmiRuntime;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

fn config(limits: Limits) -> InstanceConfig {
    InstanceConfig {
        limits,
        handler: Arc::new(DenyAll),
        label: "fixture.wasm".into(),
    }
}

fn instantiate(wasm: &[u8], limits: Limits) -> Result<Box<dyn Instance>, Error> {
    let rt = runtime();
    let module = rt.compile(wasm, &limits)?;
    rt.instantiate(&*module, config(limits))
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
    let info = inst.describe().unwrap();
    assert_eq!(info.id, "hello");
    let names: Vec<_> = info.actions.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["greet", "count-words", "echo"]);
    assert_eq!(info.events.len(), 1);
}

#[test]
fn hello_greets_and_counts() {
    let mut inst = instance(&hello(), Limits::default());
    let out = inst.execute("greet", r#"{"name":"Ada"}"#).unwrap();
    assert_eq!(out, r#"{"greeting":"Hello, Ada!","count":1}"#);
    let usage = inst.usage();
    // events.emit (refused: no permission) and log.debug.
    assert_eq!(usage.host_calls, 2);
    assert!(usage.fuel > 0);
    assert!(usage.memory_bytes >= 65536);
    assert!(usage.elapsed > Duration::ZERO);
    let out = inst.execute("greet", r#"{"name":"Ada"}"#).unwrap();
    assert_eq!(out, r#"{"greeting":"Hello, Ada!","count":2}"#);
    assert_eq!(
        inst.execute("count-words", r#"{"text":"one two  three"}"#)
            .unwrap(),
        r#"{"words":3,"characters":14}"#
    );
    assert_eq!(inst.execute("echo", "[1,2]").unwrap(), "[1,2]");
}

#[test]
fn unknown_action_is_the_guests_error() {
    let mut inst = instance(&hello(), Limits::default());
    let e = inst.execute("nope", "{}").unwrap_err();
    match e.kind() {
        ErrorKind::Guest(g) => {
            assert_eq!(g.kind, morph_abi::ErrorKind::UnknownAction);
            assert!(g.message.contains("`nope`"), "{}", g.message);
        }
        other => panic!("expected a guest error, got {other:?}"),
    }
    assert_eq!(e.detail(), "guest-error:unknown-action");
    // The instance is still usable.
    assert!(inst.execute("echo", "1").is_ok());
}

#[test]
fn oversized_input_is_refused_before_the_guest_runs() {
    let limits = Limits {
        max_input_bytes: 8,
        ..Limits::default()
    };
    let mut inst = instance(&hello(), limits);
    let e = inst.execute("echo", "[1,2,3,4,5]").unwrap_err();
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
    let e = inst.execute("run", "{}").unwrap_err();
    let fuel = Limits::DEFAULT_FUEL;
    assert_eq!(limit_of(&e), (Limit::Cpu, fuel, fuel));
    assert!(e.to_string().contains("--fuel"), "{e}");
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
        let e = inst.execute("run", "{}").unwrap_err();
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
    let e = inst.execute("run", "{}").unwrap_err();
    let took = started.elapsed();
    let (limit, used, max) = limit_of(&e);
    assert_eq!(limit, Limit::Timeout);
    assert_eq!(max, 300);
    assert!((300..1300).contains(&used), "used {used} ms");
    assert!(took < Duration::from_millis(1300), "took {took:?}");
    assert!(e.to_string().contains("--timeout"), "{e}");
    // The instance refuses further calls, naming why.
    let e = inst.execute("run", "{}").unwrap_err();
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
    let e = inst.execute("run", "{}").unwrap_err();
    assert_eq!(limit_of(&e).0, Limit::Timeout);
    assert!(
        started.elapsed() < Duration::from_secs(1),
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
        started.elapsed() < Duration::from_secs(1),
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
    assert_eq!(inst.execute("run", "{}").unwrap(), "");

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
    let e = inst.execute("run", "{}").unwrap_err();
    assert_eq!(limit_of(&e), (Limit::Memory, (4 << 20) + 65536, 4 << 20));
    assert_eq!(inst.usage().memory_bytes, 4 << 20);

    // With the default limit too.
    let mut inst = instance(&wasm, Limits::default());
    let e = inst.execute("run", "{}").unwrap_err();
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
        let e = inst.execute("run", "{}").unwrap_err();
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
        let e = inst.execute("run", "{}").unwrap_err();
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
    let e = inst.execute("run", "{}").unwrap_err();
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
    let e = inst.execute("run", "{}").unwrap_err();
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
    let e = inst.execute("run", "{}").unwrap_err();
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
    let e = inst.execute("run", "{}").unwrap_err();
    assert_eq!(limit_of(&e).0, Limit::Timeout, "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    // And by the fuel budget, shared between the outer and the nested call.
    let limits = Limits {
        fuel: Some(2_000_000),
        ..Limits::default()
    };
    let mut inst = instance(&wasm, limits);
    let e = inst.execute("run", "{}").unwrap_err();
    assert_eq!(limit_of(&e), (Limit::Cpu, 2_000_000, 2_000_000));
}

/// A guest whose allocator makes a host call, whose result needs the allocator again...
/// must not exhaust the native stack.
#[test]
fn unbounded_reentry_through_host_calls_is_a_stack_overflow() {
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
    let e = inst.execute("run", "{}").unwrap_err();
    assert_eq!(trap_of(&e), TrapKind::StackOverflow, "{e}");
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
    let mut inst = rt.instantiate(&*loaded, config(limits)).unwrap();
    assert_eq!(inst.describe().unwrap().id, "hello");
    assert_eq!(
        inst.execute("greet", r#"{"name":"Ada"}"#).unwrap(),
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
    let e = rt.instantiate(&*loaded, config(limits)).err().unwrap();
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
            let mut inst = rt.instantiate(&*module, config(Limits::default())).unwrap();
            std::thread::spawn(move || {
                (0..3)
                    .map(|_| inst.execute("greet", r#"{"name":"Bo"}"#).unwrap())
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
    assert_eq!(inst.describe().unwrap().id, "hello");
    inst.execute("greet", r#"{"name":"Ada"}"#).unwrap();
    let out = inst.execute("greet", r#"{"name":"Ada"}"#).unwrap();
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
    let e = inst.execute("run", "{}").unwrap_err();
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
    let e = inst.execute("run", "{}").unwrap_err();
    assert_eq!(trap_of(&e), TrapKind::Unreachable);
}

/// The smallest deterministic budget with which `execute` succeeds.
fn threshold(wasm: &[u8]) -> u64 {
    let ok = |budget: u64| match instance(wasm, deterministic(budget)).execute("run", "{}") {
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
    inst.execute("run", "{}").unwrap();
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
            inst.execute("run", "{}").unwrap(),
            "",
            "after {n} iterations"
        );
    }
}
