//! [`Capabilities`]: the host handler that performs admitted host calls against the
//! store and the network, and audits each.

use crate::Error;
use crate::adapters::{self, AiLimits, AiProvider, Notifier};
use crate::files::{self, FsLimits};
#[cfg(feature = "http")]
use crate::http::Fetch;
use morph_abi::{ExtensionInfo, HostError, HostErrorKind};
use morph_permissions::{Decision, Denial, Grant, GrantSet, KvQuota, PermissionKind, Request};
use morph_runtime::{BoxFuture, CallContext, HostCall, HostHandler, HostReply, Policy};
use morph_schema::Schema;
use morph_store::{AuditOutcome, AuditRecord, Store, StoreError};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;
use tokio::sync::broadcast;

/// Asks whether the extension in a call may make a request: the same decision the
/// checkpoint makes, for the requests the handler meets on its own (a redirect's next
/// hop, a secret on a redirected request). Any `Fn(&CallContext, &Request) -> Decision`
/// is one; wire it to the policy the checkpoint uses.
pub trait PermissionCheck: Send + Sync + 'static {
    /// The decision on `request` for the extension in `cx`.
    fn check(&self, cx: &CallContext, request: &Request) -> Decision;
}

impl<F> PermissionCheck for F
where
    F: Fn(&CallContext, &Request) -> Decision + Send + Sync + 'static,
{
    fn check(&self, cx: &CallContext, request: &Request) -> Decision {
        self(cx, request)
    }
}

/// Bounds on `http.fetch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Redirects followed per request (each hop checked); one more fails the call with
    /// `limit-exceeded`. Default 5.
    pub max_redirects: u32,
    /// Bytes of response body; past it the call fails with `limit-exceeded` and the
    /// rest is not read. Default 10 MiB.
    pub max_response_bytes: u64,
    /// The longest a request may take, redirects and body included; a guest's
    /// `timeout-ms` can only shorten it. Default 30 s.
    pub max_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_redirects: 5,
            max_response_bytes: 10 * 1024 * 1024,
            max_timeout: Duration::from_secs(30),
        }
    }
}

/// An event an extension emitted, as subscribers get it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The extension's id.
    pub extension: Arc<str>,
    /// Its version.
    pub version: Arc<str>,
    /// The event's name, one the extension declares.
    pub name: String,
    /// The payload, which matched the event's declared schema.
    pub payload: serde_json::Value,
}

/// The most random bytes one call gets (the contract's bound).
pub const MAX_RANDOM_BYTES: u32 = 65_536;
/// The largest event payload, in bytes of JSON text.
pub const MAX_EVENT_PAYLOAD_BYTES: usize = 256 * 1024;
/// The most dry-run records kept for [`Capabilities::take_dry_run`] between two takes;
/// later ones are still in the audit log.
pub const MAX_DRY_RUN_RECORDS: usize = 10_000;

/// What the handler knows of one registered extension.
#[derive(Debug)]
pub(crate) struct Profile {
    version: Arc<str>,
    events: HashMap<String, Schema>,
    config_schema: Option<Schema>,
    /// The quotas of its effective `kv-write` grants, largest first; a write passes if
    /// one allows it. Empty: it may not write.
    kv_quotas: Vec<KvQuota>,
    /// What it may do: requested by its manifest and granted by the person.
    effective: GrantSet,
}

/// One audit entry of a call, before the common fields are added.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) permission: PermissionKind,
    pub(crate) target: String,
    pub(crate) outcome: AuditOutcome,
    pub(crate) detail: String,
}

pub(crate) struct Inner {
    pub(crate) store: Arc<Store>,
    #[cfg_attr(
        not(feature = "http"),
        expect(dead_code, reason = "only redirects ask it, and they need `http`")
    )]
    /// Decides redirect hops; `None`: the registered effective grants do.
    pub(crate) checker: Option<Arc<dyn PermissionCheck>>,
    #[cfg(feature = "http")]
    pub(crate) client: reqwest::Client,
    pub(crate) http_limits: HttpLimits,
    pub(crate) dry_run: bool,
    files: PathBuf,
    fs_limits: FsLimits,
    notifier: Option<Arc<dyn Notifier>>,
    ai: Option<Arc<dyn AiProvider>>,
    ai_limits: AiLimits,
    profiles: RwLock<HashMap<Arc<str>, Arc<Profile>>>,
    events: broadcast::Sender<Event>,
    planned: Mutex<Vec<AuditRecord>>,
}

