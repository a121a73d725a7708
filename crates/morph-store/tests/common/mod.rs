//! The kill tests' harness: run one test of this binary as a child process that writes
//! to a store until it is killed.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

/// Runs the test `child` of the current test binary with `env` set to `dir`, lets it
/// write for `after`, then kills it with SIGKILL (no destructor, no flush, no commit
/// runs) and waits for it.
pub fn run_then_kill(child: &str, env: &str, dir: &Path, after: Duration) {
    let exe = std::env::current_exe().unwrap();
    let mut process = std::process::Command::new(exe)
        .args(["--exact", child, "--nocapture", "--test-threads=1"])
        .env(env, dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    process.kill().unwrap();
    process.wait().unwrap();
}
