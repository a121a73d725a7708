//! `slack`: the Morph sample integration with Slack's Web API.
//!
//! - `post-message`: `POST /api/chat.postMessage` with a JSON body.
//! - `list-channels`: `GET /api/conversations.list`, paginated by
//!   `response_metadata.next_cursor`.
//!
//! The base URL comes from the configuration (`{"base_url": "https://slack.com"}`); the
//! bot token is the secret `slack-token`, which the host attaches as
//! `authorization: Bearer ...`. Slack answers most failures with status 200 and
//! `{"ok": false, "error": "..."}`: [`slack_error`] maps those codes to the contract's
//! kinds; an HTTP 429 (with `retry-after`) is `rate-limited` as for the other samples.

use morph_abi::{
    ActionInfo, Error, ErrorKind, Extension, ExtensionInfo, Input, Output, SideEffect,
};
use sample_support::{BaseUrl, Query, Response, Service};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The secret the host attaches: a Slack bot (or user) token.
pub const SECRET: &str = "slack-token";

/// The extension. It keeps no state between calls.
pub struct Slack;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PostMessage {
    channel: String,
    text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListChannels {
    cursor: Option<String>,
    limit: Option<u32>,
    exclude_archived: Option<bool>,
}

/// Every Web API answer: `ok`, and `error` when it is false.
#[derive(Deserialize)]
struct Envelope {
    ok: bool,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Posted {
    channel: String,
    ts: String,
}

#[derive(Deserialize)]
struct Channels {
    #[serde(default)]
    channels: Vec<Channel>,
    response_metadata: Option<Metadata>,
}

#[derive(Deserialize)]
struct Metadata {
    next_cursor: Option<String>,
}

#[derive(Deserialize, Serialize)]
struct Channel {
    id: String,
    name: String,
    #[serde(default)]
    is_private: bool,
    #[serde(default)]
    is_archived: bool,
    #[serde(default)]
    is_member: bool,
    num_members: Option<u64>,
}

/// A Slack error code (`{"ok": false, "error": CODE}`) as the contract's error.
pub fn slack_error(code: &str, retry_after_s: Option<u64>) -> Error {
    let kind = match code {
        "not_authed"
        | "invalid_auth"
        | "account_inactive"
        | "token_revoked"
        | "token_expired"
        | "no_permission"
        | "missing_scope"
        | "not_allowed_token_type"
        | "ekm_access_denied" => ErrorKind::Unauthorized,
        "channel_not_found" | "user_not_found" => ErrorKind::NotFound,
        "ratelimited" | "rate_limited" => {
            return sample_support::rate_limited("Slack", code, retry_after_s);
        }
        "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout" => {
            ErrorKind::Unavailable
        }
        _ => ErrorKind::InvalidInput,
    };
    Error::new(kind, format!("Slack refused the call: {code}"))
}

/// Slack's error body, on the rare failure it sends with a status other than 200.
fn error_message(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<Envelope>(body).ok()?.error
}

fn service() -> Result<Service, Error> {
    Service::configured(
        "Slack",
        SECRET,
        &[("accept", "application/json")],
        error_message,
    )
}

/// The answer's body if it says `ok: true`, else its error code mapped.
fn ok<T: serde::de::DeserializeOwned>(response: &Response) -> Result<T, Error> {
    let envelope: Envelope = response.json()?;
    if !envelope.ok {
        let code = envelope.error.as_deref().unwrap_or("unknown_error");
        return Err(slack_error(code, response.retry_after_s()));
    }
    response.json()
}

fn post_message(input: PostMessage) -> Result<Output, Error> {
    let body = json!({"channel": input.channel, "text": input.text});
    let posted: Posted = ok(&service()?.post_json("/api/chat.postMessage", &body)?)?;
    Output::json(&json!({"channel": posted.channel, "ts": posted.ts}))
}

fn list_channels(input: ListChannels) -> Result<Output, Error> {
    let query = Query::new()
        .with("exclude_archived", input.exclude_archived.unwrap_or(true))
        .with("limit", input.limit.unwrap_or(100))
        .with_opt("cursor", input.cursor);
    let page: Channels = ok(&service()?.get("/api/conversations.list", &query)?)?;
    let mut out = json!({ "channels": page.channels });
    if let Some(cursor) = page
        .response_metadata
        .and_then(|m| m.next_cursor)
        .filter(|c| !c.is_empty())
    {
        out["next_cursor"] = Value::String(cursor);
    }
    Output::json(&out)
}

impl Extension for Slack {
    fn new() -> Self {
        Slack
    }

