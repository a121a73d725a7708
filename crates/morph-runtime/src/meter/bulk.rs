//! Bulk memory and table operations, charged by size.
//!
//! `memory.fill`, `memory.copy`, `memory.init`, `table.fill`, `table.copy` and
//! `table.init` do work in proportion to their length operand, but engines charge each
//! as one instruction: on wasmer and under deterministic metering, 5 000 fills of 64 MiB
//! (320 GiB written) ran under a budget of 100 000 units. [`chunk_bulk`] rewrites every
//! such instruction into a call to a helper function, one per instruction and immediate
//! (segment, table), that does the same work in chunks of at most [`MEMORY_CHUNK`] bytes
//! or [`TABLE_CHUNK`] elements, one loop iteration (about 17 instructions) per chunk. So
//! every engine's per-instruction fuel and Morph's own metering, which runs after this
//! rewrite, charge in proportion to the length: about one unit per 240 bytes.
//!
//! Why a rewrite rather than per-engine cost functions: wasmer's metering middleware
//! sees only the operator, not its operands; wasmtime's fuel has no per-byte cost; and
//! deterministic metering counts operators statically. A rewrite works the same on
//! every backend, in one place.
//!
//! Semantics are the original instruction's, which each helper ends up executing on every
//! chunk:
//! - **Bounds first.** Out-of-bounds operations trap before writing anything. A helper
//!   checks the whole range first (fill and copy: against `memory.size`/`table.size`;
//!   init: by initialising the range's last element, which traps exactly when the range
//!   is out of bounds, since segments cannot be sized at run time) and, when it is out of
//!   bounds, runs the original instruction with the original operands, which traps with
//!   the engine's own trap code. Zero-length operations run as they are (their own bounds
//!   check).
//! - **Overlap.** `memory.copy` and `table.copy` with the destination above the source
//!   copy the chunks from the end backwards, as `memmove` does; each chunk is itself a
//!   `copy`.
//!
//! A module without bulk operations is returned unchanged.

use crate::error::{Error, Result};
use crate::module::rewrite::{Rewrite, id, rewrite};
use std::borrow::Cow;
use std::collections::HashMap;
use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{
    BlockType, CodeSection, Function, FunctionSection, Instruction as I, Module, RefType,
    TypeSection, ValType,
};
use wasmparser::{FunctionBody, Operator, Parser, Payload, TypeRef};

/// Bytes per chunk of a bulk memory operation.
pub const MEMORY_CHUNK: u32 = 4096;
/// Elements per chunk of a bulk table operation.
pub const TABLE_CHUNK: u32 = 64;

fn err(e: impl std::fmt::Display) -> Error {
    Error::engine(format!("bulk-operation chunking: {e}"))
}

/// One bulk instruction with its immediates: one helper each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Bulk {
    MemoryFill { mem: u32 },
    MemoryCopy { dst: u32, src: u32 },
    MemoryInit { data: u32, mem: u32 },
    TableFill { table: u32 },
    TableCopy { dst: u32, src: u32 },
    TableInit { elem: u32, table: u32 },
}

impl Bulk {
    fn of(op: &Operator<'_>) -> Option<Bulk> {
        Some(match *op {
            Operator::MemoryFill { mem } => Bulk::MemoryFill { mem },
            Operator::MemoryCopy { dst_mem, src_mem } => Bulk::MemoryCopy {
                dst: dst_mem,
                src: src_mem,
            },
            Operator::MemoryInit { data_index, mem } => Bulk::MemoryInit {
                data: data_index,
                mem,
            },
            Operator::TableFill { table } => Bulk::TableFill { table },
            Operator::TableCopy {
                dst_table,
                src_table,
            } => Bulk::TableCopy {
                dst: dst_table,
                src: src_table,
            },
            Operator::TableInit { elem_index, table } => Bulk::TableInit {
                elem: elem_index,
                table,
            },
            _ => return None,
        })
    }

