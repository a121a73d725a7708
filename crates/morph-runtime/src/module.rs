//! Checks that a module is a Morph extension this host can run, before any engine sees it.

use crate::error::{Error, ErrorKind, Limit, Result};
use crate::host::{IMPORTS, find_import};
use crate::limits::Limits;
use morph_abi::CONTRACT_SECTION;

mod frame;
pub(crate) mod rewrite;

pub use frame::{frame_compiled, frame_seal, unframe_compiled};
use wasmparser::{
    Encoding, ExternalKind, FuncType, Parser, Payload, TypeRef, ValType, Validator, WasmFeatures,
};

/// Contract versions this host runs, oldest first: every version of the contract
/// ([`morph_abi::CONTRACT_VERSIONS`]), the newest being [`morph_abi::CONTRACT_VERSION`].
pub const SUPPORTED_CONTRACTS: &[&str] = morph_abi::CONTRACT_VERSIONS;

/// The position of `version` in [`SUPPORTED_CONTRACTS`] (later versions are larger).
fn contract_rank(version: &str) -> Option<usize> {
    SUPPORTED_CONTRACTS.iter().position(|v| *v == version)
}

/// The wasm features Morph's rewrites handle: WebAssembly 2.0
/// ([`WasmFeatures::WASM2`]), which is what Rust 1.95 enables by default for
/// wasm32-unknown-unknown (bulk memory, sign extension, non-trapping float-to-int,
/// mutable globals, reference types, multi-value) plus SIMD. Threads, memory64,
/// exceptions, GC, tail calls and the like are refused, so that a module never runs on
/// one backend and not another.
///
/// A module may use these less `externref` ([`extension_features`]): wasmparser gates
/// `externref` behind its `GC_TYPES` flag as well as `REFERENCE_TYPES`, and `WASM2`
/// includes both, so the rewrites (and the spec testsuite that checks them) handle it.
pub fn wasm_features() -> WasmFeatures {
    WasmFeatures::WASM2
}

/// The wasm features an extension may use, what [`validate`] checks: [`wasm_features`]
/// without `GC_TYPES`, so without `externref` (`funcref` stays). wasmtime built
/// without its `gc` Cargo feature, as Morph builds it, refuses every `externref` with
/// an engine error while wasmer and wasmi run it; the differential fuzzer found the
/// split (`docs/fuzzing.md`). Rust extensions never use `externref`.
pub fn extension_features() -> WasmFeatures {
    wasm_features().difference(WasmFeatures::GC_TYPES)
}

/// What compiling a module may cost, checked by [`validate`] so that every backend refuses
/// the same modules before any engine compiles them. Compile time grows with the number
/// of functions, the locals each declares (every engine zero-initialises and tracks
/// them) and the size of each body (register allocation is superlinear in it); 20 000
/// functions of 50 000 locals each, a 160 KB module, took 110 s on wasmtime. The caps
/// are far above what Rust extensions need: a release build of a serde_json-based
/// extension has a few thousand functions, rarely more than a few hundred locals in
/// one, and bodies under 100 KiB; debug builds stay within a few times that.
///
/// The total size of the code is bounded by [`Limits::max_module_bytes`].
pub const MAX_FUNCTIONS: u32 = 50_000;
/// Most locals one function may have, parameters included (see [`MAX_FUNCTIONS`]).
pub const MAX_FUNCTION_LOCALS: u64 = 50_000;
/// Most locals all functions together may have, parameters included (see
/// [`MAX_FUNCTIONS`]). Compile time grew by about 0.1 µs per local in the report, so two
/// million cost a fraction of a second.
pub const MAX_TOTAL_LOCALS: u64 = 2_000_000;
/// Largest function body, in bytes (see [`MAX_FUNCTIONS`]).
pub const MAX_FUNCTION_BODY_BYTES: u64 = 1 << 20;
/// Deepest nesting of `block`, `loop` and `if` in a function (see [`MAX_FUNCTIONS`]).
/// Rust's largest `match`es nest a block per arm, hundreds deep; the cap keeps any
/// engine's recursion over the structure shallow.
pub const MAX_NESTING_DEPTH: u32 = 10_000;
/// Most globals a module may define (see [`MAX_FUNCTIONS`]); Rust modules define a
/// handful.
pub const MAX_GLOBALS: u32 = 10_000;

/// Most tables a module may define. Rust modules define one (the indirect-call table);
/// each table costs every engine a fixed allocation besides its elements, and a module of
/// 1 000 tables failed on one engine with an `engine` error rather than being refused.
pub const MAX_TABLES: u32 = 100;
/// Most elements a table may have, declared or grown to: the backends' limiters refuse
/// growth beyond it, so a larger declared minimum is refused at validation.
pub const MAX_TABLE_ELEMENTS: u64 = 100_000;
/// What one table element costs against [`Limits::max_memory_bytes`]: a pointer, which is
/// what a `funcref` slot is on wasmtime, wasmer and wasmi (an `externref` slot is no
/// larger).
pub const TABLE_ELEMENT_BYTES: u64 = 8;

