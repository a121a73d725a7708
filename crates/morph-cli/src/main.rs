//! `morph`: describe, run, package, sign, verify and distribute Morph extensions from
//! the command line.
//!
//! The codemap:
//! - `commands/`: one file per command (`describe`, `run`, `backends`, `bench`; `keygen`, `pack`,
//!   `sign`, `verify`, `trust`, `push`, `pull`), each an `Args` struct and an `execute`
//!   function; `commands/mod.rs` lists them.
//! - `load.rs`: reading a module and preparing it with `--backend` (`backend.rs`) and
//!   the limit flags (`limits.rs`), shared by every command that runs a guest; reading
//!   and writing package and key files for the trust commands.
//! - `trust_store.rs`: where the trust store lives (`--trust-store`, `$MORPH_HOME`) and
//!   how a command changes it (under a lock).
//! - `registry.rs`, `progress.rs`: what `push` and `pull` share (references, registry
//!   flags, their Tokio runtime) and their transfer bars (stderr, terminals only).
//! - `exit.rs`: the exit codes (stable; the table is there and in `morph --help`), and
//!   how a library error becomes a code and one line on stderr with what to do.
//! - `output.rs`: stdout that stops quietly when closed, and the escaping that keeps
//!   guest text from reaching a terminal raw.
//!
//! Nothing here prints with `println!`: command output goes through `output::Out`, errors
//! through `exit::Failure::report`, logs through the escaping formatter below.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod backend;
mod commands;
mod exit;
mod limits;
mod load;
mod output;
mod progress;
mod registry;
mod trust_store;

use clap::{CommandFactory, FromArgMatches, Parser};
use commands::Command;
use exit::Exit;
use std::io::IsTerminal;
use std::process::ExitCode;
use tracing_subscriber::field::MakeExt;

#[derive(Parser, Debug)]
#[command(
    name = "morph",
    version,
    about = "Describe, run, package, sign, verify and distribute Morph WebAssembly extensions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Parses the command line, with the exit-code table as the help's epilogue. Help and
/// version print and exit 0; a bad command line prints clap's message and exits 2.
fn parse() -> Result<Cli, Exit> {
    // `morph --version` says which contract versions this build runs.
    static VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "{} (extension contracts {})",
            env!("CARGO_PKG_VERSION"),
            morph_host::SUPPORTED_CONTRACTS.join(", ")
        )
    });
    let matches = Cli::command()
        .version(VERSION.as_str())
        .after_help(format!("{}\n{}", Exit::help(), trust_store::WHERE))
        .try_get_matches()
        .and_then(|mut m| Cli::from_arg_matches_mut(&mut m));
    matches.map_err(|e| {
        // Printing may fail on a closed pipe (`morph --help | head -1`): nothing to do.
        let _ = e.print();
        if e.use_stderr() {
            Exit::Usage
        } else {
            Exit::Success
        }
    })
}

/// Logs on stderr, filtered by `MORPH_LOG` (default `warn`). Extensions write log
/// lines, so every field is escaped as guest text (tracing-subscriber's own sanitizing
/// leaves carriage returns, line breaks and bidi overrides alone).
fn init_logging() {
    let fields = tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
        let text = format!("{value:?}");
        let text = output::escape(&text);
        if field.name() == "message" {
            write!(writer, "{text}")
        } else {
            write!(writer, "{field}={text}")
        }
    })
    .delimited(" ");
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MORPH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .fmt_fields(fields)
        .with_writer(std::io::stderr)
        // Colours only for a terminal: not into a pipe or a file.
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}

fn main() -> ExitCode {
    init_logging();
    let exit = match parse() {
        Ok(cli) => {
            let mut out = output::Out::new(std::io::stdout().lock());
            match cli
                .command
                .execute(&mut out)
                .and_then(|()| out.finish().map(drop))
            {
                Ok(()) => Exit::Success,
                Err(failure) => failure.report(),
            }
        }
        Err(exit) => exit,
    };
    ExitCode::from(exit.code())
}

#[cfg(test)]
mod tests {
    use super::*;
    use morph_host::Limit;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// Every flag an error message names exists on every command that loads a guest.
    #[test]
    fn every_limit_names_a_flag_that_exists() {
        let limits = [
            Limit::Memory,
            Limit::Cpu,
            Limit::Timeout,
            Limit::Output,
            Limit::Input,
            Limit::HostCalls,
            Limit::ModuleSize,
            Limit::Transfer,
        ];
        let cli = Cli::command();
        for sub in ["describe", "run"] {
            let cmd = cli.find_subcommand(sub).map(|c| {
                c.get_arguments()
                    .filter_map(|a| a.get_long())
                    .collect::<Vec<_>>()
            });
            let Some(longs) = cmd else {
                panic!("no `{sub}` command")
            };
            for limit in limits {
                let Some(flag) = limits::flag_for(limit) else {
                    panic!("{limit:?} has no flag")
                };
                let long = flag
                    .trim_start_matches("--")
                    .split(' ')
                    .next()
                    .unwrap_or_default();
                assert!(longs.contains(&long), "`morph {sub}` lacks {flag}");
            }
            for extra in ["max-log", "metering", "backend"] {
                assert!(longs.contains(&extra), "`morph {sub}` lacks --{extra}");
            }
        }
    }
}
