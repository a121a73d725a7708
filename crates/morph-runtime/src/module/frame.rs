//! Morph's framing of a backend's compiled code, for caches of compiled modules.
//!
//! A frame binds the engine's bytes to what produced them and checks that they arrived
//! whole:
//!
//! ```text
//! magic "MORPHCC2" | SHA-256 of everything after it (32 bytes)
//! | backend | engine version | morph-runtime version | contract      (u32 length + UTF-8 each)
//! | size | memory_min_bytes | table_min_bytes | flags (u8) | budget | meter_trap_func (u32)
//! | the engine's code
//! ```
//!
//! (integers little-endian, u64 unless marked). [`unframe_compiled`] refuses a frame
//! whose digest does not match (truncated, bit-flipped), or that was written for another
//! backend, another engine version or another version of Morph (whose rewrites, and so
//! compiled code, may differ). The digest detects corruption, not tampering: whoever can
//! write the cache can write a matching digest, and engines trust deserialized code, so
//! the cache itself must be trusted.

use super::ModuleInfo;
use crate::error::{Error, Result};
use sha2::{Digest, Sha256};

/// Magic at the start of a frame (version 2: bound to backend and engine, digested).
const MAGIC: &[u8; 8] = b"MORPHCC2";
/// Length of the SHA-256 digest.
const DIGEST: usize = 32;
/// The version of Morph whose rewrites produced the framed code.
const MORPH_VERSION: &str = env!("CARGO_PKG_VERSION");

fn put_str(out: &mut Vec<u8>, s: &str) {
    // Names and versions are short; a longer one is cut at u32::MAX bytes, which the
    // reader then refuses as a mismatch.
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    let end = usize::try_from(len).unwrap_or(usize::MAX);
    out.extend_from_slice(s.as_bytes().get(..end).unwrap_or(s.as_bytes()));
}

/// A frame's seal: its magic and the SHA-256 digest of everything after it, which
/// [`unframe_compiled`] checks against the rest before anything is read. A MAC over the
/// seal therefore authenticates the whole frame (by SHA-256's collision resistance)
/// while hashing the code once, not twice: what the code cache keys its entries with.
/// `None` when `frame` does not start like a frame.
pub fn frame_seal(frame: &[u8]) -> Option<&[u8]> {
    frame
        .get(..MAGIC.len() + DIGEST)
        .filter(|seal| seal.starts_with(MAGIC))
}

/// Frames a backend's compiled code with the module's [`ModuleInfo`], bound to the
/// backend's name (e.g. `wasmer-cranelift`) and its engine's version (e.g. `7.3.0`), so
/// that [`unframe_compiled`] restores both, for that backend and engine only. Every
/// backend uses this one format (see the module docs).
pub fn frame_compiled(
    backend: &str,
    engine_version: &str,
    info: &ModuleInfo,
    code: &[u8],
) -> Vec<u8> {
    let mut body = Vec::with_capacity(code.len().saturating_add(128));
    put_str(&mut body, backend);
    put_str(&mut body, engine_version);
    put_str(&mut body, MORPH_VERSION);
    put_str(&mut body, &info.contract);
    body.extend_from_slice(&info.size.to_le_bytes());
    body.extend_from_slice(&info.memory_min_bytes.to_le_bytes());
    body.extend_from_slice(&info.table_min_bytes.to_le_bytes());
    let flags = u8::from(info.has_post_describe)
        | (u8::from(info.has_post_execute) << 1)
        | (u8::from(info.has_start) << 2)
        | (u8::from(info.metered.is_some()) << 3);
    body.push(flags);
    body.extend_from_slice(&info.metered.unwrap_or(0).to_le_bytes());
    body.extend_from_slice(&info.meter_trap_func.to_le_bytes());
    body.extend_from_slice(code);
    let mut out = Vec::with_capacity(body.len().saturating_add(MAGIC.len() + DIGEST));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(Sha256::digest(&body).as_slice());
    out.extend_from_slice(&body);
    out
}

/// Reads the fields of a frame in order, refusing a short one.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn short() -> Error {
        Error::engine("compiled code is corrupt: its frame ends early")
    }

    fn chunk<const N: usize>(&mut self) -> Result<[u8; N]> {
        let (c, rest) = self.rest.split_first_chunk::<N>().ok_or_else(Self::short)?;
        self.rest = rest;
        Ok(*c)
    }

    fn u64(&mut self) -> Result<u64> {
        self.chunk::<8>().map(u64::from_le_bytes)
    }

    fn str(&mut self) -> Result<&'a str> {
        let len =
            usize::try_from(u32::from_le_bytes(self.chunk::<4>()?)).map_err(|_| Self::short())?;
        if self.rest.len() < len {
            return Err(Self::short());
        }
        let (s, rest) = self.rest.split_at(len);
        self.rest = rest;
        std::str::from_utf8(s)
            .map_err(|_| Error::engine("compiled code is corrupt: a frame field is not UTF-8"))
    }
}

