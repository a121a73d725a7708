//! `github`: the Morph sample integration with GitHub's REST API (version 2022-11-28).
//!
//! - `list-issues`: `GET /repos/{owner}/{repo}/issues`, one page, with the next page's
//!   number read from the `link` header (`rel="next"`). GitHub lists pull requests as
//!   issues too; each item says whether it is one.
//! - `create-issue`: `POST /repos/{owner}/{repo}/issues`.
//! - `comment`: `POST /repos/{owner}/{repo}/issues/{number}/comments`.
//!
//! The base URL comes from the configuration (`{"base_url": "https://api.github.com"}`,
//! or a GitHub Enterprise Server's `https://HOST/api/v3`); the token is the secret
//! `github-token`, which the host attaches as `authorization: Bearer ...` and which this
//! extension never sees. Failures map to the contract's kinds as
//! [`sample_support::failure`] says, with GitHub's own message quoted; a 403 with
//! `x-ratelimit-remaining: 0` is GitHub's rate limit and maps to `rate-limited`.

use morph_abi::{ActionInfo, Error, Extension, ExtensionInfo, Input, Output, SideEffect};
use sample_support::{BaseUrl, Query, Service, segment};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The secret the host attaches: a GitHub token (fine-grained or classic).
pub const SECRET: &str = "github-token";
/// The REST API version this extension is written against.
pub const API_VERSION: &str = "2022-11-28";
/// GitHub refuses requests without a user agent.
pub const USER_AGENT: &str = concat!("morph-github-sample/", env!("CARGO_PKG_VERSION"));

