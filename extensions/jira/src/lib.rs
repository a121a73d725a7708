//! `jira`: the Morph sample integration with JIRA Cloud's REST API v3.
//!
//! - `search`: `POST /rest/api/3/search/jql` (JIRA Cloud's current search, paginated by
//!   `nextPageToken`), asking for the few fields it hands out.
//! - `create-issue`: `POST /rest/api/3/issue`, the description sent as Atlassian
//!   Document Format (paragraphs split at blank lines, line breaks kept).
//!
//! The site comes from the configuration (`{"base_url": "https://SITE.atlassian.net"}`);
//! the API token is the secret `jira-token`, bound in the basic form with the account's
//! email as the user: the host sends `authorization: Basic base64(EMAIL:TOKEN)`, so
//! neither the token nor the pair ever enters this extension, and the email is not part
//! of its configuration. JIRA's error bodies (`errorMessages`, `errors`) are quoted in
//! the errors; a JQL JIRA refuses is `invalid-input`.

use morph_abi::{ActionInfo, Error, Extension, ExtensionInfo, Input, Output, SideEffect};
use sample_support::{BaseUrl, Service};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The secret the host attaches: a JIRA Cloud API token, in the basic form with the
/// account's email.
pub const SECRET: &str = "jira-token";
/// The fields `search` asks JIRA for.
const FIELDS: [&str; 4] = ["summary", "status", "issuetype", "assignee"];

