//! Parsing, strict errors, derived grants and the describe() diff.

use std::collections::{BTreeMap, BTreeSet};

use morph_permissions::{Grant, SideEffect};

use crate::{Described, Manifest, ManifestErrorKind};

pub(crate) const FULL: &str = r#"#:schema ../../schemas/morph.toml.schema.json
id = "github"
name = "GitHub"
version = "1.2.0-beta.1"
publisher = "Acme"
description = """
Issues and pull requests.
Second line."""
contract = "0.1.0"

[permissions]
request = [
    "http:GET,POST https://api.github.com/repos",
    "secret:GITHUB_TOKEN@api.github.com",
    "kv-write:bytes=1MiB,keys=100",
    "clock",
]

[limits]
memory-bytes = 67_108_864
fuel = 1_000_000_000
timeout-ms = 5_000
host-calls = 1_000
transfer-bytes = 16_777_216
log-bytes = 65_536
output-bytes = 1_048_576
input-bytes = 1_048_576

[actions.list-issues]
side-effect = "read"

[actions.delete-repo]
side-effect = "destructive"
description = "Deletes a repository."

[events.issue-opened]
description = "An issue was opened."

[events.closed]
"#;

const HEAD: &str = "id = \"x\"\nname = \"X\"\nversion = \"1.0.0\"\ncontract = \"0.1.0\"\n";

fn texts(grants: impl IntoIterator<Item = Grant>) -> Vec<String> {
    grants.into_iter().map(|g| g.to_string()).collect()
}

#[test]
fn a_full_manifest_parses() {
    let m = Manifest::parse(FULL).unwrap();
    assert_eq!(m.id, "github");
    assert_eq!(m.name, "GitHub");
    assert_eq!(m.version.to_string(), "1.2.0-beta.1");
    assert_eq!(m.publisher.as_deref(), Some("Acme"));
    assert_eq!(
        m.description.as_deref(),
        Some("Issues and pull requests.\nSecond line.")
    );
    assert_eq!(m.contract.to_string(), "0.1.0");
    assert_eq!(
        texts(m.request.clone()),
        [
            "http:GET,POST https://api.github.com/repos",
            "secret:GITHUB_TOKEN@api.github.com",
            "kv-write:bytes=1MiB,keys=100",
            "clock",
        ]
    );
    assert_eq!(m.limits.fuel.map(|f| f.get()), Some(1_000_000_000));
    assert_eq!(m.limits.timeout_ms.map(|f| f.get()), Some(5_000));
    assert_eq!(m.limits.input_bytes.map(|f| f.get()), Some(1 << 20));
    assert_eq!(
        m.actions["delete-repo"].side_effect,
        SideEffect::Destructive
    );
    assert_eq!(
        m.actions["delete-repo"].description.as_deref(),
        Some("Deletes a repository.")
    );
    assert_eq!(m.actions["list-issues"].side_effect, SideEffect::Read);
    assert_eq!(m.events.len(), 2);
    assert_eq!(
        texts(m.requested().iter().cloned()),
        [
            "http:GET,POST https://api.github.com/repos",
            "secret:GITHUB_TOKEN@api.github.com",
            "kv-write:bytes=1MiB,keys=100",
            "events:closed",
            "events:issue-opened",
            "clock",
            "action:destructive:delete-repo",
        ]
    );
}

#[test]
fn the_smallest_manifest_has_four_fields() {
    let m = Manifest::parse(HEAD).unwrap();
    assert!(m.request.is_empty() && m.actions.is_empty() && m.events.is_empty());
    assert_eq!(m.limits, crate::Limits::default());
    assert!(m.requested().is_empty());
}

#[test]
fn the_hello_sample_parses_and_matches_its_describe() {
    let text = include_str!("../../../extensions/hello/morph.toml");
    let m = Manifest::parse(text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.id, "hello");
    assert_eq!(
        texts(m.requested().iter().cloned()),
        ["kv-read", "events:greeted"]
    );
    // What extensions/hello/src/lib.rs's describe() returns.
    let described = Described {
        id: "hello".into(),
        version: "0.1.0".into(),
        contract: "0.2.0".into(),
        actions: [
            ("greet", SideEffect::None),
            ("count-words", SideEffect::None),
            ("echo", SideEffect::None),
            ("sha256", SideEffect::None),
            ("kv-reads", SideEffect::Read),
        ]
        .into_iter()
        .map(|(a, s)| (a.to_owned(), s))
        .collect(),
        events: BTreeSet::from(["greeted".to_owned()]),
    };
    m.check_against(&described).unwrap();
}

/// Parses `text`, expecting an error at `line` whose message holds `want`.
#[track_caller]
fn refused(text: &str, line: usize, want: &str) {
    let err = Manifest::parse(text).expect_err(text);
    let msg = err.to_string();
    assert_eq!(err.line(), Some(line), "{msg}");
    assert!(msg.contains(want), "{msg:?} should contain {want:?}");
}

