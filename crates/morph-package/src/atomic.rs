//! Atomic file replacement.

use std::io::Write;
use std::path::Path;

/// Replaces `path` with `bytes` so that a reader sees either the old file or the new one,
/// never a part: the bytes go to a temporary file in the same folder, which is synced,
/// then renamed over `path`, and the folder is synced so the rename survives a crash.
///
/// # Errors
/// The I/O error of the first step that fails (the temporary file is removed then).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".morph-tmp-")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    // Windows cannot open a folder as a file to sync it; the rename is what we can do.
    Ok(())
}
