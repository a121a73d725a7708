//! Host calls as data: one [`HostCall`] value per import of the contract, the
//! [`HostReply`] that answers it, the typed [`Permission`] each needs, and the one lifting
//! (guest memory to `HostCall`) and lowering (reply to guest memory) every core backend
//! shares. The component backend builds the same values from its bindings.

use crate::abi::{Abi, FromDiscriminant, GuestMemory, Lifter, LowerPlan, Lowerer};
use crate::error::{Error, Limit, Result};
use morph_abi::{Header, HostError, HostErrorKind, HttpRequest, HttpResponse, LogLevel, Method};
use std::fmt;

/// The host functions of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HostFunc {
    /// `log.log`
    Log,
    /// `http.fetch`
    HttpFetch,
    /// `kv.get`
    KvGet,
    /// `kv.set`
    KvSet,
    /// `kv.delete`
    KvDelete,
    /// `kv.list-keys`
    KvListKeys,
    /// `events.emit`
    EventsEmit,
    /// `config.get`
    ConfigGet,
    /// `clock.now-ms`
    ClockNowMs,
    /// `random.bytes`
    RandomBytes,
}

impl HostFunc {
    /// The function's WIT name, e.g. `kv.get`.
    pub fn name(self) -> &'static str {
        match self {
            HostFunc::Log => "log.log",
            HostFunc::HttpFetch => "http.fetch",
            HostFunc::KvGet => "kv.get",
            HostFunc::KvSet => "kv.set",
            HostFunc::KvDelete => "kv.delete",
            HostFunc::KvListKeys => "kv.list-keys",
            HostFunc::EventsEmit => "events.emit",
            HostFunc::ConfigGet => "config.get",
            HostFunc::ClockNowMs => "clock.now-ms",
            HostFunc::RandomBytes => "random.bytes",
        }
    }
}

/// One core-wasm import of the contract. Every contract import takes only `i32`
/// parameters and returns nothing (results go through a return area in guest memory).
#[derive(Debug, Clone, Copy)]
pub struct ImportSpec {
    /// Import module, e.g. `morph:extension/log@0.1.0`.
    pub module: &'static str,
    /// Import name, e.g. `log`.
    pub name: &'static str,
    /// Number of `i32` parameters.
    pub params: usize,
    /// Which host function it is.
    pub func: HostFunc,
}

/// Every core-wasm import the contract allows, as wit-bindgen lowers them. Backends
/// register exactly these with their linker, each handing its call to
/// [`serve`](crate::protocol::serve).
pub const IMPORTS: &[ImportSpec] = &[
    imp("log", "log", 3, HostFunc::Log),
    imp("http", "fetch", 14, HostFunc::HttpFetch),
    imp("kv", "get", 3, HostFunc::KvGet),
    imp("kv", "set", 5, HostFunc::KvSet),
    imp("kv", "delete", 3, HostFunc::KvDelete),
    imp("kv", "list-keys", 3, HostFunc::KvListKeys),
    imp("events", "emit", 5, HostFunc::EventsEmit),
    imp("config", "get", 1, HostFunc::ConfigGet),
    imp("clock", "now-ms", 1, HostFunc::ClockNowMs),
    imp("random", "bytes", 2, HostFunc::RandomBytes),
];

const fn imp(iface: &'static str, name: &'static str, params: usize, func: HostFunc) -> ImportSpec {
    let module = match iface.as_bytes() {
        b"log" => "morph:extension/log@0.1.0",
        b"http" => "morph:extension/http@0.1.0",
        b"kv" => "morph:extension/kv@0.1.0",
        b"events" => "morph:extension/events@0.1.0",
        b"config" => "morph:extension/config@0.1.0",
        b"clock" => "morph:extension/clock@0.1.0",
        _ => "morph:extension/random@0.1.0",
    };
    ImportSpec {
        module,
        name,
        params,
        func,
    }
}

/// The import named `module::name`, if the contract has it.
pub fn find_import(module: &str, name: &str) -> Option<&'static ImportSpec> {
    IMPORTS
        .iter()
        .find(|i| i.module == module && i.name == name)
}

