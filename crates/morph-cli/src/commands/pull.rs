//! `morph pull`: a package from a registry or a local OCI layout into a package file.

use crate::exit::Failure;
use crate::load::write_package;
use crate::output::{self, Out, escape};
use crate::registry::{self, REF_HELP, RemoteArgs};
use clap::Args;
use morph_registry::PackageRef;
use std::io::Write;
use std::path::PathBuf;

/// `morph pull`.
#[derive(Args, Debug)]
pub struct PullArgs {
    #[arg(value_name = "REF", value_parser = registry::parse_ref, help = REF_HELP)]
    reference: PackageRef,
    /// The package file to write (replaced if it exists).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    #[command(flatten)]
    remote: RemoteArgs,
}

/// Pulls the package (every part bounded in size and checked against its digest) and
/// writes it. It is not verified: `morph verify` it before installing it.
///
/// # Errors
/// Exit 13 when the registry fails, refuses, or sends parts that are too large or do not
/// match their digests; 3 when the file cannot be written; 2 for registry flags with a
/// local layout, or `--plain-http` for a remote registry; 14 when the parts do not form a
/// valid package.
pub fn execute(args: &PullArgs, out: &mut Out<impl Write>) -> Result<(), Failure> {
    let options = args.remote.options(&args.reference)?;
    let progress = crate::progress::for_stderr();
    let pulled = registry::block_on(morph_registry::pull(
        &args.reference,
        &options,
        progress.as_ref(),
    ))?;
    drop(progress);
    let pulled = pulled.map_err(|e| args.remote.failure(&args.reference, e))?;
    write_package(&pulled.package, &args.out)?;
    writeln!(
        out,
        "pulled {} ({}) from {} into {}",
        escape(&pulled.package.display_name()),
        if pulled.package.signature().is_some() {
            "signed"
        } else {
            "unsigned"
        },
        escape(&args.reference.to_string()),
        output::path(&args.out)
    )?;
    writeln!(out, "digest: {}", pulled.manifest_digest)?;
    writeln!(
        out,
        "not verified yet: run `morph verify {}` before installing it",
        output::path(&args.out)
    )
}
