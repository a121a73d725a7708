//! `http.fetch`: one guest request, sent with reqwest, its redirects followed here and
//! each hop checked, its secret attached only where it is bound, its answer capped and
//! scrubbed of the secret.
//!
//! The checkpoint has decided the first hop (the method on the URL the guest named, and
//! the `secret` grant for its host) before the handler runs. reqwest follows no
//! redirect itself: each `Location` is resolved against the URL that answered, parsed
//! into a [`HttpTarget`] (the same checks as the guest's URL) and put to the
//! [`PermissionCheck`] as a new [`Request::Http`]; a refused hop fails the call. A hop
//! to another host gets the secret only if the secret is bound to that host and the
//! check allows [`Request::Secret`] there; otherwise it goes without (as browsers drop
//! `authorization` across origins). Every hop, sent or refused, is one audit record.

use crate::caps::{Entry, Inner};
use crate::{Error, HttpLimits, PermissionCheck};
use base64::Engine as _;
use morph_abi::{Header, HostError, HostErrorKind, HttpRequest, HttpResponse, Method};
use morph_permissions::{Decision, HttpTarget, PermissionKind, Request};
use morph_runtime::CallContext;
use morph_store::{AuditOutcome, FRAMING_HEADERS, Secret, SecretForm};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue, LOCATION};
use std::time::Duration;

/// Credential headers a guest may not set: the host attaches secrets. Nor may it set
/// routing and framing headers ([`FRAMING_HEADERS`]) or `proxy-*` ones.
const CREDENTIAL_HEADERS: [&str; 2] = ["authorization", "cookie"];

/// What replaces a secret's value (and its encodings) in a response.
pub const REDACTED: &str = "[redacted]";

