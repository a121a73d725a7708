//! The error taxonomy shared by every backend.

use std::fmt;

/// A Morph runtime error: what went wrong, in a form an app can match on
/// ([`Error::kind`]) and a message that says what to do ([`fmt::Display`]).
///
/// Errors are cheap to build (no backtrace is captured), so they can be returned from hot
/// paths such as a refused host call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: Box<ErrorKind>,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The bytes are not a valid wasm module, or not a Morph extension.
    InvalidModule {
        /// What is wrong with it.
        reason: String,
    },
    /// The module was built for a contract version this host does not support.
    UnsupportedContract {
        /// The version the module carries.
        found: String,
        /// The versions this host supports.
        supported: Vec<String>,
    },
    /// The module lacks an export the contract requires, or exports it with another type.
    MissingExport {
        /// Export name.
        name: String,
        /// The expected signature, e.g. `func(i32, i32, i32, i32) -> i32`.
        expected: String,
    },
    /// The module imports something outside the contract.
    DisallowedImport {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
        /// Why it is refused.
        reason: String,
    },
    /// The guest trapped.
    Trap {
        /// Which trap.
        kind: TrapKind,
        /// The engine's message.
        message: String,
    },
    /// A resource limit was reached.
    LimitExceeded {
        /// Which limit.
        limit: Limit,
        /// How much was used when it tripped (in the limit's unit).
        used: u64,
        /// The limit (in the limit's unit).
        max: u64,
    },
    /// The action returned an error.
    Guest(morph_abi::Error),
    /// A host call (or a destructive action) was refused for want of a permission, and
    /// the action failed for it.
    PermissionDenied {
        /// What the checkpoint refused: the permission, the target, what is granted of
        /// that kind, and the grant that would allow it.
        denial: Box<morph_permissions::Denial>,
        /// The extension's id.
        extension: String,
    },
    /// The guest handed the host malformed data: a pointer or length out of bounds, a
    /// misaligned pointer, invalid UTF-8, an invalid discriminant.
    BadGuestData {
        /// What was wrong.
        message: String,
    },
    /// The action does not exist.
    UnknownAction {
        /// The name asked for.
        action: String,
        /// The actions the extension offers.
        available: Vec<String>,
    },
    /// The input is not JSON or fails the action's input schema.
    InvalidInput {
        /// The action.
        action: String,
        /// What is wrong with the input.
        message: String,
    },
    /// The extension's output or description is not what the contract requires (output
    /// not JSON, fails its schema, a schema that is not JSON).
    InvalidOutput {
        /// What is wrong.
        message: String,
    },
    /// The backend named is unknown or not compiled into this build.
    BackendUnavailable {
        /// The name asked for.
        name: String,
        /// What is available.
        available: Vec<String>,
    },
    /// An earlier call trapped, hit a limit or handed back malformed data; the instance
    /// may be inconsistent and refuses further calls. Load the extension again.
    Poisoned {
        /// The error that stopped the instance.
        cause: String,
    },
    /// The call was cancelled (its future dropped) while the guest ran; the instance
    /// refuses further calls.
    Cancelled,
    /// The engine failed for a reason that is not the guest's fault.
    Engine {
        /// The engine's message.
        message: String,
    },
}

/// Which trap a guest hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TrapKind {
    /// `unreachable` executed (also: a Rust guest panicked or aborted).
    Unreachable,
    /// Out-of-bounds memory access.
    MemoryOutOfBounds,
    /// Call stack exhausted.
    StackOverflow,
    /// Integer division by zero.
    IntegerDivisionByZero,
    /// Integer overflow (e.g. `i32::MIN / -1`).
    IntegerOverflow,
    /// Invalid float-to-integer conversion.
    BadConversionToInteger,
    /// `call_indirect` on a missing table element or with the wrong type.
    IndirectCall,
    /// Out-of-bounds table access.
    TableOutOfBounds,
    /// A host call where the component model forbids leaving the instance: while the host
    /// lowers a value (`cabi_realloc`), in a post-return function or in a start function.
    CannotLeave,
    /// Any other trap.
    Other,
}