/// The extension. It keeps no state between calls.
pub struct GitHub;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListIssues {
    owner: String,
    repo: String,
    state: Option<String>,
    per_page: Option<u32>,
    page: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateIssue {
    owner: String,
    repo: String,
    title: String,
    body: Option<String>,
    labels: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Comment {
    owner: String,
    repo: String,
    number: u64,
    body: String,
}

/// An issue as GitHub sends it; only the fields used.
#[derive(Deserialize)]
struct Issue {
    number: u64,
    title: String,
    state: String,
    html_url: String,
    user: Option<User>,
    #[serde(default)]
    labels: Vec<Label>,
    #[serde(default)]
    comments: u64,
    pull_request: Option<Value>,
}

#[derive(Deserialize)]
struct User {
    login: String,
}

#[derive(Deserialize)]
struct Label {
    name: String,
}

#[derive(Deserialize)]
struct CreatedComment {
    id: u64,
    html_url: String,
}

/// An issue as this extension hands it out.
#[derive(Serialize)]
struct IssueOut {
    number: u64,
    title: String,
    state: String,
    url: String,
    user: Option<String>,
    labels: Vec<String>,
    comments: u64,
    pull_request: bool,
}

impl From<Issue> for IssueOut {
    fn from(i: Issue) -> Self {
        IssueOut {
            number: i.number,
            title: i.title,
            state: i.state,
            url: i.html_url,
            user: i.user.map(|u| u.login),
            labels: i.labels.into_iter().map(|l| l.name).collect(),
            comments: i.comments,
            pull_request: i.pull_request.is_some(),
        }
    }
}

/// GitHub's error body: `{"message": ..., "errors": [{"field", "code"}...]}`.
fn error_message(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let mut message = v.get("message")?.as_str()?.to_owned();
    let details: Vec<String> = v
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(
            |e| match (e.get("field"), e.get("code"), e.get("message")) {
                (_, _, Some(Value::String(m))) => Some(m.clone()),
                (Some(Value::String(f)), Some(Value::String(c)), _) => Some(format!("{f}: {c}")),
                _ => None,
            },
        )
        .collect();
    if !details.is_empty() {
        message = format!("{message} ({})", details.join("; "));
    }
    Some(message)
}

fn service() -> Result<Service, Error> {
    Service::configured(
        "GitHub",
        SECRET,
        &[
            ("accept", "application/vnd.github+json"),
            ("x-github-api-version", API_VERSION),
            ("user-agent", USER_AGENT),
        ],
        error_message,
    )
}

/// `/repos/{owner}/{repo}/issues`, each part encoded.
fn issues_path(owner: &str, repo: &str) -> Result<String, Error> {
    Ok(format!(
        "/repos/{}/{}/issues",
        segment("owner", owner)?,
        segment("repo", repo)?
    ))
}

/// The page number of the `rel="next"` link of a `link` header, if there is one:
/// `<https://api.github.com/repositories/1/issues?page=2>; rel="next", <...>; rel="last"`.
fn next_page(link: &str) -> Option<u32> {
    link.split(',').find_map(|part| {
        let (target, params) = part.trim().strip_prefix('<')?.split_once('>')?;
        let next = params.split(';').any(|p| {
            p.trim()
                .strip_prefix("rel=")
                .map(|rel| rel.trim_matches('"').split(' ').any(|r| r == "next"))
                .unwrap_or(false)
        });
        match next {
            true => sample_support::query_param(target, "page")?.parse().ok(),
            false => None,
        }
    })
}

fn list_issues(input: ListIssues) -> Result<Output, Error> {
    let path = issues_path(&input.owner, &input.repo)?;
    let query = Query::new()
        .with("state", input.state.as_deref().unwrap_or("open"))
        .with_opt("per_page", input.per_page)
        .with_opt("page", input.page);
    let response = service()?.get(&path, &query)?;
    let issues: Vec<Issue> = response.json()?;
    let issues: Vec<IssueOut> = issues.into_iter().map(IssueOut::from).collect();
    let mut out = json!({ "issues": issues });
    if let Some(page) = response.header("link").and_then(next_page) {
        out["next_page"] = json!(page);
    }
    Output::json(&out)
}

fn create_issue(input: CreateIssue) -> Result<Output, Error> {
    let path = issues_path(&input.owner, &input.repo)?;
    let mut body = json!({ "title": input.title });
    if let Some(text) = input.body {
        body["body"] = json!(text);
    }
    if let Some(labels) = input.labels {
        body["labels"] = json!(labels);
    }
    let issue: Issue = service()?.post_json(&path, &body)?.json()?;
    Output::json(&json!({
        "number": issue.number,
        "title": issue.title,
        "state": issue.state,
        "url": issue.html_url,
    }))
}

fn comment(input: Comment) -> Result<Output, Error> {
    let path = format!(
        "{}/{}/comments",
        issues_path(&input.owner, &input.repo)?,
        input.number
    );
    let created: CreatedComment = service()?
        .post_json(&path, &json!({ "body": input.body }))?
        .json()?;
    Output::json(&json!({ "id": created.id, "url": created.html_url }))
}

/// `owner` and `repo`, as GitHub allows them.
fn repo_properties() -> Value {
    json!({
        "owner": {"type": "string", "pattern": "^[A-Za-z0-9-]{1,39}$",
                  "description": "The account that owns the repository."},
        "repo": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,100}$",
                 "description": "The repository's name, without `.git`."}
    })
}

/// `base` with `more` properties added.
fn with(mut base: Value, more: Value) -> Value {
    if let (Some(b), Value::Object(m)) = (base.as_object_mut(), more) {
        b.extend(m);
    }
    base
}

impl Extension for GitHub {
    fn new() -> Self {
        GitHub
    }

