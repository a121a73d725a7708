//! `morph audit`: what an extension did or was refused, newest first.

use super::installed::StoreArg;
use crate::exit::Failure;
use crate::output::{self, Out, escape};
use clap::Args;
use std::io::Write;

/// `morph audit`.
#[derive(Args, Debug)]
pub struct AuditArgs {
    /// The extension's id.
    id: String,
    /// At most this many records.
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Print JSON: an array of records.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArg,
}

/// Prints the audit log of extension `id`: one line per permissioned call (time,
/// version, action, outcome, permission, target, detail), or JSON with `--json`.
///
/// # Errors
/// Exit 14 when the store is damaged or busy; a failing stdout.
pub fn execute(args: &AuditArgs, out: &mut Out<impl Write>) -> Result<(), Failure> {
    let store = args.store.open()?;
    let records = store.audit(&args.id, args.limit)?;
    if args.json {
        let json = serde_json::to_string(&records).map_err(|e| Failure::internal(e.to_string()))?;
        return writeln!(out, "{}", output::json(&json));
    }
    for r in &records {
        writeln!(
            out,
            "{} {}@{} {} {} {} {}{}",
            r.time_ms,
            escape(&r.extension),
            escape(&r.version),
            r.action.as_deref().map_or("-".into(), escape),
            r.outcome,
            escape(&r.permission),
            escape(&r.target),
            match r.detail.is_empty() {
                true => String::new(),
                false => format!(": {}", escape(&r.detail)),
            }
        )?;
    }
    Ok(())
}
