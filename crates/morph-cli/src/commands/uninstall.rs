//! `morph uninstall`: remove every version of an installed extension from the store.

use super::installed::StoreArg;
use crate::exit::Failure;
use crate::output::{Out, escape};
use clap::Args;
use std::io::Write;

/// `morph uninstall`.
#[derive(Args, Debug)]
pub struct UninstallArgs {
    /// The extension id.
    id: String,
    /// Also delete the package files no record names any more (this extension's, and
    /// any left by an interrupted install).
    #[arg(long)]
    purge: bool,
    #[command(flatten)]
    store: StoreArg,
}

/// Removes the extension's records (and with `--purge` the unreferenced package files).
///
/// # Errors
/// Exit 15 when it is not installed; 14 when the store is damaged or busy; 3 when a
/// package file cannot be deleted.
pub fn execute(args: &UninstallArgs, out: &mut Out<impl Write>) -> Result<(), Failure> {
    let store = args.store.open()?;
    let removed = store.uninstall(&args.id, args.purge)?;
    let versions: Vec<&str> = removed
        .versions
        .iter()
        .map(|r| r.version.as_str())
        .collect();
    writeln!(
        out,
        "uninstalled {} ({})",
        escape(&removed.id),
        escape(&versions.join(", "))
    )
}
