//! Exit codes, and how a library error becomes one line on stderr and one of them.
//!
//! The codes are stable: scripts branch on them. One per class of failure:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (also: stdout was closed early, as by `| head`) |
//! | 1 | engine or internal error (the engine failed, a call was cancelled, output could not be written) |
//! | 2 | bad command line |
//! | 3 | a file could not be read |
//! | 4 | invalid module: not wasm, not a Morph extension, disallowed import, missing export |
//! | 5 | unsupported contract version |
//! | 6 | the extension misbehaved: trap, malformed data, output that breaks the contract, an instance stopped by an earlier fault |
//! | 7 | a resource limit was exceeded |
//! | 8 | the action returned an error |
//! | 9 | permission denied |
//! | 10 | unknown action or invalid input |
//! | 11 | backend not available in this build |
//!
//! Two library kinds needed a decision. `Poisoned` (an instance refusing calls after an
//! earlier trap, limit or bad data) is 6: what stopped it was the extension's doing, and
//! `morph` never reuses an instance, so seeing it at all means a fault. `Cancelled` is 1:
//! the host, not the extension, dropped the call, and `morph` never does, so it can only
//! mean a bug in `morph`.
//!
//! The messages are the library's, plus what to do about them where the answer is a
//! `morph` flag (the library does not know the flags): the limit flag to raise, the
//! permission the host did not grant. Every message is [`escape`]d: parts of it may come
//! from the guest.

use crate::limits;
use crate::output::escape;
use morph_host::{Error, ErrorKind};
use std::io::Write;

/// What `morph` exits with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: success.
    Success,
    /// 1: the engine failed, or `morph` itself did.
    Internal,
    /// 2: bad command line (clap reports these).
    Usage,
    /// 3: a file could not be read.
    File,
    /// 4: not a valid Morph module.
    InvalidModule,
    /// 5: built for a contract this host does not support.
    UnsupportedContract,
    /// 6: the extension misbehaved.
    ExtensionFault,
    /// 7: a resource limit was exceeded.
    LimitExceeded,
    /// 8: the action returned an error.
    ActionFailed,
    /// 9: permission denied.
    PermissionDenied,
    /// 10: unknown action or invalid input.
    BadRequest,
    /// 11: the backend is not in this build.
    BackendUnavailable,
}

impl Exit {
    /// Every exit code, in order.
    pub const ALL: [Exit; 12] = [
        Exit::Success,
        Exit::Internal,
        Exit::Usage,
        Exit::File,
        Exit::InvalidModule,
        Exit::UnsupportedContract,
        Exit::ExtensionFault,
        Exit::LimitExceeded,
        Exit::ActionFailed,
        Exit::PermissionDenied,
        Exit::BadRequest,
        Exit::BackendUnavailable,
    ];

    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Internal => 1,
            Exit::Usage => 2,
            Exit::File => 3,
            Exit::InvalidModule => 4,
            Exit::UnsupportedContract => 5,
            Exit::ExtensionFault => 6,
            Exit::LimitExceeded => 7,
            Exit::ActionFailed => 8,
            Exit::PermissionDenied => 9,
            Exit::BadRequest => 10,
            Exit::BackendUnavailable => 11,
        }
    }

    /// What the code means, for `--help`.
    pub fn meaning(self) -> &'static str {
        match self {
            Exit::Success => "success (also when stdout is closed early, as by `| head`)",
            Exit::Internal => "engine or internal error (a cancelled call included)",
            Exit::Usage => "bad command line",
            Exit::File => "a file could not be read",
            Exit::InvalidModule => {
                "invalid module: not wasm, not a Morph extension, disallowed import, missing export"
            }
            Exit::UnsupportedContract => "unsupported contract version",
            Exit::ExtensionFault => {
                "the extension misbehaved: trap, malformed data, output that breaks the contract"
            }
            Exit::LimitExceeded => "a resource limit was exceeded (the message names the flag)",
            Exit::ActionFailed => "the action returned an error",
            Exit::PermissionDenied => "permission denied",
            Exit::BadRequest => "unknown action or invalid input",
            Exit::BackendUnavailable => "backend not available in this build",
        }
    }

    /// The exit-code table `morph --help` ends with.
    pub fn help() -> String {
        let mut text = String::from("Exit codes:\n");
        for exit in Exit::ALL {
            text.push_str(&format!("  {:>2}  {}\n", exit.code(), exit.meaning()));
        }
        text.push_str("\nSet MORPH_LOG=debug to see what extensions log.");
        text
    }

    /// The code for a library error. Every kind this build knows is listed.
    pub fn for_kind(kind: &ErrorKind) -> Exit {
        match kind {
            ErrorKind::InvalidModule { .. }
            | ErrorKind::MissingExport { .. }
            | ErrorKind::DisallowedImport { .. } => Exit::InvalidModule,
            ErrorKind::UnsupportedContract { .. } => Exit::UnsupportedContract,
            ErrorKind::Trap { .. }
            | ErrorKind::BadGuestData { .. }
            | ErrorKind::InvalidOutput { .. }
            | ErrorKind::Poisoned { .. } => Exit::ExtensionFault,
            ErrorKind::LimitExceeded { .. } => Exit::LimitExceeded,
            ErrorKind::Guest(_) => Exit::ActionFailed,
            ErrorKind::PermissionDenied { .. } => Exit::PermissionDenied,
            ErrorKind::UnknownAction { .. } | ErrorKind::InvalidInput { .. } => Exit::BadRequest,
            ErrorKind::BackendUnavailable { .. } => Exit::BackendUnavailable,
            ErrorKind::Cancelled | ErrorKind::Engine { .. } => Exit::Internal,
            // ErrorKind is #[non_exhaustive], so the compiler demands this arm. It is
            // reached only by a kind added to morph-runtime after this list was written:
            // report it as an internal error (its message is still printed in full) and
            // give it a code here, with a row in the table above.
            _ => Exit::Internal,
        }
    }
}

