//! Wraps a generated core module in the Morph contract, so that every backend runs it
//! through the same path as a real extension.
//!
//! The generated module keeps its types, imports (a subset of the contract's), functions,
//! tables, memory (raised to at least one page), globals, start function, elements, data
//! and code; its exports and custom sections are dropped. Appended after everything it
//! has, so that no index of it moves:
//! - `describe`: copies the description (a passive data segment) to [`INFO_BASE`] with
//!   `memory.init` and returns it, so a start function that scribbles over memory cannot
//!   spoil it. One action per called function, `f0`, `f1`, ..., schemas `{}`.
//! - `execute`: reads the action's digit, calls that function with the case's fixed
//!   arguments, and answers a JSON string of 16-digit hex words: each result (floats as
//!   their bits, references as `ref.is_null`), each mutable global, a hash of the whole
//!   linear memory and its size in pages. Whatever the function did to the state shows.
//! - `cabi_realloc`: a bump allocator from [`HEAP_BASE`].
//! - the `morph:contract` section.
//!
//! Everything the wrapper writes lies in the first page, which every memory has.

use arbitrary::Unstructured;
use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{
    CodeSection, ConstExpr, DataCountSection, DataSection, ExportKind, ExportSection, Function,
    FunctionSection, GlobalSection, GlobalType, Ieee32, Ieee64, Instruction, MemArg, MemorySection,
    MemoryType, Module, RawSection, TypeSection, ValType,
};
use wasmparser::{FuncType, Parser, Payload, TypeRef};

/// Where `describe` puts the description.
pub const INFO_BASE: u32 = 1024;
/// The return area of `execute`.
pub const RET_AREA: u32 = 256;
/// Where `execute` writes its output.
pub const OUT_BASE: u32 = 8192;
/// Where the bump allocator starts.
pub const HEAP_BASE: u32 = 32768;
/// Most functions a wrapped module calls (actions `f0` to `f7`).
pub const MAX_ACTIONS: usize = 8;
/// Most mutable globals whose values `execute` reports.
pub const MAX_GLOBALS_SHOWN: usize = 16;

/// A module wrapped in the contract.
#[derive(Debug, Clone)]
pub struct Wrapped {
    /// The extension module.
    pub wasm: Vec<u8>,
    /// Its actions, one per function it calls.
    pub actions: Vec<String>,
}

/// A generated module that cannot be wrapped (it has nothing to call, or uses something
/// the wrapper does not handle). Not a finding: the case is skipped.
#[derive(Debug, Clone)]
pub struct Unwrappable(pub String);

/// The bytes of `range` in `module` (a range its own parser reported, so in bounds; an
/// empty slice otherwise).
fn bytes(module: &[u8], range: std::ops::Range<impl TryInto<usize>>) -> &[u8] {
    match (range.start.try_into(), range.end.try_into()) {
        (Ok(start), Ok(end)) => module.get(start..end).unwrap_or_default(),
        _ => &[],
    }
}

fn skip(why: impl Into<String>) -> Unwrappable {
    Unwrappable(why.into())
}

/// The contract's imports, as a module that only imports: what wasm-smith may import.
pub fn available_imports() -> Vec<u8> {
    let mut types = TypeSection::new();
    let mut imports = wasm_encoder::ImportSection::new();
    for (i, spec) in morph_runtime::IMPORTS.iter().enumerate() {
        types.ty().function(vec![ValType::I32; spec.params], []);
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        imports.import(
            spec.module,
            spec.name,
            wasm_encoder::EntityType::Function(index),
        );
    }
    let mut m = Module::new();
    m.section(&types).section(&imports);
    m.finish()
}

/// What the wrapper learned about the generated module.
#[derive(Default)]
struct Scan {
    types: Vec<FuncType>,
    imported_funcs: u32,
    func_types: Vec<u32>,
    globals: Vec<wasmparser::GlobalType>,
    data_segments: u32,
}

