//! Deterministic metering: the module counts its own instructions.
//!
//! [`instrument`] rewrites a module (wasmparser + wasm-encoder) so that every straight-line
//! run of instructions first subtracts its length from a mutable `i64` global, exported as
//! [`FUEL_GLOBAL`], and calls a dedicated trap function when the count goes negative.
//! Because the module counts itself, a budget trips at the same instruction on every
//! engine; native fuel (each engine's own unit) stays the fast default.
//!
//! ## Where a budget starts
//!
//! A guest call, seen from the guest, is: the host lowers the arguments with
//! `cabi_realloc`, calls `describe` or `execute` (which may make host calls, which may
//! call `cabi_realloc` again to hand back their results), lifts the result, and calls the
//! post-return function. The whole call, argument lowering included, runs on one budget.
//! The guest resets the budget itself, through wrappers of its exports, because the
//! component-model backend can call no export that the contract does not name. The
//! wrappers share an `i32` global, *in call*, that says whether a guest call is under way:
//! - `cabi_realloc`: when no call is under way, the budget restarts and a call begins (the
//!   first allocation of argument lowering); within a call (more arguments, or a host
//!   call's result) it continues the call's budget.
//! - `describe`, `execute`: the budget restarts unless a call is under way (arguments
//!   were lowered: they continue that budget); the call is under way until they return.
//! - `cabi_post_describe`, `cabi_post_execute`: run on a fresh budget, then leave a full
//!   one and no call under way.
//! - The start function runs on a fresh budget.
//!
//! A call that traps leaves *in call* set; that does not matter, because a trapped
//! instance is poisoned and never called again. So no call runs on the budget a previous
//! call left over.
//!
//! Cost model: one unit per wasm operator, charged when the straight-line run that
//! contains it is entered (at function entry and after every `block`, `loop`, `if`,
//! `else`, `end` and `br_if`); and [`HOST_CALL_FUEL`](crate::HOST_CALL_FUEL) units per
//! host call, charged by a wrapper of each imported function. Every reference to an
//! import (a `call`, a `ref.func`, an element segment, an export, the start function) is
//! sent to its wrapper, so a host call reached through a table pays too.
//!
//! A backend tells a metering stop from another trap by reading [`FUEL_GLOBAL`] after the
//! trap ([`exhausted`]); where it cannot read globals (a component), by the index of the
//! trapping function, [`ModuleInfo::meter_trap_func`](crate::ModuleInfo::meter_trap_func).

mod bulk;

pub use bulk::{MEMORY_CHUNK, TABLE_CHUNK, chunk_bulk, chunk_bulk_with};

use crate::error::{Error, Result};
use crate::module::rewrite::{Rewrite, export_kind, id};
use std::collections::HashMap;
use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{
    CodeSection, ConstExpr, ExportKind, ExportSection, Function, FunctionSection, GlobalSection,
    GlobalType, Instruction, Module, StartSection, TypeSection, ValType,
};
use wasmparser::{ExternalKind, FunctionBody, Operator, Parser, Payload, TypeRef};

/// Name of the exported `i64` global holding the instructions left in this call.
pub const FUEL_GLOBAL: &str = "__morph_fuel";

/// Whether a remaining-fuel value read from [`FUEL_GLOBAL`] means the budget ran out.
pub fn exhausted(remaining: i64) -> bool {
    remaining < 0
}

/// Exports wrapped to manage the budget (see the module docs), and how.
const ENTRY_EXPORTS: &[(&str, Wrap)] = &[
    ("describe", Wrap::Entry),
    ("execute", Wrap::Entry),
    ("cabi_post_describe", Wrap::PostReturn),
    ("cabi_post_execute", Wrap::PostReturn),
    ("cabi_realloc", Wrap::Realloc),
];

/// How a wrapper manages the budget (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wrap {
    /// `describe`, `execute`: restart unless in a call; in a call until they return.
    Entry,
    /// Post-returns: restart before and after.
    PostReturn,
    /// `cabi_realloc`: restart and begin a call unless in one.
    Realloc,
    /// The start function: restart.
    Start,
}

fn err(e: impl std::fmt::Display) -> Error {
    Error::engine(format!("deterministic metering: {e}"))
}

/// The result of [`instrument`].
#[derive(Debug, Clone)]
pub struct Instrumented {
    /// The rewritten module.
    pub wasm: Vec<u8>,
    /// Index of the function that traps when the budget runs out.
    pub trap_func: u32,
}

