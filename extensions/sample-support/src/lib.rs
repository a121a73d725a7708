//! # sample-support: what Morph's sample integrations share
//!
//! Internal crate: only the samples in `extensions/` (github, jira, notion, slack)
//! depend on it. It is a library, not an extension: `cargo xtask build` builds only the
//! crates of `extensions/` that are a `cdylib`. Like the samples it depends on
//! `morph-abi` (and serde) only, so what it does is what any extension author can do.
//!
//! - **[`config`]**: the extension's configuration, parsed; a missing or malformed one is
//!   a `config` error, a refused `config.get` a `permission-denied` one.
//! - **[`Service`]**: one remote API at the base URL the configuration names. Requests go
//!   through the host's `http.fetch` with the secret named (never its value: the host
//!   attaches it), the service's fixed headers, and JSON bodies. A response that is not
//!   a success becomes an [`Error`] of the kind an app can act on ([`failure`]).
//! - **[`segment`]** and **[`Query`]**: input put into a URL only percent-encoded, so an
//!   input can never change which path or parameter a request names.

use morph_abi::host::http;
use morph_abi::{Error, ErrorKind, Header, HostError, HttpRequest, HttpResponse, Method};
use serde::de::DeserializeOwned;

/// The most characters of a service's answer quoted in an error message.
const MAX_QUOTED: usize = 300;

/// The extension's configuration (`config.get`), parsed into `T`.
///
/// # Errors
/// `permission-denied` without the `config` grant (the host's message names it);
/// `config` when the configuration does not parse into `T`.
pub fn config<T: DeserializeOwned>() -> Result<T, Error> {
    let text = morph_abi::host::config::get().map_err(Error::from)?;
    serde_json::from_str(&text).map_err(|e| {
        Error::new(
            ErrorKind::Config,
            format!("the configuration is refused: {e}"),
        )
    })
}

/// The configuration every sample takes: the service's base URL.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaseUrl {
    /// The URL the API's paths are appended to.
    pub base_url: String,
}

impl BaseUrl {
    /// The configuration's JSON Schema (for `ExtensionInfo::config_schema`), `example`
    /// given as the description of `base_url`.
    pub fn schema(example: &str) -> String {
        serde_json::json!({
            "type": "object",
            "properties": {"base_url": {"type": "string", "description": example}},
            "required": ["base_url"],
            "additionalProperties": false
        })
        .to_string()
    }
}

/// How one service tells what went wrong in the body of a failed response: the message
/// to quote, if the body has one.
pub type ErrorMessage = fn(&[u8]) -> Option<String>;

/// One remote API: its name (for messages), the base URL from the configuration, the
/// secret the host attaches, and the headers every request carries.
#[derive(Debug, Clone)]
pub struct Service {
    name: &'static str,
    base: String,
    secret: &'static str,
    headers: Vec<Header>,
    error_message: ErrorMessage,
}

