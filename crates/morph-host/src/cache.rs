//! A cache of compiled code on disk, so that preparing a module this host compiled before
//! loads its native code instead of compiling it again.
//!
//! An entry is named by the SHA-256 of what the code depends on: the module's bytes, the
//! backend, the version of Morph and the limits compiled into the code (memory,
//! module size, metering and, under deterministic metering, the budget). Its file holds
//! an HMAC-SHA-256 of the rest, keyed with a random key made when the cache was created
//! (`key`, mode 0600), then the backend's framed code (`morph_runtime::frame_compiled`,
//! itself bound to the backend and its engine's version). Native code is handed to the
//! engine only when the HMAC matches: a truncated, corrupted or tampered file is refused,
//! deleted and compiled again. Whoever can read the key can forge an entry: the cache
//! defends against corruption and against other users, not against the user who runs
//! the host (who could replace the host itself).
//!
//! The cache is bounded: after each write, the least recently used entries (by
//! modification time, which a hit refreshes) go until the cache holds at most its size.

use crate::backend::Backend;
use hmac::{KeyInit, Mac};
use morph_runtime::{CompiledModule, Error, Limits, Metering, Result, Runtime};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

type HmacSha256 = hmac::Hmac<Sha256>;

/// Length of the HMAC at the start of an entry.
const MAC_LEN: usize = 32;
/// An entry's file name suffix.
const SUFFIX: &str = ".code";
/// The default size bound: 512 MiB.
pub const DEFAULT_CACHE_BYTES: u64 = 512 << 20;

/// A cache of compiled code in a folder; see the module docs. Cheap to clone, shared
/// by every host built with it.
#[derive(Clone)]
pub struct CodeCache {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    key: [u8; 32],
    max_bytes: u64,
    hits: AtomicU64,
    misses: AtomicU64,
    refused: AtomicU64,
}

impl std::fmt::Debug for CodeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeCache")
            .field("dir", &self.inner.dir)
            .field("max_bytes", &self.inner.max_bytes)
            .finish_non_exhaustive()
    }
}

/// What a cache did since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Modules loaded from the cache.
    pub hits: u64,
    /// Modules compiled (and then stored).
    pub misses: u64,
    /// Entries refused (HMAC mismatch, truncation, another engine) and compiled again.
    pub refused: u64,
}

/// One entry, as `morph cache ls` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    /// The entry's name (the hex SHA-256 of its key).
    pub name: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// When it was last used.
    pub used: std::time::SystemTime,
}

fn io_error(what: &str, path: &Path, e: &std::io::Error) -> Error {
    Error::engine(format!(
        "the code cache cannot {what} `{}`: {e}",
        path.display()
    ))
}

