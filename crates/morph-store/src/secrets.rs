//! Secrets: values the host holds and attaches to requests, bound to hosts and to the
//! form the service expects. A value never enters a guest, a `Debug` output or an error.
//!
//! One table, `secrets`: name -> JSON `{value, hosts, form}`. The database file is
//! private to its owner (mode 0600, see [`Store::open`]); values are not encrypted at
//! rest (a key would have to live next to them).

use crate::error::quoted;
use crate::{Store, StoreError};
use morph_permissions::{Host, HostPattern, Name};
use redb::{ReadableDatabase, ReadableTable, TableDefinition, TableError, WriteTransaction};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

const SECRETS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("secrets");

/// The longest secret value, in bytes.
pub const MAX_SECRET_LEN: usize = 8 * 1024;

pub(crate) fn create_tables(tx: &WriteTransaction) -> Result<(), TableError> {
    tx.open_table(SECRETS)?;
    Ok(())
}

/// A secret's value, as [`Store::secret`] hands it out. `Debug` prints `[redacted]`;
/// there is no `Display`. Read it with [`SecretValue::expose`], only to attach it to a
/// request.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    /// Checks a value: 1 to [`MAX_SECRET_LEN`] bytes, no control character but tab (it
    /// goes into an HTTP header). The reason never quotes the value.
    fn check(value: &str) -> Result<SecretValue, &'static str> {
        if value.is_empty() {
            Err("its value is empty")
        } else if value.len() > MAX_SECRET_LEN {
            Err("its value is longer than 8 KiB")
        } else if value.chars().any(|c| c.is_control() && c != '\t') {
            Err(
                "its value holds a control character (a line break, say), which cannot go into an HTTP header",
            )
        } else {
            Ok(SecretValue(value.to_owned()))
        }
    }

    /// The value itself: for attaching it to a request, never for showing.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// How a secret goes into a request: the form the service expects.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SecretForm {
    /// `authorization: Bearer VALUE` (GitHub, most OAuth APIs).
    Bearer,
    /// `authorization: Basic base64(USER:VALUE)` (JIRA Cloud with an API token: the
    /// user is the account's email).
    Basic {
        /// The user name sent with the value.
        user: String,
    },
    /// `NAME: VALUE` (`x-api-key`, say).
    Header {
        /// The header's name, in lower case.
        name: String,
    },
}

impl fmt::Display for SecretForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretForm::Bearer => f.write_str("bearer"),
            SecretForm::Basic { user } => write!(f, "basic (user `{}`)", quoted(user)),
            SecretForm::Header { name } => write!(f, "header `{name}`"),
        }
    }
}

/// Headers that route or frame an HTTP message, which the HTTP client sets: no secret is
/// sent as one (nor as a `proxy-*` one), and morph-capabilities lets no guest set one.
pub const FRAMING_HEADERS: [&str; 10] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "te",
    "trailer",
    "upgrade",
    "keep-alive",
    "expect",
    "forwarded",
];

impl SecretForm {
    /// Checks the form's parts: a basic user without `:` nor control characters; a
    /// header name that is an HTTP token, not a header the client sets (`host`,
    /// `content-length`, ...) nor a `proxy-` one. A header name is folded to lower case.
    fn checked(self) -> Result<SecretForm, String> {
        match self {
            SecretForm::Bearer => Ok(SecretForm::Bearer),
            SecretForm::Basic { user } => {
                if user.contains(':') || user.chars().any(char::is_control) {
                    Err("a basic user may not hold `:` nor a control character".to_owned())
                } else {
                    Ok(SecretForm::Basic { user })
                }
            }
            SecretForm::Header { name } => {
                let name = name.to_ascii_lowercase();
                let token = !name.is_empty()
                    && name.len() <= 128
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
                if !token {
                    Err(format!(
                        "the header name `{}` is not an HTTP header name",
                        quoted(&name)
                    ))
                } else if FRAMING_HEADERS.contains(&name.as_str()) || name.starts_with("proxy-") {
                    Err(format!(
                        "the header `{name}` is set by the HTTP client; a secret cannot be sent as it"
                    ))
                } else {
                    Ok(SecretForm::Header { name })
                }
            }
        }
    }
}

/// Where a secret may go and how: the hosts it is bound to and its form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretBinding {
    /// The hosts it may be sent to (at least one).
    pub hosts: BTreeSet<HostPattern>,
    /// How it is sent.
    pub form: SecretForm,
}

impl SecretBinding {
    /// Whether the secret may be sent to `host`.
    #[must_use]
    pub fn allows(&self, host: &Host) -> bool {
        self.hosts.iter().any(|p| p.matches(host))
    }
}

