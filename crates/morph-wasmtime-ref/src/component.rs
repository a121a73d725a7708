//! `wasmtime`: the module wrapped as a component and run with `bindgen!`, the reference
//! semantics of the contract.

use crate::engine::{Crossing, StoreData, arm, burn, fuel_used, map_error, new_store};
use morph_abi as abi;
use morph_runtime::protocol::{LiftedCalls, LiftedInstance, serve_lifted};
use morph_runtime::{
    Answer, CallKind, CompiledModule, Error, HostCall, HostContext, Instance, InstanceConfig,
    Limit, ModuleInfo, Result, Usage,
};
use std::any::Any;
use std::sync::Arc;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{CallHook, Engine, Store};

mod bindings {
    wasmtime::component::bindgen!({
        path: ["../../wit/v0.1.0", "../../wit/v0.2.0"],
        world: "morph:extension/extension@0.2.0",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

use bindings::morph::extension0_1_0::{clock, config, events, http, kv, log, random, types};
use bindings::morph::extension0_2_0::{ai, fs, notify};

/// The contract's WIT, each version's, oldest first: the host's own copy, which a module's
/// world is taken from (by the version it declares), never the guest's. Every version
/// keeps the earlier versions' interfaces and the same exports, so one set of bindings
/// (the newest world's) runs components of every version.
const CONTRACT_WIT: [(&str, &str); 2] = [
    ("0.1.0", include_str!("../../../wit/v0.1.0/morph.wit")),
    ("0.2.0", include_str!("../../../wit/v0.2.0/morph.wit")),
];

struct ComponentModule {
    pre: bindings::ExtensionPre<StoreData>,
    info: ModuleInfo,
}

impl CompiledModule for ComponentModule {
    fn info(&self) -> &ModuleInfo {
        &self.info
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The module without any `component-type` custom section: the host never trusts the
/// guest's own description of its world (string encodings, extra exports).
fn strip_component_types(wasm: &[u8]) -> Result<Vec<u8>> {
    let mut out = wasm_encoder::Module::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|e| Error::invalid_module(e.to_string()))?;
        if let wasmparser::Payload::CustomSection(c) = &payload
            && c.name().starts_with("component-type")
        {
            continue;
        }
        if let Some((id, range)) = payload.as_section() {
            let data = usize::try_from(range.start)
                .ok()
                .zip(usize::try_from(range.end).ok())
                .and_then(|(a, b)| wasm.get(a..b))
                .ok_or_else(|| Error::invalid_module("a section runs past the end"))?;
            out.section(&wasm_encoder::RawSection { id, data });
        }
    }
    Ok(out.finish())
}

/// Wraps a core module into a component of the world of `contract`, the version it
/// declares, always from the host's own copy of the WIT.
fn componentize(wasm: &[u8], contract: &str) -> Result<Vec<u8>> {
    // A start function would run before wit-component wires the imports (a host call
    // from it would hit a null table entry): it becomes `_initialize`, which the
    // component calls once the core module is instantiated and linked, so host calls
    // from it reach the checkpoint and are refused there, as on every backend.
    let hidden = morph_runtime::hide_start_as(wasm, "_initialize")?;
    let wasm = hidden.as_ref().map_or(wasm, |h| h.wasm.as_slice());
    let mut module = strip_component_types(wasm)?;
    let mut resolve = wit_parser::Resolve::default();
    let mut pkg = None;
    for (version, wit) in CONTRACT_WIT {
        let id = resolve
            .push_str(format!("v{version}/morph.wit"), wit)
            .map_err(|e| Error::engine(format!("contract WIT {version}: {e:#}")))?;
        if version == contract {
            pkg = Some(id);
            break;
        }
    }
    let pkg = pkg
        .ok_or_else(|| Error::engine(format!("this backend has no WIT for contract {contract}")))?;
    let world = resolve
        .select_world(&[pkg], Some("extension"))
        .map_err(|e| Error::engine(format!("contract WIT: {e:#}")))?;
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
        false,
    )
    .map_err(|e| Error::engine(format!("embedding the contract's metadata: {e:#}")))?;
    wit_component::ComponentEncoder::default()
        .module(&module)
        .and_then(|enc| enc.validate(true).encode())
        .map_err(|e| Error::invalid_module(format!("it cannot be wrapped as a component: {e:#}")))
}

/// The contract's host functions, defined once per runtime.
pub(crate) fn linker(engine: &Engine) -> Result<Linker<StoreData>> {
    let mut linker: Linker<StoreData> = Linker::new(engine);
    bindings::Extension::add_to_linker::<StoreData, HasSelf<StoreData>>(&mut linker, |s| s)
        .map_err(|e| Error::engine(e.to_string()))?;
    Ok(linker)
}

fn pre(
    linker: &Linker<StoreData>,
    component: &Component,
    info: ModuleInfo,
) -> Result<Arc<dyn CompiledModule>> {
    let pre = linker
        .instantiate_pre(component)
        .and_then(bindings::ExtensionPre::new)
        .map_err(|e| Error::engine(format!("{e:#}")))?;
    Ok(Arc::new(ComponentModule { pre, info }))
}

pub(crate) fn compile(
    engine: &Engine,
    linker: &Linker<StoreData>,
    wasm: &[u8],
    info: ModuleInfo,
) -> Result<Arc<dyn CompiledModule>> {
    let bytes = componentize(wasm, &info.contract)?;
    let component = Component::new(engine, &bytes).map_err(|e| Error::engine(format!("{e:#}")))?;
    pre(linker, &component, info)
}

fn downcast(module: &dyn CompiledModule) -> Result<&ComponentModule> {
    module
        .as_any()
        .downcast_ref::<ComponentModule>()
        .ok_or_else(|| Error::engine("the compiled module belongs to another backend"))
}

pub(crate) fn serialize(module: &dyn CompiledModule) -> Result<Vec<u8>> {
    let m = downcast(module)?;
    let code = m
        .pre
        .instance_pre()
        .component()
        .serialize()
        .map_err(|e| Error::engine(e.to_string()))?;
    Ok(morph_runtime::frame_compiled(
        "wasmtime",
        crate::engine::ENGINE_VERSION,
        &m.info,
        &code,
    ))
}

/// # Safety
/// `bytes` must come from [`serialize`].
pub(crate) unsafe fn deserialize(
    engine: &Engine,
    linker: &Linker<StoreData>,
    bytes: &[u8],
) -> Result<Arc<dyn CompiledModule>> {
    let (info, code) =
        morph_runtime::unframe_compiled(bytes, "wasmtime", crate::engine::ENGINE_VERSION)?;
    // SAFETY: the caller guarantees the bytes came from `serialize` unchanged.
    let component = unsafe { Component::deserialize(engine, code) }
        .map_err(|e| Error::engine(e.to_string()))?;
    pre(linker, &component, info)
}

struct ComponentInst {
    store: Store<StoreData>,
    bindings: bindings::Extension,
}

pub(crate) async fn instantiate(
    engine: &Engine,
    module: &dyn CompiledModule,
    config: InstanceConfig,
) -> Result<Box<dyn Instance>> {
    let m = downcast(module)?;
    let mut store = new_store(engine, config, &m.info, false);
    watch_crossings(&mut store);
    // Instantiation runs the start function, if any: under the call limits, with no host
    // calls allowed (the component model traps them).
    store.data_mut().host.begin(CallKind::Start)?;
    let r = async {
        arm(&mut store)?;
        m.pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| map_call_error(e, &store))
    }
    .await;
    let bindings = store.data_mut().host.end(r)?;
    Ok(Box::new(LiftedInstance(ComponentInst { store, bindings })))
}

/// The most host bytes wasmtime counts per guest byte when it lifts a contract value: a
/// list of strings holds a 24-byte `String` per 8-byte (pointer, length) pair; strings
/// and bytes count one for one.
const HOST_BYTES_PER_GUEST_BYTE: u64 = 3;

/// wasmtime's hostcall fuel for lifting at most `guest_bytes` as Morph counts them, with
/// room to spare: a value within the budget never runs it out, so the shared accounting
/// decides, with the same numbers as on the core backends; a value far beyond it stops
/// wasmtime after copying a few times the budget.
fn hostcall_fuel(guest_bytes: u64) -> usize {
    let fuel = guest_bytes.saturating_mul(HOST_BYTES_PER_GUEST_BYTE + 1);
    usize::try_from(fuel).unwrap_or(usize::MAX)
}

/// wasmtime lifts what crosses the boundary (a host call's arguments, an export's answer)
/// before Morph sees it, copying as much as the store's hostcall fuel allows (128 MiB by
/// default, each time). A call hook sets that fuel, at each crossing, from the budget
/// that bounds it on every backend (the transfer budget left, or the output limit) and
/// notes which crossing it is, so running out maps to the same limit.
///
/// The same hook charges each contract host call's cost to native fuel as it returns
/// (the bindings' host functions cannot reach the store; the hook also sees wasmtime's
/// own libcalls, so it charges only when the checkpoint counted a new host call). Under
/// deterministic metering the module's import wrappers pay instead.
fn watch_crossings(store: &mut Store<StoreData>) {
    store.call_hook(|mut cx, hook| {
        let data = cx.data_mut();
        if matches!(hook, CallHook::ReturningFromHost)
            && data.metered.is_none()
            && data.host.host_calls() > data.charged_calls
        {
            data.charged_calls = data.host.host_calls();
            burn(&mut cx, morph_runtime::HOST_CALL_FUEL).map_err(wasmtime::Error::new)?;
        }
        let data = cx.data_mut();
        let (crossing, budget) = match hook {
            CallHook::CallingHost => (Crossing::HostCall, data.host.transfer_left()),
            CallHook::ReturningFromWasm => (
                Crossing::Result,
                u64::from(data.host.limits().max_output_bytes),
            ),
            CallHook::CallingWasm | CallHook::ReturningFromHost => (Crossing::None, 0),
        };
        data.crossing = crossing;
        if crossing != Crossing::None {
            cx.set_hostcall_fuel(hostcall_fuel(budget));
        }
        Ok(())
    });
}

/// What wasmtime says when a lifting runs out of hostcall fuel. Its error type is
/// private, so this constant of wasmtime's is compared with the error's root cause, which
/// only wasmtime's lifting writes (no guest text reaches it); the conformance case
/// `alias-output` pins it to the wasmtime version (a changed text would answer
/// `bad-guest-data` there and diverge).
const HOSTCALL_FUEL_EXHAUSTED: &str = "too much data is being copied between the host and \
     the guest: fuel allocated for hostcalls has been exhausted";

/// Errors from a component call that are neither ours nor traps come from wasmtime's
/// lifting: a value beyond its budget, or malformed guest data.
fn map_call_error(err: wasmtime::Error, store: &Store<StoreData>) -> Error {
    let is_ours =
        err.downcast_ref::<Error>().is_some() || err.downcast_ref::<wasmtime::Trap>().is_some();
    let data = store.data();
    if is_ours || data.host.refused_memory().is_some() {
        return map_error(err, store);
    }
    if err.root_cause().to_string() == HOSTCALL_FUEL_EXHAUSTED {
        // More than the budget crossed; wasmtime does not say how much more.
        let limits = data.host.limits();
        let (limit, max) = match data.crossing {
            Crossing::HostCall => (Limit::Transfer, limits.max_transfer_bytes),
            Crossing::Result | Crossing::None => {
                (Limit::Output, u64::from(limits.max_output_bytes))
            }
        };
        return Error::limit(limit, max.saturating_add(1), max);
    }
    Error::bad_guest_data(format!("{err:#}"))
}

impl LiftedCalls for ComponentInst {
    fn backend(&self) -> &'static str {
        "wasmtime"
    }

