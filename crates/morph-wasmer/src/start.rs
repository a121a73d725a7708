//! Turns a module's start function into an export that the backend calls itself.
//!
//! wasmer runs the start function inside `Instance::new`, before the embedder can hand
//! the instance's memory and allocator to host functions, so a host call from the start
//! function could not read its arguments. Calling the start function right after
//! instantiation keeps the spec's semantics (it runs after data and element segments are
//! applied, and a trap fails the instantiation) and lets it run under the same limits,
//! deadline and fuel as every other call.

use morph_runtime::{Error, Result};
use std::borrow::Cow;
use wasmparser::{Parser, Payload};

/// The export that names the former start function.
pub(crate) const START_EXPORT: &str = "__morph_wasmer_start";

const SECTION_EXPORT: u8 = 7;
const SECTION_START: u8 = 8;

/// Returns `wasm` without its start section and with the start function exported as
/// [`START_EXPORT`]; `wasm` unchanged when it has no start function. `wasm` must be a
/// valid module (it was validated).
///
/// # Errors
/// `InvalidModule` when the module already exports [`START_EXPORT`] or is malformed.
pub(crate) fn export_start(wasm: &[u8]) -> Result<Cow<'_, [u8]>> {
    let mut start = None;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(|e| Error::invalid_module(e.to_string()))? {
            Payload::StartSection { func, .. } => start = Some(func),
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(|e| Error::invalid_module(e.to_string()))?;
                    if export.name == START_EXPORT {
                        return Err(Error::invalid_module(format!(
                            "it exports `{START_EXPORT}`, a name Morph reserves"
                        )));
                    }
                }
            }
            _ => {}
        }
    }
    let Some(func) = start else {
        return Ok(Cow::Borrowed(wasm));
    };

    let malformed = || Error::invalid_module("malformed section framing");
    let header = wasm.get(..8).ok_or_else(malformed)?;
    let mut out = Vec::with_capacity(wasm.len() + 32);
    out.extend_from_slice(header);
    let mut rest = wasm.get(8..).ok_or_else(malformed)?;
    let mut exported = false;
    while let Some((&id, after_id)) = rest.split_first() {
        let (size, after_size) = read_leb(after_id).ok_or_else(malformed)?;
        let size = usize::try_from(size).map_err(|_| malformed())?;
        let body = after_size.get(..size).ok_or_else(malformed)?;
        rest = after_size.get(size..).ok_or_else(malformed)?;
        match id {
            SECTION_START => {}
            SECTION_EXPORT => {
                let (count, entries) = read_leb(body).ok_or_else(malformed)?;
                let mut new = Vec::with_capacity(body.len() + START_EXPORT.len() + 8);
                write_leb(&mut new, count.checked_add(1).ok_or_else(malformed)?);
                new.extend_from_slice(entries);
                write_leb(&mut new, START_EXPORT.len() as u32);
                new.extend_from_slice(START_EXPORT.as_bytes());
                new.push(0x00); // func
                write_leb(&mut new, func);
                push_section(&mut out, SECTION_EXPORT, &new)?;
                exported = true;
            }
            _ => push_section(&mut out, id, body)?,
        }
    }
    if !exported {
        // validate() requires exports, so a module with a start function has an export
        // section; refuse rather than guess where one would go.
        return Err(Error::invalid_module(
            "a start function but no export section",
        ));
    }
    Ok(Cow::Owned(out))
}

fn push_section(out: &mut Vec<u8>, id: u8, body: &[u8]) -> Result<()> {
    let len = u32::try_from(body.len())
        .map_err(|_| Error::invalid_module("a section longer than 4 GiB"))?;
    out.push(id);
    write_leb(out, len);
    out.extend_from_slice(body);
    Ok(())
}

/// Reads an unsigned LEB128 `u32`; `None` when truncated or too long.
fn read_leb(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let mut value: u32 = 0;
    for (i, &b) in bytes.iter().enumerate().take(5) {
        value |= u32::from(b & 0x7f).checked_shl(7 * i as u32)?;
        if b & 0x80 == 0 {
            return Some((value, bytes.get(i + 1..)?));
        }
    }
    None
}

fn write_leb(out: &mut Vec<u8>, mut value: u32) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_the_start_function_to_an_export() {
        let wasm = wat::parse_str(
            r#"(module
                (global $g (mut i32) (i32.const 0))
                (func $s (global.set $g (i32.const 7)))
                (func (export "f") (result i32) global.get $g)
                (start $s)
                (@custom "x" "y"))"#,
        )
        .unwrap();
        let out = export_start(&wasm).unwrap();
        let mut start = false;
        let mut names = Vec::new();
        wasmparser::Validator::new().validate_all(&out).unwrap();
        for p in Parser::new(0).parse_all(&out) {
            match p.unwrap() {
                Payload::StartSection { .. } => start = true,
                Payload::ExportSection(r) => {
                    for e in r {
                        let e = e.unwrap();
                        names.push((e.name.to_owned(), e.index));
                    }
                }
                _ => {}
            }
        }
        assert!(!start);
        assert_eq!(names, [("f".to_owned(), 1), (START_EXPORT.to_owned(), 0)]);
    }

    #[test]
    fn leaves_modules_without_start_alone_and_refuses_the_reserved_name() {
        let wasm = wat::parse_str(r#"(module (func (export "f")))"#).unwrap();
        assert!(matches!(export_start(&wasm).unwrap(), Cow::Borrowed(_)));
        let wasm = wat::parse_str(format!(
            r#"(module (func $s) (start $s) (func (export "{START_EXPORT}")))"#
        ))
        .unwrap();
        assert_eq!(export_start(&wasm).unwrap_err().class(), "invalid-module");
    }

    #[test]
    fn leb_round_trips() {
        for v in [0, 1, 127, 128, 300, 16_384, u32::MAX] {
            let mut b = Vec::new();
            write_leb(&mut b, v);
            assert_eq!(read_leb(&b), Some((v, &[][..])));
        }
        assert_eq!(read_leb(&[0x80, 0x80]), None);
    }
}
