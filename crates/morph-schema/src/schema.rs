//! [`Schema`]: the dialect walk, the static cost model and the checks. The argument
//! for the bounds is in the crate docs (`lib.rs`); this file follows it step by step.

use crate::error::{Budget, SchemaError, SchemaErrorKind, TextViolation, Violation};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

/// The bounds a schema and a checked value must keep: [`LIMITS`] (also
/// `Limits::default()`) are Morph's, documented in `docs/schemas.md`. Fields may be
/// added; start from the defaults and change what you need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Bytes of schema text (64 KiB: a large hand-written schema is a few KiB).
    pub max_schema_bytes: usize,
    /// JSON nesting of the schema document, `const`/`enum`/`default` values included.
    pub max_schema_depth: usize,
    /// Schema objects (and `true`/`false` schemas) in the document, `$defs` included.
    pub max_subschemas: usize,
    /// Nesting of a checked value: arrays and objects inside each other. serde_json
    /// already stops parsing at 128; the budget is computed for this depth.
    pub max_instance_depth: usize,
    /// `K`: the cost of the evaluations at any one value of the instance, worst case:
    /// evaluations weighted by the size of the schema object evaluated (see *The
    /// budget* in the crate docs).
    pub max_cost_per_value: u64,
    /// The cost of one check: `K` at each depth times the size of the values there
    /// (*The budget*). Checked before validating, from the value's shape.
    pub max_check_cost: u64,
    /// Schema evaluations nested inside each other (the validator's recursion).
    pub max_evaluation_nesting: u64,
    /// The size of the schema with every `$ref` replaced by a copy of its target, in
    /// units of one JSON value or 64 bytes of text: what `jsonschema` compiles and keeps.
    pub max_unfolded_units: u64,
    /// Bytes of compiled program per `pattern` / `patternProperties` regex.
    pub max_regex_bytes: usize,
}

/// The bounds Morph applies to every declared schema and checked value.
pub const LIMITS: Limits = Limits {
    max_schema_bytes: 64 * 1024,
    max_schema_depth: 32,
    max_subschemas: 512,
    max_instance_depth: 64,
    max_cost_per_value: 4096,
    max_check_cost: 1 << 25,
    max_evaluation_nesting: 256,
    max_unfolded_units: 1 << 16,
    max_regex_bytes: 256 * 1024,
};

impl Default for Limits {
    /// [`LIMITS`].
    fn default() -> Self {
        LIMITS
    }
}

/// The draft the dialect is a subset of; the only `$schema` accepted.
const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";

/// Longest excerpt of a `jsonschema` message kept in an error (they quote the value).
const MAX_MESSAGE_CHARS: usize = 200;

/// Bytes of a string (or of an object's keys) that count as one more unit of size in
/// [`sizes_per_depth`]: a regex scan of 64 bytes costs about one schema evaluation.
const BYTES_PER_UNIT: usize = 64;

/// The cost of one evaluation by `iter_errors` in units of one by `is_valid`: a failing
/// evaluation builds an error (paths, and for `anyOf`/`oneOf` the errors of every
/// branch), which measured about 100 times slower than a boolean evaluation.
const EXPLAIN_WEIGHT: u64 = 128;

/// How many violations [`Schema::check`] reports.
const MAX_VIOLATIONS: usize = 3;

/// A schema in the Morph dialect, compiled: [`Schema::compile`] once (milliseconds at
/// most: the dialect walk, the cost model and `jsonschema`'s compilation), then
/// [`Schema::check`] or [`Schema::check_text`] any number of times, from any thread.
/// `Send + Sync`; cloning shares the compiled form (an `Arc`).
#[derive(Clone)]
pub struct Schema {
    validator: Arc<jsonschema::Validator>,
    /// The weighted worst case at each depth `0..=max_instance_depth`.
    cost_per_depth: Arc<[Cost]>,
    max_check_cost: u64,
    /// `{}` or `true`: every JSON value within the bounds matches, so JSON text of at most
    /// this many bytes (with no more nesting than the bounds allow) needs only its syntax
    /// checked. `None` for any other schema.
    accepts_all: Option<usize>,
}

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schema").finish_non_exhaustive()
    }
}

impl Schema {
    /// Parses and compiles `text` (a JSON Schema in the Morph dialect) under [`LIMITS`].
    ///
    /// # Errors
    /// A [`SchemaError`] saying where and why; see [`Schema::compile_with`].
    pub fn compile(text: &str) -> Result<Schema, SchemaError> {
        Self::compile_with(text, &LIMITS)
    }

    /// Parses and compiles `text` under `limits`. Values are then checked against the
    /// same limits (their depth and the cost budget).
    ///
    /// # Errors
    /// A [`SchemaError`] whose [`SchemaErrorKind`] is, in this order of checks:
    /// `TooLarge` (bytes), `NotJson`, `TooLarge` (nesting), then the dialect walk
    /// (`UnsupportedKeyword`, `BadValue`, `BadReference`, `BadPattern`, `TooLarge` for
    /// subschemas, in document order), `ReferenceLoop`, `Recursive`, `TooCostly`,
    /// `TooLarge` (unfolded size), and last `Rejected` or `Panicked` from `jsonschema`
    /// itself.
    pub fn compile_with(text: &str, limits: &Limits) -> Result<Schema, SchemaError> {
        let root_error = |kind| SchemaError {
            path: "#".to_owned(),
            kind,
        };
        if text.len() > limits.max_schema_bytes {
            return Err(root_error(SchemaErrorKind::TooLarge {
                what: "bytes",
                limit: limits.max_schema_bytes,
                used: text.len(),
            }));
        }
        let value: Value = serde_json::from_str(text).map_err(|e| {
            root_error(SchemaErrorKind::NotJson {
                message: e.to_string(),
            })
        })?;
        let depth = json_depth(&value, limits.max_schema_depth);
        if depth > limits.max_schema_depth {
            return Err(root_error(SchemaErrorKind::TooLarge {
                what: "levels of nesting",
                limit: limits.max_schema_depth,
                used: depth,
            }));
        }
        let graph = Graph::build(&value, limits)?;
        graph.check_recursion()?;
        let cost_per_depth = graph.check_budget(limits)?;
        graph.check_unfolded(limits)?;

        let options = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(false)
            .with_pattern_options(
                jsonschema::PatternOptions::regex()
                    .size_limit(limits.max_regex_bytes)
                    .dfa_size_limit(limits.max_regex_bytes),
            );
        let build = || {
            options.build(&value).map_err(|e| SchemaError {
                path: fragment(&e.instance_path.to_string()),
                kind: SchemaErrorKind::Rejected {
                    message: shorten(&e.to_string()),
                },
            })
        };
        let validator = catch_unwind(AssertUnwindSafe(build)).map_err(|panic| {
            root_error(SchemaErrorKind::Panicked {
                message: panic_message(&*panic),
            })
        })??;
        // Each value of the text costs at most 2 units per byte of it (`sizes_per_depth`),
        // so below this size the check's budget cannot run out either.
        let trivial = value == Value::Bool(true) || value.as_object().is_some_and(|o| o.is_empty());
        let worst = cost_per_depth
            .iter()
            .map(|c| c.validate)
            .max()
            .unwrap_or(1)
            .max(1);
        let accepts_all = trivial
            .then(|| usize::try_from(limits.max_check_cost / worst / 2).unwrap_or(usize::MAX));
        Ok(Schema {
            validator: Arc::new(validator),
            cost_per_depth: cost_per_depth.into(),
            max_check_cost: limits.max_check_cost,
            accepts_all,
        })
    }

    /// Checks JSON `text` against the schema: it must be JSON, and its value must pass
    /// [`Schema::check`]. Under a schema that accepts every value, text within the bounds
    /// only has its syntax checked, without building the value; the outcome is the same.
    ///
    /// # Errors
    /// [`TextViolation::NotJson`] with serde_json's error, or
    /// [`TextViolation::Violation`] with what [`Schema::check`] found.
    pub fn check_text(&self, text: &str) -> Result<(), TextViolation> {
        let max_depth = self.cost_per_depth.len().saturating_sub(1);
        if let Some(max_bytes) = self.accepts_all
            && text.len() <= max_bytes
            && nesting(text) < max_depth.min(SERDE_JSON_MAX_NESTING)
        {
            return serde_json::from_str::<serde::de::IgnoredAny>(text)
                .map(drop)
                .map_err(TextViolation::NotJson);
        }
        let value: Value = serde_json::from_str(text).map_err(TextViolation::NotJson)?;
        self.check(&value).map_err(TextViolation::Violation)
    }

