//! The `morph` binary end to end, on every backend of this build: the sample runs and
//! prints byte-identical output everywhere, and every kind of bad module or input exits
//! non-zero within seconds with one clear message, never a panic. Every limit has a flag
//! that an error names; guest text reaches the terminal escaped; a closed stdout ends a
//! command quietly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BACKENDS: &[&str] = &[
    "wasmtime",
    "wasmtime-core",
    "wasmer-cranelift",
    "wasmer-singlepass",
    "wasmi",
];

/// An extension built by `cargo xtask build`.
fn built(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/extensions")
        .join(format!("{name}.wasm"));
    assert!(
        p.is_file(),
        "{} is missing: run `cargo xtask build` first (cargo xtask ci does)",
        p.display()
    );
    p
}

fn hello() -> PathBuf {
    built("hello")
}

/// Runs `morph` with a store of its own (`MORPH_HOME` in a fresh folder): runs hold
/// the store while they run, and tests must not touch the user's.
fn morph(args: &[&str]) -> Output {
    let home = tempfile::tempdir().expect("tempdir");
    Command::new(env!("CARGO_BIN_EXE_morph"))
        .args(args)
        .env_remove("MORPH_LOG")
        .env("MORPH_HOME", home.path())
        .output()
        .expect("morph runs")
}

/// The exports every Morph module needs, for hand-written fixtures.
const EXPORTS: &str = r#"
    (func (export "describe") (result i32) i32.const 0)
    (func (export "execute") (param i32 i32 i32 i32) (result i32) i32.const 0)
    (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) i32.const 1024)
    (@custom "morph:contract" "0.1.0")
"#;

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn fixture(name: &str, bytes: &[u8]) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write fixture");
    Fixture { _dir: dir, path }
}

fn wat(name: &str, body: &str) -> Fixture {
    let bytes = wat::parse_str(format!("(module {body})")).expect("fixture WAT parses");
    fixture(name, &bytes)
}

