//! `http` grants (scheme, host pattern, port, methods, path prefix) and the URLs requests
//! reach.

use std::fmt;

use crate::host::{Host, HostPattern};
use crate::{Error, ErrorKind};

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scheme {
    /// `https`, port 443 by default.
    Https,
    /// `http`, port 80 by default.
    Http,
}

impl Scheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Http => "http",
        }
    }

    /// The port a URL of this scheme reaches when it names none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Https => 443,
            Scheme::Http => 80,
        }
    }

    fn parse(text: &str) -> Result<Scheme, ErrorKind> {
        match text.to_ascii_lowercase().as_str() {
            "https" => Ok(Scheme::Https),
            "http" => Ok(Scheme::Http),
            _ => Err(ErrorKind::Scheme {
                scheme: text.to_owned(),
            }),
        }
    }
}

pub use morph_abi::Method;

/// Every method a grant can name, in the order grants print them. Others (`CONNECT`,
/// `TRACE`) are not in the contract, so no request can carry them.
pub const METHODS: [Method; 7] = [
    Method::Get,
    Method::Head,
    Method::Post,
    Method::Put,
    Method::Patch,
    Method::Delete,
    Method::Options,
];

/// A set of methods, one bit each in [`METHODS`]' order (so it orders and prints the
/// same way everywhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Methods(u8);

impl Methods {
    const ALL: Methods = Methods(0b111_1111);

    fn bit(method: Method) -> u8 {
        let index = match method {
            Method::Get => 0,
            Method::Head => 1,
            Method::Post => 2,
            Method::Put => 3,
            Method::Patch => 4,
            Method::Delete => 5,
            Method::Options => 6,
        };
        1 << index
    }

    fn one(method: Method) -> Methods {
        Methods(Methods::bit(method))
    }

    fn contains(self, method: Method) -> bool {
        self.0 & Methods::bit(method) != 0
    }

    fn with(self, method: Method) -> Methods {
        Methods(self.0 | Methods::bit(method))
    }

    fn intersection(self, other: Methods) -> Methods {
        Methods(self.0 & other.0)
    }

    fn is_superset(self, other: Methods) -> bool {
        self.0 & other.0 == other.0
    }

    fn is_empty(self) -> bool {
        self.0 == 0
    }

    fn iter(self) -> impl Iterator<Item = Method> {
        METHODS.into_iter().filter(move |&m| self.contains(m))
    }
}

fn parse_method(text: &str) -> Result<Method, ErrorKind> {
    METHODS
        .into_iter()
        .find(|m| m.as_str() == text)
        .ok_or_else(|| ErrorKind::Method {
            method: text.to_owned(),
            reason: "is not one a grant can name",
        })
}

/// The scope of an `http` grant: which requests it allows.
///
/// A request is allowed when its method is listed, its scheme and port are the grant's,
/// its host matches the [`HostPattern`] and its path starts with the grant's path
/// segments (see [`HttpScope::allows`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HttpScope {
    host: HostPattern,
    scheme: Scheme,
    port: u16,
    path: Vec<Segment>,
    methods: Methods,
}

/// One segment of a grant's path: `*` or literal text in canonical form (percent-escapes
/// of characters the grammar allows as they are decoded, the others in capitals).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Segment {
    Any,
    Literal(String),
}

/// The longest URL a request may reach, in bytes.
pub const MAX_URL_LEN: usize = 8 * 1024;

