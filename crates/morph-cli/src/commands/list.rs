//! `morph list`: the installed extensions, their versions and which is active.

use super::installed::StoreArg;
use crate::exit::Failure;
use crate::output::{self, Out, escape};
use clap::Args;
use std::io::Write;

/// `morph list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// Print JSON: an array of `{id, active, versions: [record...]}`.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArg,
}

/// Lists every installed extension: one line each (`id active-version (n versions)`),
/// or JSON with `--json`.
///
/// # Errors
/// Exit 14 when the store is damaged or busy; 3 when its folder cannot be created.
pub fn execute(args: &ListArgs, out: &mut Out<impl Write>) -> Result<(), Failure> {
    let store = args.store.open()?;
    let list = store.list()?;
    if args.json {
        let json = serde_json::to_string(&list).map_err(|e| Failure::internal(e.to_string()))?;
        return writeln!(out, "{}", output::json(&json));
    }
    for entry in &list {
        writeln!(
            out,
            "{} {} ({} installed: {})",
            escape(&entry.id),
            entry.active.as_deref().map_or("-".into(), escape),
            entry.versions.len(),
            escape(
                &entry
                    .versions
                    .iter()
                    .map(|r| r.version.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        )?;
    }
    Ok(())
}
