//! The store's contract: versions side by side, one active, persisted, and never
//! half-written (an install that fails, or a process killed mid-install, leaves the
//! previous state).
#![allow(clippy::unwrap_used)]

mod common;

use morph_package::Digest;
use morph_store::{Record, Store, StoreError};
use std::time::Duration;

fn record(id: &str, version: &str, package: &[u8]) -> Record {
    Record {
        id: id.to_owned(),
        version: version.to_owned(),
        package_digest: Digest::of(package),
        manifest_digest: Digest::of(format!("manifest {version}").as_bytes()),
        module_digest: Digest::of(format!("module {version}").as_bytes()),
        publisher: "Acme".to_owned(),
        key_id: morph_store::UNSIGNED.to_owned(),
        installed_at: 1,
    }
}

fn package(version: &str, size: usize) -> Vec<u8> {
    let mut bytes = format!("package {version}\n").into_bytes();
    bytes.resize(size, b'x');
    bytes
}

#[test]
fn two_versions_side_by_side_one_active_and_reopen_persists() {
    let dir = tempfile::tempdir().unwrap();
    let (p1, p2) = (package("1.0.0", 100), package("1.1.0", 200));
    {
        let store = Store::open(dir.path()).unwrap();
        assert!(store.list().unwrap().is_empty());
        assert!(store.active("hello").unwrap().is_none());
        store.install(record("hello", "1.0.0", &p1), &p1).unwrap();
        store.install(record("hello", "1.1.0", &p2), &p2).unwrap();
        store.install(record("other", "0.1.0", &p1), &p1).unwrap();

        let list = store.list().unwrap();
        let ids: Vec<&str> = list.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["hello", "other"]);
        let hello = store.get("hello").unwrap().unwrap();
        let versions: Vec<&str> = hello.versions.iter().map(|r| r.version.as_str()).collect();
        assert_eq!(versions, ["1.0.0", "1.1.0"]);
        assert_eq!(hello.active.as_deref(), Some("1.1.0"));
        let (rec, bytes) = store.active("hello").unwrap().unwrap();
        assert_eq!((rec.version.as_str(), bytes), ("1.1.0", p2.clone()));

        store.set_active("hello", "1.0.0").unwrap();
        let (rec, bytes) = store.active("hello").unwrap().unwrap();
        assert_eq!((rec.version.as_str(), bytes), ("1.0.0", p1.clone()));

        let err = store.set_active("hello", "9.9.9").unwrap_err();
        assert!(matches!(err, StoreError::NoSuchVersion { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "`hello` has no installed version `9.9.9` (installed: 1.0.0, 1.1.0)"
        );
        let err = store.set_active("nope", "1.0.0").unwrap_err();
        assert_eq!(err.to_string(), "no extension `nope` is installed");
    }
    // Reopened: the same records, the same active version.
    let store = Store::open(dir.path()).unwrap();
    let (rec, _) = store.active("hello").unwrap().unwrap();
    assert_eq!(rec.version, "1.0.0");
    assert_eq!(store.list().unwrap().len(), 2);
}

#[test]
fn a_second_open_of_the_same_store_is_busy() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Store::open(dir.path()).unwrap();
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Busy { .. }), "{err:?}");
}

