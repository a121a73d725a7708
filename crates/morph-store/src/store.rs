//! The store: records in redb, package bytes in content-addressed files.

use crate::StoreError;
use morph_package::Digest;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What [`Record::key_id`] says for a package installed without a signature.
pub const UNSIGNED: &str = "unsigned";

/// One table: extension id -> the JSON of its [`Installed`] entry. One entry per
/// extension keeps "record the version and make it active" a single insert.
const EXTENSIONS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("extensions");

/// One installed version of an extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The extension's id (the manifest's `id`).
    pub id: String,
    /// Its version (the manifest's `version`).
    pub version: String,
    /// The sha256 of the whole package file: the name of its blob.
    pub package_digest: Digest,
    /// The sha256 of the manifest.
    pub manifest_digest: Digest,
    /// The sha256 of the module.
    pub module_digest: Digest,
    /// Who publishes it (the manifest's `publisher`; empty when it names nobody).
    pub publisher: String,
    /// The id of the key that signed it, or [`UNSIGNED`].
    pub key_id: String,
    /// When it was installed, in seconds since the Unix epoch.
    pub installed_at: u64,
}

/// Every installed version of one extension, and which one is active.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installed {
    /// The extension's id.
    pub id: String,
    /// The active version, if any.
    pub active: Option<String>,
    /// The installed versions, in the order they were installed.
    pub versions: Vec<Record>,
}

impl Installed {
    /// The active version's record.
    #[must_use]
    pub fn active_record(&self) -> Option<&Record> {
        let active = self.active.as_deref()?;
        self.versions.iter().find(|r| r.version == active)
    }

    fn version_list(&self) -> String {
        let names: Vec<&str> = self.versions.iter().map(|r| r.version.as_str()).collect();
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    }
}

/// The local store: a folder with `store.redb` and `blobs/sha256/`. See the crate docs.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    db_path: PathBuf,
    pub(crate) db: Database,
}

