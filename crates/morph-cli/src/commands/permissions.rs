//! `morph permissions`, `morph grant`, `morph revoke`: what an extension requests, what
//! the person granted, what is in effect; and changing the grants, which live in the
//! local store.

use super::installed::StoreArg;
use crate::exit::{Exit, Failure};
use crate::output::{Out, escape};
use clap::Args;
use morph_host::{Grant, GrantSet, Store};
use morph_manifest::Manifest;
use std::io::Write;

/// `morph permissions`.
#[derive(Args, Debug)]
pub struct PermissionsArgs {
    /// Print every permission kind: what it allows, its syntax and examples.
    #[arg(long, conflicts_with = "id")]
    list_kinds: bool,
    /// An installed extension: what its active version requests, what is granted, what
    /// is in effect, and what it requests that is not granted.
    #[arg(required_unless_present = "list_kinds")]
    id: Option<String>,
    #[command(flatten)]
    store: StoreArg,
}

/// `morph grant`.
#[derive(Args, Debug)]
pub struct GrantArgs {
    /// The extension's id.
    id: String,
    /// The grants, e.g. `clock` or `http:GET https://api.github.com/repos` (`morph
    /// permissions --list-kinds` shows the syntax).
    #[arg(required = true)]
    grants: Vec<Grant>,
    #[command(flatten)]
    store: StoreArg,
}

/// `morph revoke`.
#[derive(Args, Debug)]
pub struct RevokeArgs {
    /// The extension's id.
    id: String,
    /// Grants to take back, as `morph permissions ID` prints them.
    #[arg(required = true)]
    grants: Vec<Grant>,
    #[command(flatten)]
    store: StoreArg,
}

/// Maps a capabilities failure to an exit code.
pub fn capabilities_failure(e: morph_host::CapabilitiesError) -> Failure {
    use morph_host::CapabilitiesError as E;
    match e {
        E::Store(e) => Failure::from(e),
        E::Config { .. } => Failure::new(Exit::BadRequest, e.to_string()),
        E::Schema { .. } => Failure::new(Exit::ExtensionFault, e.to_string()),
        other => Failure::internal(other.to_string()),
    }
}

/// The grants the active version of installed extension `id` requests, or why none.
fn requested(store: &Store, id: &str) -> Result<Result<GrantSet, String>, Failure> {
    let Some((_, bytes)) = store.active(id)? else {
        return Ok(Err(format!("`{}` is not installed", escape(id))));
    };
    let package = morph_package::Package::unpack(&bytes, &morph_package::Limits::default())
        .map_err(|e| Failure::from(e).about(format!("the stored package of `{}`", escape(id))))?;
    let text = String::from_utf8_lossy(package.manifest()).into_owned();
    Ok(Manifest::parse(&text)
        .map(|m| m.requested())
        .map_err(|e| format!("its manifest is not valid, so it requests nothing: {e}")))
}

fn list(out: &mut Out<impl Write>, title: &str, grants: &[String]) -> Result<(), Failure> {
    writeln!(out, "{title}:")?;
    if grants.is_empty() {
        writeln!(out, "  (none)")?;
    }
    for g in grants {
        writeln!(out, "  {}", escape(g))?;
    }
    Ok(())
}

/// Prints the kinds, or an extension's requested, granted and effective permissions.
///
/// # Errors
/// Exit 14 when the store or the stored package is damaged; a failing stdout.
pub fn execute(args: &PermissionsArgs, out: &mut Out<impl Write>) -> Result<(), Failure> {
    let Some(id) = args.id.as_deref().filter(|_| !args.list_kinds) else {
        for (i, kind) in morph_permissions::kinds().iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            write!(out, "{kind}")?;
        }
        return Ok(());
    };
    let store = args.store.open()?;
    let granted = store.grants(id)?;
    let texts = |set: &GrantSet| set.iter().map(ToString::to_string).collect::<Vec<_>>();
    match requested(&store, id)? {
        Ok(requested) => {
            list(out, "requested", &texts(&requested))?;
            list(out, "granted", &texts(&granted))?;
            let effective = morph_permissions::effective(&requested, &granted);
            list(out, "effective", &texts(&effective))?;
            let missing: Vec<String> = morph_permissions::diff(&granted, &requested)
                .iter()
                .map(ToString::to_string)
                .collect();
            list(out, "requested, not granted", &missing)?;
            if !missing.is_empty() {
                writeln!(out, "grant with `morph grant {} '<grant>'`", escape(id))?;
            }
        }
        Err(why) => {
            writeln!(out, "requested: nothing ({})", escape(&why))?;
            list(out, "granted", &texts(&granted))?;
            list(out, "effective", &[])?;
        }
    }
    Ok(())
}

/// Adds grants to extension `id` (atomically), saying which its active version does
/// not request (they take effect only once a version requests them).
///
/// # Errors
/// Exit 14 when the store is damaged or busy; a failing stdout.
pub fn grant(args: &GrantArgs, out: &mut Out<impl Write>) -> Result<(), Failure> {
    let store = args.store.open()?;
    store.update_grants(&args.id, |g| {
        for grant in &args.grants {
            g.insert(grant.clone());
        }
    })?;
    // Only an installed extension's manifest is known here; a module file's is given to
    // `morph run --manifest` when it runs.
    let requested = requested(&store, &args.id)?.ok();
    for grant in &args.grants {
        let note = match &requested {
            Some(requested) if !requested.covers(grant) => {
                " (its manifest does not request it: no effect until a version does)"
            }
            _ => "",
        };
        writeln!(out, "granted `{grant}` to `{}`{note}", escape(&args.id))?;
    }
    Ok(())
}

/// Takes grants back from extension `id` (atomically).
///
/// # Errors
/// Exit 2 when one of them is not granted (nothing is changed then); 14 when the store
/// is damaged or busy; a failing stdout.
pub fn revoke(args: &RevokeArgs, out: &mut Out<impl Write>) -> Result<(), Failure> {
    let store = args.store.open()?;
    let missing = store.update_grants(&args.id, |g| {
        let missing: Vec<&Grant> = args
            .grants
            .iter()
            .filter(|r| !g.iter().any(|have| have == *r))
            .collect();
        if missing.is_empty() {
            *g = g
                .iter()
                .filter(|have| !args.grants.contains(have))
                .cloned()
                .collect();
        }
        missing.iter().map(ToString::to_string).collect::<Vec<_>>()
    })?;
    if let Some(first) = missing.first() {
        return Err(Failure::new(
            Exit::Usage,
            format!(
                "`{first}` is not granted to `{}`; nothing was revoked",
                escape(&args.id)
            ),
        )
        .hint(format!(
            "`morph permissions {}` lists its grants",
            escape(&args.id)
        )));
    }
    for grant in &args.grants {
        writeln!(out, "revoked `{grant}` from `{}`", escape(&args.id))?;
    }
    Ok(())
}
