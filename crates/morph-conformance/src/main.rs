//! `morph-conformance`: runs every case of every sample and adversarial extension on every
//! backend, compares each outcome with the reference backend (`wasmtime`), checks it
//! against the case's expectation, and checks that the host still runs `hello` correctly
//! afterwards on the same backend, in the same process.
//!
//! Cases live beside the extensions: `extensions/<name>/cases.json` for Rust extensions,
//! `extensions/wat/<name>.cases.json` for WAT ones; modules are read from
//! `target/extensions/<name>.wasm` (`cargo xtask build`). Adding an extension or a backend
//! adds rows or columns, not code. Reports go to `target/conformance/report.{md,json}`;
//! the exit code is non-zero on any divergence or failed expectation.
//!
//! A case may grant permissions (`grants`: `["clock"]`), served by a handler whose every
//! answer first awaits a tokio timer (so async host calls are exercised on every
//! backend), and may cancel the call after a while (`cancel_after_ms`): its outcome is
//! then what the same instance answers next (`cancelled`).
//!
//! Columns are backends driven by an async caller; the backends that take a different
//! path when the caller blocks on the call (wasmtime-core runs the guest inline, without
//! a fiber; wasmer runs it on the caller's thread) get a second column, `<name>+blocking`,
//! driven through the blocking `Extension` with a handler that answers at once. A
//! blocking call cannot be cancelled, so cancelling cases are `n/a` there.
//!
//! Usage: `morph-conformance [--root DIR] [--backends a,b,...]`

use anyhow::{Context, Result, bail};
use morph_host::{
    Backend, Blocking, CallContext, Error, ExecuteOptions, Extension, Grants, Host, HostCall,
    HostError, HostErrorKind, HostHandler, HostReply, Limits, Metering, Prepared, SyncHostHandler,
};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Deserialize)]
struct CaseFile {
    cases: Vec<Case>,
}

#[derive(Deserialize, Clone)]
struct Case {
    name: String,
    action: String,
    #[serde(default = "empty_object")]
    input: Value,
    #[serde(default)]
    limits: serde_json::Map<String, Value>,
    #[serde(default)]
    expect: Option<Expect>,
    #[serde(default)]
    measure: Option<String>,
    /// Permissions granted for the case, in the grant syntax (`clock`, `random`, ...).
    #[serde(default)]
    grants: Vec<String>,
    /// Drop the call's future after this long, then call the same instance again.
    #[serde(default)]
    cancel_after_ms: Option<u64>,
}

fn empty_object() -> Value {
    json!({})
}

#[derive(Deserialize, Clone, Default)]
struct Expect {
    output: Option<Value>,
    output_len: Option<usize>,
    error: Option<String>,
}

/// One case of one extension.
struct Row {
    extension: String,
    wasm: PathBuf,
    case: Case,
}

/// Limits from a case's `limits` object: `fuel` (null: unmetered), `metering`
/// (`native`/`deterministic`), `timeout_ms`, `memory`, `max_output`, `max_input`,
/// `max_host_calls`. Unknown keys are an error, so a typo cannot pass silently.
fn limits(map: &serde_json::Map<String, Value>) -> Result<Limits> {
    let mut l = Limits::default();
    for (k, v) in map {
        let num = || {
            v.as_u64()
                .with_context(|| format!("limit `{k}` must be a number"))
        };
        match k.as_str() {
            "fuel" => l.fuel = if v.is_null() { None } else { Some(num()?) },
            "metering" => {
                l.metering = match v.as_str() {
                    Some("native") => Metering::Native,
                    Some("deterministic") => Metering::Deterministic,
                    _ => bail!("metering must be `native` or `deterministic`"),
                }
            }
            "timeout_ms" => l.timeout = Duration::from_millis(num()?),
            "memory" => l.max_memory_bytes = num()?,
            "max_output" => l.max_output_bytes = u32::try_from(num()?)?,
            "max_input" => l.max_input_bytes = u32::try_from(num()?)?,
            "max_host_calls" => l.max_host_calls = num()?,
            "max_transfer" => l.max_transfer_bytes = num()?,
            other => bail!("unknown limit `{other}`"),
        }
    }
    Ok(l)
}

