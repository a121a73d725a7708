//! The trust and distribution commands end to end, through the built `morph` binary:
//! `keygen`, `pack`, `sign`, `verify`, `trust add|list|revoke|deny`, `push`, `pull`, for
//! both signature algorithms. Each refusal is checked for its exit code, its one line on
//! stderr and the words that tell the user what happened and what to do.
//!
//! The registry test runs Debian's `docker-registry` (distribution 2.8) on a free
//! loopback port with htpasswd basic auth, as morph-registry's tests do. It skips loudly
//! when `docker-registry` or `htpasswd` is missing, unless `CI=true`, where it fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `(--alg, extra keygen flags)`: RSA at 2048 bits, the smallest accepted, to keep key
/// generation quick in a debug build.
const ALGORITHMS: &[(&str, &[&str])] = &[("ed25519", &[]), ("rsa-pss-sha256", &["--bits", "2048"])];

const MANIFEST: &str = "id = \"hello\"\nname = \"Hello\"\nversion = \"1.0.0\"\npublisher = \"Acme\"\n\n[permissions]\nclock = true\n";

/// The sample extension, built by `cargo xtask build`.
fn hello() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/extensions/hello.wasm");
    assert!(
        p.is_file(),
        "{} is missing: run `cargo xtask build` first (cargo xtask ci does)",
        p.display()
    );
    p
}

/// A scratch folder that is also `MORPH_HOME`, so no test touches the real trust store.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn s(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_owned()
    }

    fn home(&self) -> PathBuf {
        self.path("morph-home")
    }

    /// Runs `morph` with `MORPH_HOME` in the scratch folder and stdin closed.
    fn morph(&self, args: &[&str]) -> Output {
        self.morph_env(args, &[("MORPH_HOME", self.home().as_os_str())], None)
    }

    /// Runs `morph` with only `env` set of the variables that locate the trust store, and
    /// `stdin` (closed when `None`).
    fn morph_env(
        &self,
        args: &[&str],
        env: &[(&str, &std::ffi::OsStr)],
        stdin: Option<&[u8]>,
    ) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_morph"));
        cmd.args(args)
            .env_remove("MORPH_LOG")
            .env_remove("MORPH_HOME")
            .env_remove("XDG_DATA_HOME")
            .env("HOME", self.path("home"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("morph runs");
        if let Some(bytes) = stdin {
            child.stdin.take().unwrap().write_all(bytes).unwrap();
        }
        child.wait_with_output().unwrap()
    }

    /// Writes the manifest and packs it with the sample module.
    fn pack(&self, manifest: &str, out: &str) -> Output {
        std::fs::write(self.path("morph.toml"), manifest).unwrap();
        self.morph(&[
            "pack",
            hello().to_str().unwrap(),
            "--manifest",
            &self.s("morph.toml"),
            "--out",
            &self.s(out),
        ])
    }
}

/// Asserts success with nothing on stderr (no bars either: stderr is not a terminal), and
/// returns stdout.
#[track_caller]
fn ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "failed: {stderr}");
    assert!(stderr.is_empty(), "stderr: {stderr}");
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Asserts a failure: the exit code, one `morph: error:` line on stderr containing every
/// needle, nothing on stdout, no panic. Returns the line.
#[track_caller]
fn fails(out: &Output, code: i32, needles: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert!(stderr.starts_with("morph: error: "), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "expected `{needle}` in: {stderr}");
    }
    assert!(out.stdout.is_empty(), "stdout: {:?}", out.stdout);
    stderr
}

/// The value of `label: value` in `morph`'s output.
#[track_caller]
fn field(stdout: &str, label: &str) -> String {
    let prefix = format!("{label}: ");
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no `{label}` in:\n{stdout}"))
        .to_owned()
}

fn keygen(s: &Scratch, alg: &str, extra: &[&str], prefix: &str) -> String {
    let mut args = vec!["keygen", "--alg", alg, "--out"];
    let out = s.s(prefix);
    args.push(&out);
    args.extend_from_slice(extra);
    let stdout = ok(&s.morph(&args));
    assert_eq!(field(&stdout, "algorithm"), alg);
    let id = field(&stdout, "key id");
    assert_eq!(id.len(), 64, "{stdout}");
    id
}

/// The offset of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle present")
}

