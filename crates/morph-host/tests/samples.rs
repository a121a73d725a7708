//! The sample integrations (`extensions/{github,jira,notion,slack}`) against HTTP servers
//! on loopback (wiremock), through the real capabilities (`morph-capabilities`: store,
//! secrets, config, audit) and the permissions their own `morph.toml` requests, with
//! the service's host swapped for the test server's.
//!
//! Each exchange checks what the extension sent (method, path, query, the exact
//! `authorization` value the host attached, the service's version headers, the JSON
//! body) and what it made of a realistic answer (trimmed from the services' documented
//! examples). Failures are checked for the contract's error kind, the message a person
//! sees and the machine-readable details. The token must appear nowhere the guest could
//! see it: not in its output, not in any byte a host call handed it.
//!
//! Run on `wasmtime-core` unless a test says otherwise; GitHub's listing runs on every
//! backend of the build. Needs `cargo xtask build` (the modules in target/extensions).
#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use morph_abi::ErrorKind as ActionErrorKind;
use morph_capabilities::Capabilities;
use morph_host::{
    Backend, BoxFuture, CallContext, Error, ErrorKind, ExecuteOptions, Grant, GrantSet, Host,
    HostCall, HostError, HostHandler, HostReply, Prepared,
};
use morph_store::{SecretBinding, SecretForm, Store};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

/// The secret's value in every test. Long and distinctive, so that a search for it
/// cannot match by chance.
const TOKEN: &str = "tok_7Hq2vX9LmN4pR8sT1wZ6yB3cD5fG0jK";
/// The JIRA account the basic form carries.
const JIRA_USER: &str = "ada@example.com";

/// One sample: where its module and manifest are, the secret it names and its form,
/// the real origin its manifest grants (swapped for the test server's), and the
/// headers every one of its requests must carry.
struct Sample {
    name: &'static str,
    secret: &'static str,
    form: fn() -> SecretForm,
    origin: &'static str,
    secret_host: &'static str,
    headers: &'static [(&'static str, &'static str)],
}

const GITHUB: Sample = Sample {
    name: "github",
    secret: "github-token",
    form: || SecretForm::Bearer,
    origin: "https://api.github.com",
    secret_host: "api.github.com",
    headers: &[
        ("accept", "application/vnd.github+json"),
        ("x-github-api-version", "2022-11-28"),
        ("user-agent", "morph-github-sample/0.1.0"),
    ],
};

const JIRA: Sample = Sample {
    name: "jira",
    secret: "jira-token",
    form: || SecretForm::Basic {
        user: JIRA_USER.to_owned(),
    },
    origin: "https://*.atlassian.net",
    secret_host: "*.atlassian.net",
    headers: &[("accept", "application/json")],
};

const NOTION: Sample = Sample {
    name: "notion",
    secret: "notion-token",
    form: || SecretForm::Bearer,
    origin: "https://api.notion.com",
    secret_host: "api.notion.com",
    headers: &[
        ("accept", "application/json"),
        ("notion-version", "2022-06-28"),
    ],
};

const SLACK: Sample = Sample {
    name: "slack",
    secret: "slack-token",
    form: || SecretForm::Bearer,
    origin: "https://slack.com",
    secret_host: "slack.com",
    headers: &[("accept", "application/json")],
};

const SAMPLES: [&Sample; 4] = [&GITHUB, &JIRA, &NOTION, &SLACK];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

impl Sample {
    fn wasm(&self) -> Vec<u8> {
        let path = root().join(format!("target/extensions/{}.wasm", self.name));
        std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{} is missing ({e}): run `cargo xtask build` first",
                path.display()
            )
        })
    }

    fn manifest(&self) -> morph_manifest::Manifest {
        let path = root().join(format!("extensions/{}/morph.toml", self.name));
        let text = std::fs::read_to_string(&path).expect("morph.toml");
        morph_manifest::Manifest::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", self.name))
    }

    /// What the manifest requests, its service's host swapped for `server`'s: the test
    /// runs with exactly the permissions a person would grant the real one.
    fn grants(&self, server: &MockServer) -> Vec<String> {
        let secret_host = format!("@{}", self.secret_host);
        self.manifest()
            .requested()
            .iter()
            .map(|g| {
                g.to_string()
                    .replace(self.origin, &server.uri())
                    .replace(&secret_host, "@127.0.0.1")
            })
            .collect()
    }

    /// The `authorization` value the host must send.
    fn authorization(&self) -> String {
        match (self.form)() {
            SecretForm::Basic { user } => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{TOKEN}"))
            ),
            _ => format!("Bearer {TOKEN}"),
        }
    }
}

/// The capabilities, recording every byte a host call hands the guest: its answers and
/// its error messages.
struct Recorder {
    caps: Capabilities,
    received: Mutex<Vec<u8>>,
}

impl HostHandler for Recorder {
    fn handle<'a>(
        &'a self,
        cx: &'a CallContext,
        call: HostCall,
    ) -> BoxFuture<'a, Result<HostReply, HostError>> {
        Box::pin(async move {
            let answer = self.caps.handle(cx, call).await;
            let mut received = self.received.lock().unwrap();
            match &answer {
                Ok(HostReply::Http(r)) => {
                    for h in &r.headers {
                        received.extend_from_slice(h.name.as_bytes());
                        received.extend_from_slice(h.value.as_bytes());
                    }
                    received.extend_from_slice(&r.body);
                }
                Ok(HostReply::Config(text)) => received.extend_from_slice(text.as_bytes()),
                Ok(other) => received.extend_from_slice(format!("{other:?}").as_bytes()),
                Err(e) => received.extend_from_slice(e.message.as_bytes()),
            }
            answer
        })
    }
}

