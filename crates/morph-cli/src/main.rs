//! `morph`: describe and run Morph extensions from the command line.
//!
//! Exit codes (stable, one per error class):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | engine or internal error |
//! | 2 | bad command line |
//! | 3 | a file could not be read |
//! | 4 | invalid module: not wasm, not a Morph extension, disallowed import, missing export |
//! | 5 | unsupported contract version |
//! | 6 | the extension misbehaved: trap, malformed data, output that breaks the contract |
//! | 7 | a resource limit was exceeded |
//! | 8 | the action returned an error |
//! | 9 | permission denied |
//! | 10 | unknown action or invalid input |
//! | 11 | backend not available in this build |

use clap::{Args, Parser, Subcommand};
use morph_host::{Backend, Error, Extension, ExtensionInfo, Limits, LoadOptions};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "morph",
    version,
    about = "Describe and run Morph WebAssembly extensions",
    after_help = "Exit codes: 0 ok, 1 engine, 2 usage, 3 file, 4 invalid module, 5 unsupported contract, \
6 extension fault, 7 limit exceeded, 8 action error, 9 permission denied, 10 unknown action or invalid input, \
11 backend unavailable. Set MORPH_LOG=debug to see what extensions log."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show what an extension offers: its actions with their schemas, events, config.
    Describe {
        /// The extension module (.wasm).
        module: PathBuf,
        #[command(flatten)]
        common: Common,
        /// Print the description as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run one action and print its JSON output.
    Run {
        /// The extension module (.wasm).
        module: PathBuf,
        /// The action to run.
        action: String,
        /// The input, as JSON text (`-` reads standard input). Default: `{}`.
        #[arg(long, conflicts_with = "input_file")]
        input: Option<String>,
        /// Read the input from a file.
        #[arg(long, value_name = "FILE")]
        input_file: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// List the backends and whether this build includes them.
    Backends {
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct Common {
    /// The backend to run on (see `morph backends`).
    #[arg(long, default_value = "wasmtime")]
    backend: String,
    /// CPU budget per call, in fuel units (0: unmetered).
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,
    /// Memory limit, in bytes (suffixes K, M, G, KiB, MiB, GiB accepted).
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    memory: Option<u64>,
    /// Wall-clock deadline per call, in milliseconds.
    #[arg(long, value_name = "MS")]
    timeout: Option<u64>,
    /// Maximum output size, in bytes.
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    max_output: Option<u64>,
    /// Maximum host calls per call.
    #[arg(long, value_name = "N")]
    max_host_calls: Option<u64>,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size (try 1048576, 64M or 1GiB)"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => return Err(format!("unknown size unit `{other}` (use K, M or G)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{s}` is too large"))
}

/// A failure of the command: a message for stderr and an exit code.
struct Failure {
    code: u8,
    message: String,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let code = match e.class() {
            "invalid-module" | "missing-export" | "disallowed-import" => 4,
            "unsupported-contract" => 5,
            "trap" | "bad-guest-data" | "invalid-output" => 6,
            "limit-exceeded" => 7,
            "guest-error" => 8,
            "permission-denied" => 9,
            "unknown-action" | "invalid-input" => 10,
            "backend-unavailable" => 11,
            _ => 1,
        };
        Failure {
            code,
            message: e.to_string(),
        }
    }
}

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure {
        code: 3,
        message: format!("cannot read {what} `{}`: {e}", path.display()),
    })
}

impl Common {
    fn options(&self, module: &Path) -> Result<LoadOptions, Failure> {
        let backend: Backend = self.backend.parse()?;
        let mut limits = Limits::default();
        if let Some(f) = self.fuel {
            limits.fuel = (f > 0).then_some(f);
        }
        if let Some(m) = self.memory {
            limits.max_memory_bytes = m;
        }
        if let Some(t) = self.timeout {
            limits.timeout = Duration::from_millis(t);
        }
        if let Some(o) = self.max_output {
            limits.max_output_bytes = u32::try_from(o).unwrap_or(u32::MAX);
        }
        if let Some(h) = self.max_host_calls {
            limits.max_host_calls = h;
        }
        Ok(LoadOptions {
            backend,
            limits,
            label: module
                .file_stem()
                .map_or_else(|| "extension".into(), |s| s.to_string_lossy().into_owned()),
            ..LoadOptions::default()
        })
    }
}

fn load(module: &Path, common: &Common) -> Result<Extension, Failure> {
    let options = common.options(module)?;
    let wasm = read_file(module, "module")?;
    Ok(Extension::load(&wasm, options)?)
}

fn compact_schema(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| text.to_owned())
}

fn print_info(info: &ExtensionInfo) {
    println!("{} {}  ({})", info.id, info.version, info.name);
    if !info.description.is_empty() {
        println!("{}", info.description);
    }
    println!();
    println!("ACTIONS");
    let width = info.actions.iter().map(|a| a.name.len()).max().unwrap_or(0);
    for a in &info.actions {
        println!(
            "  {:width$}  {:11}  {}",
            a.name,
            a.side_effect.as_str(),
            a.description
        );
        println!(
            "  {:width$}  input:  {}",
            "",
            compact_schema(&a.input_schema)
        );
        println!(
            "  {:width$}  output: {}",
            "",
            compact_schema(&a.output_schema)
        );
    }
    println!();
    println!("EVENTS");
    if info.events.is_empty() {
        println!("  (none)");
    }
    for e in &info.events {
        println!("  {}  {}", e.name, e.description);
        println!("      payload: {}", compact_schema(&e.payload_schema));
    }
    println!();
    println!("CONFIG");
    match &info.config_schema {
        Some(s) => println!("  {}", compact_schema(s)),
        None => println!("  (none)"),
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Describe {
            module,
            common,
            json,
        } => {
            let ext = load(&module, &common)?;
            if json {
                let text = serde_json::to_string_pretty(ext.info()).map_err(|e| Failure {
                    code: 1,
                    message: e.to_string(),
                })?;
                println!("{text}");
            } else {
                print_info(ext.info());
            }
        }
        Command::Run {
            module,
            action,
            input,
            input_file,
            common,
        } => {
            let input = match (input, input_file) {
                (Some(s), _) if s == "-" => {
                    let mut buf = String::new();
                    std::io::Read::read_to_string(&mut std::io::stdin(), &mut buf).map_err(
                        |e| Failure {
                            code: 3,
                            message: format!("cannot read the input from standard input: {e}"),
                        },
                    )?;
                    buf
                }
                (Some(s), _) => s,
                (None, Some(path)) => {
                    String::from_utf8(read_file(&path, "input file")?).map_err(|_| Failure {
                        code: 10,
                        message: format!("the input file `{}` is not UTF-8 text", path.display()),
                    })?
                }
                (None, None) => "{}".to_owned(),
            };
            let mut ext = load(&module, &common)?;
            let output = ext.run(&action, &input)?;
            println!("{output}");
        }
        Command::Backends { json } => {
            if json {
                let list: Vec<_> = Backend::ALL
                    .iter()
                    .map(|b| {
                        serde_json::json!({
                            "name": b.name(),
                            "available": b.available(),
                            "feature": b.feature(),
                            "purpose": b.purpose(),
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                for b in Backend::ALL {
                    let status = if b.available() {
                        "available".to_owned()
                    } else {
                        format!("not in this build (feature `{}`)", b.feature())
                    };
                    println!("{:18} {:34} {}", b.name(), status, b.purpose());
                }
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MORPH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("morph: error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert!(parse_size("12parsecs").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
    }
}
