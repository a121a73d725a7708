//! The contract's types, shared by the host and the guest.
//!
//! Each type mirrors one type of the contract's WIT (`wit/v0.1.0/morph.wit`, and
//! `wit/v0.2.0/morph.wit` for `fs`, `notify` and `ai`) field for field, so that the
//! Canonical ABI (in `morph-runtime`) and the guest bindings convert without loss.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The contract version this crate implements: extensions built with it declare it.
/// Hosts also run modules of the older versions in [`CONTRACT_VERSIONS`].
pub const CONTRACT_VERSION: &str = "0.2.0";

/// Every contract version, oldest first. Each version's WIT is `wit/vVERSION/`; a
/// later version keeps every interface of the earlier ones unchanged.
pub const CONTRACT_VERSIONS: &[&str] = &["0.1.0", "0.2.0"];

/// Name of the custom section in which a module carries the contract version it was
/// built for. Its content is the version as UTF-8, e.g. `0.2.0`.
pub const CONTRACT_SECTION: &str = "morph:contract";

/// The WIT package of the contract, with its version.
pub const CONTRACT_PACKAGE: &str = "morph:extension@0.2.0";

/// What an action does to the world outside the extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SideEffect {
    /// Pure computation.
    None,
    /// Reads outside state but changes nothing.
    Read,
    /// Creates or changes outside state.
    Write,
    /// Deletes or irreversibly changes outside state.
    Destructive,
}

impl SideEffect {
    /// The contract's name for this class (`none`, `read`, `write`, `destructive`).
    pub fn as_str(self) -> &'static str {
        match self {
            SideEffect::None => "none",
            SideEffect::Read => "read",
            SideEffect::Write => "write",
            SideEffect::Destructive => "destructive",
        }
    }
}

impl fmt::Display for SideEffect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One action an extension offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionInfo {
    /// Name used in `execute(action, input)` and in grants
    /// (`action:destructive:NAME`): 1 to 64 ASCII letters, digits, `_`, `-` and `.`,
    /// starting with a letter or a digit. A host refuses a description with another.
    pub name: String,
    /// One sentence for people.
    pub description: String,
    /// JSON Schema of the input, as JSON text.
    pub input_schema: String,
    /// JSON Schema of the output, as JSON text.
    pub output_schema: String,
    /// What the action does to the outside world.
    pub side_effect: SideEffect,
}

impl ActionInfo {
    /// An action with the given name and description, whose input and output may be
    /// any JSON value and which has no side effect. Refine it with the builder methods.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        ActionInfo {
            name: name.into(),
            description: description.into(),
            input_schema: "{}".to_owned(),
            output_schema: "{}".to_owned(),
            side_effect: SideEffect::None,
        }
    }

    /// Sets the input's JSON Schema.
    pub fn input_schema(mut self, schema: serde_json::Value) -> Self {
        self.input_schema = schema.to_string();
        self
    }

    /// Sets the output's JSON Schema.
    pub fn output_schema(mut self, schema: serde_json::Value) -> Self {
        self.output_schema = schema.to_string();
        self
    }

    /// Sets the side-effect class.
    pub fn side_effect(mut self, side_effect: SideEffect) -> Self {
        self.side_effect = side_effect;
        self
    }
}

/// One event an extension may emit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventInfo {
    /// Event name, used with [`crate::host::events::emit`] and in grants
    /// (`events:NAME`): 1 to 64 ASCII letters, digits, `_`, `-` and `.`, starting with a
    /// letter or a digit. A host refuses a description with another.
    pub name: String,
    /// One sentence for people.
    pub description: String,
    /// JSON Schema of the payload, as JSON text.
    pub payload_schema: String,
}

impl EventInfo {
    /// An event with the given name, description and payload schema.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        payload_schema: serde_json::Value,
    ) -> Self {
        EventInfo {
            name: name.into(),
            description: description.into(),
            payload_schema: payload_schema.to_string(),
        }
    }
}

/// What `describe()` returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionInfo {
    /// Stable identifier, e.g. `hello` or `com.example.github`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Semantic version of the extension.
    pub version: String,
    /// One paragraph for people.
    pub description: String,
    /// The actions, in the order the extension lists them.
    pub actions: Vec<ActionInfo>,
    /// The events the extension may emit.
    pub events: Vec<EventInfo>,
    /// JSON Schema of the configuration, as JSON text, if the extension has any.
    pub config_schema: Option<String>,
}

impl ExtensionInfo {
    /// The action named `name`, if the extension offers it.
    pub fn action(&self, name: &str) -> Option<&ActionInfo> {
        self.actions.iter().find(|a| a.name == name)
    }
}

/// What went wrong in an action, in terms an app can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The input was malformed or failed validation.
    InvalidInput,
    /// The action does not exist.
    UnknownAction,
    /// Something the action needed does not exist.
    NotFound,
    /// The host refused a capability the action needed.
    PermissionDenied,
    /// A remote service refused the credentials.
    Unauthorized,
    /// Too many requests.
    RateLimited,
    /// A remote service is unreachable or failed.
    Unavailable,
    /// The action took too long.
    Timeout,
    /// The configuration is missing or invalid.
    Config,
    /// A bug in the extension.
    Internal,
}