    /// The original instruction.
    fn instruction(self) -> I<'static> {
        match self {
            Bulk::MemoryFill { mem } => I::MemoryFill(mem),
            Bulk::MemoryCopy { dst, src } => I::MemoryCopy {
                dst_mem: dst,
                src_mem: src,
            },
            Bulk::MemoryInit { data, mem } => I::MemoryInit {
                mem,
                data_index: data,
            },
            Bulk::TableFill { table } => I::TableFill(table),
            Bulk::TableCopy { dst, src } => I::TableCopy {
                dst_table: dst,
                src_table: src,
            },
            Bulk::TableInit { elem, table } => I::TableInit {
                elem_index: elem,
                table,
            },
        }
    }
}

/// Rewrites every bulk memory and table instruction of `wasm` into a call to a helper
/// that does the work in chunks (see the module docs), with the default chunk sizes.
/// Returns `wasm` itself when it has none.
///
/// # Errors
/// `Engine` when the module cannot be parsed or rewritten (it was validated before, so
/// this means an unsupported construct).
pub fn chunk_bulk(wasm: &[u8]) -> Result<Cow<'_, [u8]>> {
    chunk_bulk_with(wasm, MEMORY_CHUNK, TABLE_CHUNK)
}

/// [`chunk_bulk`] with other chunk sizes (at least 1): tests use tiny chunks so that the
/// loops run many times.
///
/// # Errors
/// As [`chunk_bulk`].
#[doc(hidden)]
pub fn chunk_bulk_with(wasm: &[u8], memory_chunk: u32, table_chunk: u32) -> Result<Cow<'_, [u8]>> {
    let mut pass = Chunker {
        memory_chunk: memory_chunk.max(1),
        table_chunk: table_chunk.max(1),
        num_types: 0,
        num_funcs: 0,
        tables: Vec::new(),
        helpers: Vec::new(),
        helper_index: HashMap::new(),
        types: Vec::new(),
    };
    pass.scan(wasm)?;
    if pass.helpers.is_empty() {
        return Ok(Cow::Borrowed(wasm));
    }
    Ok(Cow::Owned(rewrite(wasm, &mut pass, &|e| err(e))?))
}

/// The chunking rewrite, section by section.
struct Chunker {
    memory_chunk: u32,
    table_chunk: u32,
    num_types: u32,
    /// Functions imported and defined: the first helper's index.
    num_funcs: u32,
    /// Element type of each table, imported ones first.
    tables: Vec<RefType>,
    /// The helpers, in order of first use.
    helpers: Vec<Bulk>,
    helper_index: HashMap<Bulk, u32>,
    /// Types added for the helpers, in order: their second parameter.
    types: Vec<ValType>,
}

impl Chunker {
    fn scan(&mut self, wasm: &[u8]) -> Result<()> {
        let mut rt = RoundtripReencoder;
        let mut num_funcs: u64 = 0;
        for payload in Parser::new(0).parse_all(wasm) {
            match payload.map_err(err)? {
                Payload::TypeSection(r) => self.num_types = r.count(),
                Payload::ImportSection(r) => {
                    for imp in r.into_imports() {
                        match imp.map_err(err)?.ty {
                            TypeRef::Func(_) | TypeRef::FuncExact(_) => num_funcs += 1,
                            TypeRef::Table(t) => {
                                self.tables.push(rt.ref_type(t.element_type).map_err(err)?);
                            }
                            _ => {}
                        }
                    }
                }
                Payload::FunctionSection(r) => num_funcs += u64::from(r.count()),
                Payload::TableSection(r) => {
                    for t in r {
                        let t = t.map_err(err)?;
                        self.tables
                            .push(rt.ref_type(t.ty.element_type).map_err(err)?);
                    }
                }
                Payload::CodeSectionEntry(body) => {
                    let mut ops = body.get_operators_reader().map_err(err)?;
                    while !ops.eof() {
                        if let Some(b) = Bulk::of(&ops.read().map_err(err)?) {
                            self.helper(b)?;
                        }
                    }
                }
                _ => {}
            }
        }
        self.num_funcs = u32::try_from(num_funcs).map_err(|_| err("too many functions"))?;
        // Now that the number of functions is known, number the helpers.
        let base = self.num_funcs;
        for (i, b) in self.helpers.iter().enumerate() {
            let i = u32::try_from(i)
                .ok()
                .and_then(|i| i.checked_add(base))
                .ok_or_else(|| err("too many functions"))?;
            self.helper_index.insert(*b, i);
        }
        Ok(())
    }

