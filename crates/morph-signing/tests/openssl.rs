//! Interoperability with the `openssl` CLI, both ways, for both algorithms: openssl
//! verifies our signatures of a statement, and we verify packages whose statement openssl
//! signed with keys openssl generated.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use morph_package::Package;
use morph_signing::{
    Algorithm, PrivateKey, PublicKey, SignatureEnvelope, SigningError, Statement, TrustStore,
    VerifyError, verify,
};
use std::path::Path;
use std::process::Command;

/// Runs openssl, failing loudly when it is missing (it is part of the machine's image and
/// of CI's: a missing openssl is a broken machine, not a reason to skip).
fn openssl(args: &[&str], dir: &Path) -> std::process::Output {
    match Command::new("openssl").args(args).current_dir(dir).output() {
        Ok(out) => out,
        Err(e) => panic!(
            "the interop tests need the `openssl` CLI ({e}); install it with `apt-get install openssl`"
        ),
    }
}

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "openssl failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const MANIFEST: &[u8] = b"id = \"hello\"\nversion = \"1.0.0\"\npublisher = \"Acme\"\n";

fn statement_file(dir: &Path) -> (Package, Vec<u8>) {
    let package = Package::new(MANIFEST.to_vec(), b"\0asm\x01\0\0\0".to_vec()).unwrap();
    let bytes = Statement::for_package(&package)
        .unwrap()
        .to_bytes()
        .unwrap();
    std::fs::write(dir.join("statement"), &bytes).unwrap();
    (package, bytes)
}

fn write_public(key: &PublicKey, dir: &Path) {
    std::fs::write(dir.join("pub.pem"), key.to_spki_pem().unwrap()).unwrap();
}

#[test]
fn openssl_verifies_our_ed25519_signature() {
    let dir = tempfile::tempdir().unwrap();
    let (_, statement) = statement_file(dir.path());
    let key = PrivateKey::generate(Algorithm::Ed25519).unwrap();
    write_public(key.public_key(), dir.path());
    std::fs::write(dir.path().join("sig"), key.sign_raw(&statement).unwrap()).unwrap();
    let args = [
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        "pub.pem",
        "-rawin",
        "-in",
        "statement",
        "-sigfile",
        "sig",
    ];
    let out = ok(&openssl(&args, dir.path()));
    assert!(out.contains("Signature Verified Successfully"), "{out}");

    // The same signature over a changed statement does not verify.
    std::fs::write(
        dir.path().join("statement"),
        [&statement[..], b"x"].concat(),
    )
    .unwrap();
    assert!(!openssl(&args, dir.path()).status.success());

    // Our private key file is one openssl reads, and it yields the same public key.
    key.write_pkcs8_pem(&dir.path().join("key.pem")).unwrap();
    let pub_from_openssl = ok(&openssl(&["pkey", "-in", "key.pem", "-pubout"], dir.path()));
    assert_eq!(pub_from_openssl, key.public_key().to_spki_pem().unwrap());
}

#[test]
fn openssl_verifies_our_rsa_pss_signature() {
    let dir = tempfile::tempdir().unwrap();
    let (_, statement) = statement_file(dir.path());
    let key = PrivateKey::generate_rsa(2048).unwrap();
    write_public(key.public_key(), dir.path());
    std::fs::write(dir.path().join("sig"), key.sign_raw(&statement).unwrap()).unwrap();
    let args = [
        "dgst",
        "-sha256",
        "-verify",
        "pub.pem",
        "-sigopt",
        "rsa_padding_mode:pss",
        "-sigopt",
        "rsa_pss_saltlen:32",
        "-signature",
        "sig",
        "statement",
    ];
    let out = ok(&openssl(&args, dir.path()));
    assert!(out.contains("Verified OK"), "{out}");

    std::fs::write(
        dir.path().join("statement"),
        [&statement[..], b"x"].concat(),
    )
    .unwrap();
    assert!(!openssl(&args, dir.path()).status.success());

    key.write_pkcs8_pem(&dir.path().join("key.pem")).unwrap();
    let pub_from_openssl = ok(&openssl(&["pkey", "-in", "key.pem", "-pubout"], dir.path()));
    assert_eq!(pub_from_openssl, key.public_key().to_spki_pem().unwrap());
}

