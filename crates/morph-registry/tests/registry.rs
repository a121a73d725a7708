//! Against a real registry: Debian's `docker-registry` (CNCF distribution 2.8) on a free
//! loopback port with htpasswd (bcrypt) basic auth, and `skopeo` as an independent client.
//!
//! The tests skip, loudly, when the binaries are missing and `CI` is not `true`; in CI a
//! missing binary fails them (`cargo xtask` installs them: `tools::ensure_registry_tools`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use base64::Engine as _;
use morph_package::{Asset, Digest, Package};
use morph_registry::{
    ARTIFACT_TYPE, Credentials, MANIFEST_MEDIA_TYPE, NoProgress, PackageRef, Progress,
    RegistryClient, RegistryError, RemoteOptions, RemoteRef, SIGNATURE_MEDIA_TYPE, Target, pull,
    push,
};
use morph_signing::{Algorithm, PrivateKey, TrustStore, sign_package, verify};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const USER: &str = "morph";
const PASSWORD: &str = "s3cret-test-password";

/// Whether `tool` is on PATH. Absent: in CI (`CI=true`) that fails the test; elsewhere the
/// test is skipped with a loud message.
fn have_tools() -> bool {
    let missing: Vec<&str> = ["docker-registry", "skopeo", "htpasswd"]
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
    let msg = format!(
        "the registry tests need {missing:?} (Debian: docker-registry, skopeo, apache2-utils)"
    );
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{msg}, and CI=true: they must be installed"
    );
    // Written to the stderr handle itself, past libtest's capture, so the skip is seen.
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!! SKIPPED: {msg}; install them to run these tests !!!!!!!!\n"
    );
    false
}

/// A running registry; killed when dropped.
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
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: morph-test\nauth:\n  htpasswd:\n    realm: morph-test\n    path: {htpasswd}\n",
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
            if http(self.port, "GET", "/v2/", &[], b"").is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("docker-registry did not answer within 20 s: {}", self.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn remote(&self, repo: &str, target: Target) -> RemoteRef {
        RemoteRef {
            registry: self.host(),
            repository: repo.into(),
            target,
        }
    }

    fn blob_file(&self, digest: &Digest) -> PathBuf {
        let hex = digest.hex();
        self.dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(&hex)
            .join("data")
    }
}

/// One plain HTTP/1.0 request; `None` when nothing answers. Returns (status, body).
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut req = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

fn basic() -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
    )
}

fn options() -> RemoteOptions {
    RemoteOptions {
        credentials: Some(Credentials {
            username: USER.into(),
            password: PASSWORD.into(),
        }),
        plain_http: true,
        ..RemoteOptions::default()
    }
}

fn signed() -> (Package, TrustStore) {
    let key = PrivateKey::generate(Algorithm::Ed25519).unwrap();
    let manifest = b"id = \"hello\"\nversion = \"1.0.0\"\npublisher = \"Acme\"\n";
    let mut p = Package::new(manifest.to_vec(), b"\0asm\x01\0\0\0 a module".to_vec()).unwrap();
    p.add_asset(Asset::new("README.md", b"# hello".to_vec()).unwrap())
        .unwrap();
    sign_package(&mut p, &key).unwrap();
    let mut trust = TrustStore::new();
    trust.add_key(key.public_key().clone(), "Acme").unwrap();
    (p, trust)
}

fn skopeo_raw(registry: &Registry, reference: &str, creds: &str) -> std::process::Output {
    Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", "--creds", creds])
        .arg(format!("docker://{}/{reference}", registry.host()))
        .output()
        .unwrap()
}

#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Progress for Recorder {
    fn start(&self, part: &str, total: u64) {
        self.0.lock().unwrap().push(format!("start {part} {total}"));
    }
    fn finish(&self, part: &str) {
        self.0.lock().unwrap().push(format!("finish {part}"));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn push_pull_by_tag_and_digest_and_skopeo_reads_the_artifact() {
    if !have_tools() {
        return;
    }
    let registry = Registry::start();
    let (p, trust) = signed();
    let tag = PackageRef::Remote(registry.remote("acme/hello", Target::Tag("1.0.0".into())));
    let pushed = Recorder::default();
    let digest = push(&tag, &p, &options(), &pushed).await.unwrap();
    assert!(
        pushed
            .0
            .lock()
            .unwrap()
            .contains(&"finish module".to_owned())
    );

    let pulled_progress = Recorder::default();
    let by_tag = pull(&tag, &options(), &pulled_progress).await.unwrap();
    assert_eq!(by_tag.package, p);
    assert_eq!(by_tag.manifest_digest, digest);
    assert_eq!(
        pulled_progress
            .0
            .lock()
            .unwrap()
            .first()
            .map(String::as_str),
        Some(format!("start manifest {}", p.manifest().len()).as_str())
    );

    let by_digest = PackageRef::Remote(registry.remote("acme/hello", Target::Digest(digest)));
    let again = pull(&by_digest, &options(), &NoProgress).await.unwrap();
    assert_eq!(again.package, p);
    let verified = verify(again.package, &trust).unwrap();
    assert_eq!(verified.publisher(), "Acme");

    // skopeo, an independent client, reads the same manifest and sees our artifact.
    let out = skopeo_raw(&registry, "acme/hello:1.0.0", &format!("{USER}:{PASSWORD}"));
    assert!(
        out.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        Digest::of(&out.stdout),
        digest,
        "skopeo saw other manifest bytes"
    );
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m["artifactType"], ARTIFACT_TYPE);
    assert_eq!(m["config"]["mediaType"], MANIFEST_MEDIA_TYPE);
    assert_eq!(m["config"]["digest"], p.manifest_digest().to_string());
    let types: Vec<&str> = m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["mediaType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "application/wasm",
            "application/vnd.morph.asset.v1",
            SIGNATURE_MEDIA_TYPE
        ]
    );
    let out = skopeo_raw(
        &registry,
        &format!("acme/hello@{digest}"),
        &format!("{USER}:{PASSWORD}"),
    );
    assert!(out.status.success());
    // And without the right password skopeo is refused too: auth is really on.
    let out = skopeo_raw(&registry, "acme/hello:1.0.0", &format!("{USER}:wrong"));
    assert!(!out.status.success());
}