impl HttpScope {
    /// Parses the scope of an `http` grant: `[METHOD,... ][SCHEME://]HOST[:PORT][/PATH]`.
    pub(crate) fn parse(scope: &str) -> Result<HttpScope, ErrorKind> {
        // A method list is letters and commas; a space elsewhere is refused by the URL's
        // part that holds it.
        let (methods, url) = match scope.split_once(' ') {
            Some((methods, url))
                if methods
                    .bytes()
                    .all(|b| b.is_ascii_alphabetic() || b == b',') =>
            {
                (parse_methods(methods)?, url)
            }
            _ => (Methods::ALL, scope),
        };
        let (scheme, rest) = match url.split_once("://") {
            Some((scheme, rest)) => (Scheme::parse(scheme)?, rest),
            None => (Scheme::Https, url),
        };
        if rest.contains(['?', '#']) {
            return Err(ErrorKind::Path {
                path: rest.to_owned(),
                reason: "holds a query or a fragment; a grant matches paths only",
            });
        }
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.contains('@') {
            return Err(ErrorKind::Userinfo);
        }
        let (host, port) = split_port(authority);
        let host = HostPattern::parse(host)?;
        let port = match port {
            None => scheme.default_port(),
            Some(port) => parse_port(port)?,
        };
        Ok(HttpScope {
            host,
            scheme,
            port,
            path: parse_path(path)?,
            methods,
        })
    }

    /// The narrowest scope allowing `method` on `target`: that method, scheme, host and
    /// port, and the target's path (up to its first empty segment). `None` when the
    /// host cannot be written in a grant (see [`HostPattern::exact`]).
    pub fn exact(method: Method, target: &HttpTarget) -> Option<HttpScope> {
        let path = target
            .segments
            .iter()
            .take_while(|s| !s.is_empty())
            .map(|s| Segment::Literal(encode(s)))
            .collect();
        Some(HttpScope {
            host: HostPattern::exact(&target.host)?,
            scheme: target.scheme,
            port: target.port,
            path,
            methods: Methods::one(method),
        })
    }

    /// Whether the scope allows `method` on `target`: the method is listed, scheme and
    /// port are equal, the host matches, and each of the scope's path segments equals
    /// the target's segment at the same place once both are percent-decoded (`*`
    /// matches any non-empty segment). The target may have more segments; its query is
    /// not looked at.
    pub fn allows(&self, method: Method, target: &HttpTarget) -> bool {
        self.methods.contains(method)
            && self.scheme == target.scheme
            && self.port == target.port
            && self.host.matches(&target.host)
            && self.path.len() <= target.segments.len()
            && self
                .path
                .iter()
                .zip(&target.segments)
                .all(|(p, s)| match p {
                    Segment::Any => !s.is_empty(),
                    Segment::Literal(text) => decode(text) == *s,
                })
    }

    /// Whether every request `other` allows, this scope allows too.
    pub fn covers(&self, other: &HttpScope) -> bool {
        self.same_origin(other)
            && self.host.covers(&other.host)
            && self.methods.is_superset(other.methods)
            && self.path.len() <= other.path.len()
            && self.path.iter().zip(&other.path).all(|(a, b)| match a {
                Segment::Any => true,
                Segment::Literal(_) => a == b,
            })
    }

    /// The scope allowing exactly the requests both allow, if there are any.
    pub(crate) fn intersect(&self, other: &HttpScope) -> Option<HttpScope> {
        if !self.same_origin(other) {
            return None;
        }
        let methods = self.methods.intersection(other.methods);
        if methods.is_empty() {
            return None;
        }
        let (long, short) = match self.path.len() >= other.path.len() {
            true => (&self.path, &other.path),
            false => (&other.path, &self.path),
        };
        let mut path = Vec::with_capacity(long.len());
        for (i, a) in long.iter().enumerate() {
            path.push(match (a, short.get(i)) {
                (a, None | Some(Segment::Any)) => a.clone(),
                (Segment::Any, Some(b)) => b.clone(),
                (a, Some(b)) if a == b => a.clone(),
                _ => return None,
            });
        }
        Some(HttpScope {
            host: self.host.intersect(&other.host)?,
            scheme: self.scheme,
            port: self.port,
            path,
            methods,
        })
    }

    /// This scope with `method` allowed too.
    pub(crate) fn with_method(&self, method: Method) -> HttpScope {
        HttpScope {
            methods: self.methods.with(method),
            ..self.clone()
        }
    }

    /// This scope with only those of its methods that `keep` keeps (`None` if none
    /// remain).
    pub(crate) fn retain_methods(&self, keep: impl Fn(Method) -> bool) -> Option<HttpScope> {
        let methods = self
            .methods
            .iter()
            .filter(|&m| keep(m))
            .fold(Methods(0), Methods::with);
        (!methods.is_empty()).then(|| HttpScope {
            methods,
            ..self.clone()
        })
    }

