//! Typed host calls: the only way out of the sandbox.
//!
//! Every call except logging is checked by the host against the permissions granted to
//! the extension; a refusal comes back as a [`HostError`] of kind `permission-denied`
//! whose message names the permission. Outside a wasm guest (in an author's native unit
//! tests, say) every call returns an `unavailable` error and logging does nothing.

use crate::types::{
    Completion, CompletionRequest, HostError, HttpRequest, HttpResponse, LogLevel, Notification,
};

#[cfg(not(target_arch = "wasm32"))]
fn native() -> HostError {
    HostError::new(
        crate::types::HostErrorKind::Unavailable,
        "host calls are only available inside a Morph wasm guest",
    )
}

/// Logging, tagged by the host with the extension's id.
pub mod log {
    use super::*;

    /// Writes `message` at `level` to the host's log.
    pub fn log(level: LogLevel, message: &str) {
        #[cfg(target_arch = "wasm32")]
        crate::guest::log(level, message);
        #[cfg(not(target_arch = "wasm32"))]
        let _ = (level, message);
    }

    /// Writes `message` at info level.
    pub fn info(message: &str) {
        log(LogLevel::Info, message);
    }

    /// Writes `message` at debug level.
    pub fn debug(message: &str) {
        log(LogLevel::Debug, message);
    }

    /// Writes `message` at warn level.
    pub fn warn(message: &str) {
        log(LogLevel::Warn, message);
    }
}

/// Outbound HTTP (permission `http:<host>`).
pub mod http {
    use super::*;

    /// Sends `request` and waits for its response.
    ///
    /// # Errors
    /// `permission-denied` when the host or method is not granted, `invalid-argument`
    /// for a malformed URL, `unavailable` when the server cannot be reached.
    pub fn fetch(request: &HttpRequest) -> Result<HttpResponse, HostError> {
        #[cfg(target_arch = "wasm32")]
        return crate::guest::http_fetch(request);
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = request;
            Err(native())
        }
    }
}

/// The extension's private key-value store (permission `kv`).
pub mod kv {
    use super::*;

    /// The value stored under `key`, if any.
    ///
    /// # Errors
    /// `permission-denied` without the `kv` permission.
    pub fn get(key: &str) -> Result<Option<Vec<u8>>, HostError> {
        #[cfg(target_arch = "wasm32")]
        return crate::guest::kv_get(key);
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = key;
            Err(native())
        }
    }

    /// Stores `value` under `key`.
    ///
    /// # Errors
    /// `permission-denied` without the `kv` permission, `limit-exceeded` past the quota.
    pub fn set(key: &str, value: &[u8]) -> Result<(), HostError> {
        #[cfg(target_arch = "wasm32")]
        return crate::guest::kv_set(key, value);
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = (key, value);
            Err(native())
        }
    }

    /// Deletes `key`; returns whether it existed.
    ///
    /// # Errors
    /// `permission-denied` without the `kv` permission.
    pub fn delete(key: &str) -> Result<bool, HostError> {
        #[cfg(target_arch = "wasm32")]
        return crate::guest::kv_delete(key);
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = key;
            Err(native())
        }
    }

    /// The keys that start with `prefix`.
    ///
    /// # Errors
    /// `permission-denied` without the `kv` permission.
    pub fn list_keys(prefix: &str) -> Result<Vec<String>, HostError> {
        #[cfg(target_arch = "wasm32")]
        return crate::guest::kv_list_keys(prefix);
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = prefix;
            Err(native())
        }
    }
}

/// Emitting declared events (permission `events:<name>`).
pub mod events {
    use super::*;

    /// Emits the event `name` with `payload` (JSON text).
    ///
    /// # Errors
    /// `permission-denied` when the event is not granted, `invalid-argument` when it was
    /// not declared in `describe()` or the payload fails its schema.
    pub fn emit(name: &str, payload: &str) -> Result<(), HostError> {
        #[cfg(target_arch = "wasm32")]
        return crate::guest::events_emit(name, payload);
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = (name, payload);
            Err(native())
        }
    }
}

/// The extension's configuration (permission `config`).
pub mod config {
    use super::*;

    /// The whole configuration as JSON text.
    ///
    /// # Errors
    /// `permission-denied` without the `config` permission.
    pub fn get() -> Result<String, HostError> {
        #[cfg(target_arch = "wasm32")]
        return crate::guest::config_get();
        #[cfg(not(target_arch = "wasm32"))]
        Err(native())
    }
}