impl ErrorKind {
    /// The contract's name for this kind, e.g. `invalid-input`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid-input",
            ErrorKind::UnknownAction => "unknown-action",
            ErrorKind::NotFound => "not-found",
            ErrorKind::PermissionDenied => "permission-denied",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::RateLimited => "rate-limited",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Config => "config",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error returned by an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Error {
    /// What kind of failure this is.
    pub kind: ErrorKind,
    /// A message for people.
    pub message: String,
    /// Optional machine-readable details, as JSON text.
    pub details: Option<String>,
}

impl Error {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            details: None,
        }
    }

    /// An [`ErrorKind::InvalidInput`] error.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidInput, message)
    }

    /// An [`ErrorKind::UnknownAction`] error naming `action`.
    pub fn unknown_action(action: &str) -> Self {
        Error::new(
            ErrorKind::UnknownAction,
            format!("unknown action `{action}`"),
        )
    }

    /// An [`ErrorKind::Internal`] error.
    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Internal, message)
    }

    /// Attaches machine-readable details.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details.to_string());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}

/// Why the host refused or failed a host call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostErrorKind {
    /// The extension lacks the permission for this call.
    PermissionDenied,
    /// An argument was invalid.
    InvalidArgument,
    /// The thing asked for does not exist.
    NotFound,
    /// A quota or size limit was reached.
    LimitExceeded,
    /// The service behind the call is unavailable.
    Unavailable,
    /// Anything else.
    Internal,
}

impl HostErrorKind {
    /// The contract's name for this kind, e.g. `permission-denied`.
    pub fn as_str(self) -> &'static str {
        match self {
            HostErrorKind::PermissionDenied => "permission-denied",
            HostErrorKind::InvalidArgument => "invalid-argument",
            HostErrorKind::NotFound => "not-found",
            HostErrorKind::LimitExceeded => "limit-exceeded",
            HostErrorKind::Unavailable => "unavailable",
            HostErrorKind::Internal => "internal",
        }
    }
}

/// An error returned by a host call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostError {
    /// What kind of failure this is.
    pub kind: HostErrorKind,
    /// A message for people; for a refusal it names the permission and how to grant it.
    pub message: String,
}

impl HostError {
    /// A host error of `kind` with `message`.
    pub fn new(kind: HostErrorKind, message: impl Into<String>) -> Self {
        HostError {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

impl std::error::Error for HostError {}

impl From<HostError> for Error {
    /// A host error becomes an action error of the matching kind, so that `?` on a host
    /// call inside an action does the right thing.
    fn from(e: HostError) -> Self {
        let kind = match e.kind {
            HostErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
            HostErrorKind::InvalidArgument => ErrorKind::InvalidInput,
            HostErrorKind::NotFound => ErrorKind::NotFound,
            HostErrorKind::LimitExceeded => ErrorKind::RateLimited,
            HostErrorKind::Unavailable => ErrorKind::Unavailable,
            HostErrorKind::Internal => ErrorKind::Internal,
        };
        Error::new(kind, e.message)
    }
}

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogLevel {
    /// Very detailed tracing.
    Trace,
    /// Debugging.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected but handled.
    Warn,
    /// A failure.
    Error,
}

/// HTTP method of a [`HttpRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// GET
    Get,
    /// HEAD
    Head,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
    /// OPTIONS
    Options,
}

impl Method {
    /// The method's name as sent on the wire, e.g. `GET`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
        }
    }
}

/// One HTTP header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Header name.
    pub name: String,
    /// Header value.
    pub value: String,
}

/// An outbound HTTP request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRequest {
    /// Method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// Headers.
    pub headers: Vec<Header>,
    /// Body, if any.
    pub body: Option<Vec<u8>>,
    /// Name of a secret the host attaches as the `authorization` header.
    pub secret: Option<String>,
    /// Timeout in milliseconds; the host applies its own cap.
    pub timeout_ms: Option<u32>,
}

impl HttpRequest {
    /// A GET request for `url` with no headers.
    pub fn get(url: impl Into<String>) -> Self {
        HttpRequest {
            method: Method::Get,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            secret: None,
            timeout_ms: None,
        }
    }
}

/// The response to a [`HttpRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: Vec<Header>,
    /// Body.
    pub body: Vec<u8>,
}

/// How much a [`Notification`] should interrupt the person (contract 0.2.0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Urgency {
    /// Whenever the person looks.
    Low,
    /// As the app shows notifications normally.
    #[default]
    Normal,
    /// Now.
    High,
}

/// A notification to the person (contract 0.2.0, `notify.send`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// One line.
    pub title: String,
    /// The text under it.
    pub body: String,
    /// How much it should interrupt.
    pub urgency: Urgency,
}

impl Notification {
    /// A notification of normal urgency.
    pub fn new(title: impl Into<String>, body: impl Into<String>) -> Self {
        Notification {
            title: title.into(),
            body: body.into(),
            urgency: Urgency::Normal,
        }
    }
}

/// Who says a [`Message`] (contract 0.2.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Instructions to the model.
    System,
    /// The person (or the extension on their behalf).
    User,
    /// The model.
    Assistant,
}

impl Role {
    /// The role's name, as OpenAI-compatible APIs spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One message of a conversation with the assistant's model (contract 0.2.0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Who says it.
    pub role: Role,
    /// What is said.
    pub content: String,
}

impl Message {
    /// A message of `role`.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Message {
            role,
            content: content.into(),
        }
    }
}

/// A conversation for the model to complete (contract 0.2.0, `ai.complete`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletionRequest {
    /// The conversation so far.
    pub messages: Vec<Message>,
    /// The most tokens to generate; the host's own cap applies too.
    pub max_tokens: Option<u32>,
}

/// The model's answer to a [`CompletionRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completion {
    /// The text of the assistant's reply.
    pub content: String,
    /// The model that answered, as the provider names it.
    pub model: String,
}
