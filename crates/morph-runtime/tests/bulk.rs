//! Bulk operations are charged by size: `prepare`'s chunking, run on wasmi.
#![allow(clippy::unwrap_used, reason = "tests")]

use morph_runtime::{Limits, Metering, meter, prepare};
use wasmi::{Engine, Instance, Linker, Module, Store, TrapCode, Val};

/// An extension whose `execute(d, s, n, count)` runs `body` (which sees the four
/// parameters as locals 0..3) and returns 0; with 1024 pages (64 MiB) of memory and a
/// 100-element table.
fn extension(body: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
            (memory (export "memory") 1024)
            (table 100 funcref)
            (func $f)
            (elem declare func $f)
            (data $seg "0123456789abcdefghijklmnopqrstuvwxyz")
            (func (export "describe") (result i32) i32.const 0)
            (func (export "execute") (param i32 i32 i32 i32) (result i32)
                {body}
                i32.const 0)
            (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) i32.const 0)
            (@custom "morph:contract" "0.1.0"))"#
    ))
    .unwrap()
}

struct Run {
    store: Store<()>,
    instance: Instance,
}

impl Run {
    /// Prepares `wasm` under `limits` and instantiates it on wasmi (without wasmi's own
    /// fuel, which already charges bulk operations by size: the rewrite is for the
    /// engines that do not, and for deterministic metering).
    fn new(wasm: &[u8], limits: &Limits) -> Run {
        let (prepared, _) = prepare(wasm, limits).unwrap();
        let engine = Engine::default();
        let module = Module::new(&engine, &prepared[..]).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Linker::new(&engine)
            .instantiate_and_start(&mut store, &module)
            .unwrap();
        Run { store, instance }
    }

    fn execute(&mut self, args: [i32; 4]) -> Result<(), wasmi::Error> {
        let f = self
            .instance
            .get_typed_func::<(i32, i32, i32, i32), i32>(&self.store, "execute")
            .unwrap();
        f.call(&mut self.store, args.into()).map(drop)
    }

    fn fuel_left(&self) -> i64 {
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

    fn memory(&self) -> &[u8] {
        self.instance
            .get_memory(&self.store, "memory")
            .unwrap()
            .data(&self.store)
    }

    fn memory_mut(&mut self) -> &mut [u8] {
        self.instance
            .get_memory(&self.store, "memory")
            .unwrap()
            .data_mut(&mut self.store)
    }
}

/// Room for the 64 MiB memory and the table (which counts against the memory limit).
fn roomy() -> Limits {
    Limits {
        max_memory_bytes: 128 << 20,
        ..Limits::default()
    }
}

fn deterministic(budget: u64) -> Limits {
    Limits {
        metering: Metering::Deterministic,
        fuel: Some(budget),
        ..roomy()
    }
}

/// `count` fills of `n` bytes at 0.
const FILLS: &str = r#"
    (block (loop
        (br_if 1 (i32.eqz (local.get 3)))
        (memory.fill (i32.const 0) (i32.const 0xab) (local.get 2))
        (local.set 3 (i32.sub (local.get 3) (i32.const 1)))
        (br 0)))"#;

#[test]
fn five_thousand_fills_of_64_mib_trip_a_100_000_unit_budget() {
    let wasm = extension(FILLS);
    let sixty_four_mib = 64 << 20;
    // Before: metering alone charges each fill as one instruction, and 320 GiB are
    // written within the budget. (Measured with 50 fills, to keep the test fast: the
    // whole loop costs a few hundred units.)
    let metered_only = meter::instrument(&wasm, 100_000).unwrap();
    let engine = Engine::default();
    let module = Module::new(&engine, &metered_only.wasm[..]).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine)
        .instantiate_and_start(&mut store, &module)
        .unwrap();
    let execute = instance
        .get_typed_func::<(i32, i32, i32, i32), i32>(&store, "execute")
        .unwrap();
    execute
        .call(&mut store, (0, 0, sixty_four_mib, 50))
        .unwrap();
    let Val::I64(left) = instance
        .get_global(&store, meter::FUEL_GLOBAL)
        .unwrap()
        .get(&store)
    else {
        panic!()
    };
    assert!(
        left > 99_000,
        "50 fills of 64 MiB cost {} units",
        100_000 - left
    );

    // After: `prepare` chunks, and the budget trips within the first fill.
    let mut run = Run::new(&wasm, &deterministic(100_000));
    let e = run.execute([0, 0, sixty_four_mib, 5_000]).unwrap_err();
    assert_eq!(e.as_trap_code(), Some(TrapCode::UnreachableCodeReached));
    assert!(meter::exhausted(run.fuel_left()));
    // About 17 units per 4 KiB chunk: the budget wrote some 24 MB, not 320 GiB.
    let written = run.memory().iter().take_while(|b| **b == 0xab).count();
    assert!(
        (20 << 20..28 << 20).contains(&written),
        "{written} bytes written"
    );
}

