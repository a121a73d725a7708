//! The key-value stores' contract: one namespace per extension, the quota checked in the
//! write transaction (a refused write writes nothing), the usage always the sum of what
//! is stored, and all of it kept across a reopen and a SIGKILL mid-write.
#![allow(clippy::unwrap_used)]

mod common;

use morph_permissions::KvQuota;
use morph_store::{KvUsage, QuotaPart, Store, StoreError};
use std::time::Duration;

fn quota(bytes: u64, keys: u64) -> KvQuota {
    KvQuota::new(bytes, keys).unwrap()
}

const BIG: KvQuota = KvQuota::DEFAULT;

#[test]
fn namespaces_are_per_extension_and_keys_list_by_prefix_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.kv_set("a", "user/2", b"two", BIG).unwrap();
    store.kv_set("a", "user/1", b"one", BIG).unwrap();
    store.kv_set("a", "users", b"x", BIG).unwrap();
    store.kv_set("a", "v", b"y", BIG).unwrap();
    store.kv_set("ab", "user/9", b"other", BIG).unwrap();

    assert_eq!(
        store.kv_get("a", "user/1").unwrap().as_deref(),
        Some(&b"one"[..])
    );
    assert_eq!(store.kv_get("b", "user/1").unwrap(), None);
    assert_eq!(
        store.kv_list_keys("a", "user/").unwrap(),
        ["user/1", "user/2"]
    );
    assert_eq!(
        store.kv_list_keys("a", "").unwrap(),
        ["user/1", "user/2", "users", "v"]
    );
    assert_eq!(store.kv_list_keys("ab", "").unwrap(), ["user/9"]);
    assert!(store.kv_list_keys("a", "zz").unwrap().is_empty());

    assert!(store.kv_delete("a", "user/2").unwrap());
    assert!(!store.kv_delete("a", "user/2").unwrap());
    assert_eq!(
        store.kv_usage("a").unwrap(),
        KvUsage {
            bytes: (6 + 3) + (5 + 1) + (1 + 1),
            keys: 3
        }
    );
    assert_eq!(store.kv_clear("a").unwrap().keys, 3);
    assert_eq!(store.kv_usage("a").unwrap(), KvUsage::default());
    assert!(store.kv_list_keys("a", "").unwrap().is_empty());
    assert_eq!(store.kv_list_keys("ab", "").unwrap(), ["user/9"]);
}

#[test]
fn a_write_past_the_quota_fails_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let q = quota(20, 2);
    // "k1" + 8 bytes = 10 bytes.
    assert_eq!(
        store.kv_set("ext", "k1", &[1; 8], q).unwrap(),
        KvUsage { bytes: 10, keys: 1 }
    );

    // 10 + 2 + 9 = 21 > 20: refused, with the numbers.
    let err = store.kv_set("ext", "k2", &[2; 9], q).unwrap_err();
    match &err {
        StoreError::QuotaExceeded {
            extension,
            what,
            used,
            max,
        } => assert_eq!(
            (extension.as_str(), *what, *used, *max),
            ("ext", QuotaPart::Bytes, 21, 20)
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "the key-value store of `ext` would hold 21 bytes, over its quota of 20 bytes; nothing was written"
    );
    assert_eq!(store.kv_get("ext", "k2").unwrap(), None);
    assert_eq!(
        store.kv_usage("ext").unwrap(),
        KvUsage { bytes: 10, keys: 1 }
    );

    // Replacing a value counts the difference only.
    store.kv_set("ext", "k1", &[3; 18], q).unwrap();
    assert_eq!(
        store.kv_usage("ext").unwrap(),
        KvUsage { bytes: 20, keys: 1 }
    );
    let err = store.kv_set("ext", "k1", &[4; 19], q).unwrap_err();
    assert!(matches!(err, StoreError::QuotaExceeded { .. }), "{err:?}");
    assert_eq!(store.kv_get("ext", "k1").unwrap().unwrap(), vec![3; 18]);

    // Keys.
    store.kv_set("ext", "k1", b"", q).unwrap();
    store.kv_set("ext", "k2", b"", q).unwrap();
    let err = store.kv_set("ext", "k3", b"", q).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::QuotaExceeded {
                what: QuotaPart::Keys,
                used: 3,
                max: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(store.kv_list_keys("ext", "").unwrap(), ["k1", "k2"]);

    // Over a lowered quota, a write that shrinks is allowed, one that grows is not.
    let low = quota(3, 2);
    store.kv_set("ext", "k1", b"", low).unwrap();
    assert!(store.kv_set("ext", "k1", b"x", low).is_err());

    // The dry-run check says the same and writes nothing either way.
    let err = store.kv_check_set("ext", "k3", b"", q).unwrap_err();
    assert!(matches!(err, StoreError::QuotaExceeded { .. }), "{err:?}");
    assert_eq!(
        store.kv_check_set("ext", "k2", b"abc", q).unwrap(),
        KvUsage { bytes: 7, keys: 2 }
    );
    assert_eq!(store.kv_get("ext", "k2").unwrap().unwrap(), b"");
}

#[test]
fn keys_and_ids_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let err = store.kv_set("ext", "", b"x", BIG).unwrap_err();
    assert_eq!(err.to_string(), "the key `` is empty");
    let long = "k\n".repeat(600);
    let err = store.kv_get("ext", &long).unwrap_err();
    let msg = err.to_string();
    assert!(msg.ends_with("...` is longer than 1024 bytes"), "{msg}");
    assert!(msg.starts_with("the key `k\\u{a}k"), "{msg}");
    assert!(!msg.contains('\n'));
    let err = store.kv_set("", "k", b"x", BIG).unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidRecord { field: "id", .. }),
        "{err:?}"
    );
}

