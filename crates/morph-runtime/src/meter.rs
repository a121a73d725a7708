//! Deterministic metering: the module counts its own instructions.
//!
//! [`instrument`] rewrites a module (wasmparser + wasm-encoder) so that every straight-line
//! run of instructions first subtracts its length from a mutable `i64` global, exported as
//! [`FUEL_GLOBAL`], and calls a dedicated trap function when the count goes negative. The
//! exported `describe`, `execute` and post-return functions and the start function are
//! wrapped so that each guest call starts with the full budget. Because the module counts
//! itself, a budget trips at the same instruction on every engine; native fuel (each
//! engine's own unit) stays the fast default.
//!
//! Cost model: one unit per wasm operator, charged when the straight-line run that
//! contains it is entered (at function entry and after every `block`, `loop`, `if`,
//! `else`, `end` and `br_if`).
//!
//! A backend tells a metering stop from another trap by reading [`FUEL_GLOBAL`] after the
//! trap ([`exhausted`]); where it cannot read globals (a component), by the index of the
//! trapping function, [`ModuleInfo::meter_trap_func`](crate::ModuleInfo::meter_trap_func).

use crate::error::{Error, Result};
use std::collections::HashMap;
use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{
    CodeSection, ConstExpr, ExportKind, ExportSection, Function, FunctionSection, GlobalSection,
    GlobalType, Instruction, Module, RawSection, StartSection, TypeSection, ValType,
};
use wasmparser::{ExternalKind, Operator, Parser, Payload, TypeRef};

/// Name of the exported `i64` global holding the instructions left in this call.
pub const FUEL_GLOBAL: &str = "__morph_fuel";

/// Whether a remaining-fuel value read from [`FUEL_GLOBAL`] means the budget ran out.
pub fn exhausted(remaining: i64) -> bool {
    remaining < 0
}

/// Exports whose calls start a guest call: wrapped to reset the budget.
const ENTRY_EXPORTS: &[&str] = &[
    "describe",
    "execute",
    "cabi_post_describe",
    "cabi_post_execute",
];

fn err(e: impl std::fmt::Display) -> Error {
    Error::engine(format!("deterministic metering: {e}"))
}

/// Section ids, in the order the binary format requires.
const GLOBAL_ID: u8 = 6;

/// The result of [`instrument`].
#[derive(Debug, Clone)]
pub struct Instrumented {
    /// The rewritten module.
    pub wasm: Vec<u8>,
    /// Index of the function that traps when the budget runs out.
    pub trap_func: u32,
}

struct Scan {
    num_types: u32,
    imported_funcs: u32,
    defined_funcs: u32,
    imported_globals: u32,
    defined_globals: u32,
    func_types: Vec<u32>,
    /// Export name -> function index, for the entry exports.
    entries: Vec<(String, u32)>,
    start: Option<u32>,
}

fn scan(wasm: &[u8]) -> Result<Scan> {
    let mut s = Scan {
        num_types: 0,
        imported_funcs: 0,
        defined_funcs: 0,
        imported_globals: 0,
        defined_globals: 0,
        func_types: Vec::new(),
        entries: Vec::new(),
        start: None,
    };
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(err)? {
            Payload::TypeSection(r) => s.num_types = r.count(),
            Payload::ImportSection(r) => {
                for imp in r.into_imports() {
                    match imp.map_err(err)?.ty {
                        TypeRef::Func(t) => {
                            s.imported_funcs += 1;
                            s.func_types.push(t);
                        }
                        TypeRef::Global(_) => s.imported_globals += 1,
                        _ => {}
                    }
                }
            }
            Payload::FunctionSection(r) => {
                for t in r {
                    s.func_types.push(t.map_err(err)?);
                    s.defined_funcs += 1;
                }
            }
            Payload::GlobalSection(r) => s.defined_globals = r.count(),
            Payload::ExportSection(r) => {
                for e in r {
                    let e = e.map_err(err)?;
                    if e.name == FUEL_GLOBAL {
                        return Err(err(format!("the module already exports `{FUEL_GLOBAL}`")));
                    }
                    if e.kind == ExternalKind::Func && ENTRY_EXPORTS.contains(&e.name) {
                        s.entries.push((e.name.to_owned(), e.index));
                    }
                }
            }
            Payload::StartSection { func, .. } => s.start = Some(func),
            _ => {}
        }
    }
    Ok(s)
}

