//! Host calls: the handler an embedder implements, the per-instance state every backend
//! keeps, and the one dispatch from core-wasm import calls to the handler.

use crate::abi::{FromDiscriminant, GuestMemory, Lifter, Lowerer};
use crate::error::{Error, ErrorKind, Limit, Result};
use crate::limits::Limits;
use morph_abi::{Header, HostError, HostErrorKind, HttpRequest, HttpResponse, LogLevel, Method};
use std::sync::Arc;

/// Who is calling: passed to every [`HostHandler`] method.
#[derive(Debug, Clone, Copy)]
pub struct CallContext<'a> {
    /// The extension's id (its file name until `describe` has run).
    pub extension: &'a str,
}

impl CallContext<'_> {
    /// A `permission-denied` host error for `permission`, saying how to grant it.
    pub fn deny(&self, permission: &str, what: &str) -> HostError {
        HostError::new(
            HostErrorKind::PermissionDenied,
            format!(
                "extension `{ext}` may not {what}: permission `{permission}` is not granted (grant `{permission}` to `{ext}` to allow it)",
                ext = self.extension
            ),
        )
    }
}

/// What the host does for each host call. Every method has a default: logging goes to
/// `tracing` tagged with the extension's id, and every other call is refused with a
/// `permission-denied` error naming the permission (deny by default). An embedder
/// overrides what it grants.
///
/// Implementations must be cheap to call and must not panic; they run on the guest's
/// thread while the guest waits.
pub trait HostHandler: Send + Sync + 'static {
    /// `log.log`.
    fn log(&self, cx: &CallContext<'_>, level: LogLevel, message: &str) {
        let ext = cx.extension;
        match level {
            LogLevel::Trace => {
                tracing::trace!(target: "morph::guest", extension = ext, "{message}")
            }
            LogLevel::Debug => {
                tracing::debug!(target: "morph::guest", extension = ext, "{message}")
            }
            LogLevel::Info => tracing::info!(target: "morph::guest", extension = ext, "{message}"),
            LogLevel::Warn => tracing::warn!(target: "morph::guest", extension = ext, "{message}"),
            LogLevel::Error => {
                tracing::error!(target: "morph::guest", extension = ext, "{message}")
            }
        }
    }

    /// `http.fetch`. Permission: `http:<host>`.
    ///
    /// # Errors
    /// The host error handed back to the guest.
    fn http_fetch(
        &self,
        cx: &CallContext<'_>,
        request: HttpRequest,
    ) -> Result<HttpResponse, HostError> {
        let host = url_host(&request.url);
        Err(cx.deny(
            &format!("http:{host}"),
            &format!("send {} requests to `{host}`", request.method.as_str()),
        ))
    }

    /// `kv.get`. Permission: `kv`.
    ///
    /// # Errors
    /// The host error handed back to the guest.
    fn kv_get(&self, cx: &CallContext<'_>, key: &str) -> Result<Option<Vec<u8>>, HostError> {
        let _ = key;
        Err(cx.deny("kv", "use its key-value store"))
    }

    /// `kv.set`. Permission: `kv`.
    ///
    /// # Errors
    /// The host error handed back to the guest.
    fn kv_set(&self, cx: &CallContext<'_>, key: &str, value: &[u8]) -> Result<(), HostError> {
        let _ = (key, value);
        Err(cx.deny("kv", "use its key-value store"))
    }

    /// `kv.delete`. Permission: `kv`.
    ///
    /// # Errors
    /// The host error handed back to the guest.
    fn kv_delete(&self, cx: &CallContext<'_>, key: &str) -> Result<bool, HostError> {
        let _ = key;
        Err(cx.deny("kv", "use its key-value store"))
    }

    /// `kv.list-keys`. Permission: `kv`.
    ///
    /// # Errors
    /// The host error handed back to the guest.
    fn kv_list_keys(&self, cx: &CallContext<'_>, prefix: &str) -> Result<Vec<String>, HostError> {
        let _ = prefix;
        Err(cx.deny("kv", "use its key-value store"))
    }

    /// `events.emit`. Permission: `events:<name>`.
    ///
    /// # Errors
    /// The host error handed back to the guest.
    fn events_emit(
        &self,
        cx: &CallContext<'_>,
        name: &str,
        payload: &str,
    ) -> Result<(), HostError> {
        let _ = payload;
        Err(cx.deny(&format!("events:{name}"), &format!("emit event `{name}`")))
    }

    /// `config.get`. Permission: `config`.
    ///
    /// # Errors
    /// The host error handed back to the guest.
    fn config_get(&self, cx: &CallContext<'_>) -> Result<String, HostError> {
        Err(cx.deny("config", "read its configuration"))
    }

    /// `clock.now-ms`. Permission: `clock`.
    ///
    /// # Errors
    /// The host error handed back to the guest.
    fn clock_now_ms(&self, cx: &CallContext<'_>) -> Result<u64, HostError> {
        Err(cx.deny("clock", "read the clock"))
    }

    /// `random.bytes`. Permission: `random`.
    ///
    /// # Errors
    /// The host error handed back to the guest.
    fn random_bytes(&self, cx: &CallContext<'_>, len: u32) -> Result<Vec<u8>, HostError> {
        let _ = len;
        Err(cx.deny("random", "read random bytes"))
    }
}

