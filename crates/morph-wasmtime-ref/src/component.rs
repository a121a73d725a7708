//! `wasmtime`: the module wrapped as a component and run with `bindgen!`, the reference
//! semantics of the contract.

use crate::engine::{StoreData, begin_call, fuel_used, map_error, new_store};
use morph_abi as abi;
use morph_runtime::{
    CompiledModule, Error, Instance, InstanceConfig, Limit, ModuleInfo, Result, Usage,
};
use std::any::Any;
use std::sync::Arc;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Store};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.1.0",
        world: "extension",
        imports: { default: trappable },
    });
}

use bindings::morph::extension::{clock, config, events, http, kv, log, random, types};

/// The contract's WIT, for modules that do not carry wit-bindgen's metadata.
const CONTRACT_WIT: &str = include_str!("../../../wit/v0.1.0/morph.wit");

struct ComponentModule {
    component: Component,
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

/// Whether the module carries wit-bindgen's `component-type` metadata.
fn has_component_metadata(wasm: &[u8]) -> bool {
    wasmparser::Parser::new(0).parse_all(wasm).any(|p| {
        matches!(p, Ok(wasmparser::Payload::CustomSection(c)) if c.name().starts_with("component-type"))
    })
}

/// Wraps a core module into a component of the contract's world.
fn componentize(wasm: &[u8]) -> Result<Vec<u8>> {
    let mut module = wasm.to_vec();
    if !has_component_metadata(wasm) {
        let mut resolve = wit_parser::Resolve::default();
        let pkg = resolve
            .push_str("morph.wit", CONTRACT_WIT)
            .map_err(|e| Error::engine(format!("contract WIT: {e:#}")))?;
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
    }
    wit_component::ComponentEncoder::default()
        .module(&module)
        .and_then(|enc| enc.validate(true).encode())
        .map_err(|e| Error::invalid_module(format!("it cannot be wrapped as a component: {e:#}")))
}

pub(crate) fn compile(
    engine: &Engine,
    wasm: &[u8],
    info: ModuleInfo,
) -> Result<Arc<dyn CompiledModule>> {
    let bytes = componentize(wasm)?;
    let component = Component::new(engine, &bytes).map_err(|e| Error::engine(format!("{e:#}")))?;
    Ok(Arc::new(ComponentModule { component, info }))
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
        .component
        .serialize()
        .map_err(|e| Error::engine(e.to_string()))?;
    Ok(morph_runtime::frame_compiled(&m.info, &code))
}

/// # Safety
/// `bytes` must come from [`serialize`].
pub(crate) unsafe fn deserialize(engine: &Engine, bytes: &[u8]) -> Result<Arc<dyn CompiledModule>> {
    let (info, code) = morph_runtime::unframe_compiled(bytes)?;
    // SAFETY: the caller guarantees the bytes came from `serialize` unchanged.
    let component = unsafe { Component::deserialize(engine, code) }
        .map_err(|e| Error::engine(e.to_string()))?;
    Ok(Arc::new(ComponentModule { component, info }))
}

struct ComponentInst {
    store: Store<StoreData>,
    bindings: bindings::Extension,
}

pub(crate) fn instantiate(
    engine: &Engine,
    module: &dyn CompiledModule,
    config: InstanceConfig,
) -> Result<Box<dyn Instance>> {
    let m = downcast(module)?;
    let mut store = new_store(engine, config, &m.info);
    let mut linker: Linker<StoreData> = Linker::new(engine);
    bindings::Extension::add_to_linker::<StoreData, HasSelf<StoreData>>(&mut linker, |s| s)
        .map_err(|e| Error::engine(e.to_string()))?;
    begin_call(&mut store)?;
    let instance = linker
        .instantiate(&mut store, &m.component)
        .map_err(|e| map_call_error(e, &store))?;
    let bindings = bindings::Extension::new(&mut store, &instance)
        .map_err(|e| Error::engine(e.to_string()))?;
    Ok(Box::new(ComponentInst { store, bindings }))
}

/// Errors from a component call that are neither ours nor traps come from wasmtime's
/// lifting of the guest's answer: malformed guest data.
fn map_call_error(err: wasmtime::Error, store: &Store<StoreData>) -> Error {
    let is_ours =
        err.downcast_ref::<Error>().is_some() || err.downcast_ref::<wasmtime::Trap>().is_some();
    if is_ours || store.data().host.refused_memory().is_some() {
        return map_error(err, store);
    }
    Error::bad_guest_data(format!("{err:#}"))
}

impl ComponentInst {
    fn check_output(&self, len: usize) -> Result<()> {
        let max = self.store.data().host.limits().max_output_bytes;
        if len as u64 > u64::from(max) {
            return Err(Error::limit(Limit::Output, len as u64, u64::from(max)));
        }
        Ok(())
    }
}

impl Instance for ComponentInst {
    fn describe(&mut self) -> Result<abi::ExtensionInfo> {
        self.store.data().host.check_usable()?;
        let r = self.describe_inner();
        self.store.data_mut().host.settle(r)
    }

    fn execute(&mut self, action: &str, input: &str) -> Result<String> {
        self.store.data().host.check_usable()?;
        let r = self.execute_inner(action, input);
        self.store.data_mut().host.settle(r)
    }

    fn usage(&self) -> Usage {
        let d = self.store.data();
        Usage {
            fuel: fuel_used(&self.store),
            host_calls: d.host.host_calls(),
            memory_bytes: 0,
            elapsed: d.started.elapsed(),
        }
    }
}

impl ComponentInst {
    fn describe_inner(&mut self) -> Result<abi::ExtensionInfo> {
        begin_call(&mut self.store)?;
        let info = self
            .bindings
            .call_describe(&mut self.store)
            .map_err(|e| map_call_error(e, &self.store))?;
        let info = from_info(info);
        let size = info_size(&info);
        self.check_output(size)?;
        self.store.data_mut().host.set_extension(&info.id);
        Ok(info)
    }

