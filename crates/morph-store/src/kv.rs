//! The extensions' key-value stores: one namespace per extension, a quota checked in
//! the write transaction, the usage kept next to the data.
//!
//! Two tables: `kv` maps `(extension, key)` to the value, `kv_usage` maps an extension
//! to the bytes (keys and values) and keys its namespace holds. Every write updates both
//! in one redb transaction and checks the quota before it commits, so a refused write
//! writes nothing and the usage is always the sum of what is stored, even after a crash
//! (`tests/kv.rs` kills a writer with SIGKILL and checks).

use crate::error::quoted;
use crate::store::check_name;
use crate::{QuotaPart, Store, StoreError};
use morph_permissions::KvQuota;
use redb::{ReadableDatabase, ReadableTable, TableDefinition, TableError, WriteTransaction};

const KV: TableDefinition<'_, (&str, &str), &[u8]> = TableDefinition::new("kv");
const KV_USAGE: TableDefinition<'_, &str, (u64, u64)> = TableDefinition::new("kv_usage");

/// The longest key, in bytes.
pub const MAX_KV_KEY_LEN: usize = 1024;

/// What an extension's key-value store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct KvUsage {
    /// Bytes of keys and values together.
    pub bytes: u64,
    /// Keys.
    pub keys: u64,
}

pub(crate) fn create_tables(tx: &WriteTransaction) -> Result<(), TableError> {
    tx.open_table(KV)?;
    tx.open_table(KV_USAGE)?;
    Ok(())
}

/// What a value of `len` bytes under `key` counts against the quota.
fn entry_bytes(key: &str, len: usize) -> u64 {
    u64::try_from(key.len().saturating_add(len)).unwrap_or(u64::MAX)
}

fn check_key(key: &str) -> Result<(), StoreError> {
    let reason = if key.is_empty() {
        "is empty"
    } else if key.len() > MAX_KV_KEY_LEN {
        "is longer than 1024 bytes"
    } else {
        return Ok(());
    };
    Err(StoreError::InvalidKey {
        key: quoted(key),
        reason,
    })
}

