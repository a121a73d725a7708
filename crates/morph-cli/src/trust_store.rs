//! Where the trust store lives, and reading and changing it from the command line.
//!
//! Every command that uses the store takes `--trust-store FILE`. Without it the store is
//! `$MORPH_HOME/trust.json`, where `MORPH_HOME` defaults to `$XDG_DATA_HOME/morph` (when
//! `XDG_DATA_HOME` is an absolute path, as the XDG spec requires) or else
//! `~/.local/share/morph`. A store that does not exist reads as empty; the first change
//! creates it and its folders (folders created here are `0700` on Unix: the store is not
//! secret, but whoever can write it decides what this machine installs).
//!
//! A change is read-modify-write of the whole file (morph-signing writes it atomically).
//! Two `morph trust` commands at once would each write their own version, so a change
//! holds an exclusive lock on `<store>.lock` from reading to writing.

use crate::exit::{Exit, Failure};
use clap::Args;
use morph_signing::{FileTrustStorage, TrustStorage, TrustStore};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Where the store is, for the end of `morph --help`.
pub const WHERE: &str = "The trust store (verify, trust) is `--trust-store FILE`, else $MORPH_HOME/trust.json;\nMORPH_HOME defaults to $XDG_DATA_HOME/morph, else ~/.local/share/morph.";

/// The help text of `--trust-store`, shared by every command that takes it.
pub const HELP: &str = "The trust store file [default: $MORPH_HOME/trust.json; MORPH_HOME defaults to $XDG_DATA_HOME/morph, else ~/.local/share/morph]. Created with its folders on the first change";

/// `--trust-store FILE`.
#[derive(Args, Debug)]
pub struct TrustStoreArg {
    #[arg(long, value_name = "FILE", help = HELP)]
    trust_store: Option<PathBuf>,
}

/// Morph's home folder, from the environment `var` reads: `MORPH_HOME`, else an absolute
/// `XDG_DATA_HOME`/morph, else `HOME`/.local/share/morph; `None` when none is set. The
/// trust store and the local store of installed extensions both live there.
pub fn morph_home(var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let set = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    set("MORPH_HOME")
        .or_else(|| {
            set("XDG_DATA_HOME")
                .filter(|p| p.is_absolute())
                .map(|p| p.join("morph"))
        })
        .or_else(|| set("HOME").map(|h| h.join(".local/share/morph")))
}

/// The default store, from the environment `var` reads; `None` when neither
/// `MORPH_HOME`, an absolute `XDG_DATA_HOME` nor `HOME` is set.
fn default_path(var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    morph_home(var).map(|home| home.join("trust.json"))
}

impl TrustStoreArg {
    /// The store's file: `--trust-store`, or the default.
    ///
    /// # Errors
    /// Exit 2 when there is no flag and no environment to find the default in.
    pub fn path(&self) -> Result<PathBuf, Failure> {
        if let Some(path) = &self.trust_store {
            return Ok(path.clone());
        }
        default_path(|name| std::env::var_os(name)).ok_or_else(|| {
            Failure::new(
                Exit::Usage,
                "cannot tell where the trust store is (none of MORPH_HOME, XDG_DATA_HOME or HOME is set); set MORPH_HOME or pass `--trust-store FILE`",
            )
        })
    }

    /// Reads the store (empty when its file does not exist). Returns it with its path.
    ///
    /// # Errors
    /// As [`TrustStoreArg::path`]; exit 3 when the file cannot be read, 14 when it is not
    /// a trust store.
    pub fn load(&self) -> Result<(TrustStore, PathBuf), Failure> {
        let path = self.path()?;
        let store = FileTrustStorage::new(&path).load()?;
        Ok((store, path))
    }

    /// Changes the store: reads it under the lock, lets `change` edit it, and writes it
    /// back when `change` returns `Ok(true)` (`Ok(false)`: nothing to write). Returns what
    /// `change` returned with the store's path.
    ///
    /// # Errors
    /// As [`TrustStoreArg::load`]; exit 3 when a folder, the lock or the file cannot be
    /// written; what `change` fails with (the store is then left as it was).
    pub fn change(
        &self,
        change: impl FnOnce(&mut TrustStore, &Path) -> Result<bool, Failure>,
    ) -> Result<(bool, PathBuf), Failure> {
        let path = self.path()?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dirs(dir)?;
        }
        let _lock = lock(&path)?;
        let storage = FileTrustStorage::new(&path);
        let mut store = storage.load()?;
        let changed = change(&mut store, &path)?;
        if changed {
            storage.save(&store)?;
        }
        Ok((changed, path))
    }
}

fn create_private_dirs(dir: &Path) -> Result<(), Failure> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| {
        Failure::new(
            Exit::File,
            format!("cannot create the folder `{}`: {e}", dir.display()),
        )
    })
}

/// An exclusive lock on `<store>.lock`, released when the file is dropped.
fn lock(store: &Path) -> Result<std::fs::File, Failure> {
    let mut name = store.as_os_str().to_owned();
    name.push(".lock");
    let path = PathBuf::from(name);
    let fail = |e: std::io::Error| {
        Failure::new(
            Exit::File,
            format!("cannot lock the trust store with `{}`: {e}", path.display()),
        )
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(fail)?;
    file.lock().map_err(fail)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::collections::HashMap;

    fn with(vars: &[(&str, &str)]) -> Option<PathBuf> {
        let map: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
            .collect();
        default_path(|name| map.get(name).cloned())
    }

    #[test]
    fn the_default_store_follows_morph_home_then_xdg_then_home() {
        let all = [
            ("MORPH_HOME", "/m"),
            ("XDG_DATA_HOME", "/x"),
            ("HOME", "/h"),
        ];
        assert_eq!(with(&all), Some("/m/trust.json".into()));
        assert_eq!(with(&all[1..]), Some("/x/morph/trust.json".into()));
        assert_eq!(
            with(&all[2..]),
            Some("/h/.local/share/morph/trust.json".into())
        );
        // Empty values are unset; a relative XDG_DATA_HOME is invalid and ignored.
        assert_eq!(
            with(&[("MORPH_HOME", ""), ("XDG_DATA_HOME", "rel"), ("HOME", "/h")]),
            Some("/h/.local/share/morph/trust.json".into())
        );
        assert_eq!(with(&[]), None);
    }

    #[test]
    fn a_change_creates_folders_and_a_failed_change_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/trust.json");
        let arg = TrustStoreArg {
            trust_store: Some(path.clone()),
        };
        let digest = morph_package::Digest::of(b"x");
        let (changed, _) = arg
            .change(|store, _| {
                store.deny(digest, "test");
                Ok(true)
            })
            .unwrap();
        assert!(changed);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("a/b"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        let err = arg
            .change(|store, _| {
                store.allow(&digest);
                Err(Failure::new(Exit::BadRequest, "no"))
            })
            .err()
            .unwrap();
        assert_eq!(err.exit(), Exit::BadRequest);
        let (store, _) = arg.load().unwrap();
        assert_eq!(store.denied_reason(&digest), Some("test"));
    }
}