fn discover(root: &Path) -> Result<Vec<Row>> {
    let ext_dir = root.join("extensions");
    let wasm_dir = root.join("target").join("extensions");
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(&ext_dir)? {
        let path = entry?.path();
        if path.join("cases.json").is_file()
            && let Some(name) = path.file_name().and_then(|n| n.to_str())
        {
            files.push((name.to_owned(), path.join("cases.json")));
        }
    }
    let wat = ext_dir.join("wat");
    if wat.is_dir() {
        for entry in std::fs::read_dir(&wat)? {
            let path = entry?.path();
            if let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".cases.json"))
            {
                files.push((name.to_owned(), path.clone()));
            }
        }
    }
    files.sort();
    let mut rows = Vec::new();
    for (name, file) in files {
        let text = std::fs::read_to_string(&file)?;
        let parsed: CaseFile =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", file.display()))?;
        let wasm = wasm_dir.join(format!("{name}.wasm"));
        if !wasm.is_file() {
            bail!("{} is missing: run `cargo xtask build`", wasm.display());
        }
        for case in parsed.cases {
            limits(&case.limits)
                .with_context(|| format!("{}: case `{}`", file.display(), case.name))?;
            grants(&case.grants)
                .with_context(|| format!("{}: case `{}`", file.display(), case.name))?;
            rows.push(Row {
                extension: name.clone(),
                wasm: wasm.clone(),
                case,
            });
        }
    }
    Ok(rows)
}

/// The permissions a case grants, in the grant syntax (`clock`, `kv-read`, ...).
fn grants(grants: &[String]) -> Result<Grants> {
    Grants::parse(grants).context("a case's grants")
}

/// The conformance host's answers: fixed, so outcomes compare.
struct Answers;

impl SyncHostHandler for Answers {
    fn handle(
        &self,
        _cx: &CallContext,
        call: HostCall,
    ) -> std::result::Result<HostReply, HostError> {
        match call {
            HostCall::ClockNowMs => Ok(HostReply::Now(1_234_567_890_123)),
            HostCall::RandomBytes { len } => Ok(HostReply::Bytes(vec![7; len as usize])),
            HostCall::ConfigGet => Ok(HostReply::Config("{}".to_owned())),
            HostCall::FsRead { path } => Ok(HostReply::File(format!("read {path}").into_bytes())),
            HostCall::FsListDir { path } => Ok(HostReply::Entries(vec![
                format!("{path}.txt"),
                "sub/".to_owned(),
            ])),
            HostCall::FsWrite { .. } => Ok(HostReply::Done),
            HostCall::FsRemove { .. } => Ok(HostReply::Removed(true)),
            // An answer made of every part of the request, so that a lifting that loses
            // or reorders a field shows as a divergence.
            HostCall::AiComplete(r) => Ok(HostReply::Completion(morph_host::Completion {
                content: r
                    .messages
                    .iter()
                    .map(|m| format!("{}: {}", m.role.as_str(), m.content))
                    .collect::<Vec<_>>()
                    .join(" | "),
                model: format!("conformance/{}", r.max_tokens.unwrap_or(0)),
            })),
            // What the adversary sends: anything else is a lifting that lost a field.
            HostCall::NotifySend(n) => match (n.title.as_str(), n.body.as_str(), n.urgency) {
                ("Synced", "3 issues", morph_host::Urgency::High) => Ok(HostReply::Done),
                _ => Err(HostError::new(
                    HostErrorKind::InvalidArgument,
                    format!("the conformance host got {n:?}"),
                )),
            },
            other => Err(HostError::new(
                HostErrorKind::Unavailable,
                format!("the conformance host does not provide {:?}", other.func()),
            )),
        }
    }
}

/// The async columns' handler: every answer waits on a tokio timer first, so that each
/// backend suspends the guest for real.
struct SlowHandler;

impl HostHandler for SlowHandler {
    fn handle<'a>(
        &'a self,
        cx: &'a CallContext,
        call: HostCall,
    ) -> morph_host::BoxFuture<'a, std::result::Result<HostReply, HostError>> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(2)).await;
            Answers.handle(cx, call)
        })
    }
}

