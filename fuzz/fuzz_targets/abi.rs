//! See `morph_fuzz::abi`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(message) = morph_fuzz::abi::run(data) {
        panic!("{message}");
    }
});