    /// Checks `value` against the schema.
    ///
    /// # Errors
    /// A [`Violation`]. First, from the value's shape and without recursion: `TooDeep`
    /// if it nests deeper than the bound the schema was compiled for, `TooCostly` if the
    /// check could cost more than the budget. Then `Mismatch` with the first few
    /// violations, or `Panicked` if `jsonschema` panicked.
    pub fn check(&self, value: &Value) -> Result<(), Violation> {
        let max_depth = self.cost_per_depth.len().saturating_sub(1);
        let sizes =
            sizes_per_depth(value, max_depth).ok_or(Violation::TooDeep { limit: max_depth })?;
        let total = |per_value: fn(&Cost) -> u64| {
            sizes
                .iter()
                .zip(self.cost_per_depth.iter())
                .fold(0u64, |sum, (&size, cost)| {
                    sum.saturating_add(size.saturating_mul(per_value(cost)))
                })
        };
        let cost = total(|c| c.validate);
        if cost > self.max_check_cost {
            return Err(Violation::TooCostly {
                limit: self.max_check_cost,
                cost,
            });
        }
        let validator = &*self.validator;
        let valid =
            catch_unwind(AssertUnwindSafe(|| validator.is_valid(value))).map_err(|panic| {
                Violation::Panicked {
                    message: panic_message(&*panic),
                }
            })?;
        if valid {
            return Ok(());
        }
        let cost = total(|c| c.explain).saturating_mul(EXPLAIN_WEIGHT);
        if cost > self.max_check_cost {
            return Err(Violation::Mismatch {
                summary: format!(
                    "the value does not match (finding where could cost {cost} units of \
                     work under this schema, more than the {} Morph allows)",
                    self.max_check_cost
                ),
            });
        }
        let errors = catch_unwind(AssertUnwindSafe(|| {
            validator
                .iter_errors(value)
                .take(MAX_VIOLATIONS)
                .map(|e| {
                    let path = e.instance_path.to_string();
                    if path.is_empty() {
                        shorten(&e.to_string())
                    } else {
                        shorten(&format!("at {path}: {e}"))
                    }
                })
                .collect::<Vec<String>>()
        }))
        .map_err(|panic| Violation::Panicked {
            message: panic_message(&*panic),
        })?;
        let summary = if errors.is_empty() {
            "the value does not match".to_owned()
        } else {
            errors.join("; ")
        };
        Err(Violation::Mismatch { summary })
    }
}

/// The nesting depth of `value` (a scalar is 0, `[]` is 1), counted without recursion
/// and without looking further than `stop + 1` levels.
fn json_depth(value: &Value, stop: usize) -> usize {
    let mut deepest = 0;
    let mut stack: Vec<(&Value, usize)> = vec![(value, 0)];
    while let Some((value, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        let depth = depth + 1;
        deepest = deepest.max(depth);
        if depth > stop {
            break;
        }
        stack.extend(children.map(|child| (child, depth)));
    }
    deepest
}

/// How deep serde_json nests when it builds a value (its recursion limit).
const SERDE_JSON_MAX_NESTING: usize = 128;

/// The deepest nesting of arrays and objects in JSON text, strings skipped: a value in it
/// is at most this deep. Only meaningful for text that parses.
fn nesting(text: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in text.as_bytes() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth = depth.saturating_add(1);
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// The size of `value` at each depth (index 0 is the value itself), or `None` if it
/// nests deeper than `max_depth`. Counted without recursion. A value counts 1, plus 1
/// per [`BYTES_PER_UNIT`] of its string or of its keys (patterns and lengths scan them).
fn sizes_per_depth(value: &Value, max_depth: usize) -> Option<Vec<u64>> {
    let units = |bytes: usize| u64::try_from(bytes / BYTES_PER_UNIT).unwrap_or(u64::MAX);
    let mut sizes: Vec<u64> = Vec::new();
    let mut stack: Vec<(&Value, usize)> = vec![(value, 0)];
    while let Some((value, depth)) = stack.pop() {
        if depth > max_depth {
            return None;
        }
        if sizes.len() <= depth {
            sizes.resize(depth + 1, 0);
        }
        let size = match value {
            Value::String(text) => 1u64.saturating_add(units(text.len())),
            Value::Object(map) => {
                let keys: usize = map.keys().map(String::len).sum();
                stack.extend(map.values().map(|child| (child, depth + 1)));
                1u64.saturating_add(units(keys))
            }
            Value::Array(items) => {
                stack.extend(items.iter().map(|child| (child, depth + 1)));
                1
            }
            _ => 1,
        };
        if let Some(slot) = sizes.get_mut(depth) {
            *slot = slot.saturating_add(size);
        }
    }
    Some(sizes)
}

/// `text` cut to [`MAX_MESSAGE_CHARS`] characters.
fn cut(text: &str) -> String {
    match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

/// `message` cut to [`MAX_MESSAGE_CHARS`] characters, with control characters escaped:
/// `jsonschema`'s messages quote the value and the schema, which come from the guest,
/// and may reach a log or a terminal.
fn shorten(message: &str) -> String {
    let cut = cut(message);
    if !cut.contains(char::is_control) {
        return cut;
    }
    let mut out = String::with_capacity(cut.len());
    for c in cut.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The message of a caught panic.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        shorten(s)
    } else if let Some(s) = panic.downcast_ref::<String>() {
        shorten(s)
    } else {
        "a panic without a message".to_owned()
    }
}

/// A JSON pointer (`/a/b`, or empty for the root) as a URI fragment (`#/a/b`, `#`).
fn fragment(pointer: &str) -> String {
    format!("#{pointer}")
}

/// `name` escaped as one JSON pointer token.
fn pointer_token(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// How the dialect treats a keyword.
#[derive(Clone, Copy)]
enum Rule {
    /// A subschema applied in place (`not`, `if`, `then`, `else`) or to children
    /// (`items`, `contains`, `additionalProperties`).
    Schema,
    /// A non-empty array of subschemas (`allOf`, `anyOf`, `oneOf`, `prefixItems`).
    SchemaArray,
    /// An object of subschemas (`properties`, `patternProperties`).
    SchemaMap,
    /// `$defs`: an object of subschemas, at the root only.
    Defs,
    /// `$ref`.
    Ref,
    /// `type`: a type name or a non-empty array of them.
    Type,
    /// A non-negative integer.
    Count,
    /// Any number.
    Number,
    /// A number greater than 0.
    Positive,
    /// An array of strings (`required`).
    Names,
    /// An object of string arrays (`dependentRequired`).
    DependentRequired,
    /// `pattern`: a linear-time regex.
    Pattern,
    /// A string, annotation only.
    Text,
    /// A boolean.
    Flag,
    /// An array of any values (`enum`, `examples`).
    Values,
    /// Any value (`const`, `default`).
    Any,
    /// `$schema`, `$id`: strings, at the root only.
    RootText,
}

/// The rule for a dialect keyword, or the hint for one outside it.
fn rule(keyword: &str) -> Result<Rule, &'static str> {
    Ok(match keyword {
        "not" | "if" | "then" | "else" | "items" | "contains" | "additionalProperties" => {
            Rule::Schema
        }
        "allOf" | "anyOf" | "oneOf" | "prefixItems" => Rule::SchemaArray,
        "properties" | "patternProperties" => Rule::SchemaMap,
        "$defs" => Rule::Defs,
        "$ref" => Rule::Ref,
        "type" => Rule::Type,
        "minLength" | "maxLength" | "minItems" | "maxItems" | "minProperties" | "maxProperties"
        | "minContains" | "maxContains" => Rule::Count,
        "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" => Rule::Number,
        "multipleOf" => Rule::Positive,
        "required" => Rule::Names,
        "dependentRequired" => Rule::DependentRequired,
        "pattern" => Rule::Pattern,
        "format" | "title" | "description" | "$comment" => Rule::Text,
        "uniqueItems" | "deprecated" | "readOnly" | "writeOnly" => Rule::Flag,
        "enum" | "examples" => Rule::Values,
        "const" | "default" => Rule::Any,
        "$schema" | "$id" => Rule::RootText,
        "unevaluatedProperties" => {
            return Err(
                "use `additionalProperties` (with `properties`/`patternProperties` \
                        in the same schema object)",
            );
        }
        "unevaluatedItems" => return Err("use `items` (with `prefixItems` for tuples)"),
        "additionalItems" => return Err("in draft 2020-12 use `items` after `prefixItems`"),
        "definitions" => return Err("use `$defs` at the root"),
        "dependencies" => return Err("use `dependentRequired`"),
        "dependentSchemas" => return Err("use `if`/`then`, or `dependentRequired`"),
        "propertyNames" => {
            return Err("use `patternProperties` with `additionalProperties: false`");
        }
        "$anchor" | "$dynamicAnchor" | "$dynamicRef" | "$recursiveRef" | "$recursiveAnchor" => {
            return Err("use `$ref` to `#/$defs/NAME`");
        }
        "$vocabulary" => return Err("Morph schemas are not meta-schemas"),
        "contentEncoding" | "contentMediaType" | "contentSchema" => {
            return Err("Morph does not check content; say it in `description`");
        }
        "nullable" => return Err("use `\"type\": [\"...\", \"null\"]`"),
        _ => {
            return Err("it is not a keyword Morph knows: put notes for readers in \
                        `description` or `$comment` (see docs/schemas.md for the dialect)");
        }
    })
}

/// Where a subschema applies, relative to the node holding it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Edge {
    /// In place, evaluated in both modes in error mode: `anyOf`, `oneOf`.
    Alternative,
    /// In place, same mode: `allOf`, `$ref`, `then`, `else`.
    Conjunct,
    /// In place, `is_valid` only: `not`, `if`.
    Test,
    /// The value of a `properties` entry.
    Property,
    /// The value of a `patternProperties` entry.
    PatternProperty,
    /// `additionalProperties`.
    AdditionalProperties,
    /// An entry of `prefixItems`.
    PrefixItem,
    /// `items`.
    Items,
    /// `contains` (`is_valid` only).
    Contains,
}

impl Edge {
    /// Edge kind of a subschema keyword; `None` for `$defs` (not applied by itself).
    fn of(keyword: &str) -> Option<Edge> {
        Some(match keyword {
            "anyOf" | "oneOf" => Edge::Alternative,
            "allOf" | "then" | "else" => Edge::Conjunct,
            "not" | "if" => Edge::Test,
            "properties" => Edge::Property,
            "patternProperties" => Edge::PatternProperty,
            "additionalProperties" => Edge::AdditionalProperties,
            "prefixItems" => Edge::PrefixItem,
            "items" => Edge::Items,
            "contains" => Edge::Contains,
            _ => return None,
        })
    }

    fn in_place(self) -> bool {
        matches!(self, Edge::Alternative | Edge::Conjunct | Edge::Test)
    }
}

/// The schema as a graph of subschemas, for the budget.
struct Graph {
    /// Edges of each node: kind and target. Node 0 is the root.
    edges: Vec<Vec<(Edge, usize)>>,
    /// The work of one evaluation of each node apart from its subschemas: 1 plus its
    /// entries (see [`entries`]).
    weights: Vec<u64>,
    /// The size of each node apart from its subschemas, in [`json_units`].
    units: Vec<u64>,
    /// `$ref` edges, with where they are written, for error messages: (from, to, path, ref).
    refs: Vec<(usize, usize, String, String)>,
}

/// A `$ref` seen during the walk, resolved once `$defs` is known.
struct PendingRef {
    from: usize,
    path: String,
    reference: String,
}

/// The dialect walk's state.
struct Walk<'a> {
    limits: &'a Limits,
    edges: Vec<Vec<(Edge, usize)>>,
    weights: Vec<u64>,
    units: Vec<u64>,
    refs: Vec<PendingRef>,
    defs: HashMap<String, usize>,
}