/// The host functions of the contract, performed for real: `http` through reqwest, `kv`
/// and `config` in the [`Store`], `events` to [`Capabilities::subscribe`]rs, `clock`,
/// `random`; every call recorded in the store's audit log. See the crate docs.
///
/// Cheap to clone (one `Arc`), `Send + Sync`.
#[derive(Clone)]
pub struct Capabilities {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capabilities")
            .field("store", &self.inner.store.dir())
            .field("http_limits", &self.inner.http_limits)
            .field("dry_run", &self.inner.dry_run)
            .finish_non_exhaustive()
    }
}

/// Builds [`Capabilities`]: [`Capabilities::builder`].
#[must_use]
pub struct CapabilitiesBuilder {
    store: Arc<Store>,
    checker: Option<Arc<dyn PermissionCheck>>,
    http_limits: HttpLimits,
    dry_run: bool,
    event_capacity: usize,
    files: Option<PathBuf>,
    fs_limits: FsLimits,
    notifier: Option<Arc<dyn Notifier>>,
    ai: Option<Arc<dyn AiProvider>>,
    ai_limits: AiLimits,
}

impl CapabilitiesBuilder {
    /// Decides the requests the handler meets on its own (redirect hops) with `checker`
    /// instead of the capabilities' own [`Policy`]: for an embedder whose checkpoint uses
    /// another policy.
    pub fn checker(mut self, checker: impl PermissionCheck) -> Self {
        self.checker = Some(Arc::new(checker));
        self
    }

    /// Bounds on `http.fetch` ([`HttpLimits::default`] unless set).
    pub fn http_limits(mut self, limits: HttpLimits) -> Self {
        self.http_limits = limits;
        self
    }

    /// The folder that holds the extensions' files (`fs.*`): each extension's virtual
    /// directories are folders under `FOLDER/ID/`. Default: `files/` in the store's
    /// folder.
    pub fn files(mut self, folder: impl Into<PathBuf>) -> Self {
        self.files = Some(folder.into());
        self
    }

    /// Bounds on `fs.*` ([`FsLimits::default`] unless set).
    pub fn fs_limits(mut self, limits: FsLimits) -> Self {
        self.fs_limits = limits;
        self
    }

    /// Shows `notify.send`'s notifications; without one they fail with `unavailable`.
    pub fn notifier(mut self, notifier: impl Notifier) -> Self {
        self.notifier = Some(Arc::new(notifier));
        self
    }

    /// Answers `ai.complete` (e.g. [`OpenAiCompatible`](crate::OpenAiCompatible));
    /// without one it fails with `unavailable`.
    pub fn ai(mut self, provider: impl AiProvider) -> Self {
        self.ai = Some(Arc::new(provider));
        self
    }

    /// Bounds on `ai.complete` ([`AiLimits::default`] unless set).
    pub fn ai_limits(mut self, limits: AiLimits) -> Self {
        self.ai_limits = limits;
        self
    }

    /// Dry run: reads are performed; writes (HTTP methods other than GET and HEAD,
    /// `kv.set`, `kv.delete`, `events.emit`, `fs.write`, `fs.remove`, `notify.send`)
    /// are checked as a real call would be, not
    /// performed, recorded in the audit log as `dry-run` and in
    /// [`Capabilities::take_dry_run`], and answered as if done: an HTTP write gets a
    /// status 200 with no header and an empty body, `kv.delete` says whether the key
    /// exists. Later reads see the store as it was. Off by default.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// How many events a subscriber may fall behind before it misses some (tokio's
    /// broadcast channel: a lagging receiver gets `Lagged` and skips ahead). Default
    /// 1024; at least 1.
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity.max(1);
        self
    }

    /// Builds the capabilities and, with the `http` feature, their HTTP client (rustls
    /// with ring, installed as the process's crypto provider if none is; no proxy; no
    /// automatic redirect).
    ///
    /// # Errors
    /// [`Error::Http`] when the HTTP client cannot be built.
    pub fn build(self) -> Result<Capabilities, Error> {
        #[cfg(feature = "http")]
        let client = crate::http::client(&self.http_limits)?;
        let (events, _) = broadcast::channel(self.event_capacity);
        let files = self.files.unwrap_or_else(|| self.store.dir().join("files"));
        Ok(Capabilities {
            inner: Arc::new(Inner {
                store: self.store,
                checker: self.checker,
                #[cfg(feature = "http")]
                client,
                http_limits: self.http_limits,
                dry_run: self.dry_run,
                files,
                fs_limits: self.fs_limits,
                notifier: self.notifier,
                ai: self.ai,
                ai_limits: self.ai_limits,
                profiles: RwLock::new(HashMap::new()),
                events,
                planned: Mutex::new(Vec::new()),
            }),
        })
    }
}

