//! The permission kinds and their documentation, as `morph permissions --list-kinds`
//! prints it.

use std::fmt;

/// What a permission is about. Every [`Grant`](crate::Grant) and every
/// [`Request`](crate::Request) has exactly one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum PermissionKind {
    /// `http`: send HTTP requests.
    Http,
    /// `secret`: have the host attach a named secret to requests to some hosts.
    Secret,
    /// `kv-read`: read the extension's key-value store.
    KvRead,
    /// `kv-write`: write the extension's key-value store, within a quota.
    KvWrite,
    /// `fs-read`: read files under a virtual directory.
    FsRead,
    /// `fs-write`: create and change files under a virtual directory.
    FsWrite,
    /// `events`: emit a declared event.
    Events,
    /// `config`: read the extension's configuration.
    Config,
    /// `clock`: read the wall clock.
    Clock,
    /// `random`: read random bytes.
    Random,
    /// `ai`: ask the person's assistant model.
    Ai,
    /// `notify`: show the person a notification.
    Notify,
    /// `action`: run one destructive action.
    Action,
}

impl PermissionKind {
    /// Every kind, in the order [`kinds`] documents them.
    pub const ALL: [PermissionKind; 13] = [
        PermissionKind::Http,
        PermissionKind::Secret,
        PermissionKind::KvRead,
        PermissionKind::KvWrite,
        PermissionKind::FsRead,
        PermissionKind::FsWrite,
        PermissionKind::Events,
        PermissionKind::Config,
        PermissionKind::Clock,
        PermissionKind::Random,
        PermissionKind::Ai,
        PermissionKind::Notify,
        PermissionKind::Action,
    ];

    /// The kind's name, the part of a grant before the first `:` (e.g. `kv-write`).
    pub fn name(self) -> &'static str {
        self.doc().name
    }

    /// The kind's documentation.
    pub fn doc(self) -> &'static KindDoc {
        let i = match self {
            PermissionKind::Http => 0,
            PermissionKind::Secret => 1,
            PermissionKind::KvRead => 2,
            PermissionKind::KvWrite => 3,
            PermissionKind::FsRead => 4,
            PermissionKind::FsWrite => 5,
            PermissionKind::Events => 6,
            PermissionKind::Config => 7,
            PermissionKind::Clock => 8,
            PermissionKind::Random => 9,
            PermissionKind::Ai => 10,
            PermissionKind::Notify => 11,
            PermissionKind::Action => 12,
        };
        &KINDS[i]
    }

    /// The kind named `name`, if any (names are case-sensitive).
    pub fn from_name(name: &str) -> Option<PermissionKind> {
        KINDS.iter().find(|d| d.name == name).map(|d| d.kind)
    }

    /// Every kind's name, separated by commas (for messages).
    pub(crate) fn names() -> String {
        KINDS.iter().map(|d| d.name).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for PermissionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The documentation of one permission kind: what it allows, its written syntax, and
/// examples that parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindDoc {
    /// The kind.
    pub kind: PermissionKind,
    /// Its name (`http`, `kv-write`, ...).
    pub name: &'static str,
    /// One paragraph: what a grant of this kind allows, and how its scope matches.
    pub summary: &'static str,
    /// The grammar of a grant of this kind, e.g. `secret:NAME@HOST[,HOST...]`.
    pub syntax: &'static str,
    /// Grants of this kind, each as a person would write it.
    pub examples: &'static [&'static str],
}

/// Prints the kind as a block: name, syntax, summary, examples.
impl fmt::Display for KindDoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}\n  syntax:  {}", self.name, self.syntax)?;
        writeln!(f, "  {}", self.summary)?;
        for e in self.examples {
            writeln!(f, "  example: {e}")?;
        }
        Ok(())
    }
}

/// Every permission kind's documentation, in a fixed order: what
/// `morph permissions --list-kinds` prints.
pub fn kinds() -> &'static [KindDoc] {
    &KINDS
}

