//! Event payload and configuration schemas, compiled once at registration and checked
//! within bounds.
//!
//! A schema comes from the guest (`describe()`), so it is untrusted. The host's full
//! gate is morph-host's schema dialect (`docs/schemas.md`): it refuses schemas whose
//! validation cost it cannot bound, and `Prepared` runs every declared schema through
//! it, so an [`ExtensionInfo`](morph_abi::ExtensionInfo) taken from a `Prepared` has
//! passed it. This module does not repeat that analysis; it keeps the bounds that hold
//! whatever schema it is handed: the text's size and nesting, draft 2020-12 only, no
//! format checks, the linear-time `regex` engine with a size limit, no remote
//! references (jsonschema is built without its resolvers), the checked value's size and
//! nesting, and every call into `jsonschema` under `catch_unwind`.

use serde_json::Value;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The largest schema text, in bytes (the dialect's bound too).
const MAX_SCHEMA_BYTES: usize = 64 * 1024;
/// The deepest schema document (the dialect's bound too).
const MAX_SCHEMA_DEPTH: usize = 32;
/// The deepest checked value (the dialect's bound too).
pub(crate) const MAX_VALUE_DEPTH: usize = 64;
/// Bytes of compiled program per regular expression.
const MAX_REGEX_BYTES: usize = 1 << 20;
/// The violations a refusal lists.
const MAX_VIOLATIONS: usize = 3;
/// The longest violation message kept, in characters.
const MAX_MESSAGE: usize = 200;

/// A compiled schema. `Send + Sync`; checking takes `&self`.
pub(crate) struct Schema {
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Schema")
    }
}

impl Schema {
    /// Parses and compiles `text` within the bounds above.
    ///
    /// # Errors
    /// What is wrong, as the end of a sentence ("is not JSON: ...").
    pub(crate) fn compile(text: &str) -> Result<Schema, String> {
        if text.len() > MAX_SCHEMA_BYTES {
            return Err(format!(
                "is {} bytes long (at most {MAX_SCHEMA_BYTES})",
                text.len()
            ));
        }
        let value: Value = serde_json::from_str(text).map_err(|e| format!("is not JSON: {e}"))?;
        if depth(&value, MAX_SCHEMA_DEPTH) > MAX_SCHEMA_DEPTH {
            return Err(format!("nests deeper than {MAX_SCHEMA_DEPTH} levels"));
        }
        let options = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(false)
            .with_pattern_options(
                jsonschema::PatternOptions::regex()
                    .size_limit(MAX_REGEX_BYTES)
                    .dfa_size_limit(MAX_REGEX_BYTES),
            );
        let build = || {
            options
                .build(&value)
                .map_err(|e| format!("is refused: {}", shorten(&e.to_string())))
        };
        let validator = catch_unwind(AssertUnwindSafe(build))
            .map_err(|_| "made the validator panic".to_owned())??;
        Ok(Schema { validator })
    }

    /// Checks `value`.
    ///
    /// # Errors
    /// The first few violations, or why the value was not checked (too deep, a panic).
    pub(crate) fn check(&self, value: &Value) -> Result<(), String> {
        if depth(value, MAX_VALUE_DEPTH) > MAX_VALUE_DEPTH {
            return Err(format!("it nests deeper than {MAX_VALUE_DEPTH} levels"));
        }
        let validator = &self.validator;
        let valid = catch_unwind(AssertUnwindSafe(|| validator.is_valid(value)))
            .map_err(|_| "checking it made the validator panic".to_owned())?;
        if valid {
            return Ok(());
        }
        let errors = catch_unwind(AssertUnwindSafe(|| {
            validator
                .iter_errors(value)
                .take(MAX_VIOLATIONS)
                .map(|e| {
                    let path = e.instance_path.to_string();
                    match path.is_empty() {
                        true => shorten(&e.to_string()),
                        false => shorten(&format!("at {path}: {e}")),
                    }
                })
                .collect::<Vec<String>>()
        }))
        .unwrap_or_default();
        Err(match errors.is_empty() {
            true => "it does not match".to_owned(),
            false => errors.join("; "),
        })
    }
}

/// The nesting of `value` (a scalar is 0, `[]` is 1), counted without recursion and
/// without looking further than `stop + 1` levels.
pub(crate) fn depth(value: &Value, stop: usize) -> usize {
    let mut deepest = 0;
    let mut stack: Vec<(&Value, usize)> = vec![(value, 0)];
    while let Some((value, level)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        let level = level.saturating_add(1);
        deepest = deepest.max(level);
        if level > stop {
            break;
        }
        stack.extend(children.map(|c| (c, level)));
    }
    deepest
}

/// `text` cut after [`MAX_MESSAGE`] characters, with control characters escaped (a
/// violation quotes the value, which comes from the guest).
fn shorten(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == MAX_MESSAGE {
            out.push_str("...");
            break;
        }
        match c.is_control() {
            true => out.extend(c.escape_default()),
            false => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn checks_values_and_names_the_violation() {
        let schema = Schema::compile(
            r#"{"type":"object","required":["n"],"properties":{"n":{"type":"integer"}}}"#,
        )
        .unwrap();
        assert!(schema.check(&json!({"n": 1})).is_ok());
        let err = schema.check(&json!({"n": "x"})).unwrap_err();
        assert!(err.contains("/n") && err.contains("integer"), "{err}");
        let err = schema.check(&json!({})).unwrap_err();
        assert!(err.contains("\"n\" is a required property"), "{err}");
    }

    #[test]
    fn bounds_hold_whatever_the_schema() {
        assert!(Schema::compile("{").unwrap_err().starts_with("is not JSON"));
        let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
        assert!(
            Schema::compile(&deep)
                .unwrap_err()
                .contains("deeper than 32")
        );
        let big = format!(r#"{{"description":"{}"}}"#, "x".repeat(MAX_SCHEMA_BYTES));
        assert!(Schema::compile(&big).unwrap_err().contains("bytes long"));
        let remote = r#"{"$ref":"https://example.com/schema.json"}"#;
        assert!(Schema::compile(remote).is_err());
        let schema = Schema::compile("true").unwrap();
        let mut value = json!(1);
        for _ in 0..70 {
            value = json!([value]);
        }
        assert!(schema.check(&value).unwrap_err().contains("deeper than 64"));
    }
}