impl Graph {
    /// Walks the schema, checking the dialect, and builds the graph.
    fn build(schema: &Value, limits: &Limits) -> Result<Graph, SchemaError> {
        let mut walk = Walk {
            limits,
            edges: Vec::new(),
            weights: Vec::new(),
            units: Vec::new(),
            refs: Vec::new(),
            defs: HashMap::new(),
        };
        walk.schema(schema, "", true)?;
        let mut refs = Vec::with_capacity(walk.refs.len());
        for pending in walk.refs {
            let bad = |why| SchemaError {
                path: fragment(&pending.path),
                kind: SchemaErrorKind::BadReference {
                    reference: pending.reference.clone(),
                    why,
                },
            };
            let target = if pending.reference == "#" {
                0
            } else if let Some(name) = pending.reference.strip_prefix("#/$defs/") {
                *walk
                    .defs
                    .get(name)
                    .ok_or_else(|| bad("the root's `$defs` has no such entry"))?
            } else if pending.reference.starts_with('#') {
                return Err(bad("only `#` and `#/$defs/NAME` are resolved"));
            } else {
                return Err(bad("a schema may not refer outside itself"));
            };
            let edges = walk
                .edges
                .get_mut(pending.from)
                .ok_or_else(|| bad("internal: unknown node"))?;
            edges.push((Edge::Conjunct, target));
            refs.push((pending.from, target, pending.path, pending.reference));
        }
        Ok(Graph {
            edges: walk.edges,
            weights: walk.weights,
            units: walk.units,
            refs,
        })
    }

    /// Checks the budget (crate docs, *The budget*) against `limits`.
    ///
    /// Returns the weighted costs at each depth.
    fn check_budget(&self, limits: &Limits) -> Result<Vec<Cost>, SchemaError> {
        let worst = self.worst_case(limits.max_instance_depth, true)?;
        for (depth, cost) in worst.iter().enumerate() {
            let nesting = cost.nesting;
            let cost = cost.validate.saturating_add(cost.explain);
            let too_costly = |budget, limit, cost| SchemaError {
                path: "#".to_owned(),
                kind: SchemaErrorKind::TooCostly {
                    budget,
                    limit,
                    cost,
                    depth,
                },
            };
            if cost > limits.max_cost_per_value {
                return Err(too_costly(Budget::Cost, limits.max_cost_per_value, cost));
            }
            if nesting > limits.max_evaluation_nesting {
                return Err(too_costly(
                    Budget::Nesting,
                    limits.max_evaluation_nesting,
                    nesting,
                ));
            }
        }
        Ok(worst)
    }

    /// For each depth `d` in `0..=max_depth`: the most evaluations (`v` and `e` of the
    /// crate docs) at one value `d` levels below the root of a checked value, each
    /// counted as its node's weight if `weighted` (else 1), and the most evaluations
    /// nested inside each other on the way to it. Saturating.
    ///
    /// # Errors
    /// `ReferenceLoop`.
    fn worst_case(&self, max_depth: usize, weighted: bool) -> Result<Vec<Cost>, SchemaError> {
        let order = self.in_place_order()?;
        let n = self.edges.len();
        // Per node: (v, e, nesting) at the previous and the current depth.
        let mut prev = vec![(0u64, 0u64, 0u64); n];
        let mut cur = vec![(0u64, 0u64, 0u64); n];
        let mut worst = Vec::with_capacity(max_depth + 1);
        for depth in 0..=max_depth {
            for &node in &order {
                let own = match (depth, weighted) {
                    (0, true) => self.weights.get(node).copied().unwrap_or(1),
                    (0, false) => 1,
                    _ => 0,
                };
                let (mut v, mut e, mut nest) = (own, own, 0u64);
                let mut child = Child::default();
                for &(edge, target) in self.edges.get(node).map_or(&[][..], Vec::as_slice) {
                    if edge.in_place() {
                        let (tv, te, tn) = cur.get(target).copied().unwrap_or_default();
                        v = v.saturating_add(tv);
                        e = e.saturating_add(match edge {
                            Edge::Alternative => tv.saturating_add(te),
                            Edge::Test => tv,
                            _ => te,
                        });
                        nest = nest.max(tn);
                    } else if depth > 0 {
                        let below = prev.get(target).copied().unwrap_or_default();
                        child.add(edge, below);
                        nest = nest.max(below.2);
                    }
                }
                let (cv, ce) = child.worst();
                let entry = (
                    v.saturating_add(cv),
                    e.saturating_add(ce),
                    nest.saturating_add(1),
                );
                if let Some(slot) = cur.get_mut(node) {
                    *slot = entry;
                }
            }
            let (v, e, nest) = cur.first().copied().unwrap_or_default();
            worst.push(Cost {
                validate: v,
                explain: e,
                nesting: nest,
            });
            std::mem::swap(&mut prev, &mut cur);
        }
        Ok(worst)
    }

    /// Nodes ordered so that in-place targets come before the nodes applying them.
    ///
    /// # Errors
    /// `ReferenceLoop` naming a `$ref` on a loop of in-place applications.
    fn in_place_order(&self) -> Result<Vec<usize>, SchemaError> {
        self.order(Edge::in_place)
            .map_err(|(path, reference)| SchemaError {
                path: fragment(&path),
                kind: SchemaErrorKind::ReferenceLoop { reference },
            })
    }

    /// Checks that no `$ref` recurses. `jsonschema` compiles a recursive `$ref` lazily,
    /// one copy of its target per path an instance takes through it, and keeps every
    /// copy: memory that values checked later could grow without bound.
    ///
    /// Returns the nodes, targets before the nodes holding them.
    ///
    /// # Errors
    /// `ReferenceLoop` (a loop that stays on one value) or `Recursive`, naming a `$ref`
    /// on the loop.
    fn check_recursion(&self) -> Result<Vec<usize>, SchemaError> {
        self.in_place_order()?;
        self.order(|_| true)
            .map_err(|(path, reference)| SchemaError {
                path: fragment(&path),
                kind: SchemaErrorKind::Recursive { reference },
            })
    }

    /// Bounds the size of the schema with every `$ref` replaced by a copy of its target:
    /// what `jsonschema` compiles (it inlines the first use of a target and compiles each
    /// later one on first use).
    ///
    /// # Errors
    /// Those of [`Graph::check_recursion`], then `TooLarge`.
    fn check_unfolded(&self, limits: &Limits) -> Result<(), SchemaError> {
        let order = self.check_recursion()?;
        let mut unfolded = vec![0u64; self.edges.len()];
        for &node in &order {
            let own = self.units.get(node).copied().unwrap_or(1);
            let size = self
                .edges
                .get(node)
                .map_or(&[][..], Vec::as_slice)
                .iter()
                .fold(own, |sum, &(_, target)| {
                    sum.saturating_add(unfolded.get(target).copied().unwrap_or(0))
                });
            if let Some(slot) = unfolded.get_mut(node) {
                *slot = size;
            }
        }
        let size = unfolded.first().copied().unwrap_or(0);
        if size > limits.max_unfolded_units {
            return Err(SchemaError {
                path: "#".to_owned(),
                kind: SchemaErrorKind::TooLarge {
                    what: "units once every `$ref` is replaced by its target",
                    limit: usize::try_from(limits.max_unfolded_units).unwrap_or(usize::MAX),
                    used: usize::try_from(size).unwrap_or(usize::MAX),
                },
            });
        }
        Ok(())
    }