/// A capability a host call needs. Typed, so that a refusal names the permission as a
/// value: nothing is ever parsed back out of a message (part of which may come from the
/// guest).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Permission {
    /// Send HTTP requests to a host.
    Http {
        /// The host name (or IP address) of the request's URL.
        host: String,
    },
    /// Have the host attach a named secret to a request.
    Secret {
        /// The secret's name.
        name: String,
    },
    /// Read the extension's key-value store.
    KvRead,
    /// Write the extension's key-value store.
    KvWrite,
    /// Emit a declared event.
    Events {
        /// The event's name.
        name: String,
    },
    /// Read the extension's configuration.
    Config,
    /// Read the wall clock.
    Clock,
    /// Read random bytes.
    Random,
}

impl Permission {
    /// The permission's kind, e.g. `http` or `kv-read`.
    pub fn kind(&self) -> &'static str {
        match self {
            Permission::Http { .. } => "http",
            Permission::Secret { .. } => "secret",
            Permission::KvRead => "kv-read",
            Permission::KvWrite => "kv-write",
            Permission::Events { .. } => "events",
            Permission::Config => "config",
            Permission::Clock => "clock",
            Permission::Random => "random",
        }
    }

    /// The permission's scope (a host, a name), if it has one.
    pub fn scope(&self) -> Option<&str> {
        match self {
            Permission::Http { host } => Some(host),
            Permission::Secret { name } | Permission::Events { name } => Some(name),
            _ => None,
        }
    }
}

/// `kind` or `kind:scope`, e.g. `events:greeted`. A scope that came from the guest is
/// printed with control characters and backquotes escaped.
impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind())?;
        if let Some(scope) = self.scope() {
            f.write_str(":")?;
            for c in scope.chars() {
                match c {
                    '`' => f.write_str("\\`")?,
                    c if c.is_control() => write!(f, "{}", c.escape_default())?,
                    c => write!(f, "{c}")?,
                }
            }
        }
        Ok(())
    }
}

/// One host call, lifted out of the guest: what it asks for, with every argument.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostCall {
    /// `log.log`
    Log {
        /// Severity.
        level: LogLevel,
        /// The message.
        message: String,
    },
    /// `http.fetch`
    HttpFetch(HttpRequest),
    /// `kv.get`
    KvGet {
        /// The key.
        key: String,
    },
    /// `kv.set`
    KvSet {
        /// The key.
        key: String,
        /// The value.
        value: Vec<u8>,
    },
    /// `kv.delete`
    KvDelete {
        /// The key.
        key: String,
    },
    /// `kv.list-keys`
    KvListKeys {
        /// Keys must start with this.
        prefix: String,
    },
    /// `events.emit`
    EventsEmit {
        /// A declared event's name.
        name: String,
        /// JSON payload.
        payload: String,
    },
    /// `config.get`
    ConfigGet,
    /// `clock.now-ms`
    ClockNowMs,
    /// `random.bytes`
    RandomBytes {
        /// How many bytes.
        len: u32,
    },
}

impl HostCall {
    /// Which host function this is.
    pub fn func(&self) -> HostFunc {
        match self {
            HostCall::Log { .. } => HostFunc::Log,
            HostCall::HttpFetch(_) => HostFunc::HttpFetch,
            HostCall::KvGet { .. } => HostFunc::KvGet,
            HostCall::KvSet { .. } => HostFunc::KvSet,
            HostCall::KvDelete { .. } => HostFunc::KvDelete,
            HostCall::KvListKeys { .. } => HostFunc::KvListKeys,
            HostCall::EventsEmit { .. } => HostFunc::EventsEmit,
            HostCall::ConfigGet => HostFunc::ConfigGet,
            HostCall::ClockNowMs => HostFunc::ClockNowMs,
            HostCall::RandomBytes { .. } => HostFunc::RandomBytes,
        }
    }