impl Capabilities {
    /// A builder over `store` (the one embedded store: kv, config, secrets, audit). The
    /// capabilities are their own [`Policy`] (each registered extension's effective
    /// grants), and the requests the handler meets on its own (redirect hops) are
    /// decided the same way unless [`CapabilitiesBuilder::checker`] says otherwise.
    pub fn builder(store: Arc<Store>) -> CapabilitiesBuilder {
        CapabilitiesBuilder {
            store,
            checker: None,
            http_limits: HttpLimits::default(),
            dry_run: false,
            event_capacity: 1024,
            files: None,
            fs_limits: FsLimits::default(),
            notifier: None,
            ai: None,
            ai_limits: AiLimits::default(),
        }
    }

    /// Makes the extension `info` describes known to the handler, replacing an earlier
    /// registration of its id: its version (for the audit), its declared events and
    /// their payload schemas, its config schema, and its key-value quotas, which are
    /// those of the `kv-write` grants in `effective` (what it requested and was
    /// granted). Calls from an extension that is not registered fail with
    /// `unavailable`.
    ///
    /// # Errors
    /// [`Error::Schema`] when a payload or config schema cannot be compiled (see the
    /// crate docs for the bounds).
    pub fn register(&self, info: &ExtensionInfo, effective: &GrantSet) -> Result<(), Error> {
        let schema_error = |owner: String, error| Error::Schema {
            id: info.id.clone(),
            owner,
            error,
        };
        let mut events = HashMap::new();
        for event in &info.events {
            let owner = format!("event `{}`", event.name.escape_debug());
            let schema =
                Schema::compile(&event.payload_schema).map_err(|r| schema_error(owner, r))?;
            events.insert(event.name.clone(), schema);
        }
        let config_schema = info
            .config_schema
            .as_deref()
            .map(Schema::compile)
            .transpose()
            .map_err(|r| schema_error("the configuration".to_owned(), r))?;
        let mut kv_quotas: Vec<KvQuota> = effective
            .iter()
            .filter_map(|g| match g {
                Grant::KvWrite(q) => Some(*q),
                _ => None,
            })
            .collect();
        kv_quotas.sort_by(|a, b| b.cmp(a));
        let profile = Profile {
            version: info.version.as_str().into(),
            events,
            config_schema,
            kv_quotas,
            effective: effective.clone(),
        };
        self.inner
            .profiles
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(info.id.as_str().into(), Arc::new(profile));
        Ok(())
    }