impl TrapKind {
    /// A short, stable name, e.g. `unreachable`.
    pub fn as_str(self) -> &'static str {
        match self {
            TrapKind::Unreachable => "unreachable",
            TrapKind::MemoryOutOfBounds => "memory-out-of-bounds",
            TrapKind::StackOverflow => "stack-overflow",
            TrapKind::IntegerDivisionByZero => "integer-division-by-zero",
            TrapKind::IntegerOverflow => "integer-overflow",
            TrapKind::BadConversionToInteger => "bad-conversion-to-integer",
            TrapKind::IndirectCall => "indirect-call",
            TrapKind::TableOutOfBounds => "table-out-of-bounds",
            TrapKind::CannotLeave => "cannot-leave",
            TrapKind::Other => "other",
        }
    }

    /// What the trap means, in the same words on every backend.
    pub fn description(self) -> &'static str {
        match self {
            TrapKind::Unreachable => {
                "wasm `unreachable` instruction executed (a Rust guest panicked or aborted)"
            }
            TrapKind::MemoryOutOfBounds => "out-of-bounds memory access",
            TrapKind::StackOverflow => "call stack exhausted (runaway recursion?)",
            TrapKind::IntegerDivisionByZero => "integer divide by zero",
            TrapKind::IntegerOverflow => "integer overflow",
            TrapKind::BadConversionToInteger => "invalid conversion to integer",
            TrapKind::IndirectCall => "indirect call to a missing or mistyped function",
            TrapKind::TableOutOfBounds => "out-of-bounds table access",
            TrapKind::CannotLeave => {
                "host call while the host lowers a value, in a post-return function or in a start function (the instance cannot be left there)"
            }
            TrapKind::Other => "the engine stopped the guest",
        }
    }
}

/// Which resource limit tripped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// Linear memory, in bytes.
    Memory,
    /// CPU budget, in fuel units (instructions in deterministic mode).
    Cpu,
    /// Wall-clock time, in milliseconds.
    Timeout,
    /// Output size, in bytes.
    Output,
    /// Input size, in bytes.
    Input,
    /// Host calls per guest call.
    HostCalls,
    /// Module size, in bytes.
    ModuleSize,
    /// Bytes crossing the boundary in one call.
    Transfer,
}

impl Limit {
    /// A short, stable name, e.g. `memory`.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Memory => "memory",
            Limit::Cpu => "cpu",
            Limit::Timeout => "timeout",
            Limit::Output => "output",
            Limit::Input => "input",
            Limit::HostCalls => "host-calls",
            Limit::ModuleSize => "module-size",
            Limit::Transfer => "transfer",
        }
    }

    /// The limit's unit, e.g. `bytes`.
    pub fn unit(self) -> &'static str {
        match self {
            Limit::Memory | Limit::Output | Limit::Input | Limit::ModuleSize | Limit::Transfer => {
                "bytes"
            }
            Limit::Cpu => "fuel",
            Limit::Timeout => "ms",
            Limit::HostCalls => "calls",
        }
    }
}

impl Error {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind) -> Self {
        Error {
            kind: Box::new(kind),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Consumes the error and returns its kind.
    pub fn into_kind(self) -> ErrorKind {
        *self.kind
    }

    /// A short, stable name of the error's class, e.g. `trap` or `limit-exceeded`;
    /// used by the conformance suite and the CLI's exit codes.
    pub fn class(&self) -> &'static str {
        match &*self.kind {
            ErrorKind::InvalidModule { .. } => "invalid-module",
            ErrorKind::UnsupportedContract { .. } => "unsupported-contract",
            ErrorKind::MissingExport { .. } => "missing-export",
            ErrorKind::DisallowedImport { .. } => "disallowed-import",
            ErrorKind::Trap { .. } => "trap",
            ErrorKind::LimitExceeded { .. } => "limit-exceeded",
            ErrorKind::Guest(_) => "guest-error",
            ErrorKind::PermissionDenied { .. } => "permission-denied",
            ErrorKind::BadGuestData { .. } => "bad-guest-data",
            ErrorKind::UnknownAction { .. } => "unknown-action",
            ErrorKind::InvalidInput { .. } => "invalid-input",
            ErrorKind::InvalidOutput { .. } => "invalid-output",
            ErrorKind::BackendUnavailable { .. } => "backend-unavailable",
            ErrorKind::Poisoned { .. } => "poisoned",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Engine { .. } => "engine",
        }
    }

    /// A finer name than [`Error::class`]: the trap or limit kind, the guest error's kind
    /// or the refused permission's kind, e.g. `trap:unreachable`, `limit-exceeded:memory`,
    /// `guest-error:not-found`, `permission-denied:kv-read`.
    pub fn detail(&self) -> String {
        match &*self.kind {
            ErrorKind::Trap { kind, .. } => format!("trap:{}", kind.as_str()),
            ErrorKind::LimitExceeded { limit, .. } => format!("limit-exceeded:{}", limit.as_str()),
            ErrorKind::Guest(e) => format!("guest-error:{}", e.kind),
            ErrorKind::PermissionDenied { denial, .. } => {
                format!("permission-denied:{}", denial.permission())
            }
            _ => self.class().to_owned(),
        }
    }

