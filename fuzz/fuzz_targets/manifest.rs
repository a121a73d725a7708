//! See `morph_fuzz::manifest`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(message) = morph_fuzz::manifest::run(data) {
        panic!("{message}");
    }
});
