//! The one section-by-section rewriter behind every module rewrite ([`hide_start`],
//! bulk-operation chunking, deterministic metering).
//!
//! A rewrite replaces some sections and often adds entries (a function, a global, an
//! export) to sections the module may not have at all. The driver copies every section a
//! rewrite leaves alone byte for byte, hands it the sections it asked to rewrite, and
//! calls [`Rewrite::missing`] for each section the rewrite needs but the module lacks, at
//! the position the binary format requires. So a rewrite is total: a module without
//! functions, exports or globals comes out valid too.
//!
//! [`hide_start`]: crate::hide_start

use crate::error::{Error, Result};
use wasm_encoder::{ExportKind, Module, RawSection};
use wasmparser::{ExternalKind, FunctionBody, Parser, Payload};

/// Section ids of the binary format.
pub(crate) mod id {
    pub(crate) const CUSTOM: u8 = 0;
    pub(crate) const TYPE: u8 = 1;
    pub(crate) const FUNCTION: u8 = 3;
    pub(crate) const GLOBAL: u8 = 6;
    pub(crate) const EXPORT: u8 = 7;
    pub(crate) const CODE: u8 = 10;
}

/// Position of a known section id in the order the binary format requires (custom
/// sections, 0, may stand anywhere).
fn order(id: u8) -> u8 {
    match id {
        1 => 1,   // type
        2 => 2,   // import
        3 => 3,   // function
        4 => 4,   // table
        5 => 5,   // memory
        13 => 6,  // tag
        6 => 7,   // global
        7 => 8,   // export
        8 => 9,   // start
        9 => 10,  // element
        12 => 11, // data count
        10 => 12, // code
        11 => 13, // data
        _ => 0,
    }
}

/// One rewrite of a module.
pub(crate) trait Rewrite<'a> {
    /// The section ids this rewrite writes even when the module has no such section
    /// (`missing` is called for each of them but [`id::CODE`], for which `code` is called
    /// with no bodies).
    fn required(&self) -> &[u8];

    /// Writes a rewritten version of `payload`'s section (never a code section) to `out`
    /// and returns `true`, or returns `false` to have it copied unchanged.
    ///
    /// # Errors
    /// When the section cannot be rewritten.
    fn section(&mut self, payload: &Payload<'a>, out: &mut Module) -> Result<bool>;

    /// Whether [`Rewrite::code`] rewrites the code section (otherwise it is copied).
    fn rewrites_code(&self) -> bool;

    /// Writes the code section, given the module's function bodies (none when the module
    /// has no code section and [`id::CODE`] is required).
    ///
    /// # Errors
    /// When a body cannot be rewritten.
    fn code(&mut self, bodies: Vec<FunctionBody<'a>>, out: &mut Module) -> Result<()>;

    /// Writes section `id`, which the module lacks, holding only what the rewrite adds.
    ///
    /// # Errors
    /// When the section cannot be built.
    fn missing(&mut self, id: u8, out: &mut Module) -> Result<()>;
}

/// Applies `pass` to `wasm`. `malformed` turns a parse error into the caller's error.
///
/// # Errors
/// `malformed`'s error when `wasm` cannot be parsed, or the pass's own.
pub(crate) fn rewrite<'a>(
    wasm: &'a [u8],
    pass: &mut dyn Rewrite<'a>,
    malformed: &dyn Fn(String) -> Error,
) -> Result<Vec<u8>> {
    // Which sections the module has, and where its last non-custom section ends: custom
    // sections after it (a name section, producers) stay at the end.
    let mut present = [false; 14];
    let mut last_known_end = 0u64;
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|e| malformed(e.to_string()))?;
        if let Some((sid, range)) = payload.as_section()
            && sid != id::CUSTOM
        {
            if let Some(p) = present.get_mut(usize::from(sid)) {
                *p = true;
            }
            last_known_end = range.end;
        }
    }
    let mut required: Vec<u8> = pass
        .required()
        .iter()
        .copied()
        .filter(|sid| !present.get(usize::from(*sid)).copied().unwrap_or(false))
        .collect();
    required.sort_by_key(|sid| order(*sid));
    let mut required = required.into_iter().peekable();

    let mut out = Module::new();
    // Writes the required sections the module lacks that come before `before` (an order).
    let mut fill = |before: u8, pass: &mut dyn Rewrite<'a>, out: &mut Module| -> Result<()> {
        while let Some(sid) = required.next_if(|sid| order(*sid) < before) {
            if sid == id::CODE {
                pass.code(Vec::new(), out)?;
            } else {
                pass.missing(sid, out)?;
            }
        }
        Ok(())
    };
    let raw = |range: std::ops::Range<u64>| -> Result<&'a [u8]> {
        usize::try_from(range.start)
            .ok()
            .zip(usize::try_from(range.end).ok())
            .and_then(|(s, e)| wasm.get(s..e))
            .ok_or_else(|| malformed("a section runs past the end of the module".into()))
    };

    let mut code: Option<(u32, Vec<FunctionBody<'a>>)> = None;
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|e| malformed(e.to_string()))?;
        match payload {
            Payload::CodeSectionStart {
                count,
                unchecked_range,
                ..
            } => {
                fill(order(id::CODE), pass, &mut out)?;
                if !pass.rewrites_code() {
                    out.section(&RawSection {
                        id: id::CODE,
                        data: raw(unchecked_range)?,
                    });
                } else if count == 0 {
                    pass.code(Vec::new(), &mut out)?;
                } else {
                    // The count is untrusted: reserve no more than the bodies can fill.
                    let cap = usize::try_from(count).unwrap_or(0).min(wasm.len() / 2);
                    code = Some((count, Vec::with_capacity(cap)));
                }
            }
            Payload::CodeSectionEntry(body) => {
                if let Some((count, bodies)) = code.as_mut() {
                    bodies.push(body);
                    if usize::try_from(*count).is_ok_and(|c| c == bodies.len()) {
                        let (_, bodies) = code.take().unwrap_or_default();
                        pass.code(bodies, &mut out)?;
                    }
                }
            }
            other => {
                let Some((sid, range)) = other.as_section() else {
                    continue;
                };
                if sid == id::CUSTOM {
                    if range.start >= last_known_end {
                        fill(u8::MAX, pass, &mut out)?;
                    }
                } else {
                    fill(order(sid), pass, &mut out)?;
                }
                if !pass.section(&other, &mut out)? {
                    out.section(&RawSection {
                        id: sid,
                        data: raw(range)?,
                    });
                }
            }
        }
    }
    if code.is_some() {
        return Err(malformed("the code section ends early".into()));
    }
    fill(u8::MAX, pass, &mut out)?;
    Ok(out.finish())
}

/// The encoder's name for an export's kind.
pub(crate) fn export_kind(kind: ExternalKind) -> ExportKind {
    match kind {
        ExternalKind::Func | ExternalKind::FuncExact => ExportKind::Func,
        ExternalKind::Table => ExportKind::Table,
        ExternalKind::Memory => ExportKind::Memory,
        ExternalKind::Global => ExportKind::Global,
        ExternalKind::Tag => ExportKind::Tag,
    }
}
