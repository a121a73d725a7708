//! `cargo xtask build`: extensions to optimized, validated wasm.

use crate::{cargo, cargo_target_dir, root, run_cmd, tools};
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::Command;

const TARGET: &str = "wasm32-unknown-unknown";
const CONTRACT_SECTION: &str = "morph:contract";

/// The features Rust 1.95 enables by default for wasm32, named explicitly (never `-all`,
/// which writes modules that engines reject).
const WASM_OPT_FEATURES: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-sign-ext",
    "--enable-nontrapping-float-to-int",
    "--enable-mutable-globals",
    "--enable-reference-types",
    "--enable-multivalue",
];

/// The Rust extensions: every folder of `extensions/` whose Cargo.toml builds a
/// `cdylib`. A library the extensions share (`sample-support`) is not one.
fn rust_extensions() -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(root().join("extensions")).context("reading extensions/")? {
        let path = entry?.path();
        let manifest = path.join("Cargo.toml");
        if manifest.is_file()
            && is_cdylib(&manifest)?
            && let Some(name) = path.file_name().and_then(|n| n.to_str())
        {
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Whether the crate of `manifest` lists `cdylib` in `[lib] crate-type`.
fn is_cdylib(manifest: &std::path::Path) -> Result<bool> {
    let text = std::fs::read_to_string(manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("parsing {}", manifest.display()))?;
    let types = table
        .get("lib")
        .and_then(|lib| lib.get("crate-type"))
        .and_then(toml::Value::as_array);
    Ok(types.is_some_and(|t| t.iter().any(|v| v.as_str() == Some("cdylib"))))
}

/// How extensions are optimized: rustc's opt-level and wasm-opt's, together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// opt-level `z` and `wasm-opt -Oz`: the smallest modules.
    Size,
    /// opt-level 3 and `wasm-opt -O3`: the fastest guest code.
    Speed,
}

impl Profile {
    /// The default: the fastest profile whose modules all stay within
    /// [`SIZE_BUDGET`]. Measured (docs/ARCHITECTURE.md, "Extension builds"): `speed`
    /// runs `hello`'s sha256 1.24x (wasmtime) to 1.40x (wasmi) faster, for modules
    /// 1.17x to 1.33x larger, all far under the budget.
    pub const DEFAULT: Profile = Profile::Speed;

    /// Parses `size` or `speed`.
    pub fn parse(text: &str) -> Result<Profile> {
        match text {
            "size" => Ok(Profile::Size),
            "speed" => Ok(Profile::Speed),
            other => bail!("unknown build profile `{other}`: use `size` or `speed`"),
        }
    }

    fn cargo_profile(self) -> &'static str {
        match self {
            Profile::Size => "ext",
            Profile::Speed => "ext-speed",
        }
    }

    fn wasm_opt_level(self) -> &'static str {
        match self {
            Profile::Size => "-Oz",
            Profile::Speed => "-O3",
        }
    }
}

/// The size an extension's module should stay under: what a phone downloads and
/// compiles without the person noticing. A module over it is reported, with the
/// advice to build it with `--profile size`.
pub const SIZE_BUDGET: u64 = 512 * 1024;

/// Builds every extension with the default profile; returns the paths written.
pub fn build_all() -> Result<Vec<PathBuf>> {
    build_with(Profile::DEFAULT)
}

/// Builds every extension with `profile`; returns the paths written.
pub fn build_with(profile: Profile) -> Result<Vec<PathBuf>> {
    tools::ensure_rust_target(TARGET)?;
    tools::ensure_apt_tool("wasm-opt", "binaryen")?;
    let names = rust_extensions()?;
    let mut cmd = cargo();
    cmd.args([
        "build",
        "--target",
        TARGET,
        "--profile",
        profile.cargo_profile(),
    ]);
    for n in &names {
        cmd.args(["-p", n]);
    }
    run_cmd(
        &mut cmd,
        &format!("building {} extension(s) for {TARGET}", names.len()),
    )?;

    let out_dir = root().join("target").join("extensions");
    std::fs::create_dir_all(&out_dir)?;
    let mut written = Vec::new();
    println!("profile: {profile:?}");
    println!("{:24} {:>10} {:>10}", "extension", "built", "wasm-opt");
    for name in &names {
        let built = cargo_target_dir()
            .join(TARGET)
            .join(profile.cargo_profile())
            .join(format!("{}.wasm", name.replace('-', "_")));
        let before = std::fs::metadata(&built)
            .with_context(|| format!("{} was not built", built.display()))?
            .len();
        let out = out_dir.join(format!("{name}.wasm"));
        let tmp = out_dir.join(format!(".{name}.wasm.tmp"));
        let mut opt = Command::new("wasm-opt");
        opt.arg(profile.wasm_opt_level())
            .args(WASM_OPT_FEATURES)
            .arg(&built)
            .arg("-o")
            .arg(&tmp);
        let status = opt.status().context("running wasm-opt")?;
        if !status.success() {
            bail!("wasm-opt failed on {}", built.display());
        }
        let bytes = std::fs::read(&tmp)?;
        check_module(name, &bytes)?;
        std::fs::rename(&tmp, &out)?;
        println!("{:24} {:>10} {:>10}", name, before, bytes.len());
        if bytes.len() as u64 > SIZE_BUDGET {
            eprintln!(
                "xtask: warning: {name}.wasm is {} bytes, over the {SIZE_BUDGET}-byte budget; build it with `--profile size`",
                bytes.len()
            );
        }
        written.push(out);
    }
    written.extend(build_wat(&out_dir)?);
    Ok(written)
}

