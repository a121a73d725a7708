//! `morph keygen`: a new signing key pair, `PREFIX.key` (private) and `PREFIX.pub`.

use crate::exit::{Exit, Failure};
use crate::output::{self, Out};
use clap::{Args, ValueEnum};
use morph_signing::{Algorithm, PrivateKey, RSA_DEFAULT_BITS};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The signature algorithms, as `--alg` spells them.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlgArg {
    /// Ed25519: small keys and signatures, fast.
    Ed25519,
    /// RSASSA-PSS with SHA-256 (a 32-byte salt), for hosts that require RSA.
    RsaPssSha256,
}

impl From<AlgArg> for Algorithm {
    fn from(alg: AlgArg) -> Self {
        match alg {
            AlgArg::Ed25519 => Algorithm::Ed25519,
            AlgArg::RsaPssSha256 => Algorithm::RsaPssSha256,
        }
    }
}

/// `morph keygen`.
#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// The signature algorithm.
    #[arg(long, value_enum, default_value_t = AlgArg::Ed25519)]
    alg: AlgArg,
    /// The RSA modulus size in bits (only with `--alg rsa-pss-sha256`) [default: 3072].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(2048..=4096))]
    bits: Option<u32>,
    /// Where to write: `PREFIX.key` (the private key, PKCS#8 PEM, mode 0600: keep it
    /// secret) and `PREFIX.pub` (the public key, SPKI PEM, for hosts to trust). Neither
    /// may exist: key files are never overwritten.
    #[arg(long, value_name = "PREFIX")]
    out: PathBuf,
}

/// `path` with `ext` appended to its file name (`acme` -> `acme.key`, `a.b` -> `a.b.key`).
fn with_suffix(path: &Path, ext: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(ext);
    PathBuf::from(name)
}

/// Generates the key, writes both files and prints the key id.
///
/// # Errors
/// Exit 2 for `--bits` without RSA; exit 3 when a file exists or cannot be written (then
/// neither is left behind); exit 1 when the system's random source fails.
pub fn execute(args: &KeygenArgs, out: &mut Out<impl Write>) -> Result<(), Failure> {
    let key = match (args.alg, args.bits) {
        (AlgArg::Ed25519, Some(_)) => {
            return Err(Failure::new(
                Exit::Usage,
                "`--bits` sets the size of an RSA key: use it with `--alg rsa-pss-sha256`",
            ));
        }
        (AlgArg::Ed25519, None) => PrivateKey::generate(Algorithm::Ed25519)?,
        (AlgArg::RsaPssSha256, bits) => PrivateKey::generate_rsa(bits.unwrap_or(RSA_DEFAULT_BITS))?,
    };
    let private = with_suffix(&args.out, ".key");
    let public = with_suffix(&args.out, ".pub");
    // Checked before writing either, so that a refusal leaves nothing behind.
    for path in [&private, &public] {
        if path.symlink_metadata().is_ok() {
            return Err(Failure::new(
                Exit::File,
                format!(
                    "`{}` already exists; key files are never overwritten: move it away or choose another `--out`",
                    path.display()
                ),
            ));
        }
    }
    let pem = key.public_key().to_spki_pem()?;
    key.write_pkcs8_pem(&private)?;
    if let Err(e) = write_new(&public, pem.as_bytes()) {
        // Best effort: a private key without its public half is of no use to anyone.
        let _ = std::fs::remove_file(&private);
        return Err(Failure::new(
            Exit::File,
            format!("cannot write `{}`: {e}", public.display()),
        ));
    }
    let id = key.public_key().key_id();
    writeln!(out, "key id: {id}")?;
    writeln!(out, "algorithm: {}", key.algorithm())?;
    writeln!(
        out,
        "private key: {} (keep it secret: whoever holds it signs as you)",
        output::path(&private)
    )?;
    writeln!(
        out,
        "public key: {} (hosts trust it with `morph trust add {} --publisher NAME`)",
        output::path(&public),
        output::path(&public)
    )
}

/// Writes a new file (never replacing one) and syncs it.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
