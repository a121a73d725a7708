//! `memdump`: a test extension for what guest memory holds. `fetch-and-dump` fetches a
//! URL with the secret `token` attached by the host, then returns the whole of its
//! linear memory (hex), which the test searches for the secret. `scribble` grows memory
//! and fills what it can reach with a marker; `dump` returns the memory of a fresh
//! instance: nothing one instance wrote may reach the next (pooled memory slots).

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

#[derive(Deserialize)]
struct Scribble {
    /// Pages to grow memory by.
    pages: u32,
    /// What to fill memory with.
    marker: String,
}

/// Grows memory by `pages` and fills the new pages and a leaked heap block with
/// `marker`; returns the memory's size in pages.
#[cfg(target_arch = "wasm32")]
fn scribble(pages: u32, marker: &[u8]) -> usize {
    let before = core::arch::wasm32::memory_grow(0, pages as usize);
    let after = core::arch::wasm32::memory_size(0);
    if before != usize::MAX && !marker.is_empty() {
        for addr in (before * 65_536..after * 65_536).step_by(marker.len()) {
            for (i, b) in marker.iter().enumerate() {
                if addr + i < after * 65_536 {
                    // SAFETY: the pages were just grown for this and nothing else uses them.
                    unsafe { core::ptr::write_volatile((addr + i) as *mut u8, *b) };
                }
            }
        }
    }
    let heap: Vec<u8> = marker.iter().copied().cycle().take(64 * 1024).collect();
    core::mem::forget(heap);
    after
}

#[cfg(not(target_arch = "wasm32"))]
fn scribble(_: u32, _: &[u8]) -> usize {
    0
}

#[cfg(target_arch = "wasm32")]
fn pages() -> usize {
    core::arch::wasm32::memory_size(0)
}

#[cfg(not(target_arch = "wasm32"))]
fn pages() -> usize {
    0
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
                ActionInfo::new(
                    "scribble",
                    "Grows memory by `pages` and fills it with `marker`.",
                )
                .side_effect(SideEffect::None),
                ActionInfo::new("dump", "Returns the whole of linear memory.")
                    .side_effect(SideEffect::None),
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
            "scribble" => {
                let Scribble { pages, marker } = input.parse()?;
                Output::json(&json!({ "pages": scribble(pages, marker.as_bytes()) }))
            }
            "dump" => Output::json(&json!({ "pages": pages(), "memory": hex(&memory()) })),
            other => Err(Error::unknown_action(other)),
        }
    }
}

morph_abi::export_extension!(MemDump);