static KINDS: [KindDoc; 13] = [
    KindDoc {
        kind: PermissionKind::Http,
        name: "http",
        summary: "Send HTTP requests whose URL matches: same scheme, a matching host (`*.example.com` \
            matches every name under example.com, at any depth, but not example.com itself), the same \
            port (the scheme's default when none is written), and a path under the path prefix, \
            compared segment by segment after percent-decoding (`/repos` matches `/repos/x`, not \
            `/reposx`; a `*` segment matches any one segment). Without a method list every method is \
            allowed. The query is not matched. URLs with a user name are refused.",
        syntax: "http:[METHOD,... ][SCHEME://]HOST[:PORT][/PATH]   (SCHEME: https (default) or http; METHOD: GET HEAD POST PUT PATCH DELETE OPTIONS)",
        examples: &[
            "http:api.github.com",
            "http:GET,POST https://api.github.com/repos/*/issues",
            "http:https://*.githubusercontent.com",
            "http:GET http://localhost:8080/status",
        ],
    },
    KindDoc {
        kind: PermissionKind::Secret,
        name: "secret",
        summary: "Have the host attach the named secret to requests sent to the listed hosts (host \
            patterns as for `http`; any port). The secret's value never enters the extension; the \
            requests themselves still need an `http` grant.",
        syntax: "secret:NAME@HOST[,HOST...]   (NAME: letters, digits, `_`, `-`, `.`)",
        examples: &[
            "secret:GITHUB_TOKEN@api.github.com",
            "secret:sentry-dsn@*.sentry.io,sentry.io",
        ],
    },
    KindDoc {
        kind: PermissionKind::KvRead,
        name: "kv-read",
        summary: "Read the extension's own key-value store.",
        syntax: "kv-read",
        examples: &["kv-read"],
    },
    KindDoc {
        kind: PermissionKind::KvWrite,
        name: "kv-write",
        summary: "Create, change and delete entries of the extension's own key-value store, as long as \
            the store then holds at most `bytes` bytes (keys and values) in at most `keys` keys. \
            Sizes take `KiB`, `MiB` or `GiB`. Left out, the quota is 1 MiB in 1024 keys.",
        syntax: "kv-write[:bytes=SIZE][,keys=COUNT]",
        examples: &["kv-write", "kv-write:bytes=10MiB,keys=5000"],
    },
    KindDoc {
        kind: PermissionKind::FsRead,
        name: "fs-read",
        summary: "Read files and list folders under a virtual directory, or under a folder of it. The \
            first segment names a directory the host maps to a real folder; paths match segment by \
            segment. `..`, absolute paths and symbolic links can never lead out of it.",
        syntax: "fs-read:DIR[/FOLDER...]   (segments: letters, digits, `_`, `-`, `.`)",
        examples: &["fs-read:downloads", "fs-read:workspace/reports"],
    },
    KindDoc {
        kind: PermissionKind::FsWrite,
        name: "fs-write",
        summary: "Create, change and delete files and folders under a virtual directory, or under a \
            folder of it, matched as for `fs-read` (which it does not include).",
        syntax: "fs-write:DIR[/FOLDER...]",
        examples: &["fs-write:workspace", "fs-write:workspace/out"],
    },
    KindDoc {
        kind: PermissionKind::Events,
        name: "events",
        summary: "Emit the named event, which the extension declares.",
        syntax: "events:NAME",
        examples: &["events:greeted"],
    },
    KindDoc {
        kind: PermissionKind::Config,
        name: "config",
        summary: "Read the extension's configuration, as the person set it.",
        syntax: "config",
        examples: &["config"],
    },
    KindDoc {
        kind: PermissionKind::Clock,
        name: "clock",
        summary: "Read the wall clock.",
        syntax: "clock",
        examples: &["clock"],
    },
    KindDoc {
        kind: PermissionKind::Random,
        name: "random",
        summary: "Read random bytes from the host.",
        syntax: "random",
        examples: &["random"],
    },
    KindDoc {
        kind: PermissionKind::Ai,
        name: "ai",
        summary: "Ask the person's assistant model, which sees what the extension sends it.",
        syntax: "ai",
        examples: &["ai"],
    },
    KindDoc {
        kind: PermissionKind::Notify,
        name: "notify",
        summary: "Show the person a notification.",
        syntax: "notify",
        examples: &["notify"],
    },
    KindDoc {
        kind: PermissionKind::Action,
        name: "action",
        summary: "Run the named action, which the extension declares `destructive` (it deletes or \
            irreversibly changes outside state). Each destructive action needs its own grant; actions \
            of the other classes (none, read, write) need none, as the other grants bound what they do.",
        syntax: "action:destructive:NAME",
        examples: &["action:destructive:delete-repo"],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_documented_once_in_order() {
        assert_eq!(kinds().len(), PermissionKind::ALL.len());
        for (doc, kind) in kinds().iter().zip(PermissionKind::ALL) {
            assert_eq!(doc.kind, kind);
            assert_eq!(kind.doc(), doc);
            assert_eq!(PermissionKind::from_name(doc.name), Some(kind));
            assert!(doc.syntax.starts_with(doc.name), "{}", doc.syntax);
            assert!(!doc.examples.is_empty());
        }
        assert_eq!(PermissionKind::from_name("HTTP"), None);
    }

    #[test]
    fn a_kind_block_shows_syntax_and_examples() {
        let text = PermissionKind::Events.doc().to_string();
        assert_eq!(
            text,
            "events\n  syntax:  events:NAME\n  Emit the named event, which the extension declares.\n  example: events:greeted\n"
        );
    }
}
