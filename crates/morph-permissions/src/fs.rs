//! The virtual filesystem: paths a guest names, and their confinement to a real folder.
//!
//! A guest names files as `DIR/PATH`: `DIR` is a virtual directory the host maps to a
//! real folder (its root), `PATH` is relative to it. [`VirtualPath`] checks the syntax
//! (no absolute paths, no `..`, no NUL, no Windows prefixes or separators); [`resolve`]
//! turns the part after `DIR` into a path under the root, refusing any symbolic link on
//! the way; [`open`] then opens it without following a link in its last component.
//!
//! # The check-then-open race
//!
//! [`resolve`] looks at each existing component with `symlink_metadata`, and [`open`]
//! opens with `O_NOFOLLOW` on Unix, which covers the last component at the moment of
//! opening. Between the check and the open, another process that can write under the
//! root could still swap a folder on the way for a link (a guest cannot: the contract
//! has no call that makes links). Closing that window needs the kernel's help (Linux
//! `openat2` with `RESOLVE_BENEATH`, or descending with `openat` and `O_NOFOLLOW` one
//! component at a time, as `cap-std` does); roots shared with untrusted local processes
//! should wait for that.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::{Error, ErrorKind};

/// The longest virtual path, in bytes.
pub const MAX_PATH_LEN: usize = 4096;
/// The longest segment of a virtual path, in bytes.
pub const MAX_SEGMENT_LEN: usize = 255;

/// A path in the virtual filesystem, e.g. `workspace/notes/a.txt`: `/`-separated
/// segments, the first naming a virtual directory.
///
/// Every segment is non-empty, at most [`MAX_SEGMENT_LEN`] bytes, not `.` or `..`, holds
/// no control character (NUL included), no `\` and no `:` (Windows separators, drives
/// and streams), and does not end with a dot or a space (which Windows drops, making
/// two names one file). The path does not start with `/`. Paths compare byte by byte:
/// on a case-insensitive filesystem `a/X` is refused by a grant for `a/x`, never the
/// other way round.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VirtualPath(String);

impl VirtualPath {
    /// Parses a path a guest names (see the type's docs).
    ///
    /// # Errors
    /// [`ErrorKind::Path`] naming what is wrong, [`ErrorKind::TooLong`] past
    /// [`MAX_PATH_LEN`] bytes.
    pub fn parse(text: &str) -> Result<VirtualPath, Error> {
        check_relative(text, false)
            .map(|()| VirtualPath(text.to_owned()))
            .map_err(|kind| Error::new(text, kind))
    }

    /// Parses a path as a grant writes it: segments of ASCII letters, digits, `_`, `-`
    /// and `.` only.
    pub(crate) fn parse_grant(text: &str) -> Result<VirtualPath, ErrorKind> {
        check_relative(text, true).map(|()| VirtualPath(text.to_owned()))
    }

    /// The virtual directory: the first segment.
    pub fn dir(&self) -> &str {
        self.0.split('/').next().unwrap_or_default()
    }

    /// The path inside the virtual directory (empty for the directory itself), ready for
    /// [`resolve`].
    pub fn within_dir(&self) -> &str {
        self.0.split_once('/').map_or("", |(_, rest)| rest)
    }