/// Why a command stopped.
#[derive(Debug)]
pub enum Failure {
    /// Standard output was closed (`| head`): stop quietly, exit 0.
    Closed,
    /// An error: one line on stderr, then this exit code.
    Error {
        /// The exit code.
        exit: Exit,
        /// The message, unescaped (see [`Failure::report`]).
        message: String,
    },
}

impl Failure {
    /// An error with `exit` and `message`.
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Failure::Error {
            exit,
            message: message.into(),
        }
    }

    /// An internal error (exit 1) with `message`.
    pub fn internal(message: impl Into<String>) -> Self {
        Failure::new(Exit::Internal, message)
    }

    /// Prints the error, if any, as one escaped line on stderr, and returns the exit
    /// code. A stderr that cannot be written is ignored: there is nowhere left to say so.
    pub fn report(self) -> Exit {
        match self {
            Failure::Closed => Exit::Success,
            Failure::Error { exit, message } => {
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "morph: error: {}",
                    escape(&message)
                );
                exit
            }
        }
    }
}

/// What to do about an error, when the answer is something `morph` offers.
fn remediation(kind: &ErrorKind) -> Option<String> {
    match kind {
        ErrorKind::LimitExceeded { limit, .. } => {
            limits::flag_for(*limit).map(|flag| format!("raise it with `{flag}`"))
        }
        ErrorKind::PermissionDenied { permission, .. } => {
            Some(format!("the host did not grant `{permission}`"))
        }
        // For every other kind the library's message already says what to do.
        _ => None,
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let exit = Exit::for_kind(e.kind());
        let message = match remediation(e.kind()) {
            Some(hint) => format!("{e}; {hint}"),
            None => e.to_string(),
        };
        Failure::new(exit, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use morph_host::{HostError, HostErrorKind, Limit, Permission, TrapKind};

    fn message(f: Failure) -> (u8, String) {
        match f {
            Failure::Error { exit, message } => (exit.code(), message),
            Failure::Closed => panic!("not an error"),
        }
    }

    /// Every kind this build knows, with the code the table above gives it.
    #[test]
    fn every_error_kind_has_its_documented_code() {
        let s = String::new;
        let cases: Vec<(ErrorKind, u8)> = vec![
            (ErrorKind::InvalidModule { reason: s() }, 4),
            (
                ErrorKind::UnsupportedContract {
                    found: s(),
                    supported: vec![],
                },
                5,
            ),
            (
                ErrorKind::MissingExport {
                    name: s(),
                    expected: s(),
                },
                4,
            ),
            (
                ErrorKind::DisallowedImport {
                    module: s(),
                    name: s(),
                    reason: s(),
                },
                4,
            ),
            (
                ErrorKind::Trap {
                    kind: TrapKind::Unreachable,
                    message: s(),
                },
                6,
            ),
            (
                ErrorKind::LimitExceeded {
                    limit: Limit::Cpu,
                    used: 1,
                    max: 1,
                },
                7,
            ),
            (
                ErrorKind::Guest(HostError::new(HostErrorKind::NotFound, "gone").into()),
                8,
            ),
            (
                ErrorKind::PermissionDenied {
                    permission: Permission::Clock,
                    extension: s(),
                },
                9,
            ),
            (ErrorKind::BadGuestData { message: s() }, 6),
            (
                ErrorKind::UnknownAction {
                    action: s(),
                    available: vec![],
                },
                10,
            ),
            (
                ErrorKind::InvalidInput {
                    action: s(),
                    message: s(),
                },
                10,
            ),
            (ErrorKind::InvalidOutput { message: s() }, 6),
            (
                ErrorKind::BackendUnavailable {
                    name: s(),
                    available: vec![],
                },
                11,
            ),
            (ErrorKind::Poisoned { cause: s() }, 6),
            (ErrorKind::Cancelled, 1),
            (ErrorKind::Engine { message: s() }, 1),
        ];
        for (kind, code) in cases {
            assert_eq!(Exit::for_kind(&kind).code(), code, "{kind:?}");
            let (got, _) = message(Failure::from(Error::new(kind)));
            assert_eq!(got, code);
        }
    }

    #[test]
    fn codes_are_distinct_and_in_order() {
        for (i, exit) in Exit::ALL.iter().enumerate() {
            assert_eq!(usize::from(exit.code()), i);
        }
        let help = Exit::help();
        for exit in Exit::ALL {
            assert!(
                help.contains(&format!("{:>2}  {}", exit.code(), exit.meaning())),
                "{help}"
            );
        }
    }

    #[test]
    fn limit_errors_name_the_flag_that_raises_them() {
        let (code, text) = message(Error::limit(Limit::Cpu, 10, 10).into());
        assert_eq!(code, 7);
        assert_eq!(
            text,
            "the extension exceeded its cpu limit (used 10 fuel, limit 10 fuel); raise it with `--fuel N`"
        );
        let (_, text) = message(Error::limit(Limit::HostCalls, 3, 2).into());
        assert!(
            text.ends_with("; raise it with `--max-host-calls N`"),
            "{text}"
        );
    }

    #[test]
    fn permission_errors_name_the_permission() {
        let e = Error::new(ErrorKind::PermissionDenied {
            permission: Permission::Http {
                host: "evil.example".into(),
            },
            extension: "github".into(),
        });
        let (code, text) = message(e.into());
        assert_eq!(code, 9);
        assert!(
            text.ends_with("; the host did not grant `http:evil.example`"),
            "{text}"
        );
    }
}
