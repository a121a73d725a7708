//! `adversary`: a Rust extension that misbehaves on purpose, one action per misdeed.
//! The conformance suite runs every action on every backend and expects the same error
//! everywhere, and a healthy host afterwards.
//!
//! Cases Rust cannot express deterministically (a start function, a bad pointer handed
//! back, invalid UTF-8, recursion that overflows the engine's stack rather than Rust's
//! shadow stack in linear memory) live as WAT in `extensions/wat/`.

use morph_abi::host::{clock, log, random};
use morph_abi::{ActionInfo, Error, Extension, ExtensionInfo, Input, Output, SideEffect};
use serde::Deserialize;
use serde_json::json;
use std::hint::black_box;

/// The extension; stateless.
pub struct Adversary;

#[derive(Deserialize)]
struct Count {
    n: u64,
}

/// Busy work the host cannot skip: `n` rounds of xorshift.
pub fn work(n: u64) -> u64 {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}

fn action(name: &str, description: &str) -> ActionInfo {
    ActionInfo::new(name, description).side_effect(SideEffect::None)
}

impl Extension for Adversary {
    fn new() -> Self {
        Adversary
    }

    fn describe(&self) -> ExtensionInfo {
        ExtensionInfo {
            id: "adversary".into(),
            name: "Adversary".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Misbehaves on purpose, for the conformance suite.".into(),
            actions: vec![
                action("spin", "Loops forever."),
                action("work", "Does n rounds of busy work and returns the result.").input_schema(
                    json!({"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}, "required": ["n"]}),
                ),
                action("hog", "Allocates memory until it runs out."),
                action("panic", "Panics."),
                action("unreachable", "Executes `unreachable`."),
                action("huge-output", "Returns n MiB of output.").input_schema(
                    json!({"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}, "required": ["n"]}),
                ),
                action("storm", "Makes n host calls.").input_schema(
                    json!({"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}, "required": ["n"]}),
                ),
                action("clock", "Reads the clock, which needs a permission.").side_effect(SideEffect::Read),
                action("random", "Reads 16 random bytes, which needs a permission.")
                    .side_effect(SideEffect::Read),
                action("bad-output", "Returns text that is not JSON."),
            ],
            events: vec![],
            config_schema: None,
        }
    }

    fn execute(&mut self, action: &str, input: Input<'_>) -> Result<Output, Error> {
        match action {
            "spin" => {
                let mut x = 0u64;
                loop {
                    x = black_box(x.wrapping_add(1));
                }
            }
            "work" => {
                let Count { n } = input.parse()?;
                Output::json(&json!({ "result": work(n) }))
            }
            "hog" => {
                let mut chunks: Vec<Vec<u8>> = Vec::new();
                loop {
                    let mut chunk = vec![0u8; 1 << 20];
                    chunk[0] = 1;
                    chunks.push(black_box(chunk));
                }
            }
            "panic" => panic!("the adversary panics on purpose"),
            "unreachable" => {
                #[cfg(target_arch = "wasm32")]
                core::arch::wasm32::unreachable();
                #[cfg(not(target_arch = "wasm32"))]
                unreachable!("native stand-in for wasm `unreachable`");
            }
            "huge-output" => {
                let Count { n } = input.parse()?;
                let text = "x".repeat((n as usize) << 20);
                Output::json(&text)
            }
            "storm" => {
                let Count { n } = input.parse()?;
                for i in 0..n {
                    log::log(
                        morph_abi::LogLevel::Trace,
                        if i % 2 == 0 { "tick" } else { "tock" },
                    );
                }
                Output::json(&json!({ "calls": n }))
            }
            "clock" => {
                let now = clock::now_ms()?;
                Output::json(&json!({ "now": now }))
            }
            "random" => {
                let bytes = random::bytes(16)?;
                Output::json(&json!({ "len": bytes.len() }))
            }
            "bad-output" => Ok(Output::raw("this is not JSON")),
            other => Err(Error::unknown_action(other)),
        }
    }
}

morph_abi::export_extension!(Adversary);
