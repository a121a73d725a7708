//! `morph bench`: what Morph costs over the engine it runs on, backend by backend
//! (measured by morph-bench; the rows are described there and in the README).

use crate::backend::BackendArg;
use crate::exit::{Exit, Failure};
use crate::load;
use crate::output::{self, Out};
use clap::Args;
use morph_bench::{Options, Row, Unit};
use morph_host::Backend;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// Where `cargo xtask build` writes the sample, relative to a clone's root.
const DEFAULT_MODULE: &str = "target/extensions/hello.wasm";

/// `morph bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// The extension to measure: a module with `hello`'s actions (`echo`,
    /// `count-words`, `sha256`, `kv-reads`; rows of missing actions say so).
    /// Default: target/extensions/hello.wasm, as `cargo xtask build` writes it.
    module: Option<PathBuf>,
    /// `all` (default) or one backend's name.
    #[arg(long, default_value = "all")]
    backend: String,
    /// Print every row as JSON (fields in the README's "Benchmarks").
    #[arg(long)]
    json: bool,
    /// One iteration per figure and reduced work: every row in a few seconds, with
    /// numbers that mean little (for tests).
    #[arg(long)]
    quick: bool,
    /// Time for the samples of one figure, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 100)]
    budget_ms: u64,
}

fn backends(name: &str) -> Result<Vec<Backend>, Failure> {
    if name == "all" {
        return Ok(Backend::available_backends());
    }
    let arg = <BackendArg as clap::ValueEnum>::from_str(name, false).map_err(|_| {
        let names: Vec<&str> = Backend::ALL.iter().map(|b| b.name()).collect();
        Failure::new(
            Exit::Usage,
            format!(
                "no backend `{}`; `--backend` takes `all` or one of: {}",
                output::escape(name),
                names.join(", ")
            ),
        )
    })?;
    let backend = Backend::from(arg);
    // The library's refusal names the Cargo feature that brings the backend in.
    backend.runtime()?;
    Ok(vec![backend])
}

/// Measures and prints the rows.
///
/// # Errors
/// A module that cannot be read, a backend that is not in this build, or a failure of
/// Morph or of a raw engine on work that should succeed.
pub fn execute(args: &BenchArgs, out: &mut Out<impl Write>) -> Result<(), Failure> {
    let path = args
        .module
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_MODULE));
    let wasm = load::read_file(&path, "module").map_err(|f| {
        if args.module.is_none() {
            f.hint("build the sample with `cargo xtask build`, or name a module")
        } else {
            f
        }
    })?;
    let options = Options {
        backends: backends(&args.backend)?,
        quick: args.quick,
        budget: Duration::from_millis(args.budget_ms),
    };
    if !args.json {
        writeln!(
            out,
            "{:18} {:16} {:>12} {:>12} {:>8} {:>12}",
            "backend", "row", "morph", "raw", "ratio", "native"
        )?;
    }
    let mut printed: Result<(), Failure> = Ok(());
    let report = morph_bench::run(&wasm, &options, &mut |row| {
        if !args.json && printed.is_ok() {
            printed = writeln!(out, "{}", human(row));
        }
    })
    .map_err(|e| match e {
        morph_bench::Error::Morph {
            backend,
            row,
            source,
        } => Failure::from(source).about(format!("{backend}, `{row}`")),
        other => Failure::internal(other.to_string()),
    })?;
    printed?;
    if args.json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| Failure::internal(format!("cannot print the report: {e}")))?;
        writeln!(out, "{}", output::json(&text))?;
    }
    Ok(())
}

/// One row as a line of the table.
fn human(row: &Row) -> String {
    let figure = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format_value(v, row.unit));
    let ratio = row
        .ratio
        .map_or_else(|| "n/a".to_owned(), |r| format!("{r:.2}x"));
    let native = row
        .native
        .map_or_else(String::new, |v| format_value(v, row.unit));
    let mut line = format!(
        "{:18} {:16} {:>12} {:>12} {:>8} {:>12}",
        row.backend,
        row.row,
        figure(row.morph),
        figure(row.raw),
        ratio,
        native
    );
    if let Some(note) = &row.note {
        line.push_str("  (");
        line.push_str(&output::escape(note));
        line.push(')');
    }
    line
}

fn format_value(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Nanos if v >= 1e9 => format!("{:.2} s", v / 1e9),
        Unit::Nanos if v >= 1e6 => format!("{:.2} ms", v / 1e6),
        Unit::Nanos if v >= 1e3 => format!("{:.2} us", v / 1e3),
        Unit::Nanos => format!("{v:.0} ns"),
        Unit::PerSecond if v >= 1e3 => format!("{:.1} k/s", v / 1e3),
        Unit::PerSecond => format!("{v:.0} /s"),
        Unit::Bytes if v >= f64::from(1u32 << 20) => {
            format!("{:.2} MiB", v / f64::from(1u32 << 20))
        }
        Unit::Bytes if v >= 1024.0 => format!("{:.1} KiB", v / 1024.0),
        Unit::Bytes => format!("{v:.0} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_in_their_units() {
        assert_eq!(format_value(850.0, Unit::Nanos), "850 ns");
        assert_eq!(format_value(12_345.0, Unit::Nanos), "12.35 us");
        assert_eq!(format_value(4_560_000.0, Unit::Nanos), "4.56 ms");
        assert_eq!(format_value(12_300.0, Unit::PerSecond), "12.3 k/s");
        assert_eq!(format_value(3.0 * 1048576.0, Unit::Bytes), "3.00 MiB");
        assert_eq!(format_value(2048.0, Unit::Bytes), "2.0 KiB");
    }
}