    /// Whether `prefix`'s segments are the first segments of this path.
    pub fn starts_with(&self, prefix: &VirtualPath) -> bool {
        self.0
            .strip_prefix(&prefix.0)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VirtualPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a relative path; `strict` limits segments to the characters a grant may use.
fn check_relative(text: &str, strict: bool) -> Result<(), ErrorKind> {
    let err = |reason| ErrorKind::Path {
        path: text.to_owned(),
        reason,
    };
    if text.len() > MAX_PATH_LEN {
        return Err(ErrorKind::TooLong {
            len: text.len(),
            max: MAX_PATH_LEN,
        });
    }
    if text.is_empty() {
        return Err(err("is empty"));
    }
    if text.starts_with('/') {
        return Err(err(
            "is absolute; name a virtual directory first (`DIR/...`)",
        ));
    }
    text.split('/')
        .try_for_each(|s| check_segment(s, strict).map_err(err))
}

fn check_segment(segment: &str, strict: bool) -> Result<(), &'static str> {
    if segment.is_empty() {
        return Err("has an empty segment (`//`, or `/` at the end)");
    }
    if segment == "." || segment == ".." {
        return Err("has a `.` or `..` segment");
    }
    if segment.len() > MAX_SEGMENT_LEN {
        return Err("has a segment longer than 255 bytes");
    }
    if segment.chars().any(char::is_control) {
        return Err("holds a control character");
    }
    if segment.contains(['\\', ':']) {
        return Err("holds `\\` or `:` (a Windows separator, drive or stream)");
    }
    if segment.ends_with(['.', ' ']) {
        return Err("has a segment ending with a dot or a space, which Windows drops");
    }
    if strict
        && !segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return Err("may hold only letters, digits, `_`, `-` and `.` in a grant");
    }
    Ok(())
}

/// The path under `root` that `guest_path` names, checking each component that exists
/// on the way: none may be a symbolic link. `guest_path` is relative to the root
/// (empty for the root itself) and follows [`VirtualPath`]'s rules. The root itself is
/// the host's choice and is trusted (it may be a link).
///
/// Components that do not exist yet are not checked (the file may be about to be
/// created); see the module docs for the race between this check and an open.
///
/// # Errors
/// [`ErrorKind::Path`] for an absolute path, `..`, NUL, a Windows prefix or separator,
/// [`ErrorKind::Symlink`] naming the first link on the way, [`ErrorKind::Io`] when a
/// component cannot be looked at (other than not existing).
pub fn resolve(root: &Path, guest_path: &str) -> Result<PathBuf, Error> {
    let mut path = root.to_path_buf();
    if guest_path.is_empty() {
        return Ok(path);
    }
    check_relative(guest_path, false).map_err(|kind| Error::new(guest_path, kind))?;
    let mut walked = 0;
    let mut exists = true;
    for segment in guest_path.split('/') {
        path.push(segment);
        walked += segment.len() + 1;
        if !exists {
            continue;
        }
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let component = guest_path.get(..walked - 1).unwrap_or(guest_path);
                return Err(Error::new(
                    guest_path,
                    ErrorKind::Symlink {
                        component: component.to_owned(),
                    },
                ));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => exists = false,
            Err(e) => return Err(io_error(guest_path, &e)),
        }
    }
    Ok(path)
}

/// Opens `guest_path` under `root` with `options`, after [`resolve`]; on Unix with
/// `O_NOFOLLOW`, so a link put in place of the last component since the check is
/// refused by the kernel (`ELOOP`).
///
/// # Errors
/// Those of [`resolve`], and [`ErrorKind::Io`] when the open fails.
pub fn open(root: &Path, guest_path: &str, options: &OpenOptions) -> Result<File, Error> {
    let path = resolve(root, guest_path)?;
    open_no_follow(&path, options).map_err(|e| match is_link_error(&e) {
        true => Error::new(
            guest_path,
            ErrorKind::Symlink {
                component: guest_path.to_owned(),
            },
        ),
        false => io_error(guest_path, &e),
    })
}

