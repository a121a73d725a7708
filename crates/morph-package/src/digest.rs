//! The sha256 digest every part of a package is named by.

use sha2::{Digest as _, Sha256};
use std::fmt;
use std::str::FromStr;

/// A sha256 digest, written `sha256:<64 lowercase hex digits>` (the OCI spelling).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest([u8; 32]);

impl Digest {
    /// The sha256 of `bytes`.
    #[must_use]
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// A digest from its 32 raw bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 raw bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 64 lowercase hex digits, without the `sha256:` prefix.
    #[must_use]
    pub fn hex(&self) -> String {
        hex_encode(&self.0)
    }

    /// Parses `sha256:<64 hex digits>` (upper- or lowercase hex).
    ///
    /// # Errors
    /// [`DigestParseError`] when the prefix is not `sha256:` or the rest is not 64 hex digits.
    pub fn parse(text: &str) -> Result<Self, DigestParseError> {
        let Some(hex) = text.strip_prefix("sha256:") else {
            return Err(DigestParseError {
                text: shorten(text),
                reason: "it does not start with `sha256:`",
            });
        };
        Self::from_hex(hex).ok_or(DigestParseError {
            text: shorten(text),
            reason: "`sha256:` must be followed by exactly 64 hex digits",
        })
    }

    /// Parses 64 hex digits without a prefix; `None` when they are not.
    #[must_use]
    pub fn from_hex(hex: &str) -> Option<Self> {
        let bytes = hex.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let (hi, lo) = match pair {
                [hi, lo] => (hex_value(*hi)?, hex_value(*lo)?),
                _ => return None,
            };
            *slot = (hi << 4) | lo;
        }
        Some(Self(out))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Digest {
    type Err = DigestParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A string that is not a `sha256:` digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a sha256 digest: {reason}")]
pub struct DigestParseError {
    text: String,
    reason: &'static str,
}

/// Lowercase hex of `bytes`.
#[must_use]
pub fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// At most 80 characters of untrusted text, for an error message.
pub(crate) fn shorten(text: &str) -> String {
    let mut out: String = text.chars().take(80).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest_round_trips() {
        let d = Digest::of(b"abc");
        let text = d.to_string();
        assert_eq!(
            text,
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Digest::parse(&text), Ok(d));
        assert_eq!(
            Digest::parse(&text.to_uppercase().replace("SHA256", "sha256")),
            Ok(d)
        );
    }

    #[test]
    fn bad_digests_are_refused_with_a_reason() {
        let err = Digest::parse("md5:abc").unwrap_err();
        assert!(err.to_string().contains("does not start with `sha256:`"));
        let err = Digest::parse("sha256:abc").unwrap_err();
        assert!(err.to_string().contains("64 hex digits"));
        let bad = format!("sha256:{}", "g".repeat(64));
        assert!(Digest::parse(&bad).is_err());
        // Multi-byte characters must not panic the parser.
        let odd = format!("sha256:{}", "é".repeat(32));
        assert!(Digest::parse(&odd).is_err());
    }
}
