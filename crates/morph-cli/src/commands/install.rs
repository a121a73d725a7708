//! `morph install`: verify a package (a file, or pulled from a registry or a local OCI
//! layout), compile and describe it, record it in the local store and make it active.

use super::installed::StoreArg;
use crate::exit::{Exit, Failure};
use crate::load::read_file;
use crate::output::{Out, escape};
use crate::registry::{self, RemoteArgs};
use crate::trust_store::TrustStoreArg;
use clap::Args;
use morph_host::{Host, InstallOptions};
use morph_package::Limits;
use morph_registry::PackageRef;
use std::io::Write;
use std::path::PathBuf;

/// `morph install`.
#[derive(Args, Debug)]
pub struct InstallArgs {
    /// A package file (.morph), or a reference: `oci://HOST[:PORT]/REPO:TAG` (or
    /// `@sha256:HEX`), `oci-layout:DIR:TAG`.
    package: String,
    /// Install a package that carries no signature (the denylist still applies; a
    /// signed package is verified all the same).
    #[arg(long)]
    allow_unsigned: bool,
    /// Install a version lower than the active one.
    #[arg(long)]
    allow_downgrade: bool,
    #[command(flatten)]
    trust: TrustStoreArg,
    #[command(flatten)]
    store: StoreArg,
    #[command(flatten)]
    remote: RemoteArgs,
}

/// Installs the package and says what is active now.
///
/// # Errors
/// Exit 12 when verification fails, the package is unsigned (without
/// `--allow-unsigned`) or older than the active version (without `--allow-downgrade`);
/// 14 when the package is invalid, its module describes another id or version than its
/// manifest, or the store is damaged or busy; 13 when the registry fails; 3 when a file
/// cannot be read; 4 and 5 when the module does not compile or targets another
/// contract. Nothing is installed on any error.
pub fn execute(args: &InstallArgs, out: &mut Out<impl Write>) -> Result<(), Failure> {
    let bytes = fetch(args)?;
    let (trust, trust_path) = args.trust.load()?;
    let store = args.store.open()?;
    let host = Host::builder().build()?;
    let options = InstallOptions {
        allow_unsigned: args.allow_unsigned,
        allow_downgrade: args.allow_downgrade,
    };
    let report =
        morph_host::install_blocking(&host, &store, &trust, &bytes, options).map_err(|e| {
            let verify = matches!(e, morph_host::InstallError::Verify(_));
            let failure = Failure::from(e).about(format!("`{}`", args.package));
            if verify {
                failure.hint(format!("trust store: {}", trust_path.display()))
            } else {
                failure
            }
        })?;
    let record = &report.record;
    if report.unsigned {
        let _ = writeln!(
            std::io::stderr().lock(),
            "morph: warning: `{}@{}` is UNSIGNED: nobody vouches for this code (installed because of --allow-unsigned)",
            escape(&record.id),
            escape(&record.version)
        );
    }
    writeln!(
        out,
        "installed {}@{} ({})",
        escape(&record.id),
        escape(&record.version),
        if report.unsigned {
            "unsigned".to_owned()
        } else {
            format!("signed by {}", escape(&record.publisher))
        }
    )?;
    match &report.previous {
        Some(previous) if *previous != record.version => {
            writeln!(
                out,
                "active: {} (was {})",
                escape(&record.version),
                escape(previous)
            )
        }
        _ => writeln!(out, "active: {}", escape(&record.version)),
    }
}

/// The package's bytes: the file, or pulled from the reference (bounded and checked
/// against its digests by morph-registry, then packed again).
fn fetch(args: &InstallArgs) -> Result<Vec<u8>, Failure> {
    let is_ref = args.package.starts_with("oci://") || args.package.starts_with("oci-layout:");
    if !is_ref {
        return read_file(&PathBuf::from(&args.package), "package");
    }
    let reference: PackageRef =
        registry::parse_ref(&args.package).map_err(|e| Failure::new(Exit::Usage, e))?;
    let options = args.remote.options(&reference)?;
    let progress = crate::progress::for_stderr();
    let pulled = registry::block_on(morph_registry::pull(
        &reference,
        &options,
        progress.as_ref(),
    ))?;
    drop(progress);
    let pulled = pulled.map_err(|e| args.remote.failure(&reference, e))?;
    Ok(pulled.package.pack(&Limits::default())?)
}