    fn host(&mut self) -> &mut HostContext {
        &mut self.store.data_mut().host
    }

    fn arm(&mut self) -> Result<()> {
        arm(&mut self.store)
    }

    async fn call_describe(&mut self) -> Result<abi::ExtensionInfo> {
        self.bindings
            .call_describe(&mut self.store)
            .await
            .map(from_info)
            .map_err(|e| map_call_error(e, &self.store))
    }

    async fn call_execute(
        &mut self,
        action: &str,
        input: &str,
    ) -> Result<std::result::Result<String, abi::Error>> {
        self.bindings
            .call_execute(&mut self.store, action, input)
            .await
            .map(|r| r.map_err(from_error))
            .map_err(|e| map_call_error(e, &self.store))
    }

    fn usage(&self) -> Usage {
        self.store.data().host.usage(fuel_used(&self.store), 0)
    }
}

fn from_info(i: types::ExtensionInfo) -> abi::ExtensionInfo {
    abi::ExtensionInfo {
        id: i.id,
        name: i.name,
        version: i.version,
        description: i.description,
        actions: i
            .actions
            .into_iter()
            .map(|a| abi::ActionInfo {
                name: a.name,
                description: a.description,
                input_schema: a.input_schema,
                output_schema: a.output_schema,
                side_effect: match a.side_effect {
                    types::SideEffect::None => abi::SideEffect::None,
                    types::SideEffect::Read => abi::SideEffect::Read,
                    types::SideEffect::Write => abi::SideEffect::Write,
                    types::SideEffect::Destructive => abi::SideEffect::Destructive,
                },
            })
            .collect(),
        events: i
            .events
            .into_iter()
            .map(|e| abi::EventInfo {
                name: e.name,
                description: e.description,
                payload_schema: e.payload_schema,
            })
            .collect(),
        config_schema: i.config_schema,
    }
}

