//! Grants, configuration, secrets and the audit log in the one store file, and that file
//! private to its owner.
#![allow(clippy::unwrap_used)]

use morph_permissions::{Grant, GrantSet, Host, HostPattern};
use morph_store::{
    AuditOutcome, AuditRecord, MAX_AUDIT_FIELD_LEN, SecretBinding, SecretForm, Store, StoreError,
};
use std::collections::BTreeSet;

fn grants(texts: &[&str]) -> GrantSet {
    texts.iter().map(|t| t.parse::<Grant>().unwrap()).collect()
}

fn hosts(texts: &[&str]) -> BTreeSet<HostPattern> {
    texts.iter().map(|t| t.parse().unwrap()).collect()
}

#[test]
fn grants_are_kept_per_extension_and_changed_atomically() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        assert!(store.grants("gh").unwrap().is_empty());
        store
            .set_grants("gh", &grants(&["http:GET api.github.com", "clock"]))
            .unwrap();
        let added = store
            .update_grants("gh", |g| g.insert("kv-write:keys=5".parse().unwrap()))
            .unwrap();
        assert!(added);
        assert!(store.grants("other").unwrap().is_empty());
    }
    let store = Store::open(dir.path()).unwrap();
    let got: Vec<String> = store
        .grants("gh")
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        got,
        [
            "http:GET https://api.github.com",
            "kv-write:bytes=1MiB,keys=5",
            "clock"
        ]
    );
    assert_eq!(store.remove_grants("gh").unwrap().len(), 3);
    assert!(store.grants("gh").unwrap().is_empty());
}

#[test]
fn config_must_be_json_and_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.config("gh").unwrap(), None);
    let err = store.set_config("gh", "{not json").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("the configuration of `gh` is refused: it is not JSON"),
        "{err}"
    );
    store.set_config("gh", r#"{"org":"rust-lang"}"#).unwrap();
    assert_eq!(
        store.config("gh").unwrap().as_deref(),
        Some(r#"{"org":"rust-lang"}"#)
    );
    assert!(store.remove_config("gh").unwrap());
    assert!(!store.remove_config("gh").unwrap());
}

#[test]
fn secrets_keep_their_binding_and_never_show_their_value() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let binding = SecretBinding {
        hosts: hosts(&["*.atlassian.net", "jira.example.com"]),
        form: SecretForm::Basic {
            user: "me@example.com".into(),
        },
    };
    store
        .set_secret("JIRA_TOKEN", "tok-s3cr3t-value", &binding)
        .unwrap();
    let secret = store.secret("JIRA_TOKEN").unwrap().unwrap();
    assert_eq!(secret.value.expose(), "tok-s3cr3t-value");
    assert_eq!(secret.binding, binding);
    assert!(
        secret
            .binding
            .allows(&Host::parse("acme.atlassian.net").unwrap())
    );
    assert!(
        !secret
            .binding
            .allows(&Host::parse("atlassian.net").unwrap())
    );
    let shown = format!("{secret:?} {:?}", store.secrets().unwrap());
    assert!(shown.contains("[redacted]"), "{shown}");
    assert!(!shown.contains("s3cr3t"), "{shown}");

    // A header name is folded to lower case.
    store
        .set_secret(
            "KEY",
            "k-123456",
            &SecretBinding {
                hosts: hosts(&["api.example.com"]),
                form: SecretForm::Header {
                    name: "X-Api-Key".into(),
                },
            },
        )
        .unwrap();
    assert_eq!(
        store.secret("KEY").unwrap().unwrap().binding.form,
        SecretForm::Header {
            name: "x-api-key".into()
        }
    );
    let names: Vec<String> = store
        .secrets()
        .unwrap()
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    assert_eq!(names, ["JIRA_TOKEN", "KEY"]);
    assert!(store.remove_secret("KEY").unwrap());
    assert!(store.secret("KEY").unwrap().is_none());
}