    /// Forgets extension `id`; returns whether it was registered.
    pub fn unregister(&self, id: &str) -> bool {
        self.inner
            .profiles
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id)
            .is_some()
    }

    /// Sets the configuration of registered extension `id` to `json`, after checking it
    /// against the extension's config schema (when it declares one). `config.get`
    /// hands it back.
    ///
    /// # Errors
    /// [`Error::NotRegistered`]; [`Error::Config`] when it is not JSON or does not
    /// match; [`Error::Store`] when the store refuses it (over
    /// [`morph_store::MAX_CONFIG_BYTES`]) or fails.
    pub fn set_config(&self, id: &str, json: &str) -> Result<(), Error> {
        let profile = self
            .inner
            .profile(id)
            .ok_or_else(|| Error::NotRegistered { id: id.to_owned() })?;
        let config_error = |reason: String| Error::Config {
            id: id.to_owned(),
            reason,
        };
        if json.len() > morph_store::MAX_CONFIG_BYTES {
            return Err(Error::Store(StoreError::InvalidConfig {
                id: id.to_owned(),
                reason: format!(
                    "it is {} bytes long (at most {})",
                    json.len(),
                    morph_store::MAX_CONFIG_BYTES
                ),
            }));
        }
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| config_error(format!("it is not JSON: {e}")))?;
        if let Some(schema) = &profile.config_schema {
            schema
                .check(&value)
                .map_err(|v| config_error(v.to_string()))?;
        }
        self.inner.store.set_config(id, json)?;
        Ok(())
    }

    /// A receiver of every event emitted from now on (not in a dry run). Events are
    /// delivered in the order they were emitted; a receiver that falls behind by more
    /// than the builder's `event_capacity` misses the oldest (tokio's broadcast).
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// Whether this is a dry run (see [`CapabilitiesBuilder::dry_run`]).
    #[must_use]
    pub fn is_dry_run(&self) -> bool {
        self.inner.dry_run
    }

    /// What a dry run did not do, oldest first, since the last take: the `dry-run`
    /// audit records (at most [`MAX_DRY_RUN_RECORDS`]).
    #[must_use]
    pub fn take_dry_run(&self) -> Vec<AuditRecord> {
        std::mem::take(
            &mut *self
                .inner
                .planned
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Records in the audit log a request the checkpoint refused (the handler records
    /// the calls it performs or refuses itself). A short synchronous write to the store.
    ///
    /// # Errors
    /// [`Error::Store`] when the write fails.
    pub fn record_denial(&self, cx: &CallContext, denial: &Denial) -> Result<(), Error> {
        let version = self
            .inner
            .profile(&cx.extension)
            .map(|p| p.version.to_string())
            .unwrap_or_default();
        let record = AuditRecord {
            time_ms: AuditRecord::now_ms(),
            extension: cx.extension.to_string(),
            version,
            action: cx.kind.action().map(str::to_owned),
            permission: denial.permission().name().to_owned(),
            target: denial.request().to_string(),
            outcome: AuditOutcome::Denied,
            detail: denial.to_string(),
        };
        self.inner.store.append_audit(&record)?;
        Ok(())
    }

    /// The store the capabilities use.
    #[must_use]
    pub fn store(&self) -> &Arc<Store> {
        &self.inner.store
    }
}

/// The capabilities' own decisions: what the extension registered with
/// [`Capabilities::register`] may do (its effective grants); nothing for any other.
impl PermissionCheck for Inner {
    fn check(&self, cx: &CallContext, request: &Request) -> Decision {
        match self.profile(&cx.extension) {
            Some(profile) => profile.effective.allows(request),
            None => GrantSet::new().allows(request),
        }
    }
}

/// The checkpoint's policy over the registered effective grants: each refusal is also
/// recorded in the audit log (the handler records the calls it performs itself).
impl Policy for Capabilities {
    fn decide(&self, cx: &CallContext, request: &Request) -> Decision {
        let decision = self.inner.check(cx, request);
        if let Decision::Deny(denial) = &decision
            && let Err(e) = self.record_denial(cx, denial)
        {
            tracing::warn!(extension = &*cx.extension, "could not audit a refusal: {e}");
        }
        decision
    }
}

impl HostHandler for Capabilities {
    fn handle<'a>(
        &'a self,
        cx: &'a CallContext,
        call: HostCall,
    ) -> BoxFuture<'a, Result<HostReply, HostError>> {
        Box::pin(self.inner.handle(cx, call))
    }
}

fn host_error(kind: HostErrorKind, message: impl Into<String>) -> HostError {
    HostError::new(kind, message)
}

/// What a store error means for the guest. Messages about the store's own state (its
/// path, the database) stay in the host's log.
fn store_failure(e: StoreError) -> HostError {
    match e {
        StoreError::QuotaExceeded { .. } => host_error(HostErrorKind::LimitExceeded, e.to_string()),
        StoreError::InvalidKey { .. } => host_error(HostErrorKind::InvalidArgument, e.to_string()),
        other => {
            tracing::error!(error = %other, "the store failed during a host call");
            host_error(
                HostErrorKind::Internal,
                "the host's store failed; see the host's log",
            )
        }
    }
}

/// A guest's text in a message or an audit target, to put between backquotes: control
/// characters and backquotes escaped.
pub(crate) fn shown(text: &str) -> String {
    text.escape_debug().to_string().replace('`', "\\`")
}