#[test]
fn an_unknown_field_is_named_with_its_line() {
    let err = Manifest::parse(&format!("{HEAD}colour = \"blue\"\n")).unwrap_err();
    assert_eq!((err.line(), err.column()), (Some(5), Some(1)));
    assert_eq!(err.field(), Some("colour"));
    assert!(matches!(err.kind(), ManifestErrorKind::Field { .. }));
    assert!(
        err.to_string()
            .starts_with("line 5, column 1, `colour`: unknown field `colour`, expected one of"),
        "{err}"
    );
    refused(
        &format!("{HEAD}[limits]\nfuel = 1\nmemory = 2\n"),
        7,
        "`limits.memory`: unknown field `memory`",
    );
    refused(
        &format!("{HEAD}[permissions]\ngrants = []\n"),
        6,
        "`permissions.grants`: unknown field `grants`",
    );
    refused(
        &format!("{HEAD}[actions.a]\nside-effect = \"none\"\nsideeffect = 1\n"),
        7,
        "`actions.a.sideeffect`: unknown field `sideeffect`",
    );
    refused(
        &format!("{HEAD}[events.e]\nwhen = 1\n"),
        6,
        "`events.e.when`: unknown field `when`",
    );
    refused(&format!("{HEAD}[extra]\n"), 5, "unknown field `extra`");
}

#[test]
fn every_field_error_names_the_field_and_its_line() {
    refused(
        "name = \"X\"\nversion = \"1.0.0\"\ncontract = \"0.1.0\"\n",
        1,
        "missing field `id`",
    );
    refused(
        "id = \"x\"\nname = \"X\"\nversion = \"1.0.0\"\n",
        1,
        "missing field `contract`",
    );
    refused(
        "id = \"x\"\nname = \"X\"\nversion = 1\ncontract = \"0.1.0\"\n",
        3,
        "`version`: invalid type: integer `1`, expected",
    );
    refused(
        "id = \"x\"\nname = \"X\"\nversion = \"1.0\"\ncontract = \"0.1.0\"\n",
        3,
        "`version`: `1.0` is not a semantic version",
    );
    refused(
        "id = \"x\"\nname = \"X\"\nversion = \"1.0.0\"\ncontract = \"v1\"\n",
        4,
        "`contract`: `v1` is not a semantic version",
    );
    refused(
        &HEAD.replace("\"x\"", "\"Hello\""),
        1,
        "`id`: the id `Hello` must start with a lower-case",
    );
    refused(
        &HEAD.replace("\"x\"", "\"a/b\""),
        1,
        "`id`: the id `a/b` may hold only",
    );
    refused(
        &HEAD.replace("\"X\"", "\" X\""),
        2,
        "`name`: ` X` starts or ends with whitespace",
    );
    refused(&HEAD.replace("\"X\"", "\"\""), 2, "`name`: it is empty");
    refused(
        &format!("{HEAD}publisher = \"a\\u0007\"\n"),
        5,
        "`publisher`: `a\\u{7}` holds a control character",
    );
    refused(
        &format!("{HEAD}description = \"{}\"\n", "a".repeat(4097)),
        5,
        "the description is 4097 bytes long",
    );
    refused(
        &format!("{HEAD}[permissions]\nrequest = [\n  \"clock\",\n  \"htp:a.com\",\n]\n"),
        8,
        "`permissions.request[1]`: `htp:a.com`: `htp` is not a permission kind",
    );
    refused(
        &format!("{HEAD}[permissions]\nrequest = [\"http:ftp://a.com\"]\n"),
        6,
        "the scheme `ftp`",
    );
    refused(
        &format!("{HEAD}[permissions]\nrequest = \"clock\"\n"),
        6,
        "`permissions.request`: invalid type: string",
    );
    refused(
        &format!("{HEAD}[limits]\nfuel = 0\n"),
        6,
        "`limits.fuel`: invalid value",
    );
    refused(
        &format!("{HEAD}[limits]\ntimeout-ms = -5\n"),
        6,
        "`limits.timeout-ms`",
    );
    refused(
        &format!("{HEAD}[limits]\noutput-bytes = 5_000_000_000\n"),
        6,
        "`limits.output-bytes`",
    );
    refused(
        &format!("{HEAD}[actions.a]\n"),
        5,
        "`actions.a`: missing field `side-effect`",
    );
    refused(
        &format!("{HEAD}[actions.a]\nside-effect = \"huge\"\n"),
        6,
        "`actions.a.side-effect`: unknown variant `huge`, expected one of `none`, `read`, `write`, `destructive`",
    );
    refused(
        &format!("{HEAD}[actions.\"a b\"]\nside-effect = \"none\"\n"),
        5,
        "the name `a b` may hold only",
    );
    refused(&format!("{HEAD}[events.\"\"]\n"), 5, "the name `` is empty");
}

#[test]
fn derived_and_duplicate_grants_are_refused_where_written() {
    refused(
        &format!("{HEAD}[permissions]\nrequest = [\n\"clock\",\n\"events:greeted\"]\n"),
        8,
        "`permissions.request[1]`: `events:greeted` is not requested by hand: declare the event as `[events.NAME]`",
    );
    refused(
        &format!("{HEAD}[permissions]\nrequest = [\"action:destructive:x\"]\n"),
        6,
        "declare the action as `[actions.NAME]` with `side-effect = \"destructive\"`",
    );
    refused(
        &format!("{HEAD}[permissions]\nrequest = [\"http:a.com\",\n \"http:https://A.com/\"]\n"),
        7,
        "`permissions.request[1]`: `http:https://a.com` is requested twice",
    );
}