#[tokio::test(flavor = "current_thread")]
async fn bad_credentials_and_unknown_tags_are_refused() {
    if !have_tools() {
        return;
    }
    let registry = Registry::start();
    let (p, _) = signed();
    let r = registry.remote("acme/hello", Target::Tag("1".into()));
    let mut wrong = options();
    wrong.credentials = Some(Credentials {
        username: USER.into(),
        password: "nope".into(),
    });
    let err = RegistryClient::new(&r.registry, &wrong)
        .unwrap()
        .push(&r, &p, &NoProgress)
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err}");
    assert!(
        err.to_string().contains("check the user name and password"),
        "{err}"
    );

    let client = RegistryClient::new(&r.registry, &options()).unwrap();
    client.push(&r, &p, &NoProgress).await.unwrap();
    let missing = registry.remote("acme/hello", Target::Tag("2".into()));
    let err = client.pull(&missing, &NoProgress).await.unwrap_err();
    assert!(matches!(err, RegistryError::NotFound { .. }), "{err}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_registry_serving_a_corrupt_blob_is_caught() {
    if !have_tools() {
        return;
    }
    let registry = Registry::start();
    let (p, _) = signed();
    let r = registry.remote("acme/hello", Target::Tag("1".into()));
    let client = RegistryClient::new(&r.registry, &options()).unwrap();
    client.push(&r, &p, &NoProgress).await.unwrap();

    let file = registry.blob_file(&p.module_digest());
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[9] ^= 0x20;
    std::fs::write(&file, &bytes).unwrap();
    let err = client.pull(&r, &NoProgress).await.unwrap_err();
    assert!(
        matches!(err, RegistryError::BlobDigestMismatch { ref part, expected, actual, .. }
            if part == "module" && expected == p.module_digest() && actual == Digest::of(&bytes)),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("the registry is corrupt or tampered with"),
        "{err}"
    );
    // A truncated blob: the registry announces fewer bytes than the descriptor declares.
    std::fs::write(&file, &bytes[..5]).unwrap();
    let err = client.pull(&r, &NoProgress).await.unwrap_err();
    assert!(
        matches!(err, RegistryError::BlobSizeMismatch { ref part, actual: 5, .. } if part == "module"),
        "{err}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_manifest_declaring_a_10_gb_layer_is_refused_before_download() {
    if !have_tools() {
        return;
    }
    let registry = Registry::start();
    let (p, _) = signed();
    let r = registry.remote("acme/hello", Target::Tag("1".into()));
    let client = RegistryClient::new(&r.registry, &options()).unwrap();
    let digest = client.push(&r, &p, &NoProgress).await.unwrap();

    // Rewrite the manifest so the module claims 10 GB, and PUT it under another tag.
    let (_, raw) = http(
        registry.port,
        "GET",
        &format!("/v2/acme/hello/manifests/{digest}"),
        &[
            ("Authorization", &basic()),
            ("Accept", "application/vnd.oci.image.manifest.v1+json"),
        ],
        b"",
    )
    .unwrap();
    let mut m: serde_json::Value = serde_json::from_str(&raw).unwrap();
    for layer in m["layers"].as_array_mut().unwrap() {
        if layer["mediaType"] == "application/wasm" {
            layer["size"] = serde_json::json!(10_000_000_000u64);
        }
    }
    let body = serde_json::to_vec(&m).unwrap();
    let (status, text) = http(
        registry.port,
        "PUT",
        "/v2/acme/hello/manifests/huge",
        &[
            ("Authorization", &basic()),
            ("Content-Type", "application/vnd.oci.image.manifest.v1+json"),
        ],
        &body,
    )
    .unwrap();
    assert_eq!(
        status, 201,
        "the registry refused the crafted manifest: {text}"
    );

    let huge = registry.remote("acme/hello", Target::Tag("huge".into()));
    let err = client.pull(&huge, &NoProgress).await.unwrap_err();
    assert!(
        matches!(err, RegistryError::BlobTooLarge { ref part, declared: 10_000_000_000, .. } if part == "module"),
        "{err}"
    );
    assert!(err.to_string().contains("not downloaded"), "{err}");
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let err = RegistryClient::new("registry.example.com", &options()).unwrap_err();
    assert!(
        matches!(err, RegistryError::InsecureRefused { .. }),
        "{err}"
    );
    assert!(RegistryClient::new("[::1]:5000", &options()).is_ok());
    assert!(RegistryClient::new("localhost:5000", &options()).is_ok());
    let _ = Path::new(".");
}