impl Inner {
    pub(crate) fn profile(&self, id: &str) -> Option<Arc<Profile>> {
        self.profiles
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    /// Runs `f` on the store on tokio's blocking pool (a write waits for its commit to
    /// reach the disk).
    pub(crate) async fn on_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, HostError> {
        let store = Arc::clone(&self.store);
        match tokio::task::spawn_blocking(move || f(&store)).await {
            Ok(result) => result.map_err(store_failure),
            Err(e) => {
                tracing::error!(error = %e, "a store task failed during a host call");
                Err(host_error(
                    HostErrorKind::Internal,
                    "the host's store failed; see the host's log",
                ))
            }
        }
    }

    async fn handle(&self, cx: &CallContext, call: HostCall) -> Result<HostReply, HostError> {
        let func = call.func();
        let Some(profile) = self.profile(&cx.extension) else {
            return Err(host_error(
                HostErrorKind::Unavailable,
                format!(
                    "`{}` is not registered with this host's capabilities, which cannot perform {}",
                    shown(&cx.extension),
                    func.name()
                ),
            ));
        };
        let mut audit = Vec::new();
        let reply = self.perform(cx, &profile, call, &mut audit).await;
        self.write_audit(cx, &profile, audit).await;
        reply
    }

    /// Performs `call`, adding its audit entries to `audit`.
    async fn perform(
        &self,
        cx: &CallContext,
        profile: &Profile,
        call: HostCall,
        audit: &mut Vec<Entry>,
    ) -> Result<HostReply, HostError> {
        let ext: Arc<str> = Arc::clone(&cx.extension);
        let dry = self.dry_run;
        // What the call did when it succeeded (`done` and `detail`); a failure records
        // `failed` with its message instead.
        let (reply, permission, target, done, detail) = match call {
            HostCall::Log { .. } => return Ok(HostReply::Done),
            #[cfg(feature = "http")]
            HostCall::HttpFetch(request) => {
                let fetch = Fetch {
                    inner: self,
                    cx,
                    audit,
                };
                return fetch.run(request).await.map(HostReply::Http);
            }
            #[cfg(not(feature = "http"))]
            HostCall::HttpFetch(request) => {
                let target = format!("{} {}", request.method.as_str(), shown(&request.url));
                let r = Err(host_error(
                    HostErrorKind::Unavailable,
                    "this host was built without HTTP (morph-capabilities' `http` feature)",
                ));
                (
                    r,
                    PermissionKind::Http,
                    target,
                    AuditOutcome::Allowed,
                    String::new(),
                )
            }
            HostCall::KvGet { key } => {
                let target = format!("key `{}`", shown(&key));
                let r = self.on_store(move |s| s.kv_get(&ext, &key)).await;
                let detail = match &r {
                    Ok(Some(v)) => format!("{} bytes", v.len()),
                    _ => "absent".to_owned(),
                };
                let r = r.map(HostReply::Value);
                (
                    r,
                    PermissionKind::KvRead,
                    target,
                    AuditOutcome::Allowed,
                    detail,
                )
            }
            HostCall::KvListKeys { prefix } => {
                let target = format!("keys under `{}`", shown(&prefix));
                let r = self.on_store(move |s| s.kv_list_keys(&ext, &prefix)).await;
                let detail = r.as_ref().map(|k| format!("{} keys", k.len()));
                let detail = detail.unwrap_or_default();
                let r = r.map(HostReply::Keys);
                (
                    r,
                    PermissionKind::KvRead,
                    target,
                    AuditOutcome::Allowed,
                    detail,
                )
            }
            HostCall::KvSet { key, value } => {
                let target = format!("key `{}`", shown(&key));
                let len = value.len();
                let r = self.kv_set(ext, key, value, &profile.kv_quotas).await;
                let (done, verb) = match dry {
                    true => (AuditOutcome::DryRun, "not written: "),
                    false => (AuditOutcome::Allowed, ""),
                };
                let detail = match &r {
                    Ok(usage) => format!(
                        "{verb}{len} bytes; the store holds {} bytes in {} keys",
                        usage.bytes, usage.keys
                    ),
                    Err(_) => String::new(),
                };
                let r = r.map(|_| HostReply::Done);
                (r, PermissionKind::KvWrite, target, done, detail)
            }
            HostCall::KvDelete { key } => {
                let target = format!("key `{}`", shown(&key));
                let (r, done) = match dry {
                    true => (
                        self.on_store(move |s| s.kv_get(&ext, &key).map(|v| v.is_some()))
                            .await,
                        AuditOutcome::DryRun,
                    ),
                    false => (
                        self.on_store(move |s| s.kv_delete(&ext, &key)).await,
                        AuditOutcome::Allowed,
                    ),
                };
                let detail = match (&r, dry) {
                    (Ok(true), true) => "not deleted (the key exists)",
                    (Ok(false), true) => "not deleted (no such key)",
                    (Ok(true), false) => "deleted",
                    _ => "no such key",
                };
                let r = r.map(HostReply::Deleted);
                (r, PermissionKind::KvWrite, target, done, detail.to_owned())
            }
            HostCall::EventsEmit { name, payload } => {
                let target = shown(&name);
                let (done, verb) = match dry {
                    true => (AuditOutcome::DryRun, "not delivered: "),
                    false => (AuditOutcome::Allowed, ""),
                };
                let detail = format!("{verb}{} bytes", payload.len());
                let r = self
                    .emit(cx, profile, name, &payload)
                    .map(|()| HostReply::Done);
                (r, PermissionKind::Events, target, done, detail)
            }
            HostCall::ConfigGet => {
                let r = self.config(cx, profile).await.map(HostReply::Config);
                let (target, detail) = (String::new(), String::new());
                (
                    r,
                    PermissionKind::Config,
                    target,
                    AuditOutcome::Allowed,
                    detail,
                )
            }
            HostCall::ClockNowMs => {
                let r = Ok(HostReply::Now(AuditRecord::now_ms()));
                let (target, detail) = (String::new(), String::new());
                (
                    r,
                    PermissionKind::Clock,
                    target,
                    AuditOutcome::Allowed,
                    detail,
                )
            }
            HostCall::RandomBytes { len } => {
                let (target, detail) = (format!("{len} bytes"), String::new());
                (
                    random(len),
                    PermissionKind::Random,
                    target,
                    AuditOutcome::Allowed,
                    detail,
                )
            }
            HostCall::FsRead { path } => {
                let target = shown(&path);
                let r = self
                    .on_files(cx, move |root, limits| files::read(root, &path, limits))
                    .await;
                let detail = r.as_ref().map(|d| format!("{} bytes", d.len()));
                let detail = detail.unwrap_or_default();
                let r = r.map(HostReply::File);
                (
                    r,
                    PermissionKind::FsRead,
                    target,
                    AuditOutcome::Allowed,
                    detail,
                )
            }
            HostCall::FsListDir { path } => {
                let target = shown(&path);
                let r = self
                    .on_files(cx, move |root, limits| files::list_dir(root, &path, limits))
                    .await;
                let detail = r.as_ref().map(|n| format!("{} names", n.len()));
                let detail = detail.unwrap_or_default();
                let r = r.map(HostReply::Entries);
                (
                    r,
                    PermissionKind::FsRead,
                    target,
                    AuditOutcome::Allowed,
                    detail,
                )
            }
            HostCall::FsWrite { path, data } => {
                let target = shown(&path);
                let (done, verb) = match dry {
                    true => (AuditOutcome::DryRun, "not written: "),
                    false => (AuditOutcome::Allowed, ""),
                };
                let detail = format!("{verb}{} bytes", data.len());
                let r = self
                    .on_files(cx, move |root, limits| {
                        files::write(root, &path, &data, limits, !dry)
                    })
                    .await
                    .map(|()| HostReply::Done);
                (r, PermissionKind::FsWrite, target, done, detail)
            }
            HostCall::FsRemove { path } => {
                let target = shown(&path);
                let r = self
                    .on_files(cx, move |root, _| files::remove(root, &path, !dry))
                    .await;
                let (done, detail) = match (&r, dry) {
                    (Ok(true), true) => (AuditOutcome::DryRun, "not removed (it exists)"),
                    (Ok(false), true) => (AuditOutcome::DryRun, "not removed (there is none)"),
                    (Ok(true), false) => (AuditOutcome::Allowed, "removed"),
                    _ => (AuditOutcome::Allowed, "there is none"),
                };
                let r = r.map(HostReply::Removed);
                (r, PermissionKind::FsWrite, target, done, detail.to_owned())
            }
            HostCall::NotifySend(notification) => {
                let target = format!("`{}`", shown(&notification.title));
                let (done, detail) = match dry {
                    true => (AuditOutcome::DryRun, "not shown"),
                    false => (AuditOutcome::Allowed, "shown"),
                };
                let r = self.notify(cx, &notification).map(|()| HostReply::Done);
                (r, PermissionKind::Notify, target, done, detail.to_owned())
            }
            HostCall::AiComplete(request) => {
                let target = format!("{} messages", request.messages.len());
                let r = self.complete(cx, request).await;
                let detail = match &r {
                    Ok(c) => format!("{} bytes from `{}`", c.content.len(), shown(&c.model)),
                    Err(_) => String::new(),
                };
                let r = r.map(HostReply::Completion);
                (r, PermissionKind::Ai, target, AuditOutcome::Allowed, detail)
            }
            other => {
                return Err(host_error(
                    HostErrorKind::Unavailable,
                    format!("this host does not provide {}", other.func().name()),
                ));
            }
        };
        let (outcome, detail) = match &reply {
            Ok(_) => (done, detail),
            Err(e) => (AuditOutcome::Failed, e.message.clone()),
        };
        audit.push(Entry {
            permission,
            target,
            outcome,
            detail,
        });
        reply
    }

    /// Runs `f` on the blocking pool with the folder of the extension's files.
    async fn on_files<T: Send + 'static>(
        &self,
        cx: &CallContext,
        f: impl FnOnce(&std::path::Path, &FsLimits) -> Result<T, HostError> + Send + 'static,
    ) -> Result<T, HostError> {
        let root = files::extension_root(&self.files, &cx.extension)?;
        let limits = self.fs_limits;
        match tokio::task::spawn_blocking(move || f(&root, &limits)).await {
            Ok(result) => result,
            Err(e) => {
                tracing::error!(error = %e, "a file task failed during a host call");
                Err(host_error(
                    HostErrorKind::Internal,
                    "the host's filesystem failed; see the host's log",
                ))
            }
        }
    }

