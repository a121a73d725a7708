//! `notion`: the Morph sample integration with Notion's public API (version 2022-06-28).
//!
//! - `query-database`: `POST /v1/databases/{id}/query` with Notion's own `filter` and
//!   `sorts` passed through, paginated by `start_cursor`/`next_cursor`. Each page comes
//!   back with its title and its properties reduced to plain JSON values (a select to
//!   its name, a date to its start, rich text to its plain text, ...).
//! - `create-page`: `POST /v1/pages` in a database, the title set through the title
//!   property's ID, `title` (the same in every database, whatever its name), other
//!   property values passed through in Notion's format.
//!
//! The base URL comes from the configuration (`{"base_url": "https://api.notion.com"}`);
//! the integration token is the secret `notion-token`, which the host attaches as
//! `authorization: Bearer ...`. Notion's error bodies (`{"object": "error", "code",
//! "message"}`) are quoted in the errors.

use morph_abi::{ActionInfo, Error, Extension, ExtensionInfo, Input, Output, SideEffect};
use sample_support::{BaseUrl, Service, segment};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The secret the host attaches: a Notion integration token.
pub const SECRET: &str = "notion-token";
/// The API version this extension is written against (`notion-version`).
pub const API_VERSION: &str = "2022-06-28";

/// The extension. It keeps no state between calls.
pub struct Notion;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryDatabase {
    database_id: String,
    filter: Option<Value>,
    sorts: Option<Vec<Value>>,
    start_cursor: Option<String>,
    page_size: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreatePage {
    database_id: String,
    title: String,
    properties: Option<Map<String, Value>>,
}

/// A list answer: `{"object": "list", "results": [...], "next_cursor", "has_more"}`.
#[derive(Deserialize)]
struct List {
    results: Vec<Page>,
    next_cursor: Option<String>,
    #[serde(default)]
    has_more: bool,
}

#[derive(Deserialize)]
struct Page {
    id: String,
    url: String,
    #[serde(default)]
    properties: Map<String, Value>,
}

/// Notion's error body: `{"object": "error", "status", "code", "message"}`.
fn error_message(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let message = v.get("message")?.as_str()?;
    Some(match v.get("code").and_then(Value::as_str) {
        Some(code) => format!("{message} ({code})"),
        None => message.to_owned(),
    })
}

fn service() -> Result<Service, Error> {
    Service::configured(
        "Notion",
        SECRET,
        &[
            ("accept", "application/json"),
            ("notion-version", API_VERSION),
        ],
        error_message,
    )
}

/// The plain text of a rich-text array.
fn plain_text(rich: &Value) -> String {
    rich.as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("plain_text").and_then(Value::as_str))
        .collect()
}

/// The `name` of a select-like value (`{"name": ...}` of a select, a status, ...), or null.
fn name_of(value: Option<&Value>) -> Value {
    value
        .and_then(|v| v.get("name"))
        .cloned()
        .unwrap_or(Value::Null)
}

/// A property value reduced to plain JSON: text as text, a select to its name, a date
/// to its start, people and relations to lists; other types as Notion sent them.
fn simplify(property: &Value) -> Value {
    let Some(kind) = property.get("type").and_then(Value::as_str) else {
        return property.clone();
    };
    let value = property.get(kind);
    let list = |f: &dyn Fn(&Value) -> Value| -> Value {
        Value::Array(
            value
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(f)
                .collect(),
        )
    };
    match kind {
        "title" | "rich_text" => json!(value.map(plain_text).unwrap_or_default()),
        "select" | "status" => name_of(value),
        "multi_select" => list(&|o| name_of(Some(o))),
        "people" => list(&|p| {
            p.get("name")
                .or_else(|| p.get("id"))
                .cloned()
                .unwrap_or_default()
        }),
        "relation" => list(&|r| r.get("id").cloned().unwrap_or_default()),
        "date" => value
            .and_then(|d| d.get("start"))
            .cloned()
            .unwrap_or(Value::Null),
        "formula" => value
            .and_then(|f| f.get("type").and_then(Value::as_str).and_then(|t| f.get(t)))
            .cloned()
            .unwrap_or(Value::Null),
        _ => value.cloned().unwrap_or(Value::Null),
    }
}

fn page_out(page: Page) -> Value {
    let title = page
        .properties
        .values()
        .find(|p| p.get("type").and_then(Value::as_str) == Some("title"))
        .and_then(|p| p.get("title"))
        .map(plain_text)
        .unwrap_or_default();
    let properties: Map<String, Value> = page
        .properties
        .iter()
        .map(|(name, p)| (name.clone(), simplify(p)))
        .collect();
    json!({"id": page.id, "url": page.url, "title": title, "properties": properties})
}

fn query_database(input: QueryDatabase) -> Result<Output, Error> {
    let path = format!(
        "/v1/databases/{}/query",
        segment("database_id", &input.database_id)?
    );
    let mut body = Map::new();
    let optional = [
        ("filter", input.filter),
        ("sorts", input.sorts.map(Value::from)),
        ("start_cursor", input.start_cursor.map(Value::from)),
        ("page_size", input.page_size.map(Value::from)),
    ];
    for (name, value) in optional {
        if let Some(v) = value {
            body.insert(name.to_owned(), v);
        }
    }
    let list: List = service()?.post_json(&path, &Value::Object(body))?.json()?;
    let pages: Vec<Value> = list.results.into_iter().map(page_out).collect();
    let mut out = json!({ "pages": pages });
    if let Some(cursor) = list.next_cursor.filter(|_| list.has_more) {
        out["next_cursor"] = json!(cursor);
    }
    Output::json(&out)
}