#[test]
fn keygen_pack_sign_trust_verify_tamper_revoke_and_transfer_for_each_algorithm() {
    for (alg, extra) in ALGORITHMS {
        let s = Scratch::new();
        let id = keygen(&s, alg, extra, "acme");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(s.path("acme.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{alg}");
        }
        let key = std::fs::read_to_string(s.path("acme.key")).unwrap();
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{alg}");
        let public = std::fs::read_to_string(s.path("acme.pub")).unwrap();
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"), "{alg}");

        let packed = ok(&s.pack(MANIFEST, "hello.morph"));
        assert!(
            packed.contains("packed hello@1.0.0 (publisher Acme)"),
            "{packed}"
        );
        let module_digest = field(&packed, "module");

        // Verifying an unsigned package says so.
        fails(
            &s.morph(&["verify", &s.s("hello.morph")]),
            12,
            &["is not signed", "morph sign"],
        );

        let signed = ok(&s.morph(&["sign", &s.s("hello.morph"), "--key", &s.s("acme.key")]));
        assert!(
            signed.contains("signed hello@1.0.0 for publisher Acme"),
            "{signed}"
        );
        assert_eq!(field(&signed, "key id"), id);

        // Unknown key: its own code and the command that fixes it.
        fails(
            &s.morph(&["verify", &s.s("hello.morph")]),
            12,
            &[
                &format!("is signed by key {}", &id[..16]),
                "which is not in the trust store",
                "trust the publisher's key with `morph trust add <pub> --publisher <name>`",
                "morph-home/trust.json",
            ],
        );

        let added = ok(&s.morph(&["trust", "add", &s.s("acme.pub"), "--publisher", "Acme"]));
        assert!(
            added.contains(&format!("trusted {alg} key {id} for publisher Acme")),
            "{added}"
        );
        assert!(
            s.home().join("trust.json").is_file(),
            "default store created"
        );

        let verified = ok(&s.morph(&["verify", &s.s("hello.morph")]));
        assert!(verified.starts_with("verified hello@1.0.0\n"), "{verified}");
        assert_eq!(field(&verified, "publisher"), "Acme");
        assert_eq!(field(&verified, "key id"), id);
        assert_eq!(field(&verified, "algorithm"), *alg);
        assert_eq!(field(&verified, "module"), module_digest);

        // Through a local OCI layout and back.
        let layout = format!("oci-layout:{}:v1", s.s("layout"));
        let pushed = ok(&s.morph(&["push", &s.s("hello.morph"), &layout]));
        assert!(pushed.contains("pushed hello@1.0.0 (signed)"), "{pushed}");
        let digest = field(&pushed, "digest");
        let pulled = ok(&s.morph(&["pull", &layout, "--out", &s.s("pulled.morph")]));
        assert!(pulled.contains("pulled hello@1.0.0 (signed)"), "{pulled}");
        assert_eq!(field(&pulled, "digest"), digest);
        assert!(pulled.contains("morph verify"), "{pulled}");
        let again = ok(&s.morph(&["verify", &s.s("pulled.morph")]));
        assert_eq!(field(&again, "key id"), id);
        // By the pinned digest too.
        let pinned = field(&pushed, "pinned");
        assert!(pinned.ends_with(&format!("@{digest}")), "{pinned}");
        ok(&s.morph(&["pull", &pinned, "--out", &s.s("pinned.morph")]));
        assert_eq!(
            std::fs::read(s.path("pinned.morph")).unwrap(),
            std::fs::read(s.path("hello.morph")).unwrap()
        );

        // One byte of the module flipped in the file: caught, with its message.
        let bytes = std::fs::read(s.path("hello.morph")).unwrap();
        let module = std::fs::read(hello()).unwrap();
        let at = find(&bytes, &module) + module.len() / 2;
        let mut tampered = bytes.clone();
        tampered[at] ^= 0x01;
        std::fs::write(s.path("tampered.morph"), &tampered).unwrap();
        fails(
            &s.morph(&["verify", &s.s("tampered.morph")]),
            12,
            &[
                "tampered.morph`: the package's module is corrupt",
                "get the package again from its publisher",
            ],
        );

        // Revoked: refused, naming the publisher, for the pulled copy as well.
        let revoked = ok(&s.morph(&["trust", "revoke", &id[..16]]));
        assert_eq!(revoked, format!("revoked key {id} of Acme\n"));
        for file in ["hello.morph", "pulled.morph"] {
            fails(
                &s.morph(&["verify", &s.s(file)]),
                12,
                &[&format!(
                    "is signed by key {} of `Acme`, which was revoked",
                    &id[..16]
                )],
            );
        }
        // Re-adding a revoked key needs `--replace`.
        fails(
            &s.morph(&["trust", "add", &s.s("acme.pub"), "--publisher", "Acme"]),
            10,
            &["revoked", "--replace"],
        );
        ok(&s.morph(&[
            "trust",
            "add",
            &s.s("acme.pub"),
            "--publisher",
            "Acme",
            "--replace",
        ]));
        ok(&s.morph(&["verify", &s.s("hello.morph")]));
    }
}

