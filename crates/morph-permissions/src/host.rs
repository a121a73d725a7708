//! Hosts: the patterns grants name and the hosts requests reach.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::ErrorKind;

/// A host as a grant names it: a host name (`api.github.com`), every name under a
/// domain (`*.github.com`, at any depth, not `github.com` itself), or an IP address
/// (`127.0.0.1`, `[::1]`).
///
/// Names are ASCII (write an international name in punycode, `xn--...`) and kept in
/// lower case. A wildcard needs at least two labels after it (`*.com` is refused); there
/// is no public-suffix list, so `*.co.uk` is accepted and means what it says.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostPattern(Pattern);

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Pattern {
    Name(String),
    Under(String),
    Ip(IpAddr),
}

/// The host a request reaches: a domain name (lower case, ASCII, without a trailing
/// dot) or an IP address. Built from a checked URL ([`HttpTarget::host`]) or by
/// [`Host::parse`].
///
/// [`HttpTarget::host`]: crate::HttpTarget::host
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Host(Target);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Target {
    Domain(String),
    Ip(IpAddr),
}

impl Host {
    /// Parses a host the way a URL's host is parsed (WHATWG: international names to
    /// punycode, lower case, IPv4 in any of its forms, IPv6 in brackets), then drops one
    /// trailing dot.
    ///
    /// # Errors
    /// [`ErrorKind::Host`] when the URL parser refuses it or it is empty.
    pub fn parse(host: &str) -> Result<Host, crate::Error> {
        url::Host::parse(host)
            .map_err(|_| "is not a valid host name or IP address")
            .and_then(Host::from_url)
            .map_err(|reason| {
                crate::Error::new(
                    host,
                    ErrorKind::Host {
                        host: host.to_owned(),
                        reason,
                    },
                )
            })
    }

    pub(crate) fn from_url<S: AsRef<str>>(host: url::Host<S>) -> Result<Host, &'static str> {
        match host {
            url::Host::Domain(d) => {
                let d = d.as_ref();
                let d = d.strip_suffix('.').unwrap_or(d);
                if d.is_empty() || d.ends_with('.') {
                    return Err("is empty or ends with two dots");
                }
                Ok(Host(Target::Domain(d.to_ascii_lowercase())))
            }
            url::Host::Ipv4(ip) => Ok(Host(Target::Ip(IpAddr::V4(ip)))),
            url::Host::Ipv6(ip) => Ok(Host(Target::Ip(IpAddr::V6(ip)))),
        }
    }

    /// The IP address, if the host is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self.0 {
            Target::Ip(ip) => Some(ip),
            Target::Domain(_) => None,
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Target::Domain(d) => f.write_str(d),
            Target::Ip(ip) => write_ip(f, ip),
        }
    }
}

fn write_ip(f: &mut fmt::Formatter<'_>, ip: &IpAddr) -> fmt::Result {
    match ip {
        IpAddr::V4(ip) => write!(f, "{ip}"),
        IpAddr::V6(ip) => write!(f, "[{ip}]"),
    }
}

const MAX_HOST_LEN: usize = 253;
const MAX_LABEL_LEN: usize = 63;