    fn helper(&mut self, b: Bulk) -> Result<()> {
        if !self.helpers.contains(&b) {
            self.helpers.push(b);
            let second = self.second_param(b)?;
            if !self.types.contains(&second) {
                self.types.push(second);
            }
        }
        Ok(())
    }

    /// The helper's second parameter: the fill value's type, or the source offset.
    fn second_param(&self, b: Bulk) -> Result<ValType> {
        match b {
            Bulk::MemoryFill { .. } => Ok(ValType::I32),
            Bulk::TableFill { table } => usize::try_from(table)
                .ok()
                .and_then(|t| self.tables.get(t))
                .map(|r| ValType::Ref(*r))
                .ok_or_else(|| err(format!("table {table} is not defined"))),
            _ => Ok(ValType::I32),
        }
    }

    fn type_of(&self, b: Bulk) -> Result<u32> {
        let second = self.second_param(b)?;
        let i = self
            .types
            .iter()
            .position(|t| *t == second)
            .and_then(|i| u32::try_from(i).ok())
            .ok_or_else(|| err("helper type missing"))?;
        self.num_types
            .checked_add(i)
            .ok_or_else(|| err("too many types"))
    }

    fn add_types(&self, t: &mut TypeSection) {
        for second in &self.types {
            t.ty().function([ValType::I32, *second, ValType::I32], []);
        }
    }

    fn add_functions(&self, f: &mut FunctionSection) -> Result<()> {
        for b in &self.helpers {
            f.function(self.type_of(*b)?);
        }
        Ok(())
    }

    fn add_code(&self, code: &mut CodeSection) {
        for b in &self.helpers {
            code.function(&self.helper_body(*b));
        }
    }

    /// Rewrites one body, or copies it when it has no bulk instruction.
    fn body(&self, body: &FunctionBody<'_>, code: &mut CodeSection) -> Result<()> {
        let mut ops = body.get_operators_reader().map_err(err)?;
        let mut any = false;
        while !ops.eof() {
            any |= Bulk::of(&ops.read().map_err(err)?).is_some();
        }
        if !any {
            code.raw(body.as_bytes());
            return Ok(());
        }
        let mut rt = RoundtripReencoder;
        let mut f = rt.new_function_with_parsed_locals(body).map_err(err)?;
        let mut ops = body.get_operators_reader().map_err(err)?;
        while !ops.eof() {
            let op = ops.read().map_err(err)?;
            match Bulk::of(&op) {
                Some(b) => {
                    let index = self
                        .helper_index
                        .get(&b)
                        .copied()
                        .ok_or_else(|| err("helper missing"))?;
                    f.instruction(&I::Call(index));
                }
                None => {
                    f.instruction(&rt.instruction(op).map_err(err)?);
                }
            }
        }
        code.function(&f);
        Ok(())
    }