/// One sample prepared on one backend, its server on 127.0.0.1, its secret bound to
/// 127.0.0.1, its configuration pointing at the server.
struct Fixture {
    sample: &'static Sample,
    server: MockServer,
    prepared: Prepared,
    recorder: Arc<Recorder>,
    _dir: tempfile::TempDir,
}

/// A server on `ip` (every 127.x.y.z is loopback on Linux: two addresses, two hosts).
async fn server_on(ip: &str) -> MockServer {
    let listener = std::net::TcpListener::bind(format!("{ip}:0")).unwrap();
    MockServer::builder().listener(listener).start().await
}

impl Fixture {
    async fn new(sample: &'static Sample, backend: Backend) -> Fixture {
        Fixture::with_grants(sample, backend, |g| g).await
    }

    /// With the manifest's grants (rehosted) changed by `edit`.
    async fn with_grants(
        sample: &'static Sample,
        backend: Backend,
        edit: impl FnOnce(Vec<String>) -> Vec<String>,
    ) -> Fixture {
        let server = server_on("127.0.0.1").await;
        let granted: GrantSet = edit(sample.grants(&server))
            .iter()
            .map(|g| g.parse::<Grant>().unwrap_or_else(|e| panic!("{g}: {e}")))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let binding = SecretBinding {
            hosts: ["127.0.0.1".parse().unwrap()].into_iter().collect(),
            form: (sample.form)(),
        };
        store.set_secret(sample.secret, TOKEN, &binding).unwrap();
        // The capabilities decide by the effective grants registered below, as the
        // checkpoint's policy; the recorder in front of them as the handler sees every
        // byte the guest is handed.
        let caps = Capabilities::builder(store).build().unwrap();
        let recorder = Arc::new(Recorder {
            caps: caps.clone(),
            received: Mutex::new(Vec::new()),
        });
        let host = Host::builder()
            .backend(backend)
            .handler(recorder.clone())
            .policy(Arc::new(caps.clone()))
            .build()
            .unwrap();
        let prepared = host.prepare(sample.name, &sample.wasm()).await.unwrap();
        caps.register(prepared.info(), &granted).unwrap();
        caps.set_config(
            sample.name,
            &json!({ "base_url": server.uri() }).to_string(),
        )
        .unwrap();
        Fixture {
            sample,
            server,
            prepared,
            recorder,
            _dir: dir,
        }
    }

    async fn run(&self, action: &str, input: &Value) -> Result<Value, Error> {
        let out = self
            .prepared
            .execute(action, &input.to_string(), &ExecuteOptions::default())
            .await?;
        Ok(serde_json::from_str(&out.text).expect("the host checked it is JSON"))
    }

    /// A mock for `verb path` that matches only with the exact authorization the host
    /// must attach and the sample's fixed headers.
    fn expect(&self, verb: &str, route: &str) -> MockBuilder {
        let mut mock = Mock::given(method(verb)).and(path(route)).and(header(
            "authorization",
            self.sample.authorization().as_str(),
        ));
        for (name, value) in self.sample.headers {
            mock = mock.and(header(*name, *value));
        }
        mock
    }

    /// Every byte host calls handed the guest so far.
    fn received(&self) -> Vec<u8> {
        self.recorder.received.lock().unwrap().clone()
    }
}

/// One request the extension must send and what it must make of the answer.
struct Exchange {
    action: &'static str,
    input: Value,
    method: &'static str,
    path: &'static str,
    query: &'static [(&'static str, &'static str)],
    /// What the JSON body must hold (`body_partial_json`); `None` for no check.
    body: Option<Value>,
    respond: ResponseTemplate,
    output: Value,
}

/// Runs `exchanges` in order on `f`, each with its own mock, expecting each request
/// exactly once.
async fn exchange(f: &Fixture, exchanges: Vec<Exchange>) {
    for x in exchanges {
        f.server.reset().await;
        let mut mock = f.expect(x.method, x.path);
        for (name, value) in x.query {
            mock = mock.and(query_param(*name, *value));
        }
        if let Some(body) = &x.body {
            mock = mock.and(body_partial_json(body));
        }
        mock.respond_with(x.respond)
            .expect(1)
            .mount(&f.server)
            .await;
        let got = match f.run(x.action, &x.input).await {
            Ok(got) => got,
            Err(e) => panic!(
                "{} {} failed: {e} (requests: {:?})",
                f.sample.name,
                x.action,
                f.server.received_requests().await
            ),
        };
        assert_eq!(got, x.output, "{} {}", f.sample.name, x.action);
        f.server.verify().await;
    }
}

/// One answer the extension must turn into an action error.
struct Failure {
    action: &'static str,
    input: Value,
    respond: ResponseTemplate,
    kind: ActionErrorKind,
    message: &'static str,
    details: Option<Value>,
}

/// Runs `failures` on `f`: each answer, to any request, must fail the action with the
/// kind, a message containing `message`, and the details.
async fn fail(f: &Fixture, failures: Vec<Failure>) {
    for x in failures {
        f.server.reset().await;
        Mock::given(wiremock::matchers::any())
            .respond_with(x.respond)
            .expect(1)
            .mount(&f.server)
            .await;
        let e = f.run(x.action, &x.input).await.unwrap_err();
        let ErrorKind::Guest(e) = e.kind() else {
            panic!("{} {}: not an action error: {e}", f.sample.name, x.action)
        };
        let what = format!("{} {} ({})", f.sample.name, x.action, x.message);
        assert_eq!(e.kind, x.kind, "{what}: {}", e.message);
        assert!(e.message.contains(x.message), "{what}: {}", e.message);
        let details = e
            .details
            .as_deref()
            .map(|d| serde_json::from_str(d).unwrap());
        assert_eq!(details, x.details, "{what}");
        assert!(!e.message.contains(TOKEN), "{what}");
    }
}

