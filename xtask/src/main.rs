//! `cargo xtask`: Morph's automation, in Rust.
//!
//! - `cargo xtask build`: builds every extension in `extensions/` for
//!   wasm32-unknown-unknown, shrinks it with `wasm-opt -Oz`, validates it and writes
//!   `target/extensions/<name>.wasm`.
//! - `cargo xtask demo`: builds the samples and runs their actions through `morph`.
//! - `cargo xtask ci`: everything CI checks: fmt, clippy, build, extensions, tests, docs.
//!
//! Tools are installed when missing: the wasm32 target with `rustup target add`, and
//! Debian's `binaryen` (for `wasm-opt`) with apt when running as root.

mod build;
mod demo_http;
mod tools;

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    if let Err(e) = run() {
        eprintln!("xtask: error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cmd = args.first().map(String::as_str).unwrap_or("help");
    match cmd {
        "build" => {
            let profile = match args.get(1).map(String::as_str) {
                None => build::Profile::DEFAULT,
                Some("--profile") => match args.get(2) {
                    Some(p) => build::Profile::parse(p)?,
                    None => bail!("`--profile` needs `size` or `speed`"),
                },
                Some(other) => bail!("unknown argument `{other}` to build"),
            };
            build::build_with(profile).map(|_| ())
        }
        "demo" => demo(),
        "ci" => ci(),
        "conformance" => conformance(),
        "help" | "--help" | "-h" => {
            println!("usage: cargo xtask <build|demo|conformance|ci>");
            println!("  build [--profile size|speed]  build the extensions in extensions/ into");
            println!("         target/extensions/ (default speed: opt-level 3, wasm-opt -O3)");
            println!("  demo   build the samples and run their actions through Morph");
            println!("  conformance  every case of every extension on every backend");
            println!("  ci     fmt, clippy, build, extensions, tests, docs, conformance, phone");
            println!("         targets, benchmarks compiled: what CI runs");
            Ok(())
        }
        other => bail!("unknown command `{other}`; try `cargo xtask help`"),
    }
}

/// The workspace root.
pub(crate) fn root() -> PathBuf {
    // `cargo run` tells the process where its manifest is; the path compiled in is only a
    // fallback, since one target folder may serve several clones (CI's and a working
    // copy) and cargo may run a binary built from another.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Cargo's target directory (honours `CARGO_TARGET_DIR`).
pub(crate) fn cargo_target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => {
            let d = PathBuf::from(d);
            if d.is_absolute() { d } else { root().join(d) }
        }
        None => root().join("target"),
    }
}

pub(crate) fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

/// Runs `cmd`, failing with its description when it fails.
pub(crate) fn run_cmd(cmd: &mut Command, what: &str) -> Result<()> {
    eprintln!("xtask: {what}");
    let status = cmd
        .status()
        .with_context(|| format!("could not start: {what}"))?;
    if !status.success() {
        bail!("failed ({status}): {what}");
    }
    Ok(())
}

fn ci() -> Result<()> {
    tools::ensure_rust_target("wasm32-unknown-unknown")?;
    run_cmd(
        cargo().args(["fmt", "--all", "--", "--check"]),
        "cargo fmt --check",
    )?;
    run_cmd(
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
        "cargo clippy -D warnings",
    )?;
    build_workspace()?;
    build::build_all()?;
    tools::ensure_registry_tools()?;
    // Includes morph-fuzz's bounded fuzz runs (differential on every backend, ABI,
    // manifest, signatures) at their fixed case counts: docs/fuzzing.md.
    run_cmd(cargo().args(["test", "--workspace"]), "cargo test")?;
    run_cmd(
        cargo()
            .args([
                "doc",
                "--no-deps",
                "-p",
                "morph-abi",
                "-p",
                "morph-runtime",
                "-p",
                "morph-host",
                "-p",
                "morph-package",
                "-p",
                "morph-signing",
                "-p",
                "morph-registry",
                "-p",
                "morph-permissions",
                "-p",
                "morph-manifest",
                "-p",
                "morph-store",
                "-p",
                "morph-capabilities",
                "-p",
                "morph-schema",
            ])
            .env("RUSTDOCFLAGS", "-D warnings"),
        "cargo doc (warnings denied)",
    )?;
    conformance_run()?;
    demo()?;
    phone_targets()?;
    // The one release build: every binary and benchmark (so the benchmarks compile),
    // then the conformance suite, adversaries included, once more from it: a release
    // build has no overflow checks, and some faults only show there.
    run_cmd(
        cargo().args(["build", "--release", "--workspace", "--bins", "--benches"]),
        "cargo build --release (binaries and benchmarks)",
    )?;
    run_cmd(
        Command::new(cargo_target_dir().join("release").join("morph-conformance"))
            .arg("--root")
            .arg(root())
            .current_dir(root()),
        "conformance again, from the release build",
    )?;
    eprintln!("xtask: ci passed");
    Ok(())
}

/// The phones' CPUs: iOS (wasmi only, no JIT) and aarch64 Linux standing in for
/// Android (wasmer's build scripts compile C, and the NDK cannot be installed here).
fn phone_targets() -> Result<()> {
    tools::ensure_rust_target("aarch64-apple-ios")?;
    run_cmd(
        cargo().args([
            "check",
            "--target",
            "aarch64-apple-ios",
            "-p",
            "morph-wasmi",
        ]),
        "cargo check morph-wasmi for aarch64-apple-ios",
    )?;
    run_cmd(
        cargo().args([
            "check",
            "--target",
            "aarch64-apple-ios",
            "-p",
            "morph-host",
            "--no-default-features",
            "--features",
            "wasmi",
        ]),
        "cargo check morph-host (wasmi only) for aarch64-apple-ios",
    )?;
    tools::ensure_rust_target("aarch64-unknown-linux-gnu")?;
    tools::ensure_apt_tool("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu")?;
    run_cmd(
        cargo()
            .args([
                "check",
                "--target",
                "aarch64-unknown-linux-gnu",
                "-p",
                "morph-wasmer",
            ])
            .env("CC_aarch64_unknown_linux_gnu", "aarch64-linux-gnu-gcc")
            .env(
                "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER",
                "aarch64-linux-gnu-gcc",
            ),
        "cargo check morph-wasmer for aarch64-unknown-linux-gnu",
    )
}