/// How a column's calls are driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Driver {
    /// Awaited on the tokio runtime, with a handler that waits on a timer.
    Async,
    /// Through the blocking `Extension` on a thread of its own, with a handler that
    /// answers at once.
    Blocking,
}

/// One column of the report: a backend and how its calls are driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Column {
    backend: Backend,
    driver: Driver,
}

impl Column {
    fn name(&self) -> String {
        match self.driver {
            Driver::Async => self.backend.name().to_owned(),
            Driver::Blocking => format!("{}+blocking", self.backend.name()),
        }
    }
}

/// The backends whose guest calls take another path when the caller blocks on them.
const BLOCKING_PATHS: [Backend; 2] = [Backend::WasmtimeCore, Backend::WasmerCranelift];

/// Prepared extensions, keyed by module, column, limits and grants.
struct Cache {
    wasm: HashMap<PathBuf, Vec<u8>>,
    prepared: HashMap<(PathBuf, Column, String), Result<Prepared, Error>>,
}

impl Cache {
    async fn prepare(
        &mut self,
        path: &Path,
        column: Column,
        limits: &Limits,
        grants: &[String],
    ) -> Result<Result<Prepared, Error>> {
        if !self.wasm.contains_key(path) {
            self.wasm.insert(path.to_owned(), std::fs::read(path)?);
        }
        // Preparing runs the start function and `describe` under the host's limits, so
        // every limit is part of the key.
        let key = format!("{limits:?}/{grants:?}");
        let key = (path.to_owned(), column, key);
        if let Some(p) = self.prepared.get(&key) {
            return Ok(p.clone());
        }
        let handler: Arc<dyn HostHandler> = match column.driver {
            Driver::Async => Arc::new(SlowHandler),
            Driver::Blocking => Arc::new(Blocking(Answers)),
        };
        let host = Host::builder()
            .backend(column.backend)
            .limits(limits.clone())
            .handler(handler)
            .policy(Arc::new(self::grants(grants)?))
            .build()?;
        let label = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let prepared = host.prepare(&label, &self.wasm[path]).await;
        self.prepared.insert(key, prepared.clone());
        Ok(prepared)
    }