impl CodeCache {
    /// Opens the cache in `dir` (created when missing, with its key) bounded to
    /// `max_bytes`.
    ///
    /// # Errors
    /// `Engine` naming the path when the folder or the key cannot be created or read,
    /// or the key file is not 32 bytes.
    pub fn open(dir: impl Into<PathBuf>, max_bytes: u64) -> Result<CodeCache> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| io_error("create", &dir, &e))?;
        let key_path = dir.join("key");
        let key = match std::fs::read(&key_path) {
            Ok(bytes) => <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
                Error::engine(format!(
                    "the code cache's key `{}` is not 32 bytes; delete the cache folder",
                    key_path.display()
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => new_key(&key_path)?,
            Err(e) => return Err(io_error("read", &key_path, &e)),
        };
        Ok(CodeCache {
            inner: Arc::new(Inner {
                dir,
                key,
                max_bytes,
                hits: AtomicU64::new(0),
                misses: AtomicU64::new(0),
                refused: AtomicU64::new(0),
            }),
        })
    }

    /// The cache's folder.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// What the cache did since it was opened.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.inner.hits.load(Ordering::Relaxed),
            misses: self.inner.misses.load(Ordering::Relaxed),
            refused: self.inner.refused.load(Ordering::Relaxed),
        }
    }

    /// The entries, most recently used first.
    ///
    /// # Errors
    /// `Engine` when the folder cannot be read.
    pub fn entries(&self) -> Result<Vec<CacheEntry>> {
        let dir = &self.inner.dir;
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| io_error("read", dir, &e))? {
            let Ok(entry) = entry else { continue };
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(name) = name.strip_suffix(SUFFIX) else {
                continue;
            };
            let Ok(meta) = entry.metadata() else { continue };
            out.push(CacheEntry {
                name: name.to_owned(),
                bytes: meta.len(),
                used: meta.modified().unwrap_or(std::time::UNIX_EPOCH),
            });
        }
        out.sort_by_key(|e| std::cmp::Reverse(e.used));
        Ok(out)
    }

    /// Removes every entry (the key stays); returns how many there were.
    ///
    /// # Errors
    /// `Engine` when an entry cannot be removed.
    pub fn clear(&self) -> Result<usize> {
        let entries = self.entries()?;
        for e in &entries {
            let path = self.path(&e.name);
            std::fs::remove_file(&path).map_err(|err| io_error("remove", &path, &err))?;
        }
        Ok(entries.len())
    }

    fn path(&self, name: &str) -> PathBuf {
        self.inner.dir.join(format!("{name}{SUFFIX}"))
    }

    fn mac(&self, seal: &[u8]) -> Result<HmacSha256> {
        // HMAC takes a key of any length: this does not fail with a 32-byte key.
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.inner.key)
            .map_err(|e| Error::engine(format!("the code cache's key: {e}")))?;
        mac.update(seal);
        Ok(mac)
    }

    /// The code for `wasm` on `backend`'s `runtime` under `limits`: loaded when a valid
    /// entry exists, compiled (and stored) otherwise. A store that fails is logged, not an
    /// error: the cache only saves time. `Host::prepare` calls this; benchmarks do too.
    ///
    /// # Errors
    /// Those of [`Runtime::compile`].
    pub fn load_or_compile(
        &self,
        backend: Backend,
        runtime: &dyn Runtime,
        wasm: &[u8],
        limits: &Limits,
    ) -> Result<Arc<dyn CompiledModule>> {
        let name = entry_name(backend, wasm, limits);
        let path = self.path(&name);
        if let Some(module) = self.load(runtime, &path) {
            self.inner.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(module);
        }
        self.inner.misses.fetch_add(1, Ordering::Relaxed);
        let module = runtime.compile(wasm, limits)?;
        match runtime.serialize(&*module) {
            Ok(frame) => {
                if let Err(e) = self.store(&path, &frame) {
                    tracing::warn!("{e}");
                }
            }
            Err(e) => tracing::warn!("compiled code cannot be cached: {e}"),
        }
        Ok(module)
    }

    /// A valid entry's module; `None` (the entry removed when it exists but is refused)
    /// otherwise.
    fn load(&self, runtime: &dyn Runtime, path: &Path) -> Option<Arc<dyn CompiledModule>> {
        let bytes = std::fs::read(path).ok()?;
        let refuse = |why: &str| {
            tracing::warn!("refused cached code `{}`: {why}", path.display());
            self.inner.refused.fetch_add(1, Ordering::Relaxed);
            // Gone or not, it is compiled and written again next.
            let _ = std::fs::remove_file(path);
            None
        };
        let Some((mac, frame)) = bytes.split_at_checked(MAC_LEN) else {
            return refuse("truncated");
        };
        let Some(seal) = morph_runtime::frame_seal(frame) else {
            return refuse("it holds no framed code");
        };
        match self.mac(seal).map(|expected| expected.verify_slice(mac)) {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return refuse("its HMAC does not match (changed since it was written)"),
            Err(e) => return refuse(&e.to_string()),
        }
        // SAFETY: the frame is byte for byte what this cache stored from
        // `runtime.serialize`: the keyed HMAC checks its seal, and `deserialize` checks
        // the rest against the seal's SHA-256 digest before reading it; it also refuses
        // a frame of another backend, engine version or Morph version.
        match unsafe { runtime.deserialize(frame) } {
            Ok(module) => {
                // A hit makes it the most recently used; failing that only ages it.
                if let Ok(file) = std::fs::File::options().write(true).open(path) {
                    let _ = file.set_modified(std::time::SystemTime::now());
                }
                Some(module)
            }
            Err(e) => refuse(&e.to_string()),
        }
    }

    /// Writes an entry atomically (a temporary file renamed over it), then evicts the
    /// least recently used entries beyond the size bound.
    fn store(&self, path: &Path, frame: &[u8]) -> Result<()> {
        let seal = morph_runtime::frame_seal(frame)
            .ok_or_else(|| Error::engine("the backend's serialized code is not framed"))?;
        let mac = self.mac(seal)?.finalize().into_bytes();
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(&mac)?;
            file.write_all(frame)?;
            file.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_file(&tmp);
            return Err(io_error("write", path, &e));
        }
        self.evict()
    }

    fn evict(&self) -> Result<()> {
        let mut total: u64 = 0;
        for e in self.entries()? {
            total = total.saturating_add(e.bytes);
            if total > self.inner.max_bytes {
                let path = self.path(&e.name);
                std::fs::remove_file(&path).map_err(|err| io_error("remove", &path, &err))?;
            }
        }
        Ok(())
    }
}

