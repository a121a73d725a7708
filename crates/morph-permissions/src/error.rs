//! The crate's one error type.

use std::fmt;

/// Why a grant, a run-time request or a guest path was refused.
///
/// [`Error::input`] is the text that was refused (a whole grant, a URL, a path) and
/// [`Error::kind`] says what is wrong with it, naming the offending part. `Display`
/// prints both, with control characters in the input escaped (the input may come from a
/// guest or a manifest).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{}`: {kind}", Escaped(.input))]
pub struct Error {
    input: String,
    kind: ErrorKind,
}

impl Error {
    pub(crate) fn new(input: &str, kind: ErrorKind) -> Self {
        // Bound what an error carries: the input may be anything a guest sent.
        let input = match input.char_indices().nth(MAX_QUOTED) {
            Some((end, _)) => format!("{}...", &input[..end]),
            None => input.to_owned(),
        };
        Error { input, kind }
    }

    /// What is wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The refused text (cut after 200 characters).
    pub fn input(&self) -> &str {
        &self.input
    }
}

/// The longest input an error quotes, in characters.
const MAX_QUOTED: usize = 200;

/// What is wrong with a grant, a request or a path. Each case names the offending part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The text is longer than the grammar allows.
    #[error("it is {len} bytes long (at most {max})")]
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The text holds a control character or starts or ends with whitespace.
    #[error("it holds a control character or leading or trailing whitespace")]
    BadCharacter,
    /// The part before the first `:` names no permission kind.
    #[error("`{}` is not a permission kind (kinds: {})", Escaped(.kind), crate::PermissionKind::names())]
    UnknownKind {
        /// The unknown kind.
        kind: String,
    },
    /// The kind needs a scope (`kind:scope`) and has none.
    #[error("`{kind}` needs a scope, e.g. `{example}`")]
    MissingScope {
        /// The kind.
        kind: &'static str,
        /// An example grant of that kind.
        example: &'static str,
    },
    /// The kind takes no scope but one was given.
    #[error("`{kind}` takes no scope: write just `{kind}`")]
    UnexpectedScope {
        /// The kind.
        kind: &'static str,
    },
    /// A URL's scheme is not `http` or `https`.
    #[error("the scheme `{}` is not `http` or `https`", Escaped(.scheme))]
    Scheme {
        /// The scheme as written.
        scheme: String,
    },
    /// A host is malformed.
    #[error("the host `{}` {reason}", Escaped(.host))]
    Host {
        /// The host as written.
        host: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A port is not a number from 1 to 65535.
    #[error("the port `{}` is not a number from 1 to 65535", Escaped(.port))]
    Port {
        /// The port as written.
        port: String,
    },
    /// A URL names a user (`user:password@host`).
    #[error("a URL with a user name or password (`...@host`) is refused")]
    Userinfo,
    /// An HTTP method is unknown or listed twice.
    #[error("the method `{}` {reason} (methods: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, in capitals, each once)", Escaped(.method))]
    Method {
        /// The method as written.
        method: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A path (of a URL or of the virtual filesystem) or one of its segments is malformed.
    #[error("the path `{}` {reason}", Escaped(.path))]
    Path {
        /// The path or segment as written.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A name (of a secret, an event or an action) is malformed.
    #[error("the name `{}` {reason}", Escaped(.name))]
    Name {
        /// The name as written.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A `secret` grant binds its secret to no host.
    #[error("a secret must be bound to the hosts it may be sent to: `secret:NAME@HOST[,HOST...]`")]
    SecretHosts,
    /// A `kv-write` quota is malformed.
    #[error("the quota `{}` {reason}", Escaped(.quota))]
    Quota {
        /// The quota part as written.
        quota: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An `action` grant names another side-effect class than `destructive`.
    #[error("`{}` is not `destructive`, the one side-effect class whose actions need a grant of their own: `action:destructive:NAME`", Escaped(.class))]
    SideEffect {
        /// The class as written.
        class: String,
    },
    /// A run-time URL could not be parsed.
    #[error("it is not a URL: {reason}")]
    Url {
        /// The URL parser's reason.
        reason: String,
    },
    /// A path component on the host's filesystem is a symbolic link.
    #[error("`{}` is a symbolic link, which a guest path may not go through", Escaped(.component))]
    Symlink {
        /// The guest path up to and including the link.
        component: String,
    },
    /// The host's filesystem answered with an error.
    #[error("{message}")]
    Io {
        /// The error's kind.
        kind: std::io::ErrorKind,
        /// Its message.
        message: String,
    },
}

/// Displays text that came from outside with control characters and backquotes escaped.
pub(crate) struct Escaped<'a>(pub(crate) &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '`' => f.write_str("\\`")?,
                c if c.is_control() || is_invisible(c) => write!(f, "{}", c.escape_unicode())?,
                c => fmt::Write::write_char(f, c)?,
            }
        }
        Ok(())
    }
}

/// Bidi controls and line separators, which can make a terminal show other text.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_escapes_the_input_and_bounds_it() {
        let e = Error::new("a`b\n\u{202e}c", ErrorKind::BadCharacter);
        assert_eq!(
            e.to_string(),
            "`a\\`b\\u{a}\\u{202e}c`: it holds a control character or leading or trailing whitespace"
        );
        let long = "x".repeat(1000);
        let e = Error::new(&long, ErrorKind::Userinfo);
        assert_eq!(e.input().len(), MAX_QUOTED + 3);
        assert!(e.input().ends_with("..."));
    }
}
