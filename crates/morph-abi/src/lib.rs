//! # morph-abi: the Morph extension contract and author SDK
//!
//! This is the only crate an extension author needs. It holds:
//!
//! - **The contract's types** ([`ExtensionInfo`], [`ActionInfo`], [`Error`], ...), shared
//!   by the host and the guest with serde support. They mirror the contract's WIT
//!   (`wit/v0.2.0/`, which keeps every interface of `wit/v0.1.0/`).
//! - **The [`Extension`] trait**: `describe()` says what the extension offers, `execute()`
//!   serves one action with JSON in and out.
//! - **[`export_extension!`]**: exports a type implementing [`Extension`] as the module's
//!   `describe` and `execute`, and stamps the module with the contract version it was
//!   built for (custom section [`CONTRACT_SECTION`]).
//! - **Typed host calls** in [`host`]: log, http, kv, events, config, clock, random, and
//!   since contract 0.2.0 fs, notify and ai. They are the only way out of the sandbox,
//!   and each is checked against the extension's grants.
//!
//! Build extensions for `wasm32-unknown-unknown` as a `cdylib` (`cargo xtask build` does
//! it for the samples). On other targets the crate still compiles, so that an author's
//! logic can be unit-tested natively; host calls then return an `unavailable` error.
//!
//! ## Example
//!
//! ```
//! use morph_abi::{ActionInfo, Error, Extension, ExtensionInfo, Input, Output, SideEffect};
//! use serde::Deserialize;
//! use serde_json::json;
//!
//! struct Hello;
//!
//! #[derive(Deserialize)]
//! struct Greet {
//!     name: String,
//! }
//!
//! impl Extension for Hello {
//!     fn new() -> Self {
//!         Hello
//!     }
//!
//!     fn describe(&self) -> ExtensionInfo {
//!         ExtensionInfo {
//!             id: "hello".into(),
//!             name: "Hello".into(),
//!             version: "0.1.0".into(),
//!             description: "Greets people.".into(),
//!             actions: vec![ActionInfo::new("greet", "Greets someone by name")
//!                 .input_schema(json!({"type": "object", "required": ["name"],
//!                     "properties": {"name": {"type": "string"}}}))
//!                 .side_effect(SideEffect::None)],
//!             events: vec![],
//!             config_schema: None,
//!         }
//!     }
//!
//!     fn execute(&mut self, action: &str, input: Input<'_>) -> Result<Output, Error> {
//!         match action {
//!             "greet" => {
//!                 let Greet { name } = input.parse()?;
//!                 Output::json(&json!({ "greeting": format!("Hello, {name}!") }))
//!             }
//!             other => Err(Error::unknown_action(other)),
//!         }
//!     }
//! }
//!
//! morph_abi::export_extension!(Hello);
//!
//! # let mut h = Hello::new();
//! # let out = h.execute("greet", Input::new(r#"{"name":"Ada"}"#)).unwrap();
//! # assert_eq!(out.as_str(), r#"{"greeting":"Hello, Ada!"}"#);
//! ```
//!
//! ## Cargo features
//! None. The guest bindings (wit-bindgen) are a dependency on `wasm32` only.
#![deny(missing_docs)]

#[allow(unused_extern_crates)] // used by the guest bindings on wasm32 only
extern crate self as morph_abi;

mod sdk;
mod types;

#[cfg(target_arch = "wasm32")]
mod guest;

pub mod host;

pub use sdk::{Extension, Input, Output};
pub use types::{
    ActionInfo, CONTRACT_PACKAGE, CONTRACT_SECTION, CONTRACT_VERSION, CONTRACT_VERSIONS,
    Completion, CompletionRequest, Error, ErrorKind, EventInfo, ExtensionInfo, Header, HostError,
    HostErrorKind, HttpRequest, HttpResponse, LogLevel, Message, Method, Notification, Role,
    SideEffect, Urgency,
};

/// Implementation details of [`export_extension!`]; not part of the API.
#[doc(hidden)]
pub mod __private {
    #[cfg(target_arch = "wasm32")]
    pub use crate::guest::{bindings, bindings::Guest, describe, execute};
    #[cfg(target_arch = "wasm32")]
    pub use wit_bindgen;

    /// The contract section's content: the version as bytes.
    pub const CONTRACT_BYTES: [u8; crate::CONTRACT_VERSION.len()] = {
        let src = crate::CONTRACT_VERSION.as_bytes();
        let mut out = [0u8; crate::CONTRACT_VERSION.len()];
        let mut i = 0;
        while i < src.len() {
            out[i] = src[i];
            i += 1;
        }
        out
    };
}

/// Exports a type implementing [`Extension`] as the module's `describe` and `execute`,
/// and records the contract version in the module's `morph:contract` custom section.
///
/// Use it once per extension crate, at the crate root. On targets other than `wasm32`
/// it expands to nothing, so the crate still builds for native tests.
#[macro_export]
macro_rules! export_extension {
    ($ty:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __MorphExport;
            impl $crate::__private::Guest for __MorphExport {
                fn describe() -> $crate::__private::bindings::ExtensionInfo {
                    $crate::__private::describe::<$ty>()
                }
                fn execute(
                    action: ::std::string::String,
                    input: ::std::string::String,
                ) -> ::std::result::Result<
                    ::std::string::String,
                    $crate::__private::bindings::Error,
                > {
                    $crate::__private::execute::<$ty>(action, input)
                }
            }
            $crate::__private::bindings::export!(__MorphExport with_types_in $crate::__private::bindings);

            #[unsafe(link_section = "morph:contract")]
            #[used]
            static __MORPH_CONTRACT: [u8; $crate::CONTRACT_VERSION.len()] =
                $crate::__private::CONTRACT_BYTES;
        };
    };
}
