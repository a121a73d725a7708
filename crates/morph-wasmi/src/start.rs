//! Turning a module's start function into an export, so that it runs under the same
//! deadline as every other guest call.
//!
//! wasmi runs a start function inside instantiation with an ordinary, non-resumable call,
//! so a start function that loops forever could only be stopped by fuel, and with fuel off
//! not at all. We therefore remove the start section before wasmi sees the module and
//! export the start function instead; [`crate::instance`] calls that export right after
//! instantiation, in fuel slices with the deadline checked between them (see
//! [`crate::call`]). The observable order is the same as the specification's: tables and
//! memories are initialised, then the start function runs, and a trap in it fails
//! instantiation.
//!
//! Only the top-level section framing is touched (the export section gains one entry, the
//! start section goes away); everything else is copied byte for byte. The input has been
//! validated before, but every read here is checked anyway and wasmi validates the result.

use morph_runtime::{Error, Result};

/// Name the start function is exported under, unless the module already uses it.
const START_EXPORT: &str = "__morph_start";

const SECTION_EXPORT: u8 = 7;
const SECTION_START: u8 = 8;
const EXTERNAL_FUNC: u8 = 0;

/// A module whose start function was moved to an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hidden {
    /// The rewritten module.
    pub(crate) wasm: Vec<u8>,
    /// The name of the export that is the start function.
    pub(crate) export: String,
}

/// Malformed framing. Validated modules never get here, so this can only be a corrupted
/// cache entry: an `Engine` error, as `Runtime::deserialize` promises.
fn malformed(what: &str) -> Error {
    Error::engine(format!(
        "malformed module ({what}) while preparing its start function"
    ))
}

/// Reads an unsigned LEB128 `u32` at `*pos`, advancing it.
fn read_u32(bytes: &[u8], pos: &mut usize) -> Result<u32> {
    let mut result: u32 = 0;
    for shift in (0..35).step_by(7) {
        let byte = *bytes
            .get(*pos)
            .ok_or_else(|| malformed("truncated integer"))?;
        *pos += 1;
        let low = u32::from(byte & 0x7f);
        if shift == 28 && low > 0x0f {
            return Err(malformed("integer too large"));
        }
        result |= low << shift;
        if byte & 0x80 == 0 {
            return Ok(result);
        }
    }
    Err(malformed("integer too long"))
}

fn write_u32(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Takes `len` bytes at `*pos`, advancing it.
fn take<'a>(bytes: &'a [u8], pos: &mut usize, len: usize) -> Result<&'a [u8]> {
    let end = pos
        .checked_add(len)
        .filter(|end| *end <= bytes.len())
        .ok_or_else(|| malformed("section runs past the end"))?;
    let slice = &bytes[*pos..end];
    *pos = end;
    Ok(slice)
}

/// One top-level section: its id, its whole bytes (header included) and its contents.
struct Section<'a> {
    id: u8,
    whole: &'a [u8],
    contents: &'a [u8],
}

fn sections(wasm: &[u8]) -> Result<Vec<Section<'_>>> {
    let mut pos = 8;
    if wasm.len() < pos {
        return Err(malformed("no header"));
    }
    let mut out = Vec::new();
    while pos < wasm.len() {
        let start = pos;
        let id = *take(wasm, &mut pos, 1)?
            .first()
            .ok_or_else(|| malformed("no section id"))?;
        let len = read_u32(wasm, &mut pos)? as usize;
        let contents = take(wasm, &mut pos, len)?;
        out.push(Section {
            id,
            whole: &wasm[start..pos],
            contents,
        });
    }
    Ok(out)
}

/// The names exported by an export section's contents, and where its entries begin.
fn export_names(contents: &[u8]) -> Result<(u32, usize, Vec<&str>)> {
    let mut pos = 0;
    let count = read_u32(contents, &mut pos)?;
    let entries = pos;
    let mut names = Vec::new();
    for _ in 0..count {
        let len = read_u32(contents, &mut pos)? as usize;
        let name = std::str::from_utf8(take(contents, &mut pos, len)?)
            .map_err(|_| malformed("export name is not UTF-8"))?;
        take(contents, &mut pos, 1)?;
        read_u32(contents, &mut pos)?;
        names.push(name);
    }
    Ok((count, entries, names))
}