/// The extension. It keeps no state between calls.
pub struct Jira;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Search {
    jql: String,
    max_results: Option<u32>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateIssue {
    project_key: String,
    summary: String,
    issue_type: String,
    description: Option<String>,
}

/// `POST /rest/api/3/search/jql`'s answer; only the parts used.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchPage {
    #[serde(default)]
    issues: Vec<Issue>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct Issue {
    id: String,
    key: String,
    #[serde(default)]
    fields: Fields,
}

#[derive(Deserialize, Default)]
struct Fields {
    summary: Option<String>,
    status: Option<Named>,
    issuetype: Option<Named>,
    assignee: Option<Person>,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Person {
    display_name: String,
}

#[derive(Deserialize)]
struct Created {
    id: String,
    key: String,
}

#[derive(Serialize)]
struct IssueOut {
    key: String,
    id: String,
    summary: String,
    status: Option<String>,
    issue_type: Option<String>,
    assignee: Option<String>,
    url: String,
}

/// JIRA's error body: `{"errorMessages": [...], "errors": {"field": "message"}}`.
fn error_message(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let mut parts: Vec<String> = v
        .get("errorMessages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_str().map(str::to_owned))
        .collect();
    if let Some(errors) = v.get("errors").and_then(Value::as_object) {
        parts.extend(
            errors
                .iter()
                .filter_map(|(field, m)| m.as_str().map(|m| format!("{field}: {m}"))),
        );
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn service() -> Result<Service, Error> {
    Service::configured(
        "JIRA",
        SECRET,
        &[("accept", "application/json")],
        error_message,
    )
}

/// `text` as an Atlassian Document Format document: a paragraph per block of lines
/// separated by a blank line, the lines of a block joined by hard breaks.
fn adf(text: &str) -> Value {
    let normalized = text.replace("\r\n", "\n");
    let paragraphs: Vec<Value> = normalized
        .split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let mut content = Vec::new();
            for (i, line) in p.split('\n').enumerate() {
                if i > 0 {
                    content.push(json!({"type": "hardBreak"}));
                }
                if !line.is_empty() {
                    content.push(json!({"type": "text", "text": line}));
                }
            }
            json!({"type": "paragraph", "content": content})
        })
        .collect();
    json!({"type": "doc", "version": 1, "content": paragraphs})
}

fn search(input: Search) -> Result<Output, Error> {
    let service = service()?;
    let mut body = json!({
        "jql": input.jql,
        "maxResults": input.max_results.unwrap_or(50),
        "fields": FIELDS,
    });
    if let Some(token) = input.next_page_token {
        body["nextPageToken"] = json!(token);
    }
    let page: SearchPage = service.post_json("/rest/api/3/search/jql", &body)?.json()?;
    let issues: Vec<IssueOut> = page
        .issues
        .into_iter()
        .map(|i| IssueOut {
            url: format!("{}/browse/{}", service.base(), i.key),
            key: i.key,
            id: i.id,
            summary: i.fields.summary.unwrap_or_default(),
            status: i.fields.status.map(|s| s.name),
            issue_type: i.fields.issuetype.map(|t| t.name),
            assignee: i.fields.assignee.map(|a| a.display_name),
        })
        .collect();
    let mut out = json!({ "issues": issues });
    if let Some(token) = page.next_page_token {
        out["next_page_token"] = json!(token);
    }
    Output::json(&out)
}

fn create_issue(input: CreateIssue) -> Result<Output, Error> {
    let service = service()?;
    let mut fields = json!({
        "project": {"key": input.project_key},
        "summary": input.summary,
        "issuetype": {"name": input.issue_type},
    });
    if let Some(text) = input.description.filter(|d| !d.trim().is_empty()) {
        fields["description"] = adf(&text);
    }
    let created: Created = service
        .post_json("/rest/api/3/issue", &json!({ "fields": fields }))?
        .json()?;
    Output::json(&json!({
        "url": format!("{}/browse/{}", service.base(), created.key),
        "key": created.key,
        "id": created.id,
    }))
}

impl Extension for Jira {
    fn new() -> Self {
        Jira
    }

    fn describe(&self) -> ExtensionInfo {
        let opt_text = json!({"type": ["string", "null"]});
        ExtensionInfo {
            id: "jira".into(),
            name: "JIRA".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Searches JIRA Cloud issues with JQL and creates issues.".into(),
            actions: vec![
                ActionInfo::new("search", "Finds issues with a JQL query, one page at a time.")
                    .input_schema(json!({
                        "type": "object",
                        "properties": {
                            "jql": {"type": "string", "minLength": 1, "maxLength": 10000,
                                    "description": "A bounded JQL query, e.g. `project = ED ORDER BY created DESC`."},
                            "max_results": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50},
                            "next_page_token": {"type": "string", "minLength": 1,
                                                "description": "From the previous page's output."}
                        },
                        "required": ["jql"],
                        "additionalProperties": false
                    }))
                    .output_schema(json!({
                        "type": "object",
                        "properties": {
                            "issues": {"type": "array", "items": {
                                "type": "object",
                                "properties": {
                                    "key": {"type": "string"},
                                    "id": {"type": "string"},
                                    "summary": {"type": "string"},
                                    "status": opt_text,
                                    "issue_type": opt_text,
                                    "assignee": opt_text,
                                    "url": {"type": "string"}
                                },
                                "required": ["key", "id", "summary", "status", "issue_type", "assignee", "url"],
                                "additionalProperties": false
                            }},
                            "next_page_token": {"type": "string",
                                                "description": "Pass it back for the next page; absent on the last."}
                        },
                        "required": ["issues"],
                        "additionalProperties": false
                    }))
                    .side_effect(SideEffect::Read),
                ActionInfo::new("create-issue", "Creates an issue in a project.")
                    .input_schema(json!({
                        "type": "object",
                        "properties": {
                            "project_key": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]{0,254}$"},
                            "summary": {"type": "string", "minLength": 1, "maxLength": 255},
                            "issue_type": {"type": "string", "minLength": 1, "maxLength": 255,
                                           "description": "The issue type's name: Task, Bug, Story, ..."},
                            "description": {"type": "string", "maxLength": 32767,
                                            "description": "Plain text; blank lines separate paragraphs."}
                        },
                        "required": ["project_key", "summary", "issue_type"],
                        "additionalProperties": false
                    }))
                    .output_schema(json!({
                        "type": "object",
                        "properties": {
                            "key": {"type": "string"},
                            "id": {"type": "string"},
                            "url": {"type": "string"}
                        },
                        "required": ["key", "id", "url"],
                        "additionalProperties": false
                    }))
                    .side_effect(SideEffect::Write),
            ],
            events: vec![],
            config_schema: Some(BaseUrl::schema("The site, e.g. https://your-domain.atlassian.net.")),
        }
    }

    fn execute(&mut self, action: &str, input: Input<'_>) -> Result<Output, Error> {
        match action {
            "search" => search(input.parse()?),
            "create-issue" => create_issue(input.parse()?),
            other => Err(Error::unknown_action(other)),
        }
    }
}

morph_abi::export_extension!(Jira);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_become_adf_paragraphs_with_hard_breaks() {
        assert_eq!(
            adf("First line\nsecond line\r\n\r\nNext paragraph\n\n\n"),
            json!({"type": "doc", "version": 1, "content": [
                {"type": "paragraph", "content": [
                    {"type": "text", "text": "First line"},
                    {"type": "hardBreak"},
                    {"type": "text", "text": "second line"}
                ]},
                {"type": "paragraph", "content": [{"type": "text", "text": "Next paragraph"}]}
            ]})
        );
    }

    #[test]
    fn jira_errors_are_quoted() {
        let body = br#"{"errorMessages":["Field 'priority' cannot be set."],"errors":{"summary":"You must specify a summary of the issue."}}"#;
        assert_eq!(
            error_message(body).as_deref(),
            Some(
                "Field 'priority' cannot be set.; summary: You must specify a summary of the issue."
            )
        );
        assert_eq!(error_message(br#"{"errorMessages":[],"errors":{}}"#), None);
    }
}