    /// This scope with `method` only.
    pub(crate) fn only(&self, method: Method) -> HttpScope {
        HttpScope {
            methods: Methods::one(method),
            ..self.clone()
        }
    }

    fn same_origin(&self, other: &HttpScope) -> bool {
        self.scheme == other.scheme && self.port == other.port
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host pattern.
    pub fn host(&self) -> &HostPattern {
        &self.host
    }

    /// The port (the scheme's default when the grant names none).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The methods the scope allows, in [`METHODS`]' order.
    pub fn methods(&self) -> impl Iterator<Item = Method> {
        self.methods.iter()
    }
}

/// `[METHOD,... ]SCHEME://HOST[:PORT][/PATH]`; the method list and the port are left out
/// when they are every method and the scheme's default.
impl fmt::Display for HttpScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.methods != Methods::ALL {
            let names: Vec<_> = self.methods.iter().map(Method::as_str).collect();
            write!(f, "{} ", names.join(","))?;
        }
        write!(f, "{}://{}", self.scheme.as_str(), self.host)?;
        if self.port != self.scheme.default_port() {
            write!(f, ":{}", self.port)?;
        }
        for segment in &self.path {
            match segment {
                Segment::Any => f.write_str("/*")?,
                Segment::Literal(text) => write!(f, "/{text}")?,
            }
        }
        Ok(())
    }
}

fn parse_methods(text: &str) -> Result<Methods, ErrorKind> {
    let mut methods = Methods(0);
    for name in text.split(',') {
        let method = parse_method(name)?;
        if methods.contains(method) {
            return Err(ErrorKind::Method {
                method: name.to_owned(),
                reason: "is listed twice",
            });
        }
        methods = methods.with(method);
    }
    Ok(methods)
}

/// Splits `host[:port]`, `[v6][:port]`.
fn split_port(authority: &str) -> (&str, Option<&str>) {
    let after_v6 = match authority.starts_with('[') {
        true => authority.find(']').unwrap_or(0),
        false => 0,
    };
    match authority[after_v6..].rfind(':') {
        Some(i) => (
            &authority[..after_v6 + i],
            Some(&authority[after_v6 + i + 1..]),
        ),
        None => (authority, None),
    }
}

fn parse_port(text: &str) -> Result<u16, ErrorKind> {
    text.parse::<u16>()
        .ok()
        .filter(|&p| p != 0 && text.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| ErrorKind::Port {
            port: text.to_owned(),
        })
}

/// Characters a grant's path segment may hold as they are (RFC 3986 `pchar` without
/// `*`, which is the wildcard, and without `%`, which starts an escape).
fn is_path_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()+,;=:@".contains(&b)
}

fn parse_path(path: &str) -> Result<Vec<Segment>, ErrorKind> {
    let err = |reason| ErrorKind::Path {
        path: path.to_owned(),
        reason,
    };
    let Some(rest) = path.strip_prefix('/') else {
        return match path.is_empty() {
            true => Ok(Vec::new()),
            false => Err(err("must start with `/`")),
        };
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    rest.split('/')
        .map(|segment| match segment {
            "" => Err(err("has an empty segment (`//`)")),
            "*" => Ok(Segment::Any),
            s if s.contains('*') => Err(err("may hold `*` only as a whole segment")),
            s => canonical_segment(s).map(Segment::Literal).map_err(err),
        })
        .collect()
}

/// Checks a literal segment and writes it in canonical form.
fn canonical_segment(segment: &str) -> Result<String, &'static str> {
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let byte = bytes
                .get(i + 1..i + 3)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .ok_or("has a `%` that does not start an escape (`%2F`)")?;
            decoded.push(byte);
            i += 3;
        } else if is_path_char(b) {
            decoded.push(b);
            i += 1;
        } else {
            return Err("may hold only letters, digits, `-._~!$&'()+,;=:@` and %-escapes");
        }
    }
    check_decoded_segment(&decoded)?;
    Ok(encode(&decoded))
}

