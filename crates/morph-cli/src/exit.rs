//! Exit codes, and how a library error becomes one line on stderr and one of them.
//!
//! The codes are stable: scripts branch on them. One per class of failure:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (also: stdout was closed early, as by `| head`) |
//! | 1 | engine or internal error (the engine failed, a call was cancelled, output could not be written) |
//! | 2 | bad command line |
//! | 3 | a file could not be read or written (or would be overwritten: key files never are) |
//! | 4 | invalid module: not wasm, not a Morph extension, disallowed import, missing export |
//! | 5 | unsupported contract version |
//! | 6 | the extension misbehaved: trap, malformed data, output that breaks the contract, an instance stopped by an earlier fault |
//! | 7 | a resource limit was exceeded |
//! | 8 | the action returned an error |
//! | 9 | permission denied |
//! | 10 | unknown action or invalid input (also: a key id that is not in the trust store, a trust-store change that would silently replace an entry) |
//! | 11 | backend not available in this build |
//! | 12 | verification failed: unsigned, unknown or revoked key, bad signature, denied digest, or bytes changed after packing or signing |
//! | 13 | registry error: unreachable, refused the credentials, no such tag, or sent bad data |
//! | 14 | invalid package, manifest, key or trust store file (also: the local store of installed extensions is damaged or busy) |
//! | 15 | no such extension is installed (`run`, `inspect`, `uninstall` with an extension id) |
//!
//! Codes 12 to 14 came with the trust and distribution commands (`keygen`, `pack`,
//! `sign`, `verify`, `trust`, `push`, `pull`). A package whose bytes no longer match the
//! digests in its own index (`PackageError::DigestMismatch`) is 12, not 14: it was
//! changed after packing, which is what tampering looks like, and `morph verify` must say
//! "do not install" for it as for a broken signature. A registry that serves blobs that
//! do not match their digests is 13: the package never arrived, so there is nothing to
//! verify yet. A reference or `--plain-http` the registry crate refuses before connecting
//! is a bad command line (2).
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
use morph_package::PackageError;
use morph_registry::RegistryError;
use morph_signing::{SigningError, VerifyError};
use std::fmt::Display;
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
    /// 12: a package failed verification.
    Untrusted,
    /// 13: the registry failed or refused.
    Registry,
    /// 14: a package, manifest, key or trust store file is invalid.
    InvalidPackage,
    /// 15: no such extension is installed.
    NotInstalled,
}