fn from_error(e: types::Error) -> abi::Error {
    use abi::ErrorKind as K;
    use types::ErrorKind as W;
    abi::Error {
        kind: match e.kind {
            W::InvalidInput => K::InvalidInput,
            W::UnknownAction => K::UnknownAction,
            W::NotFound => K::NotFound,
            W::PermissionDenied => K::PermissionDenied,
            W::Unauthorized => K::Unauthorized,
            W::RateLimited => K::RateLimited,
            W::Unavailable => K::Unavailable,
            W::Timeout => K::Timeout,
            W::Config => K::Config,
            W::Internal => K::Internal,
        },
        message: e.message,
        details: e.details,
    }
}

fn to_host_error(e: abi::HostError) -> types::HostError {
    use abi::HostErrorKind as K;
    use types::HostErrorKind as W;
    types::HostError {
        kind: match e.kind {
            K::PermissionDenied => W::PermissionDenied,
            K::InvalidArgument => W::InvalidArgument,
            K::NotFound => W::NotFound,
            K::LimitExceeded => W::LimitExceeded,
            K::Unavailable => W::Unavailable,
            K::Internal => W::Internal,
        },
        message: e.message,
    }
}

/// Serves a host call through the shared checkpoint: limits are errors that trap,
/// refusals and host failures go back to the guest as values.
async fn serve(data: &mut StoreData, call: HostCall) -> wasmtime::Result<Answer> {
    serve_lifted(&mut data.host, call)
        .await
        .map_err(wasmtime::Error::new)
}