    /// Nodes ordered so that the targets of the edges `follows` accepts come before the
    /// nodes holding them (Kahn's algorithm).
    ///
    /// # Errors
    /// If those edges loop: the path and text of a `$ref` on the loop.
    fn order(&self, follows: fn(Edge) -> bool) -> Result<Vec<usize>, (String, String)> {
        let n = self.edges.len();
        let mut pending_targets = vec![0usize; n];
        let mut holders: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (node, edges) in self.edges.iter().enumerate() {
            for &(edge, target) in edges {
                if follows(edge) {
                    if let Some(count) = pending_targets.get_mut(node) {
                        *count += 1;
                    }
                    if let Some(list) = holders.get_mut(target) {
                        list.push(node);
                    }
                }
            }
        }
        let mut ready: Vec<usize> = (0..n)
            .filter(|&i| pending_targets.get(i) == Some(&0))
            .collect();
        let mut order = Vec::with_capacity(n);
        while let Some(node) = ready.pop() {
            order.push(node);
            for &holder in holders.get(node).map_or(&[][..], Vec::as_slice) {
                if let Some(count) = pending_targets.get_mut(holder) {
                    *count -= 1;
                    if *count == 0 {
                        ready.push(holder);
                    }
                }
            }
        }
        if order.len() == n {
            return Ok(order);
        }
        // Every node left has a target left: follow them until one repeats.
        let left = |i: usize| pending_targets.get(i).is_some_and(|&c| c > 0);
        let mut seen = vec![false; n];
        let mut node = (0..n).find(|&i| left(i)).unwrap_or(0);
        let mut path = Vec::new();
        while !seen.get(node).copied().unwrap_or(true) {
            if let Some(s) = seen.get_mut(node) {
                *s = true;
            }
            path.push(node);
            let next = self.edges.get(node).and_then(|edges| {
                edges
                    .iter()
                    .find(|&&(edge, target)| follows(edge) && left(target))
                    .map(|&(_, target)| target)
            });
            match next {
                Some(next) => node = next,
                None => break,
            }
        }
        let start = path.iter().position(|&p| p == node).unwrap_or(0);
        let cycle = path.get(start..).unwrap_or(&[]);
        let culprit = self
            .refs
            .iter()
            .find(|(from, to, _, _)| cycle.contains(from) && cycle.contains(to));
        Err(culprit
            .or_else(|| self.refs.iter().find(|(from, _, _, _)| left(*from)))
            .map_or((String::new(), "#".to_owned()), |(_, _, p, r)| {
                (p.clone(), r.clone())
            }))
    }
}

/// The worst case at one depth: see [`Graph::worst_case`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Cost {
    /// `v`: evaluations by `is_valid`.
    validate: u64,
    /// `e`: evaluations by `iter_errors`, which explains a failure.
    explain: u64,
    /// Evaluations nested inside each other.
    nesting: u64,
}

/// The child applications of one node, for `child(S, d)`.
#[derive(Default)]
struct Child {
    property: (u64, u64),
    patterns: (u64, u64),
    additional: (u64, u64),
    item: (u64, u64),
    contains: u64,
}

impl Child {
    fn add(&mut self, edge: Edge, (v, e, _): (u64, u64, u64)) {
        let max = |slot: &mut (u64, u64)| *slot = (slot.0.max(v), slot.1.max(e));
        match edge {
            Edge::Property => max(&mut self.property),
            Edge::AdditionalProperties => max(&mut self.additional),
            Edge::PrefixItem | Edge::Items => max(&mut self.item),
            Edge::PatternProperty => {
                self.patterns = (
                    self.patterns.0.saturating_add(v),
                    self.patterns.1.saturating_add(e),
                );
            }
            Edge::Contains => self.contains = self.contains.saturating_add(v),
            Edge::Alternative | Edge::Conjunct | Edge::Test => {}
        }
    }

    /// `(child_v, child_e)`: the worst single child.
    fn worst(&self) -> (u64, u64) {
        let keyed = (
            self.property.0.saturating_add(self.patterns.0),
            self.property.1.saturating_add(self.patterns.1),
        );
        let item = (
            self.item.0.saturating_add(self.contains),
            self.item.1.saturating_add(self.contains),
        );
        (
            keyed.0.max(self.additional.0).max(item.0),
            keyed.1.max(self.additional.1).max(item.1),
        )
    }
}

impl Walk<'_> {
    /// Checks one subschema at `path` and returns its node.
    fn schema(&mut self, schema: &Value, path: &str, root: bool) -> Result<usize, SchemaError> {
        let node = self.edges.len();
        if node >= self.limits.max_subschemas {
            return Err(SchemaError {
                path: fragment(path),
                kind: SchemaErrorKind::TooLarge {
                    what: "subschemas",
                    limit: self.limits.max_subschemas,
                    used: node + 1,
                },
            });
        }
        self.edges.push(Vec::new());
        self.weights.push(1);
        self.units.push(1);
        let map = match schema {
            Value::Bool(_) => return Ok(node),
            Value::Object(map) => map,
            _ => {
                return Err(SchemaError {
                    path: fragment(path),
                    kind: SchemaErrorKind::BadValue {
                        keyword: path.rsplit('/').next().unwrap_or_default().to_owned(),
                        expected: "a schema (an object, or `true`/`false`)",
                    },
                });
            }
        };
        let weight = map.iter().fold(1u64, |sum, (keyword, value)| {
            sum.saturating_add(entries(keyword, value))
        });
        if let Some(slot) = self.weights.get_mut(node) {
            *slot = weight;
        }
        let units = map.iter().fold(1u64, |sum, (keyword, value)| {
            let own = match rule(keyword) {
                Ok(Rule::Schema | Rule::SchemaArray | Rule::SchemaMap | Rule::Defs) => 0,
                _ => json_units(value),
            };
            sum.saturating_add(1).saturating_add(own)
        });
        if let Some(slot) = self.units.get_mut(node) {
            *slot = units;
        }
        // Document order is serde_json's (sorted keys); errors name the first in it.
        for (keyword, value) in map {
            let at = format!("{path}/{}", pointer_token(keyword));
            let bad = |expected| SchemaError {
                path: fragment(&at),
                kind: SchemaErrorKind::BadValue {
                    keyword: keyword.clone(),
                    expected,
                },
            };
            let rule = rule(keyword).map_err(|hint| SchemaError {
                path: fragment(&at),
                kind: SchemaErrorKind::UnsupportedKeyword {
                    keyword: keyword.clone(),
                    hint,
                },
            })?;
            let edge = Edge::of(keyword);
            match rule {
                Rule::Schema => {
                    let target = self.schema(value, &at, false)?;
                    self.link(node, edge, target);
                }
                Rule::SchemaArray => {
                    let items = value
                        .as_array()
                        .filter(|items| !items.is_empty())
                        .ok_or_else(|| bad("a non-empty array of schemas"))?;
                    for (i, item) in items.iter().enumerate() {
                        let target = self.schema(item, &format!("{at}/{i}"), false)?;
                        self.link(node, edge, target);
                    }
                }
                Rule::SchemaMap | Rule::Defs => {
                    if matches!(rule, Rule::Defs) && !root {
                        return Err(self.unsupported(&at, keyword, "put `$defs` at the root"));
                    }
                    let entries = value
                        .as_object()
                        .ok_or_else(|| bad("an object whose values are schemas"))?;
                    for (name, sub) in entries {
                        let sub_at = format!("{at}/{}", pointer_token(name));
                        if keyword == "patternProperties" {
                            self.pattern(name, &sub_at)?;
                        }
                        if matches!(rule, Rule::Defs) && !is_def_name(name) {
                            return Err(SchemaError {
                                path: fragment(&sub_at),
                                kind: SchemaErrorKind::BadValue {
                                    keyword: keyword.clone(),
                                    expected: "entries named with letters, digits, `_`, \
                                               `-` and `.` only",
                                },
                            });
                        }
                        let target = self.schema(sub, &sub_at, false)?;
                        if matches!(rule, Rule::Defs) {
                            self.defs.insert(name.clone(), target);
                        } else {
                            self.link(node, edge, target);
                        }
                    }
                }
                Rule::Ref => {
                    let reference = value.as_str().ok_or_else(|| bad("a string"))?;
                    self.refs.push(PendingRef {
                        from: node,
                        path: at.clone(),
                        reference: reference.to_owned(),
                    });
                }
                Rule::Type => {
                    let is_type = |v: &Value| {
                        v.as_str().is_some_and(|t| {
                            matches!(
                                t,
                                "null"
                                    | "boolean"
                                    | "object"
                                    | "array"
                                    | "number"
                                    | "string"
                                    | "integer"
                            )
                        })
                    };
                    let ok = is_type(value)
                        || value
                            .as_array()
                            .is_some_and(|a| !a.is_empty() && a.iter().all(is_type));
                    if !ok {
                        return Err(bad(
                            "a type name (null, boolean, object, array, number, string, \
                             integer) or a non-empty array of them",
                        ));
                    }
                }
                Rule::Count => {
                    value
                        .as_u64()
                        .ok_or_else(|| bad("a non-negative integer"))?;
                }
                Rule::Number => {
                    if !value.is_number() {
                        return Err(bad("a number"));
                    }
                }
                Rule::Positive => {
                    if !value.as_f64().is_some_and(|x| x > 0.0) {
                        return Err(bad("a number greater than 0"));
                    }
                }
                Rule::Names => {
                    if !is_names(value) {
                        return Err(bad("an array of property names"));
                    }
                }
                Rule::DependentRequired => {
                    if !value.as_object().is_some_and(|m| m.values().all(is_names)) {
                        return Err(bad("an object whose values are arrays of property names"));
                    }
                }
                Rule::Pattern => {
                    let pattern = value.as_str().ok_or_else(|| bad("a string"))?;
                    self.pattern(pattern, &at)?;
                }
                Rule::Text => {
                    if !value.is_string() {
                        return Err(bad("a string"));
                    }
                }
                Rule::Flag => {
                    if !value.is_boolean() {
                        return Err(bad("`true` or `false`"));
                    }
                }
                Rule::Values => {
                    if !value.is_array() {
                        return Err(bad("an array"));
                    }
                }
                Rule::Any => {}
                Rule::RootText => {
                    if !root {
                        return Err(self.unsupported(
                            &at,
                            keyword,
                            "it is accepted at the root only (sub-resources are not supported)",
                        ));
                    }
                    let text = value.as_str().ok_or_else(|| bad("a string"))?;
                    if keyword == "$schema" && text.trim_end_matches('#') != DRAFT_2020_12 {
                        return Err(bad(
                            "\"https://json-schema.org/draft/2020-12/schema\": Morph schemas \
                             are a subset of draft 2020-12",
                        ));
                    }
                }
            }
        }
        Ok(node)
    }

    fn link(&mut self, node: usize, edge: Option<Edge>, target: usize) {
        if let (Some(edge), Some(edges)) = (edge, self.edges.get_mut(node)) {
            edges.push((edge, target));
        }
    }

    fn unsupported(&self, at: &str, keyword: &str, hint: &'static str) -> SchemaError {
        SchemaError {
            path: fragment(at),
            kind: SchemaErrorKind::UnsupportedKeyword {
                keyword: keyword.to_owned(),
                hint,
            },
        }
    }

    /// Checks that `pattern` compiles with the linear-time engine within the size bound.
    ///
    /// `jsonschema` first rewrites ECMA-262 classes (`\d` to ASCII digits, ...), then
    /// compiles with the same engine; this check gives the precise reason, and
    /// `jsonschema`'s own refusal (`Rejected`) remains for what the rewriting changes.
    fn pattern(&self, pattern: &str, at: &str) -> Result<(), SchemaError> {
        regex::RegexBuilder::new(pattern)
            .size_limit(self.limits.max_regex_bytes)
            .dfa_size_limit(self.limits.max_regex_bytes)
            .build()
            .map(drop)
            .map_err(|e| SchemaError {
                path: fragment(at),
                kind: SchemaErrorKind::BadPattern {
                    // Shown with `{:?}`, which escapes it.
                    pattern: cut(pattern),
                    why: shorten(&e.to_string()),
                },
            })
    }
}

