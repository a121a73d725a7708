//! Progress reporting for pushes and pulls.

/// Told how a transfer goes, one part (blob) at a time. The CLI draws bars with it; a
/// library caller may log or ignore it ([`NoProgress`]). Called from the task that runs
/// the transfer; implementations must be cheap and must not block.
pub trait Progress: Send + Sync {
    /// A part starts: `part` is `manifest`, `module`, `asset ...` or `signature`;
    /// `total` its size in bytes.
    fn start(&self, part: &str, total: u64) {
        let _ = (part, total);
    }
    /// `bytes` more bytes of `part` moved.
    fn advance(&self, part: &str, bytes: u64) {
        let _ = (part, bytes);
    }
    /// `part` is done (and, on pull, checked against its digest).
    fn finish(&self, part: &str) {
        let _ = part;
    }
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}
