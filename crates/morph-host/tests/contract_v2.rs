//! The host functions of contract 0.2.0 performed for real, on every backend: `fs` in
//! the extension's folder (a round trip; `..`, absolute paths and symbolic links
//! refused, nothing outside touched; a dry run writes nothing), `notify` through the
//! app's notifier, and `ai` through the OpenAI-compatible adapter against a chat
//! completions server on loopback. The guest is `adversary` (`call` with `host`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use morph_capabilities::{Capabilities, OpenAiCompatible};
use morph_host::{
    Backend, ExecuteOptions, Grant, GrantSet, Host, HostError, Notification, Prepared,
};
use morph_store::Store;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::{Arc, Mutex};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn adversary() -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/extensions/adversary.wasm");
    std::fs::read(&p).unwrap_or_else(|_| panic!("{} missing: run `cargo xtask build`", p.display()))
}

fn grants(list: &[&str]) -> GrantSet {
    list.iter().map(|g| g.parse::<Grant>().unwrap()).collect()
}

/// Runs `call` with `host` and returns the action's output, or its error's class.
async fn call(prepared: &Prepared, host: &str) -> Value {
    let input = json!({ "host": host }).to_string();
    match prepared
        .execute("call", &input, &ExecuteOptions::default())
        .await
    {
        Ok(out) => serde_json::from_str(&out.text).unwrap(),
        Err(e) => json!({ "error": e.class() }),
    }
}

