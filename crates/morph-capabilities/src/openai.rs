//! [`OpenAiCompatible`]: an [`AiProvider`] for any service that speaks OpenAI's chat
//! completions API (`POST {base}/chat/completions`): OpenAI, Azure's and most local
//! model servers (llama.cpp, vLLM, Ollama, LM Studio).

use crate::Error;
use crate::adapters::AiProvider;
use crate::http::{read, with_causes};
use morph_abi::{Completion, CompletionRequest, HostError, HostErrorKind};
use morph_runtime::BoxFuture;
use serde_json::{Value, json};
use std::time::Duration;

/// The largest answer read from the service, in bytes.
const MAX_ANSWER_BYTES: u64 = 4 * 1024 * 1024;

/// An [`AiProvider`] over an OpenAI-compatible chat completions endpoint. The API key is
/// the host's: it is sent as a bearer token and never reaches a guest.
#[derive(Clone)]
pub struct OpenAiCompatible {
    endpoint: url::Url,
    model: String,
    api_key: Option<String>,
    timeout: Duration,
    client: reqwest::Client,
}

impl std::fmt::Debug for OpenAiCompatible {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiCompatible")
            .field("endpoint", &self.endpoint.as_str())
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

impl OpenAiCompatible {
    /// A provider asking `model` at `base_url` (e.g. `https://api.openai.com/v1` or
    /// `http://127.0.0.1:8080/v1`), without a key and with a 60 s timeout.
    ///
    /// # Errors
    /// [`Error::Http`] when `base_url` is not an `http(s)` URL or the client cannot be
    /// built.
    pub fn new(base_url: &str, model: impl Into<String>) -> Result<Self, Error> {
        let bad = |reason: String| Error::Http { reason };
        let mut base = url::Url::parse(base_url)
            .map_err(|e| bad(format!("the model's base URL `{base_url}` is invalid: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(bad(format!(
                "the model's base URL `{base_url}` is not http or https"
            )));
        }
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let endpoint = base
            .join("chat/completions")
            .map_err(|e| bad(e.to_string()))?;
        // The client `http.fetch` uses: no proxy, no automatic redirect.
        let client = crate::http::client(&crate::HttpLimits::default())?;
        Ok(OpenAiCompatible {
            endpoint,
            model: model.into(),
            api_key: None,
            timeout: Duration::from_secs(60),
            client,
        })
    }

    /// Sends `key` as a bearer token with every request.
    #[must_use]
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The longest one completion may take, answer included.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn ask(&self, request: CompletionRequest) -> Result<Completion, HostError> {
        let unavailable = |m: String| HostError::new(HostErrorKind::Unavailable, m);
        let messages: Vec<Value> = request
            .messages
            .iter()
            .map(|m| json!({"role": m.role.as_str(), "content": m.content}))
            .collect();
        let mut body = json!({"model": self.model, "messages": messages});
        if let Some(n) = request.max_tokens {
            body["max_tokens"] = json!(n);
        }
        let mut send = self
            .client
            .post(self.endpoint.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        if let Some(key) = &self.api_key {
            send = send.bearer_auth(key);
        }
        let exchange = async {
            let response = send.send().await.map_err(|e| {
                unavailable(format!(
                    "the model's service cannot be reached: {}",
                    with_causes(&e)
                ))
            })?;
            read(response, MAX_ANSWER_BYTES).await
        };
        let received = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| {
                unavailable(format!(
                    "the model did not answer within {} s",
                    self.timeout.as_secs()
                ))
            })??;
        let answer: Value = serde_json::from_slice(&received.body).unwrap_or(Value::Null);
        if !(200..300).contains(&received.status) {
            let said = answer["error"]["message"]
                .as_str()
                .map(|m| format!(": {}", m.chars().take(300).collect::<String>()))
                .unwrap_or_default();
            let kind = match received.status {
                400 | 413 if said.contains("context") || said.contains("too long") => {
                    HostErrorKind::LimitExceeded
                }
                _ => HostErrorKind::Unavailable,
            };
            return Err(HostError::new(
                kind,
                format!("the model's service answered {}{said}", received.status),
            ));
        }
        let content = answer["choices"][0]["message"]["content"]
            .as_str()
            .ok_or_else(|| {
                unavailable(
                    "the model's service answered without `choices[0].message.content`".into(),
                )
            })?;
        Ok(Completion {
            content: content.to_owned(),
            model: answer["model"].as_str().unwrap_or(&self.model).to_owned(),
        })
    }
}

impl AiProvider for OpenAiCompatible {
    fn complete<'a>(
        &'a self,
        _extension: &'a str,
        request: CompletionRequest,
    ) -> BoxFuture<'a, Result<Completion, HostError>> {
        Box::pin(self.ask(request))
    }
}