    /// The helper for `b`: parameters `(dst, value or src, len)`.
    fn helper_body(&self, b: Bulk) -> Function {
        const D: u32 = 0;
        const S: u32 = 1;
        const N: u32 = 2;
        let mut f = Function::new([]);
        let op = b.instruction();
        let chunk = match b {
            Bulk::MemoryFill { .. } | Bulk::MemoryCopy { .. } | Bulk::MemoryInit { .. } => {
                self.memory_chunk
            }
            _ => self.table_chunk,
        };
        let chunk = i32::from_ne_bytes(chunk.to_ne_bytes());
        // `if (cond) { op(d, s, n); return }`: the original instruction, for the cases
        // it decides itself (out of bounds: it traps; zero length).
        let original_if = |f: &mut Function| {
            f.instruction(&I::If(BlockType::Empty));
            f.instruction(&I::LocalGet(D));
            f.instruction(&I::LocalGet(S));
            f.instruction(&I::LocalGet(N));
            f.instruction(&op);
            f.instruction(&I::Return);
            f.instruction(&I::End);
        };
        // Pushes `(u64) x + (u64) n`.
        let end64 = |f: &mut Function, x: u32| {
            f.instruction(&I::LocalGet(x));
            f.instruction(&I::I64ExtendI32U);
            f.instruction(&I::LocalGet(N));
            f.instruction(&I::I64ExtendI32U);
            f.instruction(&I::I64Add);
        };
        // Pushes the size, in bytes or elements, of a memory or table, as u64.
        let size64 = |f: &mut Function, memory: Option<u32>, table: Option<u32>| {
            if let Some(m) = memory {
                f.instruction(&I::MemorySize(m));
                f.instruction(&I::I64ExtendI32U);
                f.instruction(&I::I64Const(16));
                f.instruction(&I::I64Shl);
            } else if let Some(t) = table {
                f.instruction(&I::TableSize(t));
                f.instruction(&I::I64ExtendI32U);
            }
        };
        // `x += chunk` / `x -= chunk`.
        let step = |f: &mut Function, x: u32, add: bool| {
            f.instruction(&I::LocalGet(x));
            f.instruction(&I::I32Const(chunk));
            f.instruction(if add { &I::I32Add } else { &I::I32Sub });
            f.instruction(&I::LocalSet(x));
        };
        // Forward chunks, then the remainder: `while n > chunk { op(d, s, chunk); d +=
        // chunk; [s += chunk;] n -= chunk } op(d, s, n)`.
        let forward = |f: &mut Function, advance_s: bool| {
            f.instruction(&I::Block(BlockType::Empty));
            f.instruction(&I::Loop(BlockType::Empty));
            f.instruction(&I::LocalGet(N));
            f.instruction(&I::I32Const(chunk));
            f.instruction(&I::I32LeU);
            f.instruction(&I::BrIf(1));
            f.instruction(&I::LocalGet(D));
            f.instruction(&I::LocalGet(S));
            f.instruction(&I::I32Const(chunk));
            f.instruction(&op);
            step(f, D, true);
            if advance_s {
                step(f, S, true);
            }
            step(f, N, false);
            f.instruction(&I::Br(0));
            f.instruction(&I::End);
            f.instruction(&I::End);
            f.instruction(&I::LocalGet(D));
            f.instruction(&I::LocalGet(S));
            f.instruction(&I::LocalGet(N));
            f.instruction(&op);
        };

        match b {
            Bulk::MemoryFill { .. } | Bulk::TableFill { .. } => {
                let (m, t) = match b {
                    Bulk::MemoryFill { mem } => (Some(mem), None),
                    Bulk::TableFill { table } => (None, Some(table)),
                    _ => (None, None),
                };
                end64(&mut f, D);
                size64(&mut f, m, t);
                f.instruction(&I::I64GtU);
                original_if(&mut f);
                forward(&mut f, false);
            }
            Bulk::MemoryCopy { .. } | Bulk::TableCopy { .. } => {
                let (dm, dt, sm, st) = match b {
                    Bulk::MemoryCopy { dst, src } => (Some(dst), None, Some(src), None),
                    Bulk::TableCopy { dst, src } => (None, Some(dst), None, Some(src)),
                    _ => (None, None, None, None),
                };
                end64(&mut f, D);
                size64(&mut f, dm, dt);
                f.instruction(&I::I64GtU);
                end64(&mut f, S);
                size64(&mut f, sm, st);
                f.instruction(&I::I64GtU);
                f.instruction(&I::I32Or);
                original_if(&mut f);
                // Destination above the source: backwards, from the last chunk.
                f.instruction(&I::LocalGet(D));
                f.instruction(&I::LocalGet(S));
                f.instruction(&I::I32GtU);
                f.instruction(&I::If(BlockType::Empty));
                f.instruction(&I::Block(BlockType::Empty));
                f.instruction(&I::Loop(BlockType::Empty));
                f.instruction(&I::LocalGet(N));
                f.instruction(&I::I32Const(chunk));
                f.instruction(&I::I32LeU);
                f.instruction(&I::BrIf(1));
                step(&mut f, N, false);
                for x in [D, S] {
                    f.instruction(&I::LocalGet(x));
                    f.instruction(&I::LocalGet(N));
                    f.instruction(&I::I32Add);
                }
                f.instruction(&I::I32Const(chunk));
                f.instruction(&op);
                f.instruction(&I::Br(0));
                f.instruction(&I::End);
                f.instruction(&I::End);
                f.instruction(&I::LocalGet(D));
                f.instruction(&I::LocalGet(S));
                f.instruction(&I::LocalGet(N));
                f.instruction(&op);
                f.instruction(&I::Return);
                f.instruction(&I::End);
                forward(&mut f, true);
            }
            Bulk::MemoryInit { .. } | Bulk::TableInit { .. } => {
                // Zero length, or an end past 2^32 (out of bounds of any 32-bit memory,
                // table or segment): the original instruction decides.
                f.instruction(&I::LocalGet(N));
                f.instruction(&I::I32Eqz);
                for x in [D, S] {
                    end64(&mut f, x);
                    f.instruction(&I::I64Const(1 << 32));
                    f.instruction(&I::I64GtU);
                    f.instruction(&I::I32Or);
                }
                original_if(&mut f);
                // The last element first: traps, having written nothing, exactly when
                // the range is out of bounds; otherwise writes what the chunks will.
                for x in [D, S] {
                    f.instruction(&I::LocalGet(x));
                    f.instruction(&I::LocalGet(N));
                    f.instruction(&I::I32Add);
                    f.instruction(&I::I32Const(1));
                    f.instruction(&I::I32Sub);
                }
                f.instruction(&I::I32Const(1));
                f.instruction(&op);
                forward(&mut f, true);
            }
        }
        f.instruction(&I::End);
        f
    }
}