/// Wraps `smith` (a valid module of one 32-bit memory, no exports needed) in the
/// contract, taking each called function's arguments from `args`.
///
/// # Errors
/// [`Unwrappable`] when the module defines no function, has no memory, or has a type the
/// wrapper cannot pass or report.
pub fn wrap(smith: &[u8], args: &mut Unstructured<'_>) -> Result<Wrapped, Unwrappable> {
    let bad = |e: wasmparser::BinaryReaderError| skip(format!("unreadable module: {e}"));
    let reenc = |e: wasm_encoder::reencode::Error| skip(format!("cannot re-encode: {e}"));
    let mut scan = Scan::default();
    let mut types = TypeSection::new();
    let mut imports: Option<RawSection<'_>> = None;
    let mut functions = FunctionSection::new();
    let mut tables: Option<RawSection<'_>> = None;
    let mut memories = MemorySection::new();
    let mut has_memory = false;
    let mut globals = GlobalSection::new();
    let mut start: Option<RawSection<'_>> = None;
    let mut elements: Option<RawSection<'_>> = None;
    let mut code = CodeSection::new();
    let mut data = DataSection::new();

    for payload in Parser::new(0).parse_all(smith) {
        match payload.map_err(bad)? {
            Payload::TypeSection(reader) => {
                for ty in reader.clone().into_iter_err_on_gc_types() {
                    scan.types.push(ty.map_err(bad)?);
                }
                RoundtripReencoder
                    .parse_type_section(&mut types, reader)
                    .map_err(reenc)?;
            }
            Payload::ImportSection(reader) => {
                for imp in reader.clone().into_imports() {
                    match imp.map_err(bad)?.ty {
                        TypeRef::Func(t) => {
                            scan.func_types.push(t);
                            scan.imported_funcs += 1;
                        }
                        _ => return Err(skip("imports something other than a function")),
                    }
                }
                imports = Some(RawSection {
                    id: 2,
                    data: bytes(smith, reader.range()),
                });
            }
            Payload::FunctionSection(reader) => {
                for f in reader {
                    let t = f.map_err(bad)?;
                    scan.func_types.push(t);
                    functions.function(t);
                }
            }
            Payload::TableSection(reader) => {
                tables = Some(RawSection {
                    id: 4,
                    data: bytes(smith, reader.range()),
                });
            }
            Payload::MemorySection(reader) => {
                for m in reader {
                    let m = m.map_err(bad)?;
                    if m.memory64 || m.shared || m.page_size_log2.is_some() {
                        return Err(skip("a memory other than a plain 32-bit one"));
                    }
                    let minimum = m.initial.max(1);
                    memories.memory(MemoryType {
                        minimum,
                        maximum: m.maximum.map(|max| max.max(minimum)),
                        memory64: false,
                        shared: false,
                        page_size_log2: None,
                    });
                    has_memory = true;
                }
            }
            Payload::GlobalSection(reader) => {
                for g in reader.clone() {
                    scan.globals.push(g.map_err(bad)?.ty);
                }
                RoundtripReencoder
                    .parse_global_section(&mut globals, reader)
                    .map_err(reenc)?;
            }
            Payload::StartSection { range, .. } => {
                start = Some(RawSection {
                    id: 8,
                    data: bytes(smith, range),
                });
            }
            Payload::ElementSection(reader) => {
                elements = Some(RawSection {
                    id: 9,
                    data: bytes(smith, reader.range()),
                });
            }
            Payload::DataCountSection { count, .. } => scan.data_segments = count,
            Payload::CodeSectionEntry(body) => {
                code.raw(bytes(smith, body.range()));
            }
            Payload::DataSection(reader) => {
                scan.data_segments = reader.count();
                RoundtripReencoder
                    .parse_data_section(&mut data, reader)
                    .map_err(reenc)?;
            }
            Payload::TagSection(_) => return Err(skip("exception tags")),
            _ => {}
        }
    }
    if !has_memory {
        return Err(skip("no memory"));
    }
    let defined = u32::try_from(scan.func_types.len())
        .map_err(|_| skip("too many functions"))?
        .saturating_sub(scan.imported_funcs);
    if defined == 0 {
        return Err(skip("no function to call"));
    }

    // The functions to call: the first defined ones whose parameters the wrapper can
    // make and whose results it can report.
    let mut callees = Vec::new();
    for index in scan.imported_funcs..scan.imported_funcs + defined {
        if callees.len() == MAX_ACTIONS {
            break;
        }
        let ty = scan
            .func_types
            .get(index as usize)
            .and_then(|t| scan.types.get(*t as usize))
            .ok_or_else(|| skip("a function of an unknown type"))?;
        if let Some(call) = Callee::new(index, ty, args) {
            callees.push(call);
        }
    }
    if callees.is_empty() {
        return Err(skip("no function the wrapper can call"));
    }
    let actions: Vec<String> = (0..callees.len()).map(|k| format!("f{k}")).collect();

    // Appended types, functions, globals and data segment.
    let n_types = u32::try_from(scan.types.len()).map_err(|_| skip("too many types"))?;
    let (t_describe, t_four, t_emit) = (n_types, n_types + 1, n_types + 2);
    types.ty().function([], [ValType::I32]);
    types.ty().function([ValType::I32; 4], [ValType::I32]);
    types.ty().function([ValType::I64], []);
    let first = scan.imported_funcs + defined;
    let (f_describe, f_execute, f_realloc, f_emit) = (first, first + 1, first + 2, first + 3);
    for t in [t_describe, t_four, t_four, t_emit] {
        functions.function(t);
    }
    let n_globals = u32::try_from(scan.globals.len()).map_err(|_| skip("too many globals"))?;
    let (g_heap, g_out) = (n_globals, n_globals + 1);
    for init in [HEAP_BASE, OUT_BASE] {
        globals.global(
            GlobalType {
                val_type: ValType::I32,
                mutable: true,
                shared: false,
            },
            &ConstExpr::i32_const(init.cast_signed()),
        );
    }
    let info = describe_blob(INFO_BASE, &actions);
    let info_len = u32::try_from(info.len()).map_err(|_| skip("description too long"))?;
    let info_segment = scan.data_segments;
    data.passive(info);

    code.function(&describe_fn(info_segment, info_len));
    code.function(&execute_fn(&callees, &scan.globals, g_out, f_emit));
    code.function(&realloc_fn(g_heap));
    code.function(&emit_fn(g_out));

    let mut exports = ExportSection::new();
    exports
        .export("memory", ExportKind::Memory, 0)
        .export("describe", ExportKind::Func, f_describe)
        .export("execute", ExportKind::Func, f_execute)
        .export("cabi_realloc", ExportKind::Func, f_realloc);

    let mut m = Module::new();
    m.section(&types);
    if let Some(s) = &imports {
        m.section(s);
    }
    m.section(&functions);
    if let Some(s) = &tables {
        m.section(s);
    }
    m.section(&memories).section(&globals).section(&exports);
    if let Some(s) = &start {
        m.section(s);
    }
    if let Some(s) = &elements {
        m.section(s);
    }
    m.section(&DataCountSection {
        count: scan.data_segments + 1,
    });
    m.section(&code).section(&data);
    m.section(&wasm_encoder::CustomSection {
        name: morph_abi::CONTRACT_SECTION.into(),
        data: morph_abi::CONTRACT_VERSION.as_bytes().into(),
    });
    Ok(Wrapped {
        wasm: m.finish(),
        actions,
    })
}