/// Whether an operator ends a straight-line run (the next operator starts a new one).
fn ends_run(op: &Operator<'_>) -> bool {
    matches!(
        op,
        Operator::Block { .. }
            | Operator::Loop { .. }
            | Operator::If { .. }
            | Operator::Else
            | Operator::End
            | Operator::Br { .. }
            | Operator::BrIf { .. }
            | Operator::BrTable { .. }
            | Operator::Return
            | Operator::Unreachable
    )
}

fn charge(f: &mut Function, cost: u64, fuel: u32, trap: u32) {
    if cost == 0 {
        return;
    }
    f.instruction(&Instruction::GlobalGet(fuel));
    f.instruction(&Instruction::I64Const(cost as i64));
    f.instruction(&Instruction::I64Sub);
    f.instruction(&Instruction::GlobalSet(fuel));
    f.instruction(&Instruction::GlobalGet(fuel));
    f.instruction(&Instruction::I64Const(0));
    f.instruction(&Instruction::I64LtS);
    f.instruction(&Instruction::If(wasm_encoder::BlockType::Empty));
    f.instruction(&Instruction::Call(trap));
    f.instruction(&Instruction::End);
}

fn instrument_body(body: wasmparser::FunctionBody<'_>, fuel: u32, trap: u32) -> Result<Function> {
    let mut rt = RoundtripReencoder;
    let mut f = rt.new_function_with_parsed_locals(&body).map_err(err)?;
    let ops: Vec<Operator<'_>> = body
        .get_operators_reader()
        .map_err(err)?
        .into_iter()
        .collect::<std::result::Result<_, _>>()
        .map_err(err)?;
    // Cost of the run that starts at each operator index beginning one.
    let mut run_cost: HashMap<usize, u64> = HashMap::new();
    let mut start = 0;
    for (i, op) in ops.iter().enumerate() {
        if ends_run(op) {
            run_cost.insert(start, (i + 1 - start) as u64);
            start = i + 1;
        }
    }
    if start < ops.len() {
        run_cost.insert(start, (ops.len() - start) as u64);
    }
    let last = ops.len().saturating_sub(1);
    for (i, op) in ops.into_iter().enumerate() {
        let cost = run_cost.get(&i).copied().unwrap_or(0);
        // A run made of a lone `end` or `else` is charged just after it, inside the frame
        // that continues; the function's final `end` is free.
        let after = matches!(op, Operator::End | Operator::Else);
        if !after {
            charge(&mut f, cost, fuel, trap);
        }
        f.instruction(&rt.instruction(op).map_err(err)?);
        if after && i != last {
            charge(&mut f, cost, fuel, trap);
        }
    }
    Ok(f)
}

