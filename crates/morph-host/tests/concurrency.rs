//! Many executions at once, on every backend: fresh guest state per call, siblings of
//! a timing-out instance unharmed, and 200 concurrent executions over 4 extensions all
//! correct.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use morph_host::{
    Backend, BoxFuture, CallContext, ExecuteOptions, Grants, Host, HostCall, HostError,
    HostHandler, HostReply, Limits, Prepared,
};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

fn module(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/extensions")
        .join(format!("{name}.wasm"));
    std::fs::read(&p).unwrap_or_else(|_| panic!("{} missing: run `cargo xtask build`", p.display()))
}

async fn prepare(backend: Backend, name: &str) -> Prepared {
    let host = Host::builder().backend(backend).build().unwrap();
    host.prepare(name, &module(name)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_execution_starts_from_fresh_guest_state_unless_a_session_keeps_it() {
    for backend in Backend::available_backends() {
        let adversary = prepare(backend, "adversary").await;
        let defaults = ExecuteOptions::default();
        for _ in 0..3 {
            let out = adversary
                .execute("remember", "{}", &defaults)
                .await
                .unwrap();
            assert_eq!(
                out.text, r#"{"before":0}"#,
                "{backend}: a call saw another's state"
            );
        }
        // A session is one instance: its calls share the guest's state, by choice.
        let mut session = adversary.instantiate().await.unwrap();
        session.execute("remember", "{}").await.unwrap();
        let second = session.execute("remember", "{}").await.unwrap();
        assert_eq!(second, r#"{"before":1}"#, "{backend}");
    }
}

/// An extension that opts in to reuse keeps its guest state between calls, on every
/// backend and for both kinds of caller; an instance that hit a limit is dropped, and a
/// call with its own limits runs on a fresh instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_that_opts_in_reuses_its_instances_but_never_a_poisoned_one() {
    for backend in Backend::available_backends() {
        let host = Host::builder()
            .backend(backend)
            .limits(Limits {
                fuel: Some(50_000_000),
                ..Limits::default()
            })
            .build()
            .unwrap();
        let fresh = host
            .prepare("adversary", &module("adversary"))
            .await
            .unwrap();
        assert!(!fresh.reuses_instances());
        let reused = fresh.with_instance_reuse(2);
        assert!(reused.reuses_instances());
        let defaults = ExecuteOptions::default();
        let remember = |p: Prepared| async move {
            p.execute("remember", "{}", &ExecuteOptions::default())
                .await
                .unwrap()
                .text
        };
        assert_eq!(
            remember(reused.clone()).await,
            r#"{"before":0}"#,
            "{backend}"
        );
        assert_eq!(
            remember(reused.clone()).await,
            r#"{"before":1}"#,
            "{backend}"
        );
        // The prepared extension it came from still starts afresh.
        assert_eq!(
            remember(fresh.clone()).await,
            r#"{"before":0}"#,
            "{backend}"
        );
        // A call with its own limits takes a fresh instance and leaves the kept one be.
        let own = ExecuteOptions::default().timeout(Duration::from_secs(5));
        let out = reused.execute("remember", "{}", &own).await.unwrap();
        assert_eq!(out.text, r#"{"before":0}"#, "{backend}");
        assert_eq!(
            remember(reused.clone()).await,
            r#"{"before":2}"#,
            "{backend}"
        );
        // A limit poisons the instance: it is dropped, the next call starts afresh.
        let spun = reused.execute("spin", "{}", &defaults).await.unwrap_err();
        assert_eq!(spun.class(), "limit-exceeded", "{backend}: {spun}");
        assert_eq!(
            remember(reused.clone()).await,
            r#"{"before":0}"#,
            "{backend}"
        );
        // A blocking caller keeps instances of its own kind.
        let blocking = reused.clone();
        // A thread of its own: a blocking call refuses to run inside the async runtime.
        let texts = std::thread::spawn(move || {
            (0..2)
                .map(|_| blocking.execute_blocking("remember", "{}", &ExecuteOptions::default()))
                .map(|r| r.unwrap().text)
                .collect::<Vec<_>>()
        })
        .join()
        .unwrap();
        assert_eq!(texts, [r#"{"before":0}"#, r#"{"before":1}"#], "{backend}");
    }
}

/// CVE-2022-39393 was wasmtime's pooling allocator handing the next instance a memory
/// slot with what the previous one wrote past its initial image. Here an instance grows
/// its memory and fills it (and a heap block) with a marker; fresh instances of the same
/// module, which a pool puts in the same slot, must find none of it, nor the grown size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_one_instance_wrote_never_reaches_the_next() {
    const MARKER: &str = "left-by-the-previous-instance-";
    let hex: String = MARKER.bytes().map(|b| format!("{b:02x}")).collect();
    let defaults = ExecuteOptions::default();
    for backend in Backend::available_backends() {
        let memdump = prepare(backend, "memdump").await;
        let fresh = memdump.execute("dump", "{}", &defaults).await.unwrap();
        let fresh: serde_json::Value = serde_json::from_str(&fresh.text).unwrap();
        for round in 0..3 {
            let input = serde_json::json!({ "pages": 4, "marker": MARKER }).to_string();
            let grown = memdump
                .execute("scribble", &input, &defaults)
                .await
                .unwrap();
            let grown: serde_json::Value = serde_json::from_str(&grown.text).unwrap();
            assert!(
                grown["pages"].as_u64() > fresh["pages"].as_u64(),
                "{backend}"
            );
            let next = memdump.execute("dump", "{}", &defaults).await.unwrap();
            let next: serde_json::Value = serde_json::from_str(&next.text).unwrap();
            assert_eq!(next["pages"], fresh["pages"], "{backend} round {round}");
            let memory = next["memory"].as_str().unwrap();
            // Hex digits pair up from the start, so an even offset is a real match.
            let found = memory.match_indices(&hex).any(|(at, _)| at % 2 == 0);
            assert!(
                !found,
                "{backend} round {round}: the marker reached a fresh instance"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sibling_from_the_same_compiled_code_never_sees_a_neighbours_timeouts() {
    for backend in Backend::available_backends() {
        let adversary = prepare(backend, "adversary").await;
        let spinning = {
            let adversary = adversary.clone();
            tokio::spawn(async move {
                let options = ExecuteOptions::default().with_limits(Limits {
                    fuel: None,
                    timeout: Duration::from_millis(50),
                    ..Limits::default()
                });
                for _ in 0..10 {
                    let e = adversary.execute("spin", "{}", &options).await.unwrap_err();
                    assert_eq!(e.detail(), "limit-exceeded:timeout", "{backend}");
                }
            })
        };
        let defaults = ExecuteOptions::default();
        let (mut runs, mut errors) = (0u32, 0u32);
        while !spinning.is_finished() || runs < 10 {
            match adversary
                .execute("work", r#"{"n":100000}"#, &defaults)
                .await
            {
                Ok(out) if out.text == format!(r#"{{"result":{}}}"#, adversary::work(100_000)) => {}
                _ => errors += 1,
            }
            runs += 1;
        }
        spinning.await.unwrap();
        assert_eq!(
            errors, 0,
            "{backend}: {errors} of {runs} sibling calls failed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_executions_over_four_extensions_are_all_correct() {
    // The busy work's answer, computed natively.
    let work = format!(r#"{{"result":{}}}"#, adversary::work(1000));
    let calls: [(&str, &str, &str, &str); 4] = [
        (
            "hello",
            "greet",
            r#"{"name":"Ada"}"#,
            r#"{"greeting":"Hello, Ada!","count":1}"#,
        ),
        ("adversary", "work", r#"{"n":1000}"#, &work),
        ("strings-latin1", "run", "{}", r#""é""#),
        ("hostcall-budget", "run", "{}", "{}"),
    ];
    for backend in Backend::available_backends() {
        let mut prepared = Vec::new();
        for (name, ..) in calls {
            prepared.push(prepare(backend, name).await);
        }
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..200 {
            let (_, action, input, want) = calls[i % 4];
            let (action, input, want) = (action.to_owned(), input.to_owned(), want.to_owned());
            let p = prepared[i % 4].clone();
            tasks.spawn(async move {
                let out = p.execute(&action, &input, &ExecuteOptions::default()).await;
                (i, out.map(|o| o.text), want)
            });
        }
        let mut done = 0;
        while let Some(joined) = tasks.join_next().await {
            let (i, out, want) = joined.unwrap();
            assert_eq!(
                out.as_deref().ok(),
                Some(want.as_str()),
                "{backend}: call {i}: {out:?}"
            );
            done += 1;
        }
        assert_eq!(done, 200, "{backend}");
    }
}

/// Answers the clock after a timer, counting the calls waiting at once.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl HostHandler for Gauge {
    fn handle<'a>(
        &'a self,
        _cx: &'a CallContext,
        _call: HostCall,
    ) -> BoxFuture<'a, Result<HostReply, HostError>> {
        Box::pin(async move {
            let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.now.fetch_sub(1, Ordering::SeqCst);
            Ok(HostReply::Now(1))
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_extension_cap_holds_executions_back_without_failing_them() {
    for backend in Backend::available_backends() {
        let gauge = Arc::new(Gauge::default());
        let host = Host::builder()
            .backend(backend)
            .handler(gauge.clone())
            .policy(Arc::new(Grants::parse(["clock"]).expect("a grant")))
            .max_concurrent_executions(2)
            .build()
            .unwrap();
        let adversary = host
            .prepare("adversary", &module("adversary"))
            .await
            .unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..12 {
            let a = adversary.clone();
            tasks.spawn(async move { a.execute("clock", "{}", &ExecuteOptions::default()).await });
        }
        while let Some(r) = tasks.join_next().await {
            assert_eq!(r.unwrap().unwrap().text, r#"{"now":1}"#, "{backend}");
        }
        let most = gauge.most.load(Ordering::SeqCst);
        assert!(
            (1..=2).contains(&most),
            "{backend}: {most} executions at once"
        );
    }
}