#[test]
fn every_flipped_region_of_a_signed_package_is_refused() {
    let s = Scratch::new();
    keygen(&s, "ed25519", &[], "k");
    ok(&s.pack(MANIFEST, "p.morph"));
    ok(&s.morph(&["sign", &s.s("p.morph"), "--key", &s.s("k.key")]));
    ok(&s.morph(&["trust", "add", &s.s("k.pub"), "--publisher", "Acme"]));
    let bytes = std::fs::read(s.path("p.morph")).unwrap();
    let manifest_at = find(&bytes, MANIFEST.as_bytes()) + 5;
    let cases: [(usize, i32, &str); 4] = [
        (0, 14, "not a Morph package"),
        (manifest_at, 12, "the package's manifest is corrupt"),
        (bytes.len() - 3, 12, "the package's signature is corrupt"),
        (20, 14, "the package index is malformed"),
    ];
    for (at, code, needle) in cases {
        let mut b = bytes.clone();
        b[at] ^= 0x20;
        std::fs::write(s.path("t.morph"), &b).unwrap();
        fails(&s.morph(&["verify", &s.s("t.morph")]), code, &[needle]);
    }
    // Cut short.
    std::fs::write(s.path("t.morph"), &bytes[..bytes.len() - 1]).unwrap();
    fails(&s.morph(&["verify", &s.s("t.morph")]), 14, &["t.morph`"]);
}

/// A module swapped after signing, with the package's index rewritten to match (so only
/// the signature can tell): refused by the signature check, naming the part.
#[test]
fn a_part_changed_after_signing_is_named() {
    use morph_package::{Limits, Package};
    let s = Scratch::new();
    keygen(&s, "ed25519", &[], "k");
    ok(&s.pack(MANIFEST, "p.morph"));
    ok(&s.morph(&["sign", &s.s("p.morph"), "--key", &s.s("k.key")]));
    ok(&s.morph(&["trust", "add", &s.s("k.pub"), "--publisher", "Acme"]));
    let original = Package::read_file(&s.path("p.morph"), &Limits::default()).unwrap();
    let mut module = original.module().to_vec();
    module.extend_from_slice(b"\0\x05extra");
    let mut swapped = Package::new(original.manifest().to_vec(), module).unwrap();
    swapped.set_signature(original.signature().unwrap().to_vec());
    swapped
        .write_file(&s.path("swapped.morph"), &Limits::default())
        .unwrap();
    fails(
        &s.morph(&["verify", &s.s("swapped.morph")]),
        12,
        &["hello@1.0.0`'s module was changed after signing"],
    );
}

#[test]
fn pack_refuses_a_manifest_without_id_version_or_publisher() {
    let s = Scratch::new();
    let cases = [
        (
            "version = \"1\"\npublisher = \"A\"\n",
            "the top-level `id` key is missing",
        ),
        (
            "id = \"x\"\npublisher = \"A\"\n",
            "the top-level `version` key is missing",
        ),
        (
            "id = \"x\"\nversion = \"1\"\n",
            "the top-level `publisher` key is missing",
        ),
        (
            "id = \"x\"\nversion = 1\npublisher = \"A\"\n",
            "`version` must be a string",
        ),
        ("id = ", "not valid TOML"),
    ];
    for (manifest, needle) in cases {
        let line = fails(
            &s.pack(manifest, "x.morph"),
            14,
            &["the manifest `", "morph.toml` is refused", needle],
        );
        assert!(line.contains("publisher"), "says what is required: {line}");
        assert!(!s.path("x.morph").exists());
    }
    // A module that is not wasm, a module without its manifest.
    std::fs::write(s.path("morph.toml"), MANIFEST).unwrap();
    std::fs::write(s.path("not.wasm"), b"text").unwrap();
    fails(
        &s.morph(&[
            "pack",
            &s.s("not.wasm"),
            "--manifest",
            &s.s("morph.toml"),
            "--out",
            &s.s("x.morph"),
        ]),
        4,
        &["not a WebAssembly module"],
    );
    fails(
        &s.morph(&["pack", hello().to_str().unwrap(), "--out", &s.s("x.morph")]),
        2,
        &["--manifest morph.toml"],
    );
}

