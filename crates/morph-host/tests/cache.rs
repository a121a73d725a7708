//! The compiled-code cache on every backend: a second host loads what the first
//! compiled; a tampered or truncated entry is refused and compiled again; the size bound
//! evicts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use morph_host::{Backend, CacheStats, CodeCache, ExecuteOptions, Host};
use std::path::Path;

fn hello() -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/extensions/hello.wasm");
    std::fs::read(&p).unwrap_or_else(|_| panic!("{} missing: run `cargo xtask build`", p.display()))
}

/// Prepares hello on `backend` with `cache` and checks that it greets.
fn prepare_and_greet(backend: Backend, cache: &CodeCache, wasm: &[u8]) {
    let host = Host::builder()
        .backend(backend)
        .cache(cache.clone())
        .build()
        .unwrap();
    let prepared = host.prepare_blocking("hello", wasm).unwrap();
    let out = prepared
        .execute_blocking("greet", r#"{"name":"Ada"}"#, &ExecuteOptions::default())
        .unwrap();
    assert_eq!(
        out.text, r#"{"greeting":"Hello, Ada!","count":1}"#,
        "{backend}"
    );
}

fn stats(hits: u64, misses: u64, refused: u64) -> CacheStats {
    CacheStats {
        hits,
        misses,
        refused,
    }
}

#[test]
fn a_tampered_or_truncated_entry_is_refused_and_compiled_again_on_every_backend() {
    let wasm = hello();
    for backend in Backend::available_backends() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CodeCache::open(dir.path(), morph_host::DEFAULT_CACHE_BYTES).unwrap();
        prepare_and_greet(backend, &cache, &wasm);
        assert_eq!(cache.stats(), stats(0, 1, 0), "{backend}");
        // Another cache over the same folder (another process, say) loads it.
        let again = CodeCache::open(dir.path(), morph_host::DEFAULT_CACHE_BYTES).unwrap();
        prepare_and_greet(backend, &again, &wasm);
        assert_eq!(again.stats(), stats(1, 0, 0), "{backend}");

        let entries = again.entries().unwrap();
        assert_eq!(entries.len(), 1, "{backend}");
        let file = dir.path().join(format!("{}.code", entries[0].name));
        // One bit flipped in the middle of the native code.
        let mut bytes = std::fs::read(&file).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x10;
        std::fs::write(&file, &bytes).unwrap();
        prepare_and_greet(backend, &again, &wasm);
        assert_eq!(again.stats(), stats(1, 1, 1), "{backend}: flipped");
        // Truncated.
        let bytes = std::fs::read(&file).unwrap();
        std::fs::write(&file, &bytes[..bytes.len() / 3]).unwrap();
        prepare_and_greet(backend, &again, &wasm);
        assert_eq!(again.stats(), stats(1, 2, 2), "{backend}: truncated");
        // Shorter than its HMAC.
        std::fs::write(&file, b"short").unwrap();
        prepare_and_greet(backend, &again, &wasm);
        assert_eq!(again.stats(), stats(1, 3, 3), "{backend}: short");
        // Rewritten each time: now it loads again.
        prepare_and_greet(backend, &again, &wasm);
        assert_eq!(again.stats(), stats(2, 3, 3), "{backend}: rewritten");
    }
}

#[test]
fn another_key_refuses_the_entries_and_the_bound_evicts() {
    let wasm = hello();
    let backend = Backend::available_backends()[0];
    let dir = tempfile::tempdir().unwrap();
    let cache = CodeCache::open(dir.path(), morph_host::DEFAULT_CACHE_BYTES).unwrap();
    prepare_and_greet(backend, &cache, &wasm);
    // Entries written under another key (another user's cache copied here) are refused.
    std::fs::remove_file(dir.path().join("key")).unwrap();
    let other = CodeCache::open(dir.path(), morph_host::DEFAULT_CACHE_BYTES).unwrap();
    prepare_and_greet(backend, &other, &wasm);
    assert_eq!(other.stats(), stats(0, 1, 1));
    assert_eq!(other.clear().unwrap(), 1);
    assert!(other.entries().unwrap().is_empty());
    // A bound smaller than one entry keeps none.
    let tiny = CodeCache::open(dir.path(), 1).unwrap();
    prepare_and_greet(backend, &tiny, &wasm);
    assert!(tiny.entries().unwrap().is_empty());
}