/// Wall-clock time (permission `clock`).
pub mod clock {
    use super::*;

    /// Milliseconds since the Unix epoch.
    ///
    /// # Errors
    /// `permission-denied` without the `clock` permission.
    pub fn now_ms() -> Result<u64, HostError> {
        #[cfg(target_arch = "wasm32")]
        return crate::guest::clock_now_ms();
        #[cfg(not(target_arch = "wasm32"))]
        Err(native())
    }
}

/// Random bytes (permission `random`).
pub mod random {
    use super::*;

    /// `len` random bytes (at most 65536).
    ///
    /// # Errors
    /// `permission-denied` without the `random` permission, `invalid-argument` above the
    /// maximum length.
    pub fn bytes(len: u32) -> Result<Vec<u8>, HostError> {
        #[cfg(target_arch = "wasm32")]
        return crate::guest::random_bytes(len);
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = len;
            Err(native())
        }
    }
}

/// Files in the extension's virtual directories (contract 0.2.0; permissions
/// `fs-read:DIR` and `fs-write:DIR`).
///
/// A path is `DIR/PATH`: its first segment names a virtual directory, which the host
/// maps to a folder it keeps for the extension. Absolute paths, `..`, control
/// characters and paths through symbolic links are refused with `invalid-argument`.
pub mod fs {
    use super::*;

    /// The whole content of the file at `path`.
    ///
    /// # Errors
    /// `permission-denied` without `fs-read` for the path, `not-found` when there is no
    /// such file, `invalid-argument` for a malformed path, `limit-exceeded` for a file
    /// larger than the host hands over.
    pub fn read(path: &str) -> Result<Vec<u8>, HostError> {
        #[cfg(target_arch = "wasm32")]
        return crate::guest::fs_read(path);
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = path;
            Err(native())
        }
    }

    /// Replaces the content of the file at `path` with `data` (atomically: readers see
    /// the old content or the new, never a mix), creating the file and its folders.
    ///
    /// # Errors
    /// `permission-denied` without `fs-write` for the path, `invalid-argument` for a
    /// malformed path, `limit-exceeded` past the host's size cap.
    pub fn write(path: &str, data: &[u8]) -> Result<(), HostError> {
        #[cfg(target_arch = "wasm32")]
        return crate::guest::fs_write(path, data);
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = (path, data);
            Err(native())
        }
    }

    /// The names in the folder at `path`, sorted; a sub-folder's name ends with `/`.
    ///
    /// # Errors
    /// `permission-denied` without `fs-read` for the path, `not-found` when there is no
    /// such folder, `invalid-argument` for a malformed path.
    pub fn list_dir(path: &str) -> Result<Vec<String>, HostError> {
        #[cfg(target_arch = "wasm32")]
        return crate::guest::fs_list_dir(path);
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = path;
            Err(native())
        }
    }

    /// Removes the file or empty folder at `path`; `false` when there was none.
    ///
    /// # Errors
    /// `permission-denied` without `fs-write` for the path, `invalid-argument` for a
    /// malformed path or a folder that is not empty.
    pub fn remove(path: &str) -> Result<bool, HostError> {
        #[cfg(target_arch = "wasm32")]
        return crate::guest::fs_remove(path);
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = path;
            Err(native())
        }
    }
}

/// Notifications to the person (contract 0.2.0; permission `notify`).
pub mod notify {
    use super::*;

    /// Hands `notification` to the app, which shows it.
    ///
    /// # Errors
    /// `permission-denied` without the `notify` permission, `unavailable` when the app
    /// shows no notifications, `invalid-argument` for an empty or overlong title.
    pub fn send(notification: &Notification) -> Result<(), HostError> {
        #[cfg(target_arch = "wasm32")]
        return crate::guest::notify_send(notification);
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = notification;
            Err(native())
        }
    }
}

/// The assistant's language model (contract 0.2.0; permission `ai`).
pub mod ai {
    use super::*;

    /// Completes `request`'s conversation with one assistant message.
    ///
    /// # Errors
    /// `permission-denied` without the `ai` permission, `unavailable` when the app has no
    /// model or the model's service fails, `limit-exceeded` when the conversation is
    /// larger than the host sends.
    pub fn complete(request: &CompletionRequest) -> Result<Completion, HostError> {
        #[cfg(target_arch = "wasm32")]
        return crate::guest::ai_complete(request);
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = request;
            Err(native())
        }
    }
}
