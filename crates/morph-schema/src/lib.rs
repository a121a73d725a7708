//! # morph-schema: the JSON Schema gate
//!
//! Internal crate: morph-host (an action's input and output, every schema a
//! `describe()` declares) and morph-capabilities (event payloads, configuration) depend
//! on it, so that a guest-declared schema passes one gate whichever of them reads it. It
//! depends on no engine and no other Morph crate, and is pure Rust (it builds for iOS).
//!
//! - **[`Schema`]**: a guest-declared JSON Schema in the *Morph schema dialect*
//!   (`docs/schemas.md`), compiled once with [`Schema::compile`] and checked against
//!   any number of values with [`Schema::check`] (a `serde_json::Value`) or
//!   [`Schema::check_text`] (JSON text; under `{}` or `true` only its syntax is checked,
//!   without building the value). `Send + Sync`, cheap to clone (one `Arc`); checking
//!   takes `&self` and allocates only what the value's shape and the messages need.
//! - **[`Limits`]**: the bounds on a schema (bytes, nesting, subschemas, the static cost
//!   per value, the size once every `$ref` is inlined, regex size) and on a checked
//!   value (nesting, the cost of the check). [`LIMITS`] are Morph's;
//!   [`Schema::compile_with`] takes others.
//! - **Errors**: [`SchemaError`] (a refused schema: where, as a JSON pointer, and a
//!   [`SchemaErrorKind`] carrying the facts, e.g. the keyword and what to use instead);
//!   [`Violation`] (a value that does not match, or that was not checked because it is
//!   too deep or too costly for the schema); [`TextViolation`] (text that is not JSON,
//!   or a `Violation`). Their `Display` reads as the end of a sentence.
//!
//! ```
//! use morph_schema::{Schema, SchemaErrorKind, Violation};
//! use serde_json::json;
//!
//! let schema = Schema::compile(r#"{"type":"object","required":["n"]}"#)?;
//! assert_eq!(schema.check(&json!({"n": 1})), Ok(()));
//! assert!(matches!(schema.check(&json!({})), Err(Violation::Mismatch { .. })));
//! assert!(schema.check_text("{\"n\": [1, 2]}").is_ok());
//!
//! // Outside the dialect: refused at compile time, saying where and what to use.
//! let e = Schema::compile(r#"{"nullable": true}"#).unwrap_err();
//! assert_eq!(e.path, "#/nullable");
//! assert!(matches!(e.kind, SchemaErrorKind::UnsupportedKeyword { .. }));
//! # Ok::<(), morph_schema::SchemaError>(())
//! ```
//!
//! There are no Cargo features.
//!
//! # How the bounds hold
//!
//! A schema an extension declares is untrusted input, like the module itself. The
//! `jsonschema` crate is a general validator: it accepts every draft, remote references,
//! backtracking regular expressions and combinators whose cost grows exponentially with
//! the depth of the value; it has no step budget, keeps a lazily compiled copy of a
//! recursive `$ref` for every path a value takes through it, and has `unwrap`s on paths
//! untrusted schemas reach (issue 7). So this crate stands in front of it:
//!
//! 1. **Size first.** The schema text, its JSON nesting and its number of subschemas are
//!    bounded ([`LIMITS`]) before anything walks it.
//! 2. **One dialect.** A walk over the parsed schema accepts only the *Morph schema
//!    dialect* (`docs/schemas.md`): a subset of draft 2020-12 whose every keyword has a
//!    known, bounded cost in `jsonschema`. Anything else is refused with the keyword, its
//!    location (`#/properties/a/unevaluatedProperties`) and what to use instead.
//!    `$ref` may only name the root (`#`) or an entry of the root's `$defs`, and may not
//!    recurse; patterns must compile with the linear-time `regex` crate, which
//!    `jsonschema` is then told to use.
//! 3. **A static budget.** `jsonschema` cannot be interrupted, so the cost is bounded
//!    before validation ever runs (below). A schema whose worst case per value exceeds
//!    the budget, or whose compiled form (every `$ref` inlined) is too large, is refused
//!    at load.
//! 4. **A budget per check.** [`Schema::check`] measures the value first, without
//!    recursion: too deep, or too large for this schema's cost per value, and it is
//!    refused unchecked.
//! 5. **No panic escapes.** Every call into `jsonschema` runs under
//!    [`std::panic::catch_unwind`]; a panic becomes an error. The dialect exists so that
//!    this never fires: if it does, the default panic hook still prints the message,
//!    which is deliberate (it is an upstream bug that slipped past the dialect, and
//!    swapping the process-wide hook from a library would race with other threads).
//!    This relies on the host being built with `panic = "unwind"` (the default; only the
//!    extensions' `ext` profile aborts). A stack overflow is an abort, not a panic: the
//!    nesting budget keeps it out of reach.
//!
//! ## The budget
//!
//! Validation work is counted in *evaluations*: one schema object applied to one value
//! of the instance, weighted by what the object's own keywords walk in the schema (1 +
//! its `properties`, `required`, branches, `enum`/`const` values...). The work of one
//! evaluation apart from that is linear in what the value itself holds (its string for
//! `pattern`, its keys for `properties`; for `enum`, `const` and `uniqueItems`, at most
//! its subtree). So if `K(d)` bounds the weighted evaluations at any one value `d` levels
//! deep, a check costs about `Σ_d K(d) × size(values at depth d)`, which
//! [`Schema::check`] computes from the value's shape before validating.
//!
//! `K` is computed from the schema alone, for every depth up to the instance depth bound
//! `D`, by following how `jsonschema` 0.33 applies each keyword (read from its source):
//!
//! - in place (same instance value): `allOf`, `anyOf`, `oneOf`, `not`, `if`, `then`,
//!   `else`, `$ref`;
//! - to a child: `properties`, `patternProperties`, `additionalProperties` (a key gets
//!   at most one `properties` entry, every matching pattern, or else
//!   `additionalProperties`), `prefixItems`, `items` (an item gets one of them),
//!   `contains`.
//!
//! `jsonschema` evaluates in two modes. `is_valid` (`v`) applies each subschema at most
//! once. `iter_errors` (`e`), used only to explain a failure, first asks `is_valid` of
//! each `anyOf`/`oneOf` branch, `not` and `if`, then collects the errors of each branch:
//! so at such a node a branch is evaluated in both modes. With `c` ranging over the
//! targets of a node `S` and `w(S)` its weight:
//!
//! ```text
//! v(S, 0) = w(S) + Σ_in-place v(c, 0)
//! v(S, d) =        Σ_in-place v(c, d) + child_v(S, d-1)            (d ≥ 1)
//! e(S, d) = [d = 0] w(S) + Σ_allOf,$ref,then,else e(c, d) + Σ_anyOf,oneOf (v + e)(c, d)
//!           + Σ_not,if v(c, d) + child_e(S, d-1)
//! child(S, d) = max( max_properties(c, d) + Σ_patternProperties(c, d),
//!                    additionalProperties(c, d),
//!                    max(max_prefixItems(c, d), items(c, d)) + contains_v(c, d) )
//! ```
//!
//! `v(S, d)` bounds the evaluations at one value `d` levels below a value where `S` is
//! applied (`max` over alternatives that exclude each other is an upper bound of the
//! worst child: a sum of maxima bounds the maximum of sums). A schema is refused if
//! `v + e` at the root exceeds [`Limits::max_cost_per_value`] at any depth. A check runs
//! `is_valid` within `Σ_d v(root, d) × size_d ≤` [`Limits::max_check_cost`], then, on
//! failure, `iter_errors` if `Σ_d e(root, d) × size_d` (each error-building evaluation
//! weighted 128: building an error measured about 100 times slower) fits the same
//! budget, else it reports the mismatch without saying where. A test counts
//! `jsonschema`'s evaluations with an instrumented schema: the model matches them
//! exactly on the issue-7 attack and bounds them on the others. The same walk bounds
//! the nesting of evaluations (the stack `jsonschema` recurses on).
//!
//! Recursion is refused rather than budgeted: a recursive `$ref` is compiled lazily by
//! `jsonschema`, once per path a value takes through it, and every copy is kept in the
//! validator, so values checked one after another grow host memory without bound.
#![deny(missing_docs)]

mod error;
mod schema;

pub use error::{Budget, SchemaError, SchemaErrorKind, TextViolation, Violation};
pub use schema::{LIMITS, Limits, Schema};
