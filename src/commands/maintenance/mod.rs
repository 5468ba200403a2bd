//! `campctl vacuum` and `campctl reindex`: database maintenance with vacuumdb's and reindexdb's options, selection
//! by measured bloat, and a before/after report. [`scope`] resolves the relations, [`jobs`] runs statements on
//! parallel sessions (cancelled on the server on Ctrl-C).

pub mod jobs;
pub mod reindex;
pub mod scope;
pub mod vacuum;

/// A ratio between 0 and 1 (`--min-dead-ratio 0.2`, `--min-bloat-ratio 0.3`).
fn parse_ratio(text: &str) -> Result<f64, String> {
    let value: f64 = text.parse().map_err(|_| format!("`{text}` is not a number"))?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("`{text}` is not between 0 and 1 (0.2 means 20%)"))
    }
}

/// Exit 3 after a report: `N of M <things> failed: a (why), b (why)`.
fn partial_failure(things: &str, failed: &[String], total: usize, hint: &str) -> anyhow::Error {
    crate::exit::UserError::new(
        crate::exit::ExitStatus::Partial,
        format!("{} of {total} {things} failed: {}", failed.len(), failed.join(", ")),
    )
    .with_hint(hint)
    .into()
}

/// `(done, skipped, failed)` of report statuses.
fn tally<'a>(statuses: impl Iterator<Item = &'a str>) -> (usize, usize, usize) {
    statuses.fold((0, 0, 0), |(done, skipped, failed), status| match status {
        "done" => (done + 1, skipped, failed),
        "skipped" => (done, skipped + 1, failed),
        "failed" => (done, skipped, failed + 1),
        _ => (done, skipped, failed),
    })
}