    fn execute_inner(&mut self, action: &str, input: &str) -> Result<String> {
        let max_in = u64::from(self.store.data().host.limits().max_input_bytes);
        let size = (action.len() + input.len()) as u64;
        if size > max_in {
            return Err(Error::limit(Limit::Input, size, max_in));
        }
        begin_call(&mut self.store)?;
        let r = self
            .bindings
            .call_execute(&mut self.store, action, input)
            .map_err(|e| map_call_error(e, &self.store))?;
        match r {
            Ok(out) => {
                self.check_output(out.len())?;
                Ok(out)
            }
            Err(e) => {
                let e = from_error(e);
                self.check_output(e.message.len() + e.details.as_ref().map_or(0, String::len))?;
                Err(self.store.data().host.guest_error(e))
            }
        }
    }
}

/// Bytes of guest data in a description, as the core backends count them while lifting.
fn info_size(i: &abi::ExtensionInfo) -> usize {
    let s = |x: &String| x.len();
    s(&i.id)
        + s(&i.name)
        + s(&i.version)
        + s(&i.description)
        + i.config_schema.as_ref().map_or(0, s)
        + i.actions
            .iter()
            .map(|a| 36 + s(&a.name) + s(&a.description) + s(&a.input_schema) + s(&a.output_schema))
            .sum::<usize>()
        + i.events
            .iter()
            .map(|e| 24 + s(&e.name) + s(&e.description) + s(&e.payload_schema))
            .sum::<usize>()
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

/// Runs a host call through the shared [`HostContext`](morph_runtime::HostContext):
/// limits are errors that trap, refusals go back to the guest as values.
fn call<T, U>(
    data: &mut StoreData,
    f: impl FnOnce(
        &dyn morph_runtime::HostHandler,
        &morph_runtime::CallContext<'_>,
    ) -> Result<T, abi::HostError>,
    convert: impl FnOnce(T) -> U,
) -> wasmtime::Result<Result<U, types::HostError>> {
    match data.host.call(f) {
        Ok(Ok(v)) => Ok(Ok(convert(v))),
        Ok(Err(e)) => Ok(Err(to_host_error(e))),
        Err(e) => Err(wasmtime::Error::new(e)),
    }
}

/// Charges bytes a guest passed to a host call against the per-call budget, as the
/// core backends do while lifting.
fn charge(data: &StoreData, bytes: usize) -> wasmtime::Result<()> {
    let max = u64::from(data.host.limits().max_output_bytes);
    if bytes as u64 > max {
        return Err(wasmtime::Error::new(Error::limit(
            Limit::Output,
            bytes as u64,
            max,
        )));
    }
    Ok(())
}

impl types::Host for StoreData {}

impl log::Host for StoreData {
    fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        charge(self, message.len())?;
        let level = match level {
            log::Level::Trace => abi::LogLevel::Trace,
            log::Level::Debug => abi::LogLevel::Debug,
            log::Level::Info => abi::LogLevel::Info,
            log::Level::Warn => abi::LogLevel::Warn,
            log::Level::Error => abi::LogLevel::Error,
        };
        self.host.log(level, &message).map_err(wasmtime::Error::new)
    }
}

impl http::Host for StoreData {
    fn fetch(
        &mut self,
        request: http::Request,
    ) -> wasmtime::Result<Result<http::Response, types::HostError>> {
        let size = request.url.len()
            + request
                .headers
                .iter()
                .map(|h| 16 + h.name.len() + h.value.len())
                .sum::<usize>()
            + request.body.as_ref().map_or(0, Vec::len)
            + request.secret.as_ref().map_or(0, String::len);
        charge(self, size)?;
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
        call(
            self,
            |h, cx| h.http_fetch(cx, request),
            |r| http::Response {
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
            },
        )
    }
}

impl kv::Host for StoreData {
    fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, types::HostError>> {
        charge(self, key.len())?;
        call(self, |h, cx| h.kv_get(cx, &key), |v| v)
    }
    fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), types::HostError>> {
        charge(self, key.len() + value.len())?;
        call(self, |h, cx| h.kv_set(cx, &key, &value), |v| v)
    }
    fn delete(&mut self, key: String) -> wasmtime::Result<Result<bool, types::HostError>> {
        charge(self, key.len())?;
        call(self, |h, cx| h.kv_delete(cx, &key), |v| v)
    }
    fn list_keys(
        &mut self,
        prefix: String,
    ) -> wasmtime::Result<Result<Vec<String>, types::HostError>> {
        charge(self, prefix.len())?;
        call(self, |h, cx| h.kv_list_keys(cx, &prefix), |v| v)
    }
}

impl events::Host for StoreData {
    fn emit(
        &mut self,
        name: String,
        payload: String,
    ) -> wasmtime::Result<Result<(), types::HostError>> {
        charge(self, name.len() + payload.len())?;
        call(self, |h, cx| h.events_emit(cx, &name, &payload), |v| v)
    }
}

impl config::Host for StoreData {
    fn get(&mut self) -> wasmtime::Result<Result<String, types::HostError>> {
        call(self, |h, cx| h.config_get(cx), |v| v)
    }
}

impl clock::Host for StoreData {
    fn now_ms(&mut self) -> wasmtime::Result<Result<u64, types::HostError>> {
        call(self, |h, cx| h.clock_now_ms(cx), |v| v)
    }
}

impl random::Host for StoreData {
    fn bytes(&mut self, len: u32) -> wasmtime::Result<Result<Vec<u8>, types::HostError>> {
        call(self, |h, cx| h.random_bytes(cx, len), |v| v)
    }
}