fn json_response(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

// ---------------------------------------------------------------------------------
// GitHub

/// An issue as GitHub's REST API answers it (from its documented example, trimmed).
fn github_issue(number: u64, title: &str, user: Value, pull_request: bool) -> Value {
    let mut issue = json!({
        "id": 1_000_000 + number,
        "node_id": "MDU6SXNzdWUx",
        "url": format!("https://api.github.com/repos/octocat/Hello-World/issues/{number}"),
        "repository_url": "https://api.github.com/repos/octocat/Hello-World",
        "html_url": format!("https://github.com/octocat/Hello-World/issues/{number}"),
        "number": number,
        "state": "open",
        "title": title,
        "body": "I'm having a problem with this.",
        "user": user,
        "labels": [{
            "id": 208045946, "node_id": "MDU6TGFiZWwyMDgwNDU5NDY=",
            "url": "https://api.github.com/repos/octocat/Hello-World/labels/bug",
            "name": "bug", "description": "Something isn't working",
            "color": "f29513", "default": true
        }],
        "assignee": null,
        "locked": false,
        "comments": 3,
        "created_at": "2011-04-22T13:33:48Z",
        "updated_at": "2011-04-22T13:33:48Z",
        "closed_at": null,
        "author_association": "COLLABORATOR"
    });
    if pull_request {
        issue["pull_request"] = json!({
            "url": format!("https://api.github.com/repos/octocat/Hello-World/pulls/{number}"),
            "html_url": format!("https://github.com/octocat/Hello-World/pull/{number}")
        });
    }
    issue
}

fn octocat() -> Value {
    json!({"login": "octocat", "id": 1, "type": "User", "site_admin": false})
}

/// The listing GitHub answers for page 1 of 2-per-page, with its `link` header.
fn github_listing(server: &str) -> ResponseTemplate {
    let link = format!(
        "<{server}/repositories/1300192/issues?state=open&per_page=2&page=2>; rel=\"next\", \
         <{server}/repositories/1300192/issues?state=open&per_page=2&page=7>; rel=\"last\""
    );
    json_response(
        200,
        json!([
            github_issue(1347, "Found a bug", octocat(), false),
            github_issue(1348, "Fix the bug", Value::Null, true),
        ]),
    )
    .insert_header("link", link.as_str())
    .insert_header("x-ratelimit-remaining", "4999")
}

fn listed_issues() -> Value {
    json!({
        "issues": [
            {"number": 1347, "title": "Found a bug", "state": "open",
             "url": "https://github.com/octocat/Hello-World/issues/1347", "user": "octocat",
             "labels": ["bug"], "comments": 3, "pull_request": false},
            {"number": 1348, "title": "Fix the bug", "state": "open",
             "url": "https://github.com/octocat/Hello-World/issues/1348", "user": null,
             "labels": ["bug"], "comments": 3, "pull_request": true}
        ],
        "next_page": 2
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_lists_issues_on_every_backend() {
    for backend in Backend::available_backends() {
        let f = Fixture::new(&GITHUB, backend).await;
        let listing = github_listing(&f.server.uri());
        exchange(
            &f,
            vec![Exchange {
                action: "list-issues",
                input: json!({"owner": "octocat", "repo": "Hello-World", "per_page": 2}),
                method: "GET",
                path: "/repos/octocat/Hello-World/issues",
                query: &[("state", "open"), ("per_page", "2")],
                body: None,
                respond: listing,
                output: listed_issues(),
            }],
        )
        .await;
        // The last page: no `rel="next"`, no `next_page`.
        exchange(
            &f,
            vec![Exchange {
                action: "list-issues",
                input: json!({"owner": "octocat", "repo": "Hello-World", "state": "all",
                              "per_page": 2, "page": 7}),
                method: "GET",
                path: "/repos/octocat/Hello-World/issues",
                query: &[("state", "all"), ("page", "7")],
                body: None,
                respond: json_response(200, json!([])).insert_header(
                    "link",
                    "<https://api.github.com/repositories/1300192/issues?page=6>; rel=\"prev\"",
                ),
                output: json!({"issues": []}),
            }],
        )
        .await;
        eprintln!("github list-issues: ok on {backend}");
    }
}

#[tokio::test]
async fn github_creates_issues_and_comments() {
    let f = Fixture::new(&GITHUB, Backend::WasmtimeCore).await;
    let mut created = github_issue(1347, "Found a bug", octocat(), false);
    created["body"] = json!("It crashes on start.");
    exchange(
        &f,
        vec![
            Exchange {
                action: "create-issue",
                input: json!({"owner": "octocat", "repo": "Hello-World", "title": "Found a bug",
                              "body": "It crashes on start.", "labels": ["bug"]}),
                method: "POST",
                path: "/repos/octocat/Hello-World/issues",
                query: &[],
                body: Some(json!({"title": "Found a bug", "body": "It crashes on start.",
                                  "labels": ["bug"]})),
                respond: json_response(201, created),
                output: json!({"number": 1347, "title": "Found a bug", "state": "open",
                               "url": "https://github.com/octocat/Hello-World/issues/1347"}),
            },
            Exchange {
                action: "comment",
                input: json!({"owner": "octocat", "repo": "Hello-World", "number": 1347,
                              "body": "Me too"}),
                method: "POST",
                path: "/repos/octocat/Hello-World/issues/1347/comments",
                query: &[],
                body: Some(json!({"body": "Me too"})),
                respond: json_response(
                    201,
                    json!({
                        "id": 1, "node_id": "MDEyOklzc3VlQ29tbWVudDE=",
                        "url": "https://api.github.com/repos/octocat/Hello-World/issues/comments/1",
                        "html_url": "https://github.com/octocat/Hello-World/issues/1347#issuecomment-1",
                        "body": "Me too", "user": octocat(),
                        "created_at": "2011-04-14T16:00:49Z", "updated_at": "2011-04-14T16:00:49Z",
                        "issue_url": "https://api.github.com/repos/octocat/Hello-World/issues/1347",
                        "author_association": "COLLABORATOR"
                    }),
                ),
                output: json!({"id": 1,
                               "url": "https://github.com/octocat/Hello-World/issues/1347#issuecomment-1"}),
            },
        ],
    )
    .await;
}

#[tokio::test]
async fn github_failures_map_to_the_contracts_kinds() {
    let f = Fixture::new(&GITHUB, Backend::WasmtimeCore).await;
    let list = || json!({"owner": "octocat", "repo": "Hello-World"});
    let gh = |message: &str| {
        json!({"message": message, "documentation_url": "https://docs.github.com/rest",
               "status": "x"})
    };
    fail(
        &f,
        vec![
            Failure {
                action: "list-issues",
                input: list(),
                respond: json_response(401, gh("Bad credentials")),
                kind: ActionErrorKind::Unauthorized,
                message: "GitHub answered 401: Bad credentials; check the secret",
                details: None,
            },
            Failure {
                action: "list-issues",
                input: list(),
                respond: json_response(404, gh("Not Found")),
                kind: ActionErrorKind::NotFound,
                message: "GitHub answered 404: Not Found",
                details: None,
            },
            Failure {
                action: "list-issues",
                input: list(),
                respond: json_response(429, gh("You have exceeded a secondary rate limit."))
                    .insert_header("retry-after", "60"),
                kind: ActionErrorKind::RateLimited,
                message: "(You have exceeded a secondary rate limit.); retry after 60 s",
                details: Some(json!({"retry_after_s": 60})),
            },
            Failure {
                // GitHub's primary rate limit: 403 with no requests left, no retry-after.
                action: "list-issues",
                input: list(),
                respond: json_response(403, gh("API rate limit exceeded for user ID 1."))
                    .insert_header("x-ratelimit-remaining", "0")
                    .insert_header("x-ratelimit-reset", "1713355200"),
                kind: ActionErrorKind::RateLimited,
                message: "API rate limit exceeded for user ID 1.",
                details: None,
            },
            Failure {
                action: "create-issue",
                input: json!({"owner": "octocat", "repo": "Hello-World", "title": "x"}),
                respond: json_response(
                    422,
                    json!({"message": "Validation Failed",
                           "errors": [{"resource": "Issue", "code": "invalid", "field": "labels"}],
                           "documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue",
                           "status": "422"}),
                ),
                kind: ActionErrorKind::InvalidInput,
                message: "GitHub answered 422: Validation Failed (labels: invalid)",
                details: None,
            },
            Failure {
                action: "comment",
                input: json!({"owner": "octocat", "repo": "Hello-World", "number": 1, "body": "x"}),
                respond: ResponseTemplate::new(502).set_body_string("<html>Bad gateway</html>"),
                kind: ActionErrorKind::Unavailable,
                message: "GitHub answered 502: <html>Bad gateway</html>; retry later",
                details: None,
            },
            Failure {
                action: "list-issues",
                input: list(),
                respond: ResponseTemplate::new(200).set_body_string("{\"not\": \"a list\"}"),
                kind: ActionErrorKind::Internal,
                message: "is not the JSON expected",
                details: None,
            },
        ],
    )
    .await;
}

/// The token goes to the service and nowhere else: a service that echoes the
/// credentials back (in a header and in the body) gets the exact bearer value, the
/// guest gets `[redacted]`, and no byte the guest received or returned holds the token
/// or its base64.
#[tokio::test]
async fn github_token_reaches_the_service_and_never_the_guest() {
    let f = Fixture::new(&GITHUB, Backend::WasmtimeCore).await;
    let echo = |req: &wiremock::Request| {
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        json_response(200, json!([github_issue(1, &auth, octocat(), false)]))
            .insert_header("x-echo-authorization", auth.as_str())
    };
    f.expect("GET", "/repos/octocat/Hello-World/issues")
        .respond_with(echo)
        .expect(1)
        .mount(&f.server)
        .await;
    let out = f
        .run(
            "list-issues",
            &json!({"owner": "octocat", "repo": "Hello-World"}),
        )
        .await
        .unwrap();
    // The service saw the token: the mock matched only on the exact value.
    f.server.verify().await;
    assert_eq!(
        out["issues"][0]["title"],
        json!(format!("Bearer {}", morph_capabilities::REDACTED))
    );

    let b64 = base64::engine::general_purpose::STANDARD.encode(TOKEN);
    let received = f.received();
    assert!(
        !received.is_empty(),
        "the recorder saw the config and the response"
    );
    let module = GITHUB.wasm();
    let output = out.to_string();
    for needle in [TOKEN, b64.as_str()] {
        let n = needle.as_bytes();
        assert!(
            !contains(&received, n),
            "a host call handed the guest {needle}"
        );
        assert!(!contains(output.as_bytes(), n), "the output holds {needle}");
        assert!(!contains(&module, n), "the module holds {needle}");
    }
    // What reached the guest: the config and the response, redacted.
    assert!(contains(&received, b"x-echo-authorization"));
    assert!(contains(&received, morph_capabilities::REDACTED.as_bytes()));
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// GitHub answers a renamed repository with a redirect to `/repositories/{id}`: followed
/// on the granted host with the token still attached. A redirect to a host the
/// extension was not granted is refused by the host, without a request to it, and the
/// action fails with `permission-denied` naming the hop.
#[tokio::test]
async fn github_redirects_are_followed_only_where_granted() {
    let f = Fixture::new(&GITHUB, Backend::WasmtimeCore).await;
    let moved = format!("{}/repositories/1300192/issues?state=open", f.server.uri());
    f.expect("GET", "/repos/octocat/Old-Name/issues")
        .respond_with(ResponseTemplate::new(301).insert_header("location", moved.as_str()))
        .expect(1)
        .mount(&f.server)
        .await;
    f.expect("GET", "/repositories/1300192/issues")
        .respond_with(github_listing(&f.server.uri()))
        .expect(1)
        .mount(&f.server)
        .await;
    let out = f
        .run(
            "list-issues",
            &json!({"owner": "octocat", "repo": "Old-Name", "per_page": 2}),
        )
        .await
        .unwrap();
    assert_eq!(out, listed_issues());
    f.server.verify().await;

    let elsewhere = server_on("127.0.0.2").await;
    f.server.reset().await;
    let away = format!("{}/repos/octocat/Hello-World/issues", elsewhere.uri());
    f.expect("GET", "/repos/octocat/Hello-World/issues")
        .respond_with(ResponseTemplate::new(302).insert_header("location", away.as_str()))
        .expect(1)
        .mount(&f.server)
        .await;
    let e = f
        .run(
            "list-issues",
            &json!({"owner": "octocat", "repo": "Hello-World"}),
        )
        .await
        .unwrap_err();
    let ErrorKind::Guest(e) = e.kind() else {
        panic!("not an action error: {e}")
    };
    assert_eq!(e.kind, ActionErrorKind::PermissionDenied, "{}", e.message);
    assert!(
        e.message.starts_with(
            "GitHub request GET /repos/octocat/Hello-World/issues?state=open failed: "
        ),
        "{}",
        e.message
    );
    assert!(
        e.message.contains(&format!("GET {away}")),
        "the message names the hop: {}",
        e.message
    );
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
}

/// A request the checkpoint refuses (the person granted GET only) fails the action
/// with `permission-denied` naming the permission, before anything is sent.
#[tokio::test]
async fn github_write_without_its_grant_is_refused_before_sending() {
    let f = Fixture::with_grants(&GITHUB, Backend::WasmtimeCore, |grants| {
        grants
            .into_iter()
            .map(|g| g.replace("http:GET,POST ", "http:GET "))
            .collect()
    })
    .await;
    let e = f
        .run(
            "create-issue",
            &json!({"owner": "octocat", "repo": "Hello-World", "title": "Found a bug"}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.detail(), "permission-denied:http", "{e}");
    let text = e.to_string();
    assert!(
        text.contains(&format!(
            "POST {}/repos/octocat/Hello-World/issues",
            f.server.uri()
        )),
        "{text}"
    );
    assert!(f.server.received_requests().await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------
// JIRA

fn jira_issue(id: &str, key: &str, summary: &str, status: &str, kind: &str, who: Value) -> Value {
    json!({
        "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
        "id": id,
        "self": format!("https://your-domain.atlassian.net/rest/api/3/issue/{id}"),
        "key": key,
        "fields": {
            "summary": summary,
            "status": {
                "self": "https://your-domain.atlassian.net/rest/api/3/status/3",
                "description": "", "name": status, "id": "3",
                "statusCategory": {"id": 4, "key": "indeterminate", "colorName": "yellow",
                                   "name": "In Progress"}
            },
            "issuetype": {"id": "10001", "description": "", "name": kind, "subtask": false,
                          "hierarchyLevel": 0},
            "assignee": who
        }
    })
}

#[tokio::test]
async fn jira_searches_and_creates_issues() {
    let f = Fixture::new(&JIRA, Backend::WasmtimeCore).await;
    let base = f.server.uri();
    let mia = json!({
        "self": "https://your-domain.atlassian.net/rest/api/3/user?accountId=5b10a2844c20165700ede21g",
        "accountId": "5b10a2844c20165700ede21g", "emailAddress": "mia@example.com",
        "displayName": "Mia Krystof", "active": true, "timeZone": "Australia/Sydney",
        "accountType": "atlassian"
    });
    let fields = json!(["summary", "status", "issuetype", "assignee"]);
    exchange(
        &f,
        vec![
            Exchange {
                action: "search",
                input: json!({"jql": "project = ED ORDER BY created DESC", "max_results": 2}),
                method: "POST",
                path: "/rest/api/3/search/jql",
                query: &[],
                body: Some(json!({"jql": "project = ED ORDER BY created DESC", "maxResults": 2,
                                  "fields": fields})),
                respond: json_response(
                    200,
                    json!({
                        "issues": [
                            jira_issue("10002", "ED-1", "Fix the login page", "In Progress", "Bug", mia),
                            jira_issue("10003", "ED-2", "Write release notes", "To Do", "Task", Value::Null),
                        ],
                        "nextPageToken": "CAEaAggD",
                        "isLast": false
                    }),
                ),
                output: json!({
                    "issues": [
                        {"key": "ED-1", "id": "10002", "summary": "Fix the login page",
                         "status": "In Progress", "issue_type": "Bug", "assignee": "Mia Krystof",
                         "url": format!("{base}/browse/ED-1")},
                        {"key": "ED-2", "id": "10003", "summary": "Write release notes",
                         "status": "To Do", "issue_type": "Task", "assignee": null,
                         "url": format!("{base}/browse/ED-2")}
                    ],
                    "next_page_token": "CAEaAggD"
                }),
            },
            Exchange {
                action: "search",
                input: json!({"jql": "project = ED ORDER BY created DESC",
                              "next_page_token": "CAEaAggD"}),
                method: "POST",
                path: "/rest/api/3/search/jql",
                query: &[],
                body: Some(json!({"maxResults": 50, "nextPageToken": "CAEaAggD"})),
                respond: json_response(200, json!({"issues": [], "isLast": true})),
                output: json!({"issues": []}),
            },
            Exchange {
                action: "create-issue",
                input: json!({"project_key": "ED", "summary": "Login fails on Safari",
                              "issue_type": "Bug",
                              "description": "Steps:\n1. Open the page\n\nIt spins forever."}),
                method: "POST",
                path: "/rest/api/3/issue",
                query: &[],
                body: Some(json!({"fields": {
                    "project": {"key": "ED"},
                    "summary": "Login fails on Safari",
                    "issuetype": {"name": "Bug"},
                    "description": {"type": "doc", "version": 1, "content": [
                        {"type": "paragraph", "content": [
                            {"type": "text", "text": "Steps:"},
                            {"type": "hardBreak"},
                            {"type": "text", "text": "1. Open the page"}
                        ]},
                        {"type": "paragraph", "content": [
                            {"type": "text", "text": "It spins forever."}
                        ]}
                    ]}
                }})),
                respond: json_response(
                    201,
                    json!({
                        "id": "10000", "key": "ED-24",
                        "self": "https://your-domain.atlassian.net/rest/api/3/issue/10000",
                        "transition": {"status": 200,
                                       "errorCollection": {"errorMessages": [], "errors": {}}}
                    }),
                ),
                output: json!({"key": "ED-24", "id": "10000",
                               "url": format!("{base}/browse/ED-24")}),
            },
        ],
    )
    .await;
}

#[tokio::test]
async fn jira_failures_map_to_the_contracts_kinds() {
    let f = Fixture::new(&JIRA, Backend::WasmtimeCore).await;
    let search = || json!({"jql": "project = ED AND banana"});
    fail(
        &f,
        vec![
            Failure {
                action: "search",
                input: search(),
                respond: json_response(400, json!({
                    "errorMessages": ["Error in the JQL Query: Expecting operator but got 'banana'. (line 1, character 18)"],
                    "errors": {}, "warningMessages": []
                })),
                kind: ActionErrorKind::InvalidInput,
                message: "JIRA answered 400: Error in the JQL Query: Expecting operator but got 'banana'.",
                details: None,
            },
            Failure {
                action: "search",
                input: search(),
                respond: ResponseTemplate::new(401)
                    .set_body_string("Client must be authenticated to access this resource."),
                kind: ActionErrorKind::Unauthorized,
                message: "JIRA answered 401: Client must be authenticated to access this resource.",
                details: None,
            },
            Failure {
                action: "create-issue",
                input: json!({"project_key": "NOPE", "summary": "x", "issue_type": "Task"}),
                respond: json_response(400, json!({
                    "errorMessages": [],
                    "errors": {"project": "valid project is required"}
                })),
                kind: ActionErrorKind::InvalidInput,
                message: "project: valid project is required",
                details: None,
            },
            Failure {
                action: "search",
                input: search(),
                respond: ResponseTemplate::new(429).insert_header("retry-after", "5"),
                kind: ActionErrorKind::RateLimited,
                message: "retry after 5 s",
                details: Some(json!({"retry_after_s": 5})),
            },
            Failure {
                action: "search",
                input: search(),
                respond: ResponseTemplate::new(503),
                kind: ActionErrorKind::Unavailable,
                message: "JIRA answered 503",
                details: None,
            },
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------------
// Notion

const DATABASE: &str = "d9824bdc-8445-4327-be8b-5b47500af6ce";

/// A database entry as Notion answers it (from its documented example, trimmed).
fn notion_page() -> Value {
    json!({
        "object": "page",
        "id": "59833787-2cf9-4fdf-8782-e53db20768a5",
        "created_time": "2022-03-01T19:05:00.000Z",
        "last_edited_time": "2022-07-06T20:25:00.000Z",
        "created_by": {"object": "user", "id": "ee5f0f84-409a-440f-983a-a5315961c6e4"},
        "last_edited_by": {"object": "user", "id": "0c3e9826-b8f7-4f73-927d-2caaf86f1103"},
        "cover": null,
        "icon": {"type": "emoji", "emoji": "🥬"},
        "parent": {"type": "database_id", "database_id": DATABASE},
        "archived": false,
        "properties": {
            "Store availability": {"id": "%3AUPp", "type": "multi_select", "multi_select": [
                {"id": "t|O@", "name": "Gus's Community Market", "color": "yellow"},
                {"id": "{Ml\\", "name": "Rainbow Grocery", "color": "gray"}
            ]},
            "Food group": {"id": "A%40Hk", "type": "select", "select":
                {"id": "5e8e7e8f-432e-4d8a-8166-1821e10225fc", "name": "🥬 Vegetable", "color": "pink"}},
            "Price": {"id": "BJXS", "type": "number", "number": 2.5},
            "Last ordered": {"id": "Jsfb", "type": "date",
                             "date": {"start": "2022-02-22", "end": null, "time_zone": null}},
            "In stock": {"id": "O%5Bkr", "type": "checkbox", "checkbox": true},
            "Name": {"id": "title", "type": "title", "title": [{
                "type": "text", "text": {"content": "Tuscan kale", "link": null},
                "annotations": {"bold": false, "italic": false, "strikethrough": false,
                                "underline": false, "code": false, "color": "default"},
                "plain_text": "Tuscan kale", "href": null
            }]}
        },
        "url": "https://www.notion.so/Tuscan-kale-598337872cf94fdf8782e53db20768a5"
    })
}

#[tokio::test]
async fn notion_queries_databases_and_creates_pages() {
    let f = Fixture::new(&NOTION, Backend::WasmtimeCore).await;
    let filter = json!({"property": "In stock", "checkbox": {"equals": true}});
    exchange(
        &f,
        vec![
            Exchange {
                action: "query-database",
                input: json!({"database_id": DATABASE, "filter": filter, "page_size": 1}),
                method: "POST",
                path: "/v1/databases/d9824bdc-8445-4327-be8b-5b47500af6ce/query",
                query: &[],
                body: Some(json!({"filter": filter, "page_size": 1})),
                respond: json_response(
                    200,
                    json!({
                        "object": "list", "results": [notion_page()],
                        "next_cursor": "e3b0c442-98fc-4c14-9afb-f4c8996fb924", "has_more": true,
                        "type": "page_or_database", "page_or_database": {}
                    }),
                ),
                output: json!({
                    "pages": [{
                        "id": "59833787-2cf9-4fdf-8782-e53db20768a5",
                        "url": "https://www.notion.so/Tuscan-kale-598337872cf94fdf8782e53db20768a5",
                        "title": "Tuscan kale",
                        "properties": {
                            "Store availability": ["Gus's Community Market", "Rainbow Grocery"],
                            "Food group": "🥬 Vegetable",
                            "Price": 2.5,
                            "Last ordered": "2022-02-22",
                            "In stock": true,
                            "Name": "Tuscan kale"
                        }
                    }],
                    "next_cursor": "e3b0c442-98fc-4c14-9afb-f4c8996fb924"
                }),
            },
            Exchange {
                action: "query-database",
                input: json!({"database_id": DATABASE,
                              "start_cursor": "e3b0c442-98fc-4c14-9afb-f4c8996fb924"}),
                method: "POST",
                path: "/v1/databases/d9824bdc-8445-4327-be8b-5b47500af6ce/query",
                query: &[],
                body: Some(json!({"start_cursor": "e3b0c442-98fc-4c14-9afb-f4c8996fb924"})),
                respond: json_response(
                    200,
                    json!({"object": "list", "results": [], "next_cursor": null,
                           "has_more": false, "type": "page_or_database",
                           "page_or_database": {}}),
                ),
                output: json!({"pages": []}),
            },
            Exchange {
                action: "create-page",
                input: json!({"database_id": DATABASE, "title": "Tuscan kale",
                              "properties": {"Price": {"number": 2.5}}}),
                method: "POST",
                path: "/v1/pages",
                query: &[],
                body: Some(json!({
                    "parent": {"database_id": DATABASE},
                    "properties": {
                        "title": {"title": [{"type": "text", "text": {"content": "Tuscan kale"}}]},
                        "Price": {"number": 2.5}
                    }
                })),
                respond: json_response(200, notion_page()),
                output: json!({"id": "59833787-2cf9-4fdf-8782-e53db20768a5",
                               "url": "https://www.notion.so/Tuscan-kale-598337872cf94fdf8782e53db20768a5"}),
            },
        ],
    )
    .await;
}

#[tokio::test]
async fn notion_failures_map_to_the_contracts_kinds() {
    let f = Fixture::new(&NOTION, Backend::WasmtimeCore).await;
    let query = || json!({"database_id": DATABASE});
    let error = |status: u16, code: &str, message: &str| {
        json_response(
            status,
            json!({"object": "error", "status": status, "code": code, "message": message,
                   "request_id": "d4b3b2a1-6f55-4ea7-9c3c-2ddc2f1bd1a6"}),
        )
    };
    fail(
        &f,
        vec![
            Failure {
                action: "query-database",
                input: query(),
                respond: error(404, "object_not_found",
                    "Could not find database with ID: d9824bdc-8445-4327-be8b-5b47500af6ce. Make sure the relevant pages and databases are shared with your integration."),
                kind: ActionErrorKind::NotFound,
                message: "Notion answered 404: Could not find database with ID: d9824bdc-8445-4327-be8b-5b47500af6ce.",
                details: None,
            },
            Failure {
                action: "query-database",
                input: query(),
                respond: error(401, "unauthorized", "API token is invalid."),
                kind: ActionErrorKind::Unauthorized,
                message: "Notion answered 401: API token is invalid. (unauthorized)",
                details: None,
            },
            Failure {
                action: "create-page",
                input: json!({"database_id": DATABASE, "title": "x"}),
                respond: error(429, "rate_limited",
                    "You have been rate limited. Please try again in a few minutes.")
                    .insert_header("retry-after", "2"),
                kind: ActionErrorKind::RateLimited,
                message: "Notion is rate limiting these requests",
                details: Some(json!({"retry_after_s": 2})),
            },
            Failure {
                action: "create-page",
                input: json!({"database_id": DATABASE, "title": "x",
                              "properties": {"Price": {"number": "cheap"}}}),
                respond: error(400, "validation_error",
                    "body failed validation: body.properties.Price.number should be a number or `null`, instead was `\"cheap\"`."),
                kind: ActionErrorKind::InvalidInput,
                message: "(validation_error)",
                details: None,
            },
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------------
// Slack

fn slack_channel(id: &str, name: &str, general: bool) -> Value {
    json!({
        "id": id, "name": name, "is_channel": true, "is_group": false, "is_im": false,
        "created": 1449252889, "creator": "U012A3CDE", "is_archived": false,
        "is_general": general, "unlinked": 0, "name_normalized": name, "is_shared": false,
        "is_ext_shared": false, "is_org_shared": false, "pending_shared": [],
        "is_pending_ext_shared": false, "is_member": general, "is_private": false,
        "is_mpim": false,
        "topic": {"value": "Company-wide announcements and work-based matters",
                  "creator": "", "last_set": 0},
        "purpose": {"value": "This channel is for team-wide communication and announcements.",
                    "creator": "", "last_set": 0},
        "previous_names": [], "num_members": 4
    })
}

#[tokio::test]
async fn slack_posts_messages_and_lists_channels() {
    let f = Fixture::new(&SLACK, Backend::WasmtimeCore).await;
    exchange(
        &f,
        vec![
            Exchange {
                action: "post-message",
                input: json!({"channel": "C123ABC456", "text": "Hello world"}),
                method: "POST",
                path: "/api/chat.postMessage",
                query: &[],
                body: Some(json!({"channel": "C123ABC456", "text": "Hello world"})),
                respond: json_response(
                    200,
                    json!({
                        "ok": true, "channel": "C123ABC456", "ts": "1503435956.000247",
                        "message": {"text": "Hello world", "username": "ecto1",
                                    "bot_id": "B123ABC456", "type": "message",
                                    "subtype": "bot_message", "ts": "1503435956.000247"}
                    }),
                ),
                output: json!({"channel": "C123ABC456", "ts": "1503435956.000247"}),
            },
            Exchange {
                action: "list-channels",
                input: json!({"limit": 2}),
                method: "GET",
                path: "/api/conversations.list",
                query: &[("limit", "2"), ("exclude_archived", "true")],
                body: None,
                respond: json_response(
                    200,
                    json!({
                        "ok": true,
                        "channels": [slack_channel("C012AB3CD", "general", true),
                                     slack_channel("C061EG9T2", "random", false)],
                        "response_metadata": {"next_cursor": "dGVhbTpDMDYxRkE1UEI="}
                    }),
                ),
                output: json!({
                    "channels": [
                        {"id": "C012AB3CD", "name": "general", "is_private": false,
                         "is_archived": false, "is_member": true, "num_members": 4},
                        {"id": "C061EG9T2", "name": "random", "is_private": false,
                         "is_archived": false, "is_member": false, "num_members": 4}
                    ],
                    "next_cursor": "dGVhbTpDMDYxRkE1UEI="
                }),
            },
            Exchange {
                action: "list-channels",
                input: json!({"cursor": "dGVhbTpDMDYxRkE1UEI=", "exclude_archived": false}),
                method: "GET",
                path: "/api/conversations.list",
                query: &[
                    ("cursor", "dGVhbTpDMDYxRkE1UEI="),
                    ("exclude_archived", "false"),
                ],
                body: None,
                respond: json_response(
                    200,
                    json!({"ok": true, "channels": [],
                           "response_metadata": {"next_cursor": ""}}),
                ),
                output: json!({"channels": []}),
            },
        ],
    )
    .await;
}

#[tokio::test]
async fn slack_failures_map_to_the_contracts_kinds() {
    let f = Fixture::new(&SLACK, Backend::WasmtimeCore).await;
    let post = || json!({"channel": "C123ABC456", "text": "Hello"});
    let not_ok = |code: &str| json_response(200, json!({"ok": false, "error": code}));
    fail(
        &f,
        vec![
            Failure {
                action: "post-message",
                input: post(),
                respond: not_ok("invalid_auth"),
                kind: ActionErrorKind::Unauthorized,
                message: "Slack refused the call: invalid_auth",
                details: None,
            },
            Failure {
                action: "list-channels",
                input: json!({}),
                respond: not_ok("not_authed"),
                kind: ActionErrorKind::Unauthorized,
                message: "Slack refused the call: not_authed",
                details: None,
            },
            Failure {
                action: "post-message",
                input: post(),
                respond: not_ok("channel_not_found"),
                kind: ActionErrorKind::NotFound,
                message: "Slack refused the call: channel_not_found",
                details: None,
            },
            Failure {
                action: "post-message",
                input: post(),
                respond: ResponseTemplate::new(429).insert_header("retry-after", "30"),
                kind: ActionErrorKind::RateLimited,
                message: "retry after 30 s",
                details: Some(json!({"retry_after_s": 30})),
            },
            Failure {
                action: "list-channels",
                input: json!({}),
                respond: not_ok("ratelimited").insert_header("retry-after", "3"),
                kind: ActionErrorKind::RateLimited,
                message: "Slack is rate limiting these requests (ratelimited); retry after 3 s",
                details: Some(json!({"retry_after_s": 3})),
            },
            Failure {
                action: "post-message",
                input: post(),
                respond: not_ok("msg_too_long"),
                kind: ActionErrorKind::InvalidInput,
                message: "Slack refused the call: msg_too_long",
                details: None,
            },
        ],
    )
    .await;
}

/// Slack's Web API takes JSON bodies only with their charset said.
#[tokio::test]
async fn slack_sends_json_with_its_charset() {
    let f = Fixture::new(&SLACK, Backend::WasmtimeCore).await;
    f.expect("POST", "/api/chat.postMessage")
        .and(header("content-type", "application/json; charset=utf-8"))
        .respond_with(json_response(
            200,
            json!({"ok": true, "channel": "C1", "ts": "1.2"}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    let out = f
        .run("post-message", &json!({"channel": "C1", "text": "hi"}))
        .await
        .unwrap();
    assert_eq!(out, json!({"channel": "C1", "ts": "1.2"}));
}

// ---------------------------------------------------------------------------------
// Every sample

/// Each sample's morph.toml declares exactly what its describe() offers.
#[tokio::test]
async fn manifests_match_describe() {
    let host = Host::builder()
        .backend(Backend::WasmtimeCore)
        .build()
        .unwrap();
    for sample in SAMPLES {
        let prepared = host.prepare(sample.name, &sample.wasm()).await.unwrap();
        let info = prepared.info();
        let described = morph_manifest::Described::new(info, prepared.contract());
        if let Err(m) = sample.manifest().check_against(&described) {
            panic!("{}: {m}", sample.name);
        }
        assert!(info.config_schema.is_some(), "{}", sample.name);
    }
}