    /// The permissions this call needs, in the order they are checked (none for `log`).
    pub fn permissions(&self) -> Vec<Permission> {
        match self {
            HostCall::Log { .. } => Vec::new(),
            HostCall::HttpFetch(r) => {
                let mut p = vec![Permission::Http {
                    host: url_host(&r.url).to_owned(),
                }];
                if let Some(name) = &r.secret {
                    p.push(Permission::Secret { name: name.clone() });
                }
                p
            }
            HostCall::KvGet { .. } | HostCall::KvListKeys { .. } => vec![Permission::KvRead],
            HostCall::KvSet { .. } | HostCall::KvDelete { .. } => vec![Permission::KvWrite],
            HostCall::EventsEmit { name, .. } => vec![Permission::Events { name: name.clone() }],
            HostCall::ConfigGet => vec![Permission::Config],
            HostCall::ClockNowMs => vec![Permission::Clock],
            HostCall::RandomBytes { .. } => vec![Permission::Random],
        }
    }

    /// What the call would do, in a few words, e.g. `send GET requests to api.github.com`.
    pub fn describe_action(&self) -> String {
        match self {
            HostCall::Log { .. } => "log".to_owned(),
            HostCall::HttpFetch(r) => format!(
                "send {} requests to {}",
                r.method.as_str(),
                url_host(&r.url).escape_debug()
            ),
            HostCall::KvGet { .. } | HostCall::KvListKeys { .. } => {
                "read its key-value store".to_owned()
            }
            HostCall::KvSet { .. } | HostCall::KvDelete { .. } => {
                "write its key-value store".to_owned()
            }
            HostCall::EventsEmit { name, .. } => format!("emit event `{}`", name.escape_debug()),
            HostCall::ConfigGet => "read its configuration".to_owned(),
            HostCall::ClockNowMs => "read the clock".to_owned(),
            HostCall::RandomBytes { .. } => "read random bytes".to_owned(),
        }
    }

    /// The bytes this call carries out of the guest, counted as the shared lifting counts
    /// them (the component backend charges the same number).
    pub fn guest_bytes(&self) -> u64 {
        match self {
            HostCall::Log { message, .. } => message.guest_bytes(),
            HostCall::HttpFetch(r) => r.guest_bytes(),
            HostCall::KvGet { key } | HostCall::KvDelete { key } => key.guest_bytes(),
            HostCall::KvSet { key, value } => key.guest_bytes() + value.guest_bytes(),
            HostCall::KvListKeys { prefix } => prefix.guest_bytes(),
            HostCall::EventsEmit { name, payload } => name.guest_bytes() + payload.guest_bytes(),
            HostCall::ConfigGet | HostCall::ClockNowMs | HostCall::RandomBytes { .. } => 0,
        }
    }

    /// Lifts the call `func` from its flat `i32` arguments, copying at most `budget` bytes
    /// out of the guest. Returns the call, its return-area pointer (none for `log`) and
    /// the bytes copied.
    ///
    /// # Errors
    /// `BadGuestData` for malformed arguments, `LimitExceeded(transfer)` past the budget,
    /// `Engine` when `args` does not fit `func`'s arity.
    pub fn lift(
        func: HostFunc,
        args: &[u32],
        mem: &mut dyn GuestMemory,
        budget: u64,
    ) -> Result<(HostCall, Option<u32>, u64)> {
        let mut l = Lifter::new(mem, budget, Limit::Transfer);
        let (call, ret) = match (func, args) {
            (HostFunc::Log, &[level, ptr, len]) => (
                HostCall::Log {
                    level: LogLevel::from_flat(level)?,
                    message: l.string(ptr, len)?,
                },
                None,
            ),
            (
                HostFunc::HttpFetch,
                &[
                    method,
                    url_p,
                    url_l,
                    h_p,
                    h_l,
                    b_d,
                    b_p,
                    b_l,
                    s_d,
                    s_p,
                    s_l,
                    t_d,
                    t_v,
                    ret,
                ],
            ) => (
                HostCall::HttpFetch(HttpRequest {
                    method: Method::from_flat(method)?,
                    url: l.string(url_p, url_l)?,
                    headers: l.list::<Header>(h_p, h_l)?,
                    body: l.flat_option(b_d, |l| l.list::<u8>(b_p, b_l))?,
                    secret: l.flat_option(s_d, |l| l.string(s_p, s_l))?,
                    timeout_ms: l.flat_option(t_d, |_| Ok(t_v))?,
                }),
                Some(ret),
            ),
            (HostFunc::KvGet, &[p, n, ret]) => (
                HostCall::KvGet {
                    key: l.string(p, n)?,
                },
                Some(ret),
            ),
            (HostFunc::KvSet, &[kp, kn, vp, vn, ret]) => (
                HostCall::KvSet {
                    key: l.string(kp, kn)?,
                    value: l.list::<u8>(vp, vn)?,
                },
                Some(ret),
            ),
            (HostFunc::KvDelete, &[p, n, ret]) => (
                HostCall::KvDelete {
                    key: l.string(p, n)?,
                },
                Some(ret),
            ),
            (HostFunc::KvListKeys, &[p, n, ret]) => (
                HostCall::KvListKeys {
                    prefix: l.string(p, n)?,
                },
                Some(ret),
            ),
            (HostFunc::EventsEmit, &[np, nn, pp, pn, ret]) => (
                HostCall::EventsEmit {
                    name: l.string(np, nn)?,
                    payload: l.string(pp, pn)?,
                },
                Some(ret),
            ),
            (HostFunc::ConfigGet, &[ret]) => (HostCall::ConfigGet, Some(ret)),
            (HostFunc::ClockNowMs, &[ret]) => (HostCall::ClockNowMs, Some(ret)),
            (HostFunc::RandomBytes, &[len, ret]) => (HostCall::RandomBytes { len }, Some(ret)),
            (func, _) => {
                return Err(Error::engine(format!(
                    "host function {} called with {} arguments",
                    func.name(),
                    args.len()
                )));
            }
        };
        Ok((call, ret, l.used()))
    }
}

