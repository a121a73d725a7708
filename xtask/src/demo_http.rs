//! The capabilities part of `cargo xtask demo`: the GitHub sample against a GitHub-like
//! server on loopback. Its first call is refused (nothing granted), the person grants
//! what the refusal names and sets the token as a secret bound to the server, and the
//! call then reaches the server with the token, which never enters the guest; the audit
//! log shows both decisions.

use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The token the demo sets; the server answers only requests that carry it.
const TOKEN: &str = "demo-token-0f9e";

/// Serves `GET /repos/octo/hello/issues` like GitHub's REST API, on a thread of its own
/// for as long as the demo runs; returns the server's base URL.
fn serve() -> Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding a loopback port")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            // One bad connection must not stop the server.
            let _ = answer(stream);
        }
    });
    Ok(format!("http://{addr}"))
}

fn answer(mut stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("authorization")
        {
            authorization = Some(value.trim().to_owned());
        }
    }
    let bearer = format!("Bearer {TOKEN}");
    let (status, body) = match (request_line.split_whitespace().nth(1), authorization) {
        (Some(path), Some(auth)) if path.starts_with("/repos/octo/hello/issues") => {
            match auth == bearer {
                true => ("200 OK", ISSUES.to_owned()),
                false => (
                    "401 Unauthorized",
                    r#"{"message":"Bad credentials"}"#.to_owned(),
                ),
            }
        }
        (Some(_), None) => (
            "401 Unauthorized",
            r#"{"message":"Requires authentication"}"#.to_owned(),
        ),
        _ => ("404 Not Found", r#"{"message":"Not Found"}"#.to_owned()),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: application/json; charset=utf-8\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

/// Two issues, trimmed from GitHub's documented example.
const ISSUES: &str = r#"[
 {"number":1347,"title":"Found a bug","state":"open","html_url":"https://github.com/octo/hello/issues/1347",
  "user":{"login":"octocat"},"labels":[{"name":"bug"}],"comments":3},
 {"number":1348,"title":"Add dark mode","state":"open","html_url":"https://github.com/octo/hello/issues/1348",
  "user":{"login":"hubot"},"labels":[],"comments":0}
]"#;

fn morph(morph: &Path, home: &Path, args: &[&str], stdin: Option<&str>) -> Result<Output> {
    let mut child = Command::new(morph)
        .args(args)
        .env("MORPH_HOME", home)
        .env_remove("MORPH_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {}", morph.display()))?;
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.unwrap_or_default().as_bytes())?;
    }
    Ok(child.wait_with_output()?)
}

fn show(what: &str, out: &Output) {
    println!("$ {what}");
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        println!("  {line}");
    }
    for line in String::from_utf8_lossy(&out.stderr).lines() {
        println!("  {line}");
    }
}

/// Runs the capabilities demo with the built `morph` and GitHub sample.
pub(crate) fn demo(morph_bin: &Path, built: &[PathBuf], dir: &Path) -> Result<()> {
    let github = built
        .iter()
        .find(|p| p.file_stem().is_some_and(|s| s == "github"))
        .context("sample `github` was not built")?;
    let base = serve()?;
    let host_port = base.trim_start_matches("http://").to_owned();
    println!("\n== capabilities: the GitHub sample against a GitHub-like server at {base} ==");
    let home = dir.join("home");
    // The sample's own manifest, with GitHub's host swapped for the local server's.
    let manifest = std::fs::read_to_string(crate::root().join("extensions/github/morph.toml"))?
        .replace("https://api.github.com", &base)
        .replace("@api.github.com", "@127.0.0.1");
    let manifest_path = dir.join("github.toml");
    std::fs::write(&manifest_path, manifest)?;
    let config = format!(r#"{{"base_url":"{base}"}}"#);
    let run = |args: &[&str]| {
        let mut all = vec![
            "run",
            github.to_str().unwrap_or_default(),
            "list-issues",
            "--input",
            r#"{"owner":"octo","repo":"hello"}"#,
            "--manifest",
            manifest_path.to_str().unwrap_or_default(),
            "--config",
            &config,
        ];
        all.extend_from_slice(args);
        morph(morph_bin, &home, &all, None)
    };

    let refused = run(&[])?;
    show(
        "morph run github.wasm list-issues ...   # nothing granted yet",
        &refused,
    );
    if refused.status.code() != Some(9) {
        bail!("the first call was not refused for want of a permission");
    }
    let secret = morph(
        morph_bin,
        &home,
        &["secret", "set", "github-token", "--bind", "127.0.0.1"],
        Some(TOKEN),
    )?;
    show(
        "morph secret set github-token --bind 127.0.0.1 < token",
        &secret,
    );
    let http_grant = format!("http:GET http://{host_port}/repos");
    let grant = morph(
        morph_bin,
        &home,
        &[
            "grant",
            "github",
            &http_grant,
            "secret:github-token@127.0.0.1",
            "config",
        ],
        None,
    )?;
    show(
        &format!("morph grant github '{http_grant}' secret:github-token@127.0.0.1 config"),
        &grant,
    );
    if !secret.status.success() || !grant.status.success() {
        bail!("setting the secret or the grants failed");
    }
    let ran = run(&[])?;
    show("morph run github.wasm list-issues ...   # granted", &ran);
    let stdout = String::from_utf8_lossy(&ran.stdout);
    if !ran.status.success() || !stdout.contains("Found a bug") {
        bail!("the granted call did not list the issues");
    }
    if stdout.contains(TOKEN) {
        bail!("the token reached the extension's output");
    }
    let audit = morph(morph_bin, &home, &["audit", "github"], None)?;
    show("morph audit github", &audit);
    Ok(())
}