#[test]
fn an_install_that_fails_before_its_commit_leaves_the_previous_version() {
    let dir = tempfile::tempdir().unwrap();
    let (p1, p2) = (package("1.0.0", 100), package("2.0.0", 100));
    let store = Store::open(dir.path()).unwrap();
    store.install(record("hello", "1.0.0", &p1), &p1).unwrap();
    let err = store
        .install_with(record("hello", "2.0.0", &p2), &p2, || {
            Err(StoreError::Aborted("injected".into()))
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::Aborted(_)), "{err:?}");
    let hello = store.get("hello").unwrap().unwrap();
    assert_eq!(hello.versions.len(), 1);
    let (rec, bytes) = store.active("hello").unwrap().unwrap();
    assert_eq!((rec.version.as_str(), bytes), ("1.0.0", p1.clone()));
    // The blob written before the failed commit is garbage: purge collects it.
    assert!(store.blob_path(&Digest::of(&p2)).exists());
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.active("hello").unwrap().unwrap().0.version, "1.0.0");
    store.uninstall("hello", true).unwrap();
    assert!(!store.blob_path(&Digest::of(&p2)).exists());
    assert!(!store.blob_path(&Digest::of(&p1)).exists());
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn bytes_that_do_not_match_the_record_are_refused_and_a_changed_blob_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let p1 = package("1.0.0", 100);
    let store = Store::open(dir.path()).unwrap();
    let err = store
        .install(record("hello", "1.0.0", &p1), b"other bytes")
        .unwrap_err();
    assert!(matches!(err, StoreError::DigestMismatch { .. }), "{err:?}");
    assert!(store.list().unwrap().is_empty());

    store.install(record("hello", "1.0.0", &p1), &p1).unwrap();
    std::fs::write(store.blob_path(&Digest::of(&p1)), b"tampered").unwrap();
    let err = store.active("hello").unwrap_err();
    assert!(matches!(err, StoreError::BlobCorrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("missing or was changed on disk"));

    let err = store.install(record("", "1.0.0", &p1), &p1).unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidRecord { field: "id", .. }),
        "{err:?}"
    );
}

#[test]
fn uninstall_without_purge_keeps_blobs_and_unknown_ids_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let p1 = package("1.0.0", 100);
    let store = Store::open(dir.path()).unwrap();
    store.install(record("hello", "1.0.0", &p1), &p1).unwrap();
    let removed = store.uninstall("hello", false).unwrap();
    assert_eq!(removed.versions.len(), 1);
    assert!(store.get("hello").unwrap().is_none());
    assert!(store.blob_path(&Digest::of(&p1)).exists());
    let err = store.uninstall("hello", false).unwrap_err();
    assert_eq!(err.to_string(), "no extension `hello` is installed");
}

const CHURN_DIR: &str = "MORPH_STORE_CHURN_DIR";

/// Not a test on its own: the child process of the kill test. It installs version after
/// version of `churn` until it is killed.
#[test]
fn churn_child() {
    let Some(dir) = std::env::var_os(CHURN_DIR) else {
        return;
    };
    let store = Store::open(dir).unwrap();
    let start = store
        .get("churn")
        .unwrap()
        .map_or(0, |e| e.versions.len() as u64);
    for i in start.. {
        let version = format!("1.0.{i}");
        let bytes = package(&version, 256 * 1024);
        store
            .install(record("churn", &version, &bytes), &bytes)
            .unwrap();
    }
}

#[test]
fn a_store_killed_mid_install_keeps_every_recorded_version_and_the_active_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut last_active: Option<u64> = None;
    for round in 0..6u64 {
        common::run_then_kill(
            "churn_child",
            CHURN_DIR,
            dir.path(),
            Duration::from_millis(150 + 37 * round),
        );

        let store = Store::open(dir.path()).unwrap();
        let Some(entry) = store.get("churn").unwrap() else {
            assert!(last_active.is_none(), "the records vanished");
            continue;
        };
        for record in &entry.versions {
            let bytes = store.package(record).unwrap();
            assert_eq!(Digest::of(&bytes), record.package_digest);
            assert!(bytes.starts_with(format!("package {}\n", record.version).as_bytes()));
        }
        let (active, _) = store.active("churn").unwrap().expect("an active version");
        let n: u64 = active.version.trim_start_matches("1.0.").parse().unwrap();
        if let Some(previous) = last_active {
            assert!(
                n >= previous,
                "active went back from 1.0.{previous} to {}",
                active.version
            );
        }
        last_active = Some(n);
    }
    assert!(
        last_active.is_some_and(|n| n > 0),
        "the child never committed an install"
    );
}
