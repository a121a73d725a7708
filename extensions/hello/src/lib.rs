//! `hello`: the Morph sample extension.
//!
//! Three pure actions (`greet`, `count-words`, `echo`) and one event (`greeted`). `greet`
//! tries to emit `greeted`; without the event permission the host refuses, and the
//! extension logs that and carries on, as a well-behaved extension should.

use morph_abi::host::{events, log};
use morph_abi::{ActionInfo, Error, EventInfo, Extension, ExtensionInfo, Input, Output};
use serde::{Deserialize, Serialize};
use serde_json::json;

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

impl Extension for Hello {
    fn new() -> Self {
        Hello { greeted: 0 }
    }

    fn describe(&self) -> ExtensionInfo {
        ExtensionInfo {
            id: "hello".into(),
            name: "Hello".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Greets people, counts words and echoes JSON.".into(),
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
    fn unknown_action_is_reported() {
        let mut h = Hello::new();
        let err = h.execute("nope", Input::new("{}")).unwrap_err();
        assert_eq!(err.kind, morph_abi::ErrorKind::UnknownAction);
    }
}
