//! `morph verify`: check a package's signature against the trust store, as a host does
//! before installing it, and say who signed it.

use crate::exit::Failure;
use crate::load::read_package;
use crate::output::{Out, escape};
use crate::trust_store::TrustStoreArg;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

/// `morph verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The package file.
    package: PathBuf,
    #[command(flatten)]
    trust: TrustStoreArg,
}

/// Verifies and prints the package, its signer and the parts' digests (what
/// `morph trust deny` takes).
///
/// # Errors
/// Exit 12 when verification fails (each refusal with its own message: unsigned, unknown
/// or revoked key, bad signature, denied digest, changed part...); 3 when a file cannot be
/// read; 14 when the package or the trust store is invalid.
pub fn execute(args: &VerifyArgs, out: &mut Out<impl Write>) -> Result<(), Failure> {
    let package = read_package(&args.package)?;
    let (store, store_path) = args.trust.load()?;
    let verified = morph_signing::verify(package, &store)
        .map_err(|e| Failure::from(e).hint(format!("trust store: {}", store_path.display())))?;
    let package = verified.package();
    writeln!(out, "verified {}", escape(&package.display_name()))?;
    writeln!(out, "publisher: {}", escape(verified.publisher()))?;
    writeln!(out, "key id: {}", verified.key_id())?;
    writeln!(out, "algorithm: {}", verified.algorithm())?;
    writeln!(out, "manifest: {}", package.manifest_digest())?;
    writeln!(out, "module: {}", package.module_digest())?;
    for asset in package.assets() {
        writeln!(out, "asset: {} {}", asset.digest(), escape(asset.name()))?;
    }
    Ok(())
}
