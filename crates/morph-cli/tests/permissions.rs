//! Permissions end to end through the built `morph` binary: a refused call names the
//! grant that would allow it, `--grant` and `morph grant` allow it (performed for real
//! by the host's capabilities), `morph revoke` takes it back, the audit log shows each
//! decision, and secrets are stored without ever being printed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn adversary() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/extensions/adversary.wasm");
    assert!(
        p.is_file(),
        "{} is missing: run `cargo xtask build`",
        p.display()
    );
    p
}

/// A `MORPH_HOME` of its own, shared by the commands of one test.
struct Home(tempfile::TempDir);

impl Home {
    fn new() -> Self {
        Home(tempfile::tempdir().unwrap())
    }

    fn morph_with(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_morph"))
            .args(args)
            .env_remove("MORPH_LOG")
            .env("MORPH_HOME", self.0.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn morph(&self, args: &[&str]) -> Output {
        self.morph_with(args, "")
    }
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

#[test]
fn a_refusal_names_the_grant_then_granting_allows_and_revoking_refuses_again() {
    let home = Home::new();
    let wasm = adversary();
    let module = wasm.to_str().unwrap();

    let refused = home.morph(&["run", module, "clock"]);
    assert_eq!(refused.status.code(), Some(9), "{}", text(&refused.stderr));
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains("`clock` does not allow reading the clock"),
        "{stderr}"
    );
    assert!(
        stderr.contains("run again with `--grant 'clock'`"),
        "{stderr}"
    );

    // For this run only.
    let once = home.morph(&["run", module, "clock", "--grant", "clock"]);
    assert!(once.status.success(), "{}", text(&once.stderr));
    assert!(
        text(&once.stdout).starts_with(r#"{"now":"#),
        "{}",
        text(&once.stdout)
    );
    let again = home.morph(&["run", module, "clock"]);
    assert_eq!(again.status.code(), Some(9));

    // Kept in the store.
    let granted = home.morph(&["grant", "adversary", "clock"]);
    assert!(granted.status.success(), "{}", text(&granted.stderr));
    assert!(text(&granted.stdout).contains("granted `clock` to `adversary`"));
    let runs = home.morph(&["run", module, "clock"]);
    assert!(runs.status.success(), "{}", text(&runs.stderr));

    let revoked = home.morph(&["revoke", "adversary", "clock"]);
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    let refused = home.morph(&["run", module, "clock"]);
    assert_eq!(refused.status.code(), Some(9));
    let twice = home.morph(&["revoke", "adversary", "clock"]);
    assert_eq!(twice.status.code(), Some(2), "{}", text(&twice.stderr));

    // The audit log, newest first: refused after the revoke, allowed by `morph grant`,
    // refused without `--grant`, allowed with it, refused at first.
    let audit = home.morph(&["audit", "adversary", "--json"]);
    assert!(audit.status.success(), "{}", text(&audit.stderr));
    let records: serde_json::Value = serde_json::from_slice(&audit.stdout).unwrap();
    let outcomes: Vec<&str> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["denied", "allowed", "denied", "allowed", "denied"],
        "{records}"
    );
    assert!(
        records
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["permission"] == "clock")
    );
}

#[test]
fn a_manifest_bounds_what_grants_give() {
    let home = Home::new();
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("morph.toml");
    // Requests nothing: granting `clock` for the run has no effect.
    std::fs::write(
        &manifest,
        "id = \"adversary\"\nname = \"Adversary\"\nversion = \"0.1.0\"\ncontract = \"0.1.0\"\n",
    )
    .unwrap();
    let wasm = adversary();
    let args = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["run", wasm.to_str().unwrap(), "clock", "--grant", "clock"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        home.morph(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let bounded = run(&["--manifest", manifest.to_str().unwrap()]);
    assert_eq!(bounded.status.code(), Some(9), "{}", text(&bounded.stderr));
    // It declares contract 0.1.0 and none of the module's actions: said, not refused.
    let said = text(&bounded.stderr);
    assert!(
        said.contains("morph: warning: morph.toml does not match the module's describe():")
            && said.contains("~ contract: `0.1.0` in morph.toml, `0.2.0` in the module")
            && said
                .contains("+ action `clock` (side-effect read; in describe(), not in morph.toml)"),
        "{said}"
    );
    std::fs::write(
        &manifest,
        "id = \"adversary\"\nname = \"Adversary\"\nversion = \"0.1.0\"\ncontract = \"0.1.0\"\n\n\
         [permissions]\nrequest = [\"clock\"]\n",
    )
    .unwrap();
    let requested = run(&["--manifest", manifest.to_str().unwrap()]);
    assert!(requested.status.success(), "{}", text(&requested.stderr));
    // A manifest with an unknown field is refused, naming it.
    std::fs::write(&manifest, "id = \"adversary\"\ncolour = \"red\"\n").unwrap();
    let bad = run(&["--manifest", manifest.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(14), "{}", text(&bad.stderr));
    assert!(
        text(&bad.stderr).contains("colour"),
        "{}",
        text(&bad.stderr)
    );
}

#[test]
fn kinds_are_listed_and_secrets_are_never_printed() {
    let home = Home::new();
    let kinds = home.morph(&["permissions", "--list-kinds"]);
    assert!(kinds.status.success(), "{}", text(&kinds.stderr));
    let listed = text(&kinds.stdout);
    for kind in [
        "http", "secret", "kv-read", "kv-write", "fs-read", "fs-write", "events", "config",
        "clock", "random", "ai", "notify", "action",
    ] {
        assert!(listed.lines().any(|l| l == kind), "{kind} in {listed}");
    }

    let value = "s3cr3t-value-never-printed";
    let set = home.morph_with(
        &["secret", "set", "github-token", "--bind", "api.github.com"],
        &format!("{value}\n"),
    );
    assert!(set.status.success(), "{}", text(&set.stderr));
    let list = home.morph(&["secret", "list"]);
    let shown = text(&list.stdout);
    assert!(
        shown.contains("github-token -> api.github.com (bearer)"),
        "{shown}"
    );
    for out in [&set, &list] {
        assert!(!text(&out.stdout).contains(value) && !text(&out.stderr).contains(value));
    }
    let empty = home.morph(&["secret", "set", "x", "--bind", "a.example"]);
    assert_eq!(empty.status.code(), Some(2), "{}", text(&empty.stderr));
    let removed = home.morph(&["secret", "remove", "github-token"]);
    assert!(removed.status.success(), "{}", text(&removed.stderr));
    assert!(text(&home.morph(&["secret", "list"]).stdout).is_empty());
}

#[test]
fn compiled_code_is_cached_listed_and_cleared() {
    let home = Home::new();
    let wasm = adversary();
    let module = wasm.to_str().unwrap();
    for _ in 0..2 {
        let out = home.morph(&["describe", module, "--backend", "wasmtime-core"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let ls = home.morph(&["cache", "ls"]);
    assert!(ls.status.success(), "{}", text(&ls.stderr));
    assert!(
        text(&ls.stdout).contains("1 entries"),
        "{}",
        text(&ls.stdout)
    );
    let cleared = home.morph(&["cache", "clear"]);
    assert!(
        text(&cleared.stdout).starts_with("removed 1 entries"),
        "{}",
        text(&cleared.stdout)
    );
    assert!(text(&home.morph(&["cache", "ls"]).stdout).starts_with("0 entries"));
}

#[test]
fn a_version_asking_for_more_runs_with_the_old_grants_until_the_new_ones_are_granted() {
    let home = Home::new();
    let dir = tempfile::tempdir().unwrap();
    let manifest = |version: &str, requests: &str| {
        let path = dir.path().join(format!("morph-{version}.toml"));
        std::fs::write(
            &path,
            format!(
                "id = \"adversary\"\nname = \"Adversary\"\nversion = \"{version}\"\n\
                 contract = \"0.1.0\"\n\n[permissions]\nrequest = [{requests}]\n"
            ),
        )
        .unwrap();
        path.to_str().unwrap().to_owned()
    };
    let v1 = manifest("1.0.0", r#""clock""#);
    let v2 = manifest("2.0.0", r#""clock", "random""#);
    let wasm = adversary();
    let module = wasm.to_str().unwrap();
    let run =
        |action: &str, manifest: &str| home.morph(&["run", module, action, "--manifest", manifest]);
    assert!(
        home.morph(&["grant", "adversary", "clock"])
            .status
            .success()
    );
    assert!(run("clock", &v1).status.success());
    // Version 2 asks for `random` too: it runs with the old grants, `random` refused.
    assert!(run("clock", &v2).status.success());
    let refused = run("random", &v2);
    assert_eq!(refused.status.code(), Some(9), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).contains("`--grant 'random'`"),
        "{}",
        text(&refused.stderr)
    );
    // Granted: version 2 gets it; version 1, which does not ask for it, still does not.
    let granted = home.morph(&["grant", "adversary", "random"]);
    assert!(granted.status.success(), "{}", text(&granted.stderr));
    let ran = run("random", &v2);
    assert!(ran.status.success(), "{}", text(&ran.stderr));
    assert_eq!(text(&ran.stdout).trim(), r#"{"len":16}"#);
    assert_eq!(run("random", &v1).status.code(), Some(9));
}

#[test]
fn a_dry_run_reads_but_records_its_writes_instead_of_making_them() {
    let home = Home::new();
    let wasm = adversary();
    let module = wasm.to_str().unwrap();
    let call = |host: &str, extra: &[&str]| {
        let input = format!(r#"{{"host":"{host}"}}"#);
        let mut args = vec!["run", module, "call", "--input", &input];
        args.extend_from_slice(extra);
        home.morph(&args)
    };
    let grants = ["--grant", "kv-read", "--grant", "kv-write"];
    let dry = call("kv-set", &[&grants[..], &["--dry-run"]].concat());
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    assert_eq!(text(&dry.stdout).trim(), r#"{"ok":true}"#);
    let stderr = text(&dry.stderr);
    assert!(stderr.contains("morph: dry run: did not"), "{stderr}");
    assert!(stderr.contains("(kv-write)"), "{stderr}");
    // Nothing was written.
    let read = call("kv-get", &grants);
    assert_eq!(
        text(&read.stdout).trim(),
        r#"{"ok":false}"#,
        "{}",
        text(&read.stderr)
    );
    // For real, it is.
    let wrote = call("kv-set", &grants);
    assert!(wrote.status.success(), "{}", text(&wrote.stderr));
    assert!(text(&wrote.stderr).is_empty(), "{}", text(&wrote.stderr));
    let read = call("kv-get", &grants);
    assert_eq!(
        text(&read.stdout).trim(),
        r#"{"ok":true}"#,
        "{}",
        text(&read.stderr)
    );
    // The audit log says which was which.
    let audit = home.morph(&["audit", "adversary", "--json"]);
    let records: serde_json::Value = serde_json::from_slice(&audit.stdout).unwrap();
    let outcomes: Vec<&str> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["allowed", "allowed", "allowed", "dry-run"],
        "{records}"
    );
}

#[test]
fn files_live_in_the_store_folder_and_notifications_reach_the_terminal() {
    let home = Home::new();
    let wasm = adversary();
    let module = wasm.to_str().unwrap();
    let call = |host: &str, grant: &str| {
        let input = format!(r#"{{"host":"{host}"}}"#);
        home.morph(&["run", module, "call", "--input", &input, "--grant", grant])
    };
    let wrote = call("fs-write", "fs-write:ws");
    assert!(wrote.status.success(), "{}", text(&wrote.stderr));
    let file = home.0.path().join("store/files/adversary/ws/notes.txt");
    assert_eq!(std::fs::read(&file).unwrap(), b"noted");
    let read = call("fs-read", "fs-read:ws");
    assert_eq!(text(&read.stdout).trim(), r#"{"ok":"noted"}"#);
    let escape = call("fs-escape", "fs-read:ws");
    assert_eq!(
        text(&escape.stdout).trim(),
        r#"{"host_error":"invalid-argument"}"#
    );
    let refused = call("fs-read", "fs-read:other");
    assert_eq!(refused.status.code(), Some(9), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).contains("`--grant 'fs-read:ws"),
        "{}",
        text(&refused.stderr)
    );
    let notified = call("notify", "notify");
    assert!(notified.status.success(), "{}", text(&notified.stderr));
    assert!(
        text(&notified.stderr)
            .contains("morph: notification from `adversary` (high): Synced: 3 issues"),
        "{}",
        text(&notified.stderr)
    );
    // Without `--ai-url` the host has no model.
    let ai = call("ai", "ai");
    assert_eq!(text(&ai.stdout).trim(), r#"{"host_error":"unavailable"}"#);
    let bad = home.morph(&[
        "run",
        module,
        "call",
        "--grant",
        "ai",
        "--ai-url",
        "ftp://x",
        "--ai-model",
        "m",
    ]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
    assert!(
        text(&bad.stderr).contains("--ai-url: the HTTP client cannot be built: the model's base URL `ftp://x` is not http or https"),
        "{}",
        text(&bad.stderr)
    );
    let version = home.morph(&["--version"]);
    assert!(
        text(&version.stdout).contains("extension contracts 0.1.0, 0.2.0"),
        "{}",
        text(&version.stdout)
    );
}