/// One function `execute` calls: its index, the constant arguments, its results.
struct Callee {
    index: u32,
    args: Vec<Instruction<'static>>,
    results: Vec<ValType>,
}

impl Callee {
    /// `None` when a parameter or result has a type the wrapper does not handle.
    fn new(index: u32, ty: &FuncType, u: &mut Unstructured<'_>) -> Option<Callee> {
        let mut args = Vec::new();
        for p in ty.params() {
            // Values from the case's bytes (zero once they run out), so a case is one
            // input; floats as raw bits, NaN payloads included.
            args.push(match p {
                wasmparser::ValType::I32 => Instruction::I32Const(u.arbitrary().unwrap_or(0)),
                wasmparser::ValType::I64 => Instruction::I64Const(u.arbitrary().unwrap_or(0)),
                wasmparser::ValType::F32 => {
                    Instruction::F32Const(Ieee32::new(u.arbitrary().unwrap_or(0)))
                }
                wasmparser::ValType::F64 => {
                    Instruction::F64Const(Ieee64::new(u.arbitrary().unwrap_or(0)))
                }
                wasmparser::ValType::V128 => {
                    Instruction::V128Const(u.arbitrary::<i128>().unwrap_or(0))
                }
                wasmparser::ValType::Ref(r) if r.is_nullable() => {
                    Instruction::RefNull(RoundtripReencoder.heap_type(r.heap_type()).ok()?)
                }
                wasmparser::ValType::Ref(_) => return None,
            });
        }
        let results = ty
            .results()
            .iter()
            .map(|r| RoundtripReencoder.val_type(*r).ok())
            .collect::<Option<Vec<_>>>()?;
        Some(Callee {
            index,
            args,
            results,
        })
    }
}