impl HostPattern {
    /// Parses a host pattern (see the type's docs). Letters are folded to lower case.
    pub(crate) fn parse(text: &str) -> Result<HostPattern, ErrorKind> {
        let err = |reason| ErrorKind::Host {
            host: text.to_owned(),
            reason,
        };
        if let Some(inner) = text.strip_prefix('[') {
            let ip = inner
                .strip_suffix(']')
                .and_then(|ip| ip.parse::<Ipv6Addr>().ok())
                .ok_or_else(|| err("is not an IPv6 address in brackets"))?;
            return Ok(HostPattern(Pattern::Ip(IpAddr::V6(ip))));
        }
        let (wildcard, name) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if text == "*" {
            return Err(err(
                "`*` alone would be every host, which no grant allows; name a domain (`*.example.com`)",
            ));
        }
        if name.contains('*') {
            return Err(err(
                "may hold `*` only as its whole first label (`*.example.com`)",
            ));
        }
        let name = check_name(name).map_err(err)?;
        let numeric = name
            .rsplit('.')
            .next()
            .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
        match (numeric, wildcard) {
            (true, true) => Err(err("is an IP address, which a wildcard cannot cover")),
            (true, false) => match name.parse::<Ipv4Addr>() {
                Ok(ip) => Ok(HostPattern(Pattern::Ip(IpAddr::V4(ip)))),
                Err(_) => Err(err("ends in a number but is not an IPv4 address (a.b.c.d)")),
            },
            (false, true) if !name.contains('.') => Err(err(
                "is a wildcard over a top-level domain; name at least two labels after `*.`",
            )),
            (false, true) => Ok(HostPattern(Pattern::Under(name))),
            (false, false) => Ok(HostPattern(Pattern::Name(name))),
        }
    }

    /// The pattern that matches exactly `host`, if the grammar can write it (a domain
    /// holding `_`, which URLs allow, cannot be).
    pub fn exact(host: &Host) -> Option<HostPattern> {
        match &host.0 {
            Target::Ip(ip) => Some(HostPattern(Pattern::Ip(*ip))),
            Target::Domain(d) => HostPattern::parse(d)
                .ok()
                .filter(|p| matches!(p.0, Pattern::Name(_))),
        }
    }

    /// Whether `host` is one the pattern names.
    pub fn matches(&self, host: &Host) -> bool {
        match (&self.0, &host.0) {
            (Pattern::Name(p), Target::Domain(d)) => p == d,
            (Pattern::Under(p), Target::Domain(d)) => is_under(d, p),
            (Pattern::Ip(p), Target::Ip(ip)) => p == ip,
            _ => false,
        }
    }

    /// Whether every host `other` matches, this pattern matches too.
    pub fn covers(&self, other: &HostPattern) -> bool {
        match (&self.0, &other.0) {
            (Pattern::Under(p), Pattern::Name(d) | Pattern::Under(d)) if is_under(d, p) => true,
            _ => self == other,
        }
    }

    /// The pattern matching exactly the hosts both match, if any: two patterns either
    /// nest or share no host.
    pub(crate) fn intersect(&self, other: &HostPattern) -> Option<HostPattern> {
        if self.covers(other) {
            Some(other.clone())
        } else if other.covers(self) {
            Some(self.clone())
        } else {
            None
        }
    }
}

/// Parses a host pattern as a grant writes it (see the type's docs): what a host that
/// binds something to hosts (a secret, say) reads from its own settings.
impl std::str::FromStr for HostPattern {
    type Err = crate::Error;

    /// # Errors
    /// [`ErrorKind::Host`] saying what is wrong with the pattern.
    fn from_str(text: &str) -> Result<HostPattern, crate::Error> {
        HostPattern::parse(text).map_err(|kind| crate::Error::new(text, kind))
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Pattern::Name(d) => f.write_str(d),
            Pattern::Under(d) => write!(f, "*.{d}"),
            Pattern::Ip(ip) => write_ip(f, ip),
        }
    }
}

/// Whether `name` is strictly under `domain` (`a.b.c` under `b.c`, not `ab.c` nor `b.c`).
fn is_under(name: &str, domain: &str) -> bool {
    name.strip_suffix(domain)
        .and_then(|prefix| prefix.strip_suffix('.'))
        .is_some_and(|prefix| !prefix.is_empty())
}