impl Exit {
    /// Every exit code, in order.
    pub const ALL: [Exit; 16] = [
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
        Exit::Untrusted,
        Exit::Registry,
        Exit::InvalidPackage,
        Exit::NotInstalled,
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
            Exit::Untrusted => 12,
            Exit::Registry => 13,
            Exit::InvalidPackage => 14,
            Exit::NotInstalled => 15,
        }
    }

    /// What the code means, for `--help`.
    pub fn meaning(self) -> &'static str {
        match self {
            Exit::Success => "success (also when stdout is closed early, as by `| head`)",
            Exit::Internal => "engine or internal error (a cancelled call included)",
            Exit::Usage => "bad command line",
            Exit::File => "a file could not be read or written (key files are never overwritten)",
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
            Exit::BadRequest => {
                "unknown action or invalid input (also: a key id not in the trust store)"
            }
            Exit::BackendUnavailable => "backend not available in this build",
            Exit::Untrusted => {
                "verification failed: unsigned, untrusted or revoked key, bad signature, denied, or changed since packing or signing"
            }
            Exit::Registry => {
                "registry error: unreachable, credentials refused, not found, or bad data sent"
            }
            Exit::InvalidPackage => {
                "invalid package, manifest, key or trust store file, or a damaged local store"
            }
            Exit::NotInstalled => "no such extension is installed",
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

    /// The code for a package error. Every kind this build knows is listed.
    pub fn for_package(e: &PackageError) -> Exit {
        match e {
            PackageError::DigestMismatch { .. } => Exit::Untrusted,
            PackageError::Io { .. } => Exit::File,
            PackageError::Truncated { .. }
            | PackageError::NotAPackage
            | PackageError::UnsupportedFormat { .. }
            | PackageError::TooLarge { .. }
            | PackageError::MalformedIndex(_)
            | PackageError::TrailingBytes(_)
            | PackageError::InvalidAssetName { .. }
            | PackageError::Manifest(_) => Exit::InvalidPackage,
            // #[non_exhaustive]: as in `for_kind`, a kind added later is reported as
            // internal (with its message) until it gets its own row here.
            _ => Exit::Internal,
        }
    }

    /// The code for a key, signing or trust-store error. Every kind this build knows is
    /// listed.
    pub fn for_signing(e: &SigningError) -> Exit {
        match e {
            SigningError::KeyTooSmall { .. }
            | SigningError::KeyFormat(_)
            | SigningError::Unsignable { .. }
            | SigningError::TrustStoreFormat { .. } => Exit::InvalidPackage,
            SigningError::KeyFileExists { .. } | SigningError::Io { .. } => Exit::File,
            SigningError::NoSuchKey(_) => Exit::BadRequest,
            SigningError::Random(_) | SigningError::Crypto(_) => Exit::Internal,
            // #[non_exhaustive]: see `for_package`.
            _ => Exit::Internal,
        }
    }

    /// The code for a verification refusal: always 12. The kinds are listed so that a new
    /// one is a decision, not an accident.
    pub fn for_verify(e: &VerifyError) -> Exit {
        match e {
            VerifyError::Unsigned { .. }
            | VerifyError::MalformedSignature { .. }
            | VerifyError::DeniedDigest { .. }
            | VerifyError::UnknownKey { .. }
            | VerifyError::RevokedKey { .. }
            | VerifyError::AlgorithmMismatch { .. }
            | VerifyError::BadSignature { .. }
            | VerifyError::MalformedStatement { .. }
            | VerifyError::PublisherMismatch { .. }
            | VerifyError::DigestMismatch { .. }
            | VerifyError::StatementMismatch { .. } => Exit::Untrusted,
            // #[non_exhaustive]: a refusal this build does not know is still a refusal.
            _ => Exit::Untrusted,
        }
    }

    /// The code for a push or pull error. Every kind this build knows is listed.
    pub fn for_registry(e: &RegistryError) -> Exit {
        match e {
            RegistryError::InvalidReference { .. } | RegistryError::InsecureRefused { .. } => {
                Exit::Usage
            }
            RegistryError::Unauthorized { .. }
            | RegistryError::NotFound { .. }
            | RegistryError::Transport { .. }
            | RegistryError::ManifestTooLarge { .. }
            | RegistryError::MalformedManifest { .. }
            | RegistryError::NotAMorphArtifact { .. }
            | RegistryError::BlobTooLarge { .. }
            | RegistryError::BlobSizeMismatch { .. }
            | RegistryError::BlobDigestMismatch { .. }
            | RegistryError::LayoutFormat { .. } => Exit::Registry,
            RegistryError::Package(p) => Exit::for_package(p),
            RegistryError::Io { .. } => Exit::File,
            // #[non_exhaustive]: see `for_package`.
            _ => Exit::Internal,
        }
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

    /// The same failure with `what` before its message (`` `hello.morph`: ...``): for a
    /// library message that does not say which file it is about.
    #[must_use]
    pub fn about(self, what: impl Display) -> Self {
        match self {
            Failure::Error { exit, message } => Failure::Error {
                exit,
                message: format!("{what}: {message}"),
            },
            Failure::Closed => Failure::Closed,
        }
    }

    /// The same failure with `hint` (what to do) after its message, separated by `; `.
    #[must_use]
    pub fn hint(self, hint: impl Display) -> Self {
        match self {
            Failure::Error { exit, message } => Failure::Error {
                exit,
                message: format!("{message}; {hint}"),
            },
            Failure::Closed => Failure::Closed,
        }
    }

    /// The exit code this failure ends with.
    #[cfg(test)]
    pub fn exit(&self) -> Exit {
        match self {
            Failure::Closed => Exit::Success,
            Failure::Error { exit, .. } => *exit,
        }
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
        ErrorKind::PermissionDenied { denial, .. } => Some(match denial.suggestion() {
            Some(grant) => format!("run again with `--grant '{grant}'`"),
            None => "no grant can allow this request".to_owned(),
        }),
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

impl From<PackageError> for Failure {
    fn from(e: PackageError) -> Self {
        let exit = Exit::for_package(&e);
        let failure = Failure::new(exit, e.to_string());
        match e {
            PackageError::DigestMismatch { .. } | PackageError::Truncated { .. } => {
                failure.hint("get the package again from its publisher")
            }
            _ => failure,
        }
    }
}

impl From<SigningError> for Failure {
    fn from(e: SigningError) -> Self {
        let exit = Exit::for_signing(&e);
        let failure = Failure::new(exit, e.to_string());
        match e {
            SigningError::NoSuchKey(_) => failure.hint("`morph trust list` shows the keys"),
            SigningError::TrustStoreFormat { .. } => failure.hint(
                "repair it, move it away to start an empty one, or use another with `--trust-store FILE`",
            ),
            _ => failure,
        }
    }
}

impl From<VerifyError> for Failure {
    fn from(e: VerifyError) -> Self {
        let exit = Exit::for_verify(&e);
        let failure = Failure::new(exit, e.to_string());
        match e {
            VerifyError::UnknownKey { .. } => failure
                .hint("trust the publisher's key with `morph trust add <pub> --publisher <name>`"),
            VerifyError::Unsigned { .. } => {
                failure.hint("its author signs it with `morph sign <package> --key <file>`")
            }
            _ => failure,
        }
    }
}

impl From<RegistryError> for Failure {
    fn from(e: RegistryError) -> Self {
        if let RegistryError::Package(p) = e {
            return p.into();
        }
        let exit = Exit::for_registry(&e);
        let failure = Failure::new(exit, e.to_string());
        match e {
            RegistryError::Unauthorized { .. } => {
                failure.hint("pass them with `--user NAME --password-stdin`")
            }
            RegistryError::InsecureRefused { .. } => failure.hint("drop `--plain-http`"),
            _ => failure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use morph_host::{
        CallContext, CallKind, DenyAll, HostError, HostErrorKind, Limit, Method, Policy, Request,
        TrapKind,
    };

    /// What the default policy says about `request`.
    fn denial(request: &Request) -> Box<morph_host::Denial> {
        let cx = CallContext {
            extension: "github".into(),
            kind: CallKind::Describe,
        };
        match DenyAll.decide(&cx, request) {
            morph_host::Decision::Deny(d) => d,
            morph_host::Decision::Allow => panic!("DenyAll allowed {request}"),
        }
    }

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
                    denial: denial(&Request::Clock),
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

    /// Every package, signing, verification and registry error this build knows, with
    /// the code the table gives it, and the remediation the CLI adds where it has one.
    #[test]
    fn every_trust_error_has_its_documented_code() {
        use morph_package::Digest;
        use morph_signing::{Algorithm, KeyId, SignedPart};
        let s = String::new;
        let d = Digest::of(b"x");
        let io = || std::io::Error::other("boom");
        let package: Vec<(PackageError, u8)> = vec![
            (
                PackageError::Truncated {
                    what: s(),
                    needed: 1,
                    available: 0,
                },
                14,
            ),
            (PackageError::NotAPackage, 14),
            (
                PackageError::UnsupportedFormat {
                    version: 2,
                    flags: 0,
                },
                14,
            ),
            (
                PackageError::TooLarge {
                    what: s(),
                    size: 2,
                    limit: 1,
                },
                14,
            ),
            (PackageError::MalformedIndex(s()), 14),
            (PackageError::TrailingBytes(1), 14),
            (
                PackageError::DigestMismatch {
                    entry: "module".into(),
                    declared: d,
                    actual: d,
                },
                12,
            ),
            (
                PackageError::InvalidAssetName {
                    name: s(),
                    reason: "x",
                },
                14,
            ),
            (PackageError::Manifest(s()), 14),
            (
                PackageError::Io {
                    action: "reading",
                    path: s(),
                    source: io(),
                },
                3,
            ),
        ];
        for (e, code) in package {
            assert_eq!(Exit::for_package(&e).code(), code, "{e:?}");
            assert_eq!(Failure::from(e).exit().code(), code);
        }
        let key = KeyId::of_spki_der(b"k");
        let signing: Vec<(SigningError, u8)> = vec![
            (SigningError::KeyTooSmall { bits: 1, min: 2 }, 14),
            (SigningError::KeyFormat(s()), 14),
            (SigningError::Random(s()), 1),
            (SigningError::KeyFileExists { path: s() }, 3),
            (
                SigningError::Io {
                    action: "writing",
                    path: s(),
                    source: io(),
                },
                3,
            ),
            (
                SigningError::Unsignable {
                    package: s(),
                    reason: s(),
                },
                14,
            ),
            (SigningError::Crypto(s()), 1),
            (
                SigningError::TrustStoreFormat {
                    path: s(),
                    reason: s(),
                },
                14,
            ),
            (SigningError::NoSuchKey(key), 10),
        ];
        for (e, code) in signing {
            assert_eq!(Exit::for_signing(&e).code(), code, "{e:?}");
            assert_eq!(Failure::from(e).exit().code(), code);
        }
        let p = || "hello@1.0.0".to_owned();
        let verify = vec![
            VerifyError::Unsigned { package: p() },
            VerifyError::MalformedSignature {
                package: p(),
                reason: s(),
            },
            VerifyError::DeniedDigest {
                package: p(),
                part: SignedPart::Module,
                digest: d,
                reason: s(),
            },
            VerifyError::UnknownKey {
                package: p(),
                key_id: key,
            },
            VerifyError::RevokedKey {
                package: p(),
                key_id: key,
                publisher: s(),
            },
            VerifyError::AlgorithmMismatch {
                package: p(),
                key_id: key,
                signature: Algorithm::Ed25519,
                key: Algorithm::RsaPssSha256,
            },
            VerifyError::BadSignature {
                package: p(),
                key_id: key,
                publisher: s(),
            },
            VerifyError::MalformedStatement {
                package: p(),
                reason: s(),
            },
            VerifyError::PublisherMismatch {
                package: p(),
                key_id: key,
                trusted: s(),
                claimed: s(),
            },
            VerifyError::DigestMismatch {
                package: p(),
                part: SignedPart::Manifest,
                signed: None,
                actual: Some(d),
            },
            VerifyError::StatementMismatch {
                package: p(),
                field: "id",
                claimed: s(),
                actual: s(),
            },
        ];
        for e in verify {
            assert_eq!(Exit::for_verify(&e), Exit::Untrusted, "{e:?}");
            assert_eq!(Failure::from(e).exit(), Exit::Untrusted);
        }
        let r = || "oci://127.0.0.1:5000/acme/hello:v1".to_owned();
        let registry: Vec<(RegistryError, u8)> = vec![
            (
                RegistryError::InvalidReference {
                    reference: r(),
                    reason: s(),
                },
                2,
            ),
            (RegistryError::InsecureRefused { registry: r() }, 2),
            (
                RegistryError::Unauthorized {
                    registry: r(),
                    message: s(),
                },
                13,
            ),
            (
                RegistryError::NotFound {
                    reference: r(),
                    message: s(),
                },
                13,
            ),
            (
                RegistryError::Transport {
                    registry: r(),
                    message: s(),
                },
                13,
            ),
            (
                RegistryError::ManifestTooLarge {
                    reference: r(),
                    size: 2,
                    limit: 1,
                },
                13,
            ),
            (
                RegistryError::MalformedManifest {
                    reference: r(),
                    reason: s(),
                },
                13,
            ),
            (
                RegistryError::NotAMorphArtifact {
                    reference: r(),
                    found: s(),
                    expected: "x",
                },
                13,
            ),
            (
                RegistryError::BlobTooLarge {
                    reference: r(),
                    part: s(),
                    declared: 2,
                    limit: 1,
                },
                13,
            ),
            (
                RegistryError::BlobSizeMismatch {
                    reference: r(),
                    part: s(),
                    declared: 2,
                    actual: 1,
                },
                13,
            ),
            (
                RegistryError::BlobDigestMismatch {
                    reference: r(),
                    part: s(),
                    expected: d,
                    actual: d,
                },
                13,
            ),
            (RegistryError::Package(PackageError::NotAPackage), 14),
            (
                RegistryError::Io {
                    action: "reading",
                    path: s(),
                    source: io(),
                },
                3,
            ),
            (
                RegistryError::LayoutFormat {
                    path: s(),
                    reason: s(),
                },
                13,
            ),
        ];
        for (e, code) in registry {
            assert_eq!(Exit::for_registry(&e).code(), code, "{e:?}");
            assert_eq!(Failure::from(e).exit().code(), code);
        }
    }

    #[test]
    fn trust_errors_say_which_command_fixes_them() {
        let unknown = VerifyError::UnknownKey {
            package: "hello@1.0.0".into(),
            key_id: morph_signing::KeyId::of_spki_der(b"k"),
        };
        let (code, text) = message(unknown.into());
        assert_eq!(code, 12);
        assert!(
            text.ends_with(
                "; trust the publisher's key with `morph trust add <pub> --publisher <name>`"
            ),
            "{text}"
        );
        let (code, text) = message(
            RegistryError::Unauthorized {
                registry: "127.0.0.1:5000".into(),
                message: "401".into(),
            }
            .into(),
        );
        assert_eq!(code, 13);
        assert!(
            text.ends_with("; pass them with `--user NAME --password-stdin`"),
            "{text}"
        );
        let (_, text) = message(Failure::new(Exit::File, "a").about("`x`").hint("b"));
        assert_eq!(text, "`x`: a; b");
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
        let request = Request::http(Method::Post, "https://evil.example/x").unwrap();
        let e = Error::new(ErrorKind::PermissionDenied {
            denial: denial(&request),
            extension: "github".into(),
        });
        let (code, text) = message(e.into());
        assert_eq!(code, 9);
        assert!(text.contains("POST https://evil.example/x"), "{text}");
        assert!(
            text.ends_with("; run again with `--grant 'http:POST https://evil.example/x'`"),
            "{text}"
        );
    }
}
