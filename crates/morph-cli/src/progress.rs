//! Transfer bars for `push` and `pull`, drawn through morph-registry's [`Progress`].
//!
//! Bars go to stderr, and only when stderr is a terminal: in a pipe, a log file or a test
//! nothing is drawn, so stdout and stderr stay what scripts parse. One bar per part
//! (`manifest`, `module`, `asset NAME`, `signature`), labelled with the part's name
//! escaped (an asset's name comes from the package).

use crate::output::escape;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use morph_registry::{NoProgress, Progress};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Mutex, PoisonError};

/// What a transfer reports to: bars on a terminal, nothing otherwise.
pub fn for_stderr() -> Box<dyn Progress> {
    if std::io::stderr().is_terminal() {
        Box::new(Bars::new(ProgressDrawTarget::stderr()))
    } else {
        Box::new(NoProgress)
    }
}

/// One bar per part in flight.
pub struct Bars {
    multi: MultiProgress,
    style: ProgressStyle,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    /// Bars drawn to `target`.
    pub fn new(target: ProgressDrawTarget) -> Self {
        // The template is a constant known to parse; the default style serves otherwise.
        let style = ProgressStyle::with_template(
            "{prefix:>16} [{bar:30}] {binary_bytes:>10}/{binary_total_bytes:<10}",
        )
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        Self {
            multi: MultiProgress::with_draw_target(target),
            style,
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn with_bars<T>(&self, f: impl FnOnce(&mut HashMap<String, ProgressBar>) -> T) -> T {
        // A panic while holding the lock cannot leave the map inconsistent.
        f(&mut self.bars.lock().unwrap_or_else(PoisonError::into_inner))
    }

    #[cfg(test)]
    fn position(&self, part: &str) -> Option<(u64, Option<u64>)> {
        self.with_bars(|bars| bars.get(part).map(|b| (b.position(), b.length())))
    }
}

impl Progress for Bars {
    fn start(&self, part: &str, total: u64) {
        let bar = self.multi.add(
            ProgressBar::new(total)
                .with_style(self.style.clone())
                .with_prefix(escape(part).into_owned()),
        );
        self.with_bars(|bars| bars.insert(part.to_owned(), bar));
    }

    fn advance(&self, part: &str, bytes: u64) {
        self.with_bars(|bars| {
            if let Some(bar) = bars.get(part) {
                bar.inc(bytes);
            }
        });
    }

    fn finish(&self, part: &str) {
        if let Some(bar) = self.with_bars(|bars| bars.remove(part)) {
            bar.finish();
        }
    }
}

impl Drop for Bars {
    /// A transfer that failed leaves bars unfinished: stop them where they are, so the
    /// error line that follows starts on a line of its own.
    fn drop(&mut self) {
        self.with_bars(|bars| {
            for (_, bar) in bars.drain() {
                bar.abandon();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_follows_its_part_from_start_to_finish() {
        let bars = Bars::new(ProgressDrawTarget::hidden());
        bars.start("module", 100);
        bars.start("asset a\u{1b}b", 5);
        bars.advance("module", 40);
        bars.advance("module", 60);
        bars.advance("unknown", 7);
        assert_eq!(bars.position("module"), Some((100, Some(100))));
        assert_eq!(bars.position("asset a\u{1b}b"), Some((0, Some(5))));
        bars.finish("module");
        assert_eq!(bars.position("module"), None);
        // Finishing a part twice, or one never started, is harmless.
        bars.finish("module");
        bars.finish("never");
    }
}