/// Refuses a decoded segment that servers may read as more than one segment or as a
/// step up: holding `/`, `\` or NUL, or `.` or `..` (also before a `;`, as Tomcat reads
/// `..;`).
fn check_decoded_segment(decoded: &[u8]) -> Result<(), &'static str> {
    if decoded.iter().any(|b| matches!(b, b'/' | b'\\' | 0)) {
        return Err("holds an escaped `/`, `\\` or NUL, which servers read differently");
    }
    let before_params = decoded.split(|&b| b == b';').next().unwrap_or_default();
    if matches!(before_params, b"." | b"..") {
        return Err("has a `.` or `..` segment, which could lead out of a prefix");
    }
    Ok(())
}

/// Writes decoded bytes in canonical form: path characters as they are, others escaped.
fn encode(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    for &b in bytes {
        match is_path_char(b) {
            true => text.push(char::from(b)),
            false => text.push_str(&format!("%{b:02X}")),
        }
    }
    text
}

/// Percent-decodes (a `%` not followed by two hex digits stays as it is).
fn decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let escaped = (b == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// A URL a request reaches, parsed and checked once: what is matched against grants is
/// what [`HttpTarget::as_str`] gives back, and that is what the host must send.
///
/// Parsing follows the WHATWG URL standard (the `url` crate): scheme and host in lower
/// case, international names in punycode, IPv4 in dotted form, default ports dropped,
/// `.` and `..` segments (also `%2e` forms) resolved. On top of it, refused are: schemes
/// other than `http` and `https`, a user name or password (even empty, `https://@host`),
/// and path segments that decode to something servers read differently (holding `/`,
/// `\` or NUL, or `.`/`..` before a `;`). The fragment is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTarget {
    url: url::Url,
    scheme: Scheme,
    host: Host,
    port: u16,
    segments: Vec<Vec<u8>>,
}

impl HttpTarget {
    /// Parses and checks a URL (see the type's docs).
    ///
    /// # Errors
    /// [`ErrorKind::TooLong`] past [`MAX_URL_LEN`] bytes, [`ErrorKind::Url`] when it is
    /// not a URL, [`ErrorKind::Scheme`], [`ErrorKind::Userinfo`], [`ErrorKind::Host`]
    /// for an empty host, [`ErrorKind::Path`] for a segment servers may read
    /// differently.
    pub fn parse(text: &str) -> Result<HttpTarget, Error> {
        Self::parse_kind(text).map_err(|kind| Error::new(text, kind))
    }

    fn parse_kind(text: &str) -> Result<HttpTarget, ErrorKind> {
        if text.len() > MAX_URL_LEN {
            return Err(ErrorKind::TooLong {
                len: text.len(),
                max: MAX_URL_LEN,
            });
        }
        let mut url = url::Url::parse(text).map_err(|e| ErrorKind::Url {
            reason: e.to_string(),
        })?;
        let scheme = Scheme::parse(url.scheme())?;
        if !url.username().is_empty() || url.password().is_some() || raw_userinfo(text) {
            return Err(ErrorKind::Userinfo);
        }
        let host = url.host().ok_or_else(|| ErrorKind::Url {
            reason: "it has no host".to_owned(),
        })?;
        let host = Host::from_url(host).map_err(|reason| ErrorKind::Host {
            host: text.to_owned(),
            reason,
        })?;
        let port = url.port().unwrap_or(scheme.default_port());
        let mut segments = Vec::new();
        for segment in url.path_segments().into_iter().flatten() {
            let decoded = decode(segment);
            check_decoded_segment(&decoded).map_err(|reason| ErrorKind::Path {
                path: segment.to_owned(),
                reason,
            })?;
            segments.push(decoded);
        }
        if segments.len() == 1 && segments.first().is_some_and(Vec::is_empty) {
            segments.clear();
        }
        url.set_fragment(None);
        Ok(HttpTarget {
            url,
            scheme,
            host,
            port,
            segments,
        })
    }