/// The canonical-ABI `extension-info` for `actions`, laid out to live at `base`: the
/// record (60 bytes), then the action records (36 bytes each), then the strings.
pub fn describe_blob(base: u32, actions: &[String]) -> Vec<u8> {
    const INFO: usize = 60;
    const ACTION: usize = 36;
    let strings_at = INFO + 4 + ACTION * actions.len();
    let mut strings: Vec<u8> = Vec::new();
    // Offsets wrap: a base near the top of the address space makes pointers that are
    // out of bounds, which is what the ABI fuzz target wants of it.
    let mut string = |s: &str| -> (u32, u32) {
        let at = base.wrapping_add((strings_at + strings.len()) as u32);
        strings.extend_from_slice(s.as_bytes());
        (at, s.len() as u32)
    };
    let id = string("fuzz");
    let version = string("0.1.0");
    let empty = string("");
    let schema = string("{}");
    let names: Vec<(u32, u32)> = actions.iter().map(|a| string(a)).collect();

    let mut out = Vec::new();
    let put = |out: &mut Vec<u8>, (p, n): (u32, u32)| {
        out.extend_from_slice(&p.to_le_bytes());
        out.extend_from_slice(&n.to_le_bytes());
    };
    put(&mut out, id); // id
    put(&mut out, id); // name
    put(&mut out, version);
    put(&mut out, empty); // description
    let actions_at = base.wrapping_add(INFO as u32 + 4);
    put(&mut out, (actions_at, actions.len() as u32));
    put(&mut out, (0, 0)); // events
    out.extend_from_slice(&[0; 12]); // config-schema: none
    out.extend_from_slice(&[0; 4]); // padding to the action records
    for name in names {
        put(&mut out, name);
        put(&mut out, empty); // description
        put(&mut out, schema); // input schema
        put(&mut out, schema); // output schema
        out.extend_from_slice(&[0; 4]); // side-effect: none
    }
    out.extend_from_slice(&strings);
    out
}

fn mem(offset: u64, align: u32) -> MemArg {
    MemArg {
        offset,
        align,
        target: wasm_encoder::MemArgTarget::Memory(0),
        ordering: None,
    }
}

fn describe_fn(segment: u32, len: u32) -> Function {
    let mut f = Function::new([]);
    f.instructions()
        .i32_const(INFO_BASE.cast_signed())
        .i32_const(0)
        .i32_const(len.cast_signed())
        .memory_init(0, segment)
        .i32_const(INFO_BASE.cast_signed())
        .end();
    f
}

