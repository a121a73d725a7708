//! Sets of grants: deciding on requests, the effective set, and the re-consent diff.

use std::collections::BTreeSet;

use crate::fs::VirtualPath;
use crate::host::HostPattern;
use crate::http::HttpScope;
use crate::request::Denial;
use crate::{Decision, Grant, KvQuota, Request};

/// A set of grants: what a manifest requests, what a person granted, or what is
/// effective. A request is allowed when one grant of the set allows it (see
/// [`GrantSet::allows`]). Kept sorted, without duplicates; serde reads and writes a list
/// of grant texts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct GrantSet(BTreeSet<Grant>);

impl GrantSet {
    /// An empty set, which denies every request that needs a grant.
    pub fn new() -> GrantSet {
        GrantSet::default()
    }

    /// Adds a grant; returns whether it was new.
    pub fn insert(&mut self, grant: Grant) -> bool {
        self.0.insert(grant)
    }

    /// The grants, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &Grant> + '_ {
        self.0.iter()
    }

    /// The number of grants.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether one grant of the set covers `grant` (allows all it allows).
    pub fn covers(&self, grant: &Grant) -> bool {
        self.0.iter().any(|g| g.covers(grant))
    }

    /// Decides on `request`: [`Decision::Allow`] when it needs no grant (an action that
    /// is not destructive) or one grant allows it; otherwise a [`Denial`] with the
    /// grants of its kind and the closest grant that would allow it.
    pub fn allows(&self, request: &Request) -> Decision {
        if !request.needs_grant() || self.0.iter().any(|g| g.allows(request)) {
            return Decision::Allow;
        }
        let granted: Vec<Grant> = self
            .0
            .iter()
            .filter(|g| g.kind() == request.kind())
            .cloned()
            .collect();
        let suggestion = suggest(request, &granted);
        Decision::Deny(Box::new(Denial {
            request: request.clone(),
            granted,
            suggestion,
        }))
    }

    /// Drops every grant that another grant of the set covers.
    fn minimal(self) -> GrantSet {
        let grants: Vec<Grant> = self.0.into_iter().collect();
        let keep = |(i, g): (usize, &Grant)| {
            !grants
                .iter()
                .enumerate()
                .any(|(j, other)| j != i && other.covers(g) && (!g.covers(other) || j < i))
        };
        GrantSet(
            grants
                .iter()
                .enumerate()
                .filter(|&(i, g)| keep((i, g)))
                .map(|(_, g)| g.clone())
                .collect(),
        )
    }
}

impl FromIterator<Grant> for GrantSet {
    fn from_iter<I: IntoIterator<Item = Grant>>(iter: I) -> Self {
        GrantSet(iter.into_iter().collect())
    }
}

impl<'a> IntoIterator for &'a GrantSet {
    type Item = &'a Grant;
    type IntoIter = std::collections::btree_set::Iter<'a, Grant>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl serde::Serialize for GrantSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for GrantSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<Grant>::deserialize(deserializer).map(GrantSet::from_iter)
    }
}

/// What an extension may do: the grants allowing exactly the requests that both
/// `requested` (by its manifest) and `granted` (by the person) allow.
///
/// Built from the intersection of every requested grant with every granted one, which
/// is exact for every kind (host patterns nest or are disjoint, paths meet segment by
/// segment, quotas take the smaller bound), then without grants another one covers. So
/// a person's grant counts only within what the manifest asked for, and a version that
/// asks for more runs with what was granted until the rest is granted too.
pub fn effective(requested: &GrantSet, granted: &GrantSet) -> GrantSet {
    requested
        .iter()
        .flat_map(|r| granted.iter().filter_map(|g| r.intersect(g)))
        .collect::<GrantSet>()
        .minimal()
}

