//! The local OCI image layout: round trips, and every way a tampered layout is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use morph_package::{Asset, Digest, Package};
use morph_registry::{
    ARTIFACT_TYPE, NoProgress, OciLayout, PackageRef, PullLimits, RegistryError, RemoteOptions,
    Target, pull, push,
};
use morph_signing::{Algorithm, PrivateKey, TrustStore, sign_package, verify};
use std::path::Path;

const MANIFEST: &[u8] = b"id = \"hello\"\nversion = \"1.0.0\"\npublisher = \"Acme\"\n";

fn signed() -> (Package, TrustStore) {
    let key = PrivateKey::generate(Algorithm::Ed25519).unwrap();
    let mut p = Package::new(MANIFEST.to_vec(), b"\0asm\x01\0\0\0 module".to_vec()).unwrap();
    p.add_asset(Asset::new("icon.png", vec![7; 100]).unwrap())
        .unwrap();
    sign_package(&mut p, &key).unwrap();
    let mut trust = TrustStore::new();
    trust.add_key(key.public_key().clone(), "Acme").unwrap();
    (p, trust)
}

fn tag(t: &str) -> Target {
    Target::Tag(t.into())
}

#[test]
fn a_package_round_trips_by_tag_and_by_digest_and_still_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::new(dir.path());
    let (p, trust) = signed();
    let digest = layout
        .push(&tag("1.0.0"), &p, &PullLimits::default(), &NoProgress)
        .unwrap();

    // The folder is an OCI image layout.
    let marker = std::fs::read_to_string(dir.path().join("oci-layout")).unwrap();
    assert_eq!(marker, r#"{"imageLayoutVersion":"1.0.0"}"#);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], digest.to_string());
    assert_eq!(index["manifests"][0]["artifactType"], ARTIFACT_TYPE);
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "1.0.0"
    );

    let by_tag = layout
        .pull(&tag("1.0.0"), &PullLimits::default(), &NoProgress)
        .unwrap();
    assert_eq!(by_tag.package, p);
    assert_eq!(by_tag.manifest_digest, digest);
    let by_digest = layout
        .pull(&Target::Digest(digest), &PullLimits::default(), &NoProgress)
        .unwrap();
    assert_eq!(by_digest.package, p);
    verify(by_digest.package, &trust).unwrap();

    // Pushing again under the same tag moves it, without duplicating the entry.
    layout
        .push(&tag("1.0.0"), &p, &PullLimits::default(), &NoProgress)
        .unwrap();
    layout
        .push(&tag("latest"), &p, &PullLimits::default(), &NoProgress)
        .unwrap();
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "current_thread")]
async fn the_reference_functions_dispatch_to_the_layout() {
    let dir = tempfile::tempdir().unwrap();
    let (p, _) = signed();
    let r = PackageRef::parse(&format!("oci-layout:{}:v1", dir.path().display())).unwrap();
    let d = push(&r, &p, &RemoteOptions::default(), &NoProgress)
        .await
        .unwrap();
    let back = pull(&r, &RemoteOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(back.package, p);
    assert_eq!(back.manifest_digest, d);
}

fn blob(dir: &Path, digest: &Digest) -> std::path::PathBuf {
    dir.join("blobs/sha256").join(digest.hex())
}

#[test]
fn a_corrupt_blob_is_refused_by_its_digest() {
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::new(dir.path());
    let (p, _) = signed();
    layout
        .push(&tag("1"), &p, &PullLimits::default(), &NoProgress)
        .unwrap();
    let module = blob(dir.path(), &p.module_digest());
    let mut bytes = std::fs::read(&module).unwrap();
    bytes[9] ^= 1;
    std::fs::write(&module, &bytes).unwrap();
    let err = layout
        .pull(&tag("1"), &PullLimits::default(), &NoProgress)
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::BlobDigestMismatch { ref part, expected, actual, .. }
            if part == "module" && expected == p.module_digest() && actual == Digest::of(&bytes)),
        "{err}"
    );
    assert!(
        err.to_string().contains("module does not match its digest"),
        "{err}"
    );

    // A truncated blob is refused by its size, before it is read.
    bytes.truncate(4);
    std::fs::write(&module, &bytes).unwrap();
    let err = layout
        .pull(&tag("1"), &PullLimits::default(), &NoProgress)
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::BlobSizeMismatch { actual: 4, .. }),
        "{err}"
    );
}