fn realloc_fn(heap: u32) -> Function {
    // (old_ptr, old_size, align, new_size): p = (heap + align - 1) & -align.
    let mut f = Function::new([(1, ValType::I32)]);
    f.instructions()
        .global_get(heap)
        .local_get(2)
        .i32_const(1)
        .i32_sub()
        .i32_add()
        .i32_const(0)
        .local_get(2)
        .i32_sub()
        .i32_and()
        .local_tee(4)
        .local_get(3)
        .i32_add()
        .global_set(heap)
        .local_get(4)
        .end();
    f
}

/// `emit(v: i64)`: 16 lowercase hex digits of `v` and a space at `out`; `out += 17`.
fn emit_fn(out: u32) -> Function {
    // Locals: 0 = v, 1 = k, 2 = digit.
    let mut f = Function::new([(2, ValType::I32)]);
    f.instructions()
        .loop_(wasm_encoder::BlockType::Empty)
        // digit = (v >> (60 - 4k)) & 15
        .local_get(0)
        .i32_const(60)
        .local_get(1)
        .i32_const(2)
        .i32_shl()
        .i32_sub()
        .i64_extend_i32_u()
        .i64_shr_u()
        .i32_wrap_i64()
        .i32_const(15)
        .i32_and()
        .local_set(2)
        // mem[out + k] = digit + (digit < 10 ? '0' : 'a' - 10)
        .global_get(out)
        .local_get(1)
        .i32_add()
        .local_get(2)
        .i32_const(48)
        .i32_const(87)
        .local_get(2)
        .i32_const(10)
        .i32_lt_u()
        .select()
        .i32_add()
        .i32_store8(mem(0, 0))
        .local_get(1)
        .i32_const(1)
        .i32_add()
        .local_tee(1)
        .i32_const(16)
        .i32_lt_u()
        .br_if(0)
        .end()
        .global_get(out)
        .i32_const(i32::from(b' '))
        .i32_store8(mem(16, 0))
        .global_get(out)
        .i32_const(17)
        .i32_add()
        .global_set(out)
        .end();
    f
}

/// Pushes the i64 word(s) that report a value of type `ty` held in local `local`, each
/// followed by a call to `emit`.
fn report(f: &mut Function, ty: ValType, local: u32, emit: u32) {
    let mut s = f.instructions();
    match ty {
        ValType::I32 => {
            s.local_get(local).i64_extend_i32_u().call(emit);
        }
        ValType::I64 => {
            s.local_get(local).call(emit);
        }
        ValType::F32 => {
            s.local_get(local)
                .i32_reinterpret_f32()
                .i64_extend_i32_u()
                .call(emit);
        }
        ValType::F64 => {
            s.local_get(local).i64_reinterpret_f64().call(emit);
        }
        ValType::V128 => {
            s.local_get(local)
                .i64x2_extract_lane(0)
                .call(emit)
                .local_get(local)
                .i64x2_extract_lane(1)
                .call(emit);
        }
        ValType::Ref(_) => {
            s.local_get(local)
                .ref_is_null()
                .i64_extend_i32_u()
                .call(emit);
        }
    }
}