/// What `new` (a new version's request) asks for beyond `old` (what was granted, or
/// what the previous version requested): the re-consent list, sorted.
///
/// Each grant of `new` that one grant of `old` covers is left out. Of the others, an
/// `http` grant keeps only its methods that no grant of `old` covers for its whole
/// scope, and a `secret` grant only its hosts that no `old` grant of that secret covers;
/// any other grant is listed whole. So `old` plus the result allows everything `new`
/// allows, and nothing listed is already granted on its own; a grant covered only by
/// several `old` grants together (two host patterns, say) is still listed.
pub fn diff(old: &GrantSet, new: &GrantSet) -> Vec<Grant> {
    let mut added = BTreeSet::new();
    for grant in new.iter().filter(|g| !old.covers(g)) {
        let rest = match grant {
            Grant::Http(scope) => scope
                .retain_methods(|m| !old.covers(&Grant::Http(scope.only(m))))
                .map(Grant::Http),
            Grant::Secret { name, hosts } => {
                let hosts: BTreeSet<HostPattern> = hosts
                    .iter()
                    .filter(|&h| {
                        !old.covers(&Grant::Secret {
                            name: name.clone(),
                            hosts: BTreeSet::from([h.clone()]),
                        })
                    })
                    .cloned()
                    .collect();
                (!hosts.is_empty()).then(|| Grant::Secret {
                    name: name.clone(),
                    hosts,
                })
            }
            other => Some(other.clone()),
        };
        added.extend(rest);
    }
    added.into_iter().collect()
}

