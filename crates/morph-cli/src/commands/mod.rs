//! One module per command. A command is an `Args` struct and an `execute` function that
//! writes to an [`Out`] and fails with a [`Failure`]; adding one is a file here, a
//! variant of [`Command`] and an arm of [`Command::execute`].

use crate::exit::Failure;
use crate::output::Out;
use clap::Subcommand;
use std::io::Write;

mod audit;
mod backends;
mod bench;
pub(crate) mod cache;
mod describe;
mod inspect;
mod install;
mod installed;
mod keygen;
mod list;
mod pack;
mod permissions;
mod pull;
mod push;
mod run;
mod secret;
mod sign;
mod trust;
mod uninstall;
mod verify;

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Show what an extension offers: its actions with their schemas, events, config.
    Describe(describe::DescribeArgs),
    /// Run one action and print its JSON output.
    Run(Box<run::RunArgs>),
    /// List the backends and whether this build includes them.
    Backends(backends::BackendsArgs),
    /// Make a signing key pair: PREFIX.key (private, 0600) and PREFIX.pub.
    Keygen(keygen::KeygenArgs),
    /// Measure every backend: compile, cache load, instantiate, calls, host calls,
    /// throughput and memory, each next to the raw engine doing the same work.
    Bench(bench::BenchArgs),
    /// Pack a manifest and a module into a package file (.morph).
    ///
    /// For a folder, the manifest is FOLDER/morph.toml (or `--manifest`) and the module
    /// FOLDER/<id>.wasm, <id> being the manifest's top-level `id` (or `--module`). For a
    /// module file, `--manifest` names its manifest. The manifest needs top-level `id`,
    /// `version` and `publisher` strings. Assets are not packed yet. The package is
    /// unsigned: `morph sign` it next.
    Pack(pack::PackArgs),
    /// Sign a package with a private key.
    Sign(sign::SignArgs),
    /// Verify a package's signature against the trust store and say who signed it.
    Verify(verify::VerifyArgs),
    /// Manage the trust store: trusted keys, revocations, denied digests.
    Trust(trust::TrustArgs),
    /// Push a package to an OCI registry or a local OCI layout.
    Push(push::PushArgs),
    /// Pull a package from an OCI registry or a local OCI layout (not verified).
    Pull(pull::PullArgs),
    /// Verify a package (file, `oci://` or `oci-layout:` reference), compile it, record
    /// it in the local store and make it the active version.
    Install(install::InstallArgs),
    /// List the installed extensions and their active versions.
    List(list::ListArgs),
    /// Show an installed extension's versions, digests, publisher and key.
    Inspect(inspect::InspectArgs),
    /// Remove an installed extension from the local store.
    Uninstall(uninstall::UninstallArgs),
    /// Show the permission kinds, or what an extension requests, is granted and may do.
    Permissions(permissions::PermissionsArgs),
    /// Grant permissions to an extension (they take effect as far as its manifest
    /// requests them).
    Grant(permissions::GrantArgs),
    /// Take permissions back from an extension.
    Revoke(permissions::RevokeArgs),
    /// Manage the secrets the host attaches to extensions' requests.
    Secret(secret::SecretArgs),
    /// Show what an extension did and was refused.
    Audit(audit::AuditArgs),
    /// List or clear the compiled-code cache.
    Cache(cache::CacheArgs),
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
            Command::Bench(args) => bench::execute(&args, out),
            Command::Keygen(args) => keygen::execute(&args, out),
            Command::Pack(args) => pack::execute(&args, out),
            Command::Sign(args) => sign::execute(&args, out),
            Command::Verify(args) => verify::execute(&args, out),
            Command::Trust(args) => trust::execute(&args, out),
            Command::Push(args) => push::execute(&args, out),
            Command::Pull(args) => pull::execute(&args, out),
            Command::Install(args) => install::execute(&args, out),
            Command::List(args) => list::execute(&args, out),
            Command::Inspect(args) => inspect::execute(&args, out),
            Command::Uninstall(args) => uninstall::execute(&args, out),
            Command::Permissions(args) => permissions::execute(&args, out),
            Command::Grant(args) => permissions::grant(&args, out),
            Command::Revoke(args) => permissions::revoke(&args, out),
            Command::Secret(args) => secret::execute(&args, out),
            Command::Audit(args) => audit::execute(&args, out),
            Command::Cache(args) => cache::execute(&args, out),
        }
    }
}