/// Rewrites `wasm` to count its instructions against `budget` per guest call.
///
/// # Errors
/// `Engine` when the module cannot be parsed or rewritten (it was validated before, so
/// this means an unsupported construct).
pub fn instrument(wasm: &[u8], budget: u64) -> Result<Instrumented> {
    let s = scan(wasm)?;
    let budget = i64::try_from(budget).unwrap_or(i64::MAX);
    let trap_ty = s.num_types;
    let fuel = s.imported_globals + s.defined_globals;
    let trap_func = s.imported_funcs + s.defined_funcs;
    // Wrappers: (wrapped function, resets the budget after the call too).
    let mut wrap: Vec<(u32, bool)> = Vec::new();
    let mut export_map: HashMap<String, u32> = HashMap::new();
    for (name, idx) in &s.entries {
        export_map.insert(name.clone(), trap_func + 1 + wrap.len() as u32);
        wrap.push((*idx, name.starts_with("cabi_post_")));
    }
    let start_wrapper = s.start.map(|idx| {
        wrap.push((idx, false));
        trap_func + wrap.len() as u32
    });
    let type_of = |func: u32| -> Result<u32> {
        s.func_types
            .get(func as usize)
            .copied()
            .ok_or_else(|| err(format!("function {func} has no type")))
    };
    let mut param_counts: Vec<u32> = Vec::new();

    let mut rt = RoundtripReencoder;
    let mut module = Module::new();
    let mut globals_done = false;
    let mut code: Option<CodeSection> = None;
    let mut code_left = 0u32;
    let global = |g: &mut GlobalSection| {
        g.global(
            GlobalType {
                val_type: ValType::I64,
                mutable: true,
                shared: false,
            },
            &ConstExpr::i64_const(budget),
        );
    };

    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(err)?;
        if let Some((id, _)) = payload.as_section()
            && !globals_done
            && section_order(id) > section_order(GLOBAL_ID)
        {
            let mut g = GlobalSection::new();
            global(&mut g);
            module.section(&g);
            globals_done = true;
        }
        match payload {
            Payload::TypeSection(r) => {
                let mut t = TypeSection::new();
                for ft in r.clone().into_iter_err_on_gc_types() {
                    param_counts.push(ft.map_err(err)?.params().len() as u32);
                }
                rt.parse_type_section(&mut t, r).map_err(err)?;
                t.ty().function([], []);
                module.section(&t);
            }
            Payload::FunctionSection(r) => {
                let mut f = FunctionSection::new();
                rt.parse_function_section(&mut f, r).map_err(err)?;
                f.function(trap_ty);
                for (orig, _) in &wrap {
                    f.function(type_of(*orig)?);
                }
                module.section(&f);
            }
            Payload::GlobalSection(r) => {
                let mut g = GlobalSection::new();
                rt.parse_global_section(&mut g, r).map_err(err)?;
                global(&mut g);
                module.section(&g);
                globals_done = true;
            }
            Payload::ExportSection(r) => {
                let mut e = ExportSection::new();
                for ex in r {
                    let ex = ex.map_err(err)?;
                    let kind = match ex.kind {
                        ExternalKind::Func | ExternalKind::FuncExact => ExportKind::Func,
                        ExternalKind::Table => ExportKind::Table,
                        ExternalKind::Memory => ExportKind::Memory,
                        ExternalKind::Global => ExportKind::Global,
                        ExternalKind::Tag => ExportKind::Tag,
                    };
                    let index = match (ex.kind, export_map.get(ex.name)) {
                        (ExternalKind::Func, Some(w)) => *w,
                        _ => ex.index,
                    };
                    e.export(ex.name, kind, index);
                }
                e.export(FUEL_GLOBAL, ExportKind::Global, fuel);
                module.section(&e);
            }
            Payload::StartSection { .. } => {
                if let Some(w) = start_wrapper {
                    module.section(&StartSection { function_index: w });
                }
            }
            Payload::CodeSectionStart { count, .. } => {
                code = Some(CodeSection::new());
                code_left = count;
            }
            Payload::CodeSectionEntry(body) => {
                let section = code
                    .as_mut()
                    .ok_or_else(|| err("code entry outside a code section"))?;
                section.function(&instrument_body(body, fuel, trap_func)?);
                code_left = code_left.saturating_sub(1);
                if code_left == 0 {
                    let mut section = code.take().ok_or_else(|| err("code section vanished"))?;
                    let mut trap = Function::new([]);
                    trap.instruction(&Instruction::Unreachable);
                    trap.instruction(&Instruction::End);
                    section.function(&trap);
                    for (orig, reset_after) in &wrap {
                        let params = param_counts
                            .get(type_of(*orig)? as usize)
                            .copied()
                            .ok_or_else(|| err("type index out of range"))?;
                        let mut f = Function::new([]);
                        f.instruction(&Instruction::I64Const(budget));
                        f.instruction(&Instruction::GlobalSet(fuel));
                        for p in 0..params {
                            f.instruction(&Instruction::LocalGet(p));
                        }
                        f.instruction(&Instruction::Call(*orig));
                        if *reset_after {
                            f.instruction(&Instruction::I64Const(budget));
                            f.instruction(&Instruction::GlobalSet(fuel));
                        }
                        f.instruction(&Instruction::End);
                        section.function(&f);
                    }
                    module.section(&section);
                }
            }
            other => {
                if let Some((id, range)) = other.as_section() {
                    let range = usize::try_from(range.start).map_err(err)?
                        ..usize::try_from(range.end).map_err(err)?;
                    let data = wasm.get(range).ok_or_else(|| err("section out of range"))?;
                    module.section(&RawSection { id, data });
                }
            }
        }
    }
    Ok(Instrumented {
        wasm: module.finish(),
        trap_func,
    })
}

/// Position of a section id in the required order (custom sections anywhere).
fn section_order(id: u8) -> u8 {
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
