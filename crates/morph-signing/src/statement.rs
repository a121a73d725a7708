//! The signed statement: what a signature vouches for, in one canonical byte encoding.
//!
//! ```text
//! morph-statement/v1\n
//! id: <id>\n
//! version: <version>\n
//! publisher: <publisher>\n
//! manifest: sha256:<64 hex>\n
//! module: sha256:<64 hex>\n
//! asset: sha256:<64 hex> <name>\n      (one line per asset, sorted by name bytewise)
//! ```
//!
//! UTF-8, LF line endings, one space after each colon, nothing else. Values never hold a
//! control character (checked when building and when parsing), so a field cannot smuggle in
//! a line. [`Statement::parse`] re-encodes what it read and refuses bytes that differ, so
//! each statement has exactly one encoding. A later version changes the first line.

use morph_package::{Digest, Package, check_field};

const HEADER: &str = "morph-statement/v1";

/// What a signature covers: the package's identity and the digest of every part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The extension id.
    pub id: String,
    /// The version.
    pub version: String,
    /// The publisher, as the manifest names it.
    pub publisher: String,
    /// sha256 of the manifest bytes.
    pub manifest: Digest,
    /// sha256 of the module bytes.
    pub module: Digest,
    /// `(name, sha256)` of each asset, sorted by name.
    pub assets: Vec<(String, Digest)>,
}

impl Statement {
    /// The statement describing `package` as it is.
    ///
    /// # Errors
    /// A sentence when the manifest names no `publisher` (signing needs one).
    pub fn for_package(package: &Package) -> Result<Self, String> {
        let fields = package.fields();
        let Some(publisher) = fields.publisher.clone() else {
            return Err(
                "its manifest names no `publisher` (a top-level `publisher = \"...\"` key)".into(),
            );
        };
        let mut assets: Vec<(String, Digest)> = package
            .assets()
            .iter()
            .map(|a| (a.name().to_owned(), a.digest()))
            .collect();
        assets.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Self {
            id: fields.id.clone(),
            version: fields.version.clone(),
            publisher,
            manifest: package.manifest_digest(),
            module: package.module_digest(),
            assets,
        })
    }

    /// The canonical bytes (see the module docs).
    ///
    /// # Errors
    /// A sentence when a field is empty, too long or holds a control character, or when
    /// assets are not sorted by name, each name once.
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        check_field("id", &self.id)?;
        check_field("version", &self.version)?;
        check_field("publisher", &self.publisher)?;
        for (name, _) in &self.assets {
            check_field("asset name", name)?;
        }
        if self.assets.windows(2).any(|w| match w {
            [a, b] => a.0 >= b.0,
            _ => false,
        }) {
            return Err("assets must be sorted by name, each name once".into());
        }
        let mut out = format!(
            "{HEADER}\nid: {}\nversion: {}\npublisher: {}\nmanifest: {}\nmodule: {}\n",
            self.id, self.version, self.publisher, self.manifest, self.module
        );
        for (name, digest) in &self.assets {
            out.push_str(&format!("asset: {digest} {name}\n"));
        }
        Ok(out.into_bytes())
    }

    /// Reads canonical statement bytes.
    ///
    /// # Errors
    /// A sentence naming the first thing that is not as the format says, including a
    /// different version line and any non-canonical spelling.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "it is not UTF-8".to_owned())?;
        let Some(body) = text.strip_suffix('\n') else {
            return Err("it does not end with a newline".into());
        };
        let mut lines = body.split('\n');
        match lines.next() {
            Some(HEADER) => {}
            Some(other) if other.starts_with("morph-statement/") => {
                return Err(format!(
                    "it is a `{}` statement; this build reads `{HEADER}`",
                    other.chars().take(40).collect::<String>()
                ));
            }
            _ => return Err(format!("it does not start with `{HEADER}`")),
        }
        let mut field = |key: &str| -> Result<String, String> {
            let line = lines
                .next()
                .ok_or_else(|| format!("the `{key}` line is missing"))?;
            line.strip_prefix(key)
                .and_then(|rest| rest.strip_prefix(": "))
                .map(str::to_owned)
                .ok_or_else(|| format!("expected the `{key}` line"))
        };
        let id = field("id")?;
        let version = field("version")?;
        let publisher = field("publisher")?;
        let manifest = Digest::parse(&field("manifest")?).map_err(|e| e.to_string())?;
        let module = Digest::parse(&field("module")?).map_err(|e| e.to_string())?;
        let mut assets = Vec::new();
        for line in lines {
            let rest = line
                .strip_prefix("asset: ")
                .ok_or("only `asset` lines may follow the `module` line")?;
            let (digest, name) = rest
                .split_once(' ')
                .ok_or("an `asset` line needs a digest and a name")?;
            let digest = Digest::parse(digest).map_err(|e| e.to_string())?;
            assets.push((name.to_owned(), digest));
        }
        let statement = Self {
            id,
            version,
            publisher,
            manifest,
            module,
            assets,
        };
        if statement.to_bytes()? != bytes {
            return Err("it is not in canonical form".into());
        }
        Ok(statement)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Statement {
        Statement {
            id: "hello".into(),
            version: "1.0.0".into(),
            publisher: "Acme Inc.".into(),
            manifest: Digest::of(b"m"),
            module: Digest::of(b"w"),
            assets: vec![
                ("a b.png".into(), Digest::of(b"a")),
                ("z".into(), Digest::of(b"z")),
            ],
        }
    }

    #[test]
    fn encoding_is_stable_and_round_trips() {
        let s = sample();
        let bytes = s.to_bytes().unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with(
            "morph-statement/v1\nid: hello\nversion: 1.0.0\npublisher: Acme Inc.\nmanifest: sha256:"
        ));
        assert!(text.ends_with(&format!("asset: {} z\n", Digest::of(b"z"))));
        assert_eq!(Statement::parse(&bytes).unwrap(), s);
    }

    #[test]
    fn non_canonical_or_forged_lines_are_refused() {
        let good = String::from_utf8(sample().to_bytes().unwrap()).unwrap();
        let cases = [
            (good.replace("id: ", "id:  "), "whitespace"),
            (good.replace("z\n", "z \n"), "whitespace"),
            (good.replace("\n", "\r\n"), "this build reads"),
            (good.replace("v1", "v2"), "this build reads"),
            (good.trim_end().to_owned(), "newline"),
            (format!("{good}extra: 1\n"), "only `asset` lines"),
            (good.replace("sha256:", "md5:"), "not a sha256 digest"),
            (
                good.replace("version", "versions"),
                "expected the `version` line",
            ),
        ];
        for (text, want) in cases {
            let err = Statement::parse(text.as_bytes()).unwrap_err();
            assert!(err.contains(want), "{err:?} should contain {want:?}");
        }
        let mut s = sample();
        s.id = "a\nversion: 9".into();
        assert!(s.to_bytes().unwrap_err().contains("control character"));
    }
}