/// The shared checkpoint shapes every answer for its call; any other shape is a bug.
fn misshapen() -> wasmtime::Error {
    wasmtime::Error::new(Error::engine("a host call's answer has the wrong shape"))
}

macro_rules! answer {
    ($answer:expr, $variant:ident, $convert:expr) => {
        match $answer {
            Answer::$variant(r) => Ok(r.map($convert).map_err(to_host_error)),
            _ => Err(misshapen()),
        }
    };
}

impl types::Host for StoreData {}

impl log::Host for StoreData {
    async fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            log::Level::Trace => abi::LogLevel::Trace,
            log::Level::Debug => abi::LogLevel::Debug,
            log::Level::Info => abi::LogLevel::Info,
            log::Level::Warn => abi::LogLevel::Warn,
            log::Level::Error => abi::LogLevel::Error,
        };
        serve(self, HostCall::Log { level, message })
            .await
            .map(drop)
    }
}

impl http::Host for StoreData {
    async fn fetch(
        &mut self,
        request: http::Request,
    ) -> wasmtime::Result<Result<http::Response, types::HostError>> {
        let request = abi::HttpRequest {
            method: match request.method {
                http::Method::Get => abi::Method::Get,
                http::Method::Head => abi::Method::Head,
                http::Method::Post => abi::Method::Post,
                http::Method::Put => abi::Method::Put,
                http::Method::Patch => abi::Method::Patch,
                http::Method::Delete => abi::Method::Delete,
                http::Method::Options => abi::Method::Options,
            },
            url: request.url,
            headers: request
                .headers
                .into_iter()
                .map(|h| abi::Header {
                    name: h.name,
                    value: h.value,
                })
                .collect(),
            body: request.body,
            secret: request.secret,
            timeout_ms: request.timeout_ms,
        };
        answer!(
            serve(self, HostCall::HttpFetch(request)).await?,
            Http,
            |r| {
                http::Response {
                    status: r.status,
                    headers: r
                        .headers
                        .into_iter()
                        .map(|h| http::Header {
                            name: h.name,
                            value: h.value,
                        })
                        .collect(),
                    body: r.body,
                }
            }
        )
    }
}