    /// The URL to send, normalised (see the type's docs).
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The port, the scheme's default if the URL names none.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl fmt::Display for HttpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the authority of a URL as written holds an `@`, which the URL parser may
/// have dropped (`https://@host`) but another parser may read as a user.
fn raw_userinfo(text: &str) -> bool {
    let after_scheme = text.split_once(':').map_or(text, |(_, rest)| rest);
    let authority = after_scheme.trim_start_matches(['/', '\\']);
    let end = authority
        .find(['/', '\\', '?', '#'])
        .unwrap_or(authority.len());
    authority[..end].contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(s: &str) -> HttpScope {
        HttpScope::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn target(s: &str) -> HttpTarget {
        HttpTarget::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn scopes_print_in_canonical_form() {
        let cases = [
            ("api.github.com", "https://api.github.com"),
            ("HTTPS://API.github.com:443/", "https://api.github.com"),
            ("http://localhost:80/a/", "http://localhost/a"),
            (
                "POST,GET http://[::1]:8080/x/*/y",
                "GET,POST http://[::1]:8080/x/*/y",
            ),
            ("https://a.com/%7e%41%2a%20b", "https://a.com/~A%2A%20b"),
            (
                "GET,HEAD,POST,PUT,PATCH,DELETE,OPTIONS https://a.com",
                "https://a.com",
            ),
        ];
        for (text, want) in cases {
            let s = scope(text);
            assert_eq!(s.to_string(), want, "{text}");
            assert_eq!(scope(want), s, "{want} round trip");
        }
    }

    #[test]
    fn malformed_scopes_name_the_part() {
        let cases = [
            ("ftp://a.com", "the scheme `ftp`"),
            ("get https://a.com", "the method `get`"),
            ("GET,GET https://a.com", "listed twice"),
            ("GET, POST https://a.com", "the method ``"),
            ("CONNECT https://a.com", "the method `CONNECT`"),
            ("https://a.com:0", "the port `0`"),
            ("https://a.com:65536", "the port `65536`"),
            ("https://a.com:", "the port ``"),
            ("https://a.com:+1", "the port `+1`"),
            ("https://user@a.com", "user name"),
            ("https://a.com/x?y=1", "query"),
            ("https://a.com/x#f", "query or a fragment"),
            ("https://a.com//x", "empty segment"),
            ("https://a.com/x*", "only as a whole segment"),
            ("https://a.com/../x", "`..`"),
            ("https://a.com/%2e%2E", "`..`"),
            ("https://a.com/..;x", "`..`"),
            ("https://a.com/a%2fb", "escaped `/`"),
            ("https://a.com/a%5Cb", "escaped `/`, `\\`"),
            ("https://a.com/a%zz", "does not start an escape"),
            ("https://a.com/a b", "may hold only"),
            ("https://*", "every host"),
            ("", "is empty"),
        ];
        for (text, want) in cases {
            let err = HttpScope::parse(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn paths_match_by_decoded_segment_prefix() {
        let s = scope("GET https://api.github.com/repos");
        let allowed = |url: &str| s.allows(Method::Get, &target(url));
        assert!(allowed("https://api.github.com/repos"));
        assert!(allowed("https://api.github.com/repos/"));
        assert!(allowed("https://API.GITHUB.COM:443/repos/x?q=1#f"));
        assert!(allowed("https://api.github.com/%72epos/x"));
        assert!(!allowed("https://api.github.com/reposx"));
        assert!(!allowed("https://api.github.com/"));
        assert!(!allowed("https://api.github.com/repos/../admin"));
        assert!(!allowed("https://api.github.com/repos/%2e%2e/admin"));
        assert!(!allowed("https://api.github.com/repos/.%2E/admin"));
        assert!(!allowed("http://api.github.com/repos"));
        assert!(!allowed("https://api.github.com:8443/repos"));
        assert!(!s.allows(Method::Post, &target("https://api.github.com/repos")));

        let s = scope("https://a.com/repos/*/issues");
        assert!(s.allows(Method::Delete, &target("https://a.com/repos/x/issues/1")));
        assert!(!s.allows(Method::Get, &target("https://a.com/repos//issues")));
        assert!(!s.allows(Method::Get, &target("https://a.com/repos/x")));
        assert!(scope("a.com").allows(Method::Get, &target("https://a.com")));
    }

    #[test]
    fn targets_refuse_what_parsers_disagree_on() {
        let cases = [
            ("https://user:pw@a.com/", "user name"),
            ("https://@a.com/", "user name"),
            ("https:\\\\@a.com/", "user name"),
            ("ftp://a.com/", "the scheme `ftp`"),
            ("file:///etc/passwd", "the scheme `file`"),
            ("https://a.com/x/..%2f..%2fadmin", "escaped `/`"),
            ("https://a.com/x/%5c", "escaped `/`"),
            ("https://a.com/x/..;/admin", "`..`"),
            ("https://a.com/%00", "NUL"),
            ("not a url", "not a URL"),
            ("https://", "not a URL"),
        ];
        for (text, want) in cases {
            let err = HttpTarget::parse(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
        let long = format!("https://a.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(matches!(
            HttpTarget::parse(&long).unwrap_err().kind(),
            ErrorKind::TooLong { .. }
        ));
    }

    #[test]
    fn targets_are_normalised_for_sending() {
        let t = target("HTTPS://Bücher.Example:443/a/./b/../c?q#frag");
        assert_eq!(t.as_str(), "https://xn--bcher-kva.example/a/c?q");
        assert_eq!(t.port(), 443);
        assert_eq!(t.scheme(), Scheme::Https);
        assert_eq!(t.host().to_string(), "xn--bcher-kva.example");
        assert_eq!(target("http://a.com:8080").port(), 8080);
    }

    #[test]
    fn covering_and_intersection_are_exact() {
        let wide = scope("https://*.github.com/repos");
        let narrow = scope("GET https://api.github.com/repos/x");
        assert!(wide.covers(&narrow));
        assert!(!narrow.covers(&wide));
        assert!(!wide.covers(&scope("http://api.github.com/repos/x")));
        assert!(scope("a.com/*/x").covers(&scope("a.com/*/x/y")));
        assert!(!scope("a.com/a/x").covers(&scope("a.com/*/x")));
        assert_eq!(wide.intersect(&narrow), Some(narrow.clone()));

        let a = scope("GET,POST https://*.a.com/repos/*");
        let b = scope("POST,PUT https://x.a.com/*/y/z");
        assert_eq!(
            a.intersect(&b).unwrap().to_string(),
            "POST https://x.a.com/repos/y/z"
        );
        assert_eq!(scope("GET a.com").intersect(&scope("POST a.com")), None);
        assert_eq!(scope("a.com/x").intersect(&scope("a.com/y")), None);
        assert_eq!(scope("a.com").intersect(&scope("b.com")), None);
    }

    #[test]
    fn the_exact_scope_allows_its_request_and_little_else() {
        let t = target("https://api.github.com/repos/a%20b/issues?page=2");
        let s = HttpScope::exact(Method::Post, &t).unwrap();
        assert_eq!(
            s.to_string(),
            "POST https://api.github.com/repos/a%20b/issues"
        );
        assert!(s.allows(Method::Post, &t));
        assert!(!s.allows(Method::Get, &t));
        let t = target("https://a.com/x//y");
        assert_eq!(
            HttpScope::exact(Method::Get, &t).unwrap().to_string(),
            "GET https://a.com/x"
        );
    }

    #[test]
    fn method_sets_follow_the_contract_order() {
        let all: Vec<_> = Methods::ALL.iter().collect();
        assert_eq!(all, METHODS);
        let s = scope("DELETE,GET a.com");
        assert_eq!(
            s.methods().collect::<Vec<_>>(),
            [Method::Get, Method::Delete]
        );
        assert_eq!(s.only(Method::Get).to_string(), "GET https://a.com");
        assert_eq!(s.retain_methods(|m| m == Method::Post), None);
    }
}
