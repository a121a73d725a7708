//! The `Host` facade on every backend: host calls do not block runtime workers, dropped
//! calls are cancelled, and a stopped instance never serves another call while its
//! siblings do. Counts, not clocks: no assertion depends on how fast this machine is.

use morph_host::{
    Backend, BoxFuture, CallContext, ErrorKind, ExecuteOptions, Grants, Host, HostCall, HostError,
    HostHandler, HostReply, Limits, Prepared, Request,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

fn adversary() -> Vec<u8> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/extensions/adversary.wasm");
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}): run `cargo xtask build` first",
            path.display()
        )
    })
}

/// Answers `clock.now-ms` after a timer, counting the calls waiting at once.
#[derive(Default)]
struct Gauge {
    pending: AtomicUsize,
    peak: AtomicUsize,
    served: AtomicUsize,
    /// Advanced every millisecond by another task on the same runtime.
    ticks: AtomicUsize,
    /// Whether that task advanced while a host call waited.
    progressed: AtomicBool,
}

struct SlowClock(Arc<Gauge>);

impl HostHandler for SlowClock {
    fn handle<'a>(
        &'a self,
        _cx: &'a CallContext,
        _call: HostCall,
    ) -> BoxFuture<'a, Result<HostReply, HostError>> {
        Box::pin(async move {
            let now = self.0.pending.fetch_add(1, Ordering::SeqCst) + 1;
            self.0.peak.fetch_max(now, Ordering::SeqCst);
            let ticks = self.0.ticks.load(Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(200)).await;
            if self.0.ticks.load(Ordering::SeqCst) > ticks {
                self.0.progressed.store(true, Ordering::SeqCst);
            }
            self.0.pending.fetch_sub(1, Ordering::SeqCst);
            self.0.served.fetch_add(1, Ordering::SeqCst);
            Ok(HostReply::Now(42))
        })
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio")
}

async fn prepare(backend: Backend, gauge: Arc<Gauge>, limits: Limits) -> Prepared {
    let host = Host::builder()
        .backend(backend)
        .limits(limits)
        .handler(Arc::new(SlowClock(gauge)))
        .policy(Arc::new(Grants::parse(["clock"]).expect("a grant")))
        .build()
        .expect("host");
    host.prepare("adversary", &adversary())
        .await
        .expect("prepares")
}

/// 32 executions whose host call awaits a timer, on a 2-worker runtime: many host calls
/// wait at once (none holds a worker), and another task keeps running meanwhile.
fn host_calls_do_not_block_workers(backend: Backend, at_least: usize) {
    rt().block_on(async {
        let gauge = Arc::new(Gauge::default());
        let prepared = prepare(backend, gauge.clone(), Limits::default()).await;
        let ticker = {
            let gauge = gauge.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    gauge.ticks.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        let calls: Vec<_> = (0..32)
            .map(|_| {
                let p = prepared.clone();
                tokio::spawn(async move {
                    p.execute("clock", "{}", &ExecuteOptions::default())
                        .await
                        .map(|o| o.text)
                })
            })
            .collect();
        for call in calls {
            let out = call.await.expect("joins").expect("executes");
            assert_eq!(out, r#"{"now":42}"#);
        }
        ticker.abort();
        let peak = gauge.peak.load(Ordering::SeqCst);
        assert_eq!(gauge.served.load(Ordering::SeqCst), 32);
        assert!(
            peak >= at_least,
            "{backend}: only {peak} host calls were pending at once (want >= {at_least})"
        );
        assert!(
            gauge.progressed.load(Ordering::SeqCst),
            "{backend}: another task made no progress while host calls waited"
        );
    });
}

#[test]
fn host_calls_do_not_block_workers_on_wasmtime() {
    host_calls_do_not_block_workers(Backend::Wasmtime, 8);
    host_calls_do_not_block_workers(Backend::WasmtimeCore, 8);
}

#[test]
fn host_calls_do_not_block_workers_on_wasmi() {
    host_calls_do_not_block_workers(Backend::Wasmi, 8);
}

#[test]
fn host_calls_on_wasmer_fill_its_pool_without_blocking_workers() {
    let pool = morph_host::WASMER_MAX_CONCURRENT_CALLS.min(32);
    host_calls_do_not_block_workers(Backend::WasmerCranelift, pool);
    host_calls_do_not_block_workers(Backend::WasmerSinglepass, pool);
}

/// A dropped call stops its guest and leaves its instance unusable (`Cancelled`); a
/// trapped instance refuses further calls (`Poisoned`); siblings made from the same
/// compiled code go on serving calls either way.
#[test]
fn stopped_instances_never_serve_again_while_siblings_do() {
    for backend in Backend::available_backends() {
        rt().block_on(async {
            let limits = Limits {
                fuel: None,
                timeout: Duration::from_secs(30),
                ..Limits::default()
            };
            let prepared = prepare(backend, Arc::default(), limits).await;
            let mut spinning = prepared.instantiate().await.expect("instance");
            let mut trapping = prepared.instantiate().await.expect("instance");
            let mut sibling = prepared.instantiate().await.expect("instance");

            let cut =
                tokio::time::timeout(Duration::from_millis(100), spinning.execute("spin", "{}"))
                    .await;
            assert!(cut.is_err(), "{backend}: spin finished?");
            let e = spinning.execute("work", r#"{"n":1}"#).await.unwrap_err();
            assert!(matches!(e.kind(), ErrorKind::Cancelled), "{backend}: {e}");

            let e = trapping.execute("panic", "{}").await.unwrap_err();
            assert_eq!(e.detail(), "trap:unreachable", "{backend}");
            let e = trapping.execute("work", r#"{"n":1}"#).await.unwrap_err();
            assert!(
                matches!(e.kind(), ErrorKind::Poisoned { .. }),
                "{backend}: {e}"
            );

            for _ in 0..3 {
                let out = sibling.execute("work", r#"{"n":10}"#).await;
                assert!(out.is_ok(), "{backend}: {out:?}");
            }
            let out = prepared
                .execute("work", r#"{"n":10}"#, &ExecuteOptions::default())
                .await;
            assert!(out.is_ok(), "{backend}: {out:?}");
        });
    }
}

/// A refusal names the permission the checkpoint refused, as a value.
#[test]
fn a_refused_call_reports_the_typed_permission_on_every_backend() {
    for backend in Backend::available_backends() {
        let host = Host::builder().backend(backend).build().expect("host");
        let prepared = host
            .prepare_blocking("adversary", &adversary())
            .expect("prepares");
        let e = prepared
            .execute_blocking("clock", "{}", &ExecuteOptions::default())
            .unwrap_err();
        match e.kind() {
            ErrorKind::PermissionDenied { denial, .. } => {
                assert_eq!(denial.request(), &Request::Clock, "{backend}")
            }
            other => panic!("{backend}: {other:?}"),
        }
    }
}