    fn describe(&self) -> ExtensionInfo {
        let issue = json!({
            "type": "object",
            "properties": {
                "number": {"type": "integer", "minimum": 1},
                "title": {"type": "string"},
                "state": {"type": "string"},
                "url": {"type": "string"},
                "user": {"type": ["string", "null"]},
                "labels": {"type": "array", "items": {"type": "string"}},
                "comments": {"type": "integer", "minimum": 0},
                "pull_request": {"type": "boolean"}
            },
            "required": ["number", "title", "state", "url", "user", "labels", "comments", "pull_request"],
            "additionalProperties": false
        });
        ExtensionInfo {
            id: "github".into(),
            name: "GitHub".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Lists, opens and comments on GitHub issues through GitHub's REST API."
                .into(),
            actions: vec![
                ActionInfo::new(
                    "list-issues",
                    "Lists one page of a repository's issues (pull requests included, marked).",
                )
                .input_schema(json!({
                    "type": "object",
                    "properties": with(repo_properties(), json!({
                        "state": {"enum": ["open", "closed", "all"], "default": "open"},
                        "per_page": {"type": "integer", "minimum": 1, "maximum": 100, "default": 30},
                        "page": {"type": "integer", "minimum": 1, "default": 1}
                    })),
                    "required": ["owner", "repo"],
                    "additionalProperties": false
                }))
                .output_schema(json!({
                    "type": "object",
                    "properties": {
                        "issues": {"type": "array", "items": issue},
                        "next_page": {"type": "integer", "minimum": 2,
                                      "description": "Pass as `page` for the next page; absent on the last."}
                    },
                    "required": ["issues"],
                    "additionalProperties": false
                }))
                .side_effect(SideEffect::Read),
                ActionInfo::new("create-issue", "Opens an issue in a repository.")
                    .input_schema(json!({
                        "type": "object",
                        "properties": with(repo_properties(), json!({
                            "title": {"type": "string", "minLength": 1, "maxLength": 256},
                            "body": {"type": "string", "maxLength": 65536},
                            "labels": {"type": "array", "items": {"type": "string", "minLength": 1},
                                       "maxItems": 100}
                        })),
                        "required": ["owner", "repo", "title"],
                        "additionalProperties": false
                    }))
                    .output_schema(json!({
                        "type": "object",
                        "properties": {
                            "number": {"type": "integer", "minimum": 1},
                            "title": {"type": "string"},
                            "state": {"type": "string"},
                            "url": {"type": "string"}
                        },
                        "required": ["number", "title", "state", "url"],
                        "additionalProperties": false
                    }))
                    .side_effect(SideEffect::Write),
                ActionInfo::new("comment", "Adds a comment to an issue or pull request.")
                    .input_schema(json!({
                        "type": "object",
                        "properties": with(repo_properties(), json!({
                            "number": {"type": "integer", "minimum": 1},
                            "body": {"type": "string", "minLength": 1, "maxLength": 65536}
                        })),
                        "required": ["owner", "repo", "number", "body"],
                        "additionalProperties": false
                    }))
                    .output_schema(json!({
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "url": {"type": "string"}
                        },
                        "required": ["id", "url"],
                        "additionalProperties": false
                    }))
                    .side_effect(SideEffect::Write),
            ],
            events: vec![],
            config_schema: Some(BaseUrl::schema("https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server.")),
        }
    }

    fn execute(&mut self, action: &str, input: Input<'_>) -> Result<Output, Error> {
        match action {
            "list-issues" => list_issues(input.parse()?),
            "create-issue" => create_issue(input.parse()?),
            "comment" => comment(input.parse()?),
            other => Err(Error::unknown_action(other)),
        }
    }
}

morph_abi::export_extension!(GitHub);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_comes_from_the_link_header() {
        let link = r#"<https://api.github.com/repositories/1300192/issues?state=open&page=2>; rel="next", <https://api.github.com/repositories/1300192/issues?state=open&page=5>; rel="last""#;
        assert_eq!(next_page(link), Some(2));
        let last = r#"<https://api.github.com/repositories/1300192/issues?page=4>; rel="prev", <https://api.github.com/repositories/1300192/issues?page=1>; rel="first""#;
        assert_eq!(next_page(last), None);
        assert_eq!(next_page("garbage"), None);
    }

    #[test]
    fn github_errors_are_quoted_with_their_fields() {
        let body = br#"{"message":"Validation Failed","errors":[{"resource":"Issue","code":"missing_field","field":"title"}],"documentation_url":"https://docs.github.com/rest/issues/issues#create-an-issue","status":"422"}"#;
        assert_eq!(
            error_message(body).as_deref(),
            Some("Validation Failed (title: missing_field)")
        );
        assert_eq!(error_message(b"<html>"), None);
    }

    #[test]
    fn repository_parts_cannot_change_the_path() {
        assert_eq!(
            issues_path("octocat", "Hello-World").unwrap(),
            "/repos/octocat/Hello-World/issues"
        );
        assert!(issues_path("octocat", "..").is_err());
        assert_eq!(issues_path("a", "b/c").unwrap(), "/repos/a/b%2Fc/issues");
    }
}
