//! `install`: the typed refusals, in their order (verification before any engine sees
//! the module), and that a refusal leaves the store as it was.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use morph_host::{Host, InstallError, InstallOptions, Store, install_blocking};
use morph_package::{Limits, Package};
use morph_signing::{Algorithm, PrivateKey, TrustStore, VerifyError, sign_package};
use std::path::PathBuf;

fn hello() -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/extensions/hello.wasm");
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}; run `cargo xtask build`", p.display()))
}

fn manifest(id: &str, version: &str) -> Vec<u8> {
    format!("id = \"{id}\"\nversion = \"{version}\"\npublisher = \"Acme\"\n").into_bytes()
}

fn package(manifest: Vec<u8>, module: Vec<u8>, key: Option<&PrivateKey>) -> Vec<u8> {
    let mut package = Package::new(manifest, module).unwrap();
    if let Some(key) = key {
        sign_package(&mut package, key).unwrap();
    }
    package.pack(&Limits::default()).unwrap()
}

struct Fixture {
    _dir: tempfile::TempDir,
    host: Host,
    store: Store,
    trust: TrustStore,
    key: PrivateKey,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let key = PrivateKey::generate(Algorithm::Ed25519).unwrap();
    let mut trust = TrustStore::new();
    trust.add_key(key.public_key().clone(), "Acme").unwrap();
    Fixture {
        _dir: dir,
        host: Host::builder().build().unwrap(),
        store,
        trust,
        key,
    }
}

impl Fixture {
    fn install(
        &self,
        bytes: &[u8],
        options: InstallOptions,
    ) -> Result<morph_host::InstallReport, InstallError> {
        install_blocking(&self.host, &self.store, &self.trust, bytes, options)
    }
}

#[test]
fn a_signed_package_installs_and_becomes_active() {
    let f = fixture();
    let bytes = package(manifest("hello", "0.1.0"), hello(), Some(&f.key));
    let report = f.install(&bytes, InstallOptions::default()).unwrap();
    assert_eq!(report.record.version, "0.1.0");
    assert_eq!(
        report.record.key_id,
        f.key.public_key().key_id().to_string()
    );
    assert!(!report.unsigned);
    let (record, stored) = f.store.active("hello").unwrap().unwrap();
    assert_eq!((record, stored), (report.record, bytes));
}

#[test]
fn verification_comes_before_any_engine_parses_the_module() {
    let f = fixture();
    // Not wasm at all: an engine would say "invalid module". Unsigned, then signed by an
    // unknown key, the refusal is verification's.
    let junk = b"definitely not wasm".to_vec();
    let err = f
        .install(
            &package(manifest("hello", "0.1.0"), junk.clone(), None),
            InstallOptions::default(),
        )
        .unwrap_err();
    assert!(matches!(err, InstallError::Unsigned { .. }), "{err:?}");
    let stranger = PrivateKey::generate(Algorithm::Ed25519).unwrap();
    let err = f
        .install(
            &package(manifest("hello", "0.1.0"), junk, Some(&stranger)),
            InstallOptions::default(),
        )
        .unwrap_err();
    assert!(
        matches!(err, InstallError::Verify(VerifyError::UnknownKey { .. })),
        "{err:?}"
    );
    assert!(f.store.list().unwrap().is_empty());
}

#[test]
fn unsigned_needs_the_option_and_still_meets_the_denylist() {
    let mut f = fixture();
    let bytes = package(manifest("hello", "0.1.0"), hello(), None);
    let err = f.install(&bytes, InstallOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`hello@0.1.0` is not signed and this host does not install unsigned packages"
    );
    let allow = InstallOptions {
        allow_unsigned: true,
        ..InstallOptions::default()
    };
    f.trust.deny(morph_package::Digest::of(&hello()), "bad");
    let err = f.install(&bytes, allow).unwrap_err();
    assert!(
        matches!(err, InstallError::Verify(VerifyError::DeniedDigest { .. })),
        "{err:?}"
    );
    f.trust.allow(&morph_package::Digest::of(&hello()));
    let report = f.install(&bytes, allow).unwrap();
    assert!(report.unsigned);
    assert_eq!(report.record.key_id, morph_host::UNSIGNED);
}

#[test]
fn downgrades_and_mismatched_descriptions_are_refused_with_both_values() {
    let f = fixture();
    f.install(
        &package(manifest("hello", "0.1.0"), hello(), Some(&f.key)),
        InstallOptions::default(),
    )
    .unwrap();
    let old = package(manifest("hello", "0.0.9"), hello(), Some(&f.key));
    let err = f.install(&old, InstallOptions::default()).unwrap_err();
    match &err {
        InstallError::Downgrade {
            installed, offered, ..
        } => {
            assert_eq!((installed.as_str(), offered.as_str()), ("0.1.0", "0.0.9"));
        }
        other => panic!("{other:?}"),
    }
    let allow = InstallOptions {
        allow_downgrade: true,
        ..InstallOptions::default()
    };
    let err = f.install(&old, allow).unwrap_err();
    match &err {
        InstallError::Mismatch {
            field,
            manifest,
            module,
        } => {
            assert_eq!(
                (*field, manifest.as_str(), module.as_str()),
                ("version", "0.0.9", "0.1.0")
            );
        }
        other => panic!("{other:?}"),
    }
    let other_id = package(manifest("greeter", "0.1.0"), hello(), Some(&f.key));
    let err = f.install(&other_id, InstallOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the manifest says id `greeter` but the module describes itself as `hello`; the package is inconsistent, ask its publisher to rebuild it"
    );
    let entry = f.store.get("hello").unwrap().unwrap();
    assert_eq!(entry.versions.len(), 1);
    assert!(f.store.get("greeter").unwrap().is_none());
}
