//! The tamper suite, package level: every way a package can be altered or mis-signed is
//! refused with its own error and a message that names what failed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use morph_package::{Asset, Digest, Limits, Package, PackageError};
use morph_signing::{
    Algorithm, PrivateKey, SignatureEnvelope, SignedPart, Statement, TrustStore, VerifyError,
    sign_package, sign_statement, verify,
};
use std::sync::OnceLock;

const MANIFEST: &[u8] =
    b"id = \"hello\"\nversion = \"1.0.0\"\npublisher = \"Acme\"\ndescription = \"says hello\"\n";
const MODULE: &[u8] = b"\0asm\x01\0\0\0 pretend this is a module";

fn keys() -> &'static (PrivateKey, PrivateKey) {
    static KEYS: OnceLock<(PrivateKey, PrivateKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        (
            PrivateKey::generate(Algorithm::Ed25519).unwrap(),
            PrivateKey::generate_rsa(2048).unwrap(),
        )
    })
}

fn signed_with(key: &PrivateKey, manifest: &[u8]) -> Package {
    let mut p = Package::new(manifest.to_vec(), MODULE.to_vec()).unwrap();
    p.add_asset(Asset::new("icon.png", vec![1, 2, 3]).unwrap())
        .unwrap();
    sign_package(&mut p, key).unwrap();
    p
}

fn trust() -> TrustStore {
    let (ed, rsa) = keys();
    let mut t = TrustStore::new();
    t.add_key(ed.public_key().clone(), "Acme").unwrap();
    t.add_key(rsa.public_key().clone(), "Acme").unwrap();
    t
}

fn each_key() -> [&'static PrivateKey; 2] {
    let (ed, rsa) = keys();
    [ed, rsa]
}

/// Rebuilds `p` with other bytes, keeping its signature (what an attacker can do).
fn rebuild(p: &Package, manifest: &[u8], module: &[u8]) -> Package {
    let mut q = Package::new(manifest.to_vec(), module.to_vec()).unwrap();
    for a in p.assets() {
        q.add_asset(a.clone()).unwrap();
    }
    q.set_signature(p.signature().unwrap().to_vec());
    q
}

fn refused(p: Package) -> (VerifyError, String) {
    let err = verify(p, &trust()).unwrap_err();
    let msg = err.to_string();
    (err, msg)
}

#[test]
fn a_good_package_verifies_with_both_algorithms() {
    for key in each_key() {
        let v = verify(signed_with(key, MANIFEST), &trust()).unwrap();
        assert_eq!(v.publisher(), "Acme");
        assert_eq!(v.key_id(), key.public_key().key_id());
        assert_eq!(v.algorithm(), key.algorithm());
        assert_eq!(v.statement().id, "hello");
        // And it still verifies after a trip through the file format.
        let bytes = v.package().pack(&Limits::default()).unwrap();
        let back = Package::unpack(&bytes, &Limits::default()).unwrap();
        verify(back, &trust()).unwrap();
    }
}

#[test]
fn a_flipped_module_byte_is_refused() {
    for key in each_key() {
        let p = signed_with(key, MANIFEST);
        let mut module = MODULE.to_vec();
        module[10] ^= 1;
        let (err, msg) = refused(rebuild(&p, MANIFEST, &module));
        assert!(
            matches!(err, VerifyError::DigestMismatch { part: SignedPart::Module, signed: Some(s), actual: Some(a), .. }
                if s == Digest::of(MODULE) && a == Digest::of(&module)),
            "{err:?}"
        );
        assert!(
            msg.starts_with("`hello@1.0.0`'s module was changed after signing (signed sha256:"),
            "{msg}"
        );
    }
}

