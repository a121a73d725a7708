//! Requests: what a host call asks for at run time, and the decision on it.

use std::fmt;

use morph_abi::SideEffect;

use crate::error::Escaped;
use crate::fs::VirtualPath;
use crate::host::Host;
use crate::http::{HttpTarget, Method};
use crate::{Error, Grant, Name, PermissionKind};

/// What one host call asks for, typed and checked: each field is a value this crate
/// parsed ([`HttpTarget`], [`Name`], [`VirtualPath`]), never text matched later.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    /// Send an HTTP request.
    Http {
        /// Its method.
        method: Method,
        /// Its URL, which is what the host must send.
        target: HttpTarget,
    },
    /// Attach a secret to a request to `host`.
    Secret {
        /// The secret's name.
        name: Name,
        /// The host of the request it goes with.
        host: Host,
    },
    /// Read the key-value store.
    KvRead,
    /// Write the key-value store, which then holds `bytes` bytes in `keys` keys (the
    /// totals after the write, keys and values counted).
    KvWrite {
        /// The bytes the store would hold.
        bytes: u64,
        /// The keys the store would hold.
        keys: u64,
    },
    /// Read a file or list a folder.
    FsRead(VirtualPath),
    /// Create, change or delete a file or folder.
    FsWrite(VirtualPath),
    /// Emit an event.
    Event(Name),
    /// Read the configuration.
    Config,
    /// Read the clock.
    Clock,
    /// Read random bytes.
    Random,
    /// Ask the assistant's model.
    Ai,
    /// Notify the person.
    Notify,
    /// Run an action, which declares this side-effect class. Only `destructive` actions
    /// need a grant (`action:destructive:NAME`); the others are always allowed.
    Action {
        /// The action's name.
        name: Name,
        /// Its declared side-effect class.
        side_effect: SideEffect,
    },
}

impl Request {
    /// An HTTP request.
    ///
    /// # Errors
    /// Those of [`HttpTarget::parse`].
    pub fn http(method: Method, url: &str) -> Result<Request, Error> {
        Ok(Request::Http {
            method,
            target: HttpTarget::parse(url)?,
        })
    }

    /// A file read.
    ///
    /// # Errors
    /// Those of [`VirtualPath::parse`].
    pub fn fs_read(path: &str) -> Result<Request, Error> {
        VirtualPath::parse(path).map(Request::FsRead)
    }

    /// A file write.
    ///
    /// # Errors
    /// Those of [`VirtualPath::parse`].
    pub fn fs_write(path: &str) -> Result<Request, Error> {
        VirtualPath::parse(path).map(Request::FsWrite)
    }

    /// An event.
    ///
    /// # Errors
    /// Those of [`Name::parse`].
    pub fn event(name: &str) -> Result<Request, Error> {
        Name::parse(name).map(Request::Event)
    }

    /// A secret attached to a request to `host`.
    ///
    /// # Errors
    /// Those of [`Name::parse`].
    pub fn secret(name: &str, host: Host) -> Result<Request, Error> {
        Ok(Request::Secret {
            name: Name::parse(name)?,
            host,
        })
    }

    /// Running an action of a side-effect class.
    ///
    /// # Errors
    /// Those of [`Name::parse`].
    pub fn action(name: &str, side_effect: SideEffect) -> Result<Request, Error> {
        Ok(Request::Action {
            name: Name::parse(name)?,
            side_effect,
        })
    }

    /// The kind of permission the request needs.
    pub fn kind(&self) -> PermissionKind {
        match self {
            Request::Http { .. } => PermissionKind::Http,
            Request::Secret { .. } => PermissionKind::Secret,
            Request::KvRead => PermissionKind::KvRead,
            Request::KvWrite { .. } => PermissionKind::KvWrite,
            Request::FsRead(_) => PermissionKind::FsRead,
            Request::FsWrite(_) => PermissionKind::FsWrite,
            Request::Event(_) => PermissionKind::Events,
            Request::Config => PermissionKind::Config,
            Request::Clock => PermissionKind::Clock,
            Request::Random => PermissionKind::Random,
            Request::Ai => PermissionKind::Ai,
            Request::Notify => PermissionKind::Notify,
            Request::Action { .. } => PermissionKind::Action,
        }
    }

    /// Whether the request needs a grant at all: every request does but an action that
    /// is not `destructive`.
    pub fn needs_grant(&self) -> bool {
        match self {
            Request::Action { side_effect, .. } => *side_effect == SideEffect::Destructive,
            _ => true,
        }
    }
}

/// The request's target, for messages: `GET https://...`, `secret GITHUB_TOKEN for
/// api.github.com`, `reading ws/a.txt`... Text that came from the guest is escaped.
impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Request::Http { method, target } => {
                write!(f, "{} {}", method.as_str(), Escaped(target.as_str()))
            }
            Request::Secret { name, host } => write!(f, "secret `{name}` sent to {host}"),
            Request::KvRead => f.write_str("reading the key-value store"),
            Request::KvWrite { bytes, keys } => {
                write!(f, "a key-value store of {bytes} bytes in {keys} keys")
            }
            Request::FsRead(path) => write!(f, "reading `{}`", Escaped(path.as_str())),
            Request::FsWrite(path) => write!(f, "writing `{}`", Escaped(path.as_str())),
            Request::Event(name) => write!(f, "emitting event `{name}`"),
            Request::Config => f.write_str("reading the configuration"),
            Request::Clock => f.write_str("reading the clock"),
            Request::Random => f.write_str("reading random bytes"),
            Request::Ai => f.write_str("asking the assistant's model"),
            Request::Notify => f.write_str("notifying the person"),
            Request::Action { name, side_effect } => {
                write!(f, "running {side_effect} action `{name}`")
            }
        }
    }
}

/// What a [`GrantSet`](crate::GrantSet) decided on a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Decision {
    /// A grant allows it.
    Allow,
    /// No grant allows it (boxed: denials are rare, decisions are many).
    Deny(Box<Denial>),
}

impl Decision {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow)
    }
}

/// A refused request, with what would allow it: the permission, the target, the grants
/// of that kind there are, and the grant to suggest (`morph grant EXT 'GRANT'`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub(crate) request: Request,
    pub(crate) granted: Vec<Grant>,
    pub(crate) suggestion: Option<Grant>,
}

impl Denial {
    /// The permission kind that was missing.
    pub fn permission(&self) -> PermissionKind {
        self.request.kind()
    }

    /// The refused request.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The grants of the same kind, none of which allows the request.
    pub fn granted(&self) -> &[Grant] {
        &self.granted
    }

    /// The closest grant that would allow the request: an existing grant widened just
    /// enough when there is one (a method or a host added, a quota raised), otherwise
    /// the narrowest grant for it (for a file path holding a character grants cannot
    /// write, its longest leading part they can). `None` when the grammar cannot write
    /// one at all (a host name with `_`).
    pub fn suggestion(&self) -> Option<&Grant> {
        self.suggestion.as_ref()
    }
}

/// `` `http` does not allow GET https://evil.example/ (granted: http:https://api.github.com);
/// `http:GET https://evil.example` would allow it ``
impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` does not allow {} (granted: ",
            self.permission(),
            self.request
        )?;
        match self.granted.is_empty() {
            true => f.write_str("none of this kind")?,
            false => {
                let granted: Vec<_> = self.granted.iter().map(Grant::to_string).collect();
                f.write_str(&granted.join(", "))?;
            }
        }
        f.write_str(")")?;
        if let Some(grant) = &self.suggestion {
            write!(f, "; `{grant}` would allow it")?;
        }
        Ok(())
    }
}