/// The entry name for `wasm` on `backend` under `limits`: the hex SHA-256 of everything
/// the compiled code depends on.
fn entry_name(backend: Backend, wasm: &[u8], limits: &Limits) -> String {
    let mut h = Sha256::new();
    // The entry format: 2 is an HMAC of the frame's seal.
    h.update(b"morph-code-cache/2\0");
    h.update(Sha256::digest(wasm));
    h.update(backend.name().as_bytes());
    h.update([0]);
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update([0]);
    h.update(limits.max_memory_bytes.to_le_bytes());
    h.update(limits.max_module_bytes.to_le_bytes());
    match limits.metering {
        Metering::Native => h.update([0]),
        Metering::Deterministic => {
            h.update([1]);
            h.update(limits.fuel.unwrap_or(u64::MAX).to_le_bytes());
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Makes the cache's key: 32 random bytes in a file only the user can read.
fn new_key(path: &Path) -> Result<[u8; 32]> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key)
        .map_err(|e| Error::engine(format!("no randomness for the code cache's key: {e}")))?;
    let mut options = std::fs::File::options();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(path).and_then(|mut f| {
        f.write_all(&key)?;
        f.sync_all()
    });
    match written {
        Ok(()) => Ok(key),
        // Another process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let bytes = std::fs::read(path).map_err(|e| io_error("read", path, &e))?;
            <[u8; 32]>::try_from(bytes.as_slice())
                .map_err(|_| Error::engine("the code cache's key is being written; try again"))
        }
        Err(e) => Err(io_error("write", path, &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_change_with_what_the_code_depends_on() {
        let l = Limits::default();
        let a = entry_name(Backend::Wasmi, b"m", &l);
        assert_eq!(a.len(), 64);
        assert_eq!(a, entry_name(Backend::Wasmi, b"m", &l));
        assert_ne!(a, entry_name(Backend::Wasmi, b"n", &l));
        assert_ne!(a, entry_name(Backend::WasmtimeCore, b"m", &l));
        let memory = Limits {
            max_memory_bytes: 1 << 20,
            ..l.clone()
        };
        assert_ne!(a, entry_name(Backend::Wasmi, b"m", &memory));
        let det = |fuel| Limits {
            metering: Metering::Deterministic,
            fuel: Some(fuel),
            ..l.clone()
        };
        assert_ne!(
            entry_name(Backend::Wasmi, b"m", &det(1)),
            entry_name(Backend::Wasmi, b"m", &det(2))
        );
        // Per-call limits do not change the code.
        let timeout = Limits {
            timeout: std::time::Duration::from_secs(1),
            ..l.clone()
        };
        assert_eq!(a, entry_name(Backend::Wasmi, b"m", &timeout));
    }
}
