//! Package references: where a package is pushed to or pulled from.
//!
//! - `oci://host[:port]/repo/path:tag` or `oci://host[:port]/repo/path@sha256:<hex>`
//! - `oci-layout:<dir>:tag` or `oci-layout:<dir>@sha256:<hex>` (a local OCI image layout)

use crate::error::RegistryError;
use morph_package::Digest;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Which version of a repository: a tag or a manifest digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A tag, e.g. `1.2.0` (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`).
    Tag(String),
    /// The sha256 of the OCI manifest.
    Digest(Digest),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tag(t) => write!(f, ":{t}"),
            Self::Digest(d) => write!(f, "@{d}"),
        }
    }
}

/// A repository on an OCI registry and a version in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRef {
    /// `host` or `host:port`.
    pub registry: String,
    /// The repository path, e.g. `acme/hello`.
    pub repository: String,
    /// The tag or digest.
    pub target: Target,
}

/// An OCI image layout folder and a version in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutRef {
    /// The layout's folder.
    pub dir: PathBuf,
    /// The tag or digest.
    pub target: Target,
}

/// Where a package is: a registry or a local layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageRef {
    /// `oci://...`
    Remote(RemoteRef),
    /// `oci-layout:...`
    Layout(LayoutRef),
}

impl fmt::Display for RemoteRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "oci://{}/{}{}",
            self.registry, self.repository, self.target
        )
    }
}

impl fmt::Display for LayoutRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "oci-layout:{}{}", self.dir.display(), self.target)
    }
}

impl fmt::Display for PackageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Remote(r) => r.fmt(f),
            Self::Layout(l) => l.fmt(f),
        }
    }
}

impl FromStr for PackageRef {
    type Err = RegistryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl PackageRef {
    /// Parses a reference (see the module docs).
    ///
    /// # Errors
    /// [`RegistryError::InvalidReference`] naming what is wrong: an unknown scheme, a
    /// missing host, repository, tag or digest, or a name the OCI distribution spec forbids.
    pub fn parse(text: &str) -> Result<Self, RegistryError> {
        let bad = |reason: &str| RegistryError::InvalidReference {
            reference: text.chars().take(200).collect(),
            reason: reason.to_owned(),
        };
        if let Some(rest) = text.strip_prefix("oci://") {
            let (host, path) = rest
                .split_once('/')
                .ok_or_else(|| bad("expected `oci://host[:port]/repository:tag`"))?;
            check_host(host).map_err(|r| bad(&r))?;
            let (repository, target) = split_target(path).map_err(|r| bad(&r))?;
            check_repository(repository).map_err(|r| bad(&r))?;
            return Ok(Self::Remote(RemoteRef {
                registry: host.to_owned(),
                repository: repository.to_owned(),
                target,
            }));
        }
        if let Some(rest) = text.strip_prefix("oci-layout:") {
            let (dir, target) = split_target(rest).map_err(|r| bad(&r))?;
            if dir.is_empty() {
                return Err(bad("the layout folder is empty: `oci-layout:<dir>:tag`"));
            }
            return Ok(Self::Layout(LayoutRef {
                dir: PathBuf::from(dir),
                target,
            }));
        }
        Err(bad(
            "it must start with `oci://` (a registry) or `oci-layout:` (a local folder)",
        ))
    }
}

/// Splits `name@sha256:...` or `name:tag` (the tag after the last `:`, which must not be
/// followed by a `/`, so `host:5000/repo` alone is not taken for a tag).
fn split_target(text: &str) -> Result<(&str, Target), String> {
    if let Some((name, digest)) = text.rsplit_once('@') {
        let digest = Digest::parse(digest).map_err(|e| e.to_string())?;
        return Ok((name, Target::Digest(digest)));
    }
    match text.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => {
            check_tag(tag)?;
            Ok((name, Target::Tag(tag.to_owned())))
        }
        _ => Err("name a tag (`:1.0.0`) or a digest (`@sha256:...`)".into()),
    }
}