/// The deny-by-default handler: logs, and refuses every other host call.
#[derive(Debug, Clone, Copy, Default)]
pub struct DenyAll;

impl HostHandler for DenyAll {}

/// The host part of a URL, for permission names; the whole string when it has none.
fn url_host(url: &str) -> &str {
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

/// Per-instance host state that every backend keeps in its store: the handler, the
/// limits, and the counters of the current guest call.
pub struct HostContext {
    handler: Arc<dyn HostHandler>,
    extension: String,
    limits: Limits,
    host_calls: u64,
    denied: Option<(String, String)>,
    memory_refused: Option<u64>,
    poisoned: Option<String>,
}

impl HostContext {
    /// State for an instance of the extension labelled `extension` (its id, or its file
    /// name until `describe` has run).
    pub fn new(
        handler: Arc<dyn HostHandler>,
        extension: impl Into<String>,
        limits: Limits,
    ) -> Self {
        HostContext {
            handler,
            extension: extension.into(),
            limits,
            host_calls: 0,
            denied: None,
            memory_refused: None,
            poisoned: None,
        }
    }

    /// Fails with [`ErrorKind::Poisoned`] when an earlier call left the instance unusable.
    /// Every backend calls this before entering the guest.
    ///
    /// # Errors
    /// `Poisoned`, naming the earlier failure.
    pub fn check_usable(&self) -> Result<()> {
        match &self.poisoned {
            Some(cause) => Err(Error::new(ErrorKind::Poisoned {
                cause: cause.clone(),
            })),
            None => Ok(()),
        }
    }

    /// Records the outcome of a guest call: an error that [poisons](Error::poisons) makes
    /// the instance refuse further calls. Returns `r` unchanged.
    ///
    /// # Errors
    /// `r`'s error.
    pub fn settle<T>(&mut self, r: Result<T>) -> Result<T> {
        if let Err(e) = &r
            && e.poisons()
            && self.poisoned.is_none()
        {
            self.poisoned = Some(e.detail());
        }
        r
    }

    /// The limits of this instance.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The extension's label.
    pub fn extension(&self) -> &str {
        &self.extension
    }

    /// Renames the extension (to its id, once `describe` has told it).
    pub fn set_extension(&mut self, id: &str) {
        id.clone_into(&mut self.extension);
    }

    /// Resets the per-call counters; called by a backend before each guest call.
    pub fn begin_call(&mut self) {
        self.host_calls = 0;
        self.denied = None;
        self.memory_refused = None;
    }

    /// Host calls made in the current guest call.
    pub fn host_calls(&self) -> u64 {
        self.host_calls
    }

    /// Records that a memory growth to `requested` bytes was refused by the memory limit;
    /// a trap that follows is then reported as that limit.
    pub fn memory_refused(&mut self, requested: u64) {
        self.memory_refused = Some(requested);
    }

    /// Whether a memory growth was refused in this call, and to what size.
    pub fn refused_memory(&self) -> Option<u64> {
        self.memory_refused
    }

    /// Turns a trap into the limit that caused it, when a memory growth was refused just
    /// before (a Rust guest aborts when its allocator fails).
    pub fn explain_trap(&self, err: Error) -> Error {
        match (err.kind(), self.memory_refused) {
            (ErrorKind::Trap { .. }, Some(requested)) => {
                Error::limit(Limit::Memory, requested, self.limits.max_memory_bytes)
            }
            _ => err,
        }
    }

    /// Maps an action's own error: a `permission-denied` error after a refused host call
    /// becomes [`ErrorKind::PermissionDenied`] naming the permission.
    pub fn guest_error(&self, e: morph_abi::Error) -> Error {
        if e.kind == morph_abi::ErrorKind::PermissionDenied
            && let Some((permission, message)) = &self.denied
        {
            return Error::new(ErrorKind::PermissionDenied {
                permission: permission.clone(),
                extension: self.extension.clone(),
                message: message.clone(),
            });
        }
        Error::new(ErrorKind::Guest(e))
    }

    fn count(&mut self) -> Result<()> {
        self.host_calls += 1;
        if self.host_calls > self.limits.max_host_calls {
            return Err(Error::limit(
                Limit::HostCalls,
                self.host_calls,
                self.limits.max_host_calls,
            ));
        }
        Ok(())
    }

    fn note<T>(&mut self, r: &Result<T, HostError>) {
        if let Err(e) = r
            && e.kind == HostErrorKind::PermissionDenied
        {
            let permission = e
                .message
                .split_once("permission `")
                .and_then(|(_, rest)| rest.split_once('`'))
                .map_or("unknown", |(p, _)| p);
            self.denied = Some((permission.to_owned(), e.message.clone()));
        }
    }

    fn cx(&self) -> CallContext<'_> {
        CallContext {
            extension: &self.extension,
        }
    }

    /// Runs one host call through the handler, counting it against the host-call limit
    /// and remembering a refusal. The component backend calls these with values its
    /// bindings lifted; core backends reach them through [`dispatch`].
    ///
    /// # Errors
    /// `LimitExceeded(host-calls)`, which traps the guest.
    pub fn call<T>(
        &mut self,
        f: impl FnOnce(&dyn HostHandler, &CallContext<'_>) -> Result<T, HostError>,
    ) -> Result<Result<T, HostError>> {
        self.count()?;
        let r = f(&*self.handler, &self.cx());
        self.note(&r);
        Ok(r)
    }

    /// `log.log`, counted like every host call.
    ///
    /// # Errors
    /// `LimitExceeded(host-calls)`.
    pub fn log(&mut self, level: LogLevel, message: &str) -> Result<()> {
        self.count()?;
        self.handler.log(&self.cx(), level, message);
        Ok(())
    }
}

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
/// register exactly these with their linker, each calling [`dispatch`].
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

/// What a backend gives [`dispatch`] for one host call: the guest's memory (with its
/// allocator) and the instance's [`HostContext`]. Borrowed one at a time, never both.
pub trait HostCaller: GuestMemory {
    /// The instance's host state.
    fn host(&mut self) -> &mut HostContext;
}

fn wrong_arity(func: HostFunc) -> Error {
    Error::engine(format!(
        "host function {func:?} called with the wrong number of arguments"
    ))
}

/// Runs the host call `func` with its flat `i32` arguments: lifts them from guest memory,
/// calls the handler through the [`HostContext`], and lowers the result into the guest's
/// return area. The one host-call dispatch every core backend uses.
///
/// # Errors
/// An error that must trap the guest: bad guest data, a limit, or a failed allocation.
/// Refusals and host failures are not errors here: they go back to the guest as values.
pub fn dispatch(func: HostFunc, args: &[u32], caller: &mut dyn HostCaller) -> Result<()> {
    let max = caller.host().limits().max_output_bytes;
    match (func, args) {
        (HostFunc::Log, &[level, ptr, len]) => {
            let level = LogLevel::from_flat(level)?;
            let message = Lifter::new(caller, max).string(ptr, len)?;
            caller.host().log(level, &message)
        }
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
        ) => {
            let request = {
                let mut l = Lifter::new(caller, max);
                HttpRequest {
                    method: Method::from_flat(method)?,
                    url: l.string(url_p, url_l)?,
                    headers: l.list::<Header>(h_p, h_l)?,
                    body: l.flat_option(b_d, |l| l.list::<u8>(b_p, b_l))?,
                    secret: l.flat_option(s_d, |l| l.string(s_p, s_l))?,
                    timeout_ms: l.flat_option(t_d, |_| Ok(t_v))?,
                }
            };
            let r = caller.host().call(|h, cx| h.http_fetch(cx, request))?;
            Lowerer::new(caller).store(&r, ret)
        }
        (HostFunc::KvGet, &[p, l, ret]) => {
            let key = Lifter::new(caller, max).string(p, l)?;
            let r = caller.host().call(|h, cx| h.kv_get(cx, &key))?;
            Lowerer::new(caller).store(&r, ret)
        }
        (HostFunc::KvSet, &[kp, kl, vp, vl, ret]) => {
            let (key, value) = {
                let mut l = Lifter::new(caller, max);
                (l.string(kp, kl)?, l.list::<u8>(vp, vl)?)
            };
            let r = caller.host().call(|h, cx| h.kv_set(cx, &key, &value))?;
            Lowerer::new(caller).store(&r, ret)
        }
        (HostFunc::KvDelete, &[p, l, ret]) => {
            let key = Lifter::new(caller, max).string(p, l)?;
            let r = caller.host().call(|h, cx| h.kv_delete(cx, &key))?;
            Lowerer::new(caller).store(&r, ret)
        }
        (HostFunc::KvListKeys, &[p, l, ret]) => {
            let prefix = Lifter::new(caller, max).string(p, l)?;
            let r = caller.host().call(|h, cx| h.kv_list_keys(cx, &prefix))?;
            Lowerer::new(caller).store(&r, ret)
        }
        (HostFunc::EventsEmit, &[np, nl, pp, pl, ret]) => {
            let (name, payload) = {
                let mut l = Lifter::new(caller, max);
                (l.string(np, nl)?, l.string(pp, pl)?)
            };
            let r = caller
                .host()
                .call(|h, cx| h.events_emit(cx, &name, &payload))?;
            Lowerer::new(caller).store(&r, ret)
        }
        (HostFunc::ConfigGet, &[ret]) => {
            let r = caller.host().call(|h, cx| h.config_get(cx))?;
            Lowerer::new(caller).store(&r, ret)
        }
        (HostFunc::ClockNowMs, &[ret]) => {
            let r = caller.host().call(|h, cx| h.clock_now_ms(cx))?;
            Lowerer::new(caller).store(&r, ret)
        }
        (HostFunc::RandomBytes, &[len, ret]) => {
            let r = caller.host().call(|h, cx| h.random_bytes(cx, len))?;
            Lowerer::new(caller).store(&r, ret)
        }
        (func, _) => Err(wrong_arity(func)),
    }
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
    fn deny_names_the_permission() {
        let cx = CallContext { extension: "hello" };
        let e = DenyAll.events_emit(&cx, "greeted", "{}").unwrap_err();
        assert_eq!(e.kind, HostErrorKind::PermissionDenied);
        assert!(e.message.contains("`events:greeted`"), "{}", e.message);
        assert!(e.message.contains("`hello`"), "{}", e.message);
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
}
