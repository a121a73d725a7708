//! `morph secret`: secrets the host attaches to extensions' HTTP requests, each bound to
//! the hosts it may go to. Values are read from standard input, never echoed, and never
//! enter an extension's memory.

use super::installed::StoreArg;
use crate::exit::{Exit, Failure};
use crate::output::{Out, escape};
use clap::{Args, Subcommand};
use morph_permissions::HostPattern;
use morph_store::{SecretBinding, SecretForm};
use std::io::{Read, Write};

/// `morph secret`.
#[derive(Args, Debug)]
pub struct SecretArgs {
    #[command(subcommand)]
    command: SecretCommand,
    #[command(flatten)]
    store: StoreArg,
}

#[derive(Subcommand, Debug)]
enum SecretCommand {
    /// Set a secret from standard input (one trailing newline is dropped), bound to
    /// the hosts it may be sent to. Sent as `authorization: Bearer VALUE` unless
    /// `--basic-user` or `--header` says otherwise.
    Set {
        /// The secret's name, as extensions ask for it (`github-token`).
        name: String,
        /// A host it may be sent to (`api.github.com`, `*.atlassian.net`); repeatable.
        #[arg(long = "bind", value_name = "HOST", required = true)]
        hosts: Vec<HostPattern>,
        /// Send it as basic authentication with this user (JIRA Cloud: the account's
        /// email).
        #[arg(long, value_name = "USER", conflicts_with = "header")]
        basic_user: Option<String>,
        /// Send it as the value of this header (`x-api-key`).
        #[arg(long, value_name = "NAME")]
        header: Option<String>,
    },
    /// List the secrets: names and bindings, never values.
    List,
    /// Remove a secret.
    Remove {
        /// The secret's name.
        name: String,
    },
}

/// Runs the subcommand.
///
/// # Errors
/// Exit 2 for an empty value or a name or binding the store refuses; 3 when standard
/// input cannot be read; 14 when the store is damaged or busy.
pub fn execute(args: &SecretArgs, out: &mut Out<impl Write>) -> Result<(), Failure> {
    let store = args.store.open()?;
    match &args.command {
        SecretCommand::Set {
            name,
            hosts,
            basic_user,
            header,
        } => {
            let mut value = String::new();
            std::io::stdin().read_to_string(&mut value).map_err(|e| {
                Failure::new(
                    Exit::File,
                    format!("cannot read the secret from standard input: {e}"),
                )
            })?;
            let value = value.strip_suffix('\n').unwrap_or(&value);
            let value = value.strip_suffix('\r').unwrap_or(value);
            if value.is_empty() {
                return Err(Failure::new(
                    Exit::Usage,
                    "the secret is empty; pipe its value to standard input",
                ));
            }
            let form = match (basic_user, header) {
                (Some(user), _) => SecretForm::Basic { user: user.clone() },
                (None, Some(name)) => SecretForm::Header {
                    name: name.to_ascii_lowercase(),
                },
                (None, None) => SecretForm::Bearer,
            };
            let binding = SecretBinding {
                hosts: hosts.iter().cloned().collect(),
                form,
            };
            store
                .set_secret(name, value, &binding)
                .map_err(|e| match e {
                    morph_store::StoreError::InvalidSecret { .. } => {
                        Failure::new(Exit::Usage, e.to_string())
                    }
                    other => Failure::from(other),
                })?;
            writeln!(out, "set secret `{}`", escape(name))?;
        }
        SecretCommand::List => {
            for (name, binding) in store.secrets()? {
                let hosts: Vec<String> = binding.hosts.iter().map(ToString::to_string).collect();
                let form = match &binding.form {
                    SecretForm::Bearer => "bearer".to_owned(),
                    SecretForm::Basic { user } => format!("basic as {}", escape(user)),
                    SecretForm::Header { name } => format!("header {}", escape(name)),
                    _ => "other".to_owned(),
                };
                writeln!(out, "{name} -> {} ({form})", hosts.join(", "))?;
            }
        }
        SecretCommand::Remove { name } => {
            if !store.remove_secret(name)? {
                return Err(Failure::new(
                    Exit::Usage,
                    format!("there is no secret `{}`", escape(name)),
                ));
            }
            writeln!(out, "removed secret `{}`", escape(name))?;
        }
    }
    Ok(())
}
