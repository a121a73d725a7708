//! `morph run`: one action on a fresh instance; its output on stdout as one line of JSON.
//!
//! Host calls are performed for real (morph-capabilities over the local store: HTTP,
//! key-value data, secrets, configuration, the audit log), within the extension's
//! effective grants: what its manifest requests and the person granted (`morph grant`
//! for an installed extension, `--grant` for this run).

use crate::exit::{Exit, Failure};
use crate::load::{LoadArgs, read_file};
use crate::output::{self, Out, escape};
use clap::Args;
use morph_host::{Capabilities, ExecuteOptions, Grant, GrantSet};
use morph_manifest::Manifest;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

/// `morph run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The extension module (.wasm), or the id of an installed extension (its active
    /// version runs, after its stored package is checked against its record and the
    /// trust store's denylist).
    module: PathBuf,
    /// The action to run.
    action: String,
    /// The input, as JSON text (`-` reads standard input). Default: `{}`.
    #[arg(long, conflicts_with = "input_file")]
    input: Option<String>,
    /// Read the input from a file.
    #[arg(long, value_name = "FILE")]
    input_file: Option<PathBuf>,
    /// Grants a permission for this run, on top of what `morph grant` gave an installed
    /// extension, e.g. `clock` or `http:GET https://api.github.com/repos` (repeatable;
    /// `morph permissions --list-kinds` shows every kind and its syntax). Only what the
    /// manifest requests takes effect.
    #[arg(long = "grant", value_name = "GRANT")]
    grants: Vec<Grant>,
    /// The manifest (morph.toml) of a module file: its requests bound what `--grant`
    /// gives. Without one, the grants given here are taken as they are.
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
    /// The extension's configuration, as JSON text; checked against its config schema and
    /// kept in the local store for the next runs.
    #[arg(long, value_name = "JSON")]
    config: Option<String>,
    /// Performs reads but not writes (HTTP other than GET and HEAD, key-value writes,
    /// file writes, events, notifications): they are checked, recorded in the audit log
    /// as `dry-run` and listed on standard error.
    #[arg(long)]
    dry_run: bool,
    /// The assistant's model for `ai.complete`: the base URL of an OpenAI-compatible
    /// chat completions API (e.g. `http://127.0.0.1:8080/v1`); its key, if it needs one,
    /// is read from the environment variable `MORPH_AI_KEY`. Without it, `ai.complete`
    /// fails with `unavailable`.
    #[arg(long, value_name = "URL", requires = "ai_model")]
    ai_url: Option<String>,
    /// The model to ask at `--ai-url`.
    #[arg(long, value_name = "NAME", requires = "ai_url")]
    ai_model: Option<String>,
    #[command(flatten)]
    load: LoadArgs,
    #[command(flatten)]
    store: super::installed::StoreArg,
    #[command(flatten)]
    trust: crate::trust_store::TrustStoreArg,
}

/// Runs the action and prints its output: compact JSON, keys in the extension's order,
/// any terminal control inside a string escaped (see [`output::guest_json`]).
///
/// # Errors
/// Exit 3 when the input cannot be read, 10 when an input file is not UTF-8, what
/// loading and the call fail with; a closed or failing stdout.
pub fn execute(args: &RunArgs, out: &mut Out<impl Write>) -> Result<(), Failure> {
    let input = read_input(args)?;
    // The store holds grants, secrets, key-value data and the audit log. A module file
    // run where no store can be found gets a scratch one, gone after the run.
    let scratch =
        match installed_id(&args.module).is_none() && !args.store.is_located() {
            true => Some(tempfile::tempdir().map_err(|e| {
                Failure::new(Exit::File, format!("cannot make a scratch store: {e}"))
            })?),
            false => None,
        };
    let store = match &scratch {
        Some(dir) => morph_host::Store::open(dir.path())?,
        None => args.store.open()?,
    };
    let store = Arc::new(store);
    let mut builder = Capabilities::builder(Arc::clone(&store))
        .dry_run(args.dry_run)
        .notifier(notify_on_stderr);
    if let (Some(url), Some(model)) = (&args.ai_url, &args.ai_model) {
        let mut ai = morph_host::OpenAiCompatible::new(url, model.clone())
            .map_err(|e| Failure::new(Exit::Usage, format!("--ai-url: {e}")))?;
        if let Ok(key) = std::env::var("MORPH_AI_KEY") {
            ai = ai.api_key(key);
        }
        builder = builder.ai(ai);
    }
    let capabilities = builder
        .build()
        .map_err(super::permissions::capabilities_failure)?;
    let caps = Some(capabilities.clone());
    let (prepared, requested) = match installed_id(&args.module) {
        Some(id) => {
            let (_, package) = super::installed::load_active(id, &store, &args.trust)?;
            // A package packed before manifests were strict requests nothing: deny by
            // default (`morph permissions ID` shows why).
            let requested =
                requested_by(package.manifest(), "the installed package's").unwrap_or_default();
            (
                args.load.prepare_wasm(id, package.module(), caps)?,
                Some(requested),
            )
        }
        None => {
            let wasm = read_file(&args.module, "module")?;
            let label = LoadArgs::label(&args.module);
            let manifest = match &args.manifest {
                Some(path) => Some(parse_manifest(&read_file(path, "manifest")?, "the")?),
                None => None,
            };
            let prepared = args.load.prepare_wasm(&label, &wasm, caps)?;
            if let Some(Err(mismatch)) = manifest.as_ref().map(|m| matches_module(m, &prepared)) {
                // A warning, not a refusal: a manifest being written for a module under
                // development still bounds the grants. `morph pack` refuses it.
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "morph: warning: {mismatch}\nmorph: hint: make morph.toml declare what the module's describe() returns, or rebuild the module"
                );
            }
            (prepared, manifest.as_ref().map(Manifest::requested))
        }
    };
    let id = &prepared.info().id;
    // An id the store cannot hold (a control character in it) has nothing granted there.
    let mut granted = match store.grants(id) {
        Err(morph_host::StoreError::InvalidRecord { .. }) => GrantSet::new(),
        other => other?,
    };
    for grant in &args.grants {
        granted.insert(grant.clone());
    }
    let effective = match &requested {
        Some(requested) => morph_permissions::effective(requested, &granted),
        None => granted,
    };
    capabilities
        .register(prepared.info(), &effective)
        .map_err(super::permissions::capabilities_failure)?;
    if let Some(config) = &args.config {
        capabilities
            .set_config(id, config)
            .map_err(super::permissions::capabilities_failure)?;
    }
    let result = prepared.execute_blocking(&args.action, &input, &ExecuteOptions::default());
    if args.dry_run {
        // What was not done goes to stderr, so that stdout stays the action's output.
        let mut stderr = std::io::stderr().lock();
        for planned in capabilities.take_dry_run() {
            // A closed stderr loses the notes, not the run.
            let _ = writeln!(
                stderr,
                "morph: dry run: did not {} ({})",
                escape(&planned.target),
                escape(&planned.permission)
            );
        }
    }
    writeln!(out, "{}", output::guest_json(&result?.text)?)
}