    fn describe(&self) -> ExtensionInfo {
        ExtensionInfo {
            id: "slack".into(),
            name: "Slack".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Posts messages to Slack channels and lists the channels.".into(),
            actions: vec![
                ActionInfo::new("post-message", "Posts a message to a channel.")
                    .input_schema(json!({
                        "type": "object",
                        "properties": {
                            "channel": {"type": "string", "minLength": 1, "maxLength": 255,
                                        "description": "A channel ID (C0123...) or name."},
                            "text": {"type": "string", "minLength": 1, "maxLength": 40000}
                        },
                        "required": ["channel", "text"],
                        "additionalProperties": false
                    }))
                    .output_schema(json!({
                        "type": "object",
                        "properties": {
                            "channel": {"type": "string"},
                            "ts": {"type": "string", "description": "The message's timestamp: its ID in the channel."}
                        },
                        "required": ["channel", "ts"],
                        "additionalProperties": false
                    }))
                    .side_effect(SideEffect::Write),
                ActionInfo::new("list-channels", "Lists one page of the workspace's channels.")
                    .input_schema(json!({
                        "type": "object",
                        "properties": {
                            "cursor": {"type": "string", "minLength": 1,
                                       "description": "The previous page's `next_cursor`."},
                            "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                            "exclude_archived": {"type": "boolean", "default": true}
                        },
                        "additionalProperties": false
                    }))
                    .output_schema(json!({
                        "type": "object",
                        "properties": {
                            "channels": {"type": "array", "items": {
                                "type": "object",
                                "properties": {
                                    "id": {"type": "string"},
                                    "name": {"type": "string"},
                                    "is_private": {"type": "boolean"},
                                    "is_archived": {"type": "boolean"},
                                    "is_member": {"type": "boolean"},
                                    "num_members": {"type": ["integer", "null"], "minimum": 0}
                                },
                                "required": ["id", "name", "is_private", "is_archived", "is_member", "num_members"],
                                "additionalProperties": false
                            }},
                            "next_cursor": {"type": "string",
                                            "description": "Pass as `cursor` for the next page; absent on the last."}
                        },
                        "required": ["channels"],
                        "additionalProperties": false
                    }))
                    .side_effect(SideEffect::Read),
            ],
            events: vec![],
            config_schema: Some(BaseUrl::schema("https://slack.com")),
        }
    }

    fn execute(&mut self, action: &str, input: Input<'_>) -> Result<Output, Error> {
        match action {
            "post-message" => post_message(input.parse()?),
            "list-channels" => list_channels(input.parse()?),
            other => Err(Error::unknown_action(other)),
        }
    }
}

morph_abi::export_extension!(Slack);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_error_codes_map_to_kinds() {
        let kind = |code| slack_error(code, None).kind;
        assert_eq!(kind("invalid_auth"), ErrorKind::Unauthorized);
        assert_eq!(kind("not_authed"), ErrorKind::Unauthorized);
        assert_eq!(kind("channel_not_found"), ErrorKind::NotFound);
        assert_eq!(kind("ratelimited"), ErrorKind::RateLimited);
        assert_eq!(kind("internal_error"), ErrorKind::Unavailable);
        assert_eq!(kind("msg_too_long"), ErrorKind::InvalidInput);
        let e = slack_error("ratelimited", Some(30));
        assert_eq!(e.details.as_deref(), Some(r#"{"retry_after_s":30}"#));
    }

    #[test]
    fn ok_false_is_an_error_even_with_status_200() {
        let r = Response::new(200, &[], br#"{"ok":false,"error":"channel_not_found"}"#);
        let e = ok::<Posted>(&r).err().map(|e| (e.kind, e.message));
        assert_eq!(
            e,
            Some((
                ErrorKind::NotFound,
                "Slack refused the call: channel_not_found".to_owned()
            ))
        );
    }
}
