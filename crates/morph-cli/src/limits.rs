//! The limit flags every command that loads an extension takes: one per field of
//! [`Limits`], and the flag that raises each [`Limit`] an error can name.

use clap::{Args, ValueEnum};
use morph_host::{Limit, Limits, Metering};
use std::time::Duration;

/// Resource limits. Each flag overrides one field of [`Limits`]; unset flags keep the
/// library's defaults.
#[derive(Args, Debug, Default)]
#[command(next_help_heading = "Limits")]
pub struct LimitArgs {
    /// CPU budget per call, in fuel units (0: unmetered; the deadline still applies).
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,
    /// How fuel is counted [default: native].
    #[arg(long, value_enum, value_name = "MODE")]
    metering: Option<MeteringArg>,
    /// Linear memory limit, in bytes (suffixes K, M, G, KiB, MiB, GiB accepted).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    memory: Option<u64>,
    /// Wall-clock deadline per call, instantiation included, in milliseconds.
    #[arg(long, value_name = "MS")]
    timeout: Option<u64>,
    /// Maximum bytes an extension may hand back per call (its output, its description).
    #[arg(long, value_name = "SIZE", value_parser = parse_size_u32)]
    max_output: Option<u32>,
    /// Maximum input size, in bytes.
    #[arg(long, value_name = "SIZE", value_parser = parse_size_u32)]
    max_input: Option<u32>,
    /// Maximum host calls per call.
    #[arg(long, value_name = "N")]
    max_host_calls: Option<u64>,
    /// Maximum module size, in bytes.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_module: Option<u64>,
    /// Maximum bytes crossing the boundary per call, both ways (host-call arguments and
    /// results, logs, the output).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_transfer: Option<u64>,
    /// Log bytes an extension may write per call; further lines are dropped.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_log: Option<u64>,
}

/// `--metering`.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeteringArg {
    /// The engine's own fuel: cheapest, but a unit differs between engines.
    Native,
    /// The module counts its instructions: a budget trips at the same point everywhere.
    Deterministic,
}

impl From<MeteringArg> for Metering {
    fn from(m: MeteringArg) -> Self {
        match m {
            MeteringArg::Native => Metering::Native,
            MeteringArg::Deterministic => Metering::Deterministic,
        }
    }
}

impl LimitArgs {
    /// The library's defaults with every flag given applied.
    pub fn limits(&self) -> Limits {
        let mut limits = Limits::default();
        if let Some(fuel) = self.fuel {
            limits.fuel = (fuel > 0).then_some(fuel);
        }
        if let Some(metering) = self.metering {
            limits.metering = metering.into();
        }
        if let Some(bytes) = self.memory {
            limits.max_memory_bytes = bytes;
        }
        if let Some(ms) = self.timeout {
            limits.timeout = Duration::from_millis(ms);
        }
        if let Some(bytes) = self.max_output {
            limits.max_output_bytes = bytes;
        }
        if let Some(bytes) = self.max_input {
            limits.max_input_bytes = bytes;
        }
        if let Some(n) = self.max_host_calls {
            limits.max_host_calls = n;
        }
        if let Some(bytes) = self.max_module {
            limits.max_module_bytes = bytes;
        }
        if let Some(bytes) = self.max_transfer {
            limits.max_transfer_bytes = bytes;
        }
        if let Some(bytes) = self.max_log {
            limits.max_log_bytes = bytes;
        }
        limits
    }
}

/// The flag (with its value's name) that raises `limit`, for error messages; `None`
/// for a limit added to the library after this list was written.
pub fn flag_for(limit: Limit) -> Option<&'static str> {
    match limit {
        Limit::Memory => Some("--memory SIZE"),
        Limit::Cpu => Some("--fuel N"),
        Limit::Timeout => Some("--timeout MS"),
        Limit::Output => Some("--max-output SIZE"),
        Limit::Input => Some("--max-input SIZE"),
        Limit::HostCalls => Some("--max-host-calls N"),
        Limit::ModuleSize => Some("--max-module SIZE"),
        Limit::Transfer => Some("--max-transfer SIZE"),
        // Limit is #[non_exhaustive]: a new limit gets no hint until it gets a flag here
        // (its message still names it).
        _ => None,
    }
}

/// Parses a size in bytes: digits and an optional unit (`K`, `KB`, `KiB`, `M`, ... all
/// powers of 1024, any case).
///
/// # Errors
/// A message for clap when the text is not such a size or overflows `u64`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size (try 1048576, 64M or 1GiB)"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => return Err(format!("unknown size unit `{other}` (use K, M or G)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{s}` is too large"))
}

/// [`parse_size`] for limits the library keeps in a `u32`.
///
/// # Errors
/// As [`parse_size`], and when the size is 4 GiB or more.
pub fn parse_size_u32(s: &str) -> Result<u32, String> {
    let n = parse_size(s)?;
    u32::try_from(n).map_err(|_| format!("`{s}` is too large (at most {} bytes)", u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("8 kb"), Ok(8 << 10));
        assert!(parse_size("12parsecs").is_err());
        assert!(parse_size("M").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
        assert_eq!(parse_size_u32("4095M"), Ok(4095 << 20));
        assert_eq!(
            parse_size_u32("4G"),
            Err("`4G` is too large (at most 4294967295 bytes)".to_owned())
        );
    }

    #[test]
    fn no_flags_means_the_library_defaults() {
        assert_eq!(LimitArgs::default().limits(), Limits::default());
    }

    #[test]
    fn every_flag_sets_its_field() {
        let args = LimitArgs {
            fuel: Some(0),
            metering: Some(MeteringArg::Deterministic),
            memory: Some(1),
            timeout: Some(2),
            max_output: Some(3),
            max_input: Some(4),
            max_host_calls: Some(5),
            max_module: Some(6),
            max_transfer: Some(7),
            max_log: Some(8),
        };
        assert_eq!(
            args.limits(),
            Limits {
                max_memory_bytes: 1,
                fuel: None,
                metering: Metering::Deterministic,
                timeout: Duration::from_millis(2),
                max_output_bytes: 3,
                max_input_bytes: 4,
                max_host_calls: 5,
                max_module_bytes: 6,
                max_transfer_bytes: 7,
                max_log_bytes: 8,
            }
        );
    }
}