/// What `elements` table elements cost against [`Limits::max_memory_bytes`], in bytes
/// ([`TABLE_ELEMENT_BYTES`] each, saturating). Tables count against the memory limit
/// with the linear memory: [`validate`] charges the declared minimums, and a backend's
/// limiter charges growth with this function.
pub fn table_bytes(elements: u64) -> u64 {
    elements.saturating_mul(TABLE_ELEMENT_BYTES)
}

/// Refuses a module over one of the compile caps, naming the cap.
fn over_cap(what: String, cap: &str, max: u64) -> Error {
    Error::invalid_module(format!(
        "{what}, over Morph's compile limit `{cap}` of {max}; compilation must stay bounded"
    ))
}

/// The compile-cost tally of [`validate`].
#[derive(Default)]
struct CodeCost {
    bodies: u32,
    total_locals: u64,
}

impl CodeCost {
    /// Checks one function body (`params`: its parameter count).
    fn body(&mut self, body: &wasmparser::FunctionBody<'_>, params: u64) -> Result<()> {
        let malformed = |e: wasmparser::BinaryReaderError| Error::invalid_module(e.to_string());
        let index = self.bodies;
        self.bodies = self.bodies.saturating_add(1);
        let range = body.range();
        let size = range.end.saturating_sub(range.start);
        if size > MAX_FUNCTION_BODY_BYTES {
            return Err(over_cap(
                format!("function {index} (counting defined functions from 0) is {size} bytes"),
                "MAX_FUNCTION_BODY_BYTES",
                MAX_FUNCTION_BODY_BYTES,
            ));
        }
        let mut locals = params;
        for l in body.get_locals_reader().map_err(malformed)? {
            let (n, _) = l.map_err(malformed)?;
            locals = locals.saturating_add(u64::from(n));
        }
        if locals > MAX_FUNCTION_LOCALS {
            return Err(over_cap(
                format!("function {index} (counting defined functions from 0) has {locals} locals"),
                "MAX_FUNCTION_LOCALS",
                MAX_FUNCTION_LOCALS,
            ));
        }
        self.total_locals = self.total_locals.saturating_add(locals);
        if self.total_locals > MAX_TOTAL_LOCALS {
            return Err(over_cap(
                format!(
                    "its first {} functions have {} locals together",
                    self.bodies, self.total_locals
                ),
                "MAX_TOTAL_LOCALS",
                MAX_TOTAL_LOCALS,
            ));
        }
        let mut depth = 0u32;
        let mut ops = body.get_operators_reader().map_err(malformed)?;
        while !ops.eof() {
            match ops.read().map_err(malformed)? {
                wasmparser::Operator::Block { .. }
                | wasmparser::Operator::Loop { .. }
                | wasmparser::Operator::If { .. } => {
                    depth = depth.saturating_add(1);
                    if depth > MAX_NESTING_DEPTH {
                        return Err(over_cap(
                            format!(
                                "function {index} (counting defined functions from 0) nests blocks {depth} deep"
                            ),
                            "MAX_NESTING_DEPTH",
                            u64::from(MAX_NESTING_DEPTH),
                        ));
                    }
                }
                wasmparser::Operator::End => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        Ok(())
    }
}

/// What validation learned about a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleInfo {
    /// The contract version the module was built for.
    pub contract: String,
    /// The module's size in bytes.
    pub size: u64,
    /// Declared minimum of its memory, in bytes.
    pub memory_min_bytes: u64,
    /// What the declared minimums of its tables cost against the memory limit, in bytes
    /// ([`table_bytes`]). With `memory_min_bytes`, at most [`Limits::max_memory_bytes`].
    pub table_min_bytes: u64,
    /// Whether it exports `cabi_post_describe`.
    pub has_post_describe: bool,
    /// Whether it exports `cabi_post_execute`.
    pub has_post_execute: bool,
    /// Whether it has a start function.
    pub has_start: bool,
    /// In deterministic metering, the instruction budget per call compiled into the
    /// module (see [`crate::meter`]); `None` with native fuel.
    pub metered: Option<u64>,
    /// In deterministic metering, the index of the function that traps when the budget
    /// runs out (0 otherwise).
    pub meter_trap_func: u32,
}

/// The function exports an extension may have: the contract's, and wit-bindgen's
/// versioned alias of `cabi_realloc` (`cabi_realloc_wit_bindgen_*`).
const ALLOWED_FUNC_EXPORTS: &[&str] = &[
    "describe",
    "execute",
    "cabi_realloc",
    "cabi_post_describe",
    "cabi_post_execute",
];

/// The exports the contract requires, with their core signatures.
const REQUIRED_EXPORTS: &[(&str, &[ValType], &[ValType])] = &[
    ("describe", &[], &[ValType::I32]),
    ("execute", &[ValType::I32; 4], &[ValType::I32]),
    ("cabi_realloc", &[ValType::I32; 4], &[ValType::I32]),
];

fn sig(params: &[ValType], results: &[ValType]) -> String {
    let list = |v: &[ValType]| {
        v.iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match results {
        [] => format!("func({})", list(params)),
        _ => format!("func({}) -> {}", list(params), list(results)),
    }
}

/// Validates `bytes` as a Morph extension under `limits`: a valid core module using only
/// the supported features, carrying a supported contract version, importing only the
/// contract's host functions with their exact types, exporting `memory`, `describe`,
/// `execute` and `cabi_realloc` with theirs, and declaring no more memory than allowed.
///
/// Every backend runs this first, so a module is refused with the same error everywhere.
///
/// # Errors
/// `LimitExceeded(module-size)`; `InvalidModule` when the module does not validate under
/// [`wasm_features`], is a component, or exceeds a compile cap ([`MAX_FUNCTIONS`],
/// [`MAX_GLOBALS`], [`MAX_FUNCTION_BODY_BYTES`], [`MAX_FUNCTION_LOCALS`],
/// [`MAX_TOTAL_LOCALS`], [`MAX_NESTING_DEPTH`], [`MAX_TABLES`], [`MAX_TABLE_ELEMENTS`]);
/// `UnsupportedContract`, `DisallowedImport`, `MissingExport`, or `LimitExceeded(memory)`
/// when the declared minimums of memory and tables ([`table_bytes`]) exceed
/// [`Limits::max_memory_bytes`]; checked in that order.
pub fn validate(bytes: &[u8], limits: &Limits) -> Result<ModuleInfo> {
    let size = bytes.len() as u64;
    if size > limits.max_module_bytes {
        return Err(Error::limit(
            Limit::ModuleSize,
            size,
            limits.max_module_bytes,
        ));
    }
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(Error::invalid_module(
            "not a WebAssembly module (it does not start with the `\\0asm` magic bytes)",
        ));
    }
    Validator::new_with_features(extension_features())
        .validate_all(bytes)
        .map_err(|e| {
            // wasmparser's words for `externref` (see `extension_features`).
            let hint = if e.message().contains("requires gc") {
                "; Morph refuses `externref` and GC types"
            } else {
                ""
            };
            Error::invalid_module(format!("the module does not validate: {e}{hint}"))
        })?;

    let mut contract = None;
    let mut types: Vec<FuncType> = Vec::new();
    let mut func_types: Vec<u32> = Vec::new();
    let mut imports = Vec::new();
    let mut exports = Vec::new();
    let mut memory_min_pages = None;
    let mut has_start = false;
    let mut imported_funcs = 0u32;
    let mut table_min_bytes = 0u64;
    let mut code_cost = CodeCost::default();

    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| Error::invalid_module(e.to_string()))?;
        match payload {
            Payload::Version { encoding, .. } if encoding != Encoding::Module => {
                return Err(Error::invalid_module(
                    "this is a component; Morph runs the core module that wit-bindgen builds",
                ));
            }
            Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types() {
                    types.push(ty.map_err(|e| Error::invalid_module(e.to_string()))?);
                }
            }
            Payload::ImportSection(reader) => {
                for imp in reader.into_imports() {
                    let imp = imp.map_err(|e| Error::invalid_module(e.to_string()))?;
                    if let TypeRef::Func(t) = imp.ty {
                        func_types.push(t);
                        imported_funcs = imported_funcs.saturating_add(1);
                    }
                    imports.push((imp.module.to_owned(), imp.name.to_owned(), imp.ty));
                }
            }
            Payload::FunctionSection(reader) => {
                if reader.count() > MAX_FUNCTIONS {
                    return Err(over_cap(
                        format!("it defines {} functions", reader.count()),
                        "MAX_FUNCTIONS",
                        u64::from(MAX_FUNCTIONS),
                    ));
                }
                for f in reader {
                    func_types.push(f.map_err(|e| Error::invalid_module(e.to_string()))?);
                }
            }
            Payload::TableSection(reader) => {
                if reader.count() > MAX_TABLES {
                    return Err(over_cap(
                        format!("it defines {} tables", reader.count()),
                        "MAX_TABLES",
                        u64::from(MAX_TABLES),
                    ));
                }
                for (i, t) in reader.into_iter().enumerate() {
                    let t = t.map_err(|e| Error::invalid_module(e.to_string()))?;
                    let elements = t.ty.initial;
                    if elements > MAX_TABLE_ELEMENTS {
                        return Err(over_cap(
                            format!("its table {i} declares {elements} elements"),
                            "MAX_TABLE_ELEMENTS",
                            MAX_TABLE_ELEMENTS,
                        ));
                    }
                    table_min_bytes = table_min_bytes.saturating_add(table_bytes(elements));
                }
            }
            Payload::MemorySection(reader) => {
                for m in reader {
                    let m = m.map_err(|e| Error::invalid_module(e.to_string()))?;
                    memory_min_pages = Some(m.initial);
                }
            }
            Payload::ExportSection(reader) => {
                for e in reader {
                    let e = e.map_err(|e| Error::invalid_module(e.to_string()))?;
                    exports.push((e.name.to_owned(), e.kind, e.index));
                }
            }
            Payload::GlobalSection(reader) if reader.count() > MAX_GLOBALS => {
                return Err(over_cap(
                    format!("it defines {} globals", reader.count()),
                    "MAX_GLOBALS",
                    u64::from(MAX_GLOBALS),
                ));
            }
            Payload::CodeSectionEntry(body) => {
                // Validation matched bodies to types, so the lookup cannot fail.
                let params = usize::try_from(imported_funcs.saturating_add(code_cost.bodies))
                    .ok()
                    .and_then(|i| func_types.get(i))
                    .and_then(|t| types.get(usize::try_from(*t).ok()?))
                    .map_or(0, |ft| ft.params().len());
                code_cost.body(&body, u64::try_from(params).unwrap_or(u64::MAX))?;
            }
            Payload::StartSection { .. } => has_start = true,
            Payload::CustomSection(c) if c.name() == CONTRACT_SECTION => {
                let v = std::str::from_utf8(c.data()).map_err(|_| {
                    Error::invalid_module(format!("the `{CONTRACT_SECTION}` section is not UTF-8"))
                })?;
                contract = Some(v.trim().to_owned());
            }
            _ => {}
        }
    }

    let contract = contract.ok_or_else(|| {
        Error::invalid_module(format!(
            "it is not a Morph extension: it has no `{CONTRACT_SECTION}` custom section naming its contract version"
        ))
    })?;
    if !SUPPORTED_CONTRACTS.contains(&contract.as_str()) {
        return Err(Error::new(ErrorKind::UnsupportedContract {
            found: contract,
            supported: SUPPORTED_CONTRACTS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        }));
    }

    let func_sig = |idx: u32| {
        func_types
            .get(idx as usize)
            .and_then(|t| types.get(*t as usize))
    };

    for (module, name, ty) in &imports {
        let refuse = |reason: String| {
            Error::new(ErrorKind::DisallowedImport {
                module: module.clone(),
                name: name.clone(),
                reason,
            })
        };
        let TypeRef::Func(t) = ty else {
            return Err(refuse(
                "only functions may be imported; the module must define its own memory, tables and globals".into(),
            ));
        };
        let Some(spec) = find_import(module, name) else {
            return Err(refuse(format!(
                "the contract's imports are: {}",
                IMPORTS
                    .iter()
                    .map(|i| format!("{}::{}", i.module, i.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        if contract_rank(spec.since) > contract_rank(&contract) {
            return Err(refuse(format!(
                "it belongs to contract {} and the module declares contract {contract}; rebuild it against morph-abi for contract {}",
                spec.since, spec.since
            )));
        }
        let want = vec![ValType::I32; spec.params];
        let ok = types
            .get(*t as usize)
            .is_some_and(|ft| ft.params() == want.as_slice() && ft.results().is_empty());
        if !ok {
            return Err(refuse(format!("its type must be {}", sig(&want, &[]))));
        }
    }

    if let Some((name, _, _)) = exports
        .iter()
        .find(|(n, _, _)| n == START_EXPORT || n == crate::meter::FUEL_GLOBAL)
    {
        return Err(Error::invalid_module(format!(
            "it exports `{name}`, a name Morph reserves"
        )));
    }
    let has = |name: &str| exports.iter().find(|(n, _, _)| n == name);
    match has("memory") {
        Some((_, ExternalKind::Memory, _)) => {}
        _ => {
            return Err(Error::new(ErrorKind::MissingExport {
                name: "memory".into(),
                expected: "a memory".into(),
            }));
        }
    }
    for (name, params, results) in REQUIRED_EXPORTS {
        let ok = match has(name) {
            Some((_, ExternalKind::Func, idx)) => {
                func_sig(*idx).is_some_and(|ft| ft.params() == *params && ft.results() == *results)
            }
            _ => false,
        };
        if !ok {
            return Err(Error::new(ErrorKind::MissingExport {
                name: (*name).into(),
                expected: sig(params, results),
            }));
        }
    }
    // Every function export is one the contract knows: anything else (`_initialize`,
    // `_start`, other `cabi_*` hooks) would run, or not, depending on the backend.
    if let Some((name, _, _)) = exports.iter().find(|(n, kind, _)| {
        *kind == ExternalKind::Func
            && !ALLOWED_FUNC_EXPORTS.contains(&n.as_str())
            && !n.starts_with("cabi_realloc_wit_bindgen_")
    }) {
        return Err(Error::invalid_module(format!(
            "it exports the function `{}`, which is not part of the contract (allowed: {}); remove the export",
            name.escape_debug(),
            ALLOWED_FUNC_EXPORTS.join(", ")
        )));
    }
    if let Some((name, _, _)) = exports
        .iter()
        .find(|(n, kind, _)| *kind == ExternalKind::Memory && n != "memory")
    {
        return Err(Error::invalid_module(format!(
            "it exports a second memory, `{}`; extensions export one memory, `memory`",
            name.escape_debug()
        )));
    }
    let post = |name: &str| -> Result<bool> {
        match has(name) {
            None => Ok(false),
            Some((_, ExternalKind::Func, idx))
                if func_sig(*idx)
                    .is_some_and(|ft| ft.params() == [ValType::I32] && ft.results().is_empty()) =>
            {
                Ok(true)
            }
            Some(_) => Err(Error::new(ErrorKind::MissingExport {
                name: name.into(),
                expected: sig(&[ValType::I32], &[]),
            })),
        }
    };
    let has_post_describe = post("cabi_post_describe")?;
    let has_post_execute = post("cabi_post_execute")?;

    let memory_min_bytes = memory_min_pages.unwrap_or(0).saturating_mul(65536);
    let declared = memory_min_bytes.saturating_add(table_min_bytes);
    if declared > limits.max_memory_bytes {
        return Err(Error::limit(
            Limit::Memory,
            declared,
            limits.max_memory_bytes,
        ));
    }

    Ok(ModuleInfo {
        contract,
        size,
        memory_min_bytes,
        table_min_bytes,
        has_post_describe,
        has_post_execute,
        has_start,
        metered: None,
        meter_trap_func: 0,
    })
}

/// Validates `wasm` under `limits` and rewrites it for running: what every backend's
/// `compile` starts with. Returns the bytes to compile and what validation learned.
///
/// The rewrites, in order:
/// 1. Always, bulk memory and table operations are split into chunks
///    ([`meter::chunk_bulk`](crate::meter::chunk_bulk)), so that every engine's fuel
///    charges them by size, and so that epoch and interrupt checks, which engines make at
///    loop back-edges, reach into a long `memory.fill`.
/// 2. In deterministic metering, the module is instrumented to count its instructions
///    ([`meter::instrument`](crate::meter::instrument)).
///
/// # Errors
/// The errors of [`validate`], or `Engine` when a rewrite fails.
pub fn prepare<'a>(
    wasm: &'a [u8],
    limits: &Limits,
) -> Result<(std::borrow::Cow<'a, [u8]>, ModuleInfo)> {
    let mut info = validate(wasm, limits)?;
    let chunked = crate::meter::chunk_bulk(wasm)?;
    match (limits.metering, limits.fuel) {
        (crate::Metering::Deterministic, Some(budget)) => {
            let out = crate::meter::instrument(&chunked, budget)?;
            info.metered = Some(budget);
            info.meter_trap_func = out.trap_func;
            Ok((std::borrow::Cow::Owned(out.wasm), info))
        }
        _ => Ok((chunked, info)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPORTS: &str = r#"
        (memory (export "memory") 1)
        (func (export "describe") (result i32) i32.const 0)
        (func (export "execute") (param i32 i32 i32 i32) (result i32) i32.const 0)
        (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) i32.const 0)
        (@custom "morph:contract" "0.1.0")
    "#;

    fn module(body: &str) -> Vec<u8> {
        wat::parse_str(format!("(module {body})")).unwrap()
    }

    fn err(bytes: &[u8]) -> Error {
        validate(bytes, &Limits::default()).unwrap_err()
    }

    #[test]
    fn accepts_a_minimal_extension() {
        let info = validate(&module(EXPORTS), &Limits::default()).unwrap();
        assert_eq!(info.contract, "0.1.0");
        assert!(!info.has_post_execute);
    }

    #[test]
    fn accepts_the_rest_of_webassembly_2() {
        let m = module(&format!(
            r#"{EXPORTS}
            (table 1 funcref)
            (func (param funcref) (result funcref) local.get 0)
            (func (param v128) (result v128) local.get 0)
            (func (result i32 i32) i32.const 1 i32.const 2)"#
        ));
        validate(&m, &Limits::default()).unwrap();
    }

    #[test]
    fn refuses_externref_which_wasmtime_without_gc_refuses() {
        for ty in [
            "(table 1 externref)",
            "(func (param externref))",
            "(global (mut externref) (ref.null extern))",
        ] {
            let e = err(&module(&format!("{EXPORTS} {ty}")));
            assert_eq!(e.class(), "invalid-module", "{ty}");
            assert!(e.to_string().contains("requires gc"), "{ty}: {e}");
        }
    }

    #[test]
    fn refuses_features_beyond_webassembly_2() {
        // Tail calls (3.0).
        let m = module(&format!(r#"{EXPORTS} (func $f (return_call $f))"#));
        let e = err(&m);
        assert_eq!(e.class(), "invalid-module");
        assert!(e.to_string().contains("tail calls"), "{e}");
    }

    #[test]
    fn refuses_text_random_and_truncated_bytes() {
        assert_eq!(err(b"hello, world\n").class(), "invalid-module");
        assert_eq!(
            err(&[0x8f, 0x11, 0x00, 0xfe, 0x33, 0x42, 0x99, 0x01]).class(),
            "invalid-module"
        );
        let m = module(EXPORTS);
        let e = err(&m[..m.len() / 2]);
        assert_eq!(e.class(), "invalid-module");
        assert!(e.to_string().contains("does not validate"), "{e}");
    }

    #[test]
    fn refuses_an_empty_module_for_want_of_a_contract() {
        let e = err(&module(""));
        assert_eq!(e.class(), "invalid-module");
        assert!(e.to_string().contains("morph:contract"), "{e}");
    }

    #[test]
    fn refuses_an_unsupported_contract_naming_both_versions() {
        let m = module(&EXPORTS.replace("\"0.1.0\"", "\"9.0.0\""));
        let e = err(&m);
        assert_eq!(e.class(), "unsupported-contract");
        let msg = e.to_string();
        assert!(msg.contains("9.0.0") && msg.contains("0.1.0"), "{msg}");
    }

    #[test]
    fn refuses_imports_outside_the_contract() {
        let m = module(&format!(
            r#"(import "env" "system" (func (param i32))) {EXPORTS}"#
        ));
        let e = err(&m);
        assert_eq!(e.class(), "disallowed-import");
        assert!(e.to_string().contains("env::system"), "{e}");
        let m = module(&format!(
            r#"(import "morph:extension/log@0.1.0" "log" (func (param i32))) {EXPORTS}"#
        ));
        assert_eq!(err(&m).class(), "disallowed-import");
    }

    #[test]
    fn an_import_needs_the_contract_version_that_brought_it() {
        let fs = r#"(import "morph:extension/fs@0.2.0" "read" (func (param i32 i32 i32)))"#;
        let log = r#"(import "morph:extension/log@0.1.0" "log" (func (param i32 i32 i32)))"#;
        let e = err(&module(&format!("{fs} {EXPORTS}")));
        assert_eq!(e.class(), "disallowed-import");
        let msg = e.to_string();
        assert!(
            msg.contains("contract 0.2.0") && msg.contains("0.1.0"),
            "{msg}"
        );
        let v2 = EXPORTS.replace("\"0.1.0\"", "\"0.2.0\"");
        let info = validate(&module(&format!("{fs} {log} {v2}")), &Limits::default()).unwrap();
        assert_eq!(info.contract, "0.2.0");
        assert_eq!(SUPPORTED_CONTRACTS, ["0.1.0", "0.2.0"]);
    }

    #[test]
    fn refuses_missing_exports() {
        let m = module(&EXPORTS.replace("\"execute\"", "\"run\""));
        let e = err(&m);
        assert_eq!(e.class(), "missing-export");
        assert!(e.to_string().contains("`execute`"), "{e}");
    }

    #[test]
    fn refuses_function_exports_outside_the_contract() {
        for name in ["_initialize", "_start", "cabi_post_other"] {
            let m = module(&format!("{EXPORTS} (func (export \"{name}\"))"));
            let e = err(&m);
            assert_eq!(e.class(), "invalid-module", "{name}: {e}");
            assert!(e.to_string().contains(name), "{e}");
        }
        let alias = module(&format!(
            "{EXPORTS} (func (export \"cabi_realloc_wit_bindgen_0_61_1\") (param i32 i32 i32 i32) (result i32) i32.const 0)"
        ));
        validate(&alias, &Limits::default()).unwrap();
    }

    /// An extension (the contract's exports) with `extra` functions of type `() -> ()`
    /// and `globals` more globals, built with wasm-encoder for sizes WAT would make slow.
    fn extension_with(extra: &[wasm_encoder::Function], globals: u32) -> Vec<u8> {
        use wasm_encoder::{
            CodeSection, ConstExpr, CustomSection, ExportKind, ExportSection, Function,
            FunctionSection, GlobalSection, GlobalType, Instruction, MemorySection, MemoryType,
            Module, TypeSection, ValType as V,
        };
        let mut types = TypeSection::new();
        types.ty().function([], [V::I32]);
        types.ty().function([V::I32; 4], [V::I32]);
        types.ty().function([], []);
        let mut funcs = FunctionSection::new();
        let mut code = CodeSection::new();
        for ty in [0, 1, 1] {
            funcs.function(ty);
            let mut f = Function::new([]);
            f.instruction(&Instruction::I32Const(0));
            f.instruction(&Instruction::End);
            code.function(&f);
        }
        for f in extra {
            funcs.function(2);
            code.function(f);
        }
        let mut memory = MemorySection::new();
        memory.memory(MemoryType {
            minimum: 1,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        let mut global = GlobalSection::new();
        for _ in 0..globals {
            global.global(
                GlobalType {
                    val_type: V::I32,
                    mutable: false,
                    shared: false,
                },
                &ConstExpr::i32_const(0),
            );
        }
        let mut exports = ExportSection::new();
        exports.export("memory", ExportKind::Memory, 0);
        exports.export("describe", ExportKind::Func, 0);
        exports.export("execute", ExportKind::Func, 1);
        exports.export("cabi_realloc", ExportKind::Func, 2);
        let mut m = Module::new();
        m.section(&types)
            .section(&funcs)
            .section(&memory)
            .section(&global)
            .section(&exports)
            .section(&code)
            .section(&CustomSection {
                name: "morph:contract".into(),
                data: b"0.1.0".as_slice().into(),
            });
        m.finish()
    }

    fn body(
        locals: u32,
        ops: impl IntoIterator<Item = wasm_encoder::Instruction<'static>>,
    ) -> wasm_encoder::Function {
        let mut f = wasm_encoder::Function::new([(locals, wasm_encoder::ValType::I64)]);
        for op in ops {
            f.instruction(&op);
        }
        f.instruction(&wasm_encoder::Instruction::End);
        f
    }

    fn assert_cap(e: &Error, cap: &str, value: &str) {
        assert_eq!(e.class(), "invalid-module", "{e}");
        let msg = e.to_string();
        assert!(msg.contains(cap) && msg.contains(value), "{msg}");
    }

    #[test]
    fn accepts_modules_the_size_of_large_rust_extensions() {
        // 10 000 functions of 150 locals, one body of 200 KiB nested 500 deep.
        let mut extra: Vec<_> = (0..10_000).map(|_| body(150, [])).collect();
        use wasm_encoder::{BlockType, Instruction as I};
        let nested = (0..500)
            .map(|_| I::Block(BlockType::Empty))
            .chain((0..200_000).map(|_| I::Nop))
            .chain((0..500).map(|_| I::End));
        extra.push(body(10, nested));
        validate(&extension_with(&extra, 100), &Limits::default()).unwrap();
    }

    #[test]
    fn refuses_what_would_compile_for_minutes() {
        // The report's module: many functions with 50 000 locals each.
        let extra: Vec<_> = (0..41).map(|_| body(50_000, [])).collect();
        let m = extension_with(&extra, 0);
        assert!(m.len() < 4096, "a small module: {} bytes", m.len());
        assert_cap(
            &err(&m),
            "MAX_TOTAL_LOCALS",
            "first 43 functions have 2000008 locals",
        );

        let extra: Vec<_> = (0..50_001).map(|_| body(0, [])).collect();
        assert_cap(
            &err(&extension_with(&extra, 0)),
            "MAX_FUNCTIONS",
            "defines 50004 functions",
        );

        let big = body(0, (0..(1 << 20)).map(|_| wasm_encoder::Instruction::Nop));
        assert_cap(
            &err(&extension_with(&[big], 0)),
            "MAX_FUNCTION_BODY_BYTES",
            "1048",
        );

        use wasm_encoder::{BlockType, Instruction as I};
        let deep = (0..10_001)
            .map(|_| I::Block(BlockType::Empty))
            .chain((0..10_001).map(|_| I::End));
        assert_cap(
            &err(&extension_with(&[body(0, deep)], 0)),
            "MAX_NESTING_DEPTH",
            "10001 deep",
        );

        assert_cap(
            &err(&extension_with(&[], 10_001)),
            "MAX_GLOBALS",
            "10001 globals",
        );
    }

    #[test]
    fn tables_count_against_the_memory_limit() {
        let limits = Limits {
            max_memory_bytes: 1 << 20,
            ..Limits::default()
        };
        // The report's module: 100 tables of 100 000 elements under a 1 MiB limit.
        let tables = "(table 100000 funcref)".repeat(100);
        let m = module(&format!("{EXPORTS} {tables}"));
        let e = validate(&m, &limits).unwrap_err();
        assert_eq!(e.detail(), "limit-exceeded:memory");
        assert_eq!(
            e.kind(),
            &ErrorKind::LimitExceeded {
                limit: Limit::Memory,
                used: 65536 + 100 * 100_000 * TABLE_ELEMENT_BYTES,
                max: 1 << 20,
            }
        );
        // Within the limit, the cost is reported.
        let m = module(&format!(
            "{EXPORTS} (table 1000 funcref) (table 24 funcref)"
        ));
        let info = validate(&m, &limits).unwrap();
        assert_eq!(info.table_min_bytes, 1024 * 8);
        assert_eq!(table_bytes(u64::MAX), u64::MAX);
    }

    #[test]
    fn table_counts_and_sizes_agree_with_the_engines() {
        let tables = "(table 1 funcref)".repeat(101);
        assert_cap(
            &err(&module(&format!("{EXPORTS} {tables}"))),
            "MAX_TABLES",
            "defines 101 tables",
        );
        let m = module(&format!(
            "{EXPORTS} (table 1 funcref) (table 100001 funcref)"
        ));
        assert_cap(
            &err(&m),
            "MAX_TABLE_ELEMENTS",
            "table 1 declares 100001 elements",
        );
    }

    #[test]
    fn refuses_memory_beyond_the_limit_before_running() {
        let m = module(&EXPORTS.replace("(export \"memory\") 1", "(export \"memory\") 65536"));
        let e = err(&m);
        assert_eq!(e.detail(), "limit-exceeded:memory");
        assert!(e.to_string().contains("4294967296"), "{e}");
    }
}

/// The export under which [`hide_start`] puts a module's start function.
pub const START_EXPORT: &str = "__morph_start";

/// A module whose start function was moved to an export by [`hide_start`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HiddenStart {
    /// The rewritten module.
    pub wasm: Vec<u8>,
    /// The export that is the former start function ([`START_EXPORT`]).
    pub export: String,
}

/// Removes `wasm`'s start section and exports the start function as [`START_EXPORT`],
/// for engines that run a start function inside instantiation where no deadline or
/// host memory access can reach it (wasmer, wasmi): the backend calls the export right
/// after instantiating, under the same limits as every other call. Tables and memories
/// are initialised first and a trap still fails instantiation, as the spec orders.
/// Returns `None` when the module has no start function. Every other section is copied
/// byte for byte; a module without exports gets an export section.
///
/// # Errors
/// `InvalidModule` when the module already exports [`START_EXPORT`] or cannot be parsed.
pub fn hide_start(wasm: &[u8]) -> Result<Option<HiddenStart>> {
    hide_start_as(wasm, START_EXPORT)
}

/// [`hide_start`] under another export name: the component backend names it
/// `_initialize`, which wit-component calls right after instantiating the core module,
/// once its imports are wired (validation refuses modules exporting that name).
///
/// # Errors
/// As [`hide_start`], for `export` in place of [`START_EXPORT`].
pub fn hide_start_as(wasm: &[u8], export: &'static str) -> Result<Option<HiddenStart>> {
    let malformed = |e: String| Error::invalid_module(e);
    let mut start = None;
    for payload in Parser::new(0).parse_all(wasm) {
        if let Payload::StartSection { func, .. } = payload.map_err(|e| malformed(e.to_string()))? {
            start = Some(func);
        }
    }
    let Some(start) = start else {
        return Ok(None);
    };
    let wasm = rewrite::rewrite(wasm, &mut StartToExport { start, export }, &malformed)?;
    Ok(Some(HiddenStart {
        wasm,
        export: export.to_owned(),
    }))
}

/// The rewrite of [`hide_start`]: drops the start section, adds the export (in a new
/// export section when the module has none).
struct StartToExport {
    start: u32,
    export: &'static str,
}

impl<'a> rewrite::Rewrite<'a> for StartToExport {
    fn required(&self) -> &[u8] {
        &[rewrite::id::EXPORT]
    }

    fn section(&mut self, payload: &Payload<'a>, out: &mut wasm_encoder::Module) -> Result<bool> {
        match payload {
            Payload::StartSection { .. } => Ok(true),
            Payload::ExportSection(reader) => {
                let mut exports = wasm_encoder::ExportSection::new();
                for e in reader.clone() {
                    let e = e.map_err(|e| Error::invalid_module(e.to_string()))?;
                    if e.name == self.export {
                        return Err(Error::invalid_module(format!(
                            "it exports `{}`, a name Morph reserves",
                            self.export
                        )));
                    }
                    exports.export(e.name, rewrite::export_kind(e.kind), e.index);
                }
                exports.export(self.export, wasm_encoder::ExportKind::Func, self.start);
                out.section(&exports);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn rewrites_code(&self) -> bool {
        false
    }

    fn code(
        &mut self,
        _bodies: Vec<wasmparser::FunctionBody<'a>>,
        _out: &mut wasm_encoder::Module,
    ) -> Result<()> {
        Ok(())
    }

    fn missing(&mut self, _id: u8, out: &mut wasm_encoder::Module) -> Result<()> {
        let mut exports = wasm_encoder::ExportSection::new();
        exports.export(self.export, wasm_encoder::ExportKind::Func, self.start);
        out.section(&exports);
        Ok(())
    }
}

#[cfg(test)]
mod start_tests {
    use super::*;

    #[test]
    fn the_start_function_becomes_an_export() {
        let wasm = wat::parse_str(
            r#"(module (func $a) (func $s) (start $s) (export "a" (func $a)) (@custom "x" "y"))"#,
        )
        .unwrap();
        let hidden = hide_start(&wasm).unwrap().unwrap();
        assert_eq!(hidden.export, START_EXPORT);
        Validator::new().validate_all(&hidden.wasm).unwrap();
        let mut exports = Vec::new();
        let mut has_start = false;
        let mut custom = false;
        for p in Parser::new(0).parse_all(&hidden.wasm) {
            match p.unwrap() {
                Payload::ExportSection(r) => {
                    for e in r {
                        let e = e.unwrap();
                        exports.push((e.name.to_owned(), e.index));
                    }
                }
                Payload::StartSection { .. } => has_start = true,
                Payload::CustomSection(c) => custom |= c.name() == "x",
                _ => {}
            }
        }
        assert!(!has_start);
        assert!(custom, "custom sections survive");
        assert_eq!(exports, [("a".to_owned(), 0), (START_EXPORT.to_owned(), 1)]);
    }

    #[test]
    fn a_module_without_exports_gets_an_export_section() {
        let wasm =
            wat::parse_str(r#"(module (func $s) (start $s) (@custom "name-like" "z"))"#).unwrap();
        let hidden = hide_start(&wasm).unwrap().unwrap();
        Validator::new().validate_all(&hidden.wasm).unwrap();
        let mut exports = Vec::new();
        for p in Parser::new(0).parse_all(&hidden.wasm) {
            if let Payload::ExportSection(r) = p.unwrap() {
                for e in r {
                    let e = e.unwrap();
                    exports.push((e.name.to_owned(), e.index));
                }
            }
        }
        assert_eq!(exports, [(START_EXPORT.to_owned(), 0)]);
    }

    #[test]
    fn modules_without_start_are_left_alone_and_the_name_is_reserved() {
        let wasm = wat::parse_str(r#"(module (func (export "f")))"#).unwrap();
        assert_eq!(hide_start(&wasm).unwrap(), None);
        let wasm =
            wat::parse_str(r#"(module (func $s (export "__morph_start")) (start $s))"#).unwrap();
        assert_eq!(hide_start(&wasm).unwrap_err().class(), "invalid-module");
    }
}
