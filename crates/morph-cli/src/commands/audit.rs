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

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for milliseconds since the Unix epoch (proleptic
/// Gregorian calendar, UTC).
fn utc(ms: u64) -> String {
    let (secs, millis) = (ms / 1000, ms % 1000);
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil-from-days, for days since 1970-01-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
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
            utc(r.time_ms),
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

#[cfg(test)]
mod tests {
    #[test]
    fn times_print_as_utc() {
        assert_eq!(super::utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::utc(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(super::utc(1_795_630_803_262), "2026-11-25T18:20:03.262Z");
    }
}
