//! The author-facing side: the [`Extension`] trait and its input and output helpers.

use crate::types::{Error, ExtensionInfo};
use serde::{Serialize, de::DeserializeOwned};

/// An extension: what an author implements, then exports with
/// [`export_extension!`](crate::export_extension).
///
/// One value lives for as long as the host keeps the instance; `execute` may keep state in
/// `self` between calls, but the host may start a fresh instance at any time.
pub trait Extension: 'static {
    /// Creates the extension. Called once per instance, before the first call.
    fn new() -> Self
    where
        Self: Sized;

    /// Describes the extension: its id, version, actions, events and config schema.
    /// The host calls it once after loading, with no permissions granted.
    fn describe(&self) -> ExtensionInfo;

    /// Runs `action` with `input`.
    ///
    /// # Errors
    /// Returns an [`Error`] whose kind tells the app what to do: `invalid-input` for bad
    /// input, `unknown-action` for an action the extension does not offer, and so on.
    fn execute(&mut self, action: &str, input: Input<'_>) -> Result<Output, Error>;
}

/// The JSON input of an action, as the host passed it.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    text: &'a str,
}

impl<'a> Input<'a> {
    /// Wraps JSON text.
    pub fn new(text: &'a str) -> Self {
        Input { text }
    }

    /// The raw JSON text.
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// Parses the input into `T`.
    ///
    /// # Errors
    /// Returns an `invalid-input` [`Error`] naming serde's complaint when the input does
    /// not match `T`.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_str(self.text).map_err(|e| Error::invalid_input(format!("input: {e}")))
    }
}

/// The JSON output of an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    text: String,
}

impl Output {
    /// Serializes `value` as the output.
    ///
    /// # Errors
    /// Returns an `internal` [`Error`] if `value` cannot be serialized (a map with
    /// non-string keys, say).
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Output, Error> {
        serde_json::to_string(value)
            .map(|text| Output { text })
            .map_err(|e| Error::internal(format!("output: {e}")))
    }

    /// Uses `text` as the output as it is. The host checks that it is JSON.
    pub fn raw(text: impl Into<String>) -> Output {
        Output { text: text.into() }
    }

    /// The output's JSON text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Consumes the output and returns its JSON text.
    pub fn into_string(self) -> String {
        self.text
    }
}
