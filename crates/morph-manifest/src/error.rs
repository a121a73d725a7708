//! The crate's one error type: what is wrong with a manifest, and where.

use std::fmt;

/// Why a manifest was refused: what is wrong ([`ManifestError::kind`]) and where
/// ([`ManifestError::line`], [`ManifestError::column`], [`ManifestError::field`]).
///
/// `Display`: `line 12, column 5, `limits.fuel`: invalid value: ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ManifestError {
    kind: ManifestErrorKind,
    location: Option<Location>,
    field: Option<String>,
}

/// A 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Location {
    line: usize,
    column: usize,
}

/// What is wrong with a manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestErrorKind {
    /// The manifest is larger than [`MAX_MANIFEST_BYTES`](crate::MAX_MANIFEST_BYTES).
    #[error("the manifest is {len} bytes long (at most {max})")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes are not UTF-8.
    #[error("the manifest is not UTF-8")]
    NotUtf8,
    /// The text is not TOML.
    #[error("{message}")]
    Syntax {
        /// The TOML parser's message.
        message: String,
    },
    /// A field is unknown, missing, of the wrong type or has a refused value (the
    /// message names which: `unknown field `foo``, `missing field `id``, a grant's
    /// error...).
    #[error("{message}")]
    Field {
        /// What is wrong.
        message: String,
    },
    /// A requested grant is malformed.
    #[error("{0}")]
    Grant(morph_permissions::Error),
    /// A list or table has more entries than allowed.
    #[error("{len} entries (at most {max})")]
    TooMany {
        /// Its entries.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The same grant is requested twice.
    #[error("`{grant}` is requested twice")]
    DuplicateGrant {
        /// The grant.
        grant: String,
    },
    /// A grant that the manifest derives from its declarations is listed by hand.
    #[error("`{grant}` is not requested by hand: {hint}")]
    DerivedGrant {
        /// The grant.
        grant: String,
        /// Where it comes from instead.
        hint: &'static str,
    },
}

impl ManifestError {
    pub(crate) fn new(kind: ManifestErrorKind) -> Self {
        ManifestError {
            kind,
            location: None,
            field: None,
        }
    }

    /// Places the error at byte `offset` of `text` and names the `field` there.
    pub(crate) fn at(mut self, text: &str, offset: usize, field: Option<String>) -> Self {
        let before = text.get(..offset).unwrap_or(text);
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        self.location = Some(Location {
            line: before.matches('\n').count() + 1,
            column: before.get(line_start..).map_or(0, |l| l.chars().count()) + 1,
        });
        self.field = field;
        self
    }

    /// What is wrong.
    pub fn kind(&self) -> &ManifestErrorKind {
        &self.kind
    }

    /// The 1-based line of the offending part, when the error has a place.
    pub fn line(&self) -> Option<usize> {
        self.location.map(|l| l.line)
    }

    /// The 1-based column (in characters) of the offending part, when it has a place.
    pub fn column(&self) -> Option<usize> {
        self.location.map(|l| l.column)
    }

    /// The dotted path of the offending field (`permissions.request[2]`), when known.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(Location { line, column }) = self.location {
            write!(f, "line {line}, column {column}")?;
            if let Some(field) = &self.field {
                write!(f, ", `{field}`")?;
            }
            f.write_str(": ")?;
        }
        write!(f, "{}", self.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_are_one_based_and_count_characters() {
        let text = "a = 1\nbé = 2\n";
        let e = ManifestError::new(ManifestErrorKind::NotUtf8).at(text, 10, Some("bé".into()));
        assert_eq!((e.line(), e.column()), (Some(2), Some(4)));
        assert_eq!(
            e.to_string(),
            "line 2, column 4, `bé`: the manifest is not UTF-8"
        );
        let e = ManifestError::new(ManifestErrorKind::NotUtf8).at(text, 0, None);
        assert_eq!(e.to_string(), "line 1, column 1: the manifest is not UTF-8");
    }
}
