//! # morph-manifest: `morph.toml`, the extension's manifest
//!
//! Pure logic on text: the packer, the installer and the CLI depend on it; it depends on
//! `morph-permissions` (grants) and on no engine nor runtime crate.
//!
//! - **[`Manifest::parse`]**: strict. An unknown field, a missing one, a wrong type, a
//!   malformed grant or version is a [`ManifestError`] naming the field and its 1-based
//!   line and column. Input is bounded ([`MAX_MANIFEST_BYTES`], [`MAX_ENTRIES`] per
//!   list). No input panics.
//! - **[`Manifest::requested`]**: everything the extension asks for, as a
//!   [`GrantSet`](morph_permissions::GrantSet): the grants listed by hand plus those
//!   its declarations imply (`events:NAME` per event, `action:destructive:NAME` per
//!   destructive action).
//! - **[`Manifest::check_against`]**: the manifest against the module's `describe()`
//!   ([`Described`]); a [`Mismatch`] prints a readable diff.
//! - **[`Manifest::json_schema`]**: the JSON Schema for editors, generated from the
//!   parser's types; `schemas/morph.toml.schema.json` in the repository is a copy that
//!   a test keeps current.
//!
//! # The format
//!
//! ```toml
//! #:schema ../../schemas/morph.toml.schema.json
//! id = "github"                  # lower-case letters, digits, `-`, `_`, `.`
//! name = "GitHub"
//! version = "1.2.0"              # semver
//! publisher = "Acme"             # optional; signing needs it
//! description = "Issues and pull requests."   # optional
//! contract = "0.2.0"             # the contract version it was built against
//!
//! [permissions]                  # one grant a line, as `morph grant` takes them
//! request = [
//!     "http:GET,POST https://api.github.com/repos",
//!     "secret:GITHUB_TOKEN@api.github.com",
//!     "kv-write:bytes=1MiB,keys=100",
//! ]
//!
//! [limits]                       # all optional, all at least 1
//! memory-bytes = 67_108_864
//! fuel = 1_000_000_000
//! timeout-ms = 5_000
//! host-calls = 1_000
//! transfer-bytes = 16_777_216
//! log-bytes = 65_536
//! output-bytes = 1_048_576
//! input-bytes = 1_048_576
//!
//! [runtime]
//! reuse-instances = false        # true: keep instances (and guest state) between calls
//!
//! [actions.list-issues]          # every action describe() offers
//! side-effect = "read"           # none, read, write or destructive
//!
//! [actions.delete-repo]
//! side-effect = "destructive"    # requests `action:destructive:delete-repo`
//! description = "Deletes a repository."
//!
//! [events.issue-opened]          # every event describe() declares; requests `events:issue-opened`
//! ```
//!
//! Why the permission list is one line per grant rather than a table per kind: the
//! manifest, the consent screen and `morph grant` then all read and write the same text,
//! which a person learns once. `events:` and `action:` grants are not written by hand:
//! the declarations are the request, so the two cannot disagree.
//!
//! ```
//! let m = morph_manifest::Manifest::parse(r#"
//! id = "hello"
//! name = "Hello"
//! version = "0.1.0"
//! contract = "0.1.0"
//! colour = "blue"
//! "#).unwrap_err();
//! assert_eq!(m.line(), Some(6));
//! assert!(m.to_string().starts_with("line 6, column 1, `colour`: unknown field `colour`"));
//! ```
#![deny(missing_docs)]

mod describe;
mod error;
mod manifest;
mod schema;

pub use describe::{Described, Difference, Mismatch};
pub use error::{ManifestError, ManifestErrorKind};
pub use manifest::{
    Action, Event, Limits, MAX_DESCRIPTION_LEN, MAX_ENTRIES, MAX_FIELD_LEN, MAX_MANIFEST_BYTES,
    Manifest, Runtime,
};

#[cfg(test)]
mod tests;