/// Checks a host name's syntax (RFC 1123 labels) and folds it to lower case.
fn check_name(name: &str) -> Result<String, &'static str> {
    if name.is_empty() {
        return Err("is empty");
    }
    if name.len() > MAX_HOST_LEN {
        return Err("is longer than 253 characters");
    }
    if !name.is_ascii() {
        return Err("must be written in ASCII (an international name in punycode, `xn--...`)");
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("has an empty label (two dots in a row, or a dot at an end)");
        }
        if label.len() > MAX_LABEL_LEN {
            return Err("has a label longer than 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err("may hold only letters, digits, `-` and dots");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("has a label that starts or ends with `-`");
        }
    }
    Ok(name.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(s: &str) -> HostPattern {
        HostPattern::parse(s).unwrap()
    }

    fn host(s: &str) -> Host {
        Host::parse(s).unwrap()
    }

    #[test]
    fn a_wildcard_matches_names_strictly_under_its_domain() {
        let p = pattern("*.Example.com");
        assert_eq!(p.to_string(), "*.example.com");
        for yes in ["a.example.com", "A.B.EXAMPLE.com", "a.example.com."] {
            assert!(p.matches(&host(yes)), "{yes}");
        }
        for no in [
            "example.com",
            "evilexample.com",
            "a.example.com.evil",
            "com",
            "127.0.0.1",
        ] {
            assert!(!p.matches(&host(no)), "{no}");
        }
    }

    #[test]
    fn names_and_addresses_match_exactly_after_normalisation() {
        assert!(pattern("API.github.com").matches(&host("api.GitHub.com.")));
        assert!(!pattern("github.com").matches(&host("api.github.com")));
        assert!(pattern("127.0.0.1").matches(&host("0x7f.1")));
        assert!(pattern("[::1]").matches(&host("[0:0::1]")));
        assert!(!pattern("127.0.0.1").matches(&host("[::ffff:127.0.0.1]")));
        assert!(pattern("xn--bcher-kva.example").matches(&host("bücher.example")));
        assert_eq!(host("[::1]").to_string(), "[::1]");
        assert_eq!(host("[::1]").ip(), Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    }

    #[test]
    fn malformed_patterns_say_why() {
        let cases = [
            ("", "is empty"),
            ("*", "every host"),
            ("a.*.com", "only as its whole first label"),
            ("*a.com", "only as its whole first label"),
            ("*.com", "top-level domain"),
            ("*.1.2.3.4", "IP address"),
            ("1.2.3.256", "not an IPv4 address"),
            ("a..com", "empty label"),
            ("a.com.", "empty label"),
            ("-a.com", "starts or ends with `-`"),
            ("a_b.com", "only letters"),
            ("bücher.de", "punycode"),
            ("[::1", "IPv6"),
            ("[example.com]", "IPv6"),
        ];
        for (text, want) in cases {
            let err = HostPattern::parse(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
        let long = format!("{}.com", "a".repeat(64));
        assert!(
            HostPattern::parse(&long)
                .unwrap_err()
                .to_string()
                .contains("63")
        );
    }

    #[test]
    fn covering_and_intersection_follow_the_domain_tree() {
        let under = pattern("*.example.com");
        let deeper = pattern("*.api.example.com");
        let name = pattern("api.example.com");
        assert!(under.covers(&deeper) && under.covers(&name) && under.covers(&under));
        assert!(!deeper.covers(&under) && !name.covers(&under));
        assert!(!under.covers(&pattern("example.com")));
        assert_eq!(under.intersect(&deeper), Some(deeper.clone()));
        assert_eq!(deeper.intersect(&under), Some(deeper.clone()));
        assert_eq!(deeper.intersect(&name), None);
        assert_eq!(HostPattern::exact(&host("a_b.example.com")), None);
        assert_eq!(
            HostPattern::exact(&host("A.example.com")),
            Some(pattern("a.example.com"))
        );
    }

    #[test]
    fn from_str_parses_as_grants_do_and_names_the_input() {
        let p: HostPattern = "*.Example.com".parse().unwrap();
        assert_eq!(p, pattern("*.example.com"));
        assert_eq!(p.to_string().parse::<HostPattern>().unwrap(), p);
        let err = "a..com".parse::<HostPattern>().unwrap_err();
        assert_eq!(err.input(), "a..com");
        assert!(err.to_string().contains("empty label"), "{err}");
    }
}
