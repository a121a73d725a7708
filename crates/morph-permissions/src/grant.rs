//! Grants: one permission with its scope, written as one line of text.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use crate::fs::VirtualPath;
use crate::host::HostPattern;
use crate::http::HttpScope;
use crate::{Error, ErrorKind, PermissionKind, Request};

/// One permission with its scope: what a manifest requests or a person grants.
///
/// Written as `kind` or `kind:scope` (see the crate docs for each kind's grammar).
/// [`FromStr`] parses it strictly; [`Display`](fmt::Display) writes the canonical form,
/// which parses back to an equal grant; serde reads and writes that text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Grant {
    /// `http:[METHOD,... ][SCHEME://]HOST[:PORT][/PATH]`
    Http(HttpScope),
    /// `secret:NAME@HOST[,HOST...]`
    Secret {
        /// The secret's name.
        name: Name,
        /// The hosts it may be sent to (never empty).
        hosts: BTreeSet<HostPattern>,
    },
    /// `kv-read`
    KvRead,
    /// `kv-write[:bytes=SIZE][,keys=COUNT]`
    KvWrite(KvQuota),
    /// `fs-read:DIR[/FOLDER...]`
    FsRead(VirtualPath),
    /// `fs-write:DIR[/FOLDER...]`
    FsWrite(VirtualPath),
    /// `events:NAME`
    Events(Name),
    /// `config`
    Config,
    /// `clock`
    Clock,
    /// `random`
    Random,
    /// `ai`
    Ai,
    /// `notify`
    Notify,
    /// `action:destructive:NAME`
    Action(Name),
}

/// The longest grant, in bytes.
pub const MAX_GRANT_LEN: usize = 2048;

impl Grant {
    /// The grant's kind.
    pub fn kind(&self) -> PermissionKind {
        match self {
            Grant::Http(_) => PermissionKind::Http,
            Grant::Secret { .. } => PermissionKind::Secret,
            Grant::KvRead => PermissionKind::KvRead,
            Grant::KvWrite(_) => PermissionKind::KvWrite,
            Grant::FsRead(_) => PermissionKind::FsRead,
            Grant::FsWrite(_) => PermissionKind::FsWrite,
            Grant::Events(_) => PermissionKind::Events,
            Grant::Config => PermissionKind::Config,
            Grant::Clock => PermissionKind::Clock,
            Grant::Random => PermissionKind::Random,
            Grant::Ai => PermissionKind::Ai,
            Grant::Notify => PermissionKind::Notify,
            Grant::Action(_) => PermissionKind::Action,
        }
    }

    /// Whether this grant alone allows `request` (see the crate docs for how each kind
    /// matches).
    pub fn allows(&self, request: &Request) -> bool {
        match (self, request) {
            (Grant::Http(scope), Request::Http { method, target }) => scope.allows(*method, target),
            (Grant::Secret { name, hosts }, Request::Secret { name: n, host }) => {
                name == n && hosts.iter().any(|p| p.matches(host))
            }
            (Grant::KvWrite(q), Request::KvWrite { bytes, keys }) => {
                *bytes <= q.bytes && *keys <= q.keys
            }
            (Grant::FsRead(p), Request::FsRead(path))
            | (Grant::FsWrite(p), Request::FsWrite(path)) => path.starts_with(p),
            (Grant::Events(n), Request::Event(name))
            | (Grant::Action(n), Request::Action { name, .. }) => n == name,
            (Grant::KvRead, Request::KvRead)
            | (Grant::Config, Request::Config)
            | (Grant::Clock, Request::Clock)
            | (Grant::Random, Request::Random)
            | (Grant::Ai, Request::Ai)
            | (Grant::Notify, Request::Notify) => true,
            _ => false,
        }
    }

    /// Whether every request `other` allows, this grant allows too.
    pub fn covers(&self, other: &Grant) -> bool {
        match (self, other) {
            (Grant::Http(a), Grant::Http(b)) => a.covers(b),
            (Grant::Secret { name, hosts }, Grant::Secret { name: n, hosts: h }) => {
                name == n && h.iter().all(|b| hosts.iter().any(|a| a.covers(b)))
            }
            (Grant::KvWrite(a), Grant::KvWrite(b)) => a.bytes >= b.bytes && a.keys >= b.keys,
            (Grant::FsRead(a), Grant::FsRead(b)) | (Grant::FsWrite(a), Grant::FsWrite(b)) => {
                b.starts_with(a)
            }
            _ => self == other,
        }
    }