    /// Whether this error leaves the instance unusable: a trap, a limit hit inside the
    /// guest, malformed guest data, or an engine failure. Guest errors, refusals and bad
    /// input do not.
    pub fn poisons(&self) -> bool {
        match &*self.kind {
            ErrorKind::Trap { .. }
            | ErrorKind::BadGuestData { .. }
            | ErrorKind::Engine { .. }
            | ErrorKind::Poisoned { .. }
            | ErrorKind::Cancelled => true,
            ErrorKind::LimitExceeded { limit, .. } => *limit != Limit::Input,
            _ => false,
        }
    }

    /// Shorthand for [`ErrorKind::InvalidModule`].
    pub fn invalid_module(reason: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidModule {
            reason: reason.into(),
        })
    }

    /// Shorthand for [`ErrorKind::BadGuestData`].
    pub fn bad_guest_data(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::BadGuestData {
            message: message.into(),
        })
    }

    /// Shorthand for [`ErrorKind::Engine`].
    pub fn engine(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Engine {
            message: message.into(),
        })
    }

    /// Shorthand for [`ErrorKind::Trap`] with the kind's standard description, so that
    /// the same trap reads the same on every backend.
    pub fn trap(kind: TrapKind) -> Self {
        Error::new(ErrorKind::Trap {
            kind,
            message: kind.description().to_owned(),
        })
    }

    /// Shorthand for [`ErrorKind::LimitExceeded`].
    pub fn limit(limit: Limit, used: u64, max: u64) -> Self {
        Error::new(ErrorKind::LimitExceeded { limit, used, max })
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error::new(kind)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.kind {
            ErrorKind::InvalidModule { reason } => write!(
                f,
                "invalid extension module: {reason}; rebuild it for wasm32-unknown-unknown with morph-abi (`cargo xtask build`)"
            ),
            ErrorKind::UnsupportedContract { found, supported } => write!(
                f,
                "the module was built for Morph contract {found}, but this host supports {}; rebuild it against a supported morph-abi or upgrade the host",
                supported.join(", ")
            ),
            ErrorKind::MissingExport { name, expected } => write!(
                f,
                "the module does not export `{name}` as {expected}; export the extension with `morph_abi::export_extension!`"
            ),
            ErrorKind::DisallowedImport {
                module,
                name,
                reason,
            } => write!(
                f,
                "the module imports `{module}::{name}`, which is outside the Morph contract ({reason}); extensions may only import the contract's host interfaces"
            ),
            ErrorKind::Trap { kind, message } => write!(
                f,
                "the extension trapped ({}): {message}; this is a bug in the extension",
                kind.as_str()
            ),
            ErrorKind::LimitExceeded { limit, used, max } => write!(
                f,
                "the extension exceeded its {} limit (used {used} {unit}, limit {max} {unit})",
                limit.as_str(),
                unit = limit.unit()
            ),
            ErrorKind::Guest(e) => write!(f, "the action failed: {e}"),
            ErrorKind::PermissionDenied { denial, extension } => write!(
                f,
                "permission denied for extension `{}`: {denial}",
                extension.escape_debug()
            ),
            ErrorKind::BadGuestData { message } => write!(
                f,
                "the extension handed the host malformed data: {message}; this is a bug in the extension"
            ),
            ErrorKind::UnknownAction { action, available } => write!(
                f,
                "unknown action `{action}`; available actions: {}",
                if available.is_empty() {
                    "(none)".to_owned()
                } else {
                    available.join(", ")
                }
            ),
            ErrorKind::InvalidInput { action, message } => {
                write!(f, "invalid input for action `{action}`: {message}")
            }
            ErrorKind::InvalidOutput { message } => {
                write!(f, "the extension broke the contract: {message}")
            }
            ErrorKind::BackendUnavailable { name, available } => write!(
                f,
                "backend `{name}` is not available in this build; available: {}",
                available.join(", ")
            ),
            ErrorKind::Poisoned { cause } => write!(
                f,
                "the instance stopped after an earlier failure ({cause}); load the extension again"
            ),
            ErrorKind::Cancelled => write!(
                f,
                "the call was cancelled while the extension ran; the instance is stopped, use a new one"
            ),
            ErrorKind::Engine { message } => write!(f, "engine error: {message}"),
        }
    }
}

impl std::error::Error for Error {}

/// Shorthand for `Result<T, morph_runtime::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