/// The client every fetch goes through: rustls with ring (installed as the process's
/// crypto provider if none is), no proxy, no automatic redirect, no decompression.
pub(crate) fn client(limits: &HttpLimits) -> Result<reqwest::Client, Error> {
    install_crypto();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("morph/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(limits.max_timeout)
        .build()
        .map_err(|e| Error::Http {
            reason: e.to_string(),
        })
}

/// Installs ring as the process's rustls crypto provider, unless one is: reqwest is
/// built without a provider of its own and panics building a client without one.
fn install_crypto() {
    static PROVIDER: std::sync::Once = std::sync::Once::new();
    PROVIDER.call_once(|| {
        // Err means another provider is installed already: that one serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

fn error(kind: HostErrorKind, message: impl Into<String>) -> HostError {
    HostError::new(kind, message)
}

fn method_of(method: Method) -> reqwest::Method {
    match method {
        Method::Get => reqwest::Method::GET,
        Method::Head => reqwest::Method::HEAD,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
        Method::Options => reqwest::Method::OPTIONS,
    }
}

/// Whether a dry run sends this method (it reads) or records it (it may write).
pub(crate) fn is_read(method: Method) -> bool {
    matches!(method, Method::Get | Method::Head)
}

/// The guest's headers, checked: valid names and values, none of
/// [`CREDENTIAL_HEADERS`], [`FRAMING_HEADERS`] nor `proxy-*`.
fn guest_headers(headers: &[Header]) -> Result<HeaderMap, HostError> {
    let mut map = HeaderMap::new();
    for header in headers {
        let name = HeaderName::from_bytes(header.name.as_bytes()).map_err(|_| {
            error(
                HostErrorKind::InvalidArgument,
                format!(
                    "`{}` is not an HTTP header name",
                    header.name.escape_debug()
                ),
            )
        })?;
        let name_text = name.as_str();
        if CREDENTIAL_HEADERS.contains(&name_text)
            || FRAMING_HEADERS.contains(&name_text)
            || name_text.starts_with("proxy-")
        {
            return Err(error(
                HostErrorKind::InvalidArgument,
                format!(
                    "an extension may not set the `{name}` header: the host sets credentials \
                     (name a secret instead), routing and framing headers"
                ),
            ));
        }
        let value = HeaderValue::from_str(&header.value).map_err(|_| {
            error(
                HostErrorKind::InvalidArgument,
                format!("the value of header `{name}` holds a character headers cannot carry"),
            )
        })?;
        map.append(name, value);
    }
    Ok(map)
}

/// The header that carries `secret`, in its form, marked sensitive (never printed).
fn secret_header(secret: &Secret) -> Result<(HeaderName, HeaderValue), HostError> {
    let value = secret.value.expose();
    let (name, text) = match &secret.binding.form {
        SecretForm::Bearer => (AUTHORIZATION, format!("Bearer {value}")),
        SecretForm::Basic { user } => (
            AUTHORIZATION,
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{value}"))
            ),
        ),
        SecretForm::Header { name } => (
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad_secret(secret))?,
            value.to_owned(),
        ),
        _ => return Err(bad_secret(secret)),
    };
    let mut value = HeaderValue::from_str(&text).map_err(|_| bad_secret(secret))?;
    value.set_sensitive(true);
    Ok((name, value))
}

fn bad_secret(secret: &Secret) -> HostError {
    error(
        HostErrorKind::Internal,
        format!(
            "the secret `{}` cannot be sent in its form ({})",
            secret.name, secret.binding.form
        ),
    )
}

/// The byte strings a response must not carry back: the value, and the encodings a
/// service could echo it in (base64 of it, of `user:value` for basic, JSON-escaped,
/// percent-encoded).
fn needles(secret: &Secret) -> Vec<Vec<u8>> {
    let value = secret.value.expose();
    let b64 = |s: &str| {
        base64::engine::general_purpose::STANDARD
            .encode(s)
            .into_bytes()
    };
    let mut out = vec![value.as_bytes().to_vec(), b64(value)];
    if let SecretForm::Basic { user } = &secret.binding.form {
        out.push(b64(&format!("{user}:{value}")));
    }
    if let Ok(json) = serde_json::to_string(value) {
        let inner = json.trim_start_matches('"').trim_end_matches('"');
        out.push(inner.as_bytes().to_vec());
    }
    out.push(percent_encode(value).into_bytes());
    out.sort();
    out.dedup();
    out.retain(|n| !n.is_empty());
    out
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            true => out.push(char::from(b)),
            false => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `bytes` with every occurrence of every needle replaced by [`REDACTED`], in time
/// linear in `bytes` per needle.
pub(crate) fn scrub(bytes: Vec<u8>, needles: &[Vec<u8>]) -> Vec<u8> {
    let mut bytes = bytes;
    for needle in needles {
        let finder = memchr::memmem::Finder::new(needle);
        if finder.find(&bytes).is_none() {
            continue;
        }
        let mut out = Vec::with_capacity(bytes.len());
        let mut start = 0;
        for at in finder.find_iter(&bytes) {
            if at < start {
                continue;
            }
            out.extend_from_slice(bytes.get(start..at).unwrap_or_default());
            out.extend_from_slice(REDACTED.as_bytes());
            start = at.saturating_add(needle.len());
        }
        out.extend_from_slice(bytes.get(start..).unwrap_or_default());
        bytes = out;
    }
    bytes
}

/// One fetch for one guest call.
pub(crate) struct Fetch<'a> {
    pub(crate) inner: &'a Inner,
    pub(crate) cx: &'a CallContext,
    pub(crate) audit: &'a mut Vec<Entry>,
}

impl Fetch<'_> {
    /// Performs `request` (see the module docs).
    pub(crate) async fn run(mut self, request: HttpRequest) -> Result<HttpResponse, HostError> {
        let target = HttpTarget::parse(&request.url).map_err(|e| {
            error(
                HostErrorKind::InvalidArgument,
                format!("the URL is refused: {e}"),
            )
        })?;
        let first = format!("{} {}", request.method.as_str(), target);
        let headers = match guest_headers(&request.headers) {
            Ok(h) => h,
            Err(e) => return Err(self.failed(&first, e)),
        };
        let secret = match &request.secret {
            Some(name) => match self.load_secret(name, &target).await {
                Ok(s) => Some(s),
                Err(e) => return Err(e),
            },
            None => None,
        };
        if let Some(Secret {
            binding:
                morph_store::SecretBinding {
                    form: SecretForm::Header { name },
                    ..
                },
            ..
        }) = &secret
            && headers.contains_key(name.as_str())
        {
            let e = error(
                HostErrorKind::InvalidArgument,
                format!("the request sets the `{name}` header, which its secret goes in"),
            );
            return Err(self.failed(&first, e));
        }
        if self.inner.dry_run && !is_read(request.method) {
            let body = request.body.as_ref().map_or(0, Vec::len);
            let with = secret
                .as_ref()
                .map(|s| format!(", secret `{}` attached", s.name))
                .unwrap_or_default();
            self.record(
                PermissionKind::Http,
                first,
                AuditOutcome::DryRun,
                format!("not sent: {body} body bytes{with}; answered 200 with an empty body"),
            );
            return Ok(HttpResponse {
                status: 200,
                headers: Vec::new(),
                body: Vec::new(),
            });
        }
        let limits = self.inner.http_limits;
        let timeout = request
            .timeout_ms
            .map_or(limits.max_timeout, |ms| Duration::from_millis(ms.into()))
            .min(limits.max_timeout);
        let needles = secret.as_ref().map(needles).unwrap_or_default();
        let send = self.follow(request, target, headers, secret.as_ref(), limits);
        let result = match tokio::time::timeout(timeout, send).await {
            Ok(result) => result,
            Err(_) => {
                let e = error(
                    HostErrorKind::Unavailable,
                    format!("{first} timed out after {} ms", timeout.as_millis()),
                );
                Err(self.failed(&first, e))
            }
        };
        result.map(|r| HttpResponse {
            status: r.status,
            headers: r
                .headers
                .into_iter()
                .map(|h| Header {
                    name: h.name,
                    value: String::from_utf8_lossy(&scrub(h.value.into_bytes(), &needles))
                        .into_owned(),
                })
                .collect(),
            body: scrub(r.body, &needles),
        })
    }

    /// The secret `name`, if it may go to the first hop's host.
    async fn load_secret(&mut self, name: &str, target: &HttpTarget) -> Result<Secret, HostError> {
        let owned = name.to_owned();
        let found = self
            .inner
            .on_store(move |s| s.secret(&owned))
            .await
            .map_err(|e| self.failed_kind(PermissionKind::Secret, name, e))?;
        let Some(secret) = found else {
            let e = error(
                HostErrorKind::NotFound,
                format!("no secret `{}` is set on this host", name.escape_debug()),
            );
            return Err(self.failed_kind(PermissionKind::Secret, name, e));
        };
        if !secret.binding.allows(target.host()) {
            let bound: Vec<String> = secret
                .binding
                .hosts
                .iter()
                .map(ToString::to_string)
                .collect();
            let message = format!(
                "the secret `{}` is bound to {} and is never sent to {}",
                secret.name,
                bound.join(", "),
                target.host()
            );
            self.record(
                PermissionKind::Secret,
                format!("secret `{}` sent to {}", secret.name, target.host()),
                AuditOutcome::Denied,
                message.clone(),
            );
            return Err(error(HostErrorKind::PermissionDenied, message));
        }
        Ok(secret)
    }

    /// Sends the request and follows its redirects, each hop checked.
    async fn follow(
        &mut self,
        request: HttpRequest,
        mut target: HttpTarget,
        headers: HeaderMap,
        secret: Option<&Secret>,
        limits: HttpLimits,
    ) -> Result<Received, HostError> {
        let checker: &dyn PermissionCheck = match &self.inner.checker {
            Some(checker) => &**checker,
            None => self.inner,
        };
        let mut method = request.method;
        let mut body = request.body;
        let mut redirects = 0u32;
        loop {
            let shown = format!("{} {}", method.as_str(), target);
            let mut builder = self
                .inner
                .client
                .request(method_of(method), target.as_str())
                .headers(headers.clone());
            let attach = match secret {
                Some(s) if redirects == 0 => Some(s),
                Some(s) => {
                    let asked = Request::Secret {
                        name: s.name.clone(),
                        host: target.host().clone(),
                    };
                    (s.binding.allows(target.host()) && checker.check(self.cx, &asked).is_allowed())
                        .then_some(s)
                }
                None => None,
            };
            if let Some(s) = attach {
                let (name, value) = secret_header(s).map_err(|e| self.failed(&shown, e))?;
                builder = builder.header(name, value);
            }
            if let Some(bytes) = &body {
                builder = builder.body(bytes.clone());
            }
            let response = match builder.send().await {
                Ok(r) => r,
                Err(e) => {
                    let e = error(
                        HostErrorKind::Unavailable,
                        format!("{shown} failed: {}", with_causes(&e)),
                    );
                    return Err(self.failed(&shown, e));
                }
            };
            let status = response.status();
            let location = response.headers().get(LOCATION).cloned();
            let next_method = match status.as_u16() {
                301 | 302 if method == Method::Post => Some(Method::Get),
                303 if method != Method::Head => Some(Method::Get),
                301 | 302 | 303 | 307 | 308 => Some(method),
                _ => None,
            };
            let with_secret = match (secret, attach) {
                (Some(s), Some(_)) => format!(", secret `{}` attached", s.name),
                (Some(s), None) => format!(", secret `{}` not attached (not bound here)", s.name),
                _ => String::new(),
            };
            let (Some(next_method), Some(location)) = (next_method, location) else {
                let answer = read(response, limits.max_response_bytes).await;
                let detail = match &answer {
                    Ok(a) => format!("status {}, {} bytes{with_secret}", a.status, a.body.len()),
                    Err(e) => e.message.clone(),
                };
                let outcome = match answer.is_ok() {
                    true => AuditOutcome::Allowed,
                    false => AuditOutcome::Failed,
                };
                self.record(PermissionKind::Http, shown, outcome, detail);
                return answer;
            };
            drop(response);
            let next = resolve(&target, &location).map_err(|reason| {
                let e = error(
                    HostErrorKind::Unavailable,
                    format!("{shown} redirected to a location the host refuses: {reason}"),
                );
                self.failed(&shown, e)
            })?;
            self.record(
                PermissionKind::Http,
                shown.clone(),
                AuditOutcome::Allowed,
                format!(
                    "status {}, redirected to {next}{with_secret}",
                    status.as_u16()
                ),
            );
            redirects = redirects.saturating_add(1);
            if redirects > limits.max_redirects {
                let e = error(
                    HostErrorKind::LimitExceeded,
                    format!(
                        "{} was redirected more than {} times",
                        request.url.escape_debug(),
                        limits.max_redirects
                    ),
                );
                return Err(self.failed(&format!("{} {next}", next_method.as_str()), e));
            }
            if next_method != method {
                body = None;
            }
            method = next_method;
            let asked = Request::Http {
                method,
                target: next.clone(),
            };
            if let Decision::Deny(denial) = checker.check(self.cx, &asked) {
                let hop = format!("{} {next}", method.as_str());
                self.record(
                    PermissionKind::Http,
                    hop.clone(),
                    AuditOutcome::Denied,
                    denial.to_string(),
                );
                return Err(error(
                    HostErrorKind::PermissionDenied,
                    format!(
                        "{shown} redirected to {hop}, which `{}` may not reach: {denial}",
                        self.cx.extension
                    ),
                ));
            }
            target = next;
        }
    }

    fn record(
        &mut self,
        kind: PermissionKind,
        target: String,
        outcome: AuditOutcome,
        detail: String,
    ) {
        self.audit.push(Entry {
            permission: kind,
            target,
            outcome,
            detail,
        });
    }

    /// Records `e` as the failure of the request shown as `shown`; returns it.
    fn failed(&mut self, shown: &str, e: HostError) -> HostError {
        self.failed_kind(PermissionKind::Http, shown, e)
    }

    fn failed_kind(&mut self, kind: PermissionKind, target: &str, e: HostError) -> HostError {
        self.record(
            kind,
            target.to_owned(),
            AuditOutcome::Failed,
            e.message.clone(),
        );
        e
    }
}

/// A final response, read.
pub(crate) struct Received {
    pub(crate) status: u16,
    pub(crate) headers: Vec<Header>,
    pub(crate) body: Vec<u8>,
}

/// Reads the response's headers and at most `cap` bytes of body: past it, the
/// connection is dropped and the call fails.
pub(crate) async fn read(mut response: reqwest::Response, cap: u64) -> Result<Received, HostError> {
    let too_large = || {
        error(
            HostErrorKind::LimitExceeded,
            format!("the response body is larger than the host's limit of {cap} bytes"),
        )
    };
    if response.content_length().is_some_and(|len| len > cap) {
        return Err(too_large());
    }
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| Header {
            name: name.as_str().to_owned(),
            value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
        })
        .collect();
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    let mut body = Vec::new();
    loop {
        let chunk = response.chunk().await.map_err(|e| {
            error(
                HostErrorKind::Unavailable,
                format!("reading the response failed: {}", with_causes(&e)),
            )
        })?;
        let Some(chunk) = chunk else { break };
        if body.len().saturating_add(chunk.len()) > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Received {
        status,
        headers,
        body,
    })
}

