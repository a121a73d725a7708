//! `morph trust`: the trust store's keys and denylist (`add`, `list`, `revoke`, `deny`).
//!
//! Where the store lives: see `trust_store.rs` (`--trust-store FILE`, or
//! `$MORPH_HOME/trust.json`).

use crate::exit::{Exit, Failure};
use crate::load::read_public_key;
use crate::output::{self, Out, escape};
use crate::trust_store::TrustStoreArg;
use clap::{Args, Subcommand};
use morph_package::{Digest, check_field};
use morph_signing::{KeyId, TrustStore, TrustedKey};
use std::io::Write;
use std::path::PathBuf;

/// `morph trust`.
#[derive(Args, Debug)]
pub struct TrustArgs {
    #[command(subcommand)]
    command: TrustCommand,
}

/// The `morph trust` commands.
#[derive(Subcommand, Debug)]
pub enum TrustCommand {
    /// Trust a public key to sign packages for one publisher.
    Add(AddArgs),
    /// List the trusted and revoked keys and the denied digests.
    List(ListArgs),
    /// Revoke a key: packages it signed no longer verify (it stays listed, as revoked).
    Revoke(RevokeArgs),
    /// Refuse a digest (of a module, manifest or asset) whoever signed it.
    Deny(DenyArgs),
}

/// `morph trust add`.
#[derive(Args, Debug)]
pub struct AddArgs {
    /// The public key file (`PREFIX.pub` from `morph keygen`, or any SPKI PEM).
    public_key: PathBuf,
    /// The publisher this key signs for: a package it signs for anyone else is refused.
    #[arg(long, value_name = "NAME", value_parser = parse_publisher)]
    publisher: String,
    /// Replace an entry for the same key that names another publisher or was revoked
    /// (without it, such an entry is left alone and the command fails).
    #[arg(long)]
    replace: bool,
    #[command(flatten)]
    trust: TrustStoreArg,
}

/// `morph trust list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// Print JSON: `{"trust_store", "keys": [{"key_id", "algorithm", "publisher",
    /// "revoked"}], "denied": [{"digest", "reason"}]}`, keys by id, digests in order.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    trust: TrustStoreArg,
}

/// `morph trust revoke`.
#[derive(Args, Debug)]
pub struct RevokeArgs {
    /// The key id: its 64 hex digits, or a prefix of at least 16 (as error messages
    /// show it) that names one key.
    #[arg(value_name = "KEY_ID", value_parser = parse_key_prefix)]
    key_id: String,
    #[command(flatten)]
    trust: TrustStoreArg,
}

/// `morph trust deny`.
#[derive(Args, Debug)]
pub struct DenyArgs {
    /// The digest, `sha256:<64 hex>` (`morph verify` and `morph pack` print a package's).
    #[arg(value_name = "DIGEST", value_parser = parse_digest)]
    digest: Digest,
    /// Why, shown in every refusal it causes.
    #[arg(long, value_name = "TEXT", value_parser = parse_reason, default_value = "denied with `morph trust deny`")]
    reason: String,
    #[command(flatten)]
    trust: TrustStoreArg,
}

fn parse_publisher(text: &str) -> Result<String, String> {
    check_field("publisher", text)?;
    Ok(text.to_owned())
}

fn parse_reason(text: &str) -> Result<String, String> {
    check_field("reason", text)?;
    Ok(text.to_owned())
}

fn parse_digest(text: &str) -> Result<Digest, String> {
    Digest::parse(text).map_err(|e| e.to_string())
}

/// The shortest key-id prefix accepted: what `KeyId::short` shows.
const MIN_KEY_PREFIX: usize = 16;

fn parse_key_prefix(text: &str) -> Result<String, String> {
    let ok =
        (MIN_KEY_PREFIX..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_hexdigit());
    if ok {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(format!(
            "a key id is {MIN_KEY_PREFIX} to 64 hex digits (`morph trust list` shows them)"
        ))
    }
}

/// Runs the `trust` command.
///
/// # Errors
/// See each command.
pub fn execute(args: &TrustArgs, out: &mut Out<impl Write>) -> Result<(), Failure> {
    match &args.command {
        TrustCommand::Add(a) => add(a, out),
        TrustCommand::List(a) => list(a, out),
        TrustCommand::Revoke(a) => revoke(a, out),
        TrustCommand::Deny(a) => deny(a, out),
    }
}

/// # Errors
/// Exit 3 when a file cannot be read or written; 14 when the key or the store is invalid;
/// 10 when the key is listed for another publisher or revoked and `--replace` is absent.
fn add(args: &AddArgs, out: &mut Out<impl Write>) -> Result<(), Failure> {
    let key = read_public_key(&args.public_key)?;
    let id = key.key_id();
    let algorithm = key.algorithm();
    let (changed, path) = args.trust.change(|store, path| {
        match store.key(&id) {
            Some(k) if k.publisher == args.publisher && !k.revoked => return Ok(false),
            Some(k) if !args.replace => {
                return Err(Failure::new(
                    Exit::BadRequest,
                    format!(
                        "key {} is already in the trust store `{}` for `{}`{}; to trust it for `{}` instead, add `--replace`",
                        id.short(),
                        path.display(),
                        k.publisher,
                        if k.revoked { ", revoked" } else { "" },
                        args.publisher
                    ),
                ));
            }
            _ => {}
        }
        store.add_key(key, args.publisher.clone())?;
        Ok(true)
    })?;
    writeln!(
        out,
        "{} {algorithm} key {id} for publisher {}",
        if changed {
            "trusted"
        } else {
            "already trusted:"
        },
        escape(&args.publisher)
    )?;
    writeln!(out, "trust store: {}", output::path(&path))
}