#[test]
fn pack_takes_a_folder_with_morph_toml_and_id_wasm() {
    let s = Scratch::new();
    let dir = s.path("ext");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("morph.toml"), MANIFEST).unwrap();
    // The module is looked up as `<id>.wasm`: missing, the error says so and how to name it.
    fails(
        &s.morph(&["pack", &s.s("ext"), "--out", &s.s("a.morph")]),
        3,
        &["hello.wasm", "`<id>.wasm`", "--module FILE"],
    );
    std::fs::copy(hello(), dir.join("hello.wasm")).unwrap();
    let a = ok(&s.morph(&["pack", &s.s("ext"), "--out", &s.s("a.morph")]));
    let b = ok(&s.morph(&[
        "pack",
        &s.s("ext"),
        "--module",
        hello().to_str().unwrap(),
        "--out",
        &s.s("b.morph"),
    ]));
    assert_eq!(field(&a, "module"), field(&b, "module"));
    // Packing is deterministic.
    assert_eq!(
        std::fs::read(s.path("a.morph")).unwrap(),
        std::fs::read(s.path("b.morph")).unwrap()
    );
}

#[test]
fn keys_are_never_overwritten_and_mixups_are_named() {
    let s = Scratch::new();
    keygen(&s, "ed25519", &[], "k");
    let before = std::fs::read(s.path("k.key")).unwrap();
    fails(
        &s.morph(&["keygen", "--out", &s.s("k")]),
        3,
        &["k.key` already exists", "never overwritten"],
    );
    assert_eq!(std::fs::read(s.path("k.key")).unwrap(), before);
    // Only the .pub exists: refused before the .key is written.
    std::fs::write(s.path("only.pub"), "x").unwrap();
    fails(
        &s.morph(&["keygen", "--out", &s.s("only")]),
        3,
        &["only.pub"],
    );
    assert!(!s.path("only.key").exists());
    // --bits is for RSA, and within what RSA accepts.
    fails(
        &s.morph(&["keygen", "--bits", "2048", "--out", &s.s("e")]),
        2,
        &["--alg rsa-pss-sha256"],
    );
    let out = s.morph(&[
        "keygen",
        "--alg",
        "rsa-pss-sha256",
        "--bits",
        "1024",
        "--out",
        &s.s("r"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    // A public key to sign with, a private key to trust.
    ok(&s.pack(MANIFEST, "p.morph"));
    fails(
        &s.morph(&["sign", &s.s("p.morph"), "--key", &s.s("k.pub")]),
        14,
        &["k.pub`", "this is a public key"],
    );
    fails(
        &s.morph(&["trust", "add", &s.s("k.key"), "--publisher", "Acme"]),
        14,
        &["k.key`", "this is a private key"],
    );
    fails(
        &s.morph(&["sign", &s.s("missing.morph"), "--key", &s.s("k.key")]),
        3,
        &["cannot read package", "missing.morph"],
    );
    // --out leaves the input unsigned.
    ok(&s.morph(&[
        "sign",
        &s.s("p.morph"),
        "--key",
        &s.s("k.key"),
        "--out",
        &s.s("signed.morph"),
    ]));
    fails(
        &s.morph(&["verify", &s.s("p.morph")]),
        12,
        &["is not signed"],
    );
}

#[test]
fn trust_list_deny_and_revoke_edit_the_store() {
    let s = Scratch::new();
    let store = s.s("store.json");
    let id = keygen(&s, "ed25519", &[], "k");
    let list = ok(&s.morph(&["trust", "list", "--trust-store", &store]));
    assert!(list.contains("KEYS\n  (none"), "{list}");
    ok(&s.morph(&[
        "trust",
        "add",
        &s.s("k.pub"),
        "--publisher",
        "Acme Corp",
        "--trust-store",
        &store,
    ]));
    // Adding it again is a no-op; for another publisher it needs --replace.
    let again = ok(&s.morph(&[
        "trust",
        "add",
        &s.s("k.pub"),
        "--publisher",
        "Acme Corp",
        "--trust-store",
        &store,
    ]));
    assert!(again.starts_with("already trusted:"), "{again}");
    fails(
        &s.morph(&[
            "trust",
            "add",
            &s.s("k.pub"),
            "--publisher",
            "Other",
            "--trust-store",
            &store,
        ]),
        10,
        &["already in the trust store", "for `Acme Corp`", "--replace"],
    );
    let packed = ok(&s.pack(&MANIFEST.replace("\"Acme\"", "\"Acme Corp\""), "p.morph"));
    ok(&s.morph(&["sign", &s.s("p.morph"), "--key", &s.s("k.key")]));
    ok(&s.morph(&["verify", &s.s("p.morph"), "--trust-store", &store]));

    let module = field(&packed, "module");
    let denied = ok(&s.morph(&[
        "trust",
        "deny",
        &module,
        "--reason",
        "CVE-2099-1",
        "--trust-store",
        &store,
    ]));
    assert_eq!(denied, format!("denied {module} (CVE-2099-1)\n"));
    fails(
        &s.morph(&["verify", &s.s("p.morph"), "--trust-store", &store]),
        12,
        &["is on the denylist (CVE-2099-1)"],
    );

    let json: serde_json::Value = serde_json::from_str(&ok(&s.morph(&[
        "trust",
        "list",
        "--json",
        "--trust-store",
        &store,
    ])))
    .unwrap();
    assert_eq!(
        json["keys"],
        serde_json::json!([{
            "key_id": id, "algorithm": "ed25519", "publisher": "Acme Corp", "revoked": false
        }])
    );
    assert_eq!(
        json["denied"],
        serde_json::json!([{"digest": module, "reason": "CVE-2099-1"}])
    );
    assert_eq!(json["trust_store"], store.as_str());

    ok(&s.morph(&["trust", "revoke", &id, "--trust-store", &store]));
    let list = ok(&s.morph(&["trust", "list", "--trust-store", &store]));
    assert!(
        list.contains(&format!("  {id}  ed25519         revoked  Acme Corp\n")),
        "{list}"
    );
    assert!(
        list.contains(&format!("  {module}  CVE-2099-1\n")),
        "{list}"
    );
    let again = ok(&s.morph(&["trust", "revoke", &id, "--trust-store", &store]));
    assert!(again.starts_with("already revoked:"), "{again}");

    // Key ids and digests that are not, and keys that are not there.
    fails(
        &s.morph(&[
            "trust",
            "revoke",
            "0123456789abcdef",
            "--trust-store",
            &store,
        ]),
        10,
        &[
            "no key in the trust store",
            "starting with `0123456789abcdef`",
            "morph trust list",
        ],
    );
    for (args, needle) in [
        (vec!["trust", "revoke", "abc"], "16 to 64 hex digits"),
        (
            vec!["trust", "deny", "md5:abc"],
            "does not start with `sha256:`",
        ),
        (
            vec!["trust", "add", "k.pub", "--publisher", ""],
            "`publisher` is empty",
        ),
    ] {
        let out = s.morph(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    // A store that is not one.
    std::fs::write(s.path("bad.json"), "{}").unwrap();
    fails(
        &s.morph(&["trust", "list", "--trust-store", &s.s("bad.json")]),
        14,
        &["bad.json is unreadable", "--trust-store FILE"],
    );
}

#[test]
fn the_default_store_is_morph_home_then_xdg_data_home_then_home() {
    let s = Scratch::new();
    keygen(&s, "ed25519", &[], "k");
    let add = ["trust", "add", &s.s("k.pub"), "--publisher", "Acme"];
    let home = s.path("home");
    let xdg = s.path("xdg");
    let mh = s.path("mh");
    let cases: [(Vec<(&str, &std::ffi::OsStr)>, PathBuf); 3] = [
        (
            vec![
                ("MORPH_HOME", mh.as_os_str()),
                ("XDG_DATA_HOME", xdg.as_os_str()),
            ],
            mh.join("trust.json"),
        ),
        (
            vec![("XDG_DATA_HOME", xdg.as_os_str())],
            xdg.join("morph/trust.json"),
        ),
        (vec![], home.join(".local/share/morph/trust.json")),
    ];
    for (env, expected) in cases {
        let out = s.morph_env(&add, &env, None);
        let stdout = ok(&out);
        assert_eq!(
            field(&stdout, "trust store"),
            expected.display().to_string()
        );
        assert!(expected.is_file(), "{}", expected.display());
    }
    // Nowhere to put it.
    let out = Command::new(env!("CARGO_BIN_EXE_morph"))
        .args(["trust", "list"])
        .env_remove("MORPH_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("HOME")
        .output()
        .unwrap();
    fails(&out, 2, &["set MORPH_HOME or pass `--trust-store FILE`"]);
}

#[test]
fn bad_references_and_registry_flags_are_usage_errors() {
    let s = Scratch::new();
    ok(&s.pack(MANIFEST, "p.morph"));
    let p = s.s("p.morph");
    let layout = format!("oci-layout:{}:v1", s.s("layout"));
    let out = s.morph(&["push", &p, "http://example/x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must start with `oci://`"));
    fails(
        &s.morph(&["push", &p, &layout, "--plain-http"]),
        2,
        &["is a local folder", "drop them"],
    );
    let out = s.morph(&["push", &p, &layout, "--user", "u"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--password-stdin"));
    fails(
        &s.morph(&[
            "push",
            &p,
            "oci://registry.example/acme/hello:v1",
            "--plain-http",
        ]),
        2,
        &["plain HTTP is only allowed", "drop `--plain-http`"],
    );
    fails(
        &s.morph(&[
            "pull",
            &format!("oci-layout:{}:nope", s.s("layout-missing")),
            "--out",
            &s.s("x.morph"),
        ]),
        13,
        &[],
    );
    // An unsigned package travels (the registry carries signatures, it does not check them).
    let pushed = ok(&s.morph(&["push", &p, &layout]));
    assert!(pushed.contains("(unsigned)"), "{pushed}");
}

#[test]
fn help_documents_the_new_codes_and_the_trust_store() {
    let out = Command::new(env!("CARGO_BIN_EXE_morph"))
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "  12  verification failed",
        "  13  registry error",
        "  14  invalid package, manifest, key or trust store file",
        "$MORPH_HOME/trust.json",
        "keygen",
        "pack",
        "sign",
        "verify",
        "trust",
        "push",
        "pull",
    ] {
        assert!(text.contains(needle), "`{needle}` not in:\n{text}");
    }
    for cmd in [&["verify", "--help"][..], &["trust", "add", "--help"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_morph"))
            .args(cmd)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("--trust-store <FILE>"), "{text}");
        assert!(text.contains("XDG_DATA_HOME"), "{text}");
    }
}

// ---------------------------------------------------------------------------------------
// A real registry.

const USER: &str = "morph";
const PASSWORD: &str = "s3cret-test-password";

/// Whether the registry tools are on PATH. Absent: under `CI=true` that fails the test;
/// elsewhere the test is skipped with a loud message.
fn have_registry_tools() -> bool {
    let missing: Vec<&str> = ["docker-registry", "htpasswd"]
        .into_iter()
        .filter(|tool| {
            !std::env::var_os("PATH").is_some_and(|paths| {
                std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file())
            })
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    let msg =
        format!("the registry test needs {missing:?} (Debian: docker-registry, apache2-utils)");
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{msg}, and CI=true: they must be installed"
    );
    // Written to the stderr handle itself, past libtest's capture, so the skip is seen.
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!! SKIPPED: {msg}; install them to run this test !!!!!!!!\n"
    );
    false
}

/// A running `docker-registry` with htpasswd auth on a free loopback port; killed on drop.
struct Registry {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Registry {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let htpasswd = Command::new("htpasswd")
            .args(["-Bbn", USER, PASSWORD])
            .output()
            .unwrap();
        assert!(htpasswd.status.success(), "htpasswd failed");
        std::fs::write(dir.path().join("htpasswd"), &htpasswd.stdout).unwrap();
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {root}\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: morph-test\nauth:\n  htpasswd:\n    realm: morph-test\n    path: {htpasswd}\n",
            root = dir.path().join("storage").display(),
            htpasswd = dir.path().join("htpasswd").display(),
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut registry = Self { child, dir, port };
        registry.wait_ready();
        registry
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("docker-registry exited ({status}): {}", self.log());
            }
            if answers(self.port) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("docker-registry did not answer within 20 s: {}", self.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    fn reference(&self, repo_tag: &str) -> String {
        format!("oci://127.0.0.1:{}/{repo_tag}", self.port)
    }
}

/// Whether an HTTP server answers `GET /v2/` on the port.
fn answers(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let req = format!("GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut out = Vec::new();
    s.read_to_end(&mut out).is_ok() && out.starts_with(b"HTTP/")
}

#[test]
fn push_and_pull_through_a_real_registry_with_basic_auth() {
    if !have_registry_tools() {
        return;
    }
    let registry = Registry::start();
    for (alg, extra) in ALGORITHMS {
        let s = Scratch::new();
        let id = keygen(&s, alg, extra, "k");
        ok(&s.pack(MANIFEST, "p.morph"));
        ok(&s.morph(&["sign", &s.s("p.morph"), "--key", &s.s("k.key")]));
        ok(&s.morph(&["trust", "add", &s.s("k.pub"), "--publisher", "Acme"]));
        let reference = registry.reference(&format!("acme/hello-{alg}:1.0.0"));
        let p = s.s("p.morph");
        let auth = |args: &[&str], password: &str| {
            let mut all = args.to_vec();
            all.extend(["--plain-http", "--user", USER, "--password-stdin"]);
            s.morph_env(
                &all,
                &[("MORPH_HOME", s.home().as_os_str())],
                Some(format!("{password}\n").as_bytes()),
            )
        };

        // No credentials, wrong ones, and HTTPS to a plain-HTTP registry: refused, with
        // what to do.
        fails(
            &s.morph(&["push", &p, &reference, "--plain-http"]),
            13,
            &["refused access", "--user NAME --password-stdin"],
        );
        fails(
            &auth(&["push", &p, &reference], "wrong"),
            13,
            &["refused access"],
        );
        fails(
            &s.morph(&["push", &p, &reference]),
            13,
            &["if the registry on this machine speaks plain HTTP, add `--plain-http`"],
        );

        let pushed = ok(&auth(&["push", &p, &reference], PASSWORD));
        assert!(pushed.contains("pushed hello@1.0.0 (signed)"), "{pushed}");
        let digest = field(&pushed, "digest");
        let pulled = ok(&auth(
            &["pull", &reference, "--out", &s.s("pulled.morph")],
            PASSWORD,
        ));
        assert_eq!(field(&pulled, "digest"), digest);
        let verified = ok(&s.morph(&["verify", &s.s("pulled.morph")]));
        assert_eq!(field(&verified, "key id"), id);
        assert_eq!(field(&verified, "algorithm"), *alg);
        assert_eq!(
            std::fs::read(s.path("pulled.morph")).unwrap(),
            std::fs::read(s.path("p.morph")).unwrap()
        );
        // By digest, and a tag that is not there.
        let pinned = field(&pushed, "pinned");
        ok(&auth(
            &["pull", &pinned, "--out", &s.s("pinned.morph")],
            PASSWORD,
        ));
        fails(
            &auth(
                &[
                    "pull",
                    &registry.reference(&format!("acme/hello-{alg}:nope")),
                    "--out",
                    &s.s("x.morph"),
                ],
                PASSWORD,
            ),
            13,
            &["was not found"],
        );
        assert!(!s.path("x.morph").exists());

        // The whole path: a package whose manifest matches the module, pushed, then
        // installed from the registry into a fresh store (the key is trusted) and run
        // from there.
        ok(&s.pack(&MANIFEST.replace("1.0.0", "0.1.0"), "i.morph"));
        ok(&s.morph(&["sign", &s.s("i.morph"), "--key", &s.s("k.key")]));
        let installable = registry.reference(&format!("acme/hello-{alg}:0.1.0"));
        ok(&auth(&["push", &s.s("i.morph"), &installable], PASSWORD));
        ok(&auth(&["install", &installable], PASSWORD));
        let out = ok(&s.morph(&["run", "hello", "greet", "--input", r#"{"name":"Ada"}"#]));
        assert!(out.contains("Hello, Ada!"), "{out}");
    }
}