    /// `notify.send`: checked, then handed to the app's notifier (not in a dry run).
    fn notify(
        &self,
        cx: &CallContext,
        notification: &morph_abi::Notification,
    ) -> Result<(), HostError> {
        adapters::check_notification(notification)?;
        let Some(notifier) = &self.notifier else {
            return Err(host_error(
                HostErrorKind::Unavailable,
                "this host shows no notifications (the app plugged in no notifier)",
            ));
        };
        match self.dry_run {
            true => Ok(()),
            false => notifier.notify(&cx.extension, notification),
        }
    }

    /// `ai.complete`: checked and capped, then asked of the app's model.
    async fn complete(
        &self,
        cx: &CallContext,
        request: morph_abi::CompletionRequest,
    ) -> Result<morph_abi::Completion, HostError> {
        let request = adapters::check_completion(request, &self.ai_limits)?;
        let Some(ai) = &self.ai else {
            return Err(host_error(
                HostErrorKind::Unavailable,
                "this host has no model (the app plugged in no AI provider)",
            ));
        };
        ai.complete(&cx.extension, request).await
    }

    /// `kv.set` (or, in a dry run, its check): the largest quota first, then the next
    /// if it refuses (a write passes when one `kv-write` grant allows it).
    async fn kv_set(
        &self,
        ext: Arc<str>,
        key: String,
        value: Vec<u8>,
        quotas: &[KvQuota],
    ) -> Result<morph_store::KvUsage, HostError> {
        let Some((&first, rest)) = quotas.split_first() else {
            return Err(host_error(
                HostErrorKind::PermissionDenied,
                format!(
                    "`{}` has no `kv-write` grant, so no quota to write in",
                    shown(&ext)
                ),
            ));
        };
        let rest = rest.to_vec();
        let dry = self.dry_run;
        self.on_store(move |s| {
            let write = |quota| match dry {
                true => s.kv_check_set(&ext, &key, &value, quota),
                false => s.kv_set(&ext, &key, &value, quota),
            };
            let mut result = write(first);
            for &quota in &rest {
                match result {
                    Err(StoreError::QuotaExceeded { .. }) => result = write(quota),
                    _ => break,
                }
            }
            result
        })
        .await
    }

