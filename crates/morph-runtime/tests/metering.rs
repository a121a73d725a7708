//! Deterministic metering: where each guest call's budget starts, run on wasmi.
#![allow(clippy::unwrap_used, reason = "tests")]

use morph_runtime::{IMPORTS, Limits, Metering, meter, prepare};
use wasmi::{Caller, Engine, Func, FuncType, Instance, Linker, Module, Store, Val, ValType};

const BUDGET: u64 = 10_000;

/// An extension whose `execute(n, host, _, _)` burns `n` loop iterations then, when
/// `host` is not 0, makes a host call; whose `cabi_realloc(_, _, _, n)` burns `n`
/// iterations and returns 8; and whose post-return burns 1 000. The host call (the
/// contract's first import) calls back into `cabi_realloc` with `host` iterations, as a
/// host call does to hand back its result.
fn extension() -> Vec<u8> {
    let import = &IMPORTS[0];
    let params = "i32 ".repeat(import.params);
    let args = "(i32.const 0) ".repeat(import.params);
    wat::parse_str(format!(
        r#"(module
            (import "{m}" "{n}" (func $host (param {params})))
            (global $host_burn (export "host_burn") (mut i32) (i32.const 0))
            (memory (export "memory") 1)
            (func $burn (param $n i32)
                (block (loop
                    (br_if 1 (i32.eqz (local.get $n)))
                    (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                    (br 0))))
            (func (export "describe") (result i32) i32.const 0)
            (func (export "execute") (param i32 i32 i32 i32) (result i32)
                (call $burn (local.get 0))
                (if (local.get 1) (then
                    (global.set $host_burn (local.get 1))
                    (call $host {args})))
                i32.const 8)
            (func (export "cabi_post_execute") (param i32) (call $burn (i32.const 1000)))
            (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
                (call $burn (local.get 3))
                i32.const 8)
            (@custom "morph:contract" "0.1.0"))"#,
        m = import.module,
        n = import.name,
    ))
    .unwrap()
}

struct Guest {
    store: Store<()>,
    instance: Instance,
}

impl Guest {
    fn new() -> Guest {
        let limits = Limits {
            metering: Metering::Deterministic,
            fuel: Some(BUDGET),
            ..Limits::default()
        };
        let original = extension();
        let (wasm, _) = prepare(&original, &limits).unwrap();
        let engine = Engine::default();
        let module = Module::new(&engine, &wasm[..]).unwrap();
        let mut store = Store::new(&engine, ());
        let import = &IMPORTS[0];
        // The host call: calls the exported `cabi_realloc` with the iterations the guest
        // put in `host_burn`, as a backend lowering a host call's result does.
        let host = Func::new(
            &mut store,
            FuncType::new(vec![ValType::I32; import.params], []),
            |mut caller: Caller<'_, ()>, _, _| {
                let instance = caller.get_export("cabi_realloc").unwrap();
                let realloc = instance.into_func().unwrap();
                let Some(Val::I32(n)) = caller
                    .get_export("host_burn")
                    .and_then(|g| g.into_global())
                    .map(|g| g.get(&caller))
                else {
                    panic!("no host_burn")
                };
                let mut out = [Val::I32(0)];
                realloc.call(
                    &mut caller,
                    &[Val::I32(0), Val::I32(0), Val::I32(1), Val::I32(n)],
                    &mut out,
                )
            },
        );
        let mut linker = Linker::new(&engine);
        linker.define(import.module, import.name, host).unwrap();
        let instance = linker.instantiate_and_start(&mut store, &module).unwrap();
        Guest { store, instance }
    }

    fn call(&mut self, name: &str, args: &[i32]) -> Result<(), String> {
        let f = self.instance.get_func(&self.store, name).unwrap();
        let args: Vec<Val> = args.iter().map(|a| Val::I32(*a)).collect();
        let mut out = vec![Val::I32(0); f.ty(&self.store).results().len()];
        match f.call(&mut self.store, &args, &mut out) {
            Ok(()) => Ok(()),
            Err(e) if meter::exhausted(self.fuel()) => Err(format!("budget exhausted ({e})")),
            Err(e) => Err(format!("trap: {e}")),
        }
    }

    /// `cabi_realloc` burning `n` iterations, as the host calls it to lower an argument.
    fn realloc(&mut self, n: i32) -> Result<(), String> {
        self.call("cabi_realloc", &[0, 0, 1, n])
    }

    fn execute(&mut self, burn: i32, host: i32) -> Result<(), String> {
        self.call("execute", &[burn, host, 0, 0])
    }

    fn post_execute(&mut self) -> Result<(), String> {
        self.call("cabi_post_execute", &[8])
    }

    fn fuel(&self) -> i64 {
        match self
            .instance
            .get_global(&self.store, meter::FUEL_GLOBAL)
            .unwrap()
            .get(&self.store)
        {
            Val::I64(v) => v,
            other => panic!("{other:?}"),
        }
    }
}

