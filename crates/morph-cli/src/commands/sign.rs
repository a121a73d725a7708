//! `morph sign`: attach a signature to a package, in place or into `--out`.

use crate::exit::{Exit, Failure};
use crate::load::{read_package, read_private_key, write_package};
use crate::output::{self, Out, escape};
use clap::Args;
use morph_signing::sign_package;
use std::io::Write;
use std::path::PathBuf;

/// `morph sign`.
#[derive(Args, Debug)]
pub struct SignArgs {
    /// The package file (`morph pack` writes one). Signed in place unless `--out` is given.
    package: PathBuf,
    /// The private key (`PREFIX.key` from `morph keygen`).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Write the signed package here instead of replacing the input.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Signs the package for the publisher its manifest names (replacing an earlier
/// signature) and prints who signed what.
///
/// # Errors
/// Exit 3 when a file cannot be read or written; 12 when the package was changed after
/// packing; 14 when the package or the key is invalid, or the manifest names no publisher.
pub fn execute(args: &SignArgs, out: &mut Out<impl Write>) -> Result<(), Failure> {
    let mut package = read_package(&args.package)?;
    let Some(publisher) = package.fields().publisher.clone() else {
        return Err(Failure::new(
            Exit::InvalidPackage,
            format!(
                "`{}` cannot be signed: its manifest names no `publisher`",
                args.package.display()
            ),
        )
        .hint("add `publisher = \"NAME\"` to morph.toml and pack it again with `morph pack`"));
    };
    let key = read_private_key(&args.key)?;
    let replaced = package.signature().is_some();
    sign_package(&mut package, &key)?;
    let target = args.out.as_ref().unwrap_or(&args.package);
    write_package(&package, target)?;
    writeln!(
        out,
        "signed {} for publisher {} into {}{}",
        escape(&package.display_name()),
        escape(&publisher),
        output::path(target),
        if replaced {
            " (its earlier signature replaced)"
        } else {
            ""
        }
    )?;
    writeln!(out, "key id: {}", key.public_key().key_id())?;
    writeln!(out, "algorithm: {}", key.algorithm())
}