#[test]
fn a_fill_costs_in_proportion_to_its_length() {
    let cost = |n: i32| {
        let mut run = Run::new(&extension(FILLS), &deterministic(1 << 40));
        run.execute([0, 0, n, 1]).unwrap();
        (1i64 << 40) - run.fuel_left()
    };
    let (one, four) = (cost(1 << 20), cost(4 << 20));
    assert!(one > 4_000, "1 MiB cost {one} units");
    let ratio = four as f64 / one as f64;
    assert!((3.9..4.1).contains(&ratio), "1 MiB: {one}, 4 MiB: {four}");
}

#[test]
fn copies_match_memmove_in_both_directions_and_across_chunks() {
    let wasm = extension("(memory.copy (local.get 0) (local.get 1) (local.get 2))");
    let pattern = |i: usize| (i * 7 + i / 251) as u8;
    for (d, s, n) in [
        (0, 10_000, 20_000),    // forward, overlapping
        (10_000, 0, 20_000),    // backward, overlapping
        (5, 3, 9_000),          // backward by 2 bytes
        (3, 5, 9_000),          // forward by 2 bytes
        (100_000, 0, 4096 * 3), // disjoint, exactly three chunks
        (0, 100_000, 4096 * 3 + 1),
        (7, 7, 50_000), // onto itself
    ] {
        let mut run = Run::new(&wasm, &roomy());
        let mem = run.memory_mut();
        for (i, b) in mem.iter_mut().take(200_000).enumerate() {
            *b = pattern(i);
        }
        let mut want = run.memory()[..200_000].to_vec();
        want.copy_within(s..s + n, d);
        run.execute([d as i32, s as i32, n as i32, 0]).unwrap();
        assert!(
            run.memory()[..200_000] == want[..],
            "copy({d}, {s}, {n}) differs from memmove"
        );
    }
}

#[test]
fn out_of_bounds_operations_trap_before_writing_anything() {
    let end = 64 << 20; // the memory's size
    for (body, args) in [
        (
            "(memory.fill (local.get 0) (i32.const 0xab) (local.get 2))",
            [0, 0, end + 1],
        ),
        (
            "(memory.fill (local.get 0) (i32.const 0xab) (local.get 2))",
            [end - 8192, 0, 8193],
        ),
        (
            "(memory.copy (local.get 0) (local.get 1) (local.get 2))",
            [0, end - 100_000, 100_001],
        ),
        (
            "(memory.copy (local.get 0) (local.get 1) (local.get 2))",
            [end - 100_000, 0, 100_001],
        ),
        (
            "(memory.init $seg (local.get 0) (local.get 1) (local.get 2))",
            [0, 0, 37],
        ),
        (
            "(memory.init $seg (local.get 0) (local.get 1) (local.get 2))",
            [end - 10, 0, 11],
        ),
        (
            "(memory.init $seg (local.get 0) (local.get 1) (local.get 2))",
            [-1, 0, 2],
        ),
    ] {
        let mut run = Run::new(&extension(body), &roomy());
        let e = run.execute([args[0], args[1], args[2], 0]).unwrap_err();
        assert_eq!(
            e.as_trap_code(),
            Some(TrapCode::MemoryOutOfBounds),
            "{body} {args:?}"
        );
        assert!(
            run.memory().iter().all(|b| *b == 0),
            "{body} {args:?} wrote before trapping"
        );
    }
    for (body, args) in [
        (
            "(table.fill 0 (local.get 0) (ref.func $f) (local.get 2))",
            [0, 0, 101],
        ),
        (
            "(table.copy (local.get 0) (local.get 1) (local.get 2))",
            [0, 1, 100],
        ),
    ] {
        let mut run = Run::new(&extension(body), &roomy());
        let e = run.execute([args[0], args[1], args[2], 0]).unwrap_err();
        assert_eq!(
            e.as_trap_code(),
            Some(TrapCode::TableOutOfBounds),
            "{body} {args:?}"
        );
    }
}

#[test]
fn a_module_without_bulk_operations_is_left_alone() {
    let wasm = wat::parse_str(r#"(module (func (export "f") (result i32) i32.const 1))"#).unwrap();
    assert!(matches!(
        meter::chunk_bulk(&wasm).unwrap(),
        std::borrow::Cow::Borrowed(_)
    ));
    let wasm = extension("");
    let (prepared, _) = prepare(&wasm, &roomy()).unwrap();
    assert!(matches!(prepared, std::borrow::Cow::Borrowed(_)));
}