impl Service {
    /// The service `name` at `base_url`, authenticated by the host with the secret named
    /// `secret`, sending `headers` with every request; `error_message` reads the
    /// service's error bodies.
    ///
    /// # Errors
    /// `config` when `base_url` is not an `http://` or `https://` URL without query or
    /// fragment. A trailing `/` is dropped.
    pub fn new(
        name: &'static str,
        base_url: &str,
        secret: &'static str,
        headers: &[(&str, &str)],
        error_message: ErrorMessage,
    ) -> Result<Service, Error> {
        let lower = base_url.to_ascii_lowercase();
        let scheme = lower.starts_with("https://") || lower.starts_with("http://");
        if !scheme || base_url.contains(['?', '#']) || base_url.chars().any(char::is_whitespace) {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "`base_url` must be an http:// or https:// URL without query or fragment, not `{}`",
                    base_url.escape_debug()
                ),
            ));
        }
        Ok(Service {
            name,
            base: base_url.trim_end_matches('/').to_owned(),
            secret,
            headers: headers
                .iter()
                .map(|(name, value)| Header {
                    name: (*name).to_owned(),
                    value: (*value).to_owned(),
                })
                .collect(),
            error_message,
        })
    }

    /// [`Service::new`] at the base URL of the extension's configuration ([`BaseUrl`]).
    ///
    /// # Errors
    /// As [`config`] and [`Service::new`].
    pub fn configured(
        name: &'static str,
        secret: &'static str,
        headers: &[(&str, &str)],
        error_message: ErrorMessage,
    ) -> Result<Service, Error> {
        let BaseUrl { base_url } = config()?;
        Service::new(name, &base_url, secret, headers, error_message)
    }

    /// The base URL, without a trailing `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET base + path + query`.
    ///
    /// # Errors
    /// As [`Service::send`].
    pub fn get(&self, path: &str, query: &Query) -> Result<Response, Error> {
        self.send(Method::Get, &format!("{path}{query}"), None)
    }

    /// `POST base + path` with `body` as JSON.
    ///
    /// # Errors
    /// As [`Service::send`].
    pub fn post_json(&self, path: &str, body: &serde_json::Value) -> Result<Response, Error> {
        self.send(Method::Post, path, Some(body))
    }

    /// Sends `method base + path` (with `body` as JSON, if any) and the secret, and
    /// returns the response if its status is a success (2xx).
    ///
    /// # Errors
    /// The host's refusal or failure as the matching kind (`permission-denied` when the
    /// extension may not reach the URL, or a redirect leads where it may not), with the
    /// request named; a failed status as [`failure`] maps it.
    pub fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Response, Error> {
        let mut headers = self.headers.clone();
        let body = body.map(|b| {
            headers.push(Header {
                name: "content-type".to_owned(),
                value: "application/json; charset=utf-8".to_owned(),
            });
            b.to_string().into_bytes()
        });
        let request = HttpRequest {
            method,
            url: format!("{}{path}", self.base),
            headers,
            body,
            secret: Some(self.secret.to_owned()),
            timeout_ms: None,
        };
        let response = http::fetch(&request).map_err(|e| self.host_failure(method, path, e))?;
        let response = Response::from(response);
        match response.is_success() {
            true => Ok(response),
            false => Err(failure(
                self.name,
                &response,
                (self.error_message)(&response.body),
            )),
        }
    }

    fn host_failure(&self, method: Method, path: &str, e: HostError) -> Error {
        let kind = Error::from(e.clone()).kind;
        Error::new(
            kind,
            format!(
                "{} request {} {path} failed: {}",
                self.name,
                method.as_str(),
                e.message
            ),
        )
    }
}

/// A response the host handed back.
#[derive(Debug, Clone)]
pub struct Response {
    status: u16,
    headers: Vec<Header>,
    body: Vec<u8>,
}

impl From<HttpResponse> for Response {
    fn from(r: HttpResponse) -> Self {
        Response {
            status: r.status,
            headers: r.headers,
            body: r.body,
        }
    }
}

impl Response {
    /// A response, for tests.
    pub fn new(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| Header {
                    name: (*n).to_owned(),
                    value: (*v).to_owned(),
                })
                .collect(),
            body: body.to_vec(),
        }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Whether the status is a success (2xx).
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body parsed as JSON into `T`.
    ///
    /// # Errors
    /// `internal` when it does not parse: the service answered something this
    /// extension does not understand.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::internal(format!(
                "the service's answer (status {}) is not the JSON expected: {e}; it began `{}`",
                self.status,
                quoted(&self.body)
            ))
        })
    }

    /// The `retry-after` header in seconds, when it holds a number of seconds (an HTTP
    /// date cannot be turned into a wait without the clock).
    pub fn retry_after_s(&self) -> Option<u64> {
        self.header("retry-after")?.trim().parse().ok()
    }
}

