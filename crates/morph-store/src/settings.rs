//! What a person set for an extension: the grants they gave it and its configuration.
//!
//! `grants` maps an extension id to the JSON list of its grants' canonical text
//! (`["http:GET https://api.github.com", "clock"]`), parsed back with
//! [`morph_permissions::Grant`]'s strict parser on every read; `config` maps an id to
//! its configuration as JSON text. Both are per extension id, not per version: an update
//! keeps them, and what a new version may use is the effective set computed from them.

use crate::store::check_name;
use crate::{Store, StoreError};
use morph_permissions::{Grant, GrantSet};
use redb::{ReadableDatabase, ReadableTable, TableDefinition, TableError, WriteTransaction};

const GRANTS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("grants");
const CONFIG: TableDefinition<'_, &str, &str> = TableDefinition::new("config");

/// The largest configuration, in bytes of JSON text.
pub const MAX_CONFIG_BYTES: usize = 1024 * 1024;

pub(crate) fn create_tables(tx: &WriteTransaction) -> Result<(), TableError> {
    tx.open_table(GRANTS)?;
    tx.open_table(CONFIG)?;
    Ok(())
}

impl Store {
    /// The grants a person gave extension `id`; empty when none were.
    ///
    /// # Errors
    /// [`StoreError::InvalidRecord`] for an id the store refuses;
    /// [`StoreError::CorruptRecord`] when a stored grant no longer parses;
    /// [`StoreError::Database`].
    pub fn grants(&self, id: &str) -> Result<GrantSet, StoreError> {
        check_name("id", id)?;
        let tx = self.db.begin_read().map_err(|e| self.db_err(e))?;
        let table = tx.open_table(GRANTS).map_err(|e| self.db_err(e))?;
        let value = table.get(id).map_err(|e| self.db_err(e))?;
        value.map_or(Ok(GrantSet::new()), |v| decode_grants(id, v.value()))
    }

    /// Replaces the grants of extension `id` with `grants` (an empty set removes them).
    ///
    /// # Errors
    /// [`StoreError::InvalidRecord`] for an id the store refuses;
    /// [`StoreError::Database`].
    pub fn set_grants(&self, id: &str, grants: &GrantSet) -> Result<(), StoreError> {
        self.update_grants(id, |g| *g = grants.clone())
    }

    /// Changes the grants of extension `id` with `change`, in one transaction (no other
    /// writer can change them in between); returns what `change` returns. An empty set
    /// afterwards removes the entry.
    ///
    /// # Errors
    /// Those of [`Store::grants`].
    pub fn update_grants<T>(
        &self,
        id: &str,
        change: impl FnOnce(&mut GrantSet) -> T,
    ) -> Result<T, StoreError> {
        check_name("id", id)?;
        let tx = self.db.begin_write().map_err(|e| self.db_err(e))?;
        let out = {
            let mut table = tx.open_table(GRANTS).map_err(|e| self.db_err(e))?;
            let mut grants = match table.get(id).map_err(|e| self.db_err(e))? {
                Some(v) => decode_grants(id, v.value())?,
                None => GrantSet::new(),
            };
            let out = change(&mut grants);
            if grants.is_empty() {
                table.remove(id).map_err(|e| self.db_err(e))?;
            } else {
                let bytes = serde_json::to_vec(&grants).map_err(|e| corrupt(id, &e))?;
                table
                    .insert(id, bytes.as_slice())
                    .map_err(|e| self.db_err(e))?;
            }
            out
        };
        tx.commit().map_err(|e| self.db_err(e))?;
        Ok(out)
    }

    /// Removes every grant of extension `id`; returns what was granted.
    ///
    /// # Errors
    /// Those of [`Store::grants`].
    pub fn remove_grants(&self, id: &str) -> Result<GrantSet, StoreError> {
        self.update_grants(id, std::mem::take)
    }

    /// The configuration of extension `id` as JSON text, if one was set.
    ///
    /// # Errors
    /// [`StoreError::InvalidRecord`] for an id the store refuses;
    /// [`StoreError::Database`].
    pub fn config(&self, id: &str) -> Result<Option<String>, StoreError> {
        check_name("id", id)?;
        let tx = self.db.begin_read().map_err(|e| self.db_err(e))?;
        let table = tx.open_table(CONFIG).map_err(|e| self.db_err(e))?;
        let value = table.get(id).map_err(|e| self.db_err(e))?;
        Ok(value.map(|v| v.value().to_owned()))
    }

    /// Sets the configuration of extension `id`. The store checks only that `json` is
    /// JSON of at most [`MAX_CONFIG_BYTES`] bytes; checking it against the extension's
    /// config schema is the caller's business (morph-capabilities does).
    ///
    /// # Errors
    /// [`StoreError::InvalidConfig`] when it is too large or not JSON;
    /// [`StoreError::InvalidRecord`] for an id the store refuses;
    /// [`StoreError::Database`].
    pub fn set_config(&self, id: &str, json: &str) -> Result<(), StoreError> {
        check_name("id", id)?;
        let invalid = |reason: String| StoreError::InvalidConfig {
            id: id.to_owned(),
            reason,
        };
        if json.len() > MAX_CONFIG_BYTES {
            return Err(invalid(format!(
                "it is {} bytes long (at most {MAX_CONFIG_BYTES})",
                json.len()
            )));
        }
        serde_json::from_str::<serde::de::IgnoredAny>(json)
            .map_err(|e| invalid(format!("it is not JSON: {e}")))?;
        let tx = self.db.begin_write().map_err(|e| self.db_err(e))?;
        tx.open_table(CONFIG)
            .map_err(|e| self.db_err(e))?
            .insert(id, json)
            .map_err(|e| self.db_err(e))?;
        tx.commit().map_err(|e| self.db_err(e))
    }

    /// Removes the configuration of extension `id`; returns whether there was one.
    ///
    /// # Errors
    /// [`StoreError::InvalidRecord`] for an id the store refuses;
    /// [`StoreError::Database`].
    pub fn remove_config(&self, id: &str) -> Result<bool, StoreError> {
        check_name("id", id)?;
        let tx = self.db.begin_write().map_err(|e| self.db_err(e))?;
        let existed = tx
            .open_table(CONFIG)
            .map_err(|e| self.db_err(e))?
            .remove(id)
            .map_err(|e| self.db_err(e))?
            .is_some();
        tx.commit().map_err(|e| self.db_err(e))?;
        Ok(existed)
    }
}

fn corrupt(id: &str, e: &dyn std::fmt::Display) -> StoreError {
    StoreError::CorruptRecord {
        id: id.to_owned(),
        message: format!("its grants: {e}"),
    }
}

fn decode_grants(id: &str, bytes: &[u8]) -> Result<GrantSet, StoreError> {
    let texts: Vec<String> = serde_json::from_slice(bytes).map_err(|e| corrupt(id, &e))?;
    texts
        .iter()
        .map(|t| t.parse::<Grant>().map_err(|e| corrupt(id, &e)))
        .collect()
}
