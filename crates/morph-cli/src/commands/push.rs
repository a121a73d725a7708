//! `morph push`: a package file to a registry or a local OCI layout.

use crate::exit::Failure;
use crate::load::read_package;
use crate::output::{Out, escape};
use crate::registry::{self, REF_HELP, RemoteArgs};
use clap::Args;
use morph_registry::PackageRef;
use std::io::Write;
use std::path::PathBuf;

/// `morph push`.
#[derive(Args, Debug)]
pub struct PushArgs {
    /// The package file.
    package: PathBuf,
    #[arg(value_name = "REF", value_parser = registry::parse_ref, help = REF_HELP)]
    reference: PackageRef,
    #[command(flatten)]
    remote: RemoteArgs,
}

/// Pushes the package as it is (signed or not: the registry carries the signature, it
/// does not check it) and prints the reference pinned to the OCI manifest's digest.
///
/// # Errors
/// Exit 13 when the registry fails or refuses; 3 when a file cannot be read or written;
/// 2 for registry flags with a local layout, or `--plain-http` for a remote registry; 12
/// and 14 for a package file that is not valid.
pub fn execute(args: &PushArgs, out: &mut Out<impl Write>) -> Result<(), Failure> {
    let package = read_package(&args.package)?;
    let options = args.remote.options(&args.reference)?;
    let progress = crate::progress::for_stderr();
    let pushed = registry::block_on(morph_registry::push(
        &args.reference,
        &package,
        &options,
        progress.as_ref(),
    ))?;
    drop(progress);
    let digest = pushed.map_err(|e| args.remote.failure(&args.reference, e))?;
    writeln!(
        out,
        "pushed {} ({}) to {}",
        escape(&package.display_name()),
        if package.signature().is_some() {
            "signed"
        } else {
            "unsigned"
        },
        escape(&args.reference.to_string())
    )?;
    writeln!(out, "digest: {digest}")?;
    writeln!(out, "pinned: {}", escape(&pinned(&args.reference, digest)))
}

/// `reference` with its tag replaced by the manifest's digest: pulling it gets these
/// bytes and no others.
pub fn pinned(reference: &PackageRef, digest: morph_package::Digest) -> String {
    let mut pinned = reference.clone();
    match &mut pinned {
        PackageRef::Remote(r) => r.target = morph_registry::Target::Digest(digest),
        PackageRef::Layout(l) => l.target = morph_registry::Target::Digest(digest),
    }
    pinned.to_string()
}
