//! Guest glue (wasm32 only): the wit-bindgen bindings of the contract, conversions between
//! them and the crate's types, and the functions the export macro calls.

use crate::sdk::{Extension, Input};
use crate::types::{self as t};
use std::cell::RefCell;

#[allow(missing_docs, clippy::all, unsafe_op_in_unsafe_fn, unused)]
pub mod bindings {
    wit_bindgen::generate!({
        path: ["../../wit/v0.1.0", "../../wit/v0.2.0"],
        world: "morph:extension/extension@0.2.0",
        generate_all,
        pub_export_macro: true,
        export_macro_name: "export",
        default_bindings_module: "::morph_abi::__private::bindings",
        runtime_path: "::morph_abi::__private::wit_bindgen::rt",
    });
}

use bindings::morph::extension0_1_0::{
    clock, config, events, http, kv, log as wlog, random, types as wt,
};
use bindings::morph::extension0_2_0::{ai, fs, notify};

thread_local! {
    static INSTANCE: RefCell<Option<Box<dyn Extension>>> = const { RefCell::new(None) };
}

fn with_instance<E: Extension, R>(f: impl FnOnce(&mut dyn Extension) -> R) -> R {
    INSTANCE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let ext = slot.get_or_insert_with(|| {
            install_panic_hook();
            Box::new(E::new())
        });
        f(ext.as_mut())
    })
}

/// Sends a panic's message to the host's log before the guest traps, so that the host's
/// error can be traced to a line of the extension.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        log(t::LogLevel::Error, &format!("extension panicked: {info}"));
    }));
}

/// `describe` export.
pub fn describe<E: Extension>() -> wt::ExtensionInfo {
    let info = with_instance::<E, _>(|e| e.describe());
    wt::ExtensionInfo {
        id: info.id,
        name: info.name,
        version: info.version,
        description: info.description,
        actions: info
            .actions
            .into_iter()
            .map(|a| wt::ActionInfo {
                name: a.name,
                description: a.description,
                input_schema: a.input_schema,
                output_schema: a.output_schema,
                side_effect: match a.side_effect {
                    t::SideEffect::None => wt::SideEffect::None,
                    t::SideEffect::Read => wt::SideEffect::Read,
                    t::SideEffect::Write => wt::SideEffect::Write,
                    t::SideEffect::Destructive => wt::SideEffect::Destructive,
                },
            })
            .collect(),
        events: info
            .events
            .into_iter()
            .map(|e| wt::EventInfo {
                name: e.name,
                description: e.description,
                payload_schema: e.payload_schema,
            })
            .collect(),
        config_schema: info.config_schema,
    }
}

/// `execute` export.
pub fn execute<E: Extension>(action: String, input: String) -> Result<String, wt::Error> {
    with_instance::<E, _>(|e| e.execute(&action, Input::new(&input)))
        .map(|o| o.into_string())
        .map_err(|err| wt::Error {
            kind: match err.kind {
                t::ErrorKind::InvalidInput => wt::ErrorKind::InvalidInput,
                t::ErrorKind::UnknownAction => wt::ErrorKind::UnknownAction,
                t::ErrorKind::NotFound => wt::ErrorKind::NotFound,
                t::ErrorKind::PermissionDenied => wt::ErrorKind::PermissionDenied,
                t::ErrorKind::Unauthorized => wt::ErrorKind::Unauthorized,
                t::ErrorKind::RateLimited => wt::ErrorKind::RateLimited,
                t::ErrorKind::Unavailable => wt::ErrorKind::Unavailable,
                t::ErrorKind::Timeout => wt::ErrorKind::Timeout,
                t::ErrorKind::Config => wt::ErrorKind::Config,
                t::ErrorKind::Internal => wt::ErrorKind::Internal,
            },
            message: err.message,
            details: err.details,
        })
}

fn host_error(e: wt::HostError) -> t::HostError {
    let kind = match e.kind {
        wt::HostErrorKind::PermissionDenied => t::HostErrorKind::PermissionDenied,
        wt::HostErrorKind::InvalidArgument => t::HostErrorKind::InvalidArgument,
        wt::HostErrorKind::NotFound => t::HostErrorKind::NotFound,
        wt::HostErrorKind::LimitExceeded => t::HostErrorKind::LimitExceeded,
        wt::HostErrorKind::Unavailable => t::HostErrorKind::Unavailable,
        wt::HostErrorKind::Internal => t::HostErrorKind::Internal,
    };
    t::HostError::new(kind, e.message)
}

