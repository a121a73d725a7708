//! `morph describe`: what an extension offers, for people or (`--json`) for programs.
//!
//! Everything shown here but the section titles and the side-effect names came from the
//! guest, so every field goes through [`escape`] (human output) or [`output::json`].

use crate::exit::Failure;
use crate::load::LoadArgs;
use crate::output::{self, Out, escape};
use clap::Args;
use morph_host::ExtensionInfo;
use std::io::Write;
use std::path::PathBuf;

/// `morph describe`.
#[derive(Args, Debug)]
pub struct DescribeArgs {
    /// The extension module (.wasm).
    module: PathBuf,
    /// Print the description as JSON (pretty; fields in a fixed order).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    load: LoadArgs,
}

/// Loads the module and prints its description.
///
/// # Errors
/// What loading fails with; a closed or failing stdout.
pub fn execute(args: &DescribeArgs, out: &mut Out<impl Write>) -> Result<(), Failure> {
    let prepared = args.load.prepare(&args.module)?;
    if args.json {
        let text = serde_json::to_string_pretty(prepared.info())
            .map_err(|e| Failure::internal(format!("cannot print the description: {e}")))?;
        writeln!(out, "{}", output::json(&text))
    } else {
        print_info(prepared.info(), out)
    }
}

/// A schema on one line: compact JSON with sorted keys, escaped. A schema that is not
/// JSON (the host refuses those, so never in practice) is shown escaped as it is.
fn compact_schema(text: &str) -> String {
    let compact = serde_json::from_str::<serde_json::Value>(text)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| text.to_owned());
    escape(&compact).into_owned()
}

fn print_info(info: &ExtensionInfo, out: &mut Out<impl Write>) -> Result<(), Failure> {
    writeln!(
        out,
        "{} {}  ({})",
        escape(&info.id),
        escape(&info.version),
        escape(&info.name)
    )?;
    if !info.description.is_empty() {
        writeln!(out, "{}", escape(&info.description))?;
    }
    writeln!(out)?;
    writeln!(out, "ACTIONS")?;
    let names: Vec<String> = info
        .actions
        .iter()
        .map(|a| escape(&a.name).into_owned())
        .collect();
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    for (a, name) in info.actions.iter().zip(&names) {
        writeln!(
            out,
            "  {name:width$}  {:11}  {}",
            a.side_effect.as_str(),
            escape(&a.description)
        )?;
        writeln!(
            out,
            "  {:width$}  input:  {}",
            "",
            compact_schema(&a.input_schema)
        )?;
        writeln!(
            out,
            "  {:width$}  output: {}",
            "",
            compact_schema(&a.output_schema)
        )?;
    }
    writeln!(out)?;
    writeln!(out, "EVENTS")?;
    if info.events.is_empty() {
        writeln!(out, "  (none)")?;
    }
    for e in &info.events {
        writeln!(out, "  {}  {}", escape(&e.name), escape(&e.description))?;
        writeln!(out, "      payload: {}", compact_schema(&e.payload_schema))?;
    }
    writeln!(out)?;
    writeln!(out, "CONFIG")?;
    match &info.config_schema {
        Some(s) => writeln!(out, "  {}", compact_schema(s)),
        None => writeln!(out, "  (none)"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A description whose every guest-written field carries a terminal control.
    #[test]
    fn every_guest_field_is_escaped() {
        let info: ExtensionInfo = serde_json::from_value(serde_json::json!({
            "id": "evil\u{1b}[31m",
            "name": "Name\r\nFAKE",
            "version": "1.0\u{7}",
            "description": "right\u{202e}tfel",
            "actions": [{
                "name": "run\u{1b}]0;title\u{7}",
                "description": "does\u{9b}2J things",
                "input_schema": "{\"description\":\"in\u{202e}put\"}",
                "output_schema": "{\"description\":\"\\u001b[2J\"}",
                "side_effect": "none"
            }],
            "events": [{
                "name": "ev\u{2066}ent",
                "description": "line\u{2028}break",
                "payload_schema": "{\"title\":\"p\u{7f}\"}"
            }],
            "config_schema": "{\"title\":\"c\u{85}\"}"
        }))
        .unwrap();
        let mut out = Out::new(Vec::new());
        print_info(&info, &mut out).unwrap();
        let text = String::from_utf8(out.finish().unwrap()).unwrap();
        assert!(
            !text.chars().any(|c| c != '\n' && output::is_unsafe(c)),
            "{text:?}"
        );
        for shown in [
            "evil\\u{1b}[31m 1.0\\u{7}  (Name\\r\\nFAKE)",
            "right\\u{202e}tfel",
            "run\\u{1b}]0;title\\u{7}  none         does\\u{9b}2J things",
            "input:  {\"description\":\"in\\u{202e}put\"}",
            "output: {\"description\":\"\\u001b[2J\"}",
            "ev\\u{2066}ent  line\\u{2028}break",
            "payload: {\"title\":\"p\\u{7f}\"}",
            "  {\"title\":\"c\\u{85}\"}",
        ] {
            assert!(text.contains(shown), "`{shown}` not in:\n{text}");
        }
        assert_eq!(text.lines().count(), 14, "{text}");
    }
}
