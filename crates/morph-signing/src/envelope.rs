//! The signature as attached to a package (`signature.json`).
//!
//! ```json
//! {"format":"morph-signature/v1","algorithm":"ed25519","key_id":"<64 hex>",
//!  "statement":"<base64>","signature":"<base64>"}
//! ```
//!
//! The statement travels with the signature so a refusal can say what the signer claimed
//! (another id, another version...), not only that the bytes differ.

use crate::keys::{Algorithm, KeyId};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

const FORMAT: &str = "morph-signature/v1";

/// A signature over a statement, with what a verifier needs to check it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureEnvelope {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The id of the signing key.
    pub key_id: KeyId,
    /// The canonical statement bytes (see [`crate::Statement`]).
    pub statement: Vec<u8>,
    /// The signature of `statement`.
    pub signature: Vec<u8>,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    format: String,
    algorithm: Algorithm,
    key_id: String,
    statement: String,
    signature: String,
}

impl SignatureEnvelope {
    /// The JSON bytes attached to a package.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        let wire = Wire {
            format: FORMAT.into(),
            algorithm: self.algorithm,
            key_id: self.key_id.to_string(),
            statement: STANDARD.encode(&self.statement),
            signature: STANDARD.encode(&self.signature),
        };
        // Serialising a struct of strings cannot fail; fall back to an empty object that
        // verification refuses rather than panic.
        serde_json::to_vec(&wire).unwrap_or_else(|_| b"{}".to_vec())
    }

    /// Reads the JSON attached to a package.
    ///
    /// # Errors
    /// A sentence when it is not the JSON described, names another format version, an
    /// unknown algorithm, or holds invalid base64 or key id.
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        let wire: Wire = serde_json::from_slice(bytes)
            .map_err(|e| format!("it is not a Morph signature: {e}"))?;
        if wire.format != FORMAT {
            return Err(format!(
                "it has format `{}`; this build reads `{FORMAT}`",
                wire.format.chars().take(40).collect::<String>()
            ));
        }
        let key_id = KeyId::parse(&wire.key_id).map_err(|e| e.to_string())?;
        let statement = STANDARD
            .decode(wire.statement.as_bytes())
            .map_err(|e| format!("its statement is not base64: {e}"))?;
        let signature = STANDARD
            .decode(wire.signature.as_bytes())
            .map_err(|e| format!("its signature is not base64: {e}"))?;
        Ok(Self {
            algorithm: wire.algorithm,
            key_id,
            statement,
            signature,
        })
    }
}
