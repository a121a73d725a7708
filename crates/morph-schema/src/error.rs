//! What the gate refuses: a schema ([`SchemaError`], at load) or a value
//! ([`Violation`], [`TextViolation`], at each check). Every case carries its facts as
//! fields; `Display` turns them into the end of a sentence for a person.

use std::fmt;

/// Why a schema was refused. `path` in [`SchemaError`] says where.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SchemaErrorKind {
    /// The text is not JSON.
    NotJson {
        /// serde_json's message.
        message: String,
    },
    /// A size bound of [`Limits`](crate::Limits) was exceeded.
    TooLarge {
        /// What was counted: "bytes", "levels of nesting", "subschemas".
        what: &'static str,
        /// The bound.
        limit: usize,
        /// What the schema has (at least).
        used: usize,
    },
    /// A keyword outside the Morph dialect.
    UnsupportedKeyword {
        /// The keyword.
        keyword: String,
        /// What to use instead.
        hint: &'static str,
    },
    /// A dialect keyword with a value of the wrong shape.
    BadValue {
        /// The keyword.
        keyword: String,
        /// What it takes.
        expected: &'static str,
    },
    /// A `$ref` other than `#` or `#/$defs/NAME` naming an existing entry.
    BadReference {
        /// The reference as written.
        reference: String,
        /// Why it is refused.
        why: &'static str,
    },
    /// A `$ref` that recurses: its target applies it again, directly or not.
    Recursive {
        /// The reference on the loop.
        reference: String,
    },
    /// `$ref`s that loop without descending into the value.
    ReferenceLoop {
        /// The reference that closes the loop.
        reference: String,
    },
    /// A `pattern` the linear-time regex engine does not accept.
    BadPattern {
        /// The pattern.
        pattern: String,
        /// The regex crate's reason.
        why: String,
    },
    /// The worst-case validation cost exceeds the budget.
    TooCostly {
        /// Which budget.
        budget: Budget,
        /// The bound.
        limit: u64,
        /// The schema's worst case (saturating).
        cost: u64,
        /// The instance depth at which the bound is first exceeded.
        depth: usize,
    },
    /// The dialect check passed but `jsonschema` refused the schema.
    Rejected {
        /// `jsonschema`'s message, shortened.
        message: String,
    },
    /// `jsonschema` panicked while compiling.
    Panicked {
        /// The panic message, shortened.
        message: String,
    },
}

/// A refused schema: where (a JSON pointer into the schema, `#/properties/a`) and why.
///
/// `Display` reads as the end of a sentence about the schema ("is not JSON: ...", "uses
/// `nullable` at #/properties/a, which is not in the Morph schema dialect; ..."), so a
/// caller writes "action `x` declares an input schema that {error}".
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SchemaError {
    /// JSON pointer to the offending keyword, as a URI fragment (`#` is the root).
    pub path: String,
    /// What is wrong.
    pub kind: SchemaErrorKind,
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = &self.path;
        match &self.kind {
            SchemaErrorKind::NotJson { message } => write!(f, "is not JSON: {message}"),
            SchemaErrorKind::TooLarge { what, limit, used } => write!(
                f,
                "is too large: {used} {what}, more than the {limit} Morph accepts (at {at})"
            ),
            SchemaErrorKind::UnsupportedKeyword { keyword, hint } => write!(
                f,
                "uses `{keyword}` at {at}, which is not in the Morph schema dialect; {hint}"
            ),
            SchemaErrorKind::BadValue { keyword, expected } => {
                write!(f, "has a bad `{keyword}` at {at}: it takes {expected}")
            }
            SchemaErrorKind::BadReference { reference, why } => write!(
                f,
                "has `$ref: {reference:?}` at {at}, which Morph refuses: {why}; \
                 refer to `#` or `#/$defs/NAME` in the same schema"
            ),
            SchemaErrorKind::Recursive { reference } => write!(
                f,
                "has `$ref: {reference:?}` at {at}, which recurses; Morph schemas may not \
                 recurse: describe nested data to a fixed depth, or leave the recursive \
                 part open (`{{}}`), Morph bounds the depth of values anyway"
            ),
            SchemaErrorKind::ReferenceLoop { reference } => write!(
                f,
                "has `$ref: {reference:?}` at {at}, which loops back to itself without \
                 descending into the value (validation would never end)"
            ),
            SchemaErrorKind::BadPattern { pattern, why } => write!(
                f,
                "has pattern {pattern:?} at {at}, which Morph refuses: patterns must be \
                 matchable in linear time (no look-around, no backreferences): {why}"
            ),
            SchemaErrorKind::TooCostly {
                budget,
                limit,
                cost,
                depth,
            } => {
                let cost = if *cost == u64::MAX {
                    "more than 2^64".to_owned()
                } else {
                    cost.to_string()
                };
                let (what, hint) = match budget {
                    Budget::Cost => (
                        "units of validation work per value",
                        "`anyOf`/`oneOf` branches multiply the work of what they hold, and \
                         nesting them multiplies it again at every level: tell branches \
                         apart early (by `type` or `const`) and share less below them",
                    ),
                    Budget::Nesting => (
                        "nested schema evaluations",
                        "shorten chains of `$ref`/`allOf`/`anyOf` that stay on one level of \
                         the value",
                    ),
                };
                write!(
                    f,
                    "could need {cost} {what} on a value {depth} levels deep, more than the \
                     {limit} Morph allows; {hint}"
                )
            }
            SchemaErrorKind::Rejected { message } => {
                write!(f, "is not a valid JSON Schema (at {at}): {message}")
            }
            SchemaErrorKind::Panicked { message } => {
                write!(f, "made the schema compiler fail (at {at}): {message}")
            }
        }
    }
}