fn check_tag(tag: &str) -> Result<(), String> {
    let mut chars = tag.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok && tag.len() <= 128 {
        Ok(())
    } else {
        Err(format!(
            "tag `{}` is not valid (letters, digits, `_`, `.`, `-`; at most 128; not starting with `.` or `-`)",
            tag.chars().take(140).collect::<String>()
        ))
    }
}

fn check_host(host: &str) -> Result<(), String> {
    // `[::1]:5000` splits at its last colon; `[::1]` alone does not.
    let (name, port) = match host.rsplit_once(':') {
        Some((n, p)) if !p.contains(']') => (n, Some(p)),
        _ => (host, None),
    };
    if name.is_empty() {
        return Err("the registry host is empty".into());
    }
    if let Some(p) = port
        && p.parse::<u16>().is_err()
    {
        return Err(format!("`{p}` is not a port number"));
    }
    let ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'));
    if ok {
        Ok(())
    } else {
        Err(format!("`{name}` is not a host name"))
    }
}

fn check_repository(repo: &str) -> Result<(), String> {
    // The OCI distribution spec: path components of [a-z0-9]+ joined by `.`, `_`, `__`
    // or runs of `-`, separated by `/`. We check the character set and the structure.
    if repo.is_empty() {
        return Err("the repository is empty".into());
    }
    if repo.len() > 255 {
        return Err("the repository name is longer than 255 characters".into());
    }
    for part in repo.split('/') {
        let valid_chars = part
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
        let edges = part
            .chars()
            .next()
            .zip(part.chars().last())
            .is_some_and(|(a, b)| a.is_ascii_alphanumeric() && b.is_ascii_alphanumeric());
        if !valid_chars || !edges {
            return Err(format!(
                "repository `{repo}` is not valid: each `/`-separated part is lowercase letters and digits, joined by `.`, `_` or `-`"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_remote_and_layout_references() {
        let r = PackageRef::parse("oci://127.0.0.1:5000/acme/hello:1.0.0").unwrap();
        assert_eq!(
            r,
            PackageRef::Remote(RemoteRef {
                registry: "127.0.0.1:5000".into(),
                repository: "acme/hello".into(),
                target: Target::Tag("1.0.0".into()),
            })
        );
        assert_eq!(r.to_string(), "oci://127.0.0.1:5000/acme/hello:1.0.0");

        let d = Digest::of(b"x");
        let r = PackageRef::parse(&format!("oci://ghcr.io/acme/hello@{d}")).unwrap();
        assert!(
            matches!(r, PackageRef::Remote(RemoteRef { target: Target::Digest(x), .. }) if x == d)
        );

        let r = PackageRef::parse("oci-layout:/var/lib/morph/store:hello-1.0.0").unwrap();
        assert_eq!(
            r,
            PackageRef::Layout(LayoutRef {
                dir: "/var/lib/morph/store".into(),
                target: Target::Tag("hello-1.0.0".into()),
            })
        );
        let r = PackageRef::parse(&format!("oci-layout:./store@{d}")).unwrap();
        assert!(matches!(
            r,
            PackageRef::Layout(LayoutRef {
                target: Target::Digest(_),
                ..
            })
        ));
    }

    #[test]
    fn refuses_bad_references_with_a_reason() {
        let cases = [
            ("https://x/y:1", "must start with `oci://`"),
            ("oci://host", "expected `oci://host[:port]/repository:tag`"),
            ("oci:///repo:1", "host is empty"),
            ("oci://host:99999/repo:1", "not a port number"),
            ("oci://host/Repo:1", "is not valid"),
            ("oci://host/repo", "name a tag"),
            ("oci://host:5000/repo", "name a tag"),
            ("oci://host/repo:-x", "tag `-x` is not valid"),
            ("oci://host/repo@sha256:12", "64 hex digits"),
            ("oci-layout::tag", "layout folder is empty"),
            ("oci://host/a//b:1", "is not valid"),
        ];
        for (text, want) in cases {
            let err = PackageRef::parse(text).unwrap_err().to_string();
            assert!(
                err.contains(want),
                "{text}: {err:?} should contain {want:?}"
            );
        }
    }
}