#[test]
fn data_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store.kv_set("ext", "a", b"1", BIG).unwrap();
        store.kv_set("ext", "b", b"22", BIG).unwrap();
        store.kv_delete("ext", "a").unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.kv_get("ext", "b").unwrap().unwrap(), b"22");
    assert_eq!(store.kv_get("ext", "a").unwrap(), None);
    assert_eq!(
        store.kv_usage("ext").unwrap(),
        KvUsage { bytes: 3, keys: 1 }
    );
}

const CHILD_DIR: &str = "MORPH_STORE_KV_CHURN_DIR";
const CHURN_KEYS: u64 = 40;

/// A value whose every byte says which key and which write it belongs to, and whose
/// length varies: a torn write shows as a value that does not check.
fn churn_value(key: u64, generation: u64) -> Vec<u8> {
    let unit = format!("{key}:{generation};");
    unit.repeat(usize::try_from(1 + (generation * 7 + key) % 500).unwrap())
        .into_bytes()
}

/// Not a test on its own: the child process of the kill test. It sets and deletes keys
/// of one extension until it is killed.
#[test]
fn kv_churn_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let store = Store::open(dir).unwrap();
    let q = quota(1 << 30, 1 << 20);
    for generation in 0u64.. {
        let key = generation % CHURN_KEYS;
        let name = format!("key-{key}");
        if generation % 5 == 4 {
            store.kv_delete("churn", &name).unwrap();
        } else {
            store
                .kv_set("churn", &name, &churn_value(key, generation), q)
                .unwrap();
        }
    }
}

#[test]
fn a_store_killed_mid_write_is_consistent_on_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen_writes = false;
    for round in 0..6u64 {
        common::run_then_kill(
            "kv_churn_child",
            CHILD_DIR,
            dir.path(),
            Duration::from_millis(200 + 41 * round),
        );

        let store = Store::open(dir.path()).unwrap();
        let keys = store.kv_list_keys("churn", "").unwrap();
        let mut sum = 0u64;
        for name in &keys {
            let value = store.kv_get("churn", name).unwrap().unwrap();
            let key: u64 = name.trim_start_matches("key-").parse().unwrap();
            let text = std::str::from_utf8(&value).unwrap();
            let unit = text.split_inclusive(';').next().unwrap();
            let generation: u64 = unit
                .trim_end_matches(';')
                .split_once(':')
                .unwrap()
                .1
                .parse()
                .unwrap();
            assert_eq!(value, churn_value(key, generation), "{name} is torn");
            sum += u64::try_from(name.len() + value.len()).unwrap();
        }
        seen_writes |= !keys.is_empty();
        assert_eq!(
            store.kv_usage("churn").unwrap(),
            KvUsage {
                bytes: sum,
                keys: u64::try_from(keys.len()).unwrap()
            },
            "round {round}: the usage is not the sum of what is stored"
        );
    }
    assert!(seen_writes, "the child never committed a write");
}