/// `notify.send` on a terminal: one line on standard error, every part of it escaped
/// (the title and body are the extension's words).
fn notify_on_stderr(
    extension: &str,
    n: &morph_host::Notification,
) -> Result<(), morph_host::HostError> {
    let urgency = match n.urgency {
        morph_host::Urgency::Low => "low",
        morph_host::Urgency::Normal => "normal",
        morph_host::Urgency::High => "high",
    };
    // A closed stderr loses the notification, not the run.
    let _ = writeln!(
        std::io::stderr().lock(),
        "morph: notification from `{}` ({urgency}): {}: {}",
        escape(extension),
        escape(&n.title),
        escape(&n.body)
    );
    Ok(())
}

/// The grants a manifest requests.
///
/// # Errors
/// Exit 14 naming the manifest when it is not a valid morph.toml.
fn requested_by(manifest: &[u8], whose: &str) -> Result<GrantSet, Failure> {
    parse_manifest(manifest, whose).map(|m| m.requested())
}

/// Checks that a manifest declares what the module is: its id, version, contract,
/// actions (with their side-effect classes) and events.
///
/// # Errors
/// The differences, one line each when displayed (guest text escaped).
pub(crate) fn matches_module(
    manifest: &Manifest,
    prepared: &morph_host::Prepared,
) -> Result<(), morph_manifest::Mismatch> {
    let described = morph_manifest::Described::new(prepared.info(), prepared.contract());
    manifest.check_against(&described)
}

/// A manifest, parsed.
///
/// # Errors
/// Exit 14 naming the manifest when it is not a valid morph.toml.
fn parse_manifest(manifest: &[u8], whose: &str) -> Result<Manifest, Failure> {
    let text = std::str::from_utf8(manifest).map_err(|_| {
        Failure::new(
            Exit::InvalidPackage,
            format!("{whose} manifest is not UTF-8"),
        )
    })?;
    Manifest::parse(text).map_err(|e| {
        Failure::new(
            Exit::InvalidPackage,
            format!("{whose} manifest is invalid: {e}"),
        )
    })
}

/// The module argument as an installed extension's id: not an existing file, and shaped
/// like an id.
fn installed_id(module: &std::path::Path) -> Option<&str> {
    let text = module.to_str()?;
    (!module.exists() && super::installed::looks_like_id(text)).then_some(text)
}

fn read_input(args: &RunArgs) -> Result<String, Failure> {
    match (&args.input, &args.input_file) {
        (Some(dash), _) if dash == "-" => {
            let mut buf = String::new();
            std::io::stdin().read_to_string(&mut buf).map_err(|e| {
                Failure::new(
                    Exit::File,
                    format!("cannot read the input from standard input: {e}"),
                )
            })?;
            Ok(buf)
        }
        (Some(text), _) => Ok(text.clone()),
        (None, Some(path)) => String::from_utf8(read_file(path, "input file")?).map_err(|_| {
            Failure::new(
                Exit::BadRequest,
                format!("the input file `{}` is not UTF-8 text", path.display()),
            )
        }),
        (None, None) => Ok("{}".to_owned()),
    }
}
