//! `hello`: the Morph sample extension.
//!
//! Four pure actions (`greet`, `count-words`, `echo`, `sha256`), one that reads the
//! key-value store (`kv-reads`) and one event (`greeted`). `greet` tries to emit
//! `greeted`; without the event permission the host refuses, and the extension logs that
//! and carries on, as a well-behaved extension should. `sha256` and `kv-reads` are what
//! `morph bench` measures: CPU-bound guest code (the same source runs natively, see
//! [`sha256`]) and a guest that makes many cheap host calls.

mod sha256;

use morph_abi::host::{events, kv, log};
use morph_abi::{
    ActionInfo, Error, EventInfo, Extension, ExtensionInfo, Input, Output, SideEffect,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
pub use sha256::{hex, pattern, sha256};

/// The extension's state: how many greetings it gave in this instance.
pub struct Hello {
    greeted: u64,
}

#[derive(Deserialize)]
struct GreetInput {
    name: String,
}

#[derive(Serialize)]
struct GreetOutput {
    greeting: String,
    count: u64,
}

#[derive(Deserialize)]
struct CountInput {
    text: String,
}

#[derive(Serialize)]
struct CountOutput {
    words: usize,
    characters: usize,
}

/// What `sha256` hashes: `text` as UTF-8, or `bytes` bytes of [`pattern`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HashInput {
    text: Option<String>,
    bytes: Option<usize>,
}

/// The most `sha256` hashes of its pattern: 16 MiB, a quarter of the default memory.
const MAX_PATTERN: usize = 16 << 20;

#[derive(Deserialize)]
struct ReadsInput {
    n: u32,
}

impl Extension for Hello {
    fn new() -> Self {
        Hello { greeted: 0 }
    }

    fn describe(&self) -> ExtensionInfo {
        ExtensionInfo {
            id: "hello".into(),
            name: "Hello".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Greets people, counts words, echoes JSON and hashes bytes.".into(),
            actions: vec![
                ActionInfo::new("greet", "Greets someone by name.")
                    .input_schema(json!({
                        "type": "object",
                        "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 200}},
                        "required": ["name"],
                        "additionalProperties": false
                    }))
                    .output_schema(json!({
                        "type": "object",
                        "properties": {
                            "greeting": {"type": "string"},
                            "count": {"type": "integer", "minimum": 1}
                        },
                        "required": ["greeting", "count"]
                    })),
                ActionInfo::new("count-words", "Counts the words and characters of a text.")
                    .input_schema(json!({
                        "type": "object",
                        "properties": {"text": {"type": "string"}},
                        "required": ["text"]
                    }))
                    .output_schema(json!({
                        "type": "object",
                        "properties": {
                            "words": {"type": "integer", "minimum": 0},
                            "characters": {"type": "integer", "minimum": 0}
                        },
                        "required": ["words", "characters"]
                    })),
                ActionInfo::new("echo", "Returns its input unchanged."),
                ActionInfo::new("sha256", "The SHA-256 of a text, or of `bytes` bytes of a fixed pattern.")
                    .input_schema(json!({
                        "type": "object",
                        "properties": {
                            "text": {"type": "string"},
                            "bytes": {"type": "integer", "minimum": 0, "maximum": MAX_PATTERN}
                        },
                        "additionalProperties": false
                    }))
                    .output_schema(json!({
                        "type": "object",
                        "properties": {"sha256": {"type": "string"}, "bytes": {"type": "integer"}},
                        "required": ["sha256", "bytes"]
                    })),
                ActionInfo::new("kv-reads", "Reads the key `k` from the key-value store `n` times.")
                    .side_effect(SideEffect::Read)
                    .input_schema(json!({
                        "type": "object",
                        "properties": {"n": {"type": "integer", "minimum": 0, "maximum": 100000}},
                        "required": ["n"],
                        "additionalProperties": false
                    }))
                    .output_schema(json!({
                        "type": "object",
                        "properties": {"reads": {"type": "integer"}, "found": {"type": "integer"}},
                        "required": ["reads", "found"]
                    })),
            ],
            events: vec![EventInfo::new(
                "greeted",
                "Someone was greeted.",
                json!({"type": "object", "properties": {"name": {"type": "string"}}}),
            )],
            config_schema: None,
        }
    }

    fn execute(&mut self, action: &str, input: Input<'_>) -> Result<Output, Error> {
        match action {
            "greet" => {
                let GreetInput { name } = input.parse()?;
                self.greeted += 1;
                let payload = json!({ "name": name }).to_string();
                if let Err(e) = events::emit("greeted", &payload) {
                    log::debug(&format!("event `greeted` not emitted: {e}"));
                }
                Output::json(&GreetOutput {
                    greeting: format!("Hello, {name}!"),
                    count: self.greeted,
                })
            }
            "count-words" => {
                let CountInput { text } = input.parse()?;
                Output::json(&CountOutput {
                    words: text.split_whitespace().count(),
                    characters: text.chars().count(),
                })
            }
            "echo" => Ok(Output::raw(input.as_str())),
            "sha256" => {
                let data = match input.parse()? {
                    HashInput {
                        text: Some(text),
                        bytes: None,
                    } => text.into_bytes(),
                    HashInput {
                        text: None,
                        bytes: Some(n),
                    } if n <= MAX_PATTERN => pattern(n),
                    _ => {
                        return Err(Error::invalid_input(format!(
                            "give either `text` or `bytes` (at most {MAX_PATTERN})"
                        )));
                    }
                };
                Output::json(&json!({ "sha256": hex(&sha256(&data)), "bytes": data.len() }))
            }
            "kv-reads" => {
                let ReadsInput { n } = input.parse()?;
                let mut found = 0u32;
                for _ in 0..n {
                    if kv::get("k")?.is_some() {
                        found += 1;
                    }
                }
                Output::json(&json!({ "reads": n, "found": found }))
            }
            other => Err(Error::unknown_action(other)),
        }
    }
}

morph_abi::export_extension!(Hello);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greet_counts_and_greets() {
        let mut h = Hello::new();
        let out = h
            .execute("greet", Input::new(r#"{"name":"Ada"}"#))
            .expect("greet");
        assert_eq!(out.as_str(), r#"{"greeting":"Hello, Ada!","count":1}"#);
    }

    #[test]
    fn sha256_hashes_a_text_or_the_pattern() {
        let mut h = Hello::new();
        let out = h
            .execute("sha256", Input::new(r#"{"text":"abc"}"#))
            .expect("sha256");
        assert_eq!(
            out.as_str(),
            r#"{"bytes":3,"sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}"#
        );
        let out = h
            .execute("sha256", Input::new(r#"{"bytes":1000}"#))
            .expect("sha256");
        assert!(
            out.as_str()
                .contains("4e4c294b331f7a2099a379bec34b9f9fc03dc46ab465d998f4d683da53487e6d"),
            "{}",
            out.as_str()
        );
        let err = h
            .execute("sha256", Input::new(r#"{"text":"a","bytes":1}"#))
            .unwrap_err();
        assert_eq!(err.kind, morph_abi::ErrorKind::InvalidInput);
    }

    #[test]
    fn unknown_action_is_reported() {
        let mut h = Hello::new();
        let err = h.execute("nope", Input::new("{}")).unwrap_err();
        assert_eq!(err.kind, morph_abi::ErrorKind::UnknownAction);
    }
}