fn create_page(input: CreatePage) -> Result<Output, Error> {
    let mut properties = input.properties.unwrap_or_default();
    properties.insert(
        "title".to_owned(),
        json!({"title": [{"type": "text", "text": {"content": input.title}}]}),
    );
    let body = json!({
        "parent": {"database_id": input.database_id},
        "properties": properties,
    });
    let page: Page = service()?.post_json("/v1/pages", &body)?.json()?;
    Output::json(&json!({"id": page.id, "url": page.url}))
}

impl Extension for Notion {
    fn new() -> Self {
        Notion
    }

    fn describe(&self) -> ExtensionInfo {
        let id = json!({"type": "string",
            "pattern": "^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$",
            "description": "The database's ID, with or without dashes."});
        ExtensionInfo {
            id: "notion".into(),
            name: "Notion".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Queries Notion databases and adds pages to them.".into(),
            actions: vec![
                ActionInfo::new(
                    "query-database",
                    "Lists one page of a database's entries, filtered and sorted as Notion's API takes it.",
                )
                .input_schema(json!({
                    "type": "object",
                    "properties": {
                        "database_id": id,
                        "filter": {"type": "object", "description": "A Notion filter object."},
                        "sorts": {"type": "array", "items": {"type": "object"}, "maxItems": 100,
                                  "description": "Notion sort objects."},
                        "start_cursor": {"type": "string", "minLength": 1,
                                         "description": "The previous page's `next_cursor`."},
                        "page_size": {"type": "integer", "minimum": 1, "maximum": 100, "default": 100}
                    },
                    "required": ["database_id"],
                    "additionalProperties": false
                }))
                .output_schema(json!({
                    "type": "object",
                    "properties": {
                        "pages": {"type": "array", "items": {
                            "type": "object",
                            "properties": {
                                "id": {"type": "string"},
                                "url": {"type": "string"},
                                "title": {"type": "string"},
                                "properties": {"type": "object",
                                               "description": "Each property by name, as a plain value."}
                            },
                            "required": ["id", "url", "title", "properties"],
                            "additionalProperties": false
                        }},
                        "next_cursor": {"type": "string",
                                        "description": "Pass as `start_cursor` for the next page; absent on the last."}
                    },
                    "required": ["pages"],
                    "additionalProperties": false
                }))
                .side_effect(SideEffect::Read),
                ActionInfo::new("create-page", "Adds a page (an entry) to a database.")
                    .input_schema(json!({
                        "type": "object",
                        "properties": {
                            "database_id": id,
                            "title": {"type": "string", "minLength": 1, "maxLength": 2000},
                            "properties": {"type": "object",
                                           "description": "Other property values, by name, in Notion's format."}
                        },
                        "required": ["database_id", "title"],
                        "additionalProperties": false
                    }))
                    .output_schema(json!({
                        "type": "object",
                        "properties": {"id": {"type": "string"}, "url": {"type": "string"}},
                        "required": ["id", "url"],
                        "additionalProperties": false
                    }))
                    .side_effect(SideEffect::Write),
            ],
            events: vec![],
            config_schema: Some(BaseUrl::schema("https://api.notion.com")),
        }
    }

    fn execute(&mut self, action: &str, input: Input<'_>) -> Result<Output, Error> {
        match action {
            "query-database" => query_database(input.parse()?),
            "create-page" => create_page(input.parse()?),
            other => Err(Error::unknown_action(other)),
        }
    }
}

morph_abi::export_extension!(Notion);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_become_plain_values() {
        let cases = [
            (
                json!({"id": "title", "type": "title", "title": [
                    {"type": "text", "text": {"content": "Tuscan "}, "plain_text": "Tuscan "},
                    {"type": "text", "text": {"content": "kale"}, "plain_text": "kale"}]}),
                json!("Tuscan kale"),
            ),
            (
                json!({"id": "BJXS", "type": "number", "number": 2.5}),
                json!(2.5),
            ),
            (
                json!({"id": "A%40Hk", "type": "select", "select": {"id": "1", "name": "Vegetable", "color": "green"}}),
                json!("Vegetable"),
            ),
            (
                json!({"id": "s", "type": "select", "select": null}),
                Value::Null,
            ),
            (
                json!({"id": "m", "type": "multi_select", "multi_select": [{"name": "a"}, {"name": "b"}]}),
                json!(["a", "b"]),
            ),
            (
                json!({"id": "d", "type": "date", "date": {"start": "2024-05-01", "end": null}}),
                json!("2024-05-01"),
            ),
            (
                json!({"id": "c", "type": "checkbox", "checkbox": true}),
                json!(true),
            ),
            (
                json!({"id": "f", "type": "formula", "formula": {"type": "number", "number": 7}}),
                json!(7),
            ),
        ];
        for (property, plain) in cases {
            assert_eq!(simplify(&property), plain, "{property}");
        }
    }

    #[test]
    fn notion_errors_are_quoted_with_their_code() {
        let body = br#"{"object":"error","status":404,"code":"object_not_found","message":"Could not find database with ID: 897e5a76."}"#;
        assert_eq!(
            error_message(body).as_deref(),
            Some("Could not find database with ID: 897e5a76. (object_not_found)")
        );
    }
}
