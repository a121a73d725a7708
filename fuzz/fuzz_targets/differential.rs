//! Every backend runs a wasm-smith module wrapped in the contract; they must agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use morph_fuzz::differential::{Verdict, run};

fuzz_target!(|data: &[u8]| {
    if let Verdict::Diverges(outcomes) = run(data) {
        panic!("backends diverge:\n{}", Verdict::table(&outcomes));
    }
});
