//! Installing what the build needs, when it is missing.

use anyhow::{Context, Result, bail};
use std::process::{Command, Stdio};

/// Adds a Rust target with rustup when it is not installed (rust-toolchain.toml installs
/// nothing when `RUSTUP_AUTO_INSTALL=0`).
pub fn ensure_rust_target(target: &str) -> Result<()> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("running `rustup target list --installed` (is rustup installed?)")?;
    if String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == target)
    {
        return Ok(());
    }
    eprintln!("xtask: installing the Rust target {target} (rustup target add {target})");
    let add = || {
        crate::run_cmd(
            Command::new("rustup").args(["target", "add", target]),
            &format!("rustup target add {target}"),
        )
    };
    if add().is_ok() {
        return Ok(());
    }
    // An interrupted install leaves files that rustup then refuses to overwrite
    // ("detected conflict"): remove the target's half-installed folder and try once more.
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .context("running `rustc --print sysroot`")?;
    let rustlib = std::path::Path::new(String::from_utf8_lossy(&sysroot.stdout).trim())
        .join("lib")
        .join("rustlib");
    let dir = rustlib.join(target);
    let manifest = rustlib.join(format!("manifest-rust-std-{target}"));
    eprintln!(
        "xtask: removing the half-installed {} and retrying",
        dir.display()
    );
    if dir.is_dir() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    if manifest.is_file() {
        std::fs::remove_file(&manifest)
            .with_context(|| format!("removing {}", manifest.display()))?;
    }
    add()
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Installs a Debian package that provides `tool`, when `tool` is missing.
pub fn ensure_apt_tool(tool: &str, package: &str) -> Result<()> {
    if have(tool) {
        return Ok(());
    }
    if !is_root() || !have("apt-get") {
        bail!(
            "`{tool}` is missing: install Debian's `{package}` package (apt-get install {package}) or put `{tool}` on PATH"
        );
    }
    eprintln!("xtask: `{tool}` is missing; installing Debian's `{package}` with apt-get");
    let quiet = |c: &mut Command| {
        c.env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null());
    };
    apt_update()?;
    let mut install = Command::new("apt-get");
    install.args(["install", "-y", "-qq", package]);
    quiet(&mut install);
    crate::run_cmd(&mut install, &format!("apt-get install {package}"))?;
    if !have(tool) {
        bail!("installed `{package}` but `{tool}` is still not on PATH");
    }
    Ok(())
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
}

/// Installs what the registry tests of `morph-registry` need, when missing: Debian's
/// `docker-registry` (the CNCF distribution server 2.8), `skopeo` (an independent OCI
/// client) and `htpasswd` (apache2-utils, for the bcrypt password file). One
/// `apt-get update`, then one `apt-get install` of whatever is missing. With `CI=true`
/// those tests fail when a tool is absent, so CI must call this before `cargo test`.
pub fn ensure_registry_tools() -> Result<()> {
    let wanted = [
        ("docker-registry", "docker-registry"),
        ("skopeo", "skopeo"),
        ("htpasswd", "apache2-utils"),
    ];
    let missing: Vec<(&str, &str)> = wanted
        .into_iter()
        .filter(|(tool, _)| !on_path(tool))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let packages: Vec<&str> = missing.iter().map(|(_, p)| *p).collect();
    if !is_root() || !have("apt-get") {
        bail!(
            "the registry tests need {}: install Debian's {} (apt-get install {})",
            missing
                .iter()
                .map(|(t, _)| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(", "),
            packages.join(", "),
            packages.join(" ")
        );
    }
    eprintln!(
        "xtask: installing Debian's {} for the registry tests",
        packages.join(", ")
    );
    apt_update()?;
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "-qq"])
        .args(&packages)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdout(Stdio::null());
    crate::run_cmd(
        &mut install,
        &format!("apt-get install {}", packages.join(" ")),
    )?;
    if let Some((tool, package)) = missing.iter().find(|(tool, _)| !on_path(tool)) {
        bail!("installed `{package}` but `{tool}` is still not on PATH");
    }
    Ok(())
}

/// `apt-get update`, once per run of xtask however many tools it installs.
fn apt_update() -> Result<()> {
    static DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if DONE.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return Ok(());
    }
    let mut update = Command::new("apt-get");
    update
        .args(["update", "-qq"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdout(Stdio::null());
    crate::run_cmd(&mut update, "apt-get update")
}