#[test]
fn syntax_errors_have_a_line_too() {
    refused(&format!("{HEAD}[limits\n"), 5, "");
    refused("id = \"x\"\nid = \"y\"\n", 2, "duplicate key");
    let err = Manifest::parse("id = ").unwrap_err();
    assert!(
        matches!(err.kind(), ManifestErrorKind::Syntax { .. }),
        "{err}"
    );
}

#[test]
fn input_is_bounded_and_never_panics() {
    let big = format!("{HEAD}#{}", "x".repeat(crate::MAX_MANIFEST_BYTES));
    assert!(matches!(
        Manifest::parse(&big).unwrap_err().kind(),
        ManifestErrorKind::TooLarge { .. }
    ));
    let many: Vec<String> = (0..=crate::MAX_ENTRIES)
        .map(|i| format!("\"http:a{i}.com\""))
        .collect();
    let text = format!("{HEAD}[permissions]\nrequest = [{}]\n", many.join(","));
    let err = Manifest::parse(&text).unwrap_err();
    assert_eq!(err.field(), Some("permissions.request"));
    assert!(
        err.to_string().contains("257 entries (at most 256)"),
        "{err}"
    );
    let events: String = (0..=crate::MAX_ENTRIES)
        .map(|i| format!("[events.e{i}]\n"))
        .collect();
    let err = Manifest::parse(&format!("{HEAD}{events}")).unwrap_err();
    assert!(err.to_string().contains("`events`: 257 entries"), "{err}");

    // Deep nesting, in arrays and inline tables: refused, not a stack overflow.
    for (open, close) in [("[", "]"), ("{a=", "}")] {
        let depth = crate::MAX_MANIFEST_BYTES / 4;
        let text = format!("{HEAD}x = {}1{}", open.repeat(depth), close.repeat(depth));
        assert!(Manifest::parse(&text).is_err());
    }
    assert!(matches!(
        Manifest::parse_bytes(b"id = \"x\"\nname = \"\xff\"")
            .unwrap_err()
            .kind(),
        ManifestErrorKind::NotUtf8
    ));
    let err = Manifest::parse_bytes(b"id = \"x\"\nname = \"\xff\"").unwrap_err();
    assert_eq!((err.line(), err.column()), (Some(2), Some(9)));
}

fn described() -> Described {
    Described {
        id: "github".into(),
        version: "1.2.0-beta.1".into(),
        contract: "0.1.0".into(),
        actions: BTreeMap::from([
            ("list-issues".to_owned(), SideEffect::Read),
            ("delete-repo".to_owned(), SideEffect::Destructive),
        ]),
        events: BTreeSet::from(["issue-opened".to_owned(), "closed".to_owned()]),
    }
}

#[test]
fn a_matching_describe_passes() {
    Manifest::parse(FULL)
        .unwrap()
        .check_against(&described())
        .unwrap();
}

#[test]
fn a_mismatch_reads_as_a_diff() {
    let m = Manifest::parse(FULL).unwrap();
    let mut d = described();
    d.id = "git`hub\n".into();
    d.version = "1.3.0".into();
    d.contract = "0.2.0".into();
    d.actions.remove("list-issues");
    d.actions.insert("delete-repo".into(), SideEffect::Write);
    d.actions.insert("merge".into(), SideEffect::Write);
    d.events.remove("closed");
    d.events.insert("pushed".into());
    let err = m.check_against(&d).unwrap_err();
    assert_eq!(err.differences.len(), 8);
    assert_eq!(
        err.to_string(),
        "morph.toml does not match the module's describe():\n\
         ~ id: `github` in morph.toml, `git\\`hub\\u{a}` in describe()\n\
         ~ version: `1.2.0-beta.1` in morph.toml, `1.3.0` in describe()\n\
         ~ contract: `0.1.0` in morph.toml, `0.2.0` in the module\n\
         ~ action `delete-repo`: side-effect destructive in morph.toml, write in describe()\n\
         - action `list-issues` (in morph.toml, not in describe())\n\
         + action `merge` (side-effect write; in describe(), not in morph.toml)\n\
         - event `closed` (in morph.toml, not in describe())\n\
         + event `pushed` (in describe(), not in morph.toml)"
    );
}

#[test]
fn runtime_reuse_is_off_unless_asked_and_its_table_is_strict() {
    assert!(!Manifest::parse(HEAD).unwrap().runtime.reuse_instances);
    let on = Manifest::parse(&format!("{HEAD}\n[runtime]\nreuse-instances = true\n")).unwrap();
    assert!(on.runtime.reuse_instances);
    refused(
        &format!("{HEAD}\n[runtime]\nreuse = true\n"),
        7,
        "unknown field `reuse`",
    );
}