/// Checks bytes written by [`frame_compiled`] and splits them into the module info and
/// the engine's code.
///
/// # Errors
/// `Engine`, saying which, when the bytes are not a frame, when their digest does not
/// match (corrupt or truncated), or when they were framed for another backend, engine
/// version or version of Morph. The caller's remedy is to compile the module again.
pub fn unframe_compiled<'a>(
    bytes: &'a [u8],
    backend: &str,
    engine_version: &str,
) -> Result<(ModuleInfo, &'a [u8])> {
    let rest = bytes.strip_prefix(MAGIC.as_slice()).ok_or_else(|| {
        Error::engine(
            "not compiled code framed by this version of Morph (no `MORPHCC2` header); compile the module again",
        )
    })?;
    let (digest, body) = rest
        .split_first_chunk::<DIGEST>()
        .ok_or_else(Reader::short)?;
    if Sha256::digest(body).as_slice() != digest.as_slice() {
        return Err(Error::engine(
            "compiled code is corrupt: its SHA-256 digest does not match (truncated or altered); compile the module again",
        ));
    }
    let mut r = Reader { rest: body };
    let (b, v, m) = (r.str()?, r.str()?, r.str()?);
    if (b, v, m) != (backend, engine_version, MORPH_VERSION) {
        return Err(Error::engine(format!(
            "compiled code is for backend `{b}` (engine {v}, Morph {m}), not `{backend}` (engine {engine_version}, Morph {MORPH_VERSION}); compile the module again"
        )));
    }
    let contract = r.str()?.to_owned();
    let size = r.u64()?;
    let memory_min_bytes = r.u64()?;
    let table_min_bytes = r.u64()?;
    let [flags] = r.chunk::<1>()?;
    let budget = r.u64()?;
    let meter_trap_func = u32::from_le_bytes(r.chunk::<4>()?);
    Ok((
        ModuleInfo {
            contract,
            size,
            memory_min_bytes,
            table_min_bytes,
            has_post_describe: flags & 1 != 0,
            has_post_execute: flags & 2 != 0,
            has_start: flags & 4 != 0,
            metered: (flags & 8 != 0).then_some(budget),
            meter_trap_func,
        },
        r.rest,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> ModuleInfo {
        ModuleInfo {
            contract: "0.1.0".into(),
            size: 42,
            memory_min_bytes: 65536,
            table_min_bytes: 80,
            has_post_describe: true,
            has_post_execute: false,
            has_start: true,
            metered: Some(7),
            meter_trap_func: 3,
        }
    }

    #[test]
    fn frames_round_trip_for_their_backend_and_engine() {
        let framed = frame_compiled("wasmi", "2.0.0", &info(), b"code");
        let (back, code) = unframe_compiled(&framed, "wasmi", "2.0.0").unwrap();
        assert_eq!(back, info());
        assert_eq!(code, b"code");
        let unmetered = ModuleInfo {
            metered: None,
            ..info()
        };
        let framed = frame_compiled("wasmi", "2.0.0", &unmetered, b"");
        assert_eq!(
            unframe_compiled(&framed, "wasmi", "2.0.0").unwrap(),
            (unmetered, b"".as_slice())
        );
    }

    #[test]
    fn another_backend_or_engine_version_is_refused_naming_both() {
        let framed = frame_compiled("wasmer-cranelift", "7.3.0", &info(), b"code");
        for (backend, version) in [
            ("wasmer-singlepass", "7.3.0"),
            ("wasmer-cranelift", "7.4.0"),
        ] {
            let e = unframe_compiled(&framed, backend, version).unwrap_err();
            assert_eq!(e.class(), "engine");
            let msg = e.to_string();
            assert!(
                msg.contains("for backend `wasmer-cranelift` (engine 7.3.0")
                    && msg.contains(&format!("not `{backend}` (engine {version}")),
                "{msg}"
            );
        }
    }

    #[test]
    fn corrupt_truncated_and_foreign_bytes_are_refused() {
        let framed = frame_compiled("wasmi", "2.0.0", &info(), b"code");
        // Every single-bit flip after the magic, and every truncation, is caught.
        for i in MAGIC.len()..framed.len() {
            let mut bad = framed.clone();
            bad[i] ^= 0x10;
            let e = unframe_compiled(&bad, "wasmi", "2.0.0").unwrap_err();
            assert!(e.to_string().contains("corrupt"), "byte {i}: {e}");
        }
        for len in 0..framed.len() {
            let e = unframe_compiled(&framed[..len], "wasmi", "2.0.0").unwrap_err();
            assert_eq!(e.class(), "engine", "{len}: {e}");
        }
        let e = unframe_compiled(b"\0asm\x01\0\0\0", "wasmi", "2.0.0").unwrap_err();
        assert!(e.to_string().contains("MORPHCC2"), "{e}");
    }
}
