//! Resource limits, with one meaning on every backend.

use std::time::Duration;

/// How CPU use is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Metering {
    /// The engine's own fuel: cheapest, but a unit means something different on each
    /// engine, so the same budget trips at different points.
    #[default]
    Native,
    /// The module is rewritten to count instructions itself, so a budget trips at the same
    /// instruction on every backend.
    Deterministic,
}

/// Resource limits for one instance. Each applies per guest call (`describe`, `execute`)
/// except memory, which applies for the instance's life.
///
/// Some are part of the compiled code and so of a compiled-code cache's key:
/// `max_module_bytes`, `max_memory_bytes` (declared minimums are checked at compile time)
/// and, with [`Metering::Deterministic`], `fuel` (the budget is compiled into the module).
/// The others apply per call and may change from one call to the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Maximum linear memory, in bytes. Growth beyond it fails (`memory.grow` returns -1);
    /// a module whose declared minimum exceeds it is refused before it runs.
    pub max_memory_bytes: u64,
    /// CPU budget per call, in fuel units. `None` means unmetered (the wall-clock deadline
    /// still applies).
    pub fuel: Option<u64>,
    /// How `fuel` is counted.
    pub metering: Metering,
    /// Wall-clock deadline per call, instantiation included.
    pub timeout: Duration,
    /// Maximum bytes a guest may hand back per call (output, description).
    pub max_output_bytes: u32,
    /// Maximum input size, in bytes.
    pub max_input_bytes: u32,
    /// Maximum host calls per guest call.
    pub max_host_calls: u64,
    /// Maximum module size, in bytes.
    pub max_module_bytes: u64,
    /// Maximum bytes that cross the boundary in one guest call, both ways: host-call
    /// arguments and results, logs, the output.
    pub max_transfer_bytes: u64,
    /// Log bytes written per guest call; further log lines are dropped (and counted).
    pub max_log_bytes: u64,
}

/// What one host call costs of the CPU budget ([`Limits::fuel`]), on top of the guest's
/// instructions, on every backend and under both meterings: a guest making cheap host
/// calls in a loop runs out of budget as one that computes does, not only at the
/// deadline. About what the host spends serving the cheapest call, in instructions.
pub const HOST_CALL_FUEL: u64 = 1_000;

impl Limits {
    /// Default memory limit: 64 MiB.
    pub const DEFAULT_MEMORY: u64 = 64 << 20;
    /// Default CPU budget: 10^9 fuel units.
    pub const DEFAULT_FUEL: u64 = 1_000_000_000;
    /// Default wall-clock deadline: 10 seconds.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default output limit: 4 MiB.
    pub const DEFAULT_OUTPUT: u32 = 4 << 20;
    /// Default input limit: 4 MiB.
    pub const DEFAULT_INPUT: u32 = 4 << 20;
    /// Default host-call limit per call: 100 000.
    pub const DEFAULT_HOST_CALLS: u64 = 100_000;
    /// Default module size limit: 32 MiB.
    pub const DEFAULT_MODULE: u64 = 32 << 20;
    /// Default transfer limit per call: 64 MiB.
    pub const DEFAULT_TRANSFER: u64 = 64 << 20;
    /// Default log budget per call: 64 KiB.
    pub const DEFAULT_LOG: u64 = 64 << 10;

    /// The memory limit in 64 KiB wasm pages, rounded down.
    pub fn max_memory_pages(&self) -> u64 {
        self.max_memory_bytes / 65536
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_memory_bytes: Self::DEFAULT_MEMORY,
            fuel: Some(Self::DEFAULT_FUEL),
            metering: Metering::Native,
            timeout: Self::DEFAULT_TIMEOUT,
            max_output_bytes: Self::DEFAULT_OUTPUT,
            max_input_bytes: Self::DEFAULT_INPUT,
            max_host_calls: Self::DEFAULT_HOST_CALLS,
            max_module_bytes: Self::DEFAULT_MODULE,
            max_transfer_bytes: Self::DEFAULT_TRANSFER,
            max_log_bytes: Self::DEFAULT_LOG,
        }
    }
}