/// What one evaluation of `keyword` walks in the schema: its list's length, or for
/// `enum` and `const` the values compared (JSON nodes). Annotations walk nothing.
fn entries(keyword: &str, value: &Value) -> u64 {
    let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    match (keyword, value) {
        ("enum" | "const", v) => count(json_nodes(v)),
        ("type" | "required" | "allOf" | "anyOf" | "oneOf" | "prefixItems", Value::Array(a)) => {
            count(a.len())
        }
        ("properties" | "patternProperties", Value::Object(m)) => count(m.len()),
        ("dependentRequired", Value::Object(m)) => count(
            m.values()
                .map(|names| names.as_array().map_or(0, Vec::len).saturating_add(1))
                .sum(),
        ),
        _ => 0,
    }
}

/// The size of `value` in units: 1 per JSON value, plus 1 per [`BYTES_PER_UNIT`] of
/// strings and keys. Iterative.
fn json_units(value: &Value) -> u64 {
    let units = |bytes: usize| u64::try_from(bytes / BYTES_PER_UNIT).unwrap_or(u64::MAX);
    let mut total = 0u64;
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        total = total.saturating_add(1);
        match value {
            Value::String(text) => total = total.saturating_add(units(text.len())),
            Value::Array(items) => stack.extend(items.iter()),
            Value::Object(map) => {
                let keys: usize = map.keys().map(String::len).sum();
                total = total.saturating_add(units(keys));
                stack.extend(map.values());
            }
            _ => {}
        }
    }
    total
}

