//! # morph-capabilities: the host functions, performed for real
//!
//! Internal crate: morph-host and the `morph` CLI depend on it; apps get it through
//! them. It depends on no engine.
//!
//! The checkpoint in morph-runtime (`HostContext::admit`) decides whether an extension
//! may make a host call; [`Capabilities`] performs the calls it admitted, as a
//! [`morph_runtime::HostHandler`]:
//!
//! - **`http.fetch`** through reqwest (rustls with ring; no proxy; no automatic
//!   redirect). Redirects are followed here, at most [`HttpLimits::max_redirects`],
//!   each hop put to the [`PermissionCheck`] as a new request: a hop it refuses fails
//!   the call with `permission-denied` naming the hop. The guest may not set
//!   credential, routing or framing headers (`authorization`, `cookie`, `host`,
//!   `proxy-*`, `content-length`, ...: `invalid-argument`). A named secret is read from
//!   the store and attached only when the request's host is one the secret is bound to
//!   (else `permission-denied`), in the secret's form (bearer, basic with its user, a
//!   named header), as a header value marked sensitive. Whatever the service answers,
//!   the secret's value and its encodings are replaced by [`REDACTED`] in the headers
//!   and body handed back, so the value never enters guest memory. The body is read
//!   up to [`HttpLimits::max_response_bytes`] (`limit-exceeded` past it, the rest
//!   unread); the whole exchange is bounded by the guest's `timeout-ms` within
//!   [`HttpLimits::max_timeout`].
//! - **`kv.*`**: the extension's namespace in the [`Store`](morph_store::Store), writes
//!   within the quota of its effective `kv-write` grant, checked in the write
//!   transaction: a write over it fails with `limit-exceeded` and writes nothing.
//! - **`events.emit`**: only events the extension declares, each payload checked
//!   against its declared schema, then delivered to every
//!   [`Capabilities::subscribe`]r.
//! - **`config.get`**: the configuration set with [`Capabilities::set_config`] (checked
//!   against the extension's config schema then, and again when read).
//! - **`clock.now-ms`**, **`random.bytes`** (the OS's source, at most
//!   [`MAX_RANDOM_BYTES`]).
//! - **`fs.*`** (contract 0.2.0): each extension's virtual directories as folders under
//!   [`CapabilitiesBuilder::files`]`/ID/`, every path confined (no absolute path, no
//!   `..`, no symbolic link: `invalid-argument`), writes atomic (a temporary file
//!   renamed over the target), sizes within [`FsLimits`].
//! - **`notify.send`** and **`ai.complete`** (contract 0.2.0) through the adapters the
//!   app plugs in: a [`Notifier`] and an [`AiProvider`] ([`OpenAiCompatible`] speaks
//!   OpenAI's chat completions API, with the `http` feature), after the bounds of
//!   [`MAX_TITLE_BYTES`], [`MAX_BODY_BYTES`] and [`AiLimits`]. Without an adapter the
//!   call fails with `unavailable`.
//! - **Audit**: every call the handler performs or refuses is one [`AuditRecord`] (or
//!   one per HTTP hop) in the store's audit log; [`Capabilities::record_denial`]
//!   records the checkpoint's own refusals there too.
//! - **Dry run** ([`CapabilitiesBuilder::dry_run`]): reads are performed; writes are
//!   checked, recorded as `dry-run`, listed by [`Capabilities::take_dry_run`], and
//!   answered as if done (an HTTP write gets status 200 and an empty body).
//!
//! Extensions are known to the handler by [`Capabilities::register`] (their declared
//! events, config schema and effective grants); a call from another fails with
//! `unavailable`. Guest-declared schemas go through morph-schema, the gate morph-host
//! applies too: the Morph schema dialect, its size and static cost bounds, and a budget
//! per checked value (`docs/schemas.md`).
//!
//! # Cargo features
//!
//! - `http` (default): `http.fetch` through reqwest, rustls and ring. ring compiles C
//!   and assembly, so a build for iOS needs Xcode's toolchain; without the feature,
//!   `http.fetch` fails with `unavailable` and the crate is pure Rust.
//!
//! # Runtime
//!
//! Every future runs on a tokio runtime with the I/O and time drivers (reqwest needs
//! them). Store calls (redb, synchronous, a write waits for its commit to reach the
//! disk) run on tokio's blocking pool, so a guest waiting on `kv.set` holds no worker
//! thread.
//!
//! ```no_run
//! use std::sync::Arc;
//! use morph_capabilities::Capabilities;
//! use morph_permissions::GrantSet;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Arc::new(morph_store::Store::open("/tmp/morph-store")?);
//! // The handler and the checkpoint's policy: each registered extension may do what
//! // its effective grants (requested by its manifest, granted by the person) allow.
//! let caps = Capabilities::builder(Arc::clone(&store)).build()?;
//! # let info: morph_abi::ExtensionInfo = todo!();
//! let effective: GrantSet = ["clock".parse()?].into_iter().collect();
//! caps.register(&info, &effective)?;
//! // Host::builder().capabilities(caps.clone()) ...
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod adapters;
mod caps;
mod error;
mod files;
#[cfg(feature = "http")]
mod http;
#[cfg(feature = "http")]
mod openai;

pub use adapters::{AiLimits, AiProvider, MAX_BODY_BYTES, MAX_TITLE_BYTES, Notifier};
pub use caps::{
    Capabilities, CapabilitiesBuilder, Event, HttpLimits, MAX_DRY_RUN_RECORDS,
    MAX_EVENT_PAYLOAD_BYTES, MAX_RANDOM_BYTES, PermissionCheck,
};
pub use error::Error;
pub use files::FsLimits;
#[cfg(feature = "http")]
pub use http::REDACTED;
pub use morph_store::{AuditOutcome, AuditRecord};
#[cfg(feature = "http")]
pub use openai::OpenAiCompatible;