impl<'a> Rewrite<'a> for Chunker {
    fn required(&self) -> &[u8] {
        &[id::TYPE, id::FUNCTION, id::CODE]
    }

    fn section(&mut self, payload: &Payload<'a>, out: &mut Module) -> Result<bool> {
        let mut rt = RoundtripReencoder;
        match payload {
            Payload::TypeSection(r) => {
                let mut t = TypeSection::new();
                rt.parse_type_section(&mut t, r.clone()).map_err(err)?;
                self.add_types(&mut t);
                out.section(&t);
            }
            Payload::FunctionSection(r) => {
                let mut f = FunctionSection::new();
                rt.parse_function_section(&mut f, r.clone()).map_err(err)?;
                self.add_functions(&mut f)?;
                out.section(&f);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn rewrites_code(&self) -> bool {
        true
    }

    fn code(&mut self, bodies: Vec<FunctionBody<'a>>, out: &mut Module) -> Result<()> {
        let mut code = CodeSection::new();
        for body in &bodies {
            self.body(body, &mut code)?;
        }
        self.add_code(&mut code);
        out.section(&code);
        Ok(())
    }

    fn missing(&mut self, sid: u8, out: &mut Module) -> Result<()> {
        match sid {
            id::TYPE => {
                let mut t = TypeSection::new();
                self.add_types(&mut t);
                out.section(&t);
            }
            id::FUNCTION => {
                let mut f = FunctionSection::new();
                self.add_functions(&mut f)?;
                out.section(&f);
            }
            other => return Err(err(format!("no section {other} to add"))),
        }
        Ok(())
    }
}
