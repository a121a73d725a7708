//! `memdump`: a test extension for the promise that a secret's value never enters guest
//! memory. Its one action fetches a URL with the secret `token` attached by the host,
//! then returns the whole of its linear memory (hex), which the test searches.

use morph_abi::host::http;
use morph_abi::{
    ActionInfo, Error, Extension, ExtensionInfo, HttpRequest, Input, Method, Output, SideEffect,
};
use serde::Deserialize;
use serde_json::json;

/// The extension; stateless.
pub struct MemDump;

#[derive(Deserialize)]
struct Fetch {
    url: String,
}

/// Every byte of linear memory but address 0, read after the call.
#[cfg(target_arch = "wasm32")]
fn memory() -> Vec<u8> {
    let size = core::arch::wasm32::memory_size(0) * 65_536;
    let mut out = Vec::with_capacity(size);
    for addr in 1..size {
        // SAFETY: every address below the memory's size is readable in wasm32; a
        // volatile read keeps the compiler from reasoning about what lives there.
        out.push(unsafe { core::ptr::read_volatile(addr as *const u8) });
    }
    out
}

#[cfg(not(target_arch = "wasm32"))]
fn memory() -> Vec<u8> {
    Vec::new()
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

impl Extension for MemDump {
    fn new() -> Self {
        MemDump
    }

    fn describe(&self) -> ExtensionInfo {
        ExtensionInfo {
            id: "memdump".into(),
            name: "Memory dump".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Fetches with a secret, then shows its whole memory.".into(),
            actions: vec![
                ActionInfo::new("fetch-and-dump", "Fetches `url` with the secret `token`.")
                    .side_effect(SideEffect::Read),
            ],
            events: vec![],
            config_schema: None,
        }
    }

    fn execute(&mut self, action: &str, input: Input<'_>) -> Result<Output, Error> {
        match action {
            "fetch-and-dump" => {
                let Fetch { url } = input.parse()?;
                let response = http::fetch(&HttpRequest {
                    method: Method::Get,
                    url,
                    headers: Vec::new(),
                    body: None,
                    secret: Some("token".into()),
                    timeout_ms: None,
                })?;
                let body = String::from_utf8_lossy(&response.body).into_owned();
                let memory = hex(&memory());
                Output::json(&json!({
                    "status": response.status,
                    "body": body,
                    "memory": memory,
                }))
            }
            other => Err(Error::unknown_action(other)),
        }
    }
}

morph_abi::export_extension!(MemDump);
