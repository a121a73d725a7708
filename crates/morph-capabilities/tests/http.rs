//! `http.fetch` against real servers on loopback (wiremock, and a raw one for a chunked
//! body): secrets only for bound hosts and never echoed back, redirects checked hop by
//! hop, the body cap, the timeout, header hygiene, and the dry run.
#![allow(clippy::unwrap_used)]

mod common;

use common::{EXT, setup, setup_with};
use morph_abi::{Header, HostErrorKind, HttpRequest, HttpResponse, Method};
use morph_capabilities::{HttpLimits, REDACTED};
use morph_runtime::{HostCall, HostReply};
use morph_store::{SecretBinding, SecretForm, Store};
use std::time::Duration;
use wiremock::matchers::{body_bytes, header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TOKEN: &str = "tok-9f8e7d6c5b4a";

/// A mock server on `ip` (any 127.x.y.z is loopback on Linux: two IPs are two hosts).
async fn server_on(ip: &str) -> MockServer {
    let listener = std::net::TcpListener::bind(format!("{ip}:0")).unwrap();
    MockServer::builder().listener(listener).start().await
}

/// Capabilities allowing `grant`, with `limits` on HTTP.
fn limited(grant: &str, limits: HttpLimits) -> common::Setup {
    setup_with(&[grant], false, &common::info(&[], None), |b| {
        b.http_limits(limits)
    })
}

fn http_grant(server: &MockServer) -> String {
    format!("http:{}", server.uri())
}

fn get(url: String) -> HostCall {
    HostCall::HttpFetch(HttpRequest::get(url))
}

fn with_secret(url: String, name: &str) -> HostCall {
    HostCall::HttpFetch(HttpRequest {
        secret: Some(name.to_owned()),
        ..HttpRequest::get(url)
    })
}

fn response(reply: HostReply) -> HttpResponse {
    match reply {
        HostReply::Http(r) => r,
        other => panic!("{other:?}"),
    }
}

fn bind(store: &Store, name: &str, hosts: &[&str], form: SecretForm) {
    let binding = SecretBinding {
        hosts: hosts.iter().map(|h| h.parse().unwrap()).collect(),
        form,
    };
    store.set_secret(name, TOKEN, &binding).unwrap();
}

#[tokio::test]
async fn a_secret_goes_in_its_form_and_only_to_a_host_it_is_bound_to() {
    let server = server_on("127.0.0.1").await;
    let other = server_on("127.0.0.2").await;
    let s = setup(&[&http_grant(&server), &http_grant(&other)], false);
    bind(&s.store, "BEARER", &["127.0.0.1"], SecretForm::Bearer);
    bind(
        &s.store,
        "BASIC",
        &["127.0.0.1"],
        SecretForm::Basic {
            user: "me@example.com".into(),
        },
    );
    bind(
        &s.store,
        "HEADER",
        &["127.0.0.1"],
        SecretForm::Header {
            name: "X-Api-Key".into(),
        },
    );
    let basic = format!("Basic {}", base64_of(&format!("me@example.com:{TOKEN}")));
    let cases = [
        ("BEARER", "authorization", format!("Bearer {TOKEN}")),
        ("BASIC", "authorization", basic),
        ("HEADER", "x-api-key", TOKEN.to_owned()),
    ];
    for (name, header_name, value) in cases {
        let route = format!("/{name}");
        Mock::given(method("GET"))
            .and(path(route.as_str()))
            .and(header(header_name, value.as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
            .expect(1)
            .mount(&server)
            .await;
        let reply = s
            .call(with_secret(format!("{}{route}", server.uri()), name))
            .await
            .unwrap();
        let r = response(reply);
        assert_eq!((r.status, r.body.as_slice()), (200, &b"ok"[..]), "{name}");
    }

    // Bound to 127.0.0.1 only: never sent to 127.0.0.2, though http may reach it.
    let err = s
        .call(with_secret(format!("{}/x", other.uri()), "BEARER"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, HostErrorKind::PermissionDenied);
    assert_eq!(
        err.message,
        "the secret `BEARER` is bound to 127.0.0.1 and is never sent to 127.0.0.2"
    );
    assert!(other.received_requests().await.unwrap().is_empty());

    // A secret the host does not hold.
    let err = s
        .call(with_secret(format!("{}/x", server.uri()), "NOPE"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, HostErrorKind::NotFound);
    assert_eq!(err.message, "no secret `NOPE` is set on this host");

    let audit = s.audit();
    assert!(
        audit.contains(&"denied secret secret `BEARER` sent to 127.0.0.2".to_owned()),
        "{audit:?}"
    );
    assert!(!format!("{audit:?}").contains(TOKEN));
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Answers with everything the request carried, in the body and in headers.
struct Echo;

impl Respond for Echo {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut body = String::new();
        let mut response = ResponseTemplate::new(200);
        for (name, value) in &request.headers {
            let value = value.to_str().unwrap_or_default();
            body.push_str(&format!("{name}: {value}\n"));
            response = response.append_header(format!("x-echo-{name}").as_str(), value);
        }
        // The value alone, JSON-escaped, percent-encoded and in base64 too.
        body.push_str(&format!(
            "{{\"token\":\"{TOKEN}\"}} q={TOKEN} b64={}",
            base64_of(TOKEN)
        ));
        response.set_body_string(body)
    }
}

#[tokio::test]
async fn the_token_never_comes_back_to_the_guest() {
    let server = server_on("127.0.0.1").await;
    Mock::given(method("GET"))
        .respond_with(Echo)
        .mount(&server)
        .await;
    let s = setup(&[&http_grant(&server)], false);
    for (name, form) in [
        ("BEARER", SecretForm::Bearer),
        ("BASIC", SecretForm::Basic { user: "me".into() }),
        (
            "HEADER",
            SecretForm::Header {
                name: "x-token".into(),
            },
        ),
    ] {
        bind(&s.store, name, &["127.0.0.1"], form);
        let r = response(
            s.call(with_secret(format!("{}/echo", server.uri()), name))
                .await
                .unwrap(),
        );
        let everything = format!("{r:?} {}", String::from_utf8_lossy(&r.body));
        assert!(!everything.contains(TOKEN), "{name}: {everything}");
        assert!(
            !everything.contains(&base64_of(TOKEN)),
            "{name}: {everything}"
        );
        assert!(
            !everything.contains(&base64_of(&format!("me:{TOKEN}"))),
            "{name}: {everything}"
        );
        let body = String::from_utf8(r.body.clone()).unwrap();
        assert!(body.contains(REDACTED), "{name}: {body}");
        // The secret was sent: the server saw it, the guest sees that it was redacted.
        assert!(
            r.headers
                .iter()
                .any(|h| h.name.starts_with("x-echo-") && h.value.contains(REDACTED)),
            "{name}: {:?}",
            r.headers
        );
    }
}

#[tokio::test]
async fn a_redirect_to_a_denied_host_is_refused_and_never_sent() {
    let allowed = server_on("127.0.0.1").await;
    let denied = server_on("127.0.0.2").await;
    Mock::given(method("GET"))
        .and(path("/start"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("location", format!("{}/steal", denied.uri())),
        )
        .mount(&allowed)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&denied)
        .await;
    let s = setup(&[&http_grant(&allowed)], false);
    let err = s
        .call(get(format!("{}/start", allowed.uri())))
        .await
        .unwrap_err();
    assert_eq!(err.kind, HostErrorKind::PermissionDenied);
    let hop = format!("GET {}/steal", denied.uri());
    assert!(
        err.message.starts_with(&format!(
            "GET {}/start redirected to {hop}, which `{EXT}` may not reach: `http` does not allow {hop}",
            allowed.uri()
        )),
        "{}",
        err.message
    );
    assert_eq!(
        s.audit(),
        [
            format!("allowed http GET {}/start", allowed.uri()),
            format!("denied http {hop}"),
        ]
    );
}

#[tokio::test]
async fn a_redirect_to_an_allowed_host_is_followed_without_the_secret() {
    let first = server_on("127.0.0.1").await;
    let second = server_on("127.0.0.2").await;
    Mock::given(method("GET"))
        .and(path("/a"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(
            ResponseTemplate::new(301).insert_header("location", format!("{}/b", second.uri())),
        )
        .expect(1)
        .mount(&first)
        .await;
    Mock::given(method("GET"))
        .and(path("/b"))
        .respond_with(ResponseTemplate::new(200).set_body_string("landed"))
        .expect(1)
        .mount(&second)
        .await;
    let s = setup(&[&http_grant(&first), &http_grant(&second)], false);
    bind(&s.store, "T", &["127.0.0.1"], SecretForm::Bearer);
    let r = response(
        s.call(with_secret(format!("{}/a", first.uri()), "T"))
            .await
            .unwrap(),
    );
    assert_eq!((r.status, r.body.as_slice()), (200, &b"landed"[..]));
    let hop = &second.received_requests().await.unwrap()[0];
    assert!(
        !hop.headers.contains_key("authorization"),
        "{:?}",
        hop.headers
    );
    let records = s.store.audit(EXT, 10).unwrap();
    assert_eq!(records.len(), 2);
    assert!(
        records[0]
            .detail
            .ends_with("secret `T` not attached (not bound here)"),
        "{}",
        records[0].detail
    );
    assert!(
        records[1].detail.contains("redirected to"),
        "{}",
        records[1].detail
    );
}

#[tokio::test]
async fn redirects_change_the_method_as_http_says_and_are_bounded() {
    let server = server_on("127.0.0.1").await;
    // 303 after a POST: GET, no body. 307: the same method and body.
    Mock::given(method("POST"))
        .and(path("/see-other"))
        .respond_with(ResponseTemplate::new(303).insert_header("location", "/got"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/got"))
        .respond_with(ResponseTemplate::new(200).set_body_string("get"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/temp"))
        .respond_with(ResponseTemplate::new(307).insert_header("location", "/posted"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/posted"))
        .and(body_bytes(b"payload".to_vec()))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/loop"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/loop"))
        .mount(&server)
        .await;
    let s = setup(&[&http_grant(&server)], false);
    let post = |p: &str| {
        HostCall::HttpFetch(HttpRequest {
            method: Method::Post,
            body: Some(b"payload".to_vec()),
            ..HttpRequest::get(format!("{}{p}", server.uri()))
        })
    };
    let r = response(s.call(post("/see-other")).await.unwrap());
    assert_eq!((r.status, r.body.as_slice()), (200, &b"get"[..]));
    assert_eq!(response(s.call(post("/temp")).await.unwrap()).status, 201);

    let err = s
        .call(get(format!("{}/loop", server.uri())))
        .await
        .unwrap_err();
    assert_eq!(err.kind, HostErrorKind::LimitExceeded);
    assert!(
        err.message.ends_with("was redirected more than 5 times"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn a_body_past_the_cap_fails_with_a_limit() {
    let server = server_on("127.0.0.1").await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'x'; 2000]))
        .mount(&server)
        .await;
    let limits = HttpLimits {
        max_response_bytes: 1000,
        ..HttpLimits::default()
    };
    let s = limited(&http_grant(&server), limits);
    let err = s
        .call(get(format!("{}/big", server.uri())))
        .await
        .unwrap_err();
    assert_eq!(err.kind, HostErrorKind::LimitExceeded);
    assert_eq!(
        err.message,
        "the response body is larger than the host's limit of 1000 bytes"
    );
    // At the cap exactly: fine.
    let limits = HttpLimits {
        max_response_bytes: 2000,
        ..HttpLimits::default()
    };
    let s = limited(&http_grant(&server), limits);
    let r = response(s.call(get(format!("{}/big", server.uri()))).await.unwrap());
    assert_eq!(r.body.len(), 2000);
}

/// A server that answers one request with a chunked body (no length given) of
/// `chunks` chunks of 1 KiB, then closes.
async fn chunked_server(chunks: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = vec![0; 4096];
        let _ = socket.read(&mut buf).await;
        let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n";
        if socket.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = format!("400\r\n{}\r\n", "y".repeat(1024));
        for _ in 0..chunks {
            if socket.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
        }
        let _ = socket.write_all(b"0\r\n\r\n").await;
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_streamed_body_is_cut_at_the_cap() {
    let limits = HttpLimits {
        max_response_bytes: 10 * 1024,
        ..HttpLimits::default()
    };
    let big = chunked_server(1000).await;
    let s = limited(&format!("http:{big}"), limits);
    let err = s.call(get(format!("{big}/stream"))).await.unwrap_err();
    assert_eq!(err.kind, HostErrorKind::LimitExceeded, "{}", err.message);
    let small = chunked_server(4).await;
    let s = limited(&format!("http:{small}"), limits);
    let r = response(s.call(get(format!("{small}/stream"))).await.unwrap());
    assert_eq!(r.body.len(), 4 * 1024);
}

#[tokio::test]
async fn the_guest_timeout_is_kept_within_the_host_maximum() {
    let server = server_on("127.0.0.1").await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(10)))
        .mount(&server)
        .await;
    let s = setup(&[&http_grant(&server)], false);
    let started = std::time::Instant::now();
    let err = s
        .call(HostCall::HttpFetch(HttpRequest {
            timeout_ms: Some(300),
            ..HttpRequest::get(format!("{}/slow", server.uri()))
        }))
        .await
        .unwrap_err();
    assert_eq!(err.kind, HostErrorKind::Unavailable);
    assert_eq!(
        err.message,
        format!("GET {}/slow timed out after 300 ms", server.uri())
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    // The host's maximum wins over a longer guest timeout.
    let limits = HttpLimits {
        max_timeout: Duration::from_millis(200),
        ..HttpLimits::default()
    };
    let s = limited(&http_grant(&server), limits);
    let err = s
        .call(HostCall::HttpFetch(HttpRequest {
            timeout_ms: Some(60_000),
            ..HttpRequest::get(format!("{}/slow", server.uri()))
        }))
        .await
        .unwrap_err();
    assert!(
        err.message.ends_with("timed out after 200 ms"),
        "{}",
        err.message
    );
    assert_eq!(
        s.audit(),
        [format!("failed http GET {}/slow", server.uri())]
    );
}

#[tokio::test]
async fn the_guest_may_not_set_credentials_routing_or_framing_headers() {
    let server = server_on("127.0.0.1").await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let s = setup(&[&http_grant(&server)], false);
    bind(
        &s.store,
        "K",
        &["127.0.0.1"],
        SecretForm::Header {
            name: "x-api-key".into(),
        },
    );
    let with_header = |name: &str, secret: Option<&str>| {
        HostCall::HttpFetch(HttpRequest {
            headers: vec![Header {
                name: name.to_owned(),
                value: "mine".to_owned(),
            }],
            secret: secret.map(str::to_owned),
            ..HttpRequest::get(format!("{}/h", server.uri()))
        })
    };
    for name in [
        "Authorization",
        "cookie",
        "Host",
        "proxy-authorization",
        "transfer-encoding",
    ] {
        let err = s.call(with_header(name, None)).await.unwrap_err();
        assert_eq!(err.kind, HostErrorKind::InvalidArgument, "{name}");
        assert!(
            err.message.starts_with(&format!(
                "an extension may not set the `{}` header",
                name.to_ascii_lowercase()
            )),
            "{}",
            err.message
        );
    }
    let err = s
        .call(with_header("x-api-key", Some("K")))
        .await
        .unwrap_err();
    assert_eq!(err.kind, HostErrorKind::InvalidArgument);
    assert_eq!(
        err.message,
        "the request sets the `x-api-key` header, which its secret goes in"
    );
    let err = s
        .call(get("ftp://127.0.0.1/x".to_owned()))
        .await
        .unwrap_err();
    assert_eq!(err.kind, HostErrorKind::InvalidArgument);
}

#[tokio::test]
async fn a_dry_run_sends_reads_and_records_writes_without_sending_them() {
    let server = server_on("127.0.0.1").await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("read"))
        .expect(1)
        .mount(&server)
        .await;
    let s = setup(&[&http_grant(&server)], true);
    bind(&s.store, "T", &["127.0.0.1"], SecretForm::Bearer);
    let r = response(
        s.call(HostCall::HttpFetch(HttpRequest {
            method: Method::Post,
            body: Some(b"{\"title\":\"x\"}".to_vec()),
            secret: Some("T".to_owned()),
            ..HttpRequest::get(format!("{}/issues", server.uri()))
        }))
        .await
        .unwrap(),
    );
    assert_eq!(
        r,
        HttpResponse {
            status: 200,
            headers: Vec::new(),
            body: Vec::new()
        }
    );
    let r = response(
        s.call(get(format!("{}/issues", server.uri())))
            .await
            .unwrap(),
    );
    assert_eq!(r.body, b"read");

    let planned = s.caps.take_dry_run();
    assert_eq!(planned.len(), 1);
    assert_eq!(planned[0].target, format!("POST {}/issues", server.uri()));
    assert_eq!(
        planned[0].detail,
        "not sent: 13 body bytes, secret `T` attached; answered 200 with an empty body"
    );
    assert!(s.caps.take_dry_run().is_empty());
    assert_eq!(
        s.audit(),
        [
            format!("dry-run http POST {}/issues", server.uri()),
            format!("allowed http GET {}/issues", server.uri()),
        ]
    );
}

/// The OpenAI-compatible adapter says what the service answered, in the kinds a guest
/// can act on.
#[tokio::test]
async fn the_model_adapter_reports_what_the_service_answered() {
    use morph_abi::{CompletionRequest, Message, Role};
    use morph_capabilities::{AiProvider, OpenAiCompatible};
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", "Bearer k"))
        .respond_with(
            ResponseTemplate::new(429).set_body_string(r#"{"error":{"message":"slow down"}}"#),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"choices":[]}"#))
        .mount(&server)
        .await;
    let ai = OpenAiCompatible::new(&format!("{}/v1", server.uri()), "m")
        .unwrap()
        .api_key("k");
    let ask = || CompletionRequest {
        messages: vec![Message::new(Role::User, "hi")],
        max_tokens: None,
    };
    let e = ai.complete("ext", ask()).await.unwrap_err();
    assert_eq!(e.kind, HostErrorKind::Unavailable);
    assert_eq!(e.message, "the model's service answered 429: slow down");
    let e = ai.complete("ext", ask()).await.unwrap_err();
    assert_eq!(e.kind, HostErrorKind::Unavailable);
    assert_eq!(
        e.message,
        "the model's service answered without `choices[0].message.content`"
    );
    let e = OpenAiCompatible::new("ftp://x", "m").unwrap_err();
    assert_eq!(
        e.to_string(),
        "the HTTP client cannot be built: the model's base URL `ftp://x` is not http or https"
    );
}
