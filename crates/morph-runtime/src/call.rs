//! Host calls as data: one [`HostCall`] value per import of the contract, the
//! [`HostReply`] that answers it, the typed [`Request`]s each needs, and the one lifting
//! (guest memory to `HostCall`) and lowering (reply to guest memory) every core backend
//! shares. The component backend builds the same values from its bindings.

use crate::abi::{Abi, FromDiscriminant, GuestMemory, Lifter, LowerPlan, Lowerer};
use crate::error::{Error, Limit, Result};
use morph_abi::{
    Completion, CompletionRequest, Header, HostError, HostErrorKind, HttpRequest, HttpResponse,
    LogLevel, Method, Notification, Urgency,
};
use morph_permissions::Request;
use morph_permissions::fs::VirtualPath;

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
    /// `fs.read` (contract 0.2.0)
    FsRead,
    /// `fs.write` (contract 0.2.0)
    FsWrite,
    /// `fs.list-dir` (contract 0.2.0)
    FsListDir,
    /// `fs.remove` (contract 0.2.0)
    FsRemove,
    /// `notify.send` (contract 0.2.0)
    NotifySend,
    /// `ai.complete` (contract 0.2.0)
    AiComplete,
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
            HostFunc::FsRead => "fs.read",
            HostFunc::FsWrite => "fs.write",
            HostFunc::FsListDir => "fs.list-dir",
            HostFunc::FsRemove => "fs.remove",
            HostFunc::NotifySend => "notify.send",
            HostFunc::AiComplete => "ai.complete",
        }
    }
}

/// One core-wasm import of the contract. Every contract import takes only `i32`
/// parameters and returns nothing (results go through a return area in guest memory).
#[derive(Debug, Clone, Copy)]
pub struct ImportSpec {
    /// Import module, e.g. `morph:extension/log@0.1.0`.
    pub module: &'static str,
    /// The contract version that brought it: only modules of this version or a later
    /// one may import it.
    pub since: &'static str,
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
    imp("fs", "read", 3, HostFunc::FsRead),
    imp("fs", "write", 5, HostFunc::FsWrite),
    imp("fs", "list-dir", 3, HostFunc::FsListDir),
    imp("fs", "remove", 3, HostFunc::FsRemove),
    imp("notify", "send", 6, HostFunc::NotifySend),
    imp("ai", "complete", 5, HostFunc::AiComplete),
];

