//! `morph cache`: the compiled-code cache (`$MORPH_HOME/cache`) that makes a module
//! prepared before load instead of compiling.

use crate::exit::{Exit, Failure};
use crate::output::Out;
use clap::{Args, Subcommand};
use morph_host::CodeCache;
use std::io::Write;
use std::path::PathBuf;

/// `morph cache`.
#[derive(Args, Debug)]
pub struct CacheArgs {
    #[command(subcommand)]
    command: CacheCommand,
}

#[derive(Subcommand, Debug)]
enum CacheCommand {
    /// List the entries, most recently used first: name and size.
    Ls,
    /// Remove every entry.
    Clear,
}

/// `$MORPH_HOME/cache`, when the environment says where Morph's home is.
pub fn dir() -> Option<PathBuf> {
    crate::trust_store::morph_home(|name| std::env::var_os(name)).map(|home| home.join("cache"))
}

/// The cache the commands that compile use; `None` (compiling every time) when there is
/// no home or the cache cannot be opened (logged).
pub fn open() -> Option<CodeCache> {
    let dir = dir()?;
    CodeCache::open(&dir, morph_host::DEFAULT_CACHE_BYTES)
        .inspect_err(|e| tracing::warn!("compiling without the code cache: {e}"))
        .ok()
}

/// Lists or clears the cache.
///
/// # Errors
/// Exit 2 when there is no home to find the cache in; 1 when it cannot be read or
/// cleared; a failing stdout.
pub fn execute(args: &CacheArgs, out: &mut Out<impl Write>) -> Result<(), Failure> {
    let dir = dir().ok_or_else(|| {
        Failure::new(
            Exit::Usage,
            "cannot tell where the cache is (none of MORPH_HOME, XDG_DATA_HOME or HOME is set); set MORPH_HOME",
        )
    })?;
    let cache = CodeCache::open(&dir, morph_host::DEFAULT_CACHE_BYTES)?;
    match args.command {
        CacheCommand::Ls => {
            let entries = cache.entries()?;
            let total: u64 = entries.iter().map(|e| e.bytes).sum();
            for e in &entries {
                writeln!(out, "{} {}", e.name, e.bytes)?;
            }
            writeln!(
                out,
                "{} entries, {total} bytes, in {}",
                entries.len(),
                dir.display()
            )?;
        }
        CacheCommand::Clear => {
            let n = cache.clear()?;
            writeln!(out, "removed {n} entries from {}", dir.display())?;
        }
    }
    Ok(())
}