    /// The grant allowing exactly the requests both allow, if there are any.
    pub(crate) fn intersect(&self, other: &Grant) -> Option<Grant> {
        match (self, other) {
            (Grant::Http(a), Grant::Http(b)) => a.intersect(b).map(Grant::Http),
            (Grant::Secret { name, hosts }, Grant::Secret { name: n, hosts: h }) if name == n => {
                let hosts: BTreeSet<_> = hosts
                    .iter()
                    .flat_map(|a| h.iter().filter_map(|b| a.intersect(b)))
                    .collect();
                (!hosts.is_empty()).then(|| Grant::Secret {
                    name: name.clone(),
                    hosts,
                })
            }
            (Grant::KvWrite(a), Grant::KvWrite(b)) => Some(Grant::KvWrite(KvQuota {
                bytes: a.bytes.min(b.bytes),
                keys: a.keys.min(b.keys),
            })),
            _ if self.covers(other) => Some(other.clone()),
            _ if other.covers(self) => Some(self.clone()),
            _ => None,
        }
    }
}

impl FromStr for Grant {
    type Err = Error;

    /// Parses one grant (see the crate docs for the grammar).
    ///
    /// # Errors
    /// [`ErrorKind::TooLong`] past [`MAX_GRANT_LEN`] bytes; [`ErrorKind::BadCharacter`]
    /// for a control character or surrounding whitespace; [`ErrorKind::UnknownKind`];
    /// [`ErrorKind::MissingScope`] or [`ErrorKind::UnexpectedScope`]; otherwise the
    /// error of the scope's part that is malformed.
    fn from_str(text: &str) -> Result<Grant, Error> {
        parse(text).map_err(|kind| Error::new(text, kind))
    }
}

fn parse(text: &str) -> Result<Grant, ErrorKind> {
    if text.len() > MAX_GRANT_LEN {
        return Err(ErrorKind::TooLong {
            len: text.len(),
            max: MAX_GRANT_LEN,
        });
    }
    if text.chars().any(char::is_control) || text.trim() != text {
        return Err(ErrorKind::BadCharacter);
    }
    let (name, scope) = match text.split_once(':') {
        Some((name, scope)) => (name, Some(scope)),
        None => (text, None),
    };
    let kind = PermissionKind::from_name(name).ok_or_else(|| ErrorKind::UnknownKind {
        kind: name.to_owned(),
    })?;
    let unit = |grant| match scope {
        None => Ok(grant),
        Some(_) => Err(ErrorKind::UnexpectedScope { kind: kind.name() }),
    };
    let Some(scope) = scope else {
        return match kind {
            PermissionKind::KvWrite => Ok(Grant::KvWrite(KvQuota::DEFAULT)),
            PermissionKind::KvRead => Ok(Grant::KvRead),
            PermissionKind::Config => Ok(Grant::Config),
            PermissionKind::Clock => Ok(Grant::Clock),
            PermissionKind::Random => Ok(Grant::Random),
            PermissionKind::Ai => Ok(Grant::Ai),
            PermissionKind::Notify => Ok(Grant::Notify),
            PermissionKind::Http
            | PermissionKind::Secret
            | PermissionKind::FsRead
            | PermissionKind::FsWrite
            | PermissionKind::Events
            | PermissionKind::Action => Err(ErrorKind::MissingScope {
                kind: kind.name(),
                example: kind.doc().examples.first().copied().unwrap_or_default(),
            }),
        };
    };
    match kind {
        PermissionKind::Http => HttpScope::parse(scope).map(Grant::Http),
        PermissionKind::Secret => parse_secret(scope),
        PermissionKind::KvWrite => KvQuota::parse(scope).map(Grant::KvWrite),
        PermissionKind::FsRead => VirtualPath::parse_grant(scope).map(Grant::FsRead),
        PermissionKind::FsWrite => VirtualPath::parse_grant(scope).map(Grant::FsWrite),
        PermissionKind::Events => Name::check(scope).map(Grant::Events),
        PermissionKind::Action => match scope.split_once(':') {
            Some(("destructive", name)) => Name::check(name).map(Grant::Action),
            Some((class, _)) => Err(ErrorKind::SideEffect {
                class: class.to_owned(),
            }),
            None => Err(ErrorKind::SideEffect {
                class: scope.to_owned(),
            }),
        },
        PermissionKind::KvRead => unit(Grant::KvRead),
        PermissionKind::Config => unit(Grant::Config),
        PermissionKind::Clock => unit(Grant::Clock),
        PermissionKind::Random => unit(Grant::Random),
        PermissionKind::Ai => unit(Grant::Ai),
        PermissionKind::Notify => unit(Grant::Notify),
    }
}