fn execute_fn(
    callees: &[Callee],
    globals: &[wasmparser::GlobalType],
    out: u32,
    emit: u32,
) -> Function {
    // Locals after the four parameters: 4 = action index, 5 = loop counter, 6 = memory
    // end, 7 = hash (i64); then one local per result of each callee.
    let mut locals: Vec<(u32, ValType)> = vec![(3, ValType::I32), (1, ValType::I64)];
    let mut result_locals = Vec::new();
    let mut next = 8u32;
    for c in callees {
        let mut mine = Vec::new();
        for r in &c.results {
            locals.push((1, *r));
            mine.push(next);
            next += 1;
        }
        result_locals.push(mine);
    }
    let mut f = Function::new(locals);
    f.instructions()
        .i32_const(OUT_BASE.cast_signed())
        .i32_const(i32::from(b'"'))
        .i32_store8(mem(0, 0))
        .i32_const(OUT_BASE.cast_signed() + 1)
        .global_set(out)
        // index = action[1] - '0'
        .local_get(0)
        .i32_load8_u(mem(1, 0))
        .i32_const(i32::from(b'0'))
        .i32_sub()
        .local_set(4);
    for (k, (c, mine)) in callees.iter().zip(&result_locals).enumerate() {
        f.instructions()
            .local_get(4)
            .i32_const(k as i32)
            .i32_eq()
            .if_(wasm_encoder::BlockType::Empty);
        for a in &c.args {
            f.instruction(a);
        }
        f.instructions().call(c.index);
        for l in mine.iter().rev() {
            f.instructions().local_set(*l);
        }
        for (l, ty) in mine.iter().zip(&c.results) {
            report(&mut f, *ty, *l, emit);
        }
        f.instructions().end();
    }
    // Mutable globals, as they are after the call.
    let mut shown = 0;
    for (i, g) in globals.iter().enumerate() {
        if !g.mutable || shown == MAX_GLOBALS_SHOWN {
            continue;
        }
        let Ok(ty) = RoundtripReencoder.val_type(g.content_type) else {
            continue;
        };
        shown += 1;
        let index = i as u32;
        let mut s = f.instructions();
        match ty {
            ValType::I32 => {
                s.global_get(index).i64_extend_i32_u().call(emit);
            }
            ValType::I64 => {
                s.global_get(index).call(emit);
            }
            ValType::F32 => {
                s.global_get(index)
                    .i32_reinterpret_f32()
                    .i64_extend_i32_u()
                    .call(emit);
            }
            ValType::F64 => {
                s.global_get(index).i64_reinterpret_f64().call(emit);
            }
            ValType::V128 => {
                s.global_get(index)
                    .i64x2_extract_lane(0)
                    .call(emit)
                    .global_get(index)
                    .i64x2_extract_lane(1)
                    .call(emit);
            }
            ValType::Ref(_) => {
                s.global_get(index)
                    .ref_is_null()
                    .i64_extend_i32_u()
                    .call(emit);
            }
        }
    }
    // FNV-1a over the memory's 64-bit words; then its size in pages.
    f.instructions()
        .memory_size(0)
        .i32_const(16)
        .i32_shl()
        .local_set(6)
        .i64_const(0xcbf2_9ce4_8422_2325_u64.cast_signed())
        .local_set(7)
        .block(wasm_encoder::BlockType::Empty)
        .loop_(wasm_encoder::BlockType::Empty)
        .local_get(5)
        .local_get(6)
        .i32_ge_u()
        .br_if(1)
        .local_get(7)
        .local_get(5)
        .i64_load(mem(0, 3))
        .i64_xor()
        .i64_const(0x100_0000_01b3)
        .i64_mul()
        .local_set(7)
        .local_get(5)
        .i32_const(8)
        .i32_add()
        .local_set(5)
        .br(0)
        .end()
        .end()
        .local_get(7)
        .call(emit)
        .memory_size(0)
        .i64_extend_i32_u()
        .call(emit)
        // The closing quote over the last space; the return area.
        .global_get(out)
        .i32_const(1)
        .i32_sub()
        .i32_const(i32::from(b'"'))
        .i32_store8(mem(0, 0))
        .i32_const(RET_AREA.cast_signed())
        .i32_const(0)
        .i32_store8(mem(0, 0))
        .i32_const(RET_AREA.cast_signed())
        .i32_const(OUT_BASE.cast_signed())
        .i32_store(mem(4, 2))
        .i32_const(RET_AREA.cast_signed())
        .global_get(out)
        .i32_const(OUT_BASE.cast_signed())
        .i32_sub()
        .i32_store(mem(8, 2))
        .i32_const(RET_AREA.cast_signed())
        .end();
    f
}
