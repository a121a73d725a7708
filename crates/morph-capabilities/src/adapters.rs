//! What the app plugs in for `notify.send` and `ai.complete` (contract 0.2.0): the host
//! checks the permission, the bounds and the audit; the adapter shows the notification
//! or asks the model.

use morph_abi::{Completion, CompletionRequest, HostError, HostErrorKind, Notification};
use morph_runtime::BoxFuture;

/// Shows notifications to the person: the app's notification centre, a tray icon, a
/// terminal line. Called after the `notify` permission and the bounds
/// ([`MAX_TITLE_BYTES`], [`MAX_BODY_BYTES`]) are checked, never in a dry run.
pub trait Notifier: Send + Sync + 'static {
    /// Shows `notification` from the extension `extension` (its id, to show with it:
    /// the title and body are the extension's words, not the app's).
    ///
    /// # Errors
    /// A host error for the guest, e.g. `unavailable` when notifications are off.
    fn notify(&self, extension: &str, notification: &Notification) -> Result<(), HostError>;
}

impl<F> Notifier for F
where
    F: Fn(&str, &Notification) -> Result<(), HostError> + Send + Sync + 'static,
{
    fn notify(&self, extension: &str, notification: &Notification) -> Result<(), HostError> {
        self(extension, notification)
    }
}

/// The longest notification title, in bytes.
pub const MAX_TITLE_BYTES: usize = 256;
/// The longest notification body, in bytes.
pub const MAX_BODY_BYTES: usize = 4096;

/// Completes conversations with the assistant's model. Called after the `ai`
/// permission and the bounds of [`AiLimits`] are checked; the request's `max_tokens`
/// is already capped.
pub trait AiProvider: Send + Sync + 'static {
    /// The assistant's reply to `request`, for the extension `extension`.
    ///
    /// # Errors
    /// A host error for the guest: `unavailable` when the model's service fails or
    /// refuses, `limit-exceeded` when it says the conversation is too long.
    fn complete<'a>(
        &'a self,
        extension: &'a str,
        request: CompletionRequest,
    ) -> BoxFuture<'a, Result<Completion, HostError>>;
}

/// Bounds on `ai.complete`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AiLimits {
    /// The most messages in one request. Default 256.
    pub max_messages: usize,
    /// The most bytes of message text in one request. Default 256 KiB.
    pub max_request_bytes: usize,
    /// The most tokens one completion may generate: a guest's `max-tokens` above it,
    /// or none, becomes this. Default 4096.
    pub max_tokens: u32,
}

impl Default for AiLimits {
    fn default() -> Self {
        AiLimits {
            max_messages: 256,
            max_request_bytes: 256 * 1024,
            max_tokens: 4096,
        }
    }
}

fn invalid(message: String) -> HostError {
    HostError::new(HostErrorKind::InvalidArgument, message)
}

/// Checks a notification's bounds.
pub(crate) fn check_notification(n: &Notification) -> Result<(), HostError> {
    if n.title.trim().is_empty() {
        return Err(invalid("a notification needs a title".into()));
    }
    if n.title.len() > MAX_TITLE_BYTES {
        return Err(invalid(format!(
            "the notification's title is {} bytes long (at most {MAX_TITLE_BYTES})",
            n.title.len()
        )));
    }
    if n.body.len() > MAX_BODY_BYTES {
        return Err(HostError::new(
            HostErrorKind::LimitExceeded,
            format!(
                "the notification's body is {} bytes long (at most {MAX_BODY_BYTES})",
                n.body.len()
            ),
        ));
    }
    Ok(())
}

/// Checks a completion request's bounds and caps its `max_tokens`.
pub(crate) fn check_completion(
    mut request: CompletionRequest,
    limits: &AiLimits,
) -> Result<CompletionRequest, HostError> {
    if request.messages.is_empty() {
        return Err(invalid(
            "a completion request needs at least one message".into(),
        ));
    }
    if request.messages.len() > limits.max_messages {
        return Err(HostError::new(
            HostErrorKind::LimitExceeded,
            format!(
                "the request holds {} messages (at most {})",
                request.messages.len(),
                limits.max_messages
            ),
        ));
    }
    let bytes: usize = request.messages.iter().map(|m| m.content.len()).sum();
    if bytes > limits.max_request_bytes {
        return Err(HostError::new(
            HostErrorKind::LimitExceeded,
            format!(
                "the request holds {bytes} bytes of text (at most {})",
                limits.max_request_bytes
            ),
        ));
    }
    request.max_tokens = Some(
        request
            .max_tokens
            .map_or(limits.max_tokens, |n| n.min(limits.max_tokens)),
    );
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use morph_abi::{Message, Role, Urgency};

    fn note(title: &str, body: &str) -> Notification {
        Notification {
            title: title.into(),
            body: body.into(),
            urgency: Urgency::Low,
        }
    }

    #[test]
    fn a_notification_needs_a_title_and_fits_its_bounds() {
        check_notification(&note("Synced", "3 issues")).unwrap();
        let e = check_notification(&note("  ", "x")).unwrap_err();
        assert_eq!(e.kind, HostErrorKind::InvalidArgument);
        assert_eq!(e.message, "a notification needs a title");
        let e = check_notification(&note(&"t".repeat(MAX_TITLE_BYTES + 1), "")).unwrap_err();
        assert_eq!(e.kind, HostErrorKind::InvalidArgument);
        assert_eq!(
            e.message,
            "the notification's title is 257 bytes long (at most 256)"
        );
        let e = check_notification(&note("t", &"b".repeat(MAX_BODY_BYTES + 1))).unwrap_err();
        assert_eq!(e.kind, HostErrorKind::LimitExceeded);
        assert_eq!(
            e.message,
            "the notification's body is 4097 bytes long (at most 4096)"
        );
    }

    #[test]
    fn a_completion_request_is_bounded_and_its_tokens_capped() {
        let limits = AiLimits {
            max_messages: 2,
            max_request_bytes: 10,
            max_tokens: 100,
        };
        let ask = |messages: Vec<Message>, max_tokens| CompletionRequest {
            messages,
            max_tokens,
        };
        let hi = || Message::new(Role::User, "hi");
        let r = check_completion(ask(vec![hi()], None), &limits).unwrap();
        assert_eq!(r.max_tokens, Some(100));
        let r = check_completion(ask(vec![hi()], Some(7)), &limits).unwrap();
        assert_eq!(r.max_tokens, Some(7));
        let r = check_completion(ask(vec![hi()], Some(1000)), &limits).unwrap();
        assert_eq!(r.max_tokens, Some(100));
        let e = check_completion(ask(vec![], None), &limits).unwrap_err();
        assert_eq!(e.kind, HostErrorKind::InvalidArgument);
        assert_eq!(e.message, "a completion request needs at least one message");
        let e = check_completion(ask(vec![hi(), hi(), hi()], None), &limits).unwrap_err();
        assert_eq!(e.kind, HostErrorKind::LimitExceeded);
        assert_eq!(e.message, "the request holds 3 messages (at most 2)");
        let long = Message::new(Role::System, "x".repeat(11));
        let e = check_completion(ask(vec![long], None), &limits).unwrap_err();
        assert_eq!(e.kind, HostErrorKind::LimitExceeded);
        assert_eq!(e.message, "the request holds 11 bytes of text (at most 10)");
    }
}
