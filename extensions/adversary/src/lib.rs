//! `adversary`: a Rust extension that misbehaves on purpose, one action per misdeed.
//! The conformance suite runs every action on every backend and expects the same error
//! everywhere, and a healthy host afterwards.
//!
//! Cases Rust cannot express deterministically (a start function, a bad pointer handed
//! back, invalid UTF-8, recursion that overflows the engine's stack rather than Rust's
//! shadow stack in linear memory) live as WAT in `extensions/wat/`.

use morph_abi::host::{ai, clock, config, events, fs, http, kv, log, notify, random};
use morph_abi::{
    ActionInfo, CompletionRequest, Error, EventInfo, Extension, ExtensionInfo, HostError,
    HostErrorKind, HttpRequest, Input, Message, Method, Notification, Output, Role, SideEffect,
    Urgency,
};
use serde::Deserialize;
use serde_json::json;
use std::hint::black_box;

/// The extension; stateless but for [`CALLS`].
pub struct Adversary;

/// Calls served by this instance: what a call finds of the previous call's state.
static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

#[derive(Deserialize)]
struct Count {
    n: u64,
}

#[derive(Deserialize)]
struct Call {
    host: String,
}

/// Makes the host call `host` names, as an extension would: a refusal fails the action
/// (`permission-denied`, which the host reports with the permission it refused); any
/// other host error, and what the call answered, are the output.
fn call(host: &str) -> Result<Output, Error> {
    let request = |secret: Option<&str>| HttpRequest {
        method: Method::Get,
        url: "https://api.example.com/items".into(),
        headers: Vec::new(),
        body: None,
        secret: secret.map(str::to_owned),
        timeout_ms: None,
    };
    let answered: Result<serde_json::Value, HostError> = match host {
        "http" => http::fetch(&request(None)).map(|r| json!(r.status)),
        "http-secret" => http::fetch(&request(Some("token"))).map(|r| json!(r.status)),
        "kv-get" => kv::get("k").map(|v| json!(v.is_some())),
        "kv-set" => kv::set("k", b"v").map(|()| json!(true)),
        "events" => events::emit("noted", "{}").map(|()| json!(true)),
        "config" => config::get().map(|c| json!(c)),
        "clock" => clock::now_ms().map(|t| json!(t)),
        "random" => random::bytes(4).map(|b| json!(b)),
        "fs-read" => fs::read("ws/notes.txt").map(|d| json!(String::from_utf8_lossy(&d))),
        "fs-list" => fs::list_dir("ws").map(|names| json!(names)),
        "fs-write" => fs::write("ws/notes.txt", b"noted").map(|()| json!(true)),
        "fs-remove" => fs::remove("ws/notes.txt").map(|r| json!(r)),
        "fs-escape" => fs::read("ws/../../etc/passwd").map(|d| json!(d.len())),
        "fs-absolute" => fs::read("/etc/passwd").map(|d| json!(d.len())),
        "notify" => notify::send(&Notification {
            title: "Synced".into(),
            body: "3 issues".into(),
            urgency: Urgency::High,
        })
        .map(|()| json!(true)),
        "ai" => ai::complete(&CompletionRequest {
            messages: vec![
                Message::new(Role::System, "Answer in one word."),
                Message::new(Role::User, "Say hi"),
            ],
            max_tokens: Some(16),
        })
        .map(|c| json!({ "content": c.content, "model": c.model })),
        other => return Err(Error::invalid_input(format!("no host call `{other}`"))),
    };
    match answered {
        Ok(value) => Output::json(&json!({ "ok": value })),
        Err(e) if e.kind == HostErrorKind::PermissionDenied => Err(e.into()),
        Err(e) => Output::json(&json!({ "host_error": e.kind.as_str() })),
    }
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
                action("call", "Makes one host call, named by `host`.").side_effect(SideEffect::Write),
                action("wipe", "Does nothing, but declares itself destructive.")
                    .side_effect(SideEffect::Destructive),
                action("remember", "Counts the calls this instance served before this one."),
            ],
            events: vec![EventInfo::new("noted", "Something was noted.", json!({}))],
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
            "call" => call(&input.parse::<Call>()?.host),
            "wipe" => Output::json(&json!({ "wiped": true })),
            "remember" => {
                let before = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Output::json(&json!({ "before": before }))
            }
            other => Err(Error::unknown_action(other)),
        }
    }
}

morph_abi::export_extension!(Adversary);