/// # Errors
/// Exit 3 when the store cannot be read, 14 when it is invalid.
fn list(args: &ListArgs, out: &mut Out<impl Write>) -> Result<(), Failure> {
    let (store, path) = args.trust.load()?;
    if args.json {
        let json = list_json(&store, &path);
        let text = serde_json::to_string_pretty(&json)
            .map_err(|e| Failure::internal(format!("cannot print the list: {e}")))?;
        return writeln!(out, "{}", output::json(&text));
    }
    writeln!(out, "trust store: {}", output::path(&path))?;
    writeln!(out)?;
    writeln!(out, "KEYS")?;
    if store.keys().next().is_none() {
        writeln!(
            out,
            "  (none: add one with `morph trust add PREFIX.pub --publisher NAME`)"
        )?;
    }
    for k in store.keys() {
        writeln!(
            out,
            "  {}  {:14}  {:7}  {}",
            k.key_id(),
            k.public_key.algorithm().to_string(),
            status(k),
            escape(&k.publisher)
        )?;
    }
    writeln!(out)?;
    writeln!(out, "DENIED")?;
    if store.denied().next().is_none() {
        writeln!(out, "  (none)")?;
    }
    for (digest, reason) in store.denied() {
        writeln!(out, "  {digest}  {}", escape(reason))?;
    }
    Ok(())
}

fn status(k: &TrustedKey) -> &'static str {
    if k.revoked { "revoked" } else { "trusted" }
}

fn list_json(store: &TrustStore, path: &std::path::Path) -> serde_json::Value {
    let keys: Vec<serde_json::Value> = store
        .keys()
        .map(|k| {
            serde_json::json!({
                "key_id": k.key_id().to_string(),
                "algorithm": k.public_key.algorithm().to_string(),
                "publisher": k.publisher,
                "revoked": k.revoked,
            })
        })
        .collect();
    let denied: Vec<serde_json::Value> = store
        .denied()
        .map(|(d, r)| serde_json::json!({"digest": d.to_string(), "reason": r}))
        .collect();
    serde_json::json!({
        "trust_store": path.display().to_string(),
        "keys": keys,
        "denied": denied,
    })
}

/// The one key whose id starts with `prefix`.
fn find_key(store: &TrustStore, prefix: &str, path: &std::path::Path) -> Result<KeyId, Failure> {
    let matches: Vec<KeyId> = store
        .keys()
        .map(TrustedKey::key_id)
        .filter(|id| id.to_string().starts_with(prefix))
        .collect();
    match matches.as_slice() {
        [id] => Ok(*id),
        [] => Err(Failure::new(
            Exit::BadRequest,
            format!(
                "no key in the trust store `{}` has an id starting with `{prefix}`; `morph trust list` shows the keys",
                path.display()
            ),
        )),
        _ => Err(Failure::new(
            Exit::BadRequest,
            format!(
                "{} keys in the trust store have an id starting with `{prefix}`: give more digits",
                matches.len()
            ),
        )),
    }
}

/// # Errors
/// Exit 10 when no key (or more than one) has that id; 3 and 14 as for the store.
fn revoke(args: &RevokeArgs, out: &mut Out<impl Write>) -> Result<(), Failure> {
    let mut revoked = None;
    let (changed, _) = args.trust.change(|store, path| {
        let id = find_key(store, &args.key_id, path)?;
        let was_revoked = store.key(&id).is_some_and(|k| k.revoked);
        store.revoke(&id)?;
        revoked = store.key(&id).cloned();
        Ok(!was_revoked)
    })?;
    let Some(key) = revoked else {
        return Err(Failure::internal("the revoked key vanished from the store"));
    };
    writeln!(
        out,
        "{} key {} of {}",
        if changed {
            "revoked"
        } else {
            "already revoked:"
        },
        key.key_id(),
        escape(&key.publisher)
    )
}

/// # Errors
/// Exit 3 and 14 as for the store.
fn deny(args: &DenyArgs, out: &mut Out<impl Write>) -> Result<(), Failure> {
    args.trust.change(|store, _| {
        let same = store.denied_reason(&args.digest) == Some(args.reason.as_str());
        store.deny(args.digest, args.reason.clone());
        Ok(!same)
    })?;
    writeln!(out, "denied {} ({})", args.digest, escape(&args.reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_prefixes_are_hex_of_sixteen_to_sixty_four_digits() {
        assert_eq!(
            parse_key_prefix("ABCDEF0123456789").as_deref(),
            Ok("abcdef0123456789")
        );
        assert!(parse_key_prefix(&"a".repeat(64)).is_ok());
        for bad in [
            "abc",
            &"a".repeat(65),
            "g123456789abcdef0",
            "sha256:0123456789abcdef",
        ] {
            assert!(parse_key_prefix(bad).is_err(), "{bad}");
        }
    }
}
