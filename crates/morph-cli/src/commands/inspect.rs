//! `morph inspect`: what the store knows about one installed extension.

use super::installed::StoreArg;
use crate::exit::Failure;
use crate::output::{self, Out, escape};
use clap::Args;
use morph_host::StoreError;
use std::io::Write;

/// `morph inspect`.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The extension id.
    id: String,
    /// Print JSON: `{id, active, versions: [record...]}`.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArg,
}

/// Prints every installed version of the extension with its digests, publisher, key
/// and install time, the active one marked.
///
/// # Errors
/// Exit 15 when it is not installed; 14 when the store is damaged or busy.
pub fn execute(args: &InspectArgs, out: &mut Out<impl Write>) -> Result<(), Failure> {
    let store = args.store.open()?;
    let entry = store.get(&args.id)?.ok_or_else(|| {
        Failure::from(StoreError::NotInstalled {
            id: args.id.clone(),
        })
    })?;
    if args.json {
        let json = serde_json::to_string(&entry).map_err(|e| Failure::internal(e.to_string()))?;
        return writeln!(out, "{}", output::json(&json));
    }
    writeln!(out, "{}", escape(&entry.id))?;
    for r in &entry.versions {
        let active = entry.active.as_deref() == Some(r.version.as_str());
        writeln!(
            out,
            "{} {}{}",
            if active { "*" } else { " " },
            escape(&r.version),
            if active { " (active)" } else { "" }
        )?;
        writeln!(out, "    publisher: {}", escape(&r.publisher))?;
        writeln!(out, "    key id: {}", escape(&r.key_id))?;
        writeln!(out, "    package: {}", r.package_digest)?;
        writeln!(out, "    manifest: {}", r.manifest_digest)?;
        writeln!(out, "    module: {}", r.module_digest)?;
        writeln!(out, "    installed at: {} (unix seconds)", r.installed_at)?;
    }
    Ok(())
}