#[test]
fn a_flipped_manifest_byte_is_refused() {
    for key in each_key() {
        let p = signed_with(key, MANIFEST);
        let manifest = String::from_utf8(MANIFEST.to_vec())
            .unwrap()
            .replace("says", "sayz");
        let (err, msg) = refused(rebuild(&p, manifest.as_bytes(), MODULE));
        assert!(
            matches!(
                err,
                VerifyError::DigestMismatch {
                    part: SignedPart::Manifest,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(msg.contains("manifest was changed after signing"), "{msg}");
    }
}

#[test]
fn a_changed_or_added_asset_is_refused() {
    let p = signed_with(&keys().0, MANIFEST);
    let mut q = rebuild(&p, MANIFEST, MODULE);
    q.add_asset(Asset::new("extra.js", b"evil()".to_vec()).unwrap())
        .unwrap();
    let (err, msg) = refused(q);
    assert!(
        matches!(err, VerifyError::DigestMismatch { part: SignedPart::Asset(ref n), signed: None, actual: Some(_), .. } if n == "extra.js"),
        "{err:?}"
    );
    assert!(
        msg.contains("asset `extra.js` was changed after signing (signed nothing"),
        "{msg}"
    );

    let mut q = Package::new(MANIFEST.to_vec(), MODULE.to_vec()).unwrap();
    q.add_asset(Asset::new("icon.png", vec![9]).unwrap())
        .unwrap();
    q.set_signature(p.signature().unwrap().to_vec());
    let (err, _) = refused(q);
    assert!(matches!(
        err,
        VerifyError::DigestMismatch {
            part: SignedPart::Asset(_),
            signed: Some(_),
            ..
        }
    ));

    // A signed asset that was removed.
    let mut q = Package::new(MANIFEST.to_vec(), MODULE.to_vec()).unwrap();
    q.set_signature(p.signature().unwrap().to_vec());
    let (err, msg) = refused(q);
    assert!(
        matches!(err, VerifyError::DigestMismatch { actual: None, .. }),
        "{err:?}"
    );
    assert!(msg.contains("found nothing"), "{msg}");
}

#[test]
fn a_flipped_signature_byte_is_refused() {
    for key in each_key() {
        let p = signed_with(key, MANIFEST);
        let mut env = SignatureEnvelope::from_json(p.signature().unwrap()).unwrap();
        env.signature[5] ^= 1;
        let mut q = p.clone();
        q.set_signature(env.to_json());
        let (err, msg) = refused(q);
        assert!(matches!(err, VerifyError::BadSignature { .. }), "{err:?}");
        assert!(
            msg.starts_with("`hello@1.0.0`'s signature does not verify with key ")
                && msg.contains("of `Acme`"),
            "{msg}"
        );

        // A changed statement (e.g. its module digest swapped for another) does not verify.
        let mut env = SignatureEnvelope::from_json(p.signature().unwrap()).unwrap();
        let last = env.statement.len() - 2;
        env.statement[last] ^= 1;
        let mut q = p.clone();
        q.set_signature(env.to_json());
        assert!(matches!(refused(q).0, VerifyError::BadSignature { .. }));

        // A flipped byte of the JSON itself.
        let mut raw = p.signature().unwrap().to_vec();
        raw[0] ^= 1;
        let mut q = p.clone();
        q.set_signature(raw);
        let (err, msg) = refused(q);
        assert!(
            matches!(err, VerifyError::MalformedSignature { .. }),
            "{err:?}"
        );
        assert!(
            msg.contains("carries a malformed signature (it is not a Morph signature"),
            "{msg}"
        );
    }
}

#[test]
fn a_signature_from_another_package_is_refused() {
    let other_manifest = b"id = \"other\"\nversion = \"1.0.0\"\npublisher = \"Acme\"\n";
    let other = signed_with(&keys().0, other_manifest);
    let mut p = Package::new(MANIFEST.to_vec(), MODULE.to_vec()).unwrap();
    p.add_asset(Asset::new("icon.png", vec![1, 2, 3]).unwrap())
        .unwrap();
    p.set_signature(other.signature().unwrap().to_vec());
    let (err, msg) = refused(p);
    assert!(
        matches!(err, VerifyError::StatementMismatch { field: "id", ref claimed, ref actual, .. } if claimed == "other" && actual == "hello"),
        "{err:?}"
    );
    assert_eq!(
        msg,
        "`hello@1.0.0` carries a signature for id `other`, not `hello`: the signature belongs to another package; get the package again from its publisher"
    );
}

#[test]
fn a_statement_claiming_another_id_or_version_is_refused() {
    let p = signed_with(&keys().0, MANIFEST);
    for (field, value) in [("id", "hello-pro"), ("version", "9.9.9")] {
        let mut s = Statement::for_package(&p).unwrap();
        match field {
            "id" => s.id = value.into(),
            _ => s.version = value.into(),
        }
        let env = sign_statement(&s, &keys().0).unwrap();
        let mut q = p.clone();
        q.set_signature(env.to_json());
        let (err, msg) = refused(q);
        assert!(
            matches!(err, VerifyError::StatementMismatch { field: f, ref claimed, .. } if f == field && claimed == value),
            "{err:?}"
        );
        assert!(
            msg.contains(&format!("signature for {field} `{value}`")),
            "{msg}"
        );
    }
}

#[test]
fn an_unknown_key_is_refused() {
    let stranger = PrivateKey::generate(Algorithm::Ed25519).unwrap();
    let p = signed_with(&stranger, MANIFEST);
    let (err, msg) = refused(p);
    assert!(
        matches!(err, VerifyError::UnknownKey { key_id, .. } if key_id == stranger.public_key().key_id()),
        "{err:?}"
    );
    assert_eq!(
        msg,
        format!(
            "`hello@1.0.0` is signed by key {} which is not in the trust store; if you trust its publisher, add their public key to the trust store",
            stranger.public_key().key_id().short()
        )
    );
}

#[test]
fn a_revoked_key_is_refused() {
    for key in each_key() {
        let mut t = trust();
        t.revoke(&key.public_key().key_id()).unwrap();
        let err = verify(signed_with(key, MANIFEST), &t).unwrap_err();
        assert!(
            matches!(err, VerifyError::RevokedKey { ref publisher, .. } if publisher == "Acme"),
            "{err:?}"
        );
        assert!(err.to_string().contains("which was revoked"), "{err}");
    }
}

#[test]
fn a_denied_digest_is_refused_even_when_well_signed() {
    let mut t = trust();
    t.deny(Digest::of(MODULE), "mines cryptocurrency");
    let err = verify(signed_with(&keys().0, MANIFEST), &t).unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::DeniedDigest {
                part: SignedPart::Module,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("is on the denylist (mines cryptocurrency)"),
        "{err}"
    );

    let mut t = trust();
    t.deny(Digest::of(&[1, 2, 3]), "bad icon");
    let err = verify(signed_with(&keys().0, MANIFEST), &t).unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::DeniedDigest {
                part: SignedPart::Asset(_),
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_key_signing_for_another_publisher_is_refused() {
    let manifest = b"id = \"hello\"\nversion = \"1.0.0\"\npublisher = \"Evil Corp\"\n";
    let (err, msg) = refused(signed_with(&keys().0, manifest));
    assert!(
        matches!(err, VerifyError::PublisherMismatch { ref trusted, ref claimed, .. } if trusted == "Acme" && claimed == "Evil Corp"),
        "{err:?}"
    );
    assert!(
        msg.contains("a key only vouches for its own publisher"),
        "{msg}"
    );
}

#[test]
fn an_unsigned_package_and_a_wrong_algorithm_are_refused() {
    let p = Package::new(MANIFEST.to_vec(), MODULE.to_vec()).unwrap();
    let (err, msg) = refused(p);
    assert!(matches!(err, VerifyError::Unsigned { .. }));
    assert!(msg.starts_with("`hello@1.0.0` is not signed"), "{msg}");

    let p = signed_with(&keys().0, MANIFEST);
    let mut env = SignatureEnvelope::from_json(p.signature().unwrap()).unwrap();
    env.algorithm = Algorithm::RsaPssSha256;
    let mut q = p.clone();
    q.set_signature(env.to_json());
    assert!(matches!(
        refused(q).0,
        VerifyError::AlgorithmMismatch { .. }
    ));
}

#[test]
fn a_tampered_package_file_is_refused_before_or_at_verification() {
    let p = signed_with(&keys().0, MANIFEST);
    let bytes = p.pack(&Limits::default()).unwrap();
    let module_at = bytes.windows(4).position(|w| w == b"\0asm").unwrap();

    // A flipped module byte: the package's own index catches it.
    let mut b = bytes.clone();
    b[module_at + 12] ^= 1;
    let err = Package::unpack(&b, &Limits::default()).unwrap_err();
    assert!(
        matches!(err, PackageError::DigestMismatch { ref entry, .. } if entry == "module"),
        "{err}"
    );

    // The same flip with the index's digest rewritten to match: the signature catches it.
    let mut changed = MODULE.to_vec();
    changed[12] ^= 1;
    let text = String::from_utf8_lossy(&b).into_owned();
    let old = Digest::of(MODULE).to_string();
    let new = Digest::of(&changed).to_string();
    assert!(text.contains(&old));
    let patched: Vec<u8> = {
        let at = b
            .windows(old.len())
            .position(|w| w == old.as_bytes())
            .unwrap();
        [&b[..at], new.as_bytes(), &b[at + old.len()..]].concat()
    };
    let q = Package::unpack(&patched, &Limits::default()).unwrap();
    assert!(matches!(
        verify(q, &trust()).unwrap_err(),
        VerifyError::DigestMismatch {
            part: SignedPart::Module,
            ..
        }
    ));

    // Truncated files.
    for cut in [1, 10, bytes.len() / 2, bytes.len() - 1] {
        let err = Package::unpack(&bytes[..cut], &Limits::default()).unwrap_err();
        assert!(
            matches!(
                err,
                PackageError::Truncated { .. } | PackageError::NotAPackage
            ),
            "{cut}: {err}"
        );
    }
}