/// Asserts a failure: the exit code, one line on stderr containing `needle`, no panic.
fn assert_fails(out: &Output, code: i32, needle: &str, started: Instant) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert!(stderr.contains(needle), "expected `{needle}` in: {stderr}");
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    assert!(!stderr.contains("stack backtrace"), "backtrace: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one message: {stderr}");
    assert!(out.stdout.is_empty(), "nothing on stdout");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn greet_prints_identical_json_on_every_backend() {
    let hello = hello();
    let outputs: Vec<Vec<u8>> = BACKENDS
        .iter()
        .map(|b| {
            let out = morph(&[
                "run",
                hello.to_str().unwrap(),
                "greet",
                "--input",
                r#"{"name":"Ada"}"#,
                "--backend",
                b,
            ]);
            assert!(
                out.status.success(),
                "{b}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        })
        .collect();
    let text = String::from_utf8(outputs[0].clone()).unwrap();
    assert_eq!(text, "{\"greeting\":\"Hello, Ada!\",\"count\":1}\n");
    for (b, o) in BACKENDS.iter().zip(&outputs) {
        assert_eq!(o, &outputs[0], "{b} differs");
    }
}

#[test]
fn input_file_and_every_action_work() {
    let hello = hello();
    let input = fixture("in.json", br#"{"text":"one two  three"}"#);
    let out = morph(&[
        "run",
        hello.to_str().unwrap(),
        "count-words",
        "--input-file",
        input.path.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"words\":3,\"characters\":14}\n"
    );
    let out = morph(&["run", hello.to_str().unwrap(), "echo", "--input", "[1,2]"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[1,2]\n");
}

#[test]
fn describe_lists_every_action_with_its_schemas() {
    let hello = hello();
    for b in BACKENDS {
        let out = morph(&["describe", hello.to_str().unwrap(), "--backend", b]);
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        for action in ["greet", "count-words", "echo"] {
            assert!(text.contains(action), "{text}");
        }
        assert!(
            text.contains("input:  {\"additionalProperties\":false"),
            "{text}"
        );
        assert!(text.contains("greeted"), "{text}");

        let out = morph(&[
            "describe",
            hello.to_str().unwrap(),
            "--backend",
            b,
            "--json",
        ]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["id"], "hello");
        assert_eq!(v["actions"].as_array().unwrap().len(), 5);
        assert_eq!(v["actions"][0]["side_effect"], "none");
    }
}

#[test]
fn bad_modules_fail_cleanly_on_every_backend() {
    let hello_bytes = std::fs::read(hello()).unwrap();
    let text = fixture("notes.txt", b"this is a text file, not wasm\n");
    let random = fixture(
        "random.wasm",
        &(0u32..4096)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect::<Vec<_>>(),
    );
    let truncated = fixture("truncated.wasm", &hello_bytes[..hello_bytes.len() / 3]);
    let empty = wat("empty.wasm", "");
    let bad_import = wat(
        "import.wasm",
        &format!(
            r#"(import "env" "system" (func (param i32))) (memory (export "memory") 1) {EXPORTS}"#
        ),
    );
    let huge = wat(
        "huge.wasm",
        &format!(r#"(memory (export "memory") 65536) {EXPORTS}"#),
    );
    let future = wat(
        "future.wasm",
        &format!(
            r#"(memory (export "memory") 1) {}"#,
            EXPORTS.replace("0.1.0", "7.0.0")
        ),
    );
    let cases: &[(&Fixture, &[&str], i32, &str)] = &[
        (&text, &[], 4, "not a WebAssembly module"),
        (&random, &[], 4, "not a WebAssembly module"),
        (&truncated, &[], 4, "does not validate"),
        (&empty, &[], 4, "no `morph:contract` custom section"),
        (&bad_import, &[], 4, "imports `env::system`"),
        (&huge, &[], 7, "memory limit"),
        (&future, &[], 5, "contract 7.0.0"),
    ];
    for b in BACKENDS {
        for (fx, extra, code, needle) in cases {
            let started = Instant::now();
            let mut args = vec!["run", fx.path.to_str().unwrap(), "greet", "--backend", b];
            args.extend_from_slice(extra);
            let out = morph(&args);
            assert_fails(&out, *code, needle, started);
        }
    }
}

#[test]
fn a_start_function_that_never_returns_is_stopped() {
    let spin = wat(
        "spin.wasm",
        &format!(
            r#"(memory (export "memory") 1) (func $spin (loop br 0)) (start $spin) {EXPORTS}"#
        ),
    );
    for b in BACKENDS {
        let started = Instant::now();
        let out = morph(&[
            "run",
            spin.path.to_str().unwrap(),
            "greet",
            "--backend",
            b,
            "--timeout",
            "1000",
            "--fuel",
            "0",
        ]);
        assert_fails(&out, 7, "timeout limit", started);
        assert_fails(&out, 7, "; raise it with `--timeout MS`", started);
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}

#[test]
fn bad_actions_and_inputs_fail_cleanly() {
    let hello = hello();
    let h = hello.to_str().unwrap();
    for b in BACKENDS {
        let cases: &[(&[&str], i32, &str)] = &[
            (
                &["run", h, "launch-rockets"],
                10,
                "unknown action `launch-rockets`; available actions: greet, count-words, echo, sha256, kv-reads",
            ),
            (
                &["run", h, "greet", "--input", "{not json"],
                10,
                "the input is not JSON",
            ),
            (
                &["run", h, "greet", "--input", r#"{"name": 42}"#],
                10,
                "does not match the action's schema",
            ),
            (
                &["run", h, "greet", "--input", r#"{"nom": "Ada"}"#],
                10,
                "does not match the action's schema",
            ),
        ];
        for (args, code, needle) in cases {
            let started = Instant::now();
            let mut args = args.to_vec();
            args.extend_from_slice(&["--backend", b]);
            assert_fails(&morph(&args), *code, needle, started);
        }
    }
}

#[test]
fn missing_files_are_reported() {
    let started = Instant::now();
    assert_fails(
        &morph(&["run", "/nonexistent.wasm", "greet"]),
        3,
        "cannot read module `/nonexistent.wasm`",
        started,
    );
    assert_fails(
        &morph(&[
            "run",
            hello().to_str().unwrap(),
            "greet",
            "--input-file",
            "/nonexistent.json",
        ]),
        3,
        "cannot read input file `/nonexistent.json`",
        started,
    );
}

/// Asserts a usage error: exit 2, clap's message naming `needle`, nothing on stdout.
fn assert_usage_error(args: &[&str], needle: &str) {
    let out = morph(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(needle), "expected `{needle}` in: {stderr}");
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    assert!(out.stdout.is_empty(), "nothing on stdout");
}

#[test]
fn bad_flag_values_are_usage_errors() {
    let hello = hello();
    let h = hello.to_str().unwrap();
    assert_usage_error(
        &["run", h, "greet", "--backend", "v8"],
        "[possible values: wasmtime, wasmtime-core, wasmer-cranelift, wasmer-singlepass, wasmi]",
    );
    assert_usage_error(
        &["describe", h, "--backend", "bogus"],
        "invalid value 'bogus' for '--backend <BACKEND>'",
    );
    assert_usage_error(
        &["run", h, "greet", "--metering", "fast"],
        "[possible values: native, deterministic]",
    );
    assert_usage_error(
        &["run", h, "greet", "--memory", "12parsecs"],
        "unknown size unit",
    );
    assert_usage_error(&["run", h, "greet", "--max-output", "4G"], "is too large");
    assert_usage_error(
        &["run", h, "greet", "--fuel=-1"],
        "invalid value '-1' for '--fuel <N>'",
    );
    assert_usage_error(&["run", h, "greet", "--timeout", "soon"], "--timeout");
    assert_usage_error(
        &["run", h, "greet", "--input", "{}", "--input-file", "x"],
        "cannot be used with",
    );
}

#[test]
fn help_lists_every_exit_code() {
    let out = morph(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for (code, meaning) in [
        (0, "success"),
        (1, "engine or internal error"),
        (2, "bad command line"),
        (3, "a file could not be read"),
        (4, "invalid module"),
        (5, "unsupported contract version"),
        (6, "the extension misbehaved"),
        (7, "a resource limit was exceeded"),
        (8, "the action returned an error"),
        (9, "permission denied"),
        (10, "unknown action or invalid input"),
        (11, "backend not available in this build"),
    ] {
        assert!(
            text.contains(&format!("{code:>4}  {meaning}")),
            "exit {code} missing from:\n{text}"
        );
    }
}

/// Every limit flag, at generous values, on both commands that load a guest: accepted,
/// and the output is what it is without them.
#[test]
fn every_limit_flag_is_accepted() {
    let hello = hello();
    let h = hello.to_str().unwrap();
    let flags = [
        "--fuel",
        "2000000000",
        "--memory",
        "128M",
        "--timeout",
        "20000",
        "--max-output",
        "1MiB",
        "--max-input",
        "64K",
        "--max-host-calls",
        "1000",
        "--max-module",
        "16M",
        "--max-transfer",
        "8M",
        "--max-log",
        "4K",
    ];
    for b in BACKENDS {
        for metering in ["native", "deterministic"] {
            let mut args = vec!["run", h, "greet", "--input", r#"{"name":"Ada"}"#];
            args.extend_from_slice(&flags);
            args.extend_from_slice(&["--metering", metering, "--backend", b]);
            let out = morph(&args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{b} {metering}: {stderr}");
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                "{\"greeting\":\"Hello, Ada!\",\"count\":1}\n"
            );

            let mut args = vec!["describe", h, "--json"];
            args.extend_from_slice(&flags);
            args.extend_from_slice(&["--metering", metering, "--backend", b]);
            let out = morph(&args);
            assert!(out.status.success(), "{b} {metering}");
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v["id"], "hello");
        }
    }
}

/// Each limit, set too low, trips with exit 7 and a message naming the flag that raises
/// it. One row per limit; the timeout's row is `a_start_function_that_never_returns_is_stopped`.
#[test]
fn each_limit_names_the_flag_that_raises_it() {
    let hello = hello();
    let adversary = built("adversary");
    let (h, a) = (hello.to_str().unwrap(), adversary.to_str().unwrap());
    let greet = r#"{"name":"Ada"}"#;
    let cases = [
        LimitCase {
            args: &[h, "greet", "--input", greet, "--fuel", "1"],
            limit: "cpu limit",
            flag: "--fuel N",
        },
        LimitCase {
            args: &[
                h,
                "greet",
                "--input",
                greet,
                "--fuel",
                "1",
                "--metering",
                "deterministic",
            ],
            limit: "cpu limit",
            flag: "--fuel N",
        },
        LimitCase {
            args: &[h, "greet", "--input", greet, "--memory", "64K"],
            limit: "memory limit",
            flag: "--memory SIZE",
        },
        LimitCase {
            args: &[h, "greet", "--input", greet, "--max-output", "16"],
            limit: "output limit",
            flag: "--max-output SIZE",
        },
        LimitCase {
            args: &[h, "greet", "--input", greet, "--max-input", "4"],
            limit: "input limit",
            flag: "--max-input SIZE",
        },
        LimitCase {
            args: &[h, "greet", "--input", greet, "--max-module", "1K"],
            limit: "module-size limit",
            flag: "--max-module SIZE",
        },
        LimitCase {
            args: &[h, "greet", "--input", greet, "--max-transfer", "16"],
            limit: "transfer limit",
            flag: "--max-transfer SIZE",
        },
        LimitCase {
            args: &[
                a,
                "storm",
                "--input",
                r#"{"n":1000}"#,
                "--max-host-calls",
                "10",
            ],
            limit: "host-calls limit",
            flag: "--max-host-calls N",
        },
    ];
    for b in BACKENDS {
        for case in &cases {
            let started = Instant::now();
            let mut args = vec!["run", "--backend", b];
            args.extend_from_slice(case.args);
            let out = morph(&args);
            assert_fails(&out, 7, case.limit, started);
            let hint = format!("; raise it with `{}`", case.flag);
            assert_fails(&out, 7, &hint, started);
        }
    }
}

/// One row of `each_limit_names_the_flag_that_raises_it`: `morph run` arguments, the
/// limit the message names and the flag it says raises it.
struct LimitCase<'a> {
    args: &'a [&'a str],
    limit: &'a str,
    flag: &'a str,
}

#[test]
fn a_refused_permission_is_named() {
    let adversary = built("adversary");
    for b in BACKENDS {
        let started = Instant::now();
        let out = morph(&["run", adversary.to_str().unwrap(), "clock", "--backend", b]);
        assert_fails(&out, 9, "`clock` does not allow reading the clock", started);
        assert_fails(&out, 9, "; run again with `--grant 'clock'`", started);
    }
}

/// A hand-written module's data segments, laid out from address 1024: strings and
/// little-endian records of `u32` words, each 4-aligned.
struct Data {
    next: u32,
    wat: String,
}

impl Data {
    fn new() -> Self {
        Data {
            next: 1024,
            wat: String::new(),
        }
    }

    fn bytes(&mut self, bytes: &[u8]) -> u32 {
        let at = self.next;
        let escaped: String = bytes.iter().map(|b| format!("\\{b:02x}")).collect();
        self.wat
            .push_str(&format!("(data (i32.const {at}) \"{escaped}\")\n"));
        self.next += u32::try_from(bytes.len().next_multiple_of(4))
            .unwrap()
            .max(4);
        at
    }

    /// A string: its (pointer, length) words.
    fn string(&mut self, s: &str) -> [u32; 2] {
        [self.bytes(s.as_bytes()), u32::try_from(s.len()).unwrap()]
    }

    fn record(&mut self, words: &[u32]) -> u32 {
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        self.bytes(&bytes)
    }
}

/// An extension that writes a terminal control into every field it can: its
/// description, its output (input `{}`), its error (any other input) and a log line.
/// Its action and event names are ones a grant can hold (`prepare` refuses others).
fn hostile() -> Fixture {
    hostile_named("evil", "event")
}

/// [`hostile`] with its second action and its event named `action` and `event`.
fn hostile_named(action: &str, event: &str) -> Fixture {
    let mut d = Data::new();
    let [run_p, run_l] = d.string("run");
    let [rd_p, rd_l] = d.string("does\u{9b}2J things");
    let [in_p, in_l] = d.string("{\"description\":\"in\u{202e}put\"}");
    let [any_p, any_l] = d.string("{}");
    let [evil_p, evil_l] = d.string(action);
    let [pw_p, pw_l] = d.string("pwned\u{1b}]0;title\u{7}");
    let actions = d.record(&[
        run_p, run_l, rd_p, rd_l, in_p, in_l, any_p, any_l, 0, // side effect: none
        evil_p, evil_l, pw_p, pw_l, any_p, any_l, any_p, any_l, 0,
    ]);
    let [en_p, en_l] = d.string(event);
    let [ed_p, ed_l] = d.string("line\u{2028}break");
    let events = d.record(&[en_p, en_l, ed_p, ed_l, any_p, any_l]);
    let [id_p, id_l] = d.string("evil\u{1b}[31m");
    let [nm_p, nm_l] = d.string("Name\r\nFAKE");
    let [v_p, v_l] = d.string("1.0\u{7}");
    let [ds_p, ds_l] = d.string("right\u{202e}tfel");
    let info = d.record(&[
        id_p, id_l, nm_p, nm_l, v_p, v_l, ds_p, ds_l, actions, 2, events, 1, 0, 0, 0,
    ]);
    let [out_p, out_l] = d.string("{\"t\" : \"a\u{202e}b\u{9b}c\",\n \"n\":1}\r\n");
    let [err_p, err_l] = d.string("bad\u{1b}[2J\r\nthing");
    let [log_p, log_l] = d.string("log\u{1b}[31m\rline");
    let data = d.wat;
    wat(
        "hostile.wasm",
        &format!(
            r#"
            (import "morph:extension/log@0.1.0" "log" (func $log (param i32 i32 i32)))
            (memory (export "memory") 1)
            (global $heap (mut i32) (i32.const 32768))
            (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
              (local $p i32)
              (local.set $p
                (i32.and
                  (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
                  (i32.sub (i32.const 0) (local.get 2))))
              (global.set $heap (i32.add (local.get $p) (local.get 3)))
              (local.get $p))
            (func (export "describe") (result i32) (i32.const {info}))
            (func (export "execute") (param i32 i32 i32 i32) (result i32)
              (if (i32.eq (local.get 3) (i32.const 2))
                (then
                  (call $log (i32.const 3) (i32.const {log_p}) (i32.const {log_l}))
                  (i32.store8 (i32.const 256) (i32.const 0))
                  (i32.store (i32.const 260) (i32.const {out_p}))
                  (i32.store (i32.const 264) (i32.const {out_l})))
                (else
                  ;; error {{ kind: not-found, message, details: none }}
                  (i32.store8 (i32.const 256) (i32.const 1))
                  (i32.store8 (i32.const 260) (i32.const 2))
                  (i32.store (i32.const 264) (i32.const {err_p}))
                  (i32.store (i32.const 268) (i32.const {err_l}))
                  (i32.store8 (i32.const 272) (i32.const 0))))
              (i32.const 256))
            {data}
            (@custom "morph:contract" "0.1.0")
            "#
        ),
    )
}

/// Whether `bytes` hold a character a terminal would act on, other than the newline
/// that ends a line of output.
fn has_terminal_control(bytes: &[u8]) -> Option<char> {
    String::from_utf8_lossy(bytes).chars().find(|c| {
        *c != '\n'
            && (c.is_control()
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}'))
    })
}

#[test]
fn guest_text_reaches_the_terminal_escaped_on_every_backend() {
    let fx = hostile();
    let m = fx.path.to_str().unwrap();
    for b in BACKENDS {
        let out = morph(&["describe", m, "--backend", b]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{b}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(has_terminal_control(&out.stdout), None, "{b}: {stdout}");
        for shown in [
            "evil\\u{1b}[31m 1.0\\u{7}  (Name\\r\\nFAKE)\n",
            "\nright\\u{202e}tfel\n",
            "none         does\\u{9b}2J things\n",
            "input:  {\"description\":\"in\\u{202e}put\"}\n",
            "  evil  none         pwned\\u{1b}]0;title\\u{7}\n",
            "  event  line\\u{2028}break\n",
        ] {
            assert!(stdout.contains(shown), "{b}: `{shown}` not in:\n{stdout}");
        }

        let out = morph(&["describe", m, "--backend", b, "--json"]);
        assert_eq!(has_terminal_control(&out.stdout), None, "{b}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["id"], "evil\u{1b}[31m", "the JSON means the guest's text");
        assert_eq!(v["description"], "right\u{202e}tfel");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(r#""description": "right\u202etfel","#),
            "{text}"
        );

        let out = morph(&["run", m, "run", "--backend", b]);
        assert!(
            out.status.success(),
            "{b}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "{\"t\":\"a\\u202eb\\u009bc\",\"n\":1}\n",
            "{b}: compact, in the guest's key order, controls escaped"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            has_terminal_control(&out.stderr),
            None,
            "{b}: the log line: {stderr:?}"
        );
        assert!(stderr.contains("log\\u{1b}[31m\\rline"), "{b}: {stderr}");

        let started = Instant::now();
        let out = morph(&["run", m, "run", "--input", "[1]", "--backend", b]);
        assert_eq!(has_terminal_control(&out.stderr), None, "{b}");
        assert_fails(
            &out,
            8,
            "morph: error: the action failed: not-found: bad\\u{1b}[2J\\r\\nthing\n",
            started,
        );

        let out = morph(&["run", m, "nope", "--backend", b]);
        assert_eq!(has_terminal_control(&out.stderr), None, "{b}");
        assert_fails(&out, 10, "available actions: run, evil", started);
    }
}

/// Grants name actions and events (`action:destructive:NAME`, `events:NAME`): a module
/// declaring a name no grant can hold is refused when it is prepared, on every backend,
/// with the name (escaped), the rule and what to do.
#[test]
fn a_name_no_grant_can_hold_is_refused_at_prepare_on_every_backend() {
    let control = hostile_named("evil\u{1b}]0;pwned\u{7}", "event");
    let space = hostile_named("evil", "issue opened");
    for b in BACKENDS {
        for (fx, needle) in [
            (
                &control,
                "morph: error: the extension broke the contract: action \
                 `evil\\u{1b}]0;pwned\\u{7}` has a name no grant can hold \
                 (`action:destructive:NAME`): a name may hold only ASCII letters, digits, \
                 `_`, `-` and `.`; rename the action in the extension's `describe()` (and \
                 in its morph.toml)\n",
            ),
            (
                &space,
                "event `issue opened` has a name no grant can hold (`events:NAME`): a name \
                 may hold only ASCII letters, digits, `_`, `-` and `.`; rename the event",
            ),
        ] {
            let started = Instant::now();
            let out = morph(&["describe", fx.path.to_str().unwrap(), "--backend", b]);
            assert_eq!(has_terminal_control(&out.stderr), None, "{b}");
            assert_fails(&out, 6, needle, started);
        }
    }
}

/// `morph describe x.wasm | head -1`: the reader goes away; the command stops without a
/// word and exits 0, never panics.
#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let hello = hello();
    let h = hello.to_str().unwrap();
    let commands: &[&[&str]] = &[
        &["describe", h],
        &["describe", h, "--json"],
        &["run", h, "greet", "--input", r#"{"name":"Ada"}"#],
        &["backends"],
        &["backends", "--json"],
        &["--help"],
    ];
    for args in commands {
        let home = tempfile::tempdir().expect("tempdir");
        let mut child = Command::new(env!("CARGO_BIN_EXE_morph"))
            .args(*args)
            .env_remove("MORPH_LOG")
            .env("MORPH_HOME", home.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("morph runs");
        // Close the read end before morph writes anything.
        drop(child.stdout.take());
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = child.wait().unwrap();
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}: quiet");
        assert!(status.success(), "{args:?}: {status}");
    }
}

#[test]
fn backends_lists_all_five() {
    let out = morph(&["backends", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "wasmtime",
            "wasmtime-core",
            "wasmer-cranelift",
            "wasmer-singlepass",
            "wasmi"
        ]
    );
}

/// `morph bench --json --quick`: every row, each Morph figure paired with the raw
/// engine's and a ratio (memory rows may instead say why not: a few items may not move
/// the resident set). Shape and sanity only: timings on a shared machine prove nothing.
#[test]
fn bench_reports_every_row_with_its_raw_pairing() {
    let hello = hello();
    let out = morph(&[
        "bench",
        hello.to_str().unwrap(),
        "--backend",
        "wasmtime-core",
        "--json",
        "--quick",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stderr: {stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["schema"], "morph-bench/1");
    assert_eq!(report["quick"], true);
    let rows = report["rows"].as_array().expect("rows");
    let ids: Vec<&str> = rows.iter().map(|r| r["row"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "compile",
            "cache-load",
            "instantiate",
            "first-call",
            "describe",
            "echo",
            "count-words",
            "sha256",
            "kv-get",
            "throughput-1",
            "throughput-2",
            "memory-prepared",
            "memory-instance",
        ]
    );
    for row in rows {
        let id = row["row"].as_str().unwrap();
        assert_eq!(row["backend"], "wasmtime-core", "{row}");
        assert!(!row["work"].as_str().unwrap().is_empty(), "{row}");
        let unit = row["unit"].as_str().unwrap();
        let expected_unit = match id {
            "throughput-1" | "throughput-2" => "calls/s",
            "memory-prepared" | "memory-instance" => "bytes",
            _ => "ns",
        };
        assert_eq!(unit, expected_unit, "{row}");
        let figure = |key: &str| row[key].as_f64();
        if id.starts_with("memory-") {
            assert!(figure("morph").is_some_and(|m| m >= 0.0), "{row}");
            assert!(figure("raw").is_some_and(|r| r >= 0.0), "{row}");
            if figure("ratio").is_none() {
                assert!(row["note"].as_str().is_some_and(|n| !n.is_empty()), "{row}");
            }
        } else {
            for key in ["morph", "raw", "ratio"] {
                assert!(figure(key).is_some_and(|v| v > 0.0), "{key} of {row}");
            }
            let ratio = figure("morph").unwrap() / figure("raw").unwrap();
            assert!(
                (figure("ratio").unwrap() - ratio).abs() < 1e-6 * ratio,
                "{row}"
            );
        }
        assert_eq!(figure("native").is_some(), id == "sha256", "{row}");
    }
}

/// The table names every row once per backend, and `--backend` refuses a name that is
/// no backend with the list of those that are.
#[test]
fn bench_prints_a_table_and_checks_its_backend() {
    let hello = hello();
    let out = morph(&[
        "bench",
        hello.to_str().unwrap(),
        "--backend",
        "wasmi",
        "--quick",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("backend"), "{stdout}");
    assert_eq!(lines.len(), 14, "{stdout}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("wasmi") && l.contains("sha256")),
        "{stdout}"
    );

    let started = Instant::now();
    let out = morph(&["bench", hello.to_str().unwrap(), "--backend", "v8"]);
    assert_fails(
        &out,
        2,
        "no backend `v8`; `--backend` takes `all` or one of: wasmtime, wasmtime-core",
        started,
    );
}
