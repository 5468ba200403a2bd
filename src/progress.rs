//! Progress of a long transfer: a spinner with bytes, rate and elapsed time on a terminal, a log line every
//! 30 seconds otherwise (what cron, systemd and Kubernetes logs show).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::units::format_bytes;

/// How often a line is logged without a terminal.
const LOG_EVERY: Duration = Duration::from_secs(30);

/// A running progress display; [`Progress::finish`] ends it.
pub struct Progress {
    bar: Option<ProgressBar>,
    bytes: Arc<AtomicU64>,
    logger: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// A spinner on stderr when `interactive`, else periodic `info!` lines labelled `what`.
    ///
    /// # Panics
    /// Never: the template is a constant.
    pub fn start(interactive: bool, what: &'static str) -> Self {
        let bytes = Arc::new(AtomicU64::new(0));
        if interactive {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} {binary_bytes}, {binary_bytes_per_sec}, {elapsed}")
                    .expect("a valid template"),
            );
            bar.set_message(what);
            bar.enable_steady_tick(Duration::from_millis(120));
            return Self {
                bar: Some(bar),
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