fn parse_secret(scope: &str) -> Result<Grant, ErrorKind> {
    let (name, list) = scope.split_once('@').ok_or(ErrorKind::SecretHosts)?;
    let name = Name::check(name)?;
    let mut hosts = BTreeSet::new();
    for host in list.split(',') {
        if !hosts.insert(HostPattern::parse(host)?) {
            return Err(ErrorKind::Host {
                host: host.to_owned(),
                reason: "is listed twice",
            });
        }
    }
    Ok(Grant::Secret { name, hosts })
}

/// `kind` or `kind:scope`, in canonical form.
impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind().name())?;
        match self {
            Grant::Http(scope) => write!(f, ":{scope}"),
            Grant::Secret { name, hosts } => {
                write!(f, ":{name}@")?;
                for (i, host) in hosts.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "," };
                    write!(f, "{sep}{host}")?;
                }
                Ok(())
            }
            Grant::KvWrite(quota) => write!(f, ":{quota}"),
            Grant::FsRead(path) | Grant::FsWrite(path) => write!(f, ":{path}"),
            Grant::Events(name) => write!(f, ":{name}"),
            Grant::Action(name) => write!(f, ":destructive:{name}"),
            Grant::KvRead
            | Grant::Config
            | Grant::Clock
            | Grant::Random
            | Grant::Ai
            | Grant::Notify => Ok(()),
        }
    }
}

impl serde::Serialize for Grant {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Grant {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The name of a secret, an event or an action: 1 to 64 ASCII letters, digits, `_`, `-`
/// and `.`, starting with a letter or a digit. Case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(String);

/// The longest [`Name`], in bytes.
pub const MAX_NAME_LEN: usize = 64;

impl Name {
    /// Checks a name (see the type's docs).
    ///
    /// # Errors
    /// [`ErrorKind::Name`] saying what is wrong.
    pub fn parse(text: &str) -> Result<Name, Error> {
        Name::check(text).map_err(|kind| Error::new(text, kind))
    }

    fn check(text: &str) -> Result<Name, ErrorKind> {
        let reason = if text.is_empty() {
            "is empty"
        } else if text.len() > MAX_NAME_LEN {
            "is longer than 64 bytes"
        } else if !text.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            "must start with a letter or a digit"
        } else if !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            "may hold only ASCII letters, digits, `_`, `-` and `.`"
        } else {
            return Ok(Name(text.to_owned()));
        };
        Err(ErrorKind::Name {
            name: text.to_owned(),
            reason,
        })
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A name compares, orders and hashes as its text, so maps keyed by names can be
/// looked up with a `&str`.
impl std::borrow::Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The quota of a `kv-write` grant: the store may hold at most `bytes` bytes (keys and
/// values together) in at most `keys` keys. Both are at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KvQuota {
    bytes: u64,
    keys: u64,
}

const KIB: u64 = 1024;
const UNITS: [(&str, u64); 4] = [
    ("TiB", KIB * KIB * KIB * KIB),
    ("GiB", KIB * KIB * KIB),
    ("MiB", KIB * KIB),
    ("KiB", KIB),
];

impl KvQuota {
    /// The quota of a `kv-write` grant that names none: 1 MiB in 1024 keys.
    pub const DEFAULT: KvQuota = KvQuota {
        bytes: KIB * KIB,
        keys: 1024,
    };

    /// A quota of `bytes` bytes in `keys` keys; `None` if either is 0 (such a quota
    /// would allow nothing).
    pub fn new(bytes: u64, keys: u64) -> Option<KvQuota> {
        (bytes > 0 && keys > 0).then_some(KvQuota { bytes, keys })
    }

    /// The most bytes the store may hold.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The most keys the store may hold.
    pub fn keys(&self) -> u64 {
        self.keys
    }