/// Moves the start function of `wasm` to an export. Returns `None` when the module has no
/// start function (it then runs unchanged).
///
/// # Errors
/// `Engine` when the section framing is malformed.
pub(crate) fn hide_start(wasm: &[u8]) -> Result<Option<Hidden>> {
    let sections = sections(wasm)?;
    let Some(start) = sections.iter().find(|s| s.id == SECTION_START) else {
        return Ok(None);
    };
    let func = read_u32(start.contents, &mut 0)?;

    let exports = sections.iter().find(|s| s.id == SECTION_EXPORT);
    let (count, entries, names) = match exports {
        Some(s) => {
            let (count, entries, names) = export_names(s.contents)?;
            (count, &s.contents[entries..], names)
        }
        None => (0, &[][..], Vec::new()),
    };
    let export = std::iter::once(START_EXPORT.to_owned())
        .chain((1u32..).map(|n| format!("{START_EXPORT}_{n}")))
        .find(|candidate| !names.contains(&candidate.as_str()))
        .ok_or_else(|| malformed("no free export name"))?;

    let mut contents = Vec::with_capacity(entries.len() + export.len() + 8);
    write_u32(
        &mut contents,
        count
            .checked_add(1)
            .ok_or_else(|| malformed("too many exports"))?,
    );
    contents.extend_from_slice(entries);
    write_u32(&mut contents, export.len() as u32);
    contents.extend_from_slice(export.as_bytes());
    contents.push(EXTERNAL_FUNC);
    write_u32(&mut contents, func);
    let len = u32::try_from(contents.len()).map_err(|_| malformed("export section too large"))?;

    // The new export section takes the start section's place: the export section (7)
    // comes right before the start section (8) in the required order, so the order
    // stays valid whether or not the module had an export section.
    let mut out = Vec::with_capacity(wasm.len() + export.len() + 8);
    out.extend_from_slice(&wasm[..8]);
    for s in &sections {
        match s.id {
            SECTION_EXPORT => {}
            SECTION_START => {
                out.push(SECTION_EXPORT);
                write_u32(&mut out, len);
                out.extend_from_slice(&contents);
            }
            _ => out.extend_from_slice(s.whole),
        }
    }
    Ok(Some(Hidden { wasm: out, export }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exports(wasm: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        for p in wasmparser::Parser::new(0).parse_all(wasm) {
            if let wasmparser::Payload::ExportSection(r) = p.unwrap() {
                for e in r {
                    out.push(e.unwrap().name.to_owned());
                }
            }
        }
        out
    }

    fn has_start(wasm: &[u8]) -> bool {
        wasmparser::Parser::new(0)
            .parse_all(wasm)
            .any(|p| matches!(p.unwrap(), wasmparser::Payload::StartSection { .. }))
    }

    #[test]
    fn a_module_without_start_is_left_alone() {
        let wasm = wat::parse_str(r#"(module (func (export "f")))"#).unwrap();
        assert_eq!(hide_start(&wasm).unwrap(), None);
    }

    #[test]
    fn the_start_function_becomes_an_export() {
        let wasm = wat::parse_str(
            r#"(module
                (memory (export "memory") 1)
                (func $s)
                (func (export "f"))
                (start $s)
                (data (i32.const 0) "hi")
                (@custom "after" "x"))"#,
        )
        .unwrap();
        let hidden = hide_start(&wasm).unwrap().unwrap();
        assert_eq!(hidden.export, "__morph_start");
        assert!(!has_start(&hidden.wasm));
        assert_eq!(exports(&hidden.wasm), ["memory", "f", "__morph_start"]);
        wasmparser::Validator::new()
            .validate_all(&hidden.wasm)
            .unwrap();
    }

    #[test]
    fn works_without_an_export_section_and_avoids_taken_names() {
        let wasm = wat::parse_str(r#"(module (func $s) (start $s))"#).unwrap();
        let hidden = hide_start(&wasm).unwrap().unwrap();
        wasmparser::Validator::new()
            .validate_all(&hidden.wasm)
            .unwrap();
        assert_eq!(exports(&hidden.wasm), ["__morph_start"]);

        let wasm = wat::parse_str(
            r#"(module (func $s (export "__morph_start") (export "__morph_start_1")) (start $s))"#,
        )
        .unwrap();
        let hidden = hide_start(&wasm).unwrap().unwrap();
        assert_eq!(hidden.export, "__morph_start_2");
        wasmparser::Validator::new()
            .validate_all(&hidden.wasm)
            .unwrap();
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(hide_start(b"\0asm\x01\0\0\0\x08\xff").is_err());
        assert!(hide_start(b"\0asm\x01\0\0\0\x08\x05\x00").is_err());
        assert!(hide_start(b"\0asm").is_err());
        let mut m = b"\0asm\x01\0\0\0\x08\x06".to_vec();
        m.extend_from_slice(&[0xff; 6]);
        assert!(hide_start(&m).is_err());
    }

    #[test]
    fn leb_round_trips() {
        for v in [0, 1, 127, 128, 300, 16_384, u32::MAX] {
            let mut buf = Vec::new();
            write_u32(&mut buf, v);
            assert_eq!(read_u32(&buf, &mut 0).unwrap(), v);
        }
    }
}
