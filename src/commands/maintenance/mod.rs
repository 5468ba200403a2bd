//! `campctl vacuum` and `campctl reindex`: database maintenance with vacuumdb's and reindexdb's options, selection
//! by measured bloat, and a before/after report. [`scope`] resolves the relations, [`jobs`] runs statements on
//! parallel sessions (cancelled on the server on Ctrl-C), [`report`] holds what both reports share (the run's
//! figures, the tally of row statuses, the exit status).
//!
//! Each command is split the same way: `settings.rs` (flags checked before any connection), `select.rs` (what to
//! work on), `run.rs` (the statements), `report.rs` (rows and views), and a `mod.rs` that strings them together.

pub(crate) mod jobs;
pub(crate) mod reindex;
pub(crate) mod report;
pub(crate) mod scope;
pub(crate) mod vacuum;

/// A ratio between 0 and 1 (`--min-dead-ratio 0.2`, `--min-bloat-ratio 0.3`).
fn parse_ratio(text: &str) -> Result<f64, String> {
    let value: f64 = text.parse().map_err(|_| format!("`{text}` is not a number"))?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("`{text}` is not between 0 and 1 (0.2 means 20%)"))
    }
}
