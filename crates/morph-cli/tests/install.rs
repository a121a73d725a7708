//! `install`, `list`, `inspect`, `uninstall` and `run <id>` end to end through the built
//! `morph` binary, for both signature algorithms: what is refused (untrusted, tampered,
//! downgraded, unsigned without the flag) leaves the store as it was, and what is
//! installed runs from the store.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const ALGORITHMS: &[(&str, &[&str])] = &[("ed25519", &[]), ("rsa-pss-sha256", &["--bits", "2048"])];

/// The sample's manifest; `hello.wasm` describes itself as `hello` 0.1.0.
fn manifest(version: &str) -> String {
    format!("id = \"hello\"\nname = \"Hello\"\nversion = \"{version}\"\npublisher = \"Acme\"\n")
}

fn hello() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/extensions/hello.wasm");
    assert!(
        p.is_file(),
        "{} is missing: run `cargo xtask build` first (cargo xtask ci does)",
        p.display()
    );
    p
}

struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn s(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }

    /// Runs `morph` with no `MORPH_HOME` and `HOME` in the scratch folder: every command
    /// that takes them gets `--store` and `--trust-store` explicitly.
    fn morph(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_morph"))
            .args(args)
            .env_remove("MORPH_LOG")
            .env_remove("MORPH_HOME")
            .env_remove("XDG_DATA_HOME")
            .env("HOME", self.s("home"))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// `morph <cmd> <args> --store S --trust-store T`.
    fn with_stores(&self, args: &[&str]) -> Output {
        let (store, trust) = (self.s("store"), self.s("trust.json"));
        let mut all: Vec<&str> = args.to_vec();
        all.extend_from_slice(&["--store", &store, "--trust-store", &trust]);
        self.morph(&all)
    }

    fn list(&self) -> String {
        ok(&self.morph(&["list", "--store", &self.s("store")]))
    }

    fn pack(&self, version: &str, out: &str) {
        std::fs::write(self.dir.path().join("morph.toml"), manifest(version)).unwrap();
        ok(&self.morph(&[
            "pack",
            hello().to_str().unwrap(),
            "--manifest",
            &self.s("morph.toml"),
            "--out",
            &self.s(out),
        ]));
    }

    fn greet(&self) -> Output {
        self.with_stores(&["run", "hello", "greet", "--input", r#"{"name":"Ada"}"#])
    }
}

#[track_caller]
fn ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "failed: {stderr}");
    assert!(stderr.is_empty(), "stderr: {stderr}");
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[track_caller]
fn fails(out: &Output, code: i32, needles: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert!(stderr.starts_with("morph: error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "expected `{needle}` in: {stderr}");
    }
    assert!(out.stdout.is_empty(), "stdout: {:?}", out.stdout);
    stderr
}

const GREETING: &str = "{\"greeting\":\"Hello, Ada!\",\"count\":1}\n";

#[test]
fn install_run_refuse_and_uninstall_for_each_algorithm() {
    for (alg, extra) in ALGORITHMS {
        let s = Scratch::new();
        let prefix = s.s("acme");
        let mut args = vec!["keygen", "--alg", alg, "--out", &prefix];
        args.extend_from_slice(extra);
        ok(&s.morph(&args));
        s.pack("0.1.0", "hello.morph");
        ok(&s.morph(&["sign", &s.s("hello.morph"), "--key", &s.s("acme.key")]));

        // Not installed yet: `run hello` says so with its own code.
        fails(
            &s.greet(),
            15,
            &["no extension `hello` is installed", "morph install"],
        );

        // Untrusted key: refused, nothing installed.
        fails(
            &s.with_stores(&["install", &s.s("hello.morph")]),
            12,
            &["which is not in the trust store", "morph trust add"],
        );
        assert_eq!(s.list(), "", "{alg}");

        let trust = s.s("trust.json");
        ok(&s.morph(&[
            "trust",
            "add",
            &s.s("acme.pub"),
            "--publisher",
            "Acme",
            "--trust-store",
            &trust,
        ]));
        let installed = ok(&s.with_stores(&["install", &s.s("hello.morph")]));
        assert_eq!(
            installed, "installed hello@0.1.0 (signed by Acme)\nactive: 0.1.0\n",
            "{alg}"
        );
        assert_eq!(s.list(), "hello 0.1.0 (1 installed: 0.1.0)\n");
        assert_eq!(ok(&s.greet()), GREETING, "{alg}");

        let inspect = ok(&s.morph(&["inspect", "hello", "--store", &s.s("store")]));
        assert!(inspect.contains("* 0.1.0 (active)"), "{inspect}");
        assert!(inspect.contains("publisher: Acme"), "{inspect}");
        let json = ok(&s.morph(&["inspect", "hello", "--json", "--store", &s.s("store")]));
        let json: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(json["active"], "0.1.0");
        assert_eq!(json["versions"][0]["publisher"], "Acme");
        assert_eq!(json["versions"][0]["key_id"].as_str().unwrap().len(), 64);
        let list: serde_json::Value =
            serde_json::from_str(&ok(&s.morph(&["list", "--json", "--store", &s.s("store")])))
                .unwrap();
        assert_eq!(list[0]["id"], "hello");

        // A tampered package (one module byte flipped) is refused; 0.1.0 still runs.
        let bytes = std::fs::read(s.s("hello.morph")).unwrap();
        let module = std::fs::read(hello()).unwrap();
        let at = bytes
            .windows(module.len())
            .position(|w| w == module.as_slice())
            .unwrap()
            + module.len() / 2;
        let mut tampered = bytes.clone();
        tampered[at] ^= 0x01;
        std::fs::write(s.s("tampered.morph"), &tampered).unwrap();
        fails(
            &s.with_stores(&["install", &s.s("tampered.morph")]),
            12,
            &["the package's module is corrupt", "get the package again"],
        );
        assert_eq!(ok(&s.greet()), GREETING, "{alg}");

        // A well-formed package whose module changed after signing (the index is
        // consistent, the signature is not): refused by verification.
        let limits = morph_package::Limits::default();
        let signed = morph_package::Package::unpack(&bytes, &limits).unwrap();
        let mut other = module.clone();
        other.extend_from_slice(&[0, 4, 3, b'e', b'v', b'l', 1]); // a custom section
        let mut swapped = morph_package::Package::new(signed.manifest().to_vec(), other).unwrap();
        swapped.set_signature(signed.signature().unwrap().to_vec());
        std::fs::write(s.s("swapped.morph"), swapped.pack(&limits).unwrap()).unwrap();
        fails(
            &s.with_stores(&["install", &s.s("swapped.morph")]),
            12,
            &["`hello@0.1.0`'s module was changed after signing"],
        );
        assert_eq!(s.list(), "hello 0.1.0 (1 installed: 0.1.0)\n");
        assert_eq!(ok(&s.greet()), GREETING, "{alg}");

        // A downgrade is refused before anything compiles.
        s.pack("0.0.9", "old.morph");
        ok(&s.morph(&["sign", &s.s("old.morph"), "--key", &s.s("acme.key")]));
        fails(
            &s.with_stores(&["install", &s.s("old.morph")]),
            12,
            &[
                "`hello` 0.0.9 is older than the installed and active 0.1.0",
                "--allow-downgrade",
            ],
        );
        // Allowed, it meets the module's own description, which says 0.1.0.
        fails(
            &s.with_stores(&["install", &s.s("old.morph"), "--allow-downgrade"]),
            14,
            &["the manifest says version `0.0.9` but the module describes itself as `0.1.0`"],
        );
        assert_eq!(s.list(), "hello 0.1.0 (1 installed: 0.1.0)\n");

        // Unsigned: refused without the flag, installed with it and a warning.
        s.pack("0.1.0", "unsigned.morph");
        fails(
            &s.with_stores(&["install", &s.s("unsigned.morph")]),
            12,
            &["is not signed", "--allow-unsigned"],
        );
        let out = s.with_stores(&["install", &s.s("unsigned.morph"), "--allow-unsigned"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(
            stderr.contains("morph: warning: `hello@0.1.0` is UNSIGNED"),
            "{stderr}"
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "installed hello@0.1.0 (unsigned)\nactive: 0.1.0\n"
        );
        let json = ok(&s.morph(&["inspect", "hello", "--json", "--store", &s.s("store")]));
        assert!(json.contains("\"key_id\":\"unsigned\""), "{json}");
        assert_eq!(ok(&s.greet()), GREETING, "{alg}");

        // Denied after install: it no longer runs.
        let record: serde_json::Value = serde_json::from_str(&json).unwrap();
        let module_digest = record["versions"][0]["module_digest"]
            .as_str()
            .unwrap()
            .to_owned();
        ok(&s.morph(&[
            "trust",
            "deny",
            &module_digest,
            "--reason",
            "test",
            "--trust-store",
            &trust,
        ]));
        fails(
            &s.greet(),
            12,
            &["is on the denylist (test)", "morph uninstall hello"],
        );

        let out = ok(&s.morph(&["uninstall", "hello", "--purge", "--store", &s.s("store")]));
        assert_eq!(out, "uninstalled hello (0.1.0)\n");
        assert_eq!(s.list(), "");
        fails(
            &s.morph(&["uninstall", "hello", "--store", &s.s("store")]),
            15,
            &["no extension `hello` is installed"],
        );
        let blobs = std::fs::read_dir(Path::new(&s.s("store")).join("blobs/sha256"))
            .unwrap()
            .count();
        assert_eq!(blobs, 0, "purged");
    }
}

#[test]
fn concurrent_runs_from_the_store_wait_for_each_other() {
    let s = Scratch::new();
    s.pack("0.1.0", "hello.morph");
    let out = s.with_stores(&["install", &s.s("hello.morph"), "--allow-unsigned"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let outputs: Vec<Output> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4).map(|_| scope.spawn(|| s.greet())).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for out in &outputs {
        assert_eq!(ok(out), GREETING);
    }
}

#[test]
fn install_from_a_local_oci_layout() {
    let s = Scratch::new();
    ok(&s.morph(&["keygen", "--out", &s.s("acme")]));
    s.pack("0.1.0", "hello.morph");
    ok(&s.morph(&["sign", &s.s("hello.morph"), "--key", &s.s("acme.key")]));
    let layout = format!("oci-layout:{}:v1", s.s("layout"));
    ok(&s.morph(&["push", &s.s("hello.morph"), &layout]));
    let trust = s.s("trust.json");
    ok(&s.morph(&[
        "trust",
        "add",
        &s.s("acme.pub"),
        "--publisher",
        "Acme",
        "--trust-store",
        &trust,
    ]));
    let out = ok(&s.with_stores(&["install", &layout]));
    assert_eq!(
        out,
        "installed hello@0.1.0 (signed by Acme)\nactive: 0.1.0\n"
    );
    assert_eq!(ok(&s.greet()), GREETING);
    // Registry flags make no sense for a folder: a usage error, nothing installed twice.
    fails(
        &s.with_stores(&["install", &layout, "--plain-http"]),
        2,
        &["is a local folder"],
    );
}