pub(crate) fn log(level: t::LogLevel, message: &str) {
    let level = match level {
        t::LogLevel::Trace => wlog::Level::Trace,
        t::LogLevel::Debug => wlog::Level::Debug,
        t::LogLevel::Info => wlog::Level::Info,
        t::LogLevel::Warn => wlog::Level::Warn,
        t::LogLevel::Error => wlog::Level::Error,
    };
    wlog::log(level, message);
}

fn headers_out(h: &[t::Header]) -> Vec<http::Header> {
    h.iter()
        .map(|h| http::Header {
            name: h.name.clone(),
            value: h.value.clone(),
        })
        .collect()
}

pub(crate) fn http_fetch(r: &t::HttpRequest) -> Result<t::HttpResponse, t::HostError> {
    let request = http::Request {
        method: match r.method {
            t::Method::Get => http::Method::Get,
            t::Method::Head => http::Method::Head,
            t::Method::Post => http::Method::Post,
            t::Method::Put => http::Method::Put,
            t::Method::Patch => http::Method::Patch,
            t::Method::Delete => http::Method::Delete,
            t::Method::Options => http::Method::Options,
        },
        url: r.url.clone(),
        headers: headers_out(&r.headers),
        body: r.body.clone(),
        secret: r.secret.clone(),
        timeout_ms: r.timeout_ms,
    };
    http::fetch(&request)
        .map(|resp| t::HttpResponse {
            status: resp.status,
            headers: resp
                .headers
                .into_iter()
                .map(|h| t::Header {
                    name: h.name,
                    value: h.value,
                })
                .collect(),
            body: resp.body,
        })
        .map_err(host_error)
}

pub(crate) fn kv_get(key: &str) -> Result<Option<Vec<u8>>, t::HostError> {
    kv::get(key).map_err(host_error)
}
pub(crate) fn kv_set(key: &str, value: &[u8]) -> Result<(), t::HostError> {
    kv::set(key, value).map_err(host_error)
}
pub(crate) fn kv_delete(key: &str) -> Result<bool, t::HostError> {
    kv::delete(key).map_err(host_error)
}
pub(crate) fn kv_list_keys(prefix: &str) -> Result<Vec<String>, t::HostError> {
    kv::list_keys(prefix).map_err(host_error)
}
pub(crate) fn events_emit(name: &str, payload: &str) -> Result<(), t::HostError> {
    events::emit(name, payload).map_err(host_error)
}
pub(crate) fn config_get() -> Result<String, t::HostError> {
    config::get().map_err(host_error)
}
pub(crate) fn clock_now_ms() -> Result<u64, t::HostError> {
    clock::now_ms().map_err(host_error)
}
pub(crate) fn random_bytes(len: u32) -> Result<Vec<u8>, t::HostError> {
    random::bytes(len).map_err(host_error)
}

pub(crate) fn fs_read(path: &str) -> Result<Vec<u8>, t::HostError> {
    fs::read(path).map_err(host_error)
}
pub(crate) fn fs_write(path: &str, data: &[u8]) -> Result<(), t::HostError> {
    fs::write(path, data).map_err(host_error)
}
pub(crate) fn fs_list_dir(path: &str) -> Result<Vec<String>, t::HostError> {
    fs::list_dir(path).map_err(host_error)
}
pub(crate) fn fs_remove(path: &str) -> Result<bool, t::HostError> {
    fs::remove(path).map_err(host_error)
}
pub(crate) fn notify_send(n: &t::Notification) -> Result<(), t::HostError> {
    let notification = notify::Notification {
        title: n.title.clone(),
        body: n.body.clone(),
        urgency: match n.urgency {
            t::Urgency::Low => notify::Urgency::Low,
            t::Urgency::Normal => notify::Urgency::Normal,
            t::Urgency::High => notify::Urgency::High,
        },
    };
    notify::send(&notification).map_err(host_error)
}
pub(crate) fn ai_complete(r: &t::CompletionRequest) -> Result<t::Completion, t::HostError> {
    let request = ai::CompletionRequest {
        messages: r
            .messages
            .iter()
            .map(|m| ai::Message {
                role: match m.role {
                    t::Role::System => ai::Role::System,
                    t::Role::User => ai::Role::User,
                    t::Role::Assistant => ai::Role::Assistant,
                },
                content: m.content.clone(),
            })
            .collect(),
        max_tokens: r.max_tokens,
    };
    ai::complete(&request)
        .map(|c| t::Completion {
            content: c.content,
            model: c.model,
        })
        .map_err(host_error)
}