/// Builds the envelope around a signature openssl made, attaches it, and verifies.
fn verify_openssl_signed(
    dir: &Path,
    package: Package,
    statement: Vec<u8>,
    algorithm: Algorithm,
) -> Result<(), VerifyError> {
    let public = PublicKey::read_pem_file(&dir.join("pub.pem")).unwrap();
    let private = PrivateKey::read_pem_file(&dir.join("key.pem")).unwrap();
    assert_eq!(private.public_key(), &public);
    assert_eq!(public.algorithm(), algorithm);
    let signature = std::fs::read(dir.join("sig")).unwrap();
    assert!(public.verify_raw(&statement, &signature));
    let envelope = SignatureEnvelope {
        algorithm,
        key_id: public.key_id(),
        statement,
        signature,
    };
    let mut package = package;
    package.set_signature(envelope.to_json());
    let mut trust = TrustStore::new();
    trust.add_key(public, "Acme").unwrap();
    verify(package, &trust).map(|v| assert_eq!(v.algorithm(), algorithm))
}

#[test]
fn we_verify_a_package_openssl_signed_with_ed25519() {
    let dir = tempfile::tempdir().unwrap();
    let (package, statement) = statement_file(dir.path());
    let d = dir.path();
    ok(&openssl(
        &["genpkey", "-algorithm", "ed25519", "-out", "key.pem"],
        d,
    ));
    ok(&openssl(
        &["pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem"],
        d,
    ));
    ok(&openssl(
        &[
            "pkeyutl",
            "-sign",
            "-inkey",
            "key.pem",
            "-rawin",
            "-in",
            "statement",
            "-out",
            "sig",
        ],
        d,
    ));
    verify_openssl_signed(d, package, statement, Algorithm::Ed25519).unwrap();
}

#[test]
fn we_verify_a_package_openssl_signed_with_rsa_pss() {
    let dir = tempfile::tempdir().unwrap();
    let (package, statement) = statement_file(dir.path());
    let d = dir.path();
    ok(&openssl(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:3072",
            "-out",
            "key.pem",
        ],
        d,
    ));
    ok(&openssl(
        &["pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem"],
        d,
    ));
    ok(&openssl(
        &[
            "dgst",
            "-sha256",
            "-sign",
            "key.pem",
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:32",
            "-out",
            "sig",
            "statement",
        ],
        d,
    ));
    verify_openssl_signed(d, package, statement, Algorithm::RsaPssSha256).unwrap();
}

#[test]
fn an_openssl_signature_with_another_salt_length_is_refused() {
    // We pin the salt to 32 bytes; openssl's default for signing is the maximum.
    let dir = tempfile::tempdir().unwrap();
    let (package, statement) = statement_file(dir.path());
    let d = dir.path();
    ok(&openssl(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "key.pem",
        ],
        d,
    ));
    ok(&openssl(
        &["pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem"],
        d,
    ));
    ok(&openssl(
        &[
            "dgst",
            "-sha256",
            "-sign",
            "key.pem",
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:max",
            "-out",
            "sig",
            "statement",
        ],
        d,
    ));
    let public = PublicKey::read_pem_file(&d.join("pub.pem")).unwrap();
    let signature = std::fs::read(d.join("sig")).unwrap();
    assert!(!public.verify_raw(&statement, &signature));
    drop(package);
}

#[test]
fn an_openssl_rsa_key_under_2048_bits_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&openssl(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:1024",
            "-out",
            "key.pem",
        ],
        d,
    ));
    ok(&openssl(
        &["pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem"],
        d,
    ));
    let err = PublicKey::read_pem_file(&d.join("pub.pem")).unwrap_err();
    assert!(
        matches!(
            err,
            SigningError::KeyTooSmall {
                bits: 1024,
                min: 2048
            }
        ),
        "{err}"
    );
    // rsa 0.10 itself refuses to decode keys under 1024 bits; at 1024 our own check speaks.
    let err = PrivateKey::read_pem_file(&d.join("key.pem")).unwrap_err();
    assert!(
        matches!(err, SigningError::KeyTooSmall { bits: 1024, .. }),
        "{err}"
    );
}