fn open_no_follow(path: &Path, options: &OpenOptions) -> std::io::Result<File> {
    let mut options = options.clone();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

/// Whether an open failed because its last component is a link (`ELOOP` with
/// `O_NOFOLLOW`).
fn is_link_error(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    return e.raw_os_error() == Some(libc::ELOOP);
    #[cfg(not(unix))]
    return false;
}

fn io_error(guest_path: &str, e: &std::io::Error) -> Error {
    Error::new(
        guest_path,
        ErrorKind::Io {
            kind: e.kind(),
            message: e.to_string(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_paths_are_relative_and_plain() {
        let p = VirtualPath::parse("workspace/notes/a b.txt").unwrap();
        assert_eq!(p.dir(), "workspace");
        assert_eq!(p.within_dir(), "notes/a b.txt");
        assert_eq!(VirtualPath::parse("workspace").unwrap().within_dir(), "");
        let cases = [
            ("", "is empty"),
            ("/etc/passwd", "is absolute"),
            ("a/../b", "`..`"),
            ("a/./b", "`.`"),
            ("..", "`..`"),
            ("a//b", "empty segment"),
            ("a/", "empty segment"),
            ("a/b\0", "control character"),
            ("C:/x", "Windows"),
            ("a\\..\\b", "Windows"),
            ("a/file.txt:stream", "Windows"),
            ("a/b.", "ending with a dot"),
            ("a/b ", "ending with a dot or a space"),
        ];
        for (text, want) in cases {
            let err = VirtualPath::parse(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
        let err = VirtualPath::parse_grant("a/b c").unwrap_err().to_string();
        assert!(err.contains("only letters"), "{err}");
        assert!(VirtualPath::parse(&"a/".repeat(MAX_PATH_LEN)).is_err());
        assert!(VirtualPath::parse(&"a".repeat(MAX_SEGMENT_LEN + 1)).is_err());
    }

    #[test]
    fn prefixes_match_by_segment() {
        let p = |s| VirtualPath::parse(s).unwrap();
        assert!(p("ws/out/a").starts_with(&p("ws/out")));
        assert!(p("ws/out").starts_with(&p("ws/out")));
        assert!(p("ws/out/a").starts_with(&p("ws")));
        assert!(!p("ws/outx").starts_with(&p("ws/out")));
        assert!(!p("ws").starts_with(&p("ws/out")));
    }

    #[test]
    fn resolve_stays_under_the_root() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("sub")).unwrap();
        std::fs::write(root.path().join("sub/a.txt"), "a").unwrap();
        assert_eq!(
            resolve(root.path(), "sub/a.txt").unwrap(),
            root.path().join("sub").join("a.txt")
        );
        assert_eq!(
            resolve(root.path(), "new/dir/b.txt").unwrap(),
            root.path().join("new/dir/b.txt")
        );
        assert_eq!(resolve(root.path(), "").unwrap(), root.path());
        for bad in ["../x", "/etc/passwd", "sub/../../x", "a\0b", "C:\\x"] {
            let e = resolve(root.path(), bad).unwrap_err();
            assert!(matches!(e.kind(), ErrorKind::Path { .. }), "{bad:?}: {e}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn resolve_and_open_refuse_symbolic_links() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("sub")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("sub/link")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), root.path().join("file"))
            .unwrap();

        let e = resolve(root.path(), "sub/link/secret").unwrap_err();
        assert_eq!(
            e.kind(),
            &ErrorKind::Symlink {
                component: "sub/link".to_owned()
            }
        );
        assert_eq!(
            e.to_string(),
            "`sub/link/secret`: `sub/link` is a symbolic link, which a guest path may not go through"
        );
        assert!(matches!(
            resolve(root.path(), "file").unwrap_err().kind(),
            ErrorKind::Symlink { .. }
        ));

        // O_NOFOLLOW: a link put in place after the check is refused by the kernel.
        let path = root.path().join("late");
        std::fs::write(&path, "x").unwrap();
        let checked = resolve(root.path(), "late").unwrap();
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), &path).unwrap();
        let e = open_no_follow(&checked, OpenOptions::new().read(true)).unwrap_err();
        assert!(is_link_error(&e), "{e}");

        let mut f = open(
            root.path(),
            "sub/new.txt",
            OpenOptions::new().write(true).create(true),
        )
        .unwrap();
        std::io::Write::write_all(&mut f, b"ok").unwrap();
        assert_eq!(
            std::fs::read(root.path().join("sub/new.txt")).unwrap(),
            b"ok"
        );
    }
}
