//! `fs.*` (contract 0.2.0): each extension's virtual directories, kept as folders under
//! `ROOT/EXTENSION-ID/`, every path confined by [`morph_permissions::fs`] (no absolute
//! path, no `..`, no symbolic link on the way, `O_NOFOLLOW` on the last component).
//!
//! A write goes to a temporary file in the target's folder, reaches the disk, and is
//! renamed over the target, so a reader sees the old content or the new, never a mix;
//! a crash leaves at most a stray temporary file, which `list-dir` hides.

use crate::caps::shown;
use morph_abi::{HostError, HostErrorKind};
use morph_permissions::ErrorKind as PathError;
use morph_permissions::fs::{self, VirtualPath};
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Bounds on `fs.*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsLimits {
    /// The largest file `fs.read` hands over and `fs.write` writes, in bytes; past it
    /// the call fails with `limit-exceeded`. Default 16 MiB.
    pub max_file_bytes: u64,
    /// The most names `fs.list-dir` returns; past it `limit-exceeded`. Default 10 000.
    pub max_entries: usize,
}

impl Default for FsLimits {
    fn default() -> Self {
        FsLimits {
            max_file_bytes: 16 * 1024 * 1024,
            max_entries: 10_000,
        }
    }
}

/// The prefix of the temporary files writes go through; `list-dir` hides them.
const TEMP_PREFIX: &str = ".morph-write-";

fn err(kind: HostErrorKind, message: impl Into<String>) -> HostError {
    HostError::new(kind, message)
}

/// The folder that holds `extension`'s virtual directories.
///
/// # Errors
/// `unavailable` for an id that cannot name a folder (one the description check let
/// through but that holds `/`, say).
pub(crate) fn extension_root(root: &Path, extension: &str) -> Result<PathBuf, HostError> {
    match VirtualPath::parse(extension) {
        Ok(p) if p.within_dir().is_empty() => Ok(root.join(extension)),
        _ => Err(err(
            HostErrorKind::Unavailable,
            format!(
                "the id `{}` cannot name a folder, so this host keeps no files for it",
                extension.escape_debug()
            ),
        )),
    }
}

/// What a confinement or filesystem error means for the guest: the path's own faults
/// are `invalid-argument`, a missing file `not-found`; the host's failures stay in its
/// log.
fn path_failure(e: &morph_permissions::Error) -> HostError {
    match e.kind() {
        PathError::Io { kind, .. } if *kind == std::io::ErrorKind::NotFound => err(
            HostErrorKind::NotFound,
            format!("`{}` does not exist", shown(e.input())),
        ),
        PathError::Io { kind, message } => io_failure(e.input(), *kind, message),
        _ => err(HostErrorKind::InvalidArgument, e.to_string()),
    }
}

fn io_failure(path: &str, kind: std::io::ErrorKind, message: &str) -> HostError {
    use std::io::ErrorKind as K;
    match kind {
        K::NotFound => err(
            HostErrorKind::NotFound,
            format!("`{}` does not exist", shown(path)),
        ),
        K::IsADirectory => err(
            HostErrorKind::InvalidArgument,
            format!("`{}` is a folder", shown(path)),
        ),
        K::NotADirectory => err(
            HostErrorKind::InvalidArgument,
            format!("a part of `{}` is a file, not a folder", shown(path)),
        ),
        K::DirectoryNotEmpty => err(
            HostErrorKind::InvalidArgument,
            format!("the folder `{}` is not empty", shown(path)),
        ),
        K::StorageFull | K::QuotaExceeded => err(
            HostErrorKind::LimitExceeded,
            "the host's disk is full".to_owned(),
        ),
        _ => {
            tracing::error!(path, error = message, "a file operation failed");
            err(
                HostErrorKind::Internal,
                "the host's filesystem failed; see the host's log",
            )
        }
    }
}

fn io(path: &str) -> impl Fn(std::io::Error) -> HostError + '_ {
    move |e| io_failure(path, e.kind(), &e.to_string())
}

/// `fs.read`.
pub(crate) fn read(root: &Path, path: &str, limits: &FsLimits) -> Result<Vec<u8>, HostError> {
    let file = fs::open(root, path, OpenOptions::new().read(true)).map_err(|e| path_failure(&e))?;
    let meta = file.metadata().map_err(io(path))?;
    if meta.is_dir() {
        return Err(io_failure(path, std::io::ErrorKind::IsADirectory, ""));
    }
    too_large(path, meta.len(), limits)?;
    let mut data = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // One byte more than the cap: a file that grew since the check still fails.
    file.take(limits.max_file_bytes.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(io(path))?;
    too_large(path, data.len() as u64, limits)?;
    Ok(data)
}

fn too_large(path: &str, len: u64, limits: &FsLimits) -> Result<(), HostError> {
    if len > limits.max_file_bytes {
        return Err(err(
            HostErrorKind::LimitExceeded,
            format!(
                "`{}` holds {len} bytes; this host hands over files of at most {} bytes",
                shown(path),
                limits.max_file_bytes
            ),
        ));
    }
    Ok(())
}

/// `fs.write`, or in a dry run only its checks (`perform` false).
pub(crate) fn write(
    root: &Path,
    path: &str,
    data: &[u8],
    limits: &FsLimits,
    perform: bool,
) -> Result<(), HostError> {
    too_large(path, data.len() as u64, limits)?;
    let target = fs::resolve(root, path).map_err(|e| path_failure(&e))?;
    if target.is_dir() {
        return Err(io_failure(path, std::io::ErrorKind::IsADirectory, ""));
    }
    if !perform {
        return Ok(());
    }
    let folder = target
        .parent()
        .ok_or_else(|| err(HostErrorKind::InvalidArgument, "the path names no file"))?;
    std::fs::create_dir_all(folder).map_err(io(path))?;
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(|e| {
        err(
            HostErrorKind::Unavailable,
            format!("the system's random source failed: {e}"),
        )
    })?;
    let temp = folder.join(format!("{TEMP_PREFIX}{:016x}", u64::from_le_bytes(suffix)));
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        file.write_all(data)?;
        file.sync_all()?;
        std::fs::rename(&temp, &target)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(io(path)(e));
    }
    // The rename reaches the disk with the folder's entry.
    if let Ok(dir) = std::fs::File::open(folder) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// `fs.list-dir`.
pub(crate) fn list_dir(
    root: &Path,
    path: &str,
    limits: &FsLimits,
) -> Result<Vec<String>, HostError> {
    let folder = fs::resolve(root, path).map_err(|e| path_failure(&e))?;
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&folder).map_err(io(path))? {
        let entry = entry.map_err(io(path))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue; // not UTF-8: not a name a guest could have written
        };
        if name.starts_with(TEMP_PREFIX) {
            continue;
        }
        if names.len() == limits.max_entries {
            return Err(err(
                HostErrorKind::LimitExceeded,
                format!(
                    "`{}` holds more than {} names",
                    shown(path),
                    limits.max_entries
                ),
            ));
        }
        let is_dir = entry.file_type().map_err(io(path))?.is_dir();
        names.push(match is_dir {
            true => format!("{name}/"),
            false => name,
        });
    }
    names.sort();
    Ok(names)
}

/// `fs.remove`, or in a dry run only whether there is something to remove.
pub(crate) fn remove(root: &Path, path: &str, perform: bool) -> Result<bool, HostError> {
    let target = fs::resolve(root, path).map_err(|e| path_failure(&e))?;
    let meta = match std::fs::symlink_metadata(&target) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io(path)(e)),
    };
    if !perform {
        return Ok(true);
    }
    match meta.is_dir() {
        true => std::fs::remove_dir(&target),
        false => std::fs::remove_file(&target),
    }
    .map_err(io(path))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_reads_lists_and_removes_within_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let limits = FsLimits::default();
        write(root, "ws/notes/a.txt", b"hello", &limits, true).unwrap();
        assert_eq!(read(root, "ws/notes/a.txt", &limits).unwrap(), b"hello");
        write(root, "ws/notes/a.txt", b"bye", &limits, true).unwrap();
        assert_eq!(read(root, "ws/notes/a.txt", &limits).unwrap(), b"bye");
        assert_eq!(list_dir(root, "ws", &limits).unwrap(), ["notes/"]);
        assert_eq!(list_dir(root, "ws/notes", &limits).unwrap(), ["a.txt"]);
        let e = remove(root, "ws/notes", true).unwrap_err();
        assert_eq!(e.kind, HostErrorKind::InvalidArgument, "{e}");
        assert!(remove(root, "ws/notes/a.txt", true).unwrap());
        assert!(!remove(root, "ws/notes/a.txt", true).unwrap());
        let e = read(root, "ws/notes/a.txt", &limits).unwrap_err();
        assert_eq!(e.kind, HostErrorKind::NotFound, "{e}");
    }

    #[test]
    fn a_dry_run_checks_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let limits = FsLimits::default();
        write(dir.path(), "ws/a", b"x", &limits, false).unwrap();
        assert!(!dir.path().join("ws").exists());
        write(dir.path(), "ws/a", b"x", &limits, true).unwrap();
        assert!(remove(dir.path(), "ws/a", false).unwrap());
        assert!(dir.path().join("ws/a").exists());
    }

    #[test]
    fn escapes_are_refused_and_nothing_outside_is_touched() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ext");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(root.join("ws")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret"), b"s").unwrap();
        let limits = FsLimits::default();
        for path in [
            "ws/../../outside/secret",
            "/etc/passwd",
            "ws/./x",
            "ws/a\0b",
        ] {
            let e = read(&root, path, &limits).unwrap_err();
            assert_eq!(e.kind, HostErrorKind::InvalidArgument, "{path}: {e}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&outside, root.join("ws/link")).unwrap();
            std::os::unix::fs::symlink(outside.join("secret"), root.join("ws/file")).unwrap();
            for path in ["ws/link/secret", "ws/file"] {
                let e = read(&root, path, &limits).unwrap_err();
                assert_eq!(e.kind, HostErrorKind::InvalidArgument, "{path}: {e}");
                assert!(e.message.contains("symbolic link"), "{e}");
                let e = write(&root, path, b"x", &limits, true).unwrap_err();
                assert_eq!(e.kind, HostErrorKind::InvalidArgument, "{path}: {e}");
            }
            assert_eq!(std::fs::read(outside.join("secret")).unwrap(), b"s");
        }
    }

    #[test]
    fn files_over_the_cap_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let limits = FsLimits {
            max_file_bytes: 4,
            max_entries: 1,
        };
        let e = write(dir.path(), "ws/a", b"12345", &limits, true).unwrap_err();
        assert_eq!(e.kind, HostErrorKind::LimitExceeded);
        std::fs::create_dir_all(dir.path().join("ws")).unwrap();
        std::fs::write(dir.path().join("ws/big"), b"12345").unwrap();
        let e = read(dir.path(), "ws/big", &limits).unwrap_err();
        assert_eq!(e.kind, HostErrorKind::LimitExceeded);
        std::fs::write(dir.path().join("ws/other"), b"1").unwrap();
        let e = list_dir(dir.path(), "ws", &limits).unwrap_err();
        assert_eq!(e.kind, HostErrorKind::LimitExceeded);
    }
}
