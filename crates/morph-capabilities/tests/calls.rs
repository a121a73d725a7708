//! kv, events, config, clock and random through the handler: quotas from the effective
//! grants, declared events checked against their schemas, the configuration against
//! its schema, the dry run, and an audit record for each call.
#![allow(clippy::unwrap_used)]

mod common;

use common::{EXT, cx, info, setup, setup_with};
use morph_abi::HostErrorKind;
use morph_capabilities::{AuditOutcome, Capabilities, Error};
use morph_permissions::{Decision, GrantSet, Request};
use morph_runtime::{CallContext, CallKind, HostCall, HostHandler, HostReply};
use morph_schema::SchemaErrorKind;
use morph_store::Store;
use std::sync::Arc;

fn set(key: &str, value: &[u8]) -> HostCall {
    HostCall::KvSet {
        key: key.to_owned(),
        value: value.to_vec(),
    }
}

fn get(key: &str) -> HostCall {
    HostCall::KvGet {
        key: key.to_owned(),
    }
}

#[tokio::test]
async fn kv_writes_stay_within_the_effective_quota_and_a_refused_one_writes_nothing() {
    let s = setup(&["kv-read", "kv-write:bytes=20,keys=2"], false);
    assert_eq!(s.call(set("a", &[1; 8])).await.unwrap(), HostReply::Done);
    let err = s.call(set("b", &[2; 12])).await.unwrap_err();
    assert_eq!(err.kind, HostErrorKind::LimitExceeded);
    assert_eq!(
        err.message,
        "the key-value store of `acme` would hold 22 bytes, over its quota of 20 bytes; nothing was written"
    );
    assert_eq!(s.call(get("b")).await.unwrap(), HostReply::Value(None));
    assert_eq!(
        s.call(HostCall::KvListKeys {
            prefix: String::new()
        })
        .await
        .unwrap(),
        HostReply::Keys(vec!["a".to_owned()])
    );
    assert_eq!(
        s.call(HostCall::KvDelete { key: "a".into() })
            .await
            .unwrap(),
        HostReply::Deleted(true)
    );
    assert_eq!(
        s.audit(),
        [
            "allowed kv-write key `a`",
            "failed kv-write key `b`",
            "allowed kv-read key `b`",
            "allowed kv-read keys under ``",
            "allowed kv-write key `a`",
        ]
    );
    let records = s.store.audit(EXT, 10).unwrap();
    assert_eq!(
        records[4].detail,
        "8 bytes; the store holds 9 bytes in 1 keys"
    );
    assert_eq!(records[4].version, "1.2.0");
    assert_eq!(records[4].action.as_deref(), Some("sync"));
    assert_eq!(records[3].outcome, AuditOutcome::Failed);

    // Without a kv-write grant there is no quota to write in.
    let s = setup(&["kv-read"], false);
    let err = s.call(set("a", b"x")).await.unwrap_err();
    assert_eq!(err.kind, HostErrorKind::PermissionDenied);
    assert_eq!(err.kind, HostErrorKind::PermissionDenied);
    let err = s.call(get("")).await.unwrap_err();
    assert_eq!(err.kind, HostErrorKind::InvalidArgument);
    assert_eq!(err.message, "the key `` is empty");
}

#[tokio::test]
async fn kv_data_is_there_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let granted = common::grants(&["kv-read", "kv-write"]);
    let caps_over = |store: Arc<Store>| {
        let caps = Capabilities::builder(store)
            .checker(|_: &CallContext, _: &Request| Decision::Allow)
            .build()
            .unwrap();
        caps.register(&info(&[], None), &granted).unwrap();
        caps
    };
    {
        let caps = caps_over(Arc::new(Store::open(dir.path()).unwrap()));
        caps.handle(&cx(), set("k", b"kept")).await.unwrap();
    }
    let caps = caps_over(Arc::new(Store::open(dir.path()).unwrap()));
    assert_eq!(
        caps.handle(&cx(), get("k")).await.unwrap(),
        HostReply::Value(Some(b"kept".to_vec()))
    );
}

const GREETED: &str = r#"{"type":"object","required":["who"],"properties":{"who":{"type":"string"}},"additionalProperties":false}"#;