impl std::error::Error for SchemaError {}

/// Which static budget a schema exceeds ([`SchemaErrorKind::TooCostly`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Budget {
    /// The work per value:
    /// [`Limits::max_cost_per_value`](crate::Limits::max_cost_per_value).
    Cost,
    /// The validator's recursion:
    /// [`Limits::max_evaluation_nesting`](crate::Limits::max_evaluation_nesting).
    Nesting,
}

/// Why a value failed [`Schema::check`](crate::Schema::check). `Display` is one line
/// for a person; a mismatch quotes parts of the value, with control characters escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Violation {
    /// The value does not match: the first few mismatches, as one line.
    Mismatch {
        /// `at /a: 1 is not of type "string"; ...`
        summary: String,
    },
    /// The value nests deeper than
    /// [`Limits::max_instance_depth`](crate::Limits::max_instance_depth); it was not
    /// checked.
    TooDeep {
        /// The bound.
        limit: usize,
    },
    /// Checking the value could cost more than
    /// [`Limits::max_check_cost`](crate::Limits::max_check_cost); it was not checked.
    TooCostly {
        /// The bound.
        limit: u64,
        /// The worst case for this value under this schema (saturating).
        cost: u64,
    },
    /// `jsonschema` panicked; the value was not checked.
    Panicked {
        /// The panic message, shortened.
        message: String,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Mismatch { summary } => f.write_str(summary),
            Violation::TooDeep { limit } => write!(
                f,
                "the value has parts nested more than {limit} levels below its top, \
                 more than Morph checks"
            ),
            Violation::TooCostly { limit, cost } => write!(
                f,
                "checking this value could cost {cost} units of work under this schema, \
                 more than the {limit} Morph allows: the value is too large for the schema"
            ),
            Violation::Panicked { message } => {
                write!(f, "the schema validator failed: {message}")
            }
        }
    }
}

impl std::error::Error for Violation {}

/// Why JSON text failed [`Schema::check_text`](crate::Schema::check_text).
///
/// Closed: text either is not JSON or its value fails the schema, so callers may match
/// both cases without a catch-all.
#[derive(Debug)]
pub enum TextViolation {
    /// The text is not JSON: serde_json's error (line and column).
    NotJson(serde_json::Error),
    /// The text is JSON and its value failed [`Schema::check`](crate::Schema::check).
    Violation(Violation),
}

impl fmt::Display for TextViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TextViolation::NotJson(e) => write!(f, "it is not JSON: {e}"),
            TextViolation::Violation(v) => v.fmt(f),
        }
    }
}

impl std::error::Error for TextViolation {}
