//! wasmtime, component model: the component made once from the module (as
//! `cargo component` would), `Component`, `bindgen!`'s typed exports over an
//! `InstancePre`, sync host functions.

use super::{RawInstance, RawModule};
use std::sync::Arc;
use wasmtime::component::{Component, HasSelf, Linker};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.1.0",
        world: "extension",
    });
}

use bindings::morph::extension::{clock, config, events, http, kv, log, random, types};

/// The raw host's state: nothing.
pub(crate) struct Stubs;

fn unprovided(what: &str) -> types::HostError {
    types::HostError {
        kind: types::HostErrorKind::Unavailable,
        message: format!("the raw bench host does not provide {what}"),
    }
}

impl types::Host for Stubs {}
impl log::Host for Stubs {
    fn log(&mut self, _: log::Level, _: String) {}
}
impl http::Host for Stubs {
    fn fetch(&mut self, _: http::Request) -> Result<http::Response, types::HostError> {
        Err(unprovided("http.fetch"))
    }
}
impl kv::Host for Stubs {
    fn get(&mut self, _: String) -> Result<Option<Vec<u8>>, types::HostError> {
        Ok(None)
    }
    fn set(&mut self, _: String, _: Vec<u8>) -> Result<(), types::HostError> {
        Err(unprovided("kv.set"))
    }
    fn delete(&mut self, _: String) -> Result<bool, types::HostError> {
        Err(unprovided("kv.delete"))
    }
    fn list_keys(&mut self, _: String) -> Result<Vec<String>, types::HostError> {
        Err(unprovided("kv.list-keys"))
    }
}
impl events::Host for Stubs {
    fn emit(&mut self, _: String, _: String) -> Result<(), types::HostError> {
        Ok(())
    }
}
impl config::Host for Stubs {
    fn get(&mut self) -> Result<String, types::HostError> {
        Err(unprovided("config.get"))
    }
}
impl clock::Host for Stubs {
    fn now_ms(&mut self) -> Result<u64, types::HostError> {
        Err(unprovided("clock.now-ms"))
    }
}
impl random::Host for Stubs {
    fn bytes(&mut self, _: u32) -> Result<Vec<u8>, types::HostError> {
        Err(unprovided("random.bytes"))
    }
}

pub(crate) struct Engine {
    engine: wasmtime::Engine,
    linker: Linker<Stubs>,
}

impl Engine {
    pub(crate) fn new() -> Result<Self, String> {
        let engine = wasmtime::Engine::new(&super::wasmtime_core::config(true))
            .map_err(|e| e.to_string())?;
        let mut linker = Linker::new(&engine);
        bindings::Extension::add_to_linker::<Stubs, HasSelf<Stubs>>(&mut linker, |s| s)
            .map_err(|e| e.to_string())?;
        Ok(Engine { engine, linker })
    }

    fn component(&self, component: Component) -> Result<Arc<dyn RawModule>, String> {
        let pre = self
            .linker
            .instantiate_pre(&component)
            .and_then(bindings::ExtensionPre::new)
            .map_err(|e| format!("{e:#}"))?;
        Ok(Arc::new(Compiled { component, pre }))
    }
}

impl super::RawEngine for Engine {
    /// The component, made from the module with the world wit-bindgen embedded in it.
    fn input(&self, wasm: &[u8]) -> Result<Vec<u8>, String> {
        wit_component::ComponentEncoder::default()
            .module(wasm)
            .and_then(|enc| enc.validate(true).encode())
            .map_err(|e| format!("the module cannot be made a component: {e:#}"))
    }

    fn compile(&self, input: &[u8]) -> Result<Arc<dyn RawModule>, String> {
        let component = Component::new(&self.engine, input).map_err(|e| format!("{e:#}"))?;
        self.component(component)
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<Arc<dyn RawModule>, String> {
        // SAFETY: the bytes come from `Component::serialize` of this engine, in this
        // process.
        let component =
            unsafe { Component::deserialize(&self.engine, bytes) }.map_err(|e| format!("{e:#}"))?;
        self.component(component)
    }
}

struct Compiled {
    component: Component,
    pre: bindings::ExtensionPre<Stubs>,
}

impl RawModule for Compiled {
    fn serialize(&self) -> Result<Vec<u8>, String> {
        self.component.serialize().map_err(|e| e.to_string())
    }

    fn instantiate(&self) -> Result<Box<dyn RawInstance>, String> {
        let mut store = super::wasmtime_core::store(self.pre.engine(), Stubs)?;
        let bindings = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| format!("{e:#}"))?;
        Ok(Box::new(Instance { store, bindings }))
    }
}

struct Instance {
    store: wasmtime::Store<Stubs>,
    bindings: bindings::Extension,
}

impl RawInstance for Instance {
    fn execute(&mut self, action: &str, input: &str) -> Result<String, String> {
        self.bindings
            .call_execute(&mut self.store, action, input)
            .map_err(|e| format!("{e:#}"))?
            .map_err(|e| format!("the guest failed: {}", e.message))
    }

    fn describe(&mut self) -> Result<usize, String> {
        let info = self
            .bindings
            .call_describe(&mut self.store)
            .map_err(|e| format!("{e:#}"))?;
        Ok(info.actions.len())
    }
}
