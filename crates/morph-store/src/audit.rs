//! The audit log: one record per permissioned host call, allowed, denied, dry-run or
//! failed.
//!
//! One table, `audit`: `(extension, sequence)` -> the record's JSON. The sequence counts
//! up per extension, so an extension's records read newest first by walking its range
//! backwards. Each append is its own durable transaction.

use crate::{Store, StoreError};
use redb::{ReadableDatabase, ReadableTable, TableDefinition, TableError, WriteTransaction};
use serde::{Deserialize, Serialize};
use std::fmt;

const AUDIT: TableDefinition<'_, (&str, u64), &[u8]> = TableDefinition::new("audit");

/// The longest `target` or `detail` kept, in bytes; longer text is cut at a character
/// boundary and ends in `...`.
pub const MAX_AUDIT_FIELD_LEN: usize = 1024;

pub(crate) fn create_tables(tx: &WriteTransaction) -> Result<(), TableError> {
    tx.open_table(AUDIT)?;
    Ok(())
}

/// What became of a permissioned call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditOutcome {
    /// Allowed and performed.
    Allowed,
    /// Refused for lack of a permission.
    Denied,
    /// A write in a dry run: recorded, not performed.
    DryRun,
    /// Allowed, then failed (a limit, the network, the service).
    Failed,
}

impl AuditOutcome {
    /// `allowed`, `denied`, `dry-run` or `failed`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Allowed => "allowed",
            AuditOutcome::Denied => "denied",
            AuditOutcome::DryRun => "dry-run",
            AuditOutcome::Failed => "failed",
        }
    }
}

impl fmt::Display for AuditOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One permissioned call. Serialises to the JSON `morph audit --json` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When, in milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The extension's id.
    pub extension: String,
    /// Its version.
    pub version: String,
    /// The action it was running, if any.
    pub action: Option<String>,
    /// The permission kind the call needs, e.g. `http`, `kv-write`.
    pub permission: String,
    /// What it was aimed at, e.g. `GET https://api.github.com/repos`, `key settings`.
    pub target: String,
    /// What became of it.
    pub outcome: AuditOutcome,
    /// More about it: the status, the bytes, the refusal or failure message.
    pub detail: String,
}

impl AuditRecord {
    /// The milliseconds since the Unix epoch now (0 if the clock is before it).
    #[must_use]
    pub fn now_ms() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// `text` cut to at most [`MAX_AUDIT_FIELD_LEN`] bytes at a character boundary.
fn cut(text: &mut String) {
    if text.len() <= MAX_AUDIT_FIELD_LEN {
        return;
    }
    let end = (0..=MAX_AUDIT_FIELD_LEN - 3)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    text.truncate(end);
    text.push_str("...");
}

impl Store {
    /// Appends `record` to its extension's audit log, its `target` and `detail` cut to
    /// [`MAX_AUDIT_FIELD_LEN`] bytes.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub fn append_audit(&self, record: &AuditRecord) -> Result<(), StoreError> {
        let mut record = record.clone();
        cut(&mut record.target);
        cut(&mut record.detail);
        let bytes = serde_json::to_vec(&record).map_err(|e| StoreError::CorruptRecord {
            id: record.extension.clone(),
            message: format!("its audit record: {e}"),
        })?;
        let ext = record.extension.as_str();
        let tx = self.db.begin_write().map_err(|e| self.db_err(e))?;
        {
            let mut table = tx.open_table(AUDIT).map_err(|e| self.db_err(e))?;
            let next = match table
                .range((ext, 0)..=(ext, u64::MAX))
                .map_err(|e| self.db_err(e))?
                .next_back()
            {
                Some(item) => {
                    let (k, _) = item.map_err(|e| self.db_err(e))?;
                    k.value().1.saturating_add(1)
                }
                None => 0,
            };
            table
                .insert((ext, next), bytes.as_slice())
                .map_err(|e| self.db_err(e))?;
        }
        tx.commit().map_err(|e| self.db_err(e))
    }

    /// The newest `limit` audit records of `extension`, newest first.
    ///
    /// # Errors
    /// [`StoreError::CorruptRecord`] when a record cannot be read;
    /// [`StoreError::Database`].
    pub fn audit(&self, extension: &str, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.db_err(e))?;
        let table = tx.open_table(AUDIT).map_err(|e| self.db_err(e))?;
        let mut out = Vec::new();
        let range = table
            .range((extension, 0)..=(extension, u64::MAX))
            .map_err(|e| self.db_err(e))?;
        for item in range.rev().take(limit) {
            let (_, v) = item.map_err(|e| self.db_err(e))?;
            let record =
                serde_json::from_slice(v.value()).map_err(|e| StoreError::CorruptRecord {
                    id: extension.to_owned(),
                    message: format!("an audit record: {e}"),
                })?;
            out.push(record);
        }
        Ok(out)
    }

    /// Deletes `extension`'s audit records but the newest `keep`; returns how many were
    /// deleted.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub fn prune_audit(&self, extension: &str, keep: usize) -> Result<usize, StoreError> {
        let tx = self.db.begin_write().map_err(|e| self.db_err(e))?;
        let deleted = {
            let mut table = tx.open_table(AUDIT).map_err(|e| self.db_err(e))?;
            let mut old = Vec::new();
            for item in table
                .range((extension, 0)..=(extension, u64::MAX))
                .map_err(|e| self.db_err(e))?
                .rev()
                .skip(keep)
            {
                let (k, _) = item.map_err(|e| self.db_err(e))?;
                old.push(k.value().1);
            }
            for seq in &old {
                table
                    .remove((extension, *seq))
                    .map_err(|e| self.db_err(e))?;
            }
            old.len()
        };
        tx.commit().map_err(|e| self.db_err(e))?;
        Ok(deleted)
    }
}