    /// Parses `bytes=SIZE[,keys=COUNT]`, `keys=COUNT[,bytes=SIZE]`.
    fn parse(scope: &str) -> Result<KvQuota, ErrorKind> {
        let err = |part: &str, reason| ErrorKind::Quota {
            quota: part.to_owned(),
            reason,
        };
        let (mut bytes, mut keys) = (None, None);
        for part in scope.split(',') {
            let (slot, value) = match part.split_once('=') {
                Some(("bytes", v)) => (&mut bytes, parse_size(v).ok_or_else(|| err(part, SIZE))?),
                Some(("keys", v)) => (&mut keys, parse_count(v).ok_or_else(|| err(part, COUNT))?),
                _ => return Err(err(part, "is not `bytes=SIZE` or `keys=COUNT`")),
            };
            if slot.replace(value).is_some() {
                return Err(err(part, "is given twice"));
            }
        }
        Ok(KvQuota {
            bytes: bytes.unwrap_or(KvQuota::DEFAULT.bytes),
            keys: keys.unwrap_or(KvQuota::DEFAULT.keys),
        })
    }
}

const SIZE: &str =
    "needs a size from 1 byte, in digits, optionally followed by KiB, MiB, GiB or TiB";
const COUNT: &str = "needs a count from 1, in digits";

fn parse_count(text: &str) -> Option<u64> {
    text.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| text.parse::<u64>().ok())
        .flatten()
        .filter(|&n| n > 0)
}

fn parse_size(text: &str) -> Option<u64> {
    let (digits, unit) = UNITS
        .iter()
        .find_map(|&(suffix, unit)| text.strip_suffix(suffix).map(|d| (d, unit)))
        .unwrap_or((text, 1));
    parse_count(digits)?.checked_mul(unit)
}

/// `bytes=SIZE,keys=COUNT`, the size in the largest unit that divides it.
impl fmt::Display for KvQuota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, suffix) = UNITS
            .iter()
            .find(|&&(_, unit)| self.bytes.is_multiple_of(unit))
            .map_or((self.bytes, ""), |&(suffix, unit)| {
                (self.bytes / unit, suffix)
            });
        write!(f, "bytes={n}{suffix},keys={}", self.keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(s: &str) -> Grant {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn every_documented_example_round_trips() {
        for doc in crate::kinds() {
            for example in doc.examples {
                let g = grant(example);
                assert_eq!(g.kind(), doc.kind, "{example}");
                let text = g.to_string();
                assert_eq!(grant(&text), g, "{example} -> {text}");
                assert_eq!(grant(&text).to_string(), text);
            }
        }
    }

    #[test]
    fn grants_print_in_canonical_form() {
        let cases = [
            (
                "http:API.github.com/repos/",
                "http:https://api.github.com/repos",
            ),
            (
                "secret:T@b.com,*.a.com,b.com.x",
                "secret:T@b.com,b.com.x,*.a.com",
            ),
            ("kv-write", "kv-write:bytes=1MiB,keys=1024"),
            ("kv-write:keys=5,bytes=3072", "kv-write:bytes=3KiB,keys=5"),
            ("kv-write:bytes=1000", "kv-write:bytes=1000,keys=1024"),
            ("kv-write:bytes=2048GiB", "kv-write:bytes=2TiB,keys=1024"),
            ("fs-write:ws/out", "fs-write:ws/out"),
            ("events:greeted", "events:greeted"),
            (
                "action:destructive:delete-repo",
                "action:destructive:delete-repo",
            ),
            ("kv-read", "kv-read"),
            ("config", "config"),
            ("clock", "clock"),
            ("random", "random"),
            ("ai", "ai"),
            ("notify", "notify"),
        ];
        for (text, want) in cases {
            assert_eq!(grant(text).to_string(), want, "{text}");
            assert_eq!(grant(want), grant(text));
        }
    }

    #[test]
    fn malformed_grants_name_the_offending_part() {
        let cases = [
            ("", "`` is not a permission kind"),
            (
                "htp:a.com",
                "`htp` is not a permission kind (kinds: http, secret,",
            ),
            ("HTTP:a.com", "`HTTP` is not a permission kind"),
            (" clock", "whitespace"),
            ("clock\n", "control character"),
            ("http", "`http` needs a scope, e.g. `http:api.github.com`"),
            ("fs-read", "`fs-read` needs a scope"),
            ("events", "`events` needs a scope"),
            ("action", "`action` needs a scope"),
            ("secret", "`secret` needs a scope"),
            ("clock:x", "`clock` takes no scope"),
            ("kv-read:", "`kv-read` takes no scope"),
            ("notify:all", "`notify` takes no scope"),
            ("secret:TOKEN", "bound to the hosts"),
            ("secret:TOKEN@", "the host `` is empty"),
            (
                "secret:TOKEN@a.com,a.com",
                "the host `a.com` is listed twice",
            ),
            (
                "secret:TOKEN@a.com:443",
                "the host `a.com:443` may hold only",
            ),
            ("secret:@a.com", "the name `` is empty"),
            ("secret:-x@a.com", "must start with a letter"),
            ("events:a b", "the name `a b` may hold only"),
            ("events:greeted/x", "may hold only"),
            (&format!("events:{}", "a".repeat(65)), "longer than 64"),
            (
                "kv-write:bytes=0",
                "the quota `bytes=0` needs a size from 1 byte",
            ),
            ("kv-write:bytes=1MB", "the quota `bytes=1MB` needs a size"),
            ("kv-write:bytes=-1", "needs a size"),
            ("kv-write:bytes=99999999999TiB", "needs a size"),
            ("kv-write:keys=0", "the quota `keys=0` needs a count"),
            (
                "kv-write:keys=1,keys=2",
                "the quota `keys=2` is given twice",
            ),
            ("kv-write:size=1", "the quota `size=1` is not `bytes=SIZE`"),
            ("kv-write:", "the quota `` is not"),
            ("fs-read:/etc", "is absolute"),
            ("fs-read:a/../b", "`..`"),
            ("fs-read:a b", "only letters"),
            ("fs-write:C:", "Windows"),
            ("action:delete-repo", "`delete-repo` is not `destructive`"),
            ("action:write:x", "`write` is not `destructive`"),
            ("action:destructive:", "the name `` is empty"),
            ("http:ftp://a.com", "the scheme `ftp`"),
        ];
        for (text, want) in cases {
            let err = text.parse::<Grant>().unwrap_err();
            assert_eq!(err.input(), text);
            let msg = err.to_string();
            assert!(msg.contains(want), "{text:?}: {msg}");
        }
        let long = format!("http:a.com/{}", "a".repeat(MAX_GRANT_LEN));
        assert!(matches!(
            long.parse::<Grant>().unwrap_err().kind(),
            ErrorKind::TooLong { .. }
        ));
    }

    #[test]
    fn grants_are_strings_in_serde() {
        let g = grant("http:GET a.com");
        let json = serde_json::to_string(&g).unwrap();
        assert_eq!(json, "\"http:GET https://a.com\"");
        assert_eq!(serde_json::from_str::<Grant>(&json).unwrap(), g);
        let err = serde_json::from_str::<Grant>("\"htp\"").unwrap_err();
        assert!(
            err.to_string().contains("`htp` is not a permission kind"),
            "{err}"
        );
    }

    #[test]
    fn covering_per_kind() {
        let covers = |a: &str, b: &str| grant(a).covers(&grant(b));
        assert!(covers("secret:T@*.a.com,b.com", "secret:T@x.a.com,b.com"));
        assert!(!covers("secret:T@*.a.com", "secret:T@a.com"));
        assert!(!covers("secret:T@a.com", "secret:U@a.com"));
        assert!(covers(
            "kv-write:bytes=2MiB,keys=10",
            "kv-write:bytes=1MiB,keys=10"
        ));
        assert!(!covers(
            "kv-write:bytes=2MiB,keys=10",
            "kv-write:bytes=1MiB,keys=11"
        ));
        assert!(covers("fs-read:ws", "fs-read:ws/out"));
        assert!(!covers("fs-read:ws/out", "fs-read:ws"));
        assert!(!covers("fs-write:ws", "fs-read:ws"));
        assert!(covers("clock", "clock"));
        assert!(!covers("clock", "random"));
        assert!(!covers("events:a", "events:b"));
    }

    #[test]
    fn intersection_per_kind() {
        let meet = |a: &str, b: &str| grant(a).intersect(&grant(b)).map(|g| g.to_string());
        assert_eq!(
            meet("secret:T@*.a.com,b.com", "secret:T@x.a.com,c.com").as_deref(),
            Some("secret:T@x.a.com")
        );
        assert_eq!(meet("secret:T@a.com", "secret:T@b.com"), None);
        assert_eq!(
            meet("kv-write:bytes=2MiB,keys=10", "kv-write:bytes=1MiB,keys=20").as_deref(),
            Some("kv-write:bytes=1MiB,keys=10")
        );
        assert_eq!(
            meet("fs-read:ws", "fs-read:ws/a").as_deref(),
            Some("fs-read:ws/a")
        );
        assert_eq!(meet("fs-read:ws/b", "fs-read:ws/a"), None);
        assert_eq!(meet("fs-read:ws", "fs-write:ws"), None);
        assert_eq!(meet("ai", "ai").as_deref(), Some("ai"));
        assert_eq!(meet("ai", "notify"), None);
    }
}