    fn emit(
        &self,
        cx: &CallContext,
        profile: &Profile,
        name: String,
        payload: &str,
    ) -> Result<(), HostError> {
        let Some(schema) = profile.events.get(&name) else {
            return Err(host_error(
                HostErrorKind::PermissionDenied,
                format!(
                    "`{}` does not declare the event `{}`",
                    shown(&cx.extension),
                    shown(&name)
                ),
            ));
        };
        if payload.len() > MAX_EVENT_PAYLOAD_BYTES {
            return Err(host_error(
                HostErrorKind::LimitExceeded,
                format!(
                    "the payload of event `{name}` is {} bytes long (at most {MAX_EVENT_PAYLOAD_BYTES})",
                    payload.len()
                ),
            ));
        }
        let value: serde_json::Value = serde_json::from_str(payload).map_err(|e| {
            host_error(
                HostErrorKind::InvalidArgument,
                format!("the payload of event `{name}` is not JSON: {e}"),
            )
        })?;
        schema.check(&value).map_err(|reason| {
            host_error(
                HostErrorKind::InvalidArgument,
                format!("the payload of event `{name}` does not match its schema: {reason}"),
            )
        })?;
        if !self.dry_run {
            // An error means nobody subscribes: the event is emitted all the same.
            let _ = self.events.send(Event {
                extension: Arc::clone(&cx.extension),
                version: Arc::clone(&profile.version),
                name,
                payload: value,
            });
        }
        Ok(())
    }