/// Writes `manifest` as a blob of the layout and returns its digest.
fn put_manifest(dir: &Path, manifest: &serde_json::Value) -> Digest {
    let bytes = serde_json::to_vec(manifest).unwrap();
    let d = Digest::of(&bytes);
    std::fs::write(blob(dir, &d), bytes).unwrap();
    d
}

#[test]
fn a_manifest_declaring_a_10_gb_layer_is_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::new(dir.path());
    let (p, _) = signed();
    let d = layout
        .push(&tag("1"), &p, &PullLimits::default(), &NoProgress)
        .unwrap();
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(blob(dir.path(), &d)).unwrap()).unwrap();
    let layers = manifest["layers"].as_array_mut().unwrap();
    let module = layers
        .iter_mut()
        .find(|l| l["mediaType"] == "application/wasm")
        .unwrap();
    module["size"] = serde_json::json!(10_000_000_000u64);
    let huge = put_manifest(dir.path(), &manifest);
    let err = layout
        .pull(&Target::Digest(huge), &PullLimits::default(), &NoProgress)
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::BlobTooLarge { ref part, declared: 10_000_000_000, limit: 33_554_432, .. } if part == "module"),
        "{err}"
    );
    assert!(
        err.to_string()
            .ends_with("over the limit of 33554432; not downloaded"),
        "{err}"
    );
}

#[test]
fn foreign_or_malformed_manifests_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::new(dir.path());
    let (p, _) = signed();
    let d = layout
        .push(&tag("1"), &p, &PullLimits::default(), &NoProgress)
        .unwrap();
    let original: serde_json::Value =
        serde_json::from_slice(&std::fs::read(blob(dir.path(), &d)).unwrap()).unwrap();

    let mut image = original.clone();
    image["artifactType"] = serde_json::json!("application/vnd.oci.image.config.v1+json");
    let d = put_manifest(dir.path(), &image);
    let err = layout
        .pull(&Target::Digest(d), &PullLimits::default(), &NoProgress)
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::NotAMorphArtifact { .. }),
        "{err}"
    );

    let mut no_module = original.clone();
    no_module["layers"]
        .as_array_mut()
        .unwrap()
        .retain(|l| l["mediaType"] != "application/wasm");
    let d = put_manifest(dir.path(), &no_module);
    let err = layout
        .pull(&Target::Digest(d), &PullLimits::default(), &NoProgress)
        .unwrap_err();
    assert!(
        err.to_string().contains("has no `application/wasm` layer"),
        "{err}"
    );

    let mut unknown = original.clone();
    unknown["layers"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "mediaType": "application/x-shellscript", "digest": d.to_string(), "size": 1
        }));
    let d = put_manifest(dir.path(), &unknown);
    let err = layout
        .pull(&Target::Digest(d), &PullLimits::default(), &NoProgress)
        .unwrap_err();
    assert!(
        err.to_string().contains("`application/x-shellscript`"),
        "{err}"
    );

    let err = layout
        .pull(&tag("nope"), &PullLimits::default(), &NoProgress)
        .unwrap_err();
    assert!(matches!(err, RegistryError::NotFound { .. }), "{err}");

    // A manifest blob over the limit is refused from its file size.
    let limits = PullLimits {
        max_oci_manifest: 10,
        ..PullLimits::default()
    };
    let err = layout.pull(&tag("1"), &limits, &NoProgress).unwrap_err();
    assert!(
        matches!(err, RegistryError::ManifestTooLarge { limit: 10, .. }),
        "{err}"
    );
}