/// What the host answers to a [`HostCall`], when it does not refuse it. Each variant
/// answers one kind of call; a handler that answers with another is a host bug, and the
/// guest gets an `internal` host error for it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostReply {
    /// To `log.log`, `kv.set` and `events.emit`.
    Done,
    /// To `http.fetch`.
    Http(HttpResponse),
    /// To `kv.get`: the value, if the key exists.
    Value(Option<Vec<u8>>),
    /// To `kv.delete`: whether the key existed.
    Deleted(bool),
    /// To `kv.list-keys`.
    Keys(Vec<String>),
    /// To `config.get`: the configuration as JSON text.
    Config(String),
    /// To `clock.now-ms`: milliseconds since the Unix epoch.
    Now(u64),
    /// To `random.bytes`.
    Bytes(Vec<u8>),
}

impl HostReply {
    fn name(&self) -> &'static str {
        match self {
            HostReply::Done => "done",
            HostReply::Http(_) => "http",
            HostReply::Value(_) => "value",
            HostReply::Deleted(_) => "deleted",
            HostReply::Keys(_) => "keys",
            HostReply::Config(_) => "config",
            HostReply::Now(_) => "now",
            HostReply::Bytes(_) => "bytes",
        }
    }
}

/// A host call's answer in the shape of its WIT result type, ready to lower (the layout
/// of an error depends on the success type, so the shape is fixed by the call).
#[derive(Debug)]
pub enum Answer {
    /// `result<_, host-error>`
    Unit(std::result::Result<(), HostError>),
    /// `result<response, host-error>`
    Http(std::result::Result<HttpResponse, HostError>),
    /// `result<option<list<u8>>, host-error>`
    Value(std::result::Result<Option<Vec<u8>>, HostError>),
    /// `result<bool, host-error>`
    Bool(std::result::Result<bool, HostError>),
    /// `result<list<string>, host-error>`
    Keys(std::result::Result<Vec<String>, HostError>),
    /// `result<string, host-error>`
    Text(std::result::Result<String, HostError>),
    /// `result<u64, host-error>`
    Now(std::result::Result<u64, HostError>),
    /// `result<list<u8>, host-error>`
    Bytes(std::result::Result<Vec<u8>, HostError>),
}

macro_rules! each_answer {
    ($a:expr, $v:ident => $e:expr) => {
        match $a {
            Answer::Unit($v) => $e,
            Answer::Http($v) => $e,
            Answer::Value($v) => $e,
            Answer::Bool($v) => $e,
            Answer::Keys($v) => $e,
            Answer::Text($v) => $e,
            Answer::Now($v) => $e,
            Answer::Bytes($v) => $e,
        }
    };
}

