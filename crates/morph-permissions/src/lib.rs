//! # morph-permissions: what an extension may do
//!
//! Pure logic, no engine and no I/O but [`fs::resolve`] and [`fs::open`]: the host's
//! checkpoint, the manifest parser and the CLI all depend on it.
//!
//! - **[`PermissionKind`]**: the thirteen kinds. [`kinds`] documents each (summary,
//!   syntax, examples); it is what `morph permissions --list-kinds` prints.
//! - **[`Grant`]**: one permission with its scope, written as one line of text
//!   (grammar below). A manifest requests grants; a person grants them. Parsing is
//!   strict: every malformed part is an [`Error`] naming it. `Display` writes the
//!   canonical form, which parses back to an equal grant.
//! - **[`Request`]**: what a host call asks for at run time, typed: an HTTP method and a
//!   checked [`HttpTarget`], a secret's [`Name`] and the [`Host`] it would go to, a
//!   [`VirtualPath`], ... Building one checks its parts (a URL with a user name, an
//!   encoded `/` in a path segment, a `..` are refused) before any grant is consulted.
//! - **[`GrantSet`]**: grants as a set. [`GrantSet::allows`] decides on a request; a
//!   [`Denial`] names the permission, the target, what is granted of that kind and
//!   the closest grant that would allow it, for a front end to offer
//!   (`morph grant EXT 'GRANT'`).
//! - **[`effective`]** (requested by the manifest AND granted by the person; everything
//!   else is denied) and **[`diff`]** (what a new version asks for beyond the grants:
//!   the re-consent list).
//! - **[`fs`]**: confinement of guest paths to a real folder (no `..`, no absolute
//!   paths, no symbolic links on the way).
//!
//! All types are plain values (`Send + Sync`, cheap to clone but for the sets); matching
//! costs a comparison per grant, no allocation.
//!
//! # The grammar
//!
//! A grant is `KIND` or `KIND:SCOPE`, at most 2048 bytes, with no control character
//! nor surrounding whitespace. Kinds are lower case.
//!
//! | kind | scope | matches |
//! |---|---|---|
//! | `http` | `[METHOD,... ][SCHEME://]HOST[:PORT][/PATH]` | method in the list (all when none); same scheme (`https` when none is written) and port (the scheme's default when none); host matches; path under `PATH` by segments |
//! | `secret` | `NAME@HOST[,HOST...]` | that secret, on a request to a matching host |
//! | `kv-read` | none | reading the store |
//! | `kv-write` | `[bytes=SIZE][,keys=COUNT]` | a write after which the store holds at most that (default `bytes=1MiB,keys=1024`) |
//! | `fs-read`, `fs-write` | `DIR[/FOLDER...]` | a virtual path under it, by segments |
//! | `events` | `NAME` | emitting that event |
//! | `config`, `clock`, `random`, `ai`, `notify` | none | that capability |
//! | `action` | `destructive:NAME` | running that destructive action |
//!
//! - `METHOD`: `GET`, `HEAD`, `POST`, `PUT`, `PATCH`, `DELETE`, `OPTIONS`, in capitals,
//!   separated by commas, then one space.
//! - `SCHEME`: `https` or `http` (any case).
//! - `HOST`: a host name (ASCII, punycode for international names, any case), `*.` and
//!   a domain of at least two labels (every name under it, at any depth, never the
//!   domain itself: `*.example.com` matches `a.example.com` and `a.b.example.com`, not
//!   `example.com` nor `evilexample.com`), an IPv4 address or an IPv6 address in
//!   brackets. No user name (`user@`).
//! - `PORT`: 1 to 65535.
//! - `PATH`: `/`-separated segments of letters, digits, `-._~!$&'()+,;=:@` and
//!   `%`-escapes, or `*` for any one segment. No query, no fragment, no empty, `.` or
//!   `..` segment, no escaped `/` or `\`. A trailing `/` is dropped. Segments compare
//!   after percent-decoding: `/repos` matches `/repos/x` and `/%72epos`, not `/reposx`.
//! - `SIZE`: digits, optionally followed by `KiB`, `MiB`, `GiB` or `TiB`; `COUNT`:
//!   digits; both at least 1.
//! - `NAME`: 1 to 64 ASCII letters, digits, `_`, `-`, `.`, starting with a letter or
//!   digit.
//! - `DIR`, `FOLDER`: letters, digits, `_`, `-`, `.`; not `.` or `..`.
//!
//! ```
//! use morph_permissions::{Grant, GrantSet, Method, Request, Decision};
//!
//! let granted: GrantSet = ["http:GET https://api.github.com/repos", "clock"]
//!     .iter()
//!     .map(|g| g.parse::<Grant>())
//!     .collect::<Result<_, _>>()?;
//! let read = Request::http(Method::Get, "https://api.github.com/repos/rust-lang/rust")?;
//! assert!(granted.allows(&read).is_allowed());
//!
//! let write = Request::http(Method::Post, "https://api.github.com/repos/x")?;
//! let Decision::Deny(denial) = granted.allows(&write) else { unreachable!() };
//! assert_eq!(
//!     denial.suggestion().map(|g| g.to_string()).as_deref(),
//!     Some("http:GET,POST https://api.github.com/repos"),
//! );
//! # Ok::<(), morph_permissions::Error>(())
//! ```
//!
//! # What is not here
//!
//! Which grants a person gave is kept by the host's store; the checkpoint in
//! `morph-runtime` builds [`Request`]s from host calls. Remediation text that names a
//! CLI command belongs to the front end: a [`Denial`] carries the grant, not the
//! command.
#![deny(missing_docs)]

mod error;
pub mod fs;
mod grant;
mod host;
mod http;
mod kind;
mod request;
mod set;

pub use error::{Error, ErrorKind};
pub use fs::VirtualPath;
pub use grant::{Grant, KvQuota, MAX_GRANT_LEN, MAX_NAME_LEN, Name};
pub use host::{Host, HostPattern};
pub use http::{HttpScope, HttpTarget, MAX_URL_LEN, METHODS, Method, Scheme};
pub use kind::{KindDoc, PermissionKind, kinds};
pub use morph_abi::SideEffect;
pub use request::{Decision, Denial, Request};
pub use set::{GrantSet, diff, effective};
