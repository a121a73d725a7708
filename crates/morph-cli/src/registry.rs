//! What `push` and `pull` share: the reference argument, the registry flags, and the
//! Tokio runtime each of them runs morph-registry's async functions on.

use crate::exit::{Exit, Failure};
use clap::Args;
use morph_registry::{Credentials, PackageRef, RegistryError, RemoteOptions, is_loopback};
use std::future::Future;
use std::io::Read;

/// The help text of a reference argument.
pub const REF_HELP: &str = "Where the package goes or comes from: `oci://HOST[:PORT]/REPO:TAG`, `oci://HOST[:PORT]/REPO@sha256:HEX`, or a local OCI image layout folder, `oci-layout:DIR:TAG` (or `@sha256:HEX`)";

/// Parses a reference for clap (a bad one is a usage error, exit 2).
pub fn parse_ref(text: &str) -> Result<PackageRef, String> {
    PackageRef::parse(text).map_err(|e| e.to_string())
}

/// `--plain-http`, `--user`, `--password-stdin`.
#[derive(Args, Debug)]
pub struct RemoteArgs {
    /// Talk plain HTTP instead of HTTPS: only for a registry on this machine's loopback
    /// interface (127.0.0.1, [::1], localhost); refused for any other.
    #[arg(long)]
    plain_http: bool,
    /// The user name for the registry's basic authentication (needs `--password-stdin`).
    #[arg(long, value_name = "NAME", requires = "password_stdin")]
    user: Option<String>,
    /// Read the password from standard input (its first line; never from the command
    /// line, where other users could see it).
    #[arg(long, requires = "user")]
    password_stdin: bool,
}

/// The longest password read from standard input, in bytes.
const MAX_PASSWORD: u64 = 4096;

impl RemoteArgs {
    /// The options for `reference`, reading the password from stdin when asked to.
    ///
    /// # Errors
    /// Exit 2 when a registry flag is given for a local layout, or the password is empty
    /// or too long; exit 3 when standard input cannot be read.
    pub fn options(&self, reference: &PackageRef) -> Result<RemoteOptions, Failure> {
        if matches!(reference, PackageRef::Layout(_)) && (self.plain_http || self.user.is_some()) {
            return Err(Failure::new(
                Exit::Usage,
                format!(
                    "`{reference}` is a local folder: `--plain-http`, `--user` and `--password-stdin` are for `oci://` registries; drop them"
                ),
            ));
        }
        let credentials = match &self.user {
            Some(username) => Some(Credentials {
                username: username.clone(),
                password: read_password(std::io::stdin().lock())?,
            }),
            None => None,
        };
        Ok(RemoteOptions {
            credentials,
            plain_http: self.plain_http,
            ..RemoteOptions::default()
        })
    }

    /// A push or pull error as a failure; a transport failure with a loopback registry
    /// reached over HTTPS says that `--plain-http` may be what is missing.
    pub fn failure(&self, reference: &PackageRef, e: RegistryError) -> Failure {
        let hint = matches!(e, RegistryError::Transport { .. })
            .then(|| self.transport_hint(reference))
            .flatten();
        let failure = Failure::from(e);
        match hint {
            Some(hint) => failure.hint(hint),
            None => failure,
        }
    }

    /// What to add to a transport failure with `reference`: a loopback registry reached
    /// over HTTPS may be one that speaks plain HTTP.
    fn transport_hint(&self, reference: &PackageRef) -> Option<&'static str> {
        match reference {
            PackageRef::Remote(r) if !self.plain_http && is_loopback(&r.registry) => {
                Some("if the registry on this machine speaks plain HTTP, add `--plain-http`")
            }
            _ => None,
        }
    }
}

/// The password: the first line of `input` without its line ending.
fn read_password(input: impl Read) -> Result<String, Failure> {
    let mut bytes = Vec::new();
    input
        .take(MAX_PASSWORD + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| {
            Failure::new(
                Exit::File,
                format!("cannot read the password from standard input: {e}"),
            )
        })?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_PASSWORD {
        return Err(Failure::new(
            Exit::Usage,
            format!("the password on standard input is longer than {MAX_PASSWORD} bytes"),
        ));
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        Failure::new(
            Exit::Usage,
            "the password on standard input is not UTF-8 text",
        )
    })?;
    let line = text.lines().next().unwrap_or_default();
    if line.is_empty() {
        return Err(Failure::new(
            Exit::Usage,
            "`--password-stdin` read no password: pipe it in, as `printf '%s' \"$PASSWORD\" | morph ...`",
        ));
    }
    Ok(line.to_owned())
}

/// Runs `future` to completion on a current-thread Tokio runtime made for it (with the
/// I/O and time drivers the HTTP client needs). One transfer per command, so one thread.
///
/// # Errors
/// Exit 1 when the runtime cannot be started.
pub fn block_on<F: Future>(future: F) -> Result<F::Output, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::internal(format!("cannot start the async runtime: {e}")))?;
    Ok(runtime.block_on(future))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_password_is_the_first_line_without_its_ending() {
        assert_eq!(read_password(&b"s3cret\n"[..]).unwrap(), "s3cret");
        assert_eq!(read_password(&b"s3cret\r\nmore"[..]).unwrap(), "s3cret");
        assert_eq!(read_password(&b" spaced "[..]).unwrap(), " spaced ");
        for bad in [&b""[..], b"\n", b"\xff\n"] {
            assert_eq!(read_password(bad).err().unwrap().exit(), Exit::Usage);
        }
        let long = vec![b'x'; 5000];
        assert_eq!(read_password(&long[..]).err().unwrap().exit(), Exit::Usage);
    }

    #[test]
    fn registry_flags_are_refused_for_a_local_layout() {
        let args = RemoteArgs {
            plain_http: true,
            user: None,
            password_stdin: false,
        };
        let layout = PackageRef::parse("oci-layout:/tmp/x:v1").unwrap();
        assert_eq!(args.options(&layout).err().unwrap().exit(), Exit::Usage);
        let remote = PackageRef::parse("oci://127.0.0.1:5000/acme/hello:v1").unwrap();
        assert!(args.options(&remote).unwrap().plain_http);
        assert_eq!(args.transport_hint(&remote), None);
        let https = RemoteArgs {
            plain_http: false,
            ..args
        };
        assert!(https.transport_hint(&remote).is_some());
        let far = PackageRef::parse("oci://registry.example/acme/hello:v1").unwrap();
        assert_eq!(https.transport_hint(&far), None);
    }
}
