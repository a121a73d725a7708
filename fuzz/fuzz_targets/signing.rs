//! See `morph_fuzz::signing`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(message) = morph_fuzz::signing::run(data) {
        panic!("{message}");
    }
});