/// A `Location` resolved against the URL that answered, and checked like a guest's URL.
fn resolve(base: &HttpTarget, location: &HeaderValue) -> Result<HttpTarget, String> {
    let location = location
        .to_str()
        .map_err(|_| "its `location` is not ASCII".to_owned())?;
    let base = url::Url::parse(base.as_str()).map_err(|e| e.to_string())?;
    let joined = base
        .join(location)
        .map_err(|e| format!("`{}` {e}", location.escape_debug()))?;
    HttpTarget::parse(joined.as_str()).map_err(|e| e.to_string())
}

/// reqwest's message with its causes (the URL in it is the guest's own).
pub(crate) fn with_causes(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_replaces_every_occurrence_and_keeps_the_rest() {
        let needles = vec![b"tok".to_vec()];
        assert_eq!(
            scrub(b"a tok b toktok".to_vec(), &needles),
            b"a [redacted] b [redacted][redacted]".to_vec()
        );
        assert_eq!(scrub(b"nothing".to_vec(), &needles), b"nothing".to_vec());
        assert_eq!(percent_encode("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn guest_headers_refuse_credentials_routing_and_framing() {
        let h = |name: &str| Header {
            name: name.to_owned(),
            value: "v".to_owned(),
        };
        for name in [
            "Authorization",
            "cookie",
            "HOST",
            "proxy-authorization",
            "content-length",
        ] {
            let err = guest_headers(&[h(name)]).unwrap_err();
            assert_eq!(err.kind, HostErrorKind::InvalidArgument, "{name}");
            assert!(err.message.contains("may not set"), "{}", err.message);
        }
        assert!(guest_headers(&[h("x a")]).is_err());
        let bad = Header {
            name: "x-a".to_owned(),
            value: "a\r\nb".to_owned(),
        };
        assert!(guest_headers(&[bad]).is_err());
        assert_eq!(guest_headers(&[h("accept"), h("accept")]).unwrap().len(), 2);
    }
}
