//! `morph pack`: a manifest and a module into one `.morph` package file (unsigned).
//!
//! What is looked up, and nothing else:
//! - `morph pack DIR`: the manifest is `DIR/morph.toml` (or `--manifest`), the module is
//!   `DIR/<id>.wasm`, `<id>` being the manifest's top-level `id` (or `--module`).
//! - `morph pack MODULE.wasm --manifest morph.toml`: those two files.
//!
//! Assets are not packed yet: the package holds the manifest and the module.
//!
//! The manifest must have top-level `id`, `version` and `publisher` strings (a package
//! without a publisher could not be signed). The module must start with the wasm magic
//! bytes; it is not validated further here (`morph describe` does that).

use crate::exit::{Exit, Failure};
use crate::load::{read_file, write_package};
use crate::output::{self, Out, escape};
use clap::Args;
use morph_package::{ManifestFields, Package, PackageError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// `morph pack`.
#[derive(Args, Debug)]
pub struct PackArgs {
    /// An extension folder (holding `morph.toml` and `<id>.wasm`), or a module (.wasm)
    /// given with `--manifest`.
    input: PathBuf,
    /// The manifest [default for a folder: FOLDER/morph.toml; required for a module].
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
    /// The module, for a folder whose module is not `<id>.wasm`.
    #[arg(long, value_name = "FILE")]
    module: Option<PathBuf>,
    /// The package file to write (replaced if it exists).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

/// The four bytes every wasm binary starts with.
const WASM_MAGIC: &[u8] = b"\0asm";

/// Packs and prints what went in.
///
/// # Errors
/// Exit 2 for a module without `--manifest` or a file with `--module`; 3 when a file
/// cannot be read or the package written; 4 when the module is not wasm; 14 when the
/// manifest lacks `id`, `version` or `publisher`, or the package is over a size limit.
pub fn execute(args: &PackArgs, out: &mut Out<impl Write>) -> Result<(), Failure> {
    let is_dir = args.input.is_dir();
    let manifest_path = match (&args.manifest, is_dir) {
        (Some(m), _) => m.clone(),
        (None, true) => args.input.join("morph.toml"),
        (None, false) => {
            return Err(Failure::new(
                Exit::Usage,
                format!(
                    "`{}` is not a folder, so it is taken as the module, which needs its manifest: add `--manifest morph.toml`",
                    args.input.display()
                ),
            ));
        }
    };
    if !is_dir && args.module.is_some() {
        return Err(Failure::new(
            Exit::Usage,
            format!(
                "`{}` is the module already; `--module` is for a folder",
                args.input.display()
            ),
        ));
    }
    let manifest = read_file(&manifest_path, "manifest")?;
    let fields = check_manifest(&manifest_path, &manifest)?;
    let module_path = match (&args.module, is_dir) {
        (Some(m), _) => m.clone(),
        (None, true) if is_plain_name(&fields.id) => args.input.join(format!("{}.wasm", fields.id)),
        (None, true) => {
            return Err(Failure::new(
                Exit::Usage,
                format!(
                    "the manifest's `id` (`{}`) is not a plain file name, so the module cannot be `<id>.wasm`: name it with `--module FILE`",
                    fields.id
                ),
            ));
        }
        (None, false) => args.input.clone(),
    };
    let module = read_file(&module_path, "module").map_err(|f| {
        if is_dir && args.module.is_none() {
            f.hint(format!(
                "a folder's module is `<id>.wasm` (`id = \"{}\"` in its manifest); name another with `--module FILE`",
                fields.id
            ))
        } else {
            f
        }
    })?;
    if !module.starts_with(WASM_MAGIC) {
        return Err(Failure::new(
            Exit::InvalidModule,
            format!(
                "`{}` is not a WebAssembly module (it does not start with `\\0asm`)",
                module_path.display()
            ),
        ));
    }
    let package = Package::new(manifest, module)?;
    write_package(&package, &args.out)?;
    writeln!(
        out,
        "packed {} (publisher {}) into {}",
        escape(&package.display_name()),
        escape(fields.publisher.as_deref().unwrap_or_default()),
        output::path(&args.out)
    )?;
    writeln!(out, "manifest: {}", package.manifest_digest())?;
    writeln!(out, "module: {}", package.module_digest())?;
    writeln!(
        out,
        "unsigned: sign it with `morph sign {} --key PREFIX.key`",
        output::path(&args.out)
    )
}

/// Whether `id` can name a file in the folder: no separator, not `.` or `..`.
fn is_plain_name(id: &str) -> bool {
    !id.contains(['/', '\\']) && id != "." && id != ".."
}

/// The manifest's fields, with `publisher` required.
fn check_manifest(path: &Path, manifest: &[u8]) -> Result<ManifestFields, Failure> {
    let refused = |reason: String| {
        Failure::new(
            Exit::InvalidPackage,
            format!("the manifest `{}` is refused: {reason}", path.display()),
        )
    };
    let fields = ManifestFields::parse(manifest).map_err(|e| match e {
        PackageError::Manifest(reason) => refused(reason)
            .hint("a package needs top-level `id`, `version` and `publisher` strings"),
        other => Failure::from(other),
    })?;
    if fields.publisher.is_none() {
        return Err(refused("the top-level `publisher` key is missing".into()).hint(
            "add `publisher = \"NAME\"` (a package is signed for its publisher, and hosts trust keys per publisher)",
        ));
    }
    Ok(fields)
}