async fn prepare(backend: Backend, caps: &Capabilities, granted: &[&str]) -> Prepared {
    let host = Host::builder()
        .backend(backend)
        .capabilities(caps.clone())
        .build()
        .unwrap();
    let prepared = host.prepare("adversary", &adversary()).await.unwrap();
    assert_eq!(prepared.contract(), "0.2.0");
    caps.register(prepared.info(), &grants(granted)).unwrap();
    prepared
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_stay_in_the_extensions_folder_on_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("notes.txt"), b"not yours").unwrap();
    let store = Arc::new(Store::open(dir.path().join("store")).unwrap());
    let caps = Capabilities::builder(store).files(&files).build().unwrap();
    let ws = files.join("adversary").join("ws");
    for backend in Backend::available_backends() {
        let _ = std::fs::remove_dir_all(files.join("adversary"));
        let p = prepare(backend, &caps, &["fs-read:ws", "fs-write:ws"]).await;
        // A round trip through the real folder.
        assert_eq!(
            call(&p, "fs-read").await,
            json!({"host_error": "not-found"}),
            "{backend}"
        );
        assert_eq!(call(&p, "fs-write").await, json!({"ok": true}), "{backend}");
        assert_eq!(
            std::fs::read(ws.join("notes.txt")).unwrap(),
            b"noted",
            "{backend}"
        );
        assert_eq!(
            call(&p, "fs-read").await,
            json!({"ok": "noted"}),
            "{backend}"
        );
        assert_eq!(
            call(&p, "fs-list").await,
            json!({"ok": ["notes.txt"]}),
            "{backend}"
        );
        assert_eq!(
            call(&p, "fs-remove").await,
            json!({"ok": true}),
            "{backend}"
        );
        assert_eq!(
            call(&p, "fs-remove").await,
            json!({"ok": false}),
            "{backend}"
        );
        // `..` and absolute paths never reach the filesystem.
        for escape in ["fs-escape", "fs-absolute"] {
            let v = call(&p, escape).await;
            assert_eq!(
                v,
                json!({"host_error": "invalid-argument"}),
                "{backend} {escape}"
            );
        }
        // A symbolic link on the way is refused, to read and to write.
        std::fs::remove_dir_all(&ws).unwrap();
        std::os::unix::fs::symlink(&outside, &ws).unwrap();
        for op in ["fs-read", "fs-write", "fs-list", "fs-remove"] {
            let v = call(&p, op).await;
            assert_eq!(
                v,
                json!({"host_error": "invalid-argument"}),
                "{backend} {op}"
            );
        }
        std::fs::remove_file(&ws).unwrap();
        std::fs::create_dir_all(&ws).unwrap();
        std::os::unix::fs::symlink(outside.join("notes.txt"), ws.join("notes.txt")).unwrap();
        for op in ["fs-read", "fs-write"] {
            let v = call(&p, op).await;
            assert_eq!(
                v,
                json!({"host_error": "invalid-argument"}),
                "{backend} {op}"
            );
        }
        assert_eq!(
            std::fs::read(outside.join("notes.txt")).unwrap(),
            b"not yours"
        );
        // Without the grant for the directory, refused before any of that.
        let p = prepare(backend, &caps, &["fs-read:other"]).await;
        let v = call(&p, "fs-read").await;
        assert_eq!(v, json!({"error": "permission-denied"}), "{backend}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_writes_no_file_and_shows_no_notification() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let shown = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&shown);
    let caps = Capabilities::builder(store)
        .dry_run(true)
        .notifier(move |_: &str, n: &Notification| -> Result<(), HostError> {
            seen.lock().unwrap().push(n.clone());
            Ok(())
        })
        .build()
        .unwrap();
    let p = prepare(
        Backend::available_backends()[0],
        &caps,
        &["fs-write:ws", "notify"],
    )
    .await;
    assert_eq!(call(&p, "fs-write").await, json!({"ok": true}));
    assert_eq!(call(&p, "notify").await, json!({"ok": true}));
    assert!(!dir.path().join("files/adversary/ws").exists());
    assert!(shown.lock().unwrap().is_empty());
    let planned = caps.take_dry_run();
    let what: Vec<_> = planned
        .iter()
        .map(|r| (r.permission.as_str(), r.target.as_str()))
        .collect();
    assert_eq!(what, [("fs-write", "ws/notes.txt"), ("notify", "`Synced`")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_reach_the_apps_notifier_on_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let shown = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&shown);
    let caps = Capabilities::builder(Arc::clone(&store))
        .notifier(
            move |from: &str, n: &Notification| -> Result<(), HostError> {
                seen.lock().unwrap().push((from.to_owned(), n.clone()));
                Ok(())
            },
        )
        .build()
        .unwrap();
    for backend in Backend::available_backends() {
        let p = prepare(backend, &caps, &["notify"]).await;
        assert_eq!(call(&p, "notify").await, json!({"ok": true}), "{backend}");
    }
    let shown = shown.lock().unwrap().clone();
    assert_eq!(shown.len(), Backend::available_backends().len());
    for (from, n) in shown.iter() {
        assert_eq!(from, "adversary");
        assert_eq!((n.title.as_str(), n.body.as_str()), ("Synced", "3 issues"));
        assert_eq!(n.urgency, morph_host::Urgency::High);
    }
    // Audited, allowed, with the title as target.
    let audit = store.audit("adversary", 100).unwrap();
    assert!(
        audit
            .iter()
            .any(|r| r.permission == "notify" && r.target == "`Synced`")
    );
    // Without a notifier the app shows nothing, and the guest is told.
    let caps = Capabilities::builder(store).build().unwrap();
    let p = prepare(Backend::available_backends()[0], &caps, &["notify"]).await;
    assert_eq!(
        call(&p, "notify").await,
        json!({"host_error": "unavailable"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_is_asked_through_an_openai_compatible_server_on_every_backend() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", "Bearer host-key-1"))
        .and(body_partial_json(json!({
            "model": "local-model",
            "max_tokens": 16,
            "messages": [
                {"role": "system", "content": "Answer in one word."},
                {"role": "user", "content": "Say hi"}
            ]
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "local-model-2026",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": "Hi"},
                "finish_reason": "stop"
            }],
            "usage": {"prompt_tokens": 12, "completion_tokens": 1, "total_tokens": 13}
        })))
        .mount(&server)
        .await;
    let ai = OpenAiCompatible::new(&format!("{}/v1", server.uri()), "local-model")
        .unwrap()
        .api_key("host-key-1");
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let caps = Capabilities::builder(store).ai(ai).build().unwrap();
    for backend in Backend::available_backends() {
        let p = prepare(backend, &caps, &["ai"]).await;
        let v = call(&p, "ai").await;
        assert_eq!(
            v,
            json!({"ok": {"content": "Hi", "model": "local-model-2026"}}),
            "{backend}"
        );
        // The host's key is nowhere the guest can see.
        assert!(!v.to_string().contains("host-key-1"));
    }
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), Backend::available_backends().len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_model_service_is_unavailable_not_a_crash() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429).set_body_json(json!({"error": {"message": "slow down"}})),
        )
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let ai = OpenAiCompatible::new(&server.uri(), "m").unwrap();
    let caps = Capabilities::builder(store).ai(ai).build().unwrap();
    let p = prepare(Backend::available_backends()[0], &caps, &["ai"]).await;
    assert_eq!(call(&p, "ai").await, json!({"host_error": "unavailable"}));
    assert!(OpenAiCompatible::new("ftp://x", "m").is_err());
}
