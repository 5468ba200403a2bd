//! Progress displays, made in one place: [`Printer::transfer`] for a stream of bytes (a backup's upload, a
//! restore's download) and [`Printer::items`] for a known number of items (the tables of a VACUUM, the tables of a
//! REINDEX).
//!
//! Both degrade the same way. A bar (or spinner) on stderr is drawn only when [`Printer::bars`] says so: progress
//! allowed (`--no-progress` and `[output] progress` unset), not `-v` (debug lines would tear the bar), text logs
//! (a bar is not a JSON line) and stderr a terminal. Otherwise progress goes through `tracing` as an `info` line at
//! most every [`LOG_EVERY`] (what cron, systemd and Kubernetes logs show), so it follows `--log-format json` and
//! the `-q`/`RUST_LOG` filter like every other log line.
//!
//! This module only displays: it never decides what a command does, and it never writes to stdout.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::printer::{Printer, Verbosity};
use crate::units::format_bytes;

/// How often a line is logged without a bar.
pub(crate) const LOG_EVERY: Duration = Duration::from_secs(30);

/// How often a bar's spinner turns.
const TICK: Duration = Duration::from_millis(120);

impl Printer {
    /// Whether progress is drawn as bars on stderr (see the module docs); without, it is logged.
    pub fn bars(&self) -> bool {
        self.progress && !self.json_logs && self.verbosity <= Verbosity::Default && std::io::stderr().is_terminal()
    }

    /// Progress of a stream of bytes labelled `what` (`backup: stored`); [`Progress::finish`] ends it.
    ///
    /// Without a bar, it spawns a task on the current tokio runtime that logs the bytes so far.
    pub fn transfer(&self, what: &'static str) -> Progress {
        Progress::start(self.bars(), what)
    }

    /// Progress over `total` items labelled `what` (`vacuum analyze`); [`Items::finish`] ends it.
    pub fn items(&self, total: usize, what: &str) -> Items {
        Items::start(self.bars(), total, what)
    }
}

/// A bar with the given template, ticking.
fn bar(bar: ProgressBar, template: &str) -> ProgressBar {
    bar.set_style(ProgressStyle::with_template(template).expect("a valid template"));
    bar.enable_steady_tick(TICK);
    bar
}

/// A running byte-count display; [`Progress::finish`] (or drop) ends it.
pub struct Progress {
    bar: Option<ProgressBar>,
    bytes: Arc<AtomicU64>,
    logger: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// A spinner on stderr when `bar`, else periodic `info!` lines labelled `what`. Commands call
    /// [`Printer::transfer`], which decides `bar`.
    ///
    /// # Panics
    /// Never: the template is a constant.
    pub fn start(bar_wanted: bool, what: &'static str) -> Self {
        let bytes = Arc::new(AtomicU64::new(0));
        if bar_wanted {
            let spinner = bar(
                ProgressBar::new_spinner(),
                "{spinner} {msg} {binary_bytes}, {binary_bytes_per_sec}, {elapsed}",
            );
            spinner.set_message(what);
            return Self {
                bar: Some(spinner),
                bytes,
                logger: None,
            };
        }
        let counter = bytes.clone();
        let logger = tokio::spawn(async move {
            let start = Instant::now();
            let mut tick = tokio::time::interval(LOG_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                let done = counter.load(Ordering::Relaxed);
                let rate = done as f64 / start.elapsed().as_secs_f64().max(0.001);
                tracing::info!(
                    "{what} {}, {}/s, {:.0}s elapsed",
                    format_bytes(done as i64),
                    format_bytes(rate as i64),
                    start.elapsed().as_secs_f64()
                );
            }
        });
        Self {
            bar: None,
            bytes,
            logger: Some(logger),
        }
    }

    /// Adds `delta` bytes.
    pub fn set(&self, delta: u64) {
        self.bytes.fetch_add(delta, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.inc(delta);
        }
    }

    /// Ends the display.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if let Some(logger) = &self.logger {
            logger.abort();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Progress over a known number of items: a bar, or a log line at most every [`LOG_EVERY`] and one warning per
/// item that did not end well (a bar shows those in the report that follows).
pub struct Items {
    bar: Option<ProgressBar>,
    total: usize,
    /// Items finished, and when the last line was logged.
    state: Mutex<(usize, Instant)>,
}

impl Items {
    /// A bar on stderr when `bar_wanted`, else log lines. Commands call [`Printer::items`], which decides it.
    ///
    /// # Panics
    /// Never: the template is a constant.
    pub fn start(bar_wanted: bool, total: usize, what: &str) -> Self {
        let bar = bar_wanted.then(|| {
            let bar = bar(
                ProgressBar::new(total as u64),
                "{spinner} {prefix} {pos}/{len} {wide_msg} {elapsed}",
            );
            bar.set_prefix(what.to_string());
            bar
        });
        Self {
            bar,
            total,
            state: Mutex::new((0, Instant::now())),
        }
    }

    /// An item has started.
    pub fn start_one(&self, label: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(label.to_string());
        }
    }

    /// An item has finished; `problem` (`FAILED (lock timeout: …)`) is logged as a warning without a bar.
    pub fn finish_one(&self, label: &str, problem: Option<&str>) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.0 += 1;
        if let Some(problem) = problem {
            tracing::warn!("{label}: {problem}");
        }
        if state.1.elapsed() >= LOG_EVERY {
            tracing::info!("{} of {} done", state.0, self.total);
            state.1 = Instant::now();
        }
    }

    /// Ends the display.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printer::OutputFormat;

    fn printer(progress: bool, verbosity: Verbosity, json_logs: bool) -> Printer {
        Printer {
            format: OutputFormat::Table,
            verbosity,
            color: false,
            progress,
            json_logs,
        }
    }

    #[test]
    fn no_bars_with_no_progress_verbose_or_json_logs() {
        // Each of these alone turns bars into log lines, whatever stderr is.
        assert!(!printer(false, Verbosity::Default, false).bars(), "--no-progress");
        assert!(!printer(true, Verbosity::Verbose, false).bars(), "-v");
        assert!(!printer(true, Verbosity::Default, true).bars(), "--log-format json");
        // Under `cargo test` stderr is captured, not a terminal: log lines too.
        if !std::io::stderr().is_terminal() {
            assert!(!printer(true, Verbosity::Default, false).bars(), "not a terminal");
        }
    }

    #[test]
    fn items_without_a_bar_count_what_finished() {
        let items = printer(false, Verbosity::Default, false).items(3, "vacuum");
        items.start_one("public.a");
        items.finish_one("public.a", None);
        items.finish_one("public.b", Some("FAILED (lock timeout)"));
        assert_eq!(items.state.lock().expect("not poisoned").0, 2);
        items.finish();
    }

    #[tokio::test]
    async fn a_transfer_without_a_bar_counts_bytes_and_stops_its_logger() {
        let progress = printer(false, Verbosity::Default, false).transfer("backup: stored");
        progress.set(10);
        progress.set(5);
        assert_eq!(progress.bytes.load(Ordering::Relaxed), 15);
        assert!(progress.logger.is_some(), "a log task without a bar");
        progress.finish();
    }
}