impl Answer {
    /// Shapes `reply` as the answer to a call of `func`. A reply of the wrong kind
    /// becomes an `internal` host error for the guest.
    pub fn new(func: HostFunc, reply: std::result::Result<HostReply, HostError>) -> Answer {
        macro_rules! shape {
            ($variant:ident, $pat:pat => $v:expr) => {
                Answer::$variant(match reply {
                    Ok($pat) => Ok($v),
                    Ok(other) => Err(mismatch(func, &other)),
                    Err(e) => Err(e),
                })
            };
        }
        match func {
            HostFunc::Log | HostFunc::KvSet | HostFunc::EventsEmit => {
                shape!(Unit, HostReply::Done => ())
            }
            HostFunc::HttpFetch => shape!(Http, HostReply::Http(r) => r),
            HostFunc::KvGet => shape!(Value, HostReply::Value(v) => v),
            HostFunc::KvDelete => shape!(Bool, HostReply::Deleted(b) => b),
            HostFunc::KvListKeys => shape!(Keys, HostReply::Keys(k) => k),
            HostFunc::ConfigGet => shape!(Text, HostReply::Config(c) => c),
            HostFunc::ClockNowMs => shape!(Now, HostReply::Now(n) => n),
            HostFunc::RandomBytes => shape!(Bytes, HostReply::Bytes(b) => b),
        }
    }

    /// The allocations lowering this answer needs.
    ///
    /// # Errors
    /// `Engine` when a value is too large for a 32-bit guest.
    pub fn plan(&self) -> Result<LowerPlan> {
        each_answer!(self, v => Lowerer::plan(v))
    }

    /// Writes the answer at the return area `ret`, with the pointers the guest's
    /// allocator returned for [`Answer::plan`].
    ///
    /// # Errors
    /// `BadGuestData` when the return area or an allocation is misaligned or out of
    /// bounds.
    pub fn write(&self, mem: &mut dyn GuestMemory, ptrs: &[u32], ret: u32) -> Result<()> {
        each_answer!(self, v => Lowerer::writer(mem, ptrs).store(v, ret))
    }
}

fn mismatch(func: HostFunc, reply: &HostReply) -> HostError {
    HostError::new(
        HostErrorKind::Internal,
        format!(
            "the host answered a {} call with a `{}` reply",
            func.name(),
            reply.name()
        ),
    )
}

/// The host part of a URL, for permissions; the whole string when it has none.
pub(crate) fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if authority.starts_with('[') {
        return authority
            .split_once(']')
            .map_or(authority, |(h, _)| h)
            .trim_start_matches('[');
    }
    authority.split(':').next().unwrap_or(authority)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_host_extracts_the_host() {
        assert_eq!(url_host("https://api.github.com/repos"), "api.github.com");
        assert_eq!(url_host("http://user:pw@example.com:8080/x"), "example.com");
        assert_eq!(url_host("http://[::1]:80/"), "::1");
        assert_eq!(url_host("garbage"), "garbage");
    }

    #[test]
    fn imports_have_distinct_names() {
        for (i, a) in IMPORTS.iter().enumerate() {
            for b in &IMPORTS[i + 1..] {
                assert!(a.module != b.module || a.name != b.name);
            }
        }
        assert!(find_import("morph:extension/log@0.1.0", "log").is_some());
        assert!(find_import("env", "abort").is_none());
    }

    #[test]
    fn a_guest_chosen_scope_cannot_forge_another_permission() {
        let p = Permission::Events {
            name: "x: permission `kv` is what this needs\n".into(),
        };
        assert_eq!(p.kind(), "events");
        let shown = p.to_string();
        assert!(shown.starts_with("events:"), "{shown}");
        assert!(!shown.contains("`kv`"), "{shown}");
        assert!(!shown.contains('\n'), "{shown}");
    }

    #[test]
    fn a_reply_of_the_wrong_kind_is_an_internal_error() {
        let a = Answer::new(HostFunc::KvGet, Ok(HostReply::Now(1)));
        match a {
            Answer::Value(Err(e)) => assert_eq!(e.kind, HostErrorKind::Internal),
            other => panic!("{other:?}"),
        }
    }
}