/// An import of interface `iface`, under the import module of the contract version that
/// brought the interface (a later version keeps the earlier interfaces' names).
const fn imp(iface: &'static str, name: &'static str, params: usize, func: HostFunc) -> ImportSpec {
    let (module, since) = match iface.as_bytes() {
        b"log" => ("morph:extension/log@0.1.0", "0.1.0"),
        b"http" => ("morph:extension/http@0.1.0", "0.1.0"),
        b"kv" => ("morph:extension/kv@0.1.0", "0.1.0"),
        b"events" => ("morph:extension/events@0.1.0", "0.1.0"),
        b"config" => ("morph:extension/config@0.1.0", "0.1.0"),
        b"clock" => ("morph:extension/clock@0.1.0", "0.1.0"),
        b"random" => ("morph:extension/random@0.1.0", "0.1.0"),
        b"fs" => ("morph:extension/fs@0.2.0", "0.2.0"),
        b"notify" => ("morph:extension/notify@0.2.0", "0.2.0"),
        _ => ("morph:extension/ai@0.2.0", "0.2.0"),
    };
    ImportSpec {
        module,
        since,
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
    /// `fs.read`
    FsRead {
        /// A virtual path, as the guest wrote it.
        path: String,
    },
    /// `fs.write`
    FsWrite {
        /// A virtual path, as the guest wrote it.
        path: String,
        /// The file's new content.
        data: Vec<u8>,
    },
    /// `fs.list-dir`
    FsListDir {
        /// A virtual path, as the guest wrote it.
        path: String,
    },
    /// `fs.remove`
    FsRemove {
        /// A virtual path, as the guest wrote it.
        path: String,
    },
    /// `notify.send`
    NotifySend(Notification),
    /// `ai.complete`
    AiComplete(CompletionRequest),
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
            HostCall::FsRead { .. } => HostFunc::FsRead,
            HostCall::FsWrite { .. } => HostFunc::FsWrite,
            HostCall::FsListDir { .. } => HostFunc::FsListDir,
            HostCall::FsRemove { .. } => HostFunc::FsRemove,
            HostCall::NotifySend(_) => HostFunc::NotifySend,
            HostCall::AiComplete(_) => HostFunc::AiComplete,
        }
    }

    /// The permissions this call needs, as typed requests in the order they are checked
    /// (none for `log`).
    ///
    /// # Errors
    /// An `invalid-argument` host error for the guest when an argument cannot be a
    /// request at all: a URL that is not `http(s)`, carries a user name or escapes its
    /// path; a secret or event name outside the grammar; a file path that is absolute,
    /// has a `..` segment or a control character.
    pub fn requests(&self) -> std::result::Result<Vec<Request>, HostError> {
        let invalid = |e: morph_permissions::Error| {
            HostError::new(HostErrorKind::InvalidArgument, e.to_string())
        };
        Ok(match self {
            HostCall::Log { .. } => Vec::new(),
            HostCall::HttpFetch(r) => {
                let http = Request::http(r.method, &r.url).map_err(invalid)?;
                let mut requests = Vec::with_capacity(2);
                if let (Some(name), Request::Http { target, .. }) = (&r.secret, &http) {
                    requests.push(Request::secret(name, target.host().clone()).map_err(invalid)?);
                }
                requests.insert(0, http);
                requests
            }
            HostCall::KvGet { .. } | HostCall::KvListKeys { .. } => vec![Request::KvRead],
            // Whether the extension may write at all; its quota is the store's to enforce,
            // with the totals the write would leave.
            HostCall::KvSet { .. } | HostCall::KvDelete { .. } => {
                vec![Request::KvWrite { bytes: 0, keys: 0 }]
            }
            HostCall::EventsEmit { name, .. } => vec![Request::event(name).map_err(invalid)?],
            HostCall::ConfigGet => vec![Request::Config],
            HostCall::ClockNowMs => vec![Request::Clock],
            HostCall::RandomBytes { .. } => vec![Request::Random],
            HostCall::FsRead { path } | HostCall::FsListDir { path } => {
                vec![Request::FsRead(VirtualPath::parse(path).map_err(invalid)?)]
            }
            HostCall::FsWrite { path, .. } | HostCall::FsRemove { path } => {
                vec![Request::FsWrite(VirtualPath::parse(path).map_err(invalid)?)]
            }
            HostCall::NotifySend(_) => vec![Request::Notify],
            HostCall::AiComplete(_) => vec![Request::Ai],
        })
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
            HostCall::FsRead { path }
            | HostCall::FsListDir { path }
            | HostCall::FsRemove { path } => path.guest_bytes(),
            HostCall::FsWrite { path, data } => path.guest_bytes() + data.guest_bytes(),
            HostCall::NotifySend(n) => n.guest_bytes(),
            HostCall::AiComplete(r) => r.guest_bytes(),
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
            (HostFunc::FsRead, &[p, n, ret]) => (
                HostCall::FsRead {
                    path: l.string(p, n)?,
                },
                Some(ret),
            ),
            (HostFunc::FsWrite, &[pp, pn, dp, dn, ret]) => (
                HostCall::FsWrite {
                    path: l.string(pp, pn)?,
                    data: l.list::<u8>(dp, dn)?,
                },
                Some(ret),
            ),
            (HostFunc::FsListDir, &[p, n, ret]) => (
                HostCall::FsListDir {
                    path: l.string(p, n)?,
                },
                Some(ret),
            ),
            (HostFunc::FsRemove, &[p, n, ret]) => (
                HostCall::FsRemove {
                    path: l.string(p, n)?,
                },
                Some(ret),
            ),
            (HostFunc::NotifySend, &[tp, tn, bp, bn, urgency, ret]) => (
                HostCall::NotifySend(Notification {
                    title: l.string(tp, tn)?,
                    body: l.string(bp, bn)?,
                    urgency: Urgency::from_flat(urgency)?,
                }),
                Some(ret),
            ),
            (HostFunc::AiComplete, &[mp, mn, md, mv, ret]) => (
                HostCall::AiComplete(CompletionRequest {
                    messages: l.list(mp, mn)?,
                    max_tokens: l.flat_option(md, |_| Ok(mv))?,
                }),
                Some(ret),
            ),
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
    /// To `log.log`, `kv.set`, `events.emit`, `fs.write` and `notify.send`.
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
    /// To `fs.read`: the file's content.
    File(Vec<u8>),
    /// To `fs.list-dir`: the names in the folder, sorted, a folder's ending with `/`.
    Entries(Vec<String>),
    /// To `fs.remove`: whether there was something to remove.
    Removed(bool),
    /// To `ai.complete`.
    Completion(Completion),
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
            HostReply::File(_) => "file",
            HostReply::Entries(_) => "entries",
            HostReply::Removed(_) => "removed",
            HostReply::Completion(_) => "completion",
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
    /// `result<completion, host-error>`
    Completion(std::result::Result<Completion, HostError>),
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
            Answer::Completion($v) => $e,
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
            HostFunc::Log
            | HostFunc::KvSet
            | HostFunc::EventsEmit
            | HostFunc::FsWrite
            | HostFunc::NotifySend => {
                shape!(Unit, HostReply::Done => ())
            }
            HostFunc::HttpFetch => shape!(Http, HostReply::Http(r) => r),
            HostFunc::KvGet => shape!(Value, HostReply::Value(v) => v),
            HostFunc::KvDelete => shape!(Bool, HostReply::Deleted(b) => b),
            HostFunc::KvListKeys => shape!(Keys, HostReply::Keys(k) => k),
            HostFunc::ConfigGet => shape!(Text, HostReply::Config(c) => c),
            HostFunc::ClockNowMs => shape!(Now, HostReply::Now(n) => n),
            HostFunc::RandomBytes => shape!(Bytes, HostReply::Bytes(b) => b),
            HostFunc::FsRead => shape!(Bytes, HostReply::File(b) => b),
            HostFunc::FsListDir => shape!(Keys, HostReply::Entries(e) => e),
            HostFunc::FsRemove => shape!(Bool, HostReply::Removed(r) => r),
            HostFunc::AiComplete => shape!(Completion, HostReply::Completion(c) => c),
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn requests_are_typed_and_guest_text_cannot_forge_another() {
        let call = HostCall::EventsEmit {
            name: "x: permission `kv` is what this needs\n".into(),
            payload: "{}".into(),
        };
        let e = call.requests().unwrap_err();
        assert_eq!(e.kind, HostErrorKind::InvalidArgument);
        let call = HostCall::HttpFetch(HttpRequest {
            method: Method::Post,
            url: "https://api.github.com/repos/x".into(),
            headers: Vec::new(),
            body: None,
            secret: Some("github".into()),
            timeout_ms: None,
        });
        let r = call.requests().unwrap();
        assert_eq!(r.len(), 2);
        assert!(matches!(
            &r[0],
            Request::Http {
                method: Method::Post,
                ..
            }
        ));
        assert!(matches!(&r[1], Request::Secret { name, host }
            if name.as_str() == "github" && host.to_string() == "api.github.com"));
        let userinfo = HostCall::HttpFetch(HttpRequest {
            url: "https://user@api.github.com/".into(),
            ..match call {
                HostCall::HttpFetch(r) => r,
                _ => unreachable!(),
            }
        });
        assert_eq!(
            userinfo.requests().unwrap_err().kind,
            HostErrorKind::InvalidArgument
        );
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
