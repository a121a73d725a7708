//! What reads signatures, keys and packages (`morph-signing`, `morph-package`): any
//! bytes end in a value or a typed error, never a panic. The first byte of an input picks
//! the parser, the rest is its input:
//!
//! | byte % 8 | parser | also checked |
//! |---|---|---|
//! | 0 | `SignatureEnvelope::from_json` | |
//! | 1 | `Statement::parse` | a statement that parses is canonical: it encodes back to the same bytes |
//! | 2 | `KeyId::parse` | it prints back as it was read, lowercased |
//! | 3 | `PublicKey::from_spki_pem` | it writes back to a PEM that reads as the same key |
//! | 4 | `PublicKey::from_spki_der` | |
//! | 5 | `PrivateKey::from_pkcs8_pem` | |
//! | 6 | `Package::unpack` | |
//! | 7 | `verify` of a package signed by a trusted key, its signature replaced by the input | it verifies only when the input says what the real signature says |

use crate::driver::{Rng, mutate};
use morph_package::{Limits, Package};
use morph_signing::{
    KeyId, PrivateKey, PublicKey, SignatureEnvelope, Statement, TrustStore, sign_package, verify,
};
use std::sync::OnceLock;

/// A fixed Ed25519 key (generated once with `openssl genpkey -algorithm ed25519`), so
/// that the fixture, and so every input the stable runs make, is the same every run.
const FIXTURE_KEY: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIKsI18oDuVoUgzE7k03ya6tPRONTK/N5huzbCMTer0OQ
-----END PRIVATE KEY-----
";

/// An RSA-2048 public key, for the RSA paths of the key parsers.
const RSA_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAoPCjey9Q59e5Fp1NLdPQ
6W5emY7nfrJFNP9ls5kWg2kdcTfwsPsk83pxl9G0V4s6b/8Vbb+xvv8WPT6uoi6k
yiIPkbtCBHwc4e02TMRVdWEi6OfzTBUGQ5VyPv63PQw1kc81gD/L+u6KnS3sd0na
wm89AVvSkP/a0eA4Zn6CW5Qr3H4BKTKOa1P19bOqJ4/9u3GIL+I3K/uNjagMEUgs
277MsQMIDAQ7Jb1g2MrL46ALrD+B3nDyMUwVReqAAcyhy11BeiqS2iGGAOvtcyyI
CACdwGIxfA1nD1HcSyL7dZlRh1WtMUjjrvHYrfh06pybcy+5iD8mAhIoDl82by2p
lQIDAQAB
-----END PUBLIC KEY-----
";

/// A signed package, the trust store that trusts its key, and the valid inputs of each
/// parser.
struct Fixture {
    package: Package,
    trust: TrustStore,
    envelope: SignatureEnvelope,
    /// A valid input per parser (indexed like the table in the module docs).
    valid: [Vec<u8>; 8],
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let fail = |what: &str, e: &dyn std::fmt::Display| -> ! {
            panic!("the signing fixture: {what}: {e}")
        };
        let key = PrivateKey::from_pkcs8_pem(FIXTURE_KEY).unwrap_or_else(|e| fail("key", &e));
        let manifest = b"id = \"hello\"\nversion = \"1.0.0\"\npublisher = \"Acme\"\n".to_vec();
        let mut package = Package::new(manifest, b"\0asm\x01\0\0\0".to_vec())
            .unwrap_or_else(|e| fail("package", &e));
        sign_package(&mut package, &key).unwrap_or_else(|e| fail("sign", &e));
        let mut trust = TrustStore::new();
        trust
            .add_key(key.public_key().clone(), "Acme")
            .unwrap_or_else(|e| fail("trust", &e));
        let signature = package.signature().unwrap_or_default().to_vec();
        let envelope =
            SignatureEnvelope::from_json(&signature).unwrap_or_else(|e| fail("envelope", &e));
        let spki = key
            .public_key()
            .to_spki_der()
            .unwrap_or_else(|e| fail("der", &e));
        let packed = package
            .pack(&Limits::default())
            .unwrap_or_else(|e| fail("pack", &e));
        let valid = [
            signature.clone(),
            envelope.statement.clone(),
            envelope.key_id.to_string().into_bytes(),
            RSA_PUBLIC.as_bytes().to_vec(),
            spki,
            FIXTURE_KEY.as_bytes().to_vec(),
            packed,
            signature,
        ];
        Fixture {
            package,
            trust,
            envelope,
            valid,
        }
    })
}

/// Pieces of the formats, inserted by the mutations.
pub const TOKENS: &[&[u8]] = &[
    b"\"format\":\"morph-signature/v1\"",
    b"\"algorithm\":\"rsa-pss-sha256\"",
    b"\"algorithm\":\"ed25519\"",
    b"morph-statement/v1\n",
    b"asset: ",
    b"sha256:",
    b"-----BEGIN PUBLIC KEY-----\n",
    b"-----END PUBLIC KEY-----\n",
    b"-----BEGIN PRIVATE KEY-----\n",
    b"====",
    b"\\u0000",
    b"\x30\x82\xff\xff",
    b"\x02\x01\x00",
    b"\xff\xff\xff\xff",
];

/// A stable run's input: a parser, and a valid input of it mutated.
pub fn generate(rng: &mut Rng) -> Vec<u8> {
    let which = rng.below(8);
    let valid = &fixture().valid[which];
    let mut out = vec![u8::try_from(which).unwrap_or(0)];
    if rng.one_in(12) {
        let len = rng.below(128);
        out.extend(rng.bytes(len));
    } else {
        out.extend(mutate(rng, valid, TOKENS));
    }
    out
}

/// Runs the parser the first byte of `data` picks on the rest.
///
/// # Errors
/// A sentence when a round trip or the verification property fails.
pub fn run(data: &[u8]) -> Result<(), String> {
    let Some((&which, input)) = data.split_first() else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(input);
    match which % 8 {
        0 => drop(SignatureEnvelope::from_json(input)),
        1 => {
            if let Ok(statement) = Statement::parse(input) {
                let again = statement
                    .to_bytes()
                    .map_err(|e| format!("re-encoding: {e}"))?;
                if again != input {
                    return Err("a statement that parsed is not canonical".into());
                }
            }
        }
        2 => {
            if let Ok(id) = KeyId::parse(&text)
                && id.to_string() != text.to_ascii_lowercase()
            {
                return Err(format!("key id {text:?} prints as {id}"));
            }
        }
        3 => {
            if let Ok(key) = PublicKey::from_spki_pem(&text) {
                let pem = key.to_spki_pem().map_err(|e| format!("writing: {e}"))?;
                let again =
                    PublicKey::from_spki_pem(&pem).map_err(|e| format!("reading back: {e}"))?;
                if again.key_id() != key.key_id() {
                    return Err("a public key read back as another".into());
                }
            }
        }
        4 => drop(PublicKey::from_spki_der(input)),
        5 => drop(PrivateKey::from_pkcs8_pem(&text).map(|k| k.public_key().key_id())),
        6 => drop(Package::unpack(input, &Limits::default())),
        _ => {
            let f = fixture();
            let mut package = f.package.clone();
            package.set_signature(input.to_vec());
            if let Ok(verified) = verify(package, &f.trust) {
                let same = SignatureEnvelope::from_json(input).is_ok_and(|e| e == f.envelope);
                if !same {
                    return Err(format!(
                        "a signature that is not the real one verified (publisher {})",
                        verified.publisher()
                    ));
                }
            }
        }
    }
    Ok(())
}
