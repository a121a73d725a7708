//! Divergences the differential fuzzer found, pinned as small modules that run on every
//! backend through the same wrapper (`docs/fuzzing.md`).
#![allow(
    clippy::unwrap_used,
    reason = "a test harness: a failure is a test failure"
)]

use arbitrary::Unstructured;
use morph_fuzz::differential::{Verdict, run_wrapped};
use morph_fuzz::wrap::wrap;

fn run(wat: &str) -> Vec<String> {
    let smith = wat::parse_str(wat).unwrap();
    let wrapped = wrap(&smith, &mut Unstructured::new(&[])).unwrap();
    match run_wrapped(&wrapped) {
        Verdict::Agree(steps) => steps.iter().map(|s| s.outcome.clone()).collect(),
        Verdict::Known { outcomes, .. } | Verdict::Diverges(outcomes) => {
            panic!("backends diverge:\n{}", Verdict::table(&outcomes))
        }
        Verdict::Skipped(why) => panic!("skipped: {why}"),
    }
}

/// wasmtime 48 charges fuel for initializing a passive or declared element segment; a
/// new store has none, so wasmtime-core failed every such module with the CPU limit
/// while preparing it.
#[test]
fn passive_element_segments_instantiate_everywhere() {
    let steps = run(r#"(module
        (memory 1)
        (func $f (result i32) i32.const 7)
        (elem func $f)
        (elem declare func $f))"#);
    assert_eq!(steps[0], "prepare: ok");
    assert!(
        steps[1].starts_with("f0: ok \"0000000000000007 "),
        "{}",
        steps[1]
    );
}

/// A growth past 4 GiB fails by the spec, whatever the limit: wasmi does not ask its
/// limiter, wasmtime and wasmer did, and reported the trap that followed as the memory
/// limit.
#[test]
fn a_growth_past_4_gib_is_not_the_memory_limit() {
    let steps = run(r#"(module
        (memory 1)
        (func (result i32)
            (drop (memory.grow (i32.const 0x7fffffff)))
            (i32.load (i32.const 0x7fffffff))))"#);
    assert!(
        steps[1].starts_with("f0: trap:memory-out-of-bounds"),
        "{}",
        steps[1]
    );
}

/// Within the limit's reach, the refusal still explains the trap, on every backend.
#[test]
fn a_refused_growth_explains_the_trap_that_follows() {
    let steps = run(r#"(module
        (memory 1)
        (func (result i32)
            (drop (memory.grow (i32.const 10)))
            (i32.load (i32.const 0x7fffffff))))"#);
    assert!(
        steps[1].starts_with("f0: limit-exceeded:memory 720896/262144"),
        "{}",
        steps[1]
    );
}

/// Deterministic fuel counts the whole guest call, argument lowering included, once:
/// wasmer counted the allocations twice and wasmtime-core reported nothing. The
/// comparison of meters in `run_wrapped` checks it; this pins a call with arguments
/// and results.
#[test]
fn fuel_counts_agree_with_arguments_lowered() {
    let steps = run(r#"(module
        (memory 1)
        (func (param i32 i64) (result i64)
            (i64.add (i64.extend_i32_u (local.get 0)) (local.get 1))))"#);
    assert!(steps[1].starts_with("f0: ok "), "{}", steps[1]);
}

/// `externref` is refused by validation on every backend (wasmtime, built without its
/// `gc` feature, refused it with an engine error while the others ran it).
#[test]
fn externref_is_refused_alike() {
    let steps = run(r#"(module
        (memory 1)
        (func (param externref) (result i32) i32.const 1))"#);
    assert!(
        steps[0].starts_with("prepare: invalid-module:"),
        "{}",
        steps[0]
    );
    assert!(
        steps[0].contains("Morph refuses `externref`"),
        "{}",
        steps[0]
    );
}

/// An active element segment past its table's end: the other engines trap while
/// instantiating; wasmi returned an instantiation error that became an `engine` error.
#[test]
fn an_element_segment_out_of_bounds_traps_everywhere() {
    let steps = run(r#"(module
        (memory 1)
        (table 1 funcref)
        (func $f)
        (elem (i32.const 5) func $f))"#);
    assert_eq!(steps[0], "prepare: trap:table-out-of-bounds");
}