/// The start of `bytes` as text for a message: at most [`MAX_QUOTED`] characters,
/// control characters escaped, surrounding white space trimmed.
pub fn quoted(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    let mut out = String::new();
    for c in text.chars().take(MAX_QUOTED) {
        match c.is_control() {
            true => out.extend(c.escape_default()),
            false => out.push(c),
        }
    }
    if text.chars().nth(MAX_QUOTED).is_some() {
        out.push('…');
    }
    out
}

/// The error of a failed response of service `name`, quoting `message` (the service's
/// own, read from its error body) or else the start of the body:
///
/// | status | kind |
/// |---|---|
/// | 401, 403 | `unauthorized`: fix the secret (or its scopes) |
/// | 403 with `retry-after` or `x-ratelimit-remaining: 0` (GitHub's rate limits), 429 | `rate-limited`, details `{"retry_after_s": N}` when `retry-after` gives N |
/// | 404, 410 | `not-found` |
/// | 408 | `timeout` |
/// | other 4xx | `invalid-input`: the service refused the request's content |
/// | 5xx and anything else | `unavailable`: retry later |
pub fn failure(name: &str, response: &Response, message: Option<String>) -> Error {
    let status = response.status;
    let said = match message {
        Some(m) => quoted(m.as_bytes()),
        None => quoted(&response.body),
    };
    let rate_limit = status == 429
        || (status == 403
            && (response.header("retry-after").is_some()
                || response.header("x-ratelimit-remaining") == Some("0")));
    if rate_limit {
        return rate_limited(name, &said, response.retry_after_s());
    }
    let (kind, hint) = match status {
        401 | 403 => (
            ErrorKind::Unauthorized,
            "; check the secret the host holds for it",
        ),
        404 | 410 => (ErrorKind::NotFound, ""),
        408 => (ErrorKind::Timeout, ""),
        400..=499 => (ErrorKind::InvalidInput, ""),
        _ => (ErrorKind::Unavailable, "; retry later"),
    };
    let said = match said.is_empty() {
        true => said,
        false => format!(": {said}"),
    };
    Error::new(kind, format!("{name} answered {status}{said}{hint}"))
}

/// A `rate-limited` error of service `name`, with details `{"retry_after_s": N}` when
/// the wait is known.
pub fn rate_limited(name: &str, said: &str, retry_after_s: Option<u64>) -> Error {
    let wait = match retry_after_s {
        Some(s) => format!("retry after {s} s"),
        None => "retry later".to_owned(),
    };
    let said = match said.is_empty() {
        true => String::new(),
        false => format!(" ({said})"),
    };
    let e = Error::new(
        ErrorKind::RateLimited,
        format!("{name} is rate limiting these requests{said}; {wait}"),
    );
    match retry_after_s {
        Some(s) => e.with_details(serde_json::json!({ "retry_after_s": s })),
        None => e,
    }
}

/// `text` percent-encoded as one path segment (everything but RFC 3986's unreserved
/// characters is escaped, `/` included).
///
/// # Errors
/// `invalid-input` naming `field` when `text` is empty, `.` or `..`: segments a URL
/// resolves away, changing the path.
pub fn segment(field: &str, text: &str) -> Result<String, Error> {
    if matches!(text, "" | "." | "..") {
        return Err(Error::invalid_input(format!(
            "`{field}` may not be empty, `.` or `..`"
        )));
    }
    Ok(encode(text))
}

/// Everything but RFC 3986's unreserved characters percent-encoded.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A URL query, each name and value percent-encoded. `Display` writes `?a=1&b=2`, or
/// nothing when empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// An empty query.
    pub fn new() -> Query {
        Query::default()
    }

    /// Adds `name=value`.
    #[must_use]
    pub fn with(mut self, name: &str, value: impl ToString) -> Query {
        self.0.push((encode(name), encode(&value.to_string())));
        self
    }

    /// Adds `name=value` when there is a value.
    #[must_use]
    pub fn with_opt(self, name: &str, value: Option<impl ToString>) -> Query {
        match value {
            Some(v) => self.with(name, v),
            None => self,
        }
    }
}