/// The closest grant allowing `request`, given the `granted` grants of its kind.
fn suggest(request: &Request, granted: &[Grant]) -> Option<Grant> {
    match request {
        Request::Http { method, target } => {
            let widened = granted.iter().find_map(|g| match g {
                Grant::Http(scope) => {
                    Some(scope.with_method(*method)).filter(|s| s.allows(*method, target))
                }
                _ => None,
            });
            widened
                .or_else(|| HttpScope::exact(*method, target))
                .map(Grant::Http)
        }
        Request::Secret { name, host } => {
            let pattern = HostPattern::exact(host)?;
            let mut hosts = granted
                .iter()
                .find_map(|g| match g {
                    Grant::Secret { name: n, hosts } if n == name => Some(hosts.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            hosts.insert(pattern);
            Some(Grant::Secret {
                name: name.clone(),
                hosts,
            })
        }
        Request::KvWrite { bytes, keys } => {
            let base = granted
                .iter()
                .find_map(|g| match g {
                    Grant::KvWrite(q) => Some(*q),
                    _ => None,
                })
                .unwrap_or(KvQuota::DEFAULT);
            KvQuota::new(base.bytes().max(*bytes), base.keys().max(*keys)).map(Grant::KvWrite)
        }
        Request::FsRead(path) => writable_prefix(path).map(Grant::FsRead),
        Request::FsWrite(path) => writable_prefix(path).map(Grant::FsWrite),
        Request::Event(name) => Some(Grant::Events(name.clone())),
        Request::Action { name, .. } => Some(Grant::Action(name.clone())),
        Request::KvRead => Some(Grant::KvRead),
        Request::Config => Some(Grant::Config),
        Request::Clock => Some(Grant::Clock),
        Request::Random => Some(Grant::Random),
        Request::Ai => Some(Grant::Ai),
        Request::Notify => Some(Grant::Notify),
    }
}

/// The longest leading part of `path` a grant can write (its segments limited to
/// letters, digits, `_`, `-` and `.`).
fn writable_prefix(path: &VirtualPath) -> Option<VirtualPath> {
    let text = path.as_str();
    let mut end = None;
    for (i, _) in text.match_indices('/').chain([(text.len(), "")]) {
        match VirtualPath::parse_grant(&text[..i]) {
            Ok(_) => end = Some(i),
            Err(_) => break,
        }
    }
    end.and_then(|i| VirtualPath::parse_grant(&text[..i]).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Host, Method};
    use morph_abi::SideEffect;

    fn set(grants: &[&str]) -> GrantSet {
        grants.iter().map(|g| g.parse::<Grant>().unwrap()).collect()
    }

    fn texts(set: &GrantSet) -> Vec<String> {
        set.iter().map(Grant::to_string).collect()
    }

    fn http(method: Method, url: &str) -> Request {
        Request::http(method, url).unwrap()
    }

    fn denial(decision: Decision) -> Denial {
        match decision {
            Decision::Deny(d) => *d,
            Decision::Allow => panic!("allowed"),
        }
    }

    #[test]
    fn a_denial_names_the_permission_the_target_and_the_grant_that_would_allow_it() {
        let grants = set(&["http:GET https://api.github.com/repos", "clock"]);
        assert!(
            grants
                .allows(&http(Method::Get, "https://api.github.com/repos/x"))
                .is_allowed()
        );

        let d = denial(grants.allows(&http(Method::Post, "https://api.github.com/repos/x")));
        assert_eq!(d.permission(), crate::PermissionKind::Http);
        assert_eq!(
            d.suggestion().unwrap().to_string(),
            "http:GET,POST https://api.github.com/repos"
        );
        let d = denial(grants.allows(&http(Method::Get, "https://evil.example/steal?x=1")));
        assert_eq!(
            d.to_string(),
            "`http` does not allow GET https://evil.example/steal?x=1 \
             (granted: http:GET https://api.github.com/repos); \
             `http:GET https://evil.example/steal` would allow it"
        );
        let d = denial(grants.allows(&Request::Random));
        assert_eq!(
            d.to_string(),
            "`random` does not allow reading random bytes (granted: none of this kind); `random` would allow it"
        );
    }

    #[test]
    fn suggestions_widen_the_closest_grant() {
        let grants = set(&[
            "secret:T@a.com",
            "kv-write:bytes=1KiB,keys=10",
            "fs-read:ws/a",
        ]);
        let host = Host::parse("b.com").unwrap();
        let cases = [
            (
                Request::secret("T", host.clone()).unwrap(),
                Some("secret:T@a.com,b.com"),
            ),
            (Request::secret("U", host).unwrap(), Some("secret:U@b.com")),
            (
                Request::secret("T", Host::parse("a_b.com").unwrap()).unwrap(),
                None,
            ),
            (
                Request::KvWrite {
                    bytes: 4096,
                    keys: 3,
                },
                Some("kv-write:bytes=4KiB,keys=10"),
            ),
            (
                Request::fs_read("ws/b/c d/e").unwrap(),
                Some("fs-read:ws/b"),
            ),
            (
                Request::fs_write("ws/a/x").unwrap(),
                Some("fs-write:ws/a/x"),
            ),
            (Request::event("greeted").unwrap(), Some("events:greeted")),
            (
                Request::action("delete-repo", SideEffect::Destructive).unwrap(),
                Some("action:destructive:delete-repo"),
            ),
            (Request::Notify, Some("notify")),
        ];
        for (request, want) in cases {
            let d = denial(grants.allows(&request));
            assert_eq!(
                d.suggestion().map(Grant::to_string).as_deref(),
                want,
                "{request}"
            );
            if let Some(g) = d.suggestion() {
                assert!(g.allows(&request), "{g} should allow {request}");
            }
        }
    }

    #[test]
    fn a_denial_escapes_what_the_guest_wrote() {
        let d = denial(GrantSet::new().allows(&Request::fs_write("ws/\u{202e}`x").unwrap()));
        assert_eq!(
            d.to_string(),
            "`fs-write` does not allow writing `ws/\\u{202e}\\`x` (granted: none of this kind); \
             `fs-write:ws` would allow it"
        );
    }

    #[test]
    fn only_destructive_actions_need_a_grant() {
        let none = GrantSet::new();
        for class in [SideEffect::None, SideEffect::Read, SideEffect::Write] {
            assert!(
                none.allows(&Request::action("x", class).unwrap())
                    .is_allowed()
            );
        }
        let destroy = Request::action("drop", SideEffect::Destructive).unwrap();
        assert!(!none.allows(&destroy).is_allowed());
        assert!(
            set(&["action:destructive:drop"])
                .allows(&destroy)
                .is_allowed()
        );
        assert!(
            !set(&["action:destructive:other"])
                .allows(&destroy)
                .is_allowed()
        );
    }

    #[test]
    fn kinds_match_only_their_own_requests() {
        let grants = set(&[
            "fs-read:ws/a",
            "events:greeted",
            "kv-write:bytes=1KiB,keys=2",
            "secret:T@*.a.com",
        ]);
        let allowed = |r: Request| grants.allows(&r).is_allowed();
        assert!(allowed(Request::fs_read("ws/a/x.txt").unwrap()));
        assert!(allowed(Request::fs_read("ws/a").unwrap()));
        assert!(!allowed(Request::fs_read("ws/ab").unwrap()));
        assert!(!allowed(Request::fs_write("ws/a/x.txt").unwrap()));
        assert!(allowed(Request::event("greeted").unwrap()));
        assert!(!allowed(Request::event("Greeted").unwrap()));
        assert!(allowed(Request::KvWrite {
            bytes: 1024,
            keys: 2
        }));
        assert!(!allowed(Request::KvWrite {
            bytes: 1025,
            keys: 2
        }));
        assert!(!allowed(Request::KvWrite { bytes: 1, keys: 3 }));
        assert!(!allowed(Request::KvRead));
        assert!(allowed(
            Request::secret("T", Host::parse("x.a.com").unwrap()).unwrap()
        ));
        assert!(!allowed(
            Request::secret("T", Host::parse("a.com").unwrap()).unwrap()
        ));
        assert!(!allowed(Request::Clock));
    }

    #[test]
    fn effective_is_what_both_allow() {
        let requested = set(&[
            "http:GET,POST https://*.github.com/repos",
            "secret:T@api.github.com,uploads.github.com",
            "kv-write:bytes=10MiB,keys=100",
            "fs-read:ws",
            "clock",
            "events:greeted",
        ]);
        let granted = set(&[
            "http:https://api.github.com",
            "http:https://evil.example",
            "secret:T@*.github.com",
            "kv-write:bytes=1MiB,keys=1000",
            "fs-read:ws/docs",
            "random",
            "events:greeted",
        ]);
        let eff = effective(&requested, &granted);
        assert_eq!(
            texts(&eff),
            [
                "http:GET,POST https://api.github.com/repos",
                "secret:T@api.github.com,uploads.github.com",
                "kv-write:bytes=1MiB,keys=100",
                "fs-read:ws/docs",
                "events:greeted",
            ]
        );
        // The rule it implements, on requests: allowed iff both sets allow.
        let probes = [
            http(Method::Get, "https://api.github.com/repos/x"),
            http(Method::Delete, "https://api.github.com/repos/x"),
            http(Method::Get, "https://api.github.com/user"),
            http(Method::Get, "https://evil.example/"),
            http(Method::Get, "https://gist.github.com/repos"),
            Request::KvWrite {
                bytes: 2 << 20,
                keys: 1,
            },
            Request::KvWrite {
                bytes: 1,
                keys: 500,
            },
            Request::fs_read("ws/docs/a").unwrap(),
            Request::fs_read("ws/b").unwrap(),
            Request::Clock,
            Request::Random,
            Request::event("greeted").unwrap(),
        ];
        for r in probes {
            let both = requested.allows(&r).is_allowed() && granted.allows(&r).is_allowed();
            assert_eq!(eff.allows(&r).is_allowed(), both, "{r}");
        }
        assert!(effective(&requested, &GrantSet::new()).is_empty());
        assert!(effective(&GrantSet::new(), &granted).is_empty());
    }

    #[test]
    fn effective_drops_grants_another_covers() {
        let requested = set(&["http:https://a.com", "http:https://a.com/x"]);
        let granted = set(&["http:https://a.com"]);
        assert_eq!(
            texts(&effective(&requested, &granted)),
            ["http:https://a.com"]
        );
    }

    #[test]
    fn diff_lists_exactly_what_is_new() {
        let old = set(&[
            "http:GET https://api.github.com",
            "http:POST https://api.github.com/repos",
            "secret:T@api.github.com",
            "kv-write:bytes=1MiB,keys=10",
            "fs-read:ws",
            "clock",
        ]);
        let new = set(&[
            "http:GET,POST,DELETE https://api.github.com/repos",
            "http:GET https://api.github.com/user",
            "secret:T@api.github.com,uploads.github.com",
            "kv-write:bytes=2MiB,keys=10",
            "fs-read:ws/docs",
            "clock",
            "notify",
            "action:destructive:delete-repo",
        ]);
        let added: Vec<_> = diff(&old, &new).iter().map(Grant::to_string).collect();
        assert_eq!(
            added,
            [
                "http:DELETE https://api.github.com/repos",
                "secret:T@uploads.github.com",
                "kv-write:bytes=2MiB,keys=10",
                "notify",
                "action:destructive:delete-repo",
            ]
        );
        assert!(diff(&new, &new).is_empty());
        assert_eq!(diff(&GrantSet::new(), &new).len(), new.len());
    }

    #[test]
    fn grant_sets_are_lists_of_strings_in_serde() {
        let s = set(&["clock", "http:a.com"]);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"["http:https://a.com","clock"]"#);
        assert_eq!(serde_json::from_str::<GrantSet>(&json).unwrap(), s);
    }
}
