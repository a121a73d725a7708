//! Test scaffolding every backend's test suite shares, included with
//! `#[path = "../../morph-runtime/tests/support/backend.rs"] mod support;`: blocking
//! calls on an instance (over the including suite's own `block_on`, whose runtime flavour
//! the backend needs), and two host handlers. Declarative, but kept once.

#![allow(dead_code)]

use morph_abi::{ExtensionInfo, HostError, HostErrorKind, SideEffect};
use morph_runtime::{
    BoxFuture, CallContext, Error, ExecuteCall, HostCall, HostHandler, HostReply, Instance,
    SyncHostHandler,
};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The contract's `log.log` import, as wit-bindgen lowers it.
pub(crate) const LOG: &str =
    r#"(import "morph:extension/log@0.1.0" "log" (func $log (param i32 i32 i32)))"#;

/// An `execute` of `action` with `input`, declared free of side effects.
pub(crate) fn call<'a>(action: &'a str, input: &'a str) -> ExecuteCall<'a> {
    ExecuteCall {
        action,
        input,
        side_effect: SideEffect::None,
    }
}

/// Blocking calls on an instance, so that test bodies read like the calls they make.
pub(crate) trait BlockingCalls {
    fn describe_blocking(&mut self) -> Result<ExtensionInfo, Error>;
    fn execute_blocking(&mut self, action: &str, input: &str) -> Result<String, Error>;
}

impl BlockingCalls for Box<dyn Instance> {
    fn describe_blocking(&mut self) -> Result<ExtensionInfo, Error> {
        super::block_on(self.describe())
    }
    fn execute_blocking(&mut self, action: &str, input: &str) -> Result<String, Error> {
        super::block_on(self.execute(call(action, input)))
    }
}

/// Answers `kv.get` with "no such key", and nothing else.
pub(crate) struct EmptyKv;

impl SyncHostHandler for EmptyKv {
    fn handle(&self, _: &CallContext, call: HostCall) -> Result<HostReply, HostError> {
        match call {
            HostCall::KvGet { .. } => Ok(HostReply::Value(None)),
            other => Err(HostError::new(
                HostErrorKind::Unavailable,
                format!("the test host does not provide {}", other.func().name()),
            )),
        }
    }
}

/// The clock value [`SlowClock`] answers.
pub(crate) const NOW_MS: u64 = 1_234_567_890_123;

/// A handler that awaits a tokio timer before it reads a (fixed) clock.
#[derive(Default)]
pub(crate) struct SlowClock {
    pub(crate) answered: AtomicU32,
}

impl HostHandler for SlowClock {
    fn handle<'a>(
        &'a self,
        _: &'a CallContext,
        call: HostCall,
    ) -> BoxFuture<'a, Result<HostReply, HostError>> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            self.answered.fetch_add(1, Ordering::SeqCst);
            match call {
                HostCall::ClockNowMs => Ok(HostReply::Now(NOW_MS)),
                other => Err(HostError::new(
                    HostErrorKind::Unavailable,
                    format!("the test host does not provide {}", other.func().name()),
                )),
            }
        })
    }
}