/// Loop iterations that cost about `share` of the budget: an iteration is 8 operators
/// (`local.get`, `i32.eqz`, `br_if`; `local.get`, `i32.const`, `i32.sub`, `local.set`,
/// `br`), and calls and wrappers add a few more.
fn iterations(share: f64) -> i32 {
    (BUDGET as f64 * share / 8.0) as i32
}

#[test]
fn argument_lowering_does_not_run_on_the_previous_calls_leftover() {
    let mut g = Guest::new();
    // A call that spends 97% of its budget, with no post-return (as a backend calls a
    // module without one).
    g.realloc(0).unwrap();
    g.execute(iterations(0.97), 0).unwrap();
    assert!(g.fuel() < (BUDGET / 20) as i64, "{}", g.fuel());
    // The next call's lowering needs 30%: it starts a fresh budget.
    g.realloc(iterations(0.3)).unwrap();
    let left = g.fuel();
    assert!(
        (BUDGET as i64 * 6 / 10..BUDGET as i64 * 75 / 100).contains(&left),
        "{left}"
    );
}

#[test]
fn lowering_and_the_call_share_one_budget() {
    let mut g = Guest::new();
    // 60% to lower, 60% to run: over budget, because they are one call.
    g.realloc(iterations(0.6)).unwrap();
    let e = g.execute(iterations(0.6), 0).unwrap_err();
    assert!(e.starts_with("budget exhausted"), "{e}");

    // Each alone fits, in separate calls.
    let mut g = Guest::new();
    g.realloc(iterations(0.6)).unwrap();
    g.execute(0, 0).unwrap();
    g.post_execute().unwrap();
    g.realloc(0).unwrap();
    g.execute(iterations(0.6), 0).unwrap();
}

#[test]
fn reallocs_inside_a_call_continue_its_budget() {
    // A host call's result is lowered with `cabi_realloc` while `execute` runs: that
    // continues execute's budget (60% + 60% is over) rather than starting a new one.
    let mut g = Guest::new();
    let e = g.execute(iterations(0.6), iterations(0.6)).unwrap_err();
    assert!(e.contains("budget exhausted"), "{e}");
    // Within budget it works, and the call ends with the budget it left: 40%, less the
    // host call's own cost (`HOST_CALL_FUEL`, 10% of this budget).
    let mut g = Guest::new();
    g.execute(iterations(0.3), iterations(0.3)).unwrap();
    let left = g.fuel() + morph_runtime::HOST_CALL_FUEL as i64;
    assert!(
        (BUDGET as i64 * 3 / 10..BUDGET as i64 / 2).contains(&left),
        "{left}"
    );
}

#[test]
fn post_returns_and_entries_start_afresh() {
    let mut g = Guest::new();
    g.execute(iterations(0.9), 0).unwrap();
    // The post-return runs on its own budget and leaves a full one.
    g.post_execute().unwrap();
    assert_eq!(g.fuel(), BUDGET as i64);
    // An entry called without lowering starts afresh too.
    g.execute(iterations(0.9), 0).unwrap();
    g.execute(iterations(0.9), 0).unwrap();
}