/// A secret as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    /// Its name, as extensions and `secret` grants name it.
    pub name: Name,
    /// Its value (`Debug` prints `[redacted]`).
    pub value: SecretValue,
    /// Where it may go and how.
    pub binding: SecretBinding,
}

/// The stored form.
#[derive(Serialize, Deserialize)]
struct Stored {
    value: String,
    hosts: Vec<String>,
    form: SecretForm,
}

impl Store {
    /// Stores the secret `name` (replacing one of that name) with its value and binding.
    ///
    /// # Errors
    /// [`StoreError::InvalidSecret`] for a malformed name, a value that is empty, over
    /// [`MAX_SECRET_LEN`] bytes or holds a control character but tab, a binding with no
    /// host, or a form whose parts are refused (see [`SecretForm`]); the message never
    /// quotes the value. [`StoreError::Database`].
    pub fn set_secret(
        &self,
        name: &str,
        value: &str,
        binding: &SecretBinding,
    ) -> Result<(), StoreError> {
        let invalid = |reason: String| StoreError::InvalidSecret {
            name: quoted(name),
            reason,
        };
        let name = Name::parse(name).map_err(|e| invalid(e.kind().to_string()))?;
        let value = SecretValue::check(value).map_err(|r| invalid(r.to_owned()))?;
        if binding.hosts.is_empty() {
            return Err(invalid(
                "it must be bound to at least one host it may be sent to".to_owned(),
            ));
        }
        let stored = Stored {
            value: value.0,
            hosts: binding.hosts.iter().map(ToString::to_string).collect(),
            form: binding.form.clone().checked().map_err(invalid)?,
        };
        let bytes = serde_json::to_vec(&stored).map_err(|e| invalid(e.to_string()))?;
        let tx = self.db.begin_write().map_err(|e| self.db_err(e))?;
        tx.open_table(SECRETS)
            .map_err(|e| self.db_err(e))?
            .insert(name.as_str(), bytes.as_slice())
            .map_err(|e| self.db_err(e))?;
        tx.commit().map_err(|e| self.db_err(e))
    }

    /// The secret `name`, if the store holds one.
    ///
    /// # Errors
    /// [`StoreError::CorruptRecord`] when its record cannot be read (never quoting the
    /// value); [`StoreError::Database`].
    pub fn secret(&self, name: &str) -> Result<Option<Secret>, StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.db_err(e))?;
        let table = tx.open_table(SECRETS).map_err(|e| self.db_err(e))?;
        let value = table.get(name).map_err(|e| self.db_err(e))?;
        value.map(|v| decode(name, v.value())).transpose()
    }

    /// Every secret's name and binding, by name; no value.
    ///
    /// # Errors
    /// Those of [`Store::secret`].
    pub fn secrets(&self) -> Result<Vec<(Name, SecretBinding)>, StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.db_err(e))?;
        let table = tx.open_table(SECRETS).map_err(|e| self.db_err(e))?;
        let mut out = Vec::new();
        for item in table.iter().map_err(|e| self.db_err(e))? {
            let (k, v) = item.map_err(|e| self.db_err(e))?;
            let secret = decode(k.value(), v.value())?;
            out.push((secret.name, secret.binding));
        }
        Ok(out)
    }

    /// Removes the secret `name`; returns whether there was one.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub fn remove_secret(&self, name: &str) -> Result<bool, StoreError> {
        let tx = self.db.begin_write().map_err(|e| self.db_err(e))?;
        let existed = tx
            .open_table(SECRETS)
            .map_err(|e| self.db_err(e))?
            .remove(name)
            .map_err(|e| self.db_err(e))?
            .is_some();
        tx.commit().map_err(|e| self.db_err(e))?;
        Ok(existed)
    }
}

fn decode(name: &str, bytes: &[u8]) -> Result<Secret, StoreError> {
    // serde_json's messages may quote the input, which holds the value: say only where.
    let corrupt = |what: &str| StoreError::CorruptRecord {
        id: format!("secret {}", quoted(name)),
        message: format!("its {what} cannot be read"),
    };
    let stored: Stored = serde_json::from_slice(bytes).map_err(|_| corrupt("record"))?;
    let hosts = stored
        .hosts
        .iter()
        .map(|h| h.parse::<HostPattern>())
        .collect::<Result<BTreeSet<_>, _>>()
        .map_err(|_| corrupt("hosts"))?;
    Ok(Secret {
        name: Name::parse(name).map_err(|_| corrupt("name"))?,
        value: SecretValue::check(&stored.value).map_err(|_| corrupt("value"))?,
        binding: SecretBinding {
            hosts,
            form: stored.form,
        },
    })
}