    /// Runs one call of `case` on a fresh instance with the case's limits.
    async fn run(
        &mut self,
        path: &Path,
        column: Column,
        limits: &Limits,
        case: &Case,
    ) -> Result<Result<String, Error>> {
        let prepared = match self.prepare(path, column, limits, &case.grants).await? {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        if column.driver == Driver::Blocking {
            // The host's limits are the case's: the blocking facade runs under them.
            let (action, input) = (case.action.clone(), case.input.to_string());
            let call = move || Extension::from_prepared(&prepared)?.run(&action, &input);
            return match std::thread::spawn(call).join() {
                Ok(r) => Ok(r),
                Err(_) => bail!("the blocking call's thread panicked"),
            };
        }
        let options = ExecuteOptions::default().with_limits(limits.clone());
        let mut session = match prepared.instantiate_with(&options).await {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        let input = case.input.to_string();
        let Some(after) = case.cancel_after_ms else {
            return Ok(session.execute(&case.action, &input).await);
        };
        let first = tokio::time::timeout(
            Duration::from_millis(after),
            session.execute(&case.action, &input),
        )
        .await;
        Ok(match first {
            // Finished before the cancel: report that.
            Ok(r) => r,
            Err(_) => session.execute(&case.action, &input).await,
        })
    }
}

fn outcome(r: Result<String, Error>) -> String {
    match r {
        Ok(out) => format!("ok {out}"),
        Err(e) => format!("error {}", e.detail()),
    }
}

async fn run_case(
    cache: &mut Cache,
    row: &Row,
    column: Column,
) -> Result<(String, Result<String, Error>)> {
    let limits = limits(&row.case.limits)?;
    if row.case.measure.as_deref() == Some("deterministic-threshold") {
        let t = threshold(cache, row, column, &limits).await?;
        return Ok((format!("threshold {t}"), Ok(String::new())));
    }
    let result = cache.run(&row.wasm, column, &limits, &row.case).await?;
    Ok((outcome(result.clone()), result))
}

/// The smallest deterministic budget with which the case completes.
async fn threshold(cache: &mut Cache, row: &Row, column: Column, base: &Limits) -> Result<u64> {
    async fn ok(
        cache: &mut Cache,
        row: &Row,
        column: Column,
        base: &Limits,
        budget: u64,
    ) -> Result<bool> {
        let limits = Limits {
            fuel: Some(budget),
            metering: Metering::Deterministic,
            ..base.clone()
        };
        match cache.run(&row.wasm, column, &limits, &row.case).await? {
            Ok(_) => Ok(true),
            Err(e) if e.detail() == "limit-exceeded:cpu" => Ok(false),
            Err(e) => bail!("threshold search on {}: {e}", column.name()),
        }
    }
    let mut hi = 1024u64;
    while !ok(cache, row, column, base, hi).await? {
        hi = hi.checked_mul(2).context("no budget completes the case")?;
        if hi > 1 << 40 {
            bail!("no budget up to 2^40 completes the case");
        }
    }
    let mut lo = hi / 2 + 1;
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if ok(cache, row, column, base, mid).await? {
            hi = mid
        } else {
            lo = mid + 1
        }
    }
    Ok(lo)
}

fn meets(expect: &Option<Expect>, result: &Result<String, Error>) -> Result<(), String> {
    let Some(expect) = expect else { return Ok(()) };
    match result {
        Ok(out) => {
            if let Some(want) = &expect.error {
                return Err(format!("expected error {want}, got output"));
            }
            if let Some(want) = &expect.output {
                let got: Value =
                    serde_json::from_str(out).map_err(|e| format!("output not JSON: {e}"))?;
                if &got != want {
                    return Err(format!("expected output {want}, got {got}"));
                }
            }
            if let Some(len) = expect.output_len
                && out.len() != len
            {
                return Err(format!("expected {len} bytes of output, got {}", out.len()));
            }
            Ok(())
        }
        Err(e) => match &expect.error {
            Some(want) if *want == e.detail() || want == e.class() => Ok(()),
            Some(want) => Err(format!("expected error {want}, got {}", e.detail())),
            None => Err(format!("expected success, got {}", e.detail())),
        },
    }
}

/// After each case: the same process must still run hello correctly on the backend.
async fn host_survives(cache: &mut Cache, hello: &Path, column: Column) -> Result<(), String> {
    let case = Case {
        name: "survives".into(),
        action: "greet".into(),
        input: json!({"name": "Ada"}),
        limits: serde_json::Map::new(),
        expect: None,
        measure: None,
        grants: Vec::new(),
        cancel_after_ms: None,
    };
    let r = cache
        .run(hello, column, &Limits::default(), &case)
        .await
        .map_err(|e| e.to_string())?;
    match r {
        Ok(out) if out == r#"{"greeting":"Hello, Ada!","count":1}"# => Ok(()),
        Ok(out) => Err(format!("hello answered {out}")),
        Err(e) => Err(format!("hello failed: {e}")),
    }
}

fn main() {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("morph-conformance: error: cannot start tokio: {e}");
            std::process::exit(2);
        }
    };
    match rt.block_on(run()) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("morph-conformance: error: {e:#}");
            std::process::exit(2);
        }
    }
}