/// The number of JSON values in `value`, itself included. Iterative.
fn json_nodes(value: &Value) -> usize {
    let mut count = 0usize;
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        count = count.saturating_add(1);
        match value {
            Value::Array(items) => stack.extend(items.iter()),
            Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    count
}

/// Whether `value` is an array of strings.
fn is_names(value: &Value) -> bool {
    value
        .as_array()
        .is_some_and(|names| names.iter().all(Value::is_string))
}

/// `$defs` names that read the same as a JSON pointer token and in a URI fragment.
fn is_def_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compile(schema: &Value) -> Result<Schema, SchemaError> {
        Schema::compile(&schema.to_string())
    }

    fn refused(schema: &Value) -> SchemaError {
        match compile(schema) {
            Ok(_) => panic!("accepted {schema}"),
            Err(e) => e,
        }
    }

    /// A value nested `depth` arrays deep around `leaf`.
    fn nested(depth: usize, leaf: &str) -> Value {
        serde_json::from_str(&format!("{}{leaf}{}", "[".repeat(depth), "]".repeat(depth))).unwrap()
    }

    // Text checks: a schema that accepts everything still needs JSON (checked without
    // building the value), and the same limits hold on either path.
    #[test]
    fn check_text_takes_the_short_path_only_for_schemas_that_accept_everything() {
        for any in [json!({}), json!(true)] {
            let schema = compile(&any).unwrap();
            assert!(schema.accepts_all.is_some(), "{any}");
            schema.check_text(r#"{"x":[1,2,{"y":null}]}"#).unwrap();
            assert!(matches!(
                schema.check_text("{\"x\":"),
                Err(TextViolation::NotJson(_))
            ));
            // Deep text takes the full path and gets its answer.
            assert!(matches!(
                schema.check_text(&format!("{}1{}", "[".repeat(200), "]".repeat(200))),
                Err(TextViolation::NotJson(_))
            ));
            assert!(matches!(
                schema.check_text(&format!("{}1{}", "[".repeat(100), "]".repeat(100))),
                Err(TextViolation::Violation(Violation::TooDeep { .. }))
            ));
            assert_eq!(nesting(r#"{"a":"[[[{{","b":[[1],{"c":"\"]"}]}"#), 3);
        }
        let typed = compile(&json!({"type": "object"})).unwrap();
        assert!(typed.accepts_all.is_none());
        typed.check_text("{}").unwrap();
        assert!(matches!(
            typed.check_text("[1]"),
            Err(TextViolation::Violation(Violation::Mismatch { .. }))
        ));
        assert!(matches!(
            typed.check_text("nope"),
            Err(TextViolation::NotJson(_))
        ));
    }

    // Issue 7: a backtracking pattern under `unevaluatedProperties` made jsonschema
    // unwrap a fancy-regex error. The keyword is outside the dialect, and so is the
    // backreference that makes fancy-regex backtrack.
    #[test]
    fn backtracking_pattern_under_unevaluated_properties_is_refused() {
        let e = refused(&json!({
            "patternProperties": {"^(a+)+\\1$": {"type": "string"}},
            "unevaluatedProperties": false
        }));
        assert_eq!(e.path, "#/patternProperties/^(a+)+\\1$");
        assert!(
            matches!(e.kind, SchemaErrorKind::BadPattern { .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("backreferences"), "{e}");

        let e = refused(&json!({
            "patternProperties": {"(a+)+$": {"type": "string"}},
            "unevaluatedProperties": false
        }));
        assert_eq!(e.path, "#/unevaluatedProperties");
        assert_eq!(
            e.kind,
            SchemaErrorKind::UnsupportedKeyword {
                keyword: "unevaluatedProperties".to_owned(),
                hint: rule("unevaluatedProperties").err().unwrap(),
            }
        );
        assert!(e.to_string().contains("use `additionalProperties`"), "{e}");
    }

    // The same attack on the dialect's own keywords: patterns run on the linear-time
    // engine, so a pathological key is just a mismatch.
    #[test]
    fn nested_quantifiers_run_in_linear_time() {
        let schema = compile(&json!({
            "patternProperties": {"^(a+)+$": {"type": "string"}},
            "additionalProperties": false
        }))
        .unwrap();
        let mut map = serde_json::Map::new();
        map.insert(format!("{}b", "a".repeat(10_000)), json!(1));
        let e = schema.check(&Value::Object(map)).unwrap_err();
        assert!(matches!(e, Violation::Mismatch { .. }), "{e:?}");
        assert!(e.to_string().len() < 4 * MAX_MESSAGE_CHARS, "{e}");
    }

    // The unchecked library really does panic on it: this is what the dialect prevents,
    // and what `catch_unwind` would turn into an error if it slipped through.
    #[test]
    fn upstream_still_panics_on_the_attack() {
        let schema = json!({
            "patternProperties": {"^(a+)+\\1$": {"type": "string"}},
            "unevaluatedProperties": false
        });
        let validator = jsonschema::validator_for(&schema).unwrap();
        let mut map = serde_json::Map::new();
        map.insert(format!("{}b", "a".repeat(40)), json!(1));
        let instance = Value::Object(map);
        let caught = catch_unwind(AssertUnwindSafe(|| validator.is_valid(&instance)));
        let message = panic_message(&*caught.unwrap_err());
        assert!(message.contains("BacktrackLimitExceeded"), "{message}");
    }

    // Issue 7: `anyOf` whose branches both recurse doubles the work at every level.
    // Recursion is refused outright (jsonschema unrolls it lazily and keeps every copy);
    // the same doubling through a chain of `$defs` is refused by the budget.
    #[test]
    fn exponential_any_of_is_refused_at_compile_time() {
        let e = refused(&json!({
            "$defs": {"n": {"anyOf": [
                {"type": "array", "items": {"$ref": "#/$defs/n"}},
                {"type": "array", "items": {"$ref": "#/$defs/n"}}
            ]}},
            "$ref": "#/$defs/n"
        }));
        assert_eq!(
            e.kind,
            SchemaErrorKind::Recursive {
                reference: "#/$defs/n".to_owned()
            }
        );
        assert!(e.path.starts_with("#/$defs/n/anyOf/"), "{e:?}");
        assert!(e.to_string().contains("may not recurse"), "{e}");

        let e = refused(&doubling_chain(20));
        let SchemaErrorKind::TooCostly {
            budget,
            limit,
            depth,
            ..
        } = e.kind
        else {
            panic!("{e:?}")
        };
        assert_eq!(budget, Budget::Cost);
        assert_eq!(limit, LIMITS.max_cost_per_value);
        assert!((5..=10).contains(&depth), "refused at depth {depth}");
        assert!(e.to_string().contains("multiplies it again"), "{e}");
    }

    /// The attack without recursion: `$defs` `n0`..`n{levels}`, each an `anyOf` of two
    /// arrays whose items are the next.
    fn doubling_chain(levels: usize) -> Value {
        let mut defs = serde_json::Map::new();
        for i in 0..levels {
            let next = json!({"type": "array", "items": {"$ref": format!("#/$defs/n{}", i + 1)}});
            defs.insert(format!("n{i}"), json!({"anyOf": [next.clone(), next]}));
        }
        defs.insert(format!("n{levels}"), json!({"type": "array"}));
        json!({"$defs": defs, "$ref": "#/$defs/n0"})
    }

    // A loop of `$ref`s that never descends would recurse until the stack overflows
    // (an abort, not a panic): refused, naming the reference.
    #[test]
    fn reference_loop_is_refused() {
        let e = refused(&json!({
            "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"allOf": [{"$ref": "#/$defs/a"}]}},
            "$ref": "#/$defs/a"
        }));
        assert!(
            matches!(e.kind, SchemaErrorKind::ReferenceLoop { .. }),
            "{e:?}"
        );
        assert!(e.path.starts_with("#/$defs/"), "{e:?}");
        let e = refused(&json!({"not": {"$ref": "#"}}));
        assert_eq!(e.path, "#/not/$ref");
        assert!(e.to_string().contains("never end"), "{e}");
    }

    // A recursive tree schema is refused with a way out; a wide one-level union is fine.
    #[test]
    fn recursion_is_refused_and_a_wide_union_is_accepted() {
        let e = refused(&json!({
            "$defs": {"node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}
                }
            }},
            "$ref": "#/$defs/node"
        }));
        assert_eq!(e.path, "#/$defs/node/properties/children/items/$ref");
        assert!(matches!(e.kind, SchemaErrorKind::Recursive { .. }), "{e:?}");
        assert!(
            e.to_string().contains("leave the recursive part open"),
            "{e}"
        );
        let e = refused(&json!({"properties": {"next": {"$ref": "#"}}}));
        assert_eq!(e.path, "#/properties/next/$ref");

        let variants: Vec<Value> = (0..20)
            .map(|i| {
                json!({
                    "type": "object",
                    "properties": {"kind": {"const": format!("k{i}")}, "data": {"$ref": "#/$defs/data"}},
                    "required": ["kind"]
                })
            })
            .collect();
        let union = compile(&json!({
            "$defs": {"data": {"type": "object", "additionalProperties": {"type": "string"}}},
            "oneOf": variants
        }))
        .unwrap();
        assert_eq!(
            union.check(&json!({"kind": "k7", "data": {"a": "b"}})),
            Ok(())
        );
        assert!(union.check(&json!({"kind": "k99"})).is_err());
    }

    // The schemas of extensions/hello and extensions/adversary, and the defaults.
    #[test]
    fn sample_schemas_compile_and_check_as_before() {
        let greet_in = compile(&json!({
            "type": "object",
            "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 200}},
            "required": ["name"],
            "additionalProperties": false
        }))
        .unwrap();
        assert_eq!(greet_in.check(&json!({"name": "Ada"})), Ok(()));
        let e = greet_in.check(&json!({"name": "Ada", "x": 1})).unwrap_err();
        assert!(e.to_string().contains("Additional properties"), "{e}");
        let e = greet_in.check(&json!({})).unwrap_err();
        assert_eq!(e.to_string(), "\"name\" is a required property");

        let greet_out = compile(&json!({
            "type": "object",
            "properties": {
                "greeting": {"type": "string"},
                "count": {"type": "integer", "minimum": 1}
            },
            "required": ["greeting", "count"]
        }))
        .unwrap();
        assert_eq!(
            greet_out.check(&json!({"greeting": "hi", "count": 1})),
            Ok(())
        );
        let e = greet_out
            .check(&json!({"greeting": "hi", "count": 0}))
            .unwrap_err();
        assert_eq!(e.to_string(), "at /count: 0 is less than the minimum of 1");

        let count_words = compile(&json!({
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"]
        }))
        .unwrap();
        assert_eq!(count_words.check(&json!({"text": "a b"})), Ok(()));

        let n = compile(&json!(
            {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}, "required": ["n"]}
        ))
        .unwrap();
        assert_eq!(n.check(&json!({"n": 3})), Ok(()));
        assert!(n.check(&json!({"n": -1})).is_err());

        let greeted = compile(&json!({
            "type": "object", "properties": {"name": {"type": "string"}}
        }))
        .unwrap();
        assert_eq!(greeted.check(&json!({"name": "Ada"})), Ok(()));

        // `ActionInfo`'s default schemas.
        let any = Schema::compile("{}").unwrap();
        assert_eq!(any.check(&json!([1, {"a": null}])), Ok(()));
        assert_eq!(Schema::compile("true").unwrap().check(&json!(1)), Ok(()));
    }

    // A realistic schema using most of the dialect.
    #[test]
    fn the_dialect_is_usable() {
        let schema = compile(&json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://example.com/issue.json",
            "title": "Issue",
            "description": "An issue to file.",
            "$comment": "kept in sync with the tracker",
            "type": "object",
            "properties": {
                "title": {"type": "string", "minLength": 1, "maxLength": 120},
                "labels": {"type": "array", "items": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$"},
                           "uniqueItems": true, "maxItems": 10},
                "priority": {"enum": ["low", "normal", "high"], "default": "normal"},
                "estimate": {"type": ["number", "null"], "minimum": 0, "exclusiveMaximum": 1000,
                             "multipleOf": 0.5},
                "due": {"type": "string", "format": "date"},
                "point": {"type": "array", "prefixItems": [{"type": "number"}, {"type": "number"}],
                          "items": false, "minItems": 2},
                "meta": {"type": "object", "patternProperties": {"^x-": {"type": "string"}},
                         "additionalProperties": false, "maxProperties": 8},
                "assignee": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/user"}]},
                "kind": {"const": "issue"}
            },
            "required": ["title"],
            "dependentRequired": {"due": ["estimate"]},
            "if": {"properties": {"priority": {"const": "high"}}},
            "then": {"required": ["assignee"]},
            "not": {"required": ["id"]},
            "allOf": [{"contains": {"const": 1}, "minContains": 0}],
            "$defs": {"user": {"type": "object", "properties": {"login": {"type": "string"}},
                               "required": ["login"], "examples": [{"login": "ada"}],
                               "deprecated": false, "readOnly": true}}
        }))
        .unwrap();
        let good = json!({
            "title": "Crash", "labels": ["bug"], "priority": "high", "estimate": 1.5,
            "due": "not-a-date (format is annotation only)", "point": [1, 2],
            "meta": {"x-a": "b"}, "assignee": {"login": "ada"}, "kind": "issue"
        });
        assert_eq!(schema.check(&good), Ok(()));
        let bad = json!({"title": "Crash", "priority": "high", "labels": ["Bug"]});
        let e = schema.check(&bad).unwrap_err();
        assert!(
            e.to_string()
                .contains("\"assignee\" is a required property"),
            "{e}"
        );
        assert!(e.to_string().contains("at /labels/0"), "{e}");
    }

    #[test]
    fn unknown_and_unsupported_keywords_are_refused_with_a_hint() {
        let e = refused(&json!({"properties": {"a": {"type": "string", "nulable": true}}}));
        assert_eq!(e.path, "#/properties/a/nulable");
        assert!(matches!(
            &e.kind,
            SchemaErrorKind::UnsupportedKeyword { keyword, .. } if keyword == "nulable"
        ));
        assert!(
            e.to_string().starts_with(
                "uses `nulable` at #/properties/a/nulable, which is not in the Morph schema dialect"
            ),
            "{e}"
        );

        for (schema, keyword, hint) in [
            (json!({"definitions": {}}), "definitions", "`$defs`"),
            (
                json!({"propertyNames": {"maxLength": 3}}),
                "propertyNames",
                "patternProperties",
            ),
            (
                json!({"items": {"$dynamicRef": "#x"}}),
                "$dynamicRef",
                "`$ref`",
            ),
            (
                json!({"unevaluatedItems": false}),
                "unevaluatedItems",
                "`items`",
            ),
            (
                json!({"properties": {"a": {"$defs": {}}}}),
                "$defs",
                "at the root",
            ),
            (json!({"items": {"$id": "x"}}), "$id", "root only"),
        ] {
            let e = refused(&schema);
            assert!(
                matches!(&e.kind, SchemaErrorKind::UnsupportedKeyword { keyword: k, .. } if k == keyword),
                "{schema}: {e:?}"
            );
            assert!(e.to_string().contains(hint), "{schema}: {e}");
        }
        // A property *named* like a keyword is data, not a keyword.
        assert!(compile(&json!({"properties": {"unevaluatedProperties": {}, "$ref": {}}})).is_ok());
        // So are `const`, `default` and `enum` values.
        assert!(compile(&json!({"default": {"$ref": "https://evil.example/"}})).is_ok());
    }

    #[test]
    fn bad_keyword_values_are_refused() {
        for (schema, path) in [
            (json!({"type": "text"}), "#/type"),
            (json!({"items": [{"type": "string"}]}), "#/items"),
            (json!({"anyOf": []}), "#/anyOf"),
            (json!({"minLength": -1}), "#/minLength"),
            (json!({"multipleOf": 0}), "#/multipleOf"),
            (json!({"required": [1]}), "#/required"),
            (
                json!({"$schema": "http://json-schema.org/draft-07/schema#"}),
                "#/$schema",
            ),
            (json!({"$defs": {"a b": {}}}), "#/$defs/a b"),
        ] {
            let e = refused(&schema);
            assert!(
                matches!(e.kind, SchemaErrorKind::BadValue { .. }),
                "{schema}: {e:?}"
            );
            assert_eq!(e.path, path, "{schema}");
        }
        let e = refused(&json!({"pattern": "(?<=a)b"}));
        assert!(
            matches!(e.kind, SchemaErrorKind::BadPattern { .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("look-around"), "{e}");
    }

    #[test]
    fn references_stay_inside_the_schema() {
        for (schema, path, why) in [
            (
                json!({"$ref": "https://evil.example/s.json"}),
                "#/$ref",
                "outside itself",
            ),
            (
                json!({"items": {"$ref": "other.json#/x"}}),
                "#/items/$ref",
                "outside itself",
            ),
            (json!({"$ref": "#/properties/a"}), "#/$ref", "only `#` and"),
            (
                json!({"$ref": "#/$defs/missing"}),
                "#/$ref",
                "no such entry",
            ),
        ] {
            let e = refused(&schema);
            let SchemaErrorKind::BadReference { why: w, .. } = e.kind else {
                panic!("{schema}: {e:?}")
            };
            assert!(w.contains(why), "{schema}: {w}");
            assert_eq!(e.path, path, "{schema}");
        }
    }

    #[test]
    fn instance_depth_is_bounded_before_validation() {
        let schema = compile(&json!({})).unwrap();
        assert_eq!(schema.check(&nested(64, "1")), Ok(()));
        assert_eq!(
            schema.check(&nested(65, "1")),
            Err(Violation::TooDeep { limit: 64 })
        );
        assert!(
            Violation::TooDeep { limit: 64 }
                .to_string()
                .contains("more than 64 levels")
        );
        assert_eq!(json_depth(&json!(1), 10), 0);
        assert_eq!(json_depth(&json!([]), 10), 1);
        assert_eq!(json_depth(&json!({"a": [1, {"b": []}]}), 10), 4);
        assert_eq!(json_depth(&nested(100, "1"), 10), 11);
    }

    #[test]
    fn schema_size_is_bounded() {
        let big = format!(
            r#"{{"description": "{}"}}"#,
            "x".repeat(LIMITS.max_schema_bytes)
        );
        let e = Schema::compile(&big).unwrap_err();
        assert_eq!(
            e.kind,
            SchemaErrorKind::TooLarge {
                what: "bytes",
                limit: LIMITS.max_schema_bytes,
                used: big.len()
            }
        );

        let deep = format!("{}{{}}{}", r#"{"not":"#.repeat(40), "}".repeat(40));
        let e = Schema::compile(&deep).unwrap_err();
        assert!(
            matches!(
                e.kind,
                SchemaErrorKind::TooLarge {
                    what: "levels of nesting",
                    limit: 32,
                    ..
                }
            ),
            "{e:?}"
        );

        let many: serde_json::Map<String, Value> =
            (0..600).map(|i| (format!("p{i}"), json!({}))).collect();
        let e = refused(&json!({"properties": many}));
        assert_eq!(
            e.kind,
            SchemaErrorKind::TooLarge {
                what: "subschemas",
                limit: 512,
                used: 513
            }
        );

        let e = Schema::compile("{").unwrap_err();
        assert!(matches!(e.kind, SchemaErrorKind::NotJson { .. }), "{e:?}");
    }

    // In-place chains nest the validator's recursion at every level of the value.
    #[test]
    fn evaluation_nesting_is_bounded() {
        let mut defs = serde_json::Map::new();
        for i in 0..300 {
            defs.insert(
                format!("d{i}"),
                json!({"$ref": format!("#/$defs/d{}", i + 1)}),
            );
        }
        defs.insert("d300".to_owned(), json!({}));
        let e = refused(&json!({"$defs": defs, "$ref": "#/$defs/d0"}));
        assert!(
            matches!(
                e.kind,
                SchemaErrorKind::TooCostly {
                    budget: Budget::Nesting,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    // The doubling chain under a generous budget: validation works (and fails at the
    // bottom), and a value deeper than the budget's depth is refused unchecked.
    #[test]
    fn generous_limits_accept_what_default_ones_refuse() {
        let limits = Limits {
            max_instance_depth: 6,
            max_cost_per_value: 1 << 20,
            max_check_cost: u64::MAX,
            ..LIMITS
        };
        let schema = Schema::compile_with(&doubling_chain(6).to_string(), &limits).unwrap();
        let e = schema.check(&nested(6, "1")).unwrap_err();
        assert!(matches!(e, Violation::Mismatch { .. }), "{e:?}");
        assert_eq!(
            schema.check(&nested(7, "1")),
            Err(Violation::TooDeep { limit: 6 })
        );
    }

    // The per-check budget: a schema cheap per value, on a value with many of them.
    #[test]
    fn check_cost_is_bounded_before_validation() {
        let limits = Limits {
            max_check_cost: 10_000,
            ..LIMITS
        };
        let schema = Schema::compile_with(
            &json!({"type": "array", "items": {"type": "integer"}}).to_string(),
            &limits,
        )
        .unwrap();
        assert_eq!(schema.check(&json!(vec![0; 9999])), Ok(()));
        let e = schema.check(&json!(vec![0; 12_000])).unwrap_err();
        let Violation::TooCostly { limit, cost } = e else {
            panic!("{e:?}")
        };
        assert_eq!((limit, cost), (10_000, 12_001));
        assert!(e.to_string().contains("too large for the schema"), "{e}");
    }

    // A `$def` used many times is compiled as many times: bounded.
    #[test]
    fn unfolded_size_is_bounded() {
        let props: serde_json::Map<String, Value> = (0..100)
            .map(|i| (format!("p{i}"), json!({"$ref": "#/$defs/big"})))
            .collect();
        let schema = json!({
            "$defs": {"big": {"description": "x".repeat(60_000)}},
            "properties": props
        });
        let e = refused(&schema);
        assert!(
            matches!(e.kind, SchemaErrorKind::TooLarge { limit: 65_536, .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("every `$ref` is replaced"), "{e}");
    }

    // The deepest nesting accepted at every level of a 64-deep value (3 schema levels per
    // value level, 193 in all) needs about 128 KiB of stack unoptimized: it runs in a
    // quarter of a spawned thread's default 2 MiB. (The nesting limit, 256, is what keeps
    // a stack overflow, which aborts the process, out of reach.)
    #[test]
    fn accepted_nesting_fits_a_small_stack() {
        let mut defs = serde_json::Map::new();
        for i in 0..64 {
            let next = format!("#/$defs/d{}", i + 1);
            defs.insert(
                format!("d{i}"),
                json!({"items": {"allOf": [{"$ref": next}]}}),
            );
        }
        defs.insert("d64".to_owned(), json!({"type": "string", "minLength": 3}));
        let schema = compile(&json!({"$defs": defs, "$ref": "#/$defs/d0"})).unwrap();
        let value = nested(64, "\"x\"");
        let result = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(move || schema.check(&value))
            .unwrap()
            .join()
            .unwrap();
        assert!(
            matches!(result, Err(Violation::Mismatch { .. })),
            "{result:?}"
        );
    }

    /// Counts evaluations per instance value: a custom keyword added to every schema
    /// object runs once per evaluation of that object, in both modes.
    #[derive(Clone, Default)]
    struct Counter(Arc<std::sync::Mutex<HashMap<usize, u64>>>);

    impl jsonschema::Keyword for Counter {
        fn validate<'i>(
            &self,
            instance: &'i Value,
            _: &jsonschema::paths::LazyLocation<'_, '_>,
        ) -> Result<(), jsonschema::ValidationError<'i>> {
            self.is_valid(instance);
            Ok(())
        }
        fn is_valid(&self, instance: &Value) -> bool {
            let key = std::ptr::from_ref(instance) as usize;
            *self.0.lock().unwrap().entry(key).or_default() += 1;
            true
        }
    }

    /// `schema` with `"!count": true` in every schema object.
    fn instrumented(schema: &Value) -> Value {
        fn walk(schema: &Value) -> Value {
            let Value::Object(map) = schema else {
                return schema.clone();
            };
            let mut out = serde_json::Map::new();
            for (keyword, value) in map {
                let value = match (keyword.as_str(), value) {
                    ("properties" | "patternProperties" | "$defs", Value::Object(m)) => {
                        Value::Object(m.iter().map(|(k, v)| (k.clone(), walk(v))).collect())
                    }
                    ("allOf" | "anyOf" | "oneOf" | "prefixItems", Value::Array(a)) => {
                        Value::Array(a.iter().map(walk).collect())
                    }
                    (
                        "not"
                        | "if"
                        | "then"
                        | "else"
                        | "items"
                        | "contains"
                        | "additionalProperties",
                        v,
                    ) => walk(v),
                    (_, v) => v.clone(),
                };
                out.insert(keyword.clone(), value);
            }
            out.insert("!count".to_owned(), json!(true));
            Value::Object(out)
        }
        walk(schema)
    }

    /// The most evaluations jsonschema makes at one value per depth, running a check the
    /// way [`Schema::check`] does (`is_valid`, then `iter_errors` on failure).
    #[allow(clippy::result_large_err)] // the factory's signature is jsonschema's
    fn measured(schema: &Value, instance: &Value) -> Vec<u64> {
        let counter = Counter::default();
        let for_keyword = counter.clone();
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .with_pattern_options(jsonschema::PatternOptions::regex())
            .with_keyword("!count", move |_, _, _| {
                Ok(Box::new(for_keyword.clone()) as Box<dyn jsonschema::Keyword>)
            })
            .build(&instrumented(schema))
            .unwrap();
        if !validator.is_valid(instance) {
            let _ = validator.iter_errors(instance).count();
        }
        let counts = counter.0.lock().unwrap();
        let mut worst = Vec::new();
        let mut stack = vec![(instance, 0usize)];
        while let Some((value, depth)) = stack.pop() {
            if worst.len() <= depth {
                worst.resize(depth + 1, 0);
            }
            let count = counts.get(&(std::ptr::from_ref(value) as usize)).copied();
            worst[depth] = worst[depth].max(count.unwrap_or(0));
            match value {
                Value::Array(items) => stack.extend(items.iter().map(|v| (v, depth + 1))),
                Value::Object(map) => stack.extend(map.values().map(|v| (v, depth + 1))),
                _ => {}
            }
        }
        worst
    }

    /// The model's prediction per depth, for values up to `depth` deep.
    fn predicted(schema: &Value, depth: usize) -> Vec<u64> {
        let limits = Limits {
            max_instance_depth: depth,
            ..LIMITS
        };
        let graph = Graph::build(schema, &limits).unwrap();
        graph
            .worst_case(depth, false)
            .unwrap()
            .into_iter()
            .map(|c| c.validate + c.explain)
            .collect()
    }

    // The budget is an upper bound of what jsonschema 0.33 really does, and exact for
    // the attack: checked by counting evaluations with an instrumented copy of each
    // schema, on values built to fail at the bottom (the worst case for `anyOf`).
    #[test]
    fn cost_model_bounds_jsonschema() {
        let attack = json!({
            "$defs": {"n": {"anyOf": [
                {"type": "array", "items": {"$ref": "#/$defs/n"}},
                {"type": "array", "items": {"$ref": "#/$defs/n"}}
            ]}},
            "$ref": "#/$defs/n"
        });
        let chain = json!({
            "$defs": {"a": {"anyOf": [{"$ref": "#/$defs/b"}]}, "b": {"oneOf": [{"$ref": "#/$defs/c"}, {"type": "array"}]},
                      "c": {"not": {"type": "string"}, "allOf": [{"type": "integer"}, {"minimum": 5}]}},
            "items": {"$ref": "#/$defs/a"},
            "if": {"type": "array"}, "then": {"maxItems": 9}, "else": false
        });
        let tree = json!({
            "$defs": {"t": {"type": "object", "properties": {
                "v": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                "kids": {"type": "array", "items": {"$ref": "#/$defs/t"}}},
                "patternProperties": {"^k": {"type": "array"}, "^ki": {"maxItems": 1}},
                "additionalProperties": false}},
            "$ref": "#/$defs/t"
        });
        let mut deep_tree = json!({"v": null});
        for _ in 0..6 {
            deep_tree = json!({"v": 1, "kids": [deep_tree]});
        }
        for (name, schema, instance, depth) in [
            ("attack", &attack, nested(8, "1"), 8),
            ("chain", &chain, json!([1, 2, [3]]), 2),
            ("tree", &tree, deep_tree, 13),
        ] {
            let predicted = predicted(schema, depth);
            let measured = measured(schema, &instance);
            assert!(measured.iter().any(|&m| m > 0), "{name}: nothing counted");
            for (d, (&m, &p)) in measured.iter().zip(&predicted).enumerate() {
                assert!(m <= p, "{name}: depth {d}: measured {m} > predicted {p}");
            }
            if name == "attack" {
                // Exact: [10, 28, 72, 176, 416, 960, 2176, 4864, 10752].
                assert_eq!(measured, predicted, "{name}");
            }
        }
    }

    #[test]
    fn schema_is_send_sync_and_cheap_to_clone() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<Schema>();
    }

    // From morph-capabilities' copy (event payloads, configuration), where the gate
    // used to be repeated in part: the same checks, now typed.
    #[test]
    fn checks_values_and_names_the_violation() {
        let schema = compile(
            &json!({"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}),
        )
        .unwrap();
        assert_eq!(schema.check(&json!({"n": 1})), Ok(()));
        let e = schema.check(&json!({"n": "x"})).unwrap_err();
        assert!(matches!(e, Violation::Mismatch { .. }), "{e:?}");
        assert!(
            e.to_string().contains("/n") && e.to_string().contains("integer"),
            "{e}"
        );
        let e = schema.check(&json!({})).unwrap_err();
        assert_eq!(e.to_string(), "\"n\" is a required property");
    }

    #[test]
    fn bounds_hold_whatever_the_schema() {
        let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
        let e = Schema::compile(&deep).unwrap_err();
        assert_eq!(
            e.kind,
            SchemaErrorKind::TooLarge {
                what: "levels of nesting",
                limit: 32,
                used: 33
            }
        );
        let e = refused(&json!({"$ref": "https://example.com/schema.json"}));
        assert!(
            matches!(e.kind, SchemaErrorKind::BadReference { .. }),
            "{e:?}"
        );
        let schema = Schema::compile("true").unwrap();
        assert_eq!(
            schema.check(&nested(70, "1")),
            Err(Violation::TooDeep { limit: 64 })
        );
    }

    // A violation quotes the value and the schema, which come from the guest: control
    // characters in them are escaped before they reach a log, an audit record or a
    // terminal.
    #[test]
    fn control_characters_in_messages_are_escaped() {
        let schema = compile(&json!({"properties": {"a\u{1b}[2Jb": {"type": "integer"}}})).unwrap();
        let e = schema.check(&json!({"a\u{1b}[2Jb": "x"})).unwrap_err();
        let text = e.to_string();
        assert!(!text.contains(char::is_control), "{text:?}");
        assert!(text.contains("a\\u{1b}[2Jb"), "{text}");
        assert_eq!(shorten("a\nb\u{7}"), "a\\nb\\u{7}");
    }

    #[test]
    fn messages_are_shortened() {
        let schema = compile(&json!({"type": "integer"})).unwrap();
        let e = schema.check(&json!("x".repeat(10_000))).unwrap_err();
        assert!(
            e.to_string().len() <= MAX_MESSAGE_CHARS + 3,
            "{}",
            e.to_string().len()
        );
        assert_eq!(
            shorten("é".repeat(300).as_str()).chars().count(),
            MAX_MESSAGE_CHARS + 3
        );
    }
}