    async fn config(&self, cx: &CallContext, profile: &Profile) -> Result<String, HostError> {
        let ext = Arc::clone(&cx.extension);
        let stored = self.on_store(move |s| s.config(&ext)).await?;
        let Some(text) = stored else {
            return Err(host_error(
                HostErrorKind::NotFound,
                format!("no configuration is set for `{}`", shown(&cx.extension)),
            ));
        };
        if let Some(schema) = &profile.config_schema
            && let Err(reason) = schema.check_text(&text)
        {
            return Err(host_error(
                HostErrorKind::InvalidArgument,
                format!(
                    "the configuration set for `{}` does not match the config schema of version {}: {reason}; set it again",
                    shown(&cx.extension),
                    profile.version
                ),
            ));
        }
        Ok(text)
    }

    /// Appends the call's entries to the audit log (and, for dry-run ones, to the
    /// dry-run list). A failed write is logged, not handed to the guest: the call has
    /// happened by then.
    async fn write_audit(&self, cx: &CallContext, profile: &Profile, entries: Vec<Entry>) {
        if entries.is_empty() {
            return;
        }
        let now = AuditRecord::now_ms();
        let records: Vec<AuditRecord> = entries
            .into_iter()
            .map(|e| AuditRecord {
                time_ms: now,
                extension: cx.extension.to_string(),
                version: profile.version.to_string(),
                action: cx.kind.action().map(str::to_owned),
                permission: e.permission.name().to_owned(),
                target: e.target,
                outcome: e.outcome,
                detail: e.detail,
            })
            .collect();
        {
            let mut planned = self.planned.lock().unwrap_or_else(PoisonError::into_inner);
            for r in records.iter().filter(|r| r.outcome == AuditOutcome::DryRun) {
                if planned.len() < MAX_DRY_RUN_RECORDS {
                    planned.push(r.clone());
                }
            }
        }
        let written = self
            .on_store(move |s| records.iter().try_for_each(|r| s.append_audit(r)))
            .await;
        if let Err(e) = written {
            tracing::error!(extension = %cx.extension, error = %e, "cannot write the audit log");
        }
    }
}

fn random(len: u32) -> Result<HostReply, HostError> {
    if len > MAX_RANDOM_BYTES {
        return Err(host_error(
            HostErrorKind::InvalidArgument,
            format!("{len} random bytes asked for; at most {MAX_RANDOM_BYTES} per call"),
        ));
    }
    let mut bytes = vec![0; usize::try_from(len).unwrap_or(0)];
    getrandom::fill(&mut bytes).map_err(|e| {
        host_error(
            HostErrorKind::Unavailable,
            format!("the system's random source failed: {e}"),
        )
    })?;
    Ok(HostReply::Bytes(bytes))
}