impl Store {
    /// The value under `key` in `extension`'s store, if there is one.
    ///
    /// # Errors
    /// [`StoreError::InvalidRecord`] for an extension id the store refuses,
    /// [`StoreError::InvalidKey`] for an empty key or one over [`MAX_KV_KEY_LEN`]
    /// bytes, [`StoreError::Database`].
    pub fn kv_get(&self, extension: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        check_name("id", extension)?;
        check_key(key)?;
        let tx = self.db.begin_read().map_err(|e| self.db_err(e))?;
        let table = tx.open_table(KV).map_err(|e| self.db_err(e))?;
        let value = table.get((extension, key)).map_err(|e| self.db_err(e))?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    /// Stores `value` under `key` in `extension`'s store, if the store then keeps
    /// within `quota`; returns what it then holds.
    ///
    /// Keys and values are counted in bytes. A write that would leave the store over a
    /// part of the quota is refused, unless it shrinks that part (replacing a value
    /// with a smaller one in a store already over a lowered quota is allowed). The
    /// quota is checked inside the write transaction: a refused write writes nothing,
    /// and two writers cannot both pass the check on the same room.
    ///
    /// # Errors
    /// [`StoreError::QuotaExceeded`] (nothing written); [`StoreError::InvalidRecord`],
    /// [`StoreError::InvalidKey`] as for [`Store::kv_get`]; [`StoreError::Database`].
    pub fn kv_set(
        &self,
        extension: &str,
        key: &str,
        value: &[u8],
        quota: KvQuota,
    ) -> Result<KvUsage, StoreError> {
        self.kv_set_inner(extension, key, value, quota, true)
    }

    /// What [`Store::kv_set`] would do, without writing: the usage it would leave, or
    /// the error it would fail with. For dry runs.
    ///
    /// # Errors
    /// Those of [`Store::kv_set`].
    pub fn kv_check_set(
        &self,
        extension: &str,
        key: &str,
        value: &[u8],
        quota: KvQuota,
    ) -> Result<KvUsage, StoreError> {
        self.kv_set_inner(extension, key, value, quota, false)
    }

    fn kv_set_inner(
        &self,
        extension: &str,
        key: &str,
        value: &[u8],
        quota: KvQuota,
        commit: bool,
    ) -> Result<KvUsage, StoreError> {
        check_name("id", extension)?;
        check_key(key)?;
        let tx = self.db.begin_write().map_err(|e| self.db_err(e))?;
        let after = {
            let mut kv = tx.open_table(KV).map_err(|e| self.db_err(e))?;
            let mut usage = tx.open_table(KV_USAGE).map_err(|e| self.db_err(e))?;
            let before = read_usage(&usage, extension).map_err(|e| self.db_err(e))?;
            let old = kv
                .get((extension, key))
                .map_err(|e| self.db_err(e))?
                .map(|v| entry_bytes(key, v.value().len()));
            let after = KvUsage {
                bytes: before
                    .bytes
                    .saturating_sub(old.unwrap_or(0))
                    .saturating_add(entry_bytes(key, value.len())),
                keys: before.keys.saturating_add(u64::from(old.is_none())),
            };
            check_quota(extension, before, after, quota)?;
            if commit {
                kv.insert((extension, key), value)
                    .map_err(|e| self.db_err(e))?;
                usage
                    .insert(extension, (after.bytes, after.keys))
                    .map_err(|e| self.db_err(e))?;
            }
            after
        };
        match commit {
            true => tx.commit().map_err(|e| self.db_err(e))?,
            false => tx.abort().map_err(|e| self.db_err(e))?,
        }
        Ok(after)
    }

    /// Deletes `key` from `extension`'s store; returns whether it was there.
    ///
    /// # Errors
    /// [`StoreError::InvalidRecord`], [`StoreError::InvalidKey`] as for
    /// [`Store::kv_get`]; [`StoreError::Database`].
    pub fn kv_delete(&self, extension: &str, key: &str) -> Result<bool, StoreError> {
        check_name("id", extension)?;
        check_key(key)?;
        let tx = self.db.begin_write().map_err(|e| self.db_err(e))?;
        let existed = {
            let mut kv = tx.open_table(KV).map_err(|e| self.db_err(e))?;
            let mut usage = tx.open_table(KV_USAGE).map_err(|e| self.db_err(e))?;
            let removed = kv
                .remove((extension, key))
                .map_err(|e| self.db_err(e))?
                .map(|v| entry_bytes(key, v.value().len()));
            if let Some(bytes) = removed {
                let before = read_usage(&usage, extension).map_err(|e| self.db_err(e))?;
                let after = (
                    before.bytes.saturating_sub(bytes),
                    before.keys.saturating_sub(1),
                );
                match after {
                    (0, 0) => usage.remove(extension).map(drop),
                    after => usage.insert(extension, after).map(drop),
                }
                .map_err(|e| self.db_err(e))?;
            }
            removed.is_some()
        };
        tx.commit().map_err(|e| self.db_err(e))?;
        Ok(existed)
    }

    /// The keys of `extension`'s store that start with `prefix`, sorted by their bytes.
    ///
    /// # Errors
    /// [`StoreError::InvalidRecord`] for an extension id the store refuses;
    /// [`StoreError::Database`].
    pub fn kv_list_keys(&self, extension: &str, prefix: &str) -> Result<Vec<String>, StoreError> {
        check_name("id", extension)?;
        let tx = self.db.begin_read().map_err(|e| self.db_err(e))?;
        let table = tx.open_table(KV).map_err(|e| self.db_err(e))?;
        let mut keys = Vec::new();
        for item in table
            .range((extension, prefix)..)
            .map_err(|e| self.db_err(e))?
        {
            let (k, _) = item.map_err(|e| self.db_err(e))?;
            let (ext, key) = k.value();
            if ext != extension || !key.starts_with(prefix) {
                break;
            }
            keys.push(key.to_owned());
        }
        Ok(keys)
    }

    /// What `extension`'s store holds.
    ///
    /// # Errors
    /// [`StoreError::InvalidRecord`] for an extension id the store refuses;
    /// [`StoreError::Database`].
    pub fn kv_usage(&self, extension: &str) -> Result<KvUsage, StoreError> {
        check_name("id", extension)?;
        let tx = self.db.begin_read().map_err(|e| self.db_err(e))?;
        let usage = tx.open_table(KV_USAGE).map_err(|e| self.db_err(e))?;
        read_usage(&usage, extension).map_err(|e| self.db_err(e))
    }

    /// Deletes every key of `extension`'s store, in one transaction; returns what it
    /// held.
    ///
    /// # Errors
    /// [`StoreError::InvalidRecord`] for an extension id the store refuses;
    /// [`StoreError::Database`].
    pub fn kv_clear(&self, extension: &str) -> Result<KvUsage, StoreError> {
        check_name("id", extension)?;
        let tx = self.db.begin_write().map_err(|e| self.db_err(e))?;
        let before = {
            let mut kv = tx.open_table(KV).map_err(|e| self.db_err(e))?;
            let mut usage = tx.open_table(KV_USAGE).map_err(|e| self.db_err(e))?;
            let before = read_usage(&usage, extension).map_err(|e| self.db_err(e))?;
            let mut keys = Vec::new();
            for item in kv.range((extension, "")..).map_err(|e| self.db_err(e))? {
                let (k, _) = item.map_err(|e| self.db_err(e))?;
                let (ext, key) = k.value();
                if ext != extension {
                    break;
                }
                keys.push(key.to_owned());
            }
            for key in &keys {
                kv.remove((extension, key.as_str()))
                    .map_err(|e| self.db_err(e))?;
            }
            usage.remove(extension).map_err(|e| self.db_err(e))?;
            before
        };
        tx.commit().map_err(|e| self.db_err(e))?;
        Ok(before)
    }
}

fn read_usage(
    usage: &impl ReadableTable<&'static str, (u64, u64)>,
    extension: &str,
) -> Result<KvUsage, redb::StorageError> {
    Ok(usage
        .get(extension)?
        .map(|v| {
            let (bytes, keys) = v.value();
            KvUsage { bytes, keys }
        })
        .unwrap_or_default())
}

fn check_quota(
    extension: &str,
    before: KvUsage,
    after: KvUsage,
    quota: KvQuota,
) -> Result<(), StoreError> {
    let parts = [
        (QuotaPart::Bytes, before.bytes, after.bytes, quota.bytes()),
        (QuotaPart::Keys, before.keys, after.keys, quota.keys()),
    ];
    for (what, before, used, max) in parts {
        if used > max && used > before {
            return Err(StoreError::QuotaExceeded {
                extension: extension.to_owned(),
                what,
                used,
                max,
            });
        }
    }
    Ok(())
}
