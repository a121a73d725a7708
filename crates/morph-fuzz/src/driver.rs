//! The bounded, seeded runs that stand in for a fuzzer on stable Rust.
//!
//! Each case is one seed: a [`Rng`] seeded with it makes the case's input bytes (a
//! generator per target: random bytes, or mutations of valid inputs), and the target
//! checks them. The seeds of a run derive from the target's name and a base seed, so a
//! run is the same every time; `MORPH_FUZZ_CASES` sets how many cases run,
//! `MORPH_FUZZ_BASE_SEED` explores other seeds, and `MORPH_FUZZ_SEED` runs one case
//! again. A failing case's input is written to a file that the cargo-fuzz target of the
//! same name takes as is (`cargo fuzz run <target> <file>`).

use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// SplitMix64: a tiny, fast, seedable generator; good enough to make fuzz inputs, and
/// the same on every platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        // `n` fits in u64 on every platform Rust supports; the remainder is below `n`.
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `1/n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len.saturating_add(8));
        while out.len() < len {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(len);
        out
    }

    /// One element of `items` (panics on an empty slice: a harness bug).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A stable 64-bit hash of a target's name (FNV-1a), so each target has its own seeds.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    let text = text.trim();
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    match parsed {
        Ok(v) => Some(v),
        Err(_) => panic!("{name}={text} is not a number (decimal, or hex with 0x)"),
    }
}

/// The seeds a bounded run of `target` uses: `MORPH_FUZZ_SEED` alone when it is set,
/// otherwise `MORPH_FUZZ_CASES` (default `default_cases`) seeds derived from the target's
/// name and `MORPH_FUZZ_BASE_SEED` (default 0).
pub fn seeds(target: &str, default_cases: u64) -> Vec<u64> {
    if let Some(seed) = env_u64("MORPH_FUZZ_SEED") {
        return vec![seed];
    }
    let cases = env_u64("MORPH_FUZZ_CASES").unwrap_or(default_cases);
    let base = env_u64("MORPH_FUZZ_BASE_SEED").unwrap_or(0);
    let mut rng = Rng::new(name_hash(target) ^ base);
    (0..cases).map(|_| rng.next_u64()).collect()
}

/// What a bounded run saw.
#[derive(Debug, Default)]
pub struct Report {
    /// Cases run.
    pub cases: u64,
    /// Cases whose check failed or panicked: seed and message.
    pub failures: Vec<(u64, String)>,
    /// How long the run took.
    pub elapsed: Duration,
}

/// Where a failing case's input is written: `$MORPH_FUZZ_OUT`, or
/// `<temp>/morph-fuzz`.
pub fn artifact_dir() -> PathBuf {
    std::env::var_os("MORPH_FUZZ_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("morph-fuzz"))
}

/// Runs `check` on the input `generate` makes from each seed of [`seeds`], catching
/// panics. Returns what it saw; [`Report::assert_clean`] turns failures into a panic
/// that names every seed and how to run it again.
pub fn run_bounded(
    target: &str,
    default_cases: u64,
    mut generate: impl FnMut(&mut Rng) -> Vec<u8>,
    mut check: impl FnMut(&[u8]) -> Result<(), String>,
) -> Report {
    let started = Instant::now();
    let mut report = Report::default();
    for seed in seeds(target, default_cases) {
        let input = generate(&mut Rng::new(seed));
        report.cases += 1;
        let outcome = catch_unwind(AssertUnwindSafe(|| check(&input)));
        let message = match outcome {
            Ok(Ok(())) => continue,
            Ok(Err(message)) => message,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("(no message)");
                format!("panicked: {what}")
            }
        };
        let dir = artifact_dir();
        let file = dir.join(format!("{target}-{seed:#018x}.bin"));
        let saved = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&file, &input));
        let saved = match saved {
            Ok(()) => format!("input saved to {}", file.display()),
            Err(e) => format!("input not saved ({e})"),
        };
        eprintln!("morph-fuzz: {target}: seed {seed:#018x} failed: {message} ({saved})");
        report.failures.push((seed, format!("{message} ({saved})")));
    }
    report.elapsed = started.elapsed();
    eprintln!(
        "morph-fuzz: {target}: {} cases in {:.1}s, {} failure(s)",
        report.cases,
        report.elapsed.as_secs_f64(),
        report.failures.len()
    );
    report
}

impl Report {
    /// Panics when a case failed, listing each seed and the command that runs it again.
    pub fn assert_clean(&self, target: &str, test: &str) {
        if self.failures.is_empty() {
            return;
        }
        let mut text = format!(
            "{}/{} cases of {target} failed:\n",
            self.failures.len(),
            self.cases
        );
        for (seed, message) in &self.failures {
            let _ = writeln!(
                text,
                "  seed {seed:#018x}: {message}\n    rerun: MORPH_FUZZ_SEED={seed:#x} cargo test -p morph-fuzz --test fuzz {test}"
            );
        }
        panic!("{text}");
    }
}

/// Mutates `input` a few times: byte flips and sets, spans deleted, duplicated or
/// truncated, random bytes or `tokens` inserted or written over. What the stable runs
/// use to reach past a parser's first checks from valid inputs.
pub fn mutate(rng: &mut Rng, input: &[u8], tokens: &[&[u8]]) -> Vec<u8> {
    let mut out = input.to_vec();
    let rounds = 1 + rng.below(6);
    for _ in 0..rounds {
        let len = out.len();
        let at = rng.below(len.saturating_add(1));
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                out[i] = *rng.pick(&[0u8, 0xff, b'"', b'\n', b'=', b'[', b']', b'.', b'\\', 0x80]);
            }
            2 if len > 0 => {
                let n = 1 + rng.below(16.min(len - at.min(len)).max(1));
                let end = (at + n).min(len);
                out.drain(at.min(len)..end);
            }
            3 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(32)).min(len);
                let span = out[start..end].to_vec();
                let at = rng.below(out.len() + 1);
                out.splice(at..at, span);
            }
            4 => out.truncate(at),
            5 => {
                let n = 1 + rng.below(8);
                let bytes = rng.bytes(n);
                out.splice(at..at, bytes);
            }
            6 | 7 if !tokens.is_empty() => {
                let token = rng.pick(tokens).to_vec();
                out.splice(at..at, token);
            }
            _ if !tokens.is_empty() && len > 0 => {
                let token = rng.pick(tokens).to_vec();
                let end = (at + token.len()).min(len);
                out.splice(at.min(len)..end, token);
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_stable_and_distinct_per_target() {
        // A failure is reported by its seed: the seeds of a target must not change from
        // one run (or platform) to the next. SplitMix64's first output for 0 is fixed.
        assert_eq!(Rng::new(0).next_u64(), 0xe220_a839_7b1d_cdaf);
        let mut abi = Rng::new(name_hash("abi"));
        let mut manifest = Rng::new(name_hash("manifest"));
        assert_ne!(abi.next_u64(), manifest.next_u64());
    }

    #[test]
    fn mutations_stay_in_bounds() {
        let mut rng = Rng::new(7);
        for _ in 0..10_000 {
            let len = rng.below(20);
            let input = rng.bytes(len);
            let _ = mutate(&mut rng, &input, &[b"tok", b""]);
            let _ = mutate(&mut rng, &input, &[]);
        }
    }
}