impl kv::Host for StoreData {
    async fn get(
        &mut self,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, types::HostError>> {
        answer!(serve(self, HostCall::KvGet { key }).await?, Value, |v| v)
    }
    async fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), types::HostError>> {
        answer!(
            serve(self, HostCall::KvSet { key, value }).await?,
            Unit,
            |v| v
        )
    }
    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<bool, types::HostError>> {
        answer!(serve(self, HostCall::KvDelete { key }).await?, Bool, |v| v)
    }
    async fn list_keys(
        &mut self,
        prefix: String,
    ) -> wasmtime::Result<Result<Vec<String>, types::HostError>> {
        answer!(
            serve(self, HostCall::KvListKeys { prefix }).await?,
            Keys,
            |v| v
        )
    }
}

impl events::Host for StoreData {
    async fn emit(
        &mut self,
        name: String,
        payload: String,
    ) -> wasmtime::Result<Result<(), types::HostError>> {
        answer!(
            serve(self, HostCall::EventsEmit { name, payload }).await?,
            Unit,
            |v| v
        )
    }
}

impl config::Host for StoreData {
    async fn get(&mut self) -> wasmtime::Result<Result<String, types::HostError>> {
        answer!(serve(self, HostCall::ConfigGet).await?, Text, |v| v)
    }
}

impl clock::Host for StoreData {
    async fn now_ms(&mut self) -> wasmtime::Result<Result<u64, types::HostError>> {
        answer!(serve(self, HostCall::ClockNowMs).await?, Now, |v| v)
    }
}

impl random::Host for StoreData {
    async fn bytes(&mut self, len: u32) -> wasmtime::Result<Result<Vec<u8>, types::HostError>> {
        answer!(
            serve(self, HostCall::RandomBytes { len }).await?,
            Bytes,
            |v| v
        )
    }
}

impl fs::Host for StoreData {
    async fn read(&mut self, path: String) -> wasmtime::Result<Result<Vec<u8>, types::HostError>> {
        answer!(serve(self, HostCall::FsRead { path }).await?, Bytes, |v| v)
    }
    async fn write(
        &mut self,
        path: String,
        data: Vec<u8>,
    ) -> wasmtime::Result<Result<(), types::HostError>> {
        answer!(
            serve(self, HostCall::FsWrite { path, data }).await?,
            Unit,
            |v| v
        )
    }
    async fn list_dir(
        &mut self,
        path: String,
    ) -> wasmtime::Result<Result<Vec<String>, types::HostError>> {
        answer!(
            serve(self, HostCall::FsListDir { path }).await?,
            Keys,
            |v| v
        )
    }
    async fn remove(&mut self, path: String) -> wasmtime::Result<Result<bool, types::HostError>> {
        answer!(serve(self, HostCall::FsRemove { path }).await?, Bool, |v| v)
    }
}

impl notify::Host for StoreData {
    async fn send(
        &mut self,
        n: notify::Notification,
    ) -> wasmtime::Result<Result<(), types::HostError>> {
        let notification = abi::Notification {
            title: n.title,
            body: n.body,
            urgency: match n.urgency {
                notify::Urgency::Low => abi::Urgency::Low,
                notify::Urgency::Normal => abi::Urgency::Normal,
                notify::Urgency::High => abi::Urgency::High,
            },
        };
        answer!(
            serve(self, HostCall::NotifySend(notification)).await?,
            Unit,
            |v| v
        )
    }
}

impl ai::Host for StoreData {
    async fn complete(
        &mut self,
        request: ai::CompletionRequest,
    ) -> wasmtime::Result<Result<ai::Completion, types::HostError>> {
        let request = abi::CompletionRequest {
            messages: request
                .messages
                .into_iter()
                .map(|m| abi::Message {
                    role: match m.role {
                        ai::Role::System => abi::Role::System,
                        ai::Role::User => abi::Role::User,
                        ai::Role::Assistant => abi::Role::Assistant,
                    },
                    content: m.content,
                })
                .collect(),
            max_tokens: request.max_tokens,
        };
        answer!(
            serve(self, HostCall::AiComplete(request)).await?,
            Completion,
            |c| ai::Completion {
                content: c.content,
                model: c.model,
            }
        )
    }
}