impl std::fmt::Display for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (name, value)) in self.0.iter().enumerate() {
            let sep = if i == 0 { '?' } else { '&' };
            write!(f, "{sep}{name}={value}")?;
        }
        Ok(())
    }
}

/// The value of parameter `name` in `url`'s query, percent-decoded (`+` is a space).
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k) == name).then(|| decode(v))
    })
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &[u8]) -> Option<String> {
        None
    }

    #[test]
    fn statuses_map_to_the_kinds_an_app_acts_on() {
        let kind = |status, headers: &[(&str, &str)]| {
            failure("S", &Response::new(status, headers, b"{}"), None).kind
        };
        assert_eq!(kind(401, &[]), ErrorKind::Unauthorized);
        assert_eq!(kind(403, &[]), ErrorKind::Unauthorized);
        assert_eq!(kind(404, &[]), ErrorKind::NotFound);
        assert_eq!(kind(410, &[]), ErrorKind::NotFound);
        assert_eq!(kind(422, &[]), ErrorKind::InvalidInput);
        assert_eq!(kind(429, &[]), ErrorKind::RateLimited);
        assert_eq!(
            kind(403, &[("X-RateLimit-Remaining", "0")]),
            ErrorKind::RateLimited
        );
        assert_eq!(kind(500, &[]), ErrorKind::Unavailable);
        assert_eq!(kind(503, &[]), ErrorKind::Unavailable);

        let e = failure(
            "Svc",
            &Response::new(429, &[("Retry-After", "17")], b"slow down"),
            None,
        );
        assert_eq!(e.details.as_deref(), Some(r#"{"retry_after_s":17}"#));
        assert_eq!(
            e.message,
            "Svc is rate limiting these requests (slow down); retry after 17 s"
        );
        let e = failure(
            "Svc",
            &Response::new(
                429,
                &[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")],
                b"",
            ),
            Some("too many".into()),
        );
        assert_eq!(e.details, None);
        assert!(e.message.ends_with("retry later"), "{}", e.message);
    }

    #[test]
    fn a_service_refuses_a_base_url_that_is_not_http() {
        for bad in [
            "ftp://x",
            "api.github.com",
            "https://x/?a=1",
            "https://x/#f",
        ] {
            let e = Service::new("S", bad, "t", &[], none).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Config, "{bad}");
        }
        let s = Service::new("S", "https://api.example.com/", "t", &[], none).unwrap();
        assert_eq!(s.base(), "https://api.example.com");
    }

    #[test]
    fn inputs_enter_urls_encoded() {
        assert_eq!(segment("repo", "a/b c").unwrap(), "a%2Fb%20c");
        assert_eq!(segment("repo", "x.y-z_~").unwrap(), "x.y-z_~");
        for bad in ["", ".", ".."] {
            assert_eq!(
                segment("repo", bad).unwrap_err().kind,
                ErrorKind::InvalidInput
            );
        }
        let q = Query::new()
            .with("state", "open")
            .with_opt("cursor", Some("a=b&c"))
            .with_opt("page", None::<u32>);
        assert_eq!(q.to_string(), "?state=open&cursor=a%3Db%26c");
        assert_eq!(Query::new().to_string(), "");
    }

    #[test]
    fn query_params_are_read_back_decoded() {
        let url = "https://api.github.com/repositories/1/issues?state=all&page=3&x=a%20b+c#f";
        assert_eq!(query_param(url, "page").as_deref(), Some("3"));
        assert_eq!(query_param(url, "x").as_deref(), Some("a b c"));
        assert_eq!(query_param(url, "nope"), None);
        assert_eq!(query_param("https://x/y", "page"), None);
    }

    #[test]
    fn malformed_json_is_internal() {
        let r = Response::new(200, &[], b"<html>oops</html>");
        let e = r.json::<serde_json::Value>().unwrap_err();
        assert_eq!(e.kind, ErrorKind::Internal);
        assert!(e.message.contains("<html>oops</html>"), "{}", e.message);
    }
}
