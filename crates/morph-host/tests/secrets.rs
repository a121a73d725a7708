//! A secret's value never enters guest memory, on every backend: `memdump` fetches from a
//! loopback server with the secret `token` attached by the host (a server that echoes the
//! credentials back, in a header and in the body), then returns its whole linear memory;
//! the token, its base64 and the header holding it appear nowhere in it, while the server
//! did receive them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use morph_capabilities::Capabilities;
use morph_host::{Backend, ExecuteOptions, Grant, GrantSet, Host, Limits};
use morph_store::{SecretBinding, SecretForm, Store};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TOKEN: &str = "tok_secret_9Zr4Wq7Xe2Lm8Pv5";

/// Answers with the credentials it received: a careless or hostile service.
struct Echo;

impl Respond for Echo {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let auth = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        ResponseTemplate::new(200)
            .insert_header("x-echo", auth.as_str())
            .set_body_string(format!("you sent {auth}"))
    }
}

fn hex_decode(hex: &str) -> Vec<u8> {
    hex.as_bytes()
        .chunks_exact(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_never_enters_guest_memory_on_any_backend() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/items"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(Echo)
        .mount(&server)
        .await;
    let wasm_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/extensions/memdump.wasm");
    let wasm = std::fs::read(&wasm_path)
        .unwrap_or_else(|_| panic!("{} missing: run `cargo xtask build`", wasm_path.display()));
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let binding = SecretBinding {
        hosts: ["127.0.0.1".parse().unwrap()].into_iter().collect(),
        form: SecretForm::Bearer,
    };
    store.set_secret("token", TOKEN, &binding).unwrap();
    let grants: GrantSet = [
        format!("http:GET {}/items", server.uri()),
        "secret:token@127.0.0.1".to_owned(),
    ]
    .iter()
    .map(|g| g.parse::<Grant>().unwrap())
    .collect();
    let caps = Capabilities::builder(store).build().unwrap();
    let limits = Limits {
        max_output_bytes: 64 << 20,
        ..Limits::default()
    };
    let base64 = base64::engine::general_purpose::STANDARD.encode(TOKEN);
    let input = serde_json::json!({ "url": format!("{}/items", server.uri()) }).to_string();
    for backend in Backend::available_backends() {
        let host = Host::builder()
            .backend(backend)
            .limits(limits.clone())
            .capabilities(caps.clone())
            .build()
            .unwrap();
        let prepared = host.prepare("memdump", &wasm).await.unwrap();
        caps.register(prepared.info(), &grants).unwrap();
        let out = prepared
            .execute("fetch-and-dump", &input, &ExecuteOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{backend}: {e}"));
        let v: Value = serde_json::from_str(&out.text).unwrap();
        assert_eq!(v["status"], 200, "{backend}");
        // The echo came back scrubbed.
        let body = v["body"].as_str().unwrap();
        assert!(body.starts_with("you sent Bearer "), "{backend}: {body}");
        let memory = hex_decode(v["memory"].as_str().unwrap());
        assert!(memory.len() > 1 << 16, "{backend}: {} bytes", memory.len());
        for needle in [TOKEN, base64.as_str()] {
            assert!(
                !contains(&memory, needle.as_bytes()),
                "{backend}: `{needle}` is in guest memory"
            );
            assert!(!out.text.contains(needle), "{backend}: in the output");
        }
    }
    // The service did get the token, every time.
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), Backend::available_backends().len());
}
