//! The `morph` binary end to end, on every backend of this build: the sample runs and
//! prints byte-identical output everywhere, and every kind of bad module or input exits
//! non-zero within seconds with one clear message, never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const BACKENDS: &[&str] = &[
    "wasmtime",
    "wasmtime-core",
    "wasmer-cranelift",
    "wasmer-singlepass",
    "wasmi",
];

fn hello() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/extensions/hello.wasm");
    assert!(
        p.is_file(),
        "{} is missing: run `cargo xtask build` first (cargo xtask ci does)",
        p.display()
    );
    p
}

fn morph(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_morph"))
        .args(args)
        .env_remove("MORPH_LOG")
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
        assert_eq!(v["actions"].as_array().unwrap().len(), 3);
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
                "unknown action `launch-rockets`; available actions: greet, count-words, echo",
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
fn unknown_backend_and_missing_file_are_reported() {
    let started = Instant::now();
    assert_fails(
        &morph(&["run", "/nonexistent.wasm", "greet"]),
        3,
        "cannot read module",
        started,
    );
    let hello = hello();
    assert_fails(
        &morph(&["run", hello.to_str().unwrap(), "greet", "--backend", "v8"]),
        11,
        "backend `v8`",
        started,
    );
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