/// The prelude every WAT adversary starts with (see extensions/wat/README.md).
const PRELUDE: &str = include_str!("prelude.wat");
const PRELUDE_MARK: &str = ";; @morph-prelude";

/// Adversaries too large to keep as text: `(name, WAT)` made here. Their cases live in
/// `extensions/wat/<name>.cases.json` like the others'.
fn generated() -> Vec<(&'static str, String)> {
    let ret = r#"(@custom "morph:contract" "0.1.0")
  (func (export "execute") (param i32 i32 i32 i32) (result i32)
    (call $ret (i32.const 0) (i32.const 1048) (i32.const 2)))"#;
    // 41 functions of 50 000 locals: a few kilobytes of wasm that would take minutes to
    // compile; refused by validation's caps on every backend.
    let locals = format!("(func (local{}))\n", " i32".repeat(50_000));
    let bomb = format!("(module\n{PRELUDE_MARK}\n{}{ret})", locals.repeat(41));
    // 100 tables of 100 000 elements: 80 MB of tables under a 1 MiB memory limit.
    let tables = format!(
        "(module\n{PRELUDE_MARK}\n{}{ret})",
        "(table 100000 funcref)\n".repeat(100)
    );
    vec![("compile-bomb", bomb), ("tables", tables)]
}

/// Assembles `extensions/wat/*.wat` and the [`generated`] adversaries into
/// `target/extensions/`.
fn build_wat(out_dir: &std::path::Path) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let dir = root().join("extensions").join("wat");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wat"))
        .collect();
    files.sort();
    let mut sources = Vec::new();
    for path in files {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .context("WAT file name")?
            .to_owned();
        sources.push((path.clone(), name, std::fs::read_to_string(&path)?));
    }
    for (name, text) in generated() {
        sources.push((
            dir.join(format!("{name} (generated)")),
            name.to_owned(),
            text,
        ));
    }
    for (path, name, text) in sources {
        let text = text.replace(PRELUDE_MARK, PRELUDE);
        let mut bytes =
            wat::parse_str(&text).with_context(|| format!("assembling {}", path.display()))?;
        if let Some(encoding) = declared_strings(&text)? {
            bytes = declare_strings(bytes, encoding)
                .with_context(|| format!("{name}: embedding the contract's world"))?;
        }
        wasmparser::Validator::new()
            .validate_all(&bytes)
            .with_context(|| format!("{name}: invalid module"))?;
        let out = out_dir.join(format!("{name}.wasm"));
        std::fs::write(&out, &bytes)?;
        println!(
            "{:24} {:>10} {:>10}",
            format!("{name} (wat)"),
            text.len(),
            bytes.len()
        );
        written.push(out);
    }
    Ok(written)
}

/// The mark by which a WAT adversary asks to carry the contract's world as wit-bindgen
/// would embed it, declaring another string encoding: `;; @morph-strings latin1`.
const STRINGS_MARK: &str = ";; @morph-strings ";

fn declared_strings(text: &str) -> Result<Option<wit_component::StringEncoding>> {
    let Some(line) = text
        .lines()
        .find_map(|l| l.trim().strip_prefix(STRINGS_MARK))
    else {
        return Ok(None);
    };
    Ok(Some(match line.trim() {
        "utf8" => wit_component::StringEncoding::UTF8,
        "utf16" => wit_component::StringEncoding::UTF16,
        "latin1" => wit_component::StringEncoding::CompactUTF16,
        other => bail!("unknown string encoding `{other}` (utf8, utf16, latin1)"),
    }))
}

/// Embeds the contract's world in a `component-type` section declaring `encoding`: the
/// guest's own description of its strings, which a host must not trust.
fn declare_strings(mut wasm: Vec<u8>, encoding: wit_component::StringEncoding) -> Result<Vec<u8>> {
    let mut resolve = wit_parser::Resolve::default();
    let (pkg, _) = resolve.push_dir(root().join("wit").join("v0.1.0"))?;
    let world = resolve.select_world(&[pkg], Some("extension"))?;
    wit_component::embed_component_metadata(&mut wasm, &resolve, world, encoding, false)?;
    Ok(wasm)
}

/// Validates the optimized module and checks that the contract section survived.
fn check_module(name: &str, bytes: &[u8]) -> Result<()> {
    let features = wasmparser::WasmFeatures::MUTABLE_GLOBAL
        | wasmparser::WasmFeatures::SATURATING_FLOAT_TO_INT
        | wasmparser::WasmFeatures::SIGN_EXTENSION
        | wasmparser::WasmFeatures::MULTI_VALUE
        | wasmparser::WasmFeatures::BULK_MEMORY
        | wasmparser::WasmFeatures::REFERENCE_TYPES
        | wasmparser::WasmFeatures::SIMD
        | wasmparser::WasmFeatures::FLOATS;
    wasmparser::Validator::new_with_features(features)
        .validate_all(bytes)
        .with_context(|| format!("{name}: wasm-opt wrote an invalid module"))?;
    let mut contract = false;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        if let wasmparser::Payload::CustomSection(c) = payload? {
            contract |= c.name() == CONTRACT_SECTION;
        }
    }
    if !contract {
        bail!(
            "{name}: the `{CONTRACT_SECTION}` section did not survive; does it use morph_abi::export_extension!?"
        );
    }
    Ok(())
}
