//! One module per command. A command is an `Args` struct and an `execute` function that
//! writes to an [`Out`] and fails with a [`Failure`]; adding one is a file here, a
//! variant of [`Command`] and an arm of [`Command::execute`].

use crate::exit::Failure;
use crate::output::Out;
use clap::Subcommand;
use std::io::Write;

mod backends;
mod describe;
mod run;

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Show what an extension offers: its actions with their schemas, events, config.
    Describe(describe::DescribeArgs),
    /// Run one action and print its JSON output.
    Run(run::RunArgs),
    /// List the backends and whether this build includes them.
    Backends(backends::BackendsArgs),
}

impl Command {
    /// Runs the command, writing its output to `out`.
    ///
    /// # Errors
    /// The command's failure, with its exit code.
    pub fn execute(self, out: &mut Out<impl Write>) -> Result<(), Failure> {
        match self {
            Command::Describe(args) => describe::execute(&args, out),
            Command::Run(args) => run::execute(&args, out),
            Command::Backends(args) => backends::execute(&args, out),
        }
    }
}
