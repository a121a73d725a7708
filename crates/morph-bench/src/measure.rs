//! How a figure is taken: warm-up, then samples of several iterations each, within a
//! time budget; the figure is the median time per iteration. Throughput and memory have
//! their own loops (`throughput`, `resident_bytes`).

use std::time::{Duration, Instant};

/// Samples taken per figure when the budget allows.
const SAMPLES: u32 = 7;
/// Samples taken per figure whatever the budget (but in quick mode).
const MIN_SAMPLES: u32 = 3;

/// The sampling plan of a run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// Time for the samples of one figure (warm-up not included).
    pub(crate) budget: Duration,
    /// One iteration, one sample: for tests, whose figures only need to exist.
    pub(crate) quick: bool,
}

/// A figure: the median time per iteration and how many samples it came from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timed {
    pub(crate) per_iter: Duration,
    pub(crate) samples: u32,
}

impl Plan {
    /// Times `f`: one warm-up call (more while they fit in a tenth of the budget), then
    /// up to [`SAMPLES`] samples, each of as many calls as fill its share of the budget,
    /// at least [`MIN_SAMPLES`] even past the budget; the median per call.
    pub(crate) fn time<E>(&self, mut f: impl FnMut() -> Result<(), E>) -> Result<Timed, E> {
        let warm = Instant::now();
        f()?;
        let mut warm_iters = 1u32;
        if self.quick {
            let t = Instant::now();
            f()?;
            return Ok(Timed {
                per_iter: t.elapsed(),
                samples: 1,
            });
        }
        while warm.elapsed() < self.budget / 10 && warm_iters < 1000 {
            f()?;
            warm_iters += 1;
        }
        let per_iter = warm.elapsed() / warm_iters;
        let share = self.budget / SAMPLES;
        let iters = u32::try_from(share.as_nanos() / per_iter.as_nanos().max(1))
            .unwrap_or(u32::MAX)
            .clamp(1, 1_000_000);
        let start = Instant::now();
        let mut medians = Vec::with_capacity(SAMPLES as usize);
        while (medians.len() as u32) < SAMPLES
            && ((medians.len() as u32) < MIN_SAMPLES || start.elapsed() < self.budget)
        {
            let t = Instant::now();
            for _ in 0..iters {
                f()?;
            }
            medians.push(t.elapsed() / iters);
        }
        medians.sort();
        Ok(Timed {
            per_iter: medians[medians.len() / 2],
            samples: medians.len() as u32,
        })
    }

    /// How long a throughput figure runs (after a warm-up of a tenth of it).
    pub(crate) fn throughput_window(&self) -> Duration {
        if self.quick {
            Duration::ZERO
        } else {
            (self.budget * 3).max(Duration::from_millis(50))
        }
    }
}

/// This process's resident set, in bytes (`VmRSS` of `/proc/self/status`); `None` where
/// there is no such file.
pub(crate) fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_a_steady_loop_is_near_its_cost() {
        let plan = Plan {
            budget: Duration::from_millis(20),
            quick: false,
        };
        let t = plan
            .time(|| {
                std::thread::sleep(Duration::from_micros(200));
                Ok::<(), ()>(())
            })
            .unwrap_or_else(|()| unreachable!());
        assert!(t.samples >= MIN_SAMPLES, "{t:?}");
        assert!(t.per_iter >= Duration::from_micros(200), "{t:?}");
    }

    #[test]
    fn resident_bytes_are_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(resident_bytes().is_some_and(|b| b > 0));
        }
    }
}
