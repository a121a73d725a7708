//! `morph backends`: every backend Morph knows and whether this build includes it.

use crate::exit::Failure;
use crate::output::{self, Out};
use clap::Args;
use morph_host::Backend;
use std::io::Write;

/// `morph backends`.
#[derive(Args, Debug)]
pub struct BackendsArgs {
    /// Print the list as JSON: an array in the order below, each entry's keys sorted.
    #[arg(long)]
    json: bool,
}

/// Prints the list.
///
/// # Errors
/// A closed or failing stdout.
pub fn execute(args: &BackendsArgs, out: &mut Out<impl Write>) -> Result<(), Failure> {
    if args.json {
        let list: Vec<serde_json::Value> = Backend::ALL
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
        let text = serde_json::to_string_pretty(&list)
            .map_err(|e| Failure::internal(format!("cannot print the list: {e}")))?;
        return writeln!(out, "{}", output::json(&text));
    }
    for b in Backend::ALL {
        let status = if b.available() {
            "available".to_owned()
        } else {
            format!("not in this build (feature `{}`)", b.feature())
        };
        writeln!(out, "{:18} {:34} {}", b.name(), status, b.purpose())?;
    }
    Ok(())
}