fn conformance() -> Result<()> {
    build::build_all()?;
    build_workspace()?;
    conformance_run()
}

/// Builds every crate of the workspace, binaries included. Running `morph` and
/// `morph-conformance` from this build (not `cargo run -p`, whose narrower feature set
/// would rebuild the engines) keeps one build of everything.
fn build_workspace() -> Result<()> {
    run_cmd(
        cargo().args(["build", "--workspace"]),
        "cargo build --workspace",
    )
}

fn binary(name: &str) -> PathBuf {
    cargo_target_dir().join("debug").join(name)
}

fn conformance_run() -> Result<()> {
    run_cmd(
        Command::new(binary("morph-conformance"))
            .arg("--root")
            .arg(root())
            .current_dir(root()),
        "conformance: every case on every backend",
    )
}

fn demo() -> Result<()> {
    let built = build::build_all()?;
    build_workspace()?;
    let morph = binary("morph");
    let samples: &[(&str, &[(&str, &str)])] = &[(
        "hello",
        &[
            ("greet", r#"{"name":"Ada"}"#),
            ("count-words", r#"{"text":"the quick brown fox"}"#),
            ("echo", r#"{"anything":[1,2,3]}"#),
        ],
    )];
    for (name, calls) in samples {
        let Some(wasm) = built
            .iter()
            .find(|p| p.file_stem().is_some_and(|s| s == *name))
        else {
            bail!("sample `{name}` was not built");
        };
        println!("\n== {name} ({}) ==", wasm.display());
        let status = Command::new(&morph).arg("describe").arg(wasm).status()?;
        if !status.success() {
            bail!("morph describe {name} failed");
        }
        for (action, input) in *calls {
            for backend in [
                "wasmtime",
                "wasmtime-core",
                "wasmer-cranelift",
                "wasmer-singlepass",
                "wasmi",
            ] {
                let out = Command::new(&morph)
                    .args(["run"])
                    .arg(wasm)
                    .args([action, "--input", input, "--backend", backend])
                    .output()
                    .with_context(|| format!("running {}", morph.display()))?;
                let stdout = String::from_utf8_lossy(&out.stdout);
                if !out.status.success() {
                    bail!(
                        "morph run {name} {action} on {backend} failed: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
                println!("{action:12} {input:34} [{backend:17}] -> {}", stdout.trim());
            }
        }
    }
    demo_signed(&morph, &built)?;
    demo_http::demo(&morph, &built, &cargo_target_dir().join("demo"))
}

/// The trust path: a fresh key, the sample packed and signed, refused before its key is
/// trusted, installed into a store made here, and run from there.
fn demo_signed(morph: &Path, built: &[PathBuf]) -> Result<()> {
    let hello = built
        .iter()
        .find(|p| p.file_stem().is_some_and(|s| s == "hello"))
        .context("sample `hello` was not built")?;
    let dir = cargo_target_dir().join("demo");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir)?;
    let path = |name: &str| dir.join(name).display().to_string();
    let store = ["--store".to_owned(), path("store")];
    let trust = ["--trust-store".to_owned(), path("trust.json")];
    let manifest = root().join("extensions/hello/morph.toml");
    let step = |args: &[String], expect_ok: bool| -> Result<String> {
        let out = Command::new(morph)
            .args(args)
            .output()
            .with_context(|| format!("running {}", morph.display()))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        println!("$ morph {}\n{}", args.join(" "), text.trim_end());
        if out.status.success() != expect_ok {
            bail!(
                "morph {} {} ({})",
                args.join(" "),
                if expect_ok {
                    "failed"
                } else {
                    "should have failed"
                },
                out.status
            );
        }
        Ok(text)
    };
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<String>>();
    println!("\n== signed install ({}) ==", dir.display());
    step(&s(&["keygen", "--out", &path("demo")]), true)?;
    step(
        &s(&[
            "pack",
            &hello.display().to_string(),
            "--manifest",
            &manifest.display().to_string(),
            "--out",
            &path("hello.morph"),
        ]),
        true,
    )?;
    step(
        &s(&["sign", &path("hello.morph"), "--key", &path("demo.key")]),
        true,
    )?;
    let install = [
        s(&["install", &path("hello.morph")]),
        store.to_vec(),
        trust.to_vec(),
    ]
    .concat();
    step(&install, false)?;
    step(
        &[
            s(&[
                "trust",
                "add",
                &path("demo.pub"),
                "--publisher",
                "Morph samples",
            ]),
            trust.to_vec(),
        ]
        .concat(),
        true,
    )?;
    step(&install, true)?;
    step(&[s(&["list"]), store.to_vec()].concat(), true)?;
    let out = step(
        &[
            s(&["run", "hello", "greet", "--input", r#"{"name":"Ada"}"#]),
            store.to_vec(),
            trust.to_vec(),
        ]
        .concat(),
        true,
    )?;
    if !out.contains("Hello, Ada!") {
        bail!("the installed hello did not greet: {out}");
    }
    Ok(())
}