async fn run() -> Result<bool> {
    let mut root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut backends: Vec<Backend> = Backend::available_backends();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--root" => root = PathBuf::from(args.next().context("--root needs a directory")?),
            "--backends" => {
                backends = args
                    .next()
                    .context("--backends needs a list")?
                    .split(',')
                    .map(|b| b.parse::<Backend>().map_err(anyhow::Error::from))
                    .collect::<Result<_>>()?;
            }
            other => bail!("unknown argument `{other}`"),
        }
    }
    let reference = *backends.first().context("no backend available")?;
    let async_columns = backends.iter().map(|&backend| Column {
        backend,
        driver: Driver::Async,
    });
    let blocking_columns = backends
        .iter()
        .filter(|b| BLOCKING_PATHS.contains(b))
        .map(|&backend| Column {
            backend,
            driver: Driver::Blocking,
        });
    let columns: Vec<Column> = async_columns.chain(blocking_columns).collect();
    let rows = discover(&root)?;
    let hello = root.join("target/extensions/hello.wasm");
    let mut cache = Cache {
        wasm: HashMap::new(),
        prepared: HashMap::new(),
    };

    let started = Instant::now();
    let mut json_cases = Vec::new();
    let mut md = String::new();
    md.push_str(&format!(
        "| extension | case | {} |\n",
        columns
            .iter()
            .map(Column::name)
            .collect::<Vec<_>>()
            .join(" | ")
    ));
    md.push_str(&format!("|---|---|{}\n", "---|".repeat(columns.len())));
    let mut failures = 0usize;
    let mut skipped = 0usize;
    let width = columns
        .iter()
        .map(|c| c.name().len())
        .max()
        .unwrap_or(8)
        .max(12);
    println!(
        "{:46} {}",
        "extension / case",
        columns
            .iter()
            .map(|c| format!("{:width$}", c.name()))
            .collect::<Vec<_>>()
            .join(" ")
    );
    for row in &rows {
        let mut results = serde_json::Map::new();
        let mut cells = Vec::new();
        let mut reference_outcome = None;
        for &column in &columns {
            if column.driver == Driver::Blocking && row.case.cancel_after_ms.is_some() {
                skipped += 1;
                cells.push("n/a".to_owned());
                continue;
            }
            let (text, result) = run_case(&mut cache, row, column).await?;
            let mut cell = "ok".to_owned();
            let expectation = meets(&row.case.expect, &result);
            if let Err(why) = &expectation {
                cell = format!("UNEXPECTED: {why}");
            }
            match &reference_outcome {
                None => reference_outcome = Some(text.clone()),
                Some(r) if *r != text => cell = format!("DIVERGES: {}", short(&text)),
                Some(_) => {}
            }
            let survived = host_survives(&mut cache, &hello, column).await;
            if let Err(why) = &survived {
                cell = format!("HOST BROKEN: {why}");
            }
            if cell != "ok" {
                failures += 1;
            }
            results.insert(
                column.name(),
                json!({
                    "outcome": text,
                    "matches_reference": cell == "ok" || !cell.starts_with("DIVERGES"),
                    "meets_expectation": expectation.is_ok(),
                    "host_survived": survived.is_ok(),
                    "status": cell,
                }),
            );
            cells.push(cell);
        }
        let label = format!("{} / {}", row.extension, row.case.name);
        println!(
            "{:46} {}",
            short_to(&label, 46),
            cells
                .iter()
                .map(|c| format!("{:width$}", short_to(c, width)))
                .collect::<Vec<_>>()
                .join(" ")
        );
        md.push_str(&format!(
            "| {} | {} | {} |\n",
            row.extension,
            row.case.name,
            cells.join(" | ")
        ));
        json_cases.push(json!({
            "extension": row.extension,
            "case": row.case.name,
            "action": row.case.action,
            "input": row.case.input,
            "limits": row.case.limits,
            "reference": reference.name(),
            "reference_outcome": reference_outcome,
            "results": results,
        }));
    }
    let out_dir = root.join("target").join("conformance");
    std::fs::create_dir_all(&out_dir)?;
    let report = json!({
        "reference": reference.name(),
        "backends": backends.iter().map(|b| b.name()).collect::<Vec<_>>(),
        "columns": columns.iter().map(Column::name).collect::<Vec<_>>(),
        "cases": json_cases,
        "summary": {
            "cases": rows.len(),
            "backends": backends.len(),
            "columns": columns.len(),
            "not_applicable": skipped,
            "failures": failures,
        },
    });
    std::fs::write(
        out_dir.join("report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    std::fs::write(out_dir.join("report.md"), md)?;
    println!(
        "\n{} cases x {} columns ({} backends) in {:.1}s: {} failure(s), {} not applicable; \
         reports in {}",
        rows.len(),
        columns.len(),
        backends.len(),
        started.elapsed().as_secs_f64(),
        failures,
        skipped,
        out_dir.display()
    );
    println!(
        "{} passed, {} failed",
        (rows.len() * columns.len()).saturating_sub(failures + skipped),
        failures
    );
    Ok(failures == 0)
}

fn short(s: &str) -> String {
    short_to(s, 60)
}

fn short_to(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}