impl Store {
    /// Opens the store in `dir`, creating the folder, the blob folder and the database
    /// when they do not exist. On Unix the database file is made readable and writable
    /// by its owner only (mode 0600), whether it is new or not: it holds secrets.
    ///
    /// # Errors
    /// [`StoreError::Io`] when a folder cannot be created or the database file's mode
    /// cannot be set; [`StoreError::Busy`] when another process has the store open;
    /// [`StoreError::Database`] when the database cannot be opened (not a redb file, or
    /// damaged).
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let dir = dir.into();
        let blobs = dir.join("blobs").join("sha256");
        std::fs::create_dir_all(&blobs).map_err(|source| StoreError::Io {
            action: "cannot create the store folder",
            path: blobs.clone(),
            source,
        })?;
        let db_path = dir.join("store.redb");
        make_private(&db_path)?;
        let db = Database::create(&db_path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Busy {
                path: db_path.clone(),
            },
            other => db_error(&db_path, other),
        })?;
        let store = Store { dir, db_path, db };
        // Create every table once, so that readers never meet a missing one.
        let tx = store.db.begin_write().map_err(|e| store.db_err(e))?;
        tx.open_table(EXTENSIONS).map_err(|e| store.db_err(e))?;
        crate::settings::create_tables(&tx).map_err(|e| store.db_err(e))?;
        crate::kv::create_tables(&tx).map_err(|e| store.db_err(e))?;
        crate::secrets::create_tables(&tx).map_err(|e| store.db_err(e))?;
        crate::audit::create_tables(&tx).map_err(|e| store.db_err(e))?;
        tx.commit().map_err(|e| store.db_err(e))?;
        Ok(store)
    }

    /// The database file (`store.redb` in the store's folder).
    #[must_use]
    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// The store's folder.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the blob of a package with `digest` lives.
    #[must_use]
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir.join("blobs").join("sha256").join(digest.hex())
    }

    /// Installs `record` with the package's bytes and makes it the active version. A
    /// version already installed is replaced by the new record.
    ///
    /// The blob is written and synced before the record's transaction commits, so a
    /// crash leaves either the previous state or the new one.
    ///
    /// # Errors
    /// [`StoreError::InvalidRecord`] for an empty or unprintable id or version;
    /// [`StoreError::DigestMismatch`] when `package` does not hash to
    /// `record.package_digest`; [`StoreError::Io`] when the blob cannot be written;
    /// [`StoreError::Database`] or [`StoreError::CorruptRecord`] from the database. The
    /// previous state is kept in every case.
    pub fn install(&self, record: Record, package: &[u8]) -> Result<(), StoreError> {
        self.install_with(record, package, || Ok(()))
    }

    /// [`Store::install`] with `before_commit` run between writing the blob and
    /// committing the record: an error from it aborts the install. For tests that show a
    /// failure at the last moment leaves the previous state.
    #[doc(hidden)]
    pub fn install_with(
        &self,
        record: Record,
        package: &[u8],
        before_commit: impl FnOnce() -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        check_name("id", &record.id)?;
        check_name("version", &record.version)?;
        let actual = Digest::of(package);
        if actual != record.package_digest {
            return Err(StoreError::DigestMismatch {
                id: record.id,
                version: record.version,
                expected: record.package_digest.to_string(),
                actual: actual.to_string(),
            });
        }
        let blob = self.blob_path(&record.package_digest);
        // Same digest, same bytes: an existing blob that still verifies is kept.
        if !self.blob_matches(&blob, &record.package_digest) {
            morph_package::write_atomic(&blob, package).map_err(|source| StoreError::Io {
                action: "cannot write the package blob",
                path: blob.clone(),
                source,
            })?;
        }

        let tx = self.db.begin_write().map_err(|e| self.db_err(e))?;
        {
            let mut table = tx.open_table(EXTENSIONS).map_err(|e| self.db_err(e))?;
            let mut entry = match table.get(record.id.as_str()).map_err(|e| self.db_err(e))? {
                Some(bytes) => decode(&record.id, bytes.value())?,
                None => Installed {
                    id: record.id.clone(),
                    active: None,
                    versions: Vec::new(),
                },
            };
            entry.versions.retain(|r| r.version != record.version);
            entry.active = Some(record.version.clone());
            entry.versions.push(record);
            let bytes = encode(&entry)?;
            table
                .insert(entry.id.as_str(), bytes.as_slice())
                .map_err(|e| self.db_err(e))?;
        }
        // Dropping `tx` without committing aborts it.
        before_commit()?;
        tx.commit().map_err(|e| self.db_err(e))
    }

    /// Every installed extension, by id.
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::CorruptRecord`].
    pub fn list(&self) -> Result<Vec<Installed>, StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.db_err(e))?;
        let table = tx.open_table(EXTENSIONS).map_err(|e| self.db_err(e))?;
        let mut out = Vec::new();
        for item in table.iter().map_err(|e| self.db_err(e))? {
            let (key, value) = item.map_err(|e| self.db_err(e))?;
            out.push(decode(key.value(), value.value())?);
        }
        Ok(out)
    }

    /// The versions of extension `id`, or `None` when it is not installed.
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::CorruptRecord`].
    pub fn get(&self, id: &str) -> Result<Option<Installed>, StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.db_err(e))?;
        let table = tx.open_table(EXTENSIONS).map_err(|e| self.db_err(e))?;
        let value = table.get(id).map_err(|e| self.db_err(e))?;
        value.map(|v| decode(id, v.value())).transpose()
    }

    /// The active version of `id` with its package's bytes, checked against the
    /// record's digest; `None` when it is not installed.
    ///
    /// # Errors
    /// [`StoreError::BlobCorrupt`] when the blob is missing or no longer has its digest;
    /// what [`Store::get`] fails with.
    pub fn active(&self, id: &str) -> Result<Option<(Record, Vec<u8>)>, StoreError> {
        let Some(entry) = self.get(id)? else {
            return Ok(None);
        };
        let Some(record) = entry.active_record().cloned() else {
            return Ok(None);
        };
        let bytes = self.package(&record)?;
        Ok(Some((record, bytes)))
    }

    /// The package bytes of `record`, checked against its digest.
    ///
    /// # Errors
    /// [`StoreError::BlobCorrupt`] when the blob is missing or no longer has its digest.
    pub fn package(&self, record: &Record) -> Result<Vec<u8>, StoreError> {
        let path = self.blob_path(&record.package_digest);
        let corrupt = || StoreError::BlobCorrupt {
            id: record.id.clone(),
            version: record.version.clone(),
            path: path.clone(),
        };
        let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => corrupt(),
            _ => StoreError::Io {
                action: "cannot read the package blob",
                path: path.clone(),
                source: e,
            },
        })?;
        if Digest::of(&bytes) != record.package_digest {
            return Err(corrupt());
        }
        Ok(bytes)
    }

    /// Makes `version` of `id` the active one.
    ///
    /// # Errors
    /// [`StoreError::NotInstalled`], [`StoreError::NoSuchVersion`], or from the database.
    pub fn set_active(&self, id: &str, version: &str) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(|e| self.db_err(e))?;
        {
            let mut table = tx.open_table(EXTENSIONS).map_err(|e| self.db_err(e))?;
            let mut entry = match table.get(id).map_err(|e| self.db_err(e))? {
                Some(bytes) => decode(id, bytes.value())?,
                None => return Err(StoreError::NotInstalled { id: id.to_owned() }),
            };
            if !entry.versions.iter().any(|r| r.version == version) {
                return Err(StoreError::NoSuchVersion {
                    id: id.to_owned(),
                    version: version.to_owned(),
                    installed: entry.version_list(),
                });
            }
            entry.active = Some(version.to_owned());
            let bytes = encode(&entry)?;
            table
                .insert(id, bytes.as_slice())
                .map_err(|e| self.db_err(e))?;
        }
        tx.commit().map_err(|e| self.db_err(e))
    }

    /// Removes every version of `id`. Returns what was removed. With `purge`, blobs that
    /// no record names any more (this extension's and any left by an interrupted
    /// install) are deleted too, after the records are gone; without it they stay as
    /// garbage the store ignores.
    ///
    /// # Errors
    /// [`StoreError::NotInstalled`]; from the database; [`StoreError::Io`] when a blob
    /// cannot be deleted (the records are removed by then).
    pub fn uninstall(&self, id: &str, purge: bool) -> Result<Installed, StoreError> {
        let tx = self.db.begin_write().map_err(|e| self.db_err(e))?;
        let removed = {
            let mut table = tx.open_table(EXTENSIONS).map_err(|e| self.db_err(e))?;
            let removed = table.remove(id).map_err(|e| self.db_err(e))?;
            match removed {
                Some(bytes) => decode(id, bytes.value())?,
                None => return Err(StoreError::NotInstalled { id: id.to_owned() }),
            }
        };
        tx.commit().map_err(|e| self.db_err(e))?;
        if purge {
            self.collect_garbage()?;
        }
        Ok(removed)
    }

    /// Deletes every blob (and leftover temporary file) no record names. Returns how
    /// many files were deleted.
    ///
    /// # Errors
    /// From the database; [`StoreError::Io`] when the blob folder cannot be read or a
    /// file deleted.
    pub fn collect_garbage(&self) -> Result<usize, StoreError> {
        let live: std::collections::HashSet<String> = self
            .list()?
            .iter()
            .flat_map(|e| e.versions.iter().map(|r| r.package_digest.hex()))
            .collect();
        let dir = self.dir.join("blobs").join("sha256");
        let io = |action, path: &Path| {
            let path = path.to_owned();
            move |source| StoreError::Io {
                action,
                path,
                source,
            }
        };
        let mut deleted = 0;
        for item in std::fs::read_dir(&dir).map_err(io("cannot read the blob folder", &dir))? {
            let item = item.map_err(io("cannot read the blob folder", &dir))?;
            let name = item.file_name();
            if live.contains(name.to_string_lossy().as_ref()) {
                continue;
            }
            let path = item.path();
            std::fs::remove_file(&path).map_err(io("cannot delete the blob", &path))?;
            deleted += 1;
        }
        Ok(deleted)
    }

    fn blob_matches(&self, path: &Path, digest: &Digest) -> bool {
        std::fs::read(path).is_ok_and(|bytes| Digest::of(&bytes) == *digest)
    }

    pub(crate) fn db_err(&self, e: impl Into<redb::Error>) -> StoreError {
        db_error(&self.db_path, e)
    }
}

