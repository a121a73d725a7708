//! The few manifest fields packaging and signing need.
//!
//! The manifest (`morph.toml`) is carried as opaque bytes: its full schema belongs to the
//! manifest crate. Here we read only the top-level `id`, `name`, `version` and `publisher`
//! keys and ignore everything else, so a manifest with fields we do not know still packs.

use crate::PackageError;

/// The manifest fields a package is identified by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestFields {
    /// The extension's id (top-level `id`), e.g. `github`.
    pub id: String,
    /// A display name (top-level `name`), if any.
    pub name: Option<String>,
    /// The version (top-level `version`), e.g. `1.2.0`. Not interpreted here.
    pub version: String,
    /// Who publishes it (top-level `publisher`), if the manifest names anyone. Signing needs it.
    pub publisher: Option<String>,
}

#[derive(serde::Deserialize)]
struct Raw {
    id: Option<toml::Value>,
    name: Option<toml::Value>,
    version: Option<toml::Value>,
    publisher: Option<toml::Value>,
}

/// The longest value accepted for `id`, `name`, `version` or `publisher`, in bytes.
pub const MAX_FIELD_LEN: usize = 256;

impl ManifestFields {
    /// Reads the fields from a manifest's bytes.
    ///
    /// # Errors
    /// [`PackageError::Manifest`] when the bytes are not UTF-8 or not TOML, when `id` or
    /// `version` is missing, when a field is not a string, or when a value is empty, longer
    /// than [`MAX_FIELD_LEN`] bytes, holds a control character or leading or trailing
    /// whitespace (the signed statement is
    /// line-based and must not be forgeable through a newline in a field).
    pub fn parse(manifest: &[u8]) -> Result<Self, PackageError> {
        let text = std::str::from_utf8(manifest).map_err(|e| {
            PackageError::Manifest(format!(
                "it is not UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ))
        })?;
        let raw: Raw = toml::from_str(text).map_err(|e| {
            PackageError::Manifest(format!("it is not valid TOML: {}", e.message()))
        })?;
        let id = required("id", raw.id)?;
        let version = required("version", raw.version)?;
        let name = optional("name", raw.name)?;
        let publisher = optional("publisher", raw.publisher)?;
        Ok(Self {
            id,
            name,
            version,
            publisher,
        })
    }
}

fn required(key: &str, value: Option<toml::Value>) -> Result<String, PackageError> {
    optional(key, value)?
        .ok_or_else(|| PackageError::Manifest(format!("the top-level `{key}` key is missing")))
}

fn optional(key: &str, value: Option<toml::Value>) -> Result<Option<String>, PackageError> {
    match value {
        None => Ok(None),
        Some(toml::Value::String(s)) => {
            check_field(key, &s).map_err(PackageError::Manifest)?;
            Ok(Some(s))
        }
        Some(other) => Err(PackageError::Manifest(format!(
            "`{key}` must be a string, not a {}",
            other.type_str()
        ))),
    }
}

/// Checks a value that goes into the signed statement: non-empty, at most
/// [`MAX_FIELD_LEN`] bytes, no control characters, no leading or trailing whitespace.
///
/// # Errors
/// A sentence naming the field and what is wrong with it.
pub fn check_field(key: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("`{key}` is empty"));
    }
    if value.len() > MAX_FIELD_LEN {
        return Err(format!(
            "`{key}` is {} bytes long (at most {MAX_FIELD_LEN})",
            value.len()
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("`{key}` holds a control character"));
    }
    if value.trim() != value {
        return Err(format!("`{key}` starts or ends with whitespace"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_top_level_fields_and_ignores_the_rest() {
        let m = br#"
id = "hello"
version = "1.2.0"
publisher = "Acme"
unknown = 3
[permissions]
id = "not this one"
"#;
        let f = ManifestFields::parse(m).unwrap();
        assert_eq!(f.id, "hello");
        assert_eq!(f.version, "1.2.0");
        assert_eq!(f.publisher.as_deref(), Some("Acme"));
        assert_eq!(f.name, None);
    }

    #[test]
    fn refuses_bad_manifests_with_a_reason() {
        let cases: [(&[u8], &str); 6] = [
            (b"version = \"1\"", "`id` key is missing"),
            (b"id = \"x\"", "`version` key is missing"),
            (
                b"id = 3\nversion = \"1\"",
                "`id` must be a string, not a integer",
            ),
            (b"id = \"a\\nb\"\nversion = \"1\"", "control character"),
            (b"id = \"\"\nversion = \"1\"", "`id` is empty"),
            (b"\xff\xfe", "not UTF-8"),
        ];
        for (bytes, want) in cases {
            let err = ManifestFields::parse(bytes).unwrap_err().to_string();
            assert!(err.contains(want), "{err:?} should contain {want:?}");
        }
        let err = ManifestFields::parse(b"id = ").unwrap_err().to_string();
        assert!(err.contains("not valid TOML"), "{err}");
    }
}