/// What the rewrite needs to know about the module before it starts writing.
struct Scan {
    /// Parameter count of each type.
    type_params: Vec<u32>,
    imported_funcs: u32,
    defined_funcs: u32,
    imported_globals: u32,
    defined_globals: u32,
    func_types: Vec<u32>,
    /// Export name, wrapper kind and function index of the entry exports.
    entries: Vec<(String, Wrap, u32)>,
    start: Option<u32>,
}

fn count(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| err("too many entries"))
}

fn scan(wasm: &[u8]) -> Result<Scan> {
    let mut s = Scan {
        type_params: Vec::new(),
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
            Payload::TypeSection(r) => {
                for ft in r.into_iter_err_on_gc_types() {
                    s.type_params.push(count(ft.map_err(err)?.params().len())?);
                }
            }
            Payload::ImportSection(r) => {
                for imp in r.into_imports() {
                    match imp.map_err(err)?.ty {
                        TypeRef::Func(t) | TypeRef::FuncExact(t) => {
                            s.imported_funcs = s
                                .imported_funcs
                                .checked_add(1)
                                .ok_or_else(|| err("too many imports"))?;
                            s.func_types.push(t);
                        }
                        TypeRef::Global(_) => {
                            s.imported_globals = s
                                .imported_globals
                                .checked_add(1)
                                .ok_or_else(|| err("too many imports"))?;
                        }
                        _ => {}
                    }
                }
            }
            Payload::FunctionSection(r) => {
                s.defined_funcs = r.count();
                for t in r {
                    s.func_types.push(t.map_err(err)?);
                }
            }
            Payload::GlobalSection(r) => s.defined_globals = r.count(),
            Payload::ExportSection(r) => {
                for e in r {
                    let e = e.map_err(err)?;
                    if e.name == FUEL_GLOBAL {
                        return Err(err(format!("the module already exports `{FUEL_GLOBAL}`")));
                    }
                    if e.kind == ExternalKind::Func
                        && let Some((_, wrap)) = ENTRY_EXPORTS.iter().find(|(n, _)| *n == e.name)
                    {
                        s.entries.push((e.name.to_owned(), *wrap, e.index));
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
    f.instruction(&Instruction::I64Const(
        i64::try_from(cost).unwrap_or(i64::MAX),
    ));
    f.instruction(&Instruction::I64Sub);
    f.instruction(&Instruction::GlobalSet(fuel));
    f.instruction(&Instruction::GlobalGet(fuel));
    f.instruction(&Instruction::I64Const(0));
    f.instruction(&Instruction::I64LtS);
    f.instruction(&Instruction::If(wasm_encoder::BlockType::Empty));
    f.instruction(&Instruction::Call(trap));
    f.instruction(&Instruction::End);
}

/// Reencodes with every reference to an imported function sent to that import's wrapper
/// (see the module docs).
#[derive(Debug, Clone, Copy)]
struct Remap {
    /// Imported functions: indices `0..imports`.
    imports: u32,
    /// The wrapper of import 0; import `i`'s is `first_wrapper + i`.
    first_wrapper: u32,
}

impl Remap {
    fn func(&self, func: u32) -> u32 {
        match func < self.imports {
            true => self.first_wrapper.saturating_add(func),
            false => func,
        }
    }
}

impl Reencode for Remap {
    type Error = std::convert::Infallible;

    fn function_index(
        &mut self,
        func: u32,
    ) -> std::result::Result<u32, wasm_encoder::reencode::Error<Self::Error>> {
        Ok(self.func(func))
    }
}

fn instrument_body(
    body: wasmparser::FunctionBody<'_>,
    fuel: u32,
    trap: u32,
    remap: Remap,
) -> Result<Function> {
    let mut rt = remap;
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
    let trap_ty = count(s.type_params.len())?;
    let fuel = s
        .imported_globals
        .checked_add(s.defined_globals)
        .ok_or_else(|| err("too many globals"))?;
    let trap_func = s
        .imported_funcs
        .checked_add(s.defined_funcs)
        .ok_or_else(|| err("too many functions"))?;
    let mut wrappers: Vec<Wrapper> = Vec::new();
    let mut export_map: HashMap<String, u32> = HashMap::new();
    let imports = s.imported_funcs;
    let next_index = |wrappers: &Vec<Wrapper>| -> Result<u32> {
        count(wrappers.len())?
            .checked_add(trap_func)
            .and_then(|i| i.checked_add(1))
            .ok_or_else(|| err("too many functions"))
    };
    for (name, wrap, idx) in &s.entries {
        export_map.insert(name.clone(), next_index(&wrappers)?);
        wrappers.push(Wrapper {
            func: *idx,
            wrap: *wrap,
        });
    }
    let start_wrapper = match s.start {
        Some(func) => {
            let w = next_index(&wrappers)?;
            wrappers.push(Wrapper {
                func,
                wrap: Wrap::Start,
            });
            Some(w)
        }
        None => None,
    };
    // The imports' wrappers come last, after the entry and start wrappers.
    let first_wrapper = next_index(&wrappers)?;
    first_wrapper
        .checked_add(imports)
        .ok_or_else(|| err("too many functions"))?;
    let remap = Remap {
        imports,
        first_wrapper,
    };
    let mut pass = Meter {
        s,
        remap,
        budget,
        trap_ty,
        fuel,
        trap_func,
        wrappers,
        export_map,
        start_wrapper,
    };
    let wasm = crate::module::rewrite::rewrite(wasm, &mut pass, &|e| err(e))?;
    Ok(Instrumented { wasm, trap_func })
}

/// A function added to wrap an entry export (or the start function).
struct Wrapper {
    /// The wrapped function.
    func: u32,
    /// How it manages the budget.
    wrap: Wrap,
}

/// The metering rewrite, section by section.
struct Meter {
    s: Scan,
    remap: Remap,
    budget: i64,
    trap_ty: u32,
    fuel: u32,
    trap_func: u32,
    wrappers: Vec<Wrapper>,
    export_map: HashMap<String, u32>,
    start_wrapper: Option<u32>,
}

impl Meter {
    fn type_of(&self, func: u32) -> Result<u32> {
        usize::try_from(func)
            .ok()
            .and_then(|i| self.s.func_types.get(i))
            .copied()
            .ok_or_else(|| err(format!("function {func} has no type")))
    }

    fn add_types(&self, t: &mut TypeSection) {
        t.ty().function([], []);
    }

    fn add_functions(&self, f: &mut FunctionSection) -> Result<()> {
        f.function(self.trap_ty);
        for w in &self.wrappers {
            f.function(self.type_of(w.func)?);
        }
        for import in 0..self.remap.imports {
            f.function(self.type_of(import)?);
        }
        Ok(())
    }

    fn params_of(&self, func: u32) -> Result<u32> {
        let ty = self.type_of(func)?;
        usize::try_from(ty)
            .ok()
            .and_then(|t| self.s.type_params.get(t))
            .copied()
            .ok_or_else(|| err("type index out of range"))
    }

    fn add_globals(&self, g: &mut GlobalSection) {
        g.global(
            GlobalType {
                val_type: ValType::I64,
                mutable: true,
                shared: false,
            },
            &ConstExpr::i64_const(self.budget),
        );
        // `in call` (see the module docs): index `fuel + 1`.
        g.global(
            GlobalType {
                val_type: ValType::I32,
                mutable: true,
                shared: false,
            },
            &ConstExpr::i32_const(0),
        );
    }

    fn add_exports(&self, e: &mut ExportSection) {
        e.export(FUEL_GLOBAL, ExportKind::Global, self.fuel);
    }

    fn add_code(&self, section: &mut CodeSection) -> Result<()> {
        let mut trap = Function::new([]);
        trap.instruction(&Instruction::Unreachable);
        trap.instruction(&Instruction::End);
        section.function(&trap);
        for w in &self.wrappers {
            let params = self.params_of(w.func)?;
            let in_call = self
                .fuel
                .checked_add(1)
                .ok_or_else(|| err("too many globals"))?;
            let restart = |f: &mut Function| {
                f.instruction(&Instruction::I64Const(self.budget));
                f.instruction(&Instruction::GlobalSet(self.fuel));
            };
            let set_in_call = |f: &mut Function, v: i32| {
                f.instruction(&Instruction::I32Const(v));
                f.instruction(&Instruction::GlobalSet(in_call));
            };
            let mut f = Function::new([]);
            match w.wrap {
                Wrap::Entry | Wrap::Realloc => {
                    // if !in_call { restart; in_call = 1 }
                    f.instruction(&Instruction::GlobalGet(in_call));
                    f.instruction(&Instruction::I32Eqz);
                    f.instruction(&Instruction::If(wasm_encoder::BlockType::Empty));
                    restart(&mut f);
                    set_in_call(&mut f, 1);
                    f.instruction(&Instruction::End);
                }
                Wrap::PostReturn | Wrap::Start => restart(&mut f),
            }
            for p in 0..params {
                f.instruction(&Instruction::LocalGet(p));
            }
            // An entry that is an import itself pays as a host call.
            f.instruction(&Instruction::Call(self.remap.func(w.func)));
            match w.wrap {
                // The results stay on the stack below.
                Wrap::Entry => set_in_call(&mut f, 0),
                Wrap::PostReturn => {
                    restart(&mut f);
                    set_in_call(&mut f, 0);
                }
                Wrap::Realloc | Wrap::Start => {}
            }
            f.instruction(&Instruction::End);
            section.function(&f);
        }
        // Each import's wrapper: charge the host call, then make it.
        for import in 0..self.remap.imports {
            let mut f = Function::new([]);
            charge(&mut f, crate::HOST_CALL_FUEL, self.fuel, self.trap_func);
            for p in 0..self.params_of(import)? {
                f.instruction(&Instruction::LocalGet(p));
            }
            f.instruction(&Instruction::Call(import));
            f.instruction(&Instruction::End);
            section.function(&f);
        }
        Ok(())
    }
}

impl<'a> Rewrite<'a> for Meter {
    fn required(&self) -> &[u8] {
        &[id::TYPE, id::FUNCTION, id::GLOBAL, id::EXPORT, id::CODE]
    }

    fn section(&mut self, payload: &Payload<'a>, out: &mut Module) -> Result<bool> {
        let mut rt = RoundtripReencoder;
        let mut remap = self.remap;
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
            Payload::GlobalSection(r) => {
                let mut g = GlobalSection::new();
                remap.parse_global_section(&mut g, r.clone()).map_err(err)?;
                self.add_globals(&mut g);
                out.section(&g);
            }
            Payload::ExportSection(r) => {
                let mut e = ExportSection::new();
                for ex in r.clone() {
                    let ex = ex.map_err(err)?;
                    let index = match (ex.kind, self.export_map.get(ex.name)) {
                        (ExternalKind::Func, Some(w)) => *w,
                        (ExternalKind::Func, None) => self.remap.func(ex.index),
                        _ => ex.index,
                    };
                    e.export(ex.name, export_kind(ex.kind), index);
                }
                self.add_exports(&mut e);
                out.section(&e);
            }
            Payload::StartSection { .. } => {
                if let Some(w) = self.start_wrapper {
                    out.section(&StartSection { function_index: w });
                }
            }
            Payload::ElementSection(r) => {
                let mut e = wasm_encoder::ElementSection::new();
                remap
                    .parse_element_section(&mut e, r.clone())
                    .map_err(err)?;
                out.section(&e);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn rewrites_code(&self) -> bool {
        true
    }

    fn code(&mut self, bodies: Vec<FunctionBody<'a>>, out: &mut Module) -> Result<()> {
        let mut section = CodeSection::new();
        for body in bodies {
            section.function(&instrument_body(
                body,
                self.fuel,
                self.trap_func,
                self.remap,
            )?);
        }
        self.add_code(&mut section)?;
        out.section(&section);
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
            id::GLOBAL => {
                let mut g = GlobalSection::new();
                self.add_globals(&mut g);
                out.section(&g);
            }
            id::EXPORT => {
                let mut e = ExportSection::new();
                self.add_exports(&mut e);
                out.section(&e);
            }
            other => return Err(err(format!("no section {other} to add"))),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmparser::Validator;

    fn exports(wasm: &[u8]) -> Vec<(String, ExternalKind, u32)> {
        let mut out = Vec::new();
        for p in Parser::new(0).parse_all(wasm) {
            if let Payload::ExportSection(r) = p.unwrap() {
                for e in r {
                    let e = e.unwrap();
                    out.push((e.name.to_owned(), e.kind, e.index));
                }
            }
        }
        out
    }

    fn instrumented(wat: &str) -> Instrumented {
        let out = instrument(&wat::parse_str(wat).unwrap(), 100).unwrap();
        Validator::new_with_features(crate::wasm_features())
            .validate_all(&out.wasm)
            .unwrap_or_else(|e| panic!("invalid output for {wat}: {e}"));
        out
    }

    #[test]
    fn a_module_without_functions_or_sections_comes_out_valid_with_the_fuel_export() {
        for wat in [
            "(module)",
            "(module (memory 1))",
            r#"(module (memory (export "memory") 1))"#,
            r#"(module (global (export "g") i32 (i32.const 1)))"#,
            r#"(module (import "m" "f" (func)) (@custom "name-like" "after"))"#,
        ] {
            let out = instrumented(wat);
            let ex = exports(&out.wasm);
            assert!(
                ex.iter()
                    .any(|(n, k, _)| n == FUEL_GLOBAL && *k == ExternalKind::Global),
                "{wat}: {ex:?}"
            );
        }
        // The trap function follows the imported one.
        assert_eq!(
            instrumented(r#"(module (import "m" "f" (func)))"#).trap_func,
            1
        );
    }

    #[test]
    fn a_module_without_exports_gets_the_fuel_export() {
        let out = instrumented("(module (global i64 (i64.const 0)) (func (drop (i32.const 1))))");
        // The fuel global follows the module's own global.
        assert_eq!(
            exports(&out.wasm),
            [(FUEL_GLOBAL.to_owned(), ExternalKind::Global, 1)]
        );
        assert_eq!(out.trap_func, 1);
    }

    #[test]
    fn every_reference_to_an_import_goes_through_its_charging_wrapper() {
        let out = instrumented(
            r#"(module
                 (import "m" "f" (func $f (param i32)))
                 (import "m" "g" (func $g))
                 (table 2 funcref)
                 (elem (i32.const 0) func $f $g)
                 (global funcref (ref.func $g))
                 (func (export "run") (call $f (i32.const 1)) (call $g))
                 (export "reexport" (func $g)))"#,
        );
        // Functions: imports 0, 1; `run` 2; trap 3; the imports' wrappers 4, 5.
        assert_eq!(out.trap_func, 3);
        let ex = exports(&out.wasm);
        assert!(
            ex.contains(&("reexport".to_owned(), ExternalKind::Func, 5)),
            "{ex:?}"
        );
        let mut elements = Vec::new();
        let mut global_refs = Vec::new();
        let mut calls = Vec::new();
        let mut code = 0;
        for p in Parser::new(0).parse_all(&out.wasm) {
            match p.unwrap() {
                Payload::ElementSection(r) => {
                    for e in r {
                        if let wasmparser::ElementItems::Functions(f) = e.unwrap().items {
                            elements.extend(f.into_iter().map(Result::unwrap));
                        }
                    }
                }
                Payload::GlobalSection(r) => {
                    for g in r {
                        for op in g.unwrap().init_expr.get_operators_reader() {
                            if let Operator::RefFunc { function_index } = op.unwrap() {
                                global_refs.push(function_index);
                            }
                        }
                    }
                }
                Payload::CodeSectionEntry(body) => {
                    let mine = code;
                    code += 1;
                    for op in body.get_operators_reader().unwrap() {
                        if let Operator::Call { function_index } = op.unwrap() {
                            calls.push((mine, function_index));
                        }
                    }
                }
                _ => {}
            }
        }
        assert_eq!(elements, [4, 5]);
        assert_eq!(global_refs, [5]);
        // `run` (body 0) calls the wrappers; each wrapper (bodies 2, 3) charges, then
        // calls its import.
        assert!(
            calls.contains(&(0, 4)) && calls.contains(&(0, 5)),
            "{calls:?}"
        );
        assert!(
            !calls.iter().any(|&(body, f)| body == 0 && f < 2),
            "{calls:?}"
        );
        assert!(
            calls.contains(&(2, 0)) && calls.contains(&(3, 1)),
            "{calls:?}"
        );
        assert!(
            calls.contains(&(2, 3)),
            "the wrapper's charge traps: {calls:?}"
        );
    }

    #[test]
    fn entry_exports_are_wrapped_and_custom_sections_stay() {
        let out = instrumented(
            r#"(module (func (export "describe") (result i32) i32.const 0)
                       (func $s) (start $s) (@custom "after" "x"))"#,
        );
        let ex = exports(&out.wasm);
        // describe -> its wrapper, after the trap function (2).
        assert!(
            ex.contains(&("describe".to_owned(), ExternalKind::Func, 3)),
            "{ex:?}"
        );
        let customs: Vec<String> = Parser::new(0)
            .parse_all(&out.wasm)
            .filter_map(|p| match p.unwrap() {
                Payload::CustomSection(c) => Some(c.name().to_owned()),
                _ => None,
            })
            .collect();
        // `wat` adds a name section for `$s`; both stay, in order.
        assert_eq!(customs, ["after", "name"]);
    }
}
