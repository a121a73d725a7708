//! `morph run`: one action on a fresh instance; its output on stdout as one line of JSON.

use crate::exit::{Exit, Failure};
use crate::load::{LoadArgs, read_file};
use crate::output::{self, Out};
use clap::Args;
use morph_host::ExecuteOptions;
use std::io::{Read, Write};
use std::path::PathBuf;

/// `morph run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The extension module (.wasm), or the id of an installed extension (its active
    /// version runs, after its stored package is checked against its record and the
    /// trust store's denylist).
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
    load: LoadArgs,
    #[command(flatten)]
    store: super::installed::StoreArg,
    #[command(flatten)]
    trust: crate::trust_store::TrustStoreArg,
}

/// Runs the action and prints its output: compact JSON, keys in the extension's order,
/// any terminal control inside a string escaped (see [`output::guest_json`]).
///
/// # Errors
/// Exit 3 when the input cannot be read, 10 when an input file is not UTF-8, what
/// loading and the call fail with; a closed or failing stdout.
pub fn execute(args: &RunArgs, out: &mut Out<impl Write>) -> Result<(), Failure> {
    let input = read_input(args)?;
    let prepared = match installed_id(&args.module) {
        Some(id) => {
            let (_, package) = super::installed::load_active(id, &args.store, &args.trust)?;
            args.load.prepare_wasm(id, package.module())?
        }
        None => args.load.prepare(&args.module)?,
    };
    let output = prepared.execute_blocking(&args.action, &input, &ExecuteOptions::default())?;
    writeln!(out, "{}", output::guest_json(&output.text)?)
}

/// The module argument as an installed extension's id: not an existing file, and shaped
/// like an id.
fn installed_id(module: &std::path::Path) -> Option<&str> {
    let text = module.to_str()?;
    (!module.exists() && super::installed::looks_like_id(text)).then_some(text)
}

fn read_input(args: &RunArgs) -> Result<String, Failure> {
    match (&args.input, &args.input_file) {
        (Some(dash), _) if dash == "-" => {
            let mut buf = String::new();
            std::io::stdin().read_to_string(&mut buf).map_err(|e| {
                Failure::new(
                    Exit::File,
                    format!("cannot read the input from standard input: {e}"),
                )
            })?;
            Ok(buf)
        }
        (Some(text), _) => Ok(text.clone()),
        (None, Some(path)) => String::from_utf8(read_file(path, "input file")?).map_err(|_| {
            Failure::new(
                Exit::BadRequest,
                format!("the input file `{}` is not UTF-8 text", path.display()),
            )
        }),
        (None, None) => Ok("{}".to_owned()),
    }
}