/// Creates the database file with mode 0600 if it does not exist, and sets that mode if
/// it does (a store made before secrets were kept in it). Elsewhere than Unix the file
/// is left to redb and the folder's permissions.
#[cfg(unix)]
fn make_private(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let io = |action| {
        move |source| StoreError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    };
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(io("cannot create the store database"))?;
    let mode = std::fs::metadata(path)
        .map_err(io("cannot read the store database's permissions"))?
        .permissions()
        .mode();
    if mode & 0o777 != 0o600 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(io("cannot make the store database private (mode 0600)"))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn make_private(_path: &Path) -> Result<(), StoreError> {
    Ok(())
}

fn db_error(path: &Path, e: impl Into<redb::Error>) -> StoreError {
    StoreError::Database {
        path: path.to_owned(),
        message: e.into().to_string(),
    }
}

fn encode(entry: &Installed) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(entry).map_err(|e| StoreError::CorruptRecord {
        id: entry.id.clone(),
        message: e.to_string(),
    })
}

fn decode(id: &str, bytes: &[u8]) -> Result<Installed, StoreError> {
    let entry: Installed =
        serde_json::from_slice(bytes).map_err(|e| StoreError::CorruptRecord {
            id: id.to_owned(),
            message: e.to_string(),
        })?;
    if entry.id != id {
        return Err(StoreError::CorruptRecord {
            id: id.to_owned(),
            message: format!("it is filed under `{id}` but names `{}`", entry.id),
        });
    }
    Ok(entry)
}

pub(crate) fn check_name(field: &'static str, value: &str) -> Result<(), StoreError> {
    morph_package::check_field(field, value).map_err(|reason| StoreError::InvalidRecord {
        field,
        value: value.to_owned(),
        reason,
    })
}