#[tokio::test]
async fn events_are_declared_checked_and_delivered() {
    let s = setup_with(
        &["events:greeted"],
        false,
        &info(&[("greeted", GREETED)], None),
        |b| b,
    );
    let mut events = s.caps.subscribe();
    let emit = |name: &str, payload: &str| HostCall::EventsEmit {
        name: name.to_owned(),
        payload: payload.to_owned(),
    };
    assert_eq!(
        s.call(emit("greeted", r#"{"who":"Ada"}"#)).await.unwrap(),
        HostReply::Done
    );
    let event = events.recv().await.unwrap();
    assert_eq!(
        (&*event.extension, &*event.version, event.name.as_str()),
        (EXT, "1.2.0", "greeted")
    );
    assert_eq!(event.payload, serde_json::json!({"who": "Ada"}));

    let err = s.call(emit("greeted", r#"{"who":1}"#)).await.unwrap_err();
    assert_eq!(err.kind, HostErrorKind::InvalidArgument);
    assert!(
        err.message
            .starts_with("the payload of event `greeted` does not match its schema: at /who"),
        "{}",
        err.message
    );
    let err = s.call(emit("greeted", "{")).await.unwrap_err();
    assert!(err.message.contains("is not JSON"), "{}", err.message);
    let err = s.call(emit("other", "{}")).await.unwrap_err();
    assert_eq!(err.kind, HostErrorKind::PermissionDenied);
    assert_eq!(err.message, "`acme` does not declare the event `other`");
    assert!(events.try_recv().is_err(), "a refused event was delivered");
    assert_eq!(
        s.audit(),
        [
            "allowed events greeted",
            "failed events greeted",
            "failed events greeted",
            "failed events other",
        ]
    );
}

#[tokio::test]
async fn a_dry_run_reads_the_store_but_writes_and_delivers_nothing() {
    let s = setup_with(
        &["kv-read", "kv-write:keys=1", "events:greeted"],
        true,
        &info(&[("greeted", GREETED)], None),
        |b| b,
    );
    let mut events = s.caps.subscribe();
    s.store
        .kv_set(EXT, "there", b"1", morph_permissions::KvQuota::DEFAULT)
        .unwrap();
    assert_eq!(
        s.call(set("new", b"v")).await.unwrap_err().kind,
        HostErrorKind::LimitExceeded
    );
    assert_eq!(s.call(set("there", b"2")).await.unwrap(), HostReply::Done);
    assert_eq!(
        s.call(HostCall::KvDelete {
            key: "there".into()
        })
        .await
        .unwrap(),
        HostReply::Deleted(true)
    );
    assert_eq!(
        s.call(HostCall::EventsEmit {
            name: "greeted".into(),
            payload: r#"{"who":"Ada"}"#.into()
        })
        .await
        .unwrap(),
        HostReply::Done
    );
    assert!(events.try_recv().is_err(), "a dry run delivered an event");
    assert_eq!(
        s.call(get("there")).await.unwrap(),
        HostReply::Value(Some(b"1".to_vec()))
    );
    let planned: Vec<String> = s
        .caps
        .take_dry_run()
        .iter()
        .map(|r| format!("{} {}: {}", r.permission, r.target, r.detail))
        .collect();
    assert_eq!(
        planned,
        [
            "kv-write key `there`: not written: 1 bytes; the store holds 6 bytes in 1 keys",
            "kv-write key `there`: not deleted (the key exists)",
            "events greeted: not delivered: 13 bytes",
        ]
    );
}

const CONFIG_SCHEMA: &str =
    r#"{"type":"object","required":["org"],"properties":{"org":{"type":"string"}}}"#;

#[tokio::test]
async fn config_is_checked_against_its_schema_when_set_and_when_read() {
    let s = setup_with(&["config"], false, &info(&[], Some(CONFIG_SCHEMA)), |b| b);
    let err = s.call(HostCall::ConfigGet).await.unwrap_err();
    assert_eq!(err.kind, HostErrorKind::NotFound);
    assert_eq!(err.message, "no configuration is set for `acme`");

    let err = s.caps.set_config(EXT, r#"{"org":1}"#).unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("the configuration of `acme` does not match its schema: at /org"),
        "{err}"
    );
    s.caps.set_config(EXT, r#"{"org":"rust-lang"}"#).unwrap();
    assert_eq!(
        s.call(HostCall::ConfigGet).await.unwrap(),
        HostReply::Config(r#"{"org":"rust-lang"}"#.to_owned())
    );

    // Set behind the handler's back (or for an older version's schema): refused on read.
    s.store.set_config(EXT, r#"{"team":"x"}"#).unwrap();
    let err = s.call(HostCall::ConfigGet).await.unwrap_err();
    assert_eq!(err.kind, HostErrorKind::InvalidArgument);
    assert!(err.message.contains("set it again"), "{}", err.message);

    let err = s.caps.set_config("nobody", "{}").unwrap_err();
    assert_eq!(
        err.to_string(),
        "the extension `nobody` is not registered with the host's capabilities"
    );
}

#[tokio::test]
async fn clock_and_random_answer_and_random_is_bounded() {
    let s = setup(&["clock", "random"], false);
    let before = morph_store::AuditRecord::now_ms();
    let HostReply::Now(now) = s.call(HostCall::ClockNowMs).await.unwrap() else {
        panic!()
    };
    assert!(now >= before && now < before + 60_000);
    let HostReply::Bytes(a) = s.call(HostCall::RandomBytes { len: 32 }).await.unwrap() else {
        panic!()
    };
    let HostReply::Bytes(b) = s.call(HostCall::RandomBytes { len: 32 }).await.unwrap() else {
        panic!()
    };
    assert_eq!(a.len(), 32);
    assert_ne!(a, b);
    let err = s
        .call(HostCall::RandomBytes { len: 65_537 })
        .await
        .unwrap_err();
    assert_eq!(err.kind, HostErrorKind::InvalidArgument);
    assert_eq!(
        s.audit(),
        [
            "allowed clock ",
            "allowed random 32 bytes",
            "allowed random 32 bytes",
            "failed random 65537 bytes",
        ]
    );
}

#[tokio::test]
async fn an_unregistered_extension_gets_nothing_and_denials_are_recorded() {
    let s = setup(&["clock"], false);
    let stranger = CallContext {
        extension: "stranger".into(),
        kind: CallKind::Describe,
    };
    let err = s
        .caps
        .handle(&stranger, HostCall::ClockNowMs)
        .await
        .unwrap_err();
    assert_eq!(err.kind, HostErrorKind::Unavailable);
    assert_eq!(
        err.message,
        "`stranger` is not registered with this host's capabilities, which cannot perform clock.now-ms"
    );
    assert!(s.caps.unregister(EXT));
    assert!(s.call(HostCall::ClockNowMs).await.is_err());

    // The checkpoint's refusals go to the same log.
    let Decision::Deny(denial) = GrantSet::new().allows(&Request::Clock) else {
        panic!()
    };
    s.caps.record_denial(&s.cx, &denial).unwrap();
    let records = s.store.audit(EXT, 10).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].outcome, AuditOutcome::Denied);
    assert_eq!(records[0].permission, "clock");
    assert_eq!(records[0].target, "reading the clock");
    assert!(
        records[0]
            .detail
            .starts_with("`clock` does not allow reading the clock"),
        "{}",
        records[0].detail
    );
}

#[test]
fn registration_refuses_a_schema_it_cannot_compile() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let caps = Capabilities::builder(store)
        .checker(|_: &CallContext, _: &Request| Decision::Allow)
        .build()
        .unwrap();
    let err = caps
        .register(&info(&[("bad", "{")], None), &GrantSet::new())
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("event `bad` of `acme` declares a schema that is not JSON"),
        "{err}"
    );
    let err = caps
        .register(&info(&[], Some(r#"{"type":"nope"}"#)), &GrantSet::new())
        .unwrap_err();
    assert!(
        err.to_string().starts_with(
            "the configuration of `acme` declares a schema that has a bad `type` at #/type"
        ),
        "{err}"
    );
    // The same gate as morph-host's: the dialect and its cost bounds, typed.
    let err = caps
        .register(
            &info(&[("deep", r#"{"unevaluatedProperties":false}"#)], None),
            &GrantSet::new(),
        )
        .unwrap_err();
    let Error::Schema { owner, error, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(owner, "event `deep`");
    assert_eq!(error.path, "#/unevaluatedProperties");
    assert!(
        matches!(&error.kind, SchemaErrorKind::UnsupportedKeyword { keyword, .. } if keyword == "unevaluatedProperties"),
        "{error:?}"
    );
}

#[cfg(not(feature = "http"))]
#[tokio::test]
async fn without_the_http_feature_a_fetch_is_unavailable_and_recorded() {
    let s = setup(&["http:api.example.com"], false);
    let call = HostCall::HttpFetch(morph_abi::HttpRequest::get("https://api.example.com/x"));
    let err = s.call(call).await.unwrap_err();
    assert_eq!(err.kind, HostErrorKind::Unavailable);
    assert_eq!(
        err.message,
        "this host was built without HTTP (morph-capabilities' `http` feature)"
    );
    assert_eq!(s.audit(), ["failed http GET https://api.example.com/x"]);
}