#[test]
fn malformed_secrets_are_refused_without_quoting_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let bearer = |h: &[&str]| SecretBinding {
        hosts: hosts(h),
        form: SecretForm::Bearer,
    };
    let header = |name: &str| SecretBinding {
        hosts: hosts(&["a.com"]),
        form: SecretForm::Header { name: name.into() },
    };
    let basic = |user: &str| SecretBinding {
        hosts: hosts(&["a.com"]),
        form: SecretForm::Basic { user: user.into() },
    };
    let cases: Vec<(&str, &str, SecretBinding, &str)> = vec![
        (
            "T",
            "line\r\nx-evil: 1",
            bearer(&["a.com"]),
            "control character",
        ),
        ("T", "", bearer(&["a.com"]), "value is empty"),
        ("T", "v-secret", bearer(&[]), "at least one host"),
        ("bad name", "v-secret", bearer(&["a.com"]), "may hold only"),
        ("T", "v-secret", header("host"), "set by the HTTP client"),
        (
            "T",
            "v-secret",
            header("Proxy-Authorization"),
            "set by the HTTP client",
        ),
        ("T", "v-secret", header("x key"), "not an HTTP header name"),
        ("T", "v-secret", basic("a:b"), "may not hold `:`"),
    ];
    for (name, value, binding, want) in cases {
        let err = store.set_secret(name, value, &binding).unwrap_err();
        assert!(matches!(err, StoreError::InvalidSecret { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(want), "{name} {binding:?}: {msg}");
        assert!(value.is_empty() || !msg.contains(value), "{msg}");
    }
    let long = "x".repeat(morph_store::MAX_SECRET_LEN + 1);
    let err = store
        .set_secret("T", &long, &bearer(&["a.com"]))
        .unwrap_err();
    assert!(err.to_string().contains("longer than 8 KiB"), "{err}");
    assert!(store.secrets().unwrap().is_empty());
}

fn record(ext: &str, n: u64, outcome: AuditOutcome) -> AuditRecord {
    AuditRecord {
        time_ms: 1_700_000_000_000 + n,
        extension: ext.to_owned(),
        version: "1.0.0".to_owned(),
        action: Some("sync".to_owned()),
        permission: "kv-write".to_owned(),
        target: format!("key k{n}"),
        outcome,
        detail: String::new(),
    }
}

#[test]
fn audit_lists_newest_first_per_extension_and_cuts_long_fields() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        for n in 0..5 {
            store
                .append_audit(&record("a", n, AuditOutcome::Allowed))
                .unwrap();
        }
        store
            .append_audit(&record("b", 9, AuditOutcome::Denied))
            .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let a = store.audit("a", 3).unwrap();
    let targets: Vec<&str> = a.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(targets, ["key k4", "key k3", "key k2"]);
    assert_eq!(store.audit("a", 100).unwrap().len(), 5);
    let b = store.audit("b", 100).unwrap();
    assert_eq!(b, [record("b", 9, AuditOutcome::Denied)]);
    assert!(store.audit("c", 100).unwrap().is_empty());

    // JSON as `morph audit --json` prints it.
    let json = serde_json::to_value(&b[0]).unwrap();
    assert_eq!(json["outcome"], "denied");
    assert_eq!(json["action"], "sync");

    let mut long = record("a", 99, AuditOutcome::DryRun);
    long.detail = "é".repeat(MAX_AUDIT_FIELD_LEN);
    store.append_audit(&long).unwrap();
    let newest = store.audit("a", 1).unwrap().remove(0);
    assert_eq!(newest.outcome, AuditOutcome::DryRun);
    assert!(
        newest.detail.len() <= MAX_AUDIT_FIELD_LEN,
        "{}",
        newest.detail.len()
    );
    assert!(newest.detail.ends_with("é..."));

    assert_eq!(store.prune_audit("a", 2).unwrap(), 4);
    let kept: Vec<String> = store
        .audit("a", 100)
        .unwrap()
        .into_iter()
        .map(|r| r.target)
        .collect();
    assert_eq!(kept, ["key k99", "key k4"]);
    // Appending after a prune keeps counting up.
    store
        .append_audit(&record("a", 100, AuditOutcome::Failed))
        .unwrap();
    assert_eq!(store.audit("a", 1).unwrap()[0].target, "key k100");
}

#[cfg(unix)]
#[test]
fn the_database_file_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mode = |store: &Store| {
        std::fs::metadata(store.db_path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    let path = {
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(mode(&store), 0o600);
        store.db_path().to_owned()
    };
    // A store made before secrets were kept in it is made private on open.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(mode(&store), 0o600);
}
