//! The maintenance report shared by `vacuum` and `reindex`: the figures every run has ([`Run`]: database, plan or
//! result, jobs, what the thresholds left out, the [`Tally`] of row statuses, time), the [`Row`] view of a report
//! row, and [`conclude`], which turns the rows into the exit status (0, or 3 through [`Printer::partial`]).
//!
//! It holds no SQL and never prints a report itself: each command owns its rows and its table view
//! (`vacuum/report.rs`, `reindex/report.rs`), and only the parts both must say the same way live here.

use serde::Serialize;

use super::jobs::Outcome;
use crate::exit::ExitStatus;
use crate::printer::Printer;
use crate::status::{Status, Tally};
use crate::units::format_seconds;

/// What every maintenance report says, flattened into its JSON (`database`, `dry_run`, `jobs`, `not_selected`,
/// `done`, `skipped`, `failed`, `seconds`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Run {
    pub database: String,
    #[expect(
        clippy::struct_field_names,
        reason = "the report's JSON key, as in every other report"
    )]
    pub dry_run: bool,
    /// Sessions used (fewer than `--jobs` when the server has fewer free connections).
    pub jobs: usize,
    /// Relations in scope that the thresholds left out.
    pub not_selected: usize,
    #[serde(flatten)]
    pub tally: Tally,
    pub seconds: f64,
}

impl Run {
    /// `N done, N skipped, N failed`.
    pub(crate) fn tally_note(&self) -> String {
        format!(
            "{} done, {} skipped, {} failed",
            self.tally.done, self.tally.skipped, self.tally.failed
        )
    }

    /// `3m 05s with 2 jobs`.
    pub(crate) fn time_note(&self) -> String {
        format!(
            "{} with {} job{}",
            format_seconds(self.seconds),
            self.jobs,
            if self.jobs == 1 { "" } else { "s" }
        )
    }
}

/// One row of a maintenance report, as [`conclude`] needs it.
pub(crate) trait Row {
    fn status(&self) -> Status;
    /// `schema.name`, for messages.
    fn label(&self) -> String;
    /// The server's message of a skip or failure.
    fn detail(&self) -> Option<&str>;
}

/// The status a report writes for how a work item ended.
pub(crate) fn status_of(outcome: &Outcome) -> Status {
    match outcome {
        Outcome::Done => Status::Done,
        Outcome::Skipped(_) => Status::Skipped,
        Outcome::Failed(..) => Status::Failed,
    }
}

/// The tally of `rows`.
pub(crate) fn tally<R: Row>(rows: &[R]) -> Tally {
    Tally::of(rows.iter().map(Row::status))
}

/// After the report is printed: warns about skipped rows, and ends with exit 3 when some failed (`N of M <things>
/// failed: a (why), b (why)` and `hint`), else with success.
pub(crate) fn conclude<R: Row>(printer: &Printer, rows: &[R], things: &str, hint: &str) -> ExitStatus {
    let skipped: Vec<String> = rows
        .iter()
        .filter(|row| row.status() == Status::Skipped)
        .map(Row::label)
        .collect();
    if !skipped.is_empty() {
        printer.warn(&format!("skipped (lock not available): {}", skipped.join(", ")));
    }
    let failed: Vec<String> = rows
        .iter()
        .filter(|row| row.status() == Status::Failed)
        .map(|row| format!("{} ({})", row.label(), row.detail().unwrap_or("failed")))
        .collect();
    if failed.is_empty() {
        return ExitStatus::Success;
    }
    printer.partial(
        &format!(
            "{} of {} {things} failed: {}",
            failed.len(),
            rows.len(),
            failed.join(", ")
        ),
        hint,
    )
}

/// `1 table`, `2 tables`; `1 index`, `2 indexes`.
pub(crate) fn count(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// `Vacuum analyze` from `vacuum analyze`.
pub(crate) fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake(Status);

    impl Row for Fake {
        fn status(&self) -> Status {
            self.0
        }
        fn label(&self) -> String {
            "public.t".into()
        }
        fn detail(&self) -> Option<&str> {
            None
        }
    }

    #[test]
    fn outcomes_map_to_statuses_and_are_all_counted() {
        assert_eq!(status_of(&Outcome::Done), Status::Done);
        assert_eq!(status_of(&Outcome::Skipped("lock".into())), Status::Skipped);
        assert_eq!(status_of(&Outcome::Failed("x".into(), None)), Status::Failed);
        let rows = [
            Fake(Status::Done),
            Fake(Status::Failed),
            Fake(Status::Skipped),
            Fake(Status::Planned),
        ];
        let tally = tally(&rows);
        assert_eq!((tally.done, tally.skipped, tally.failed, tally.planned), (1, 1, 1, 1));
    }

    #[test]
    fn a_run_writes_its_figures_flat() {
        let run = Run {
            database: "app".into(),
            dry_run: false,
            jobs: 2,
            not_selected: 0,
            tally: Tally::of([Status::Done]),
            seconds: 1.0,
        };
        let json = serde_json::to_value(&run).expect("serialises");
        assert_eq!(json["done"], 1);
        assert_eq!(json["failed"], 0);
        assert_eq!(run.tally_note(), "1 done, 0 skipped, 0 failed");
        assert!(run.time_note().ends_with("with 2 jobs"), "{}", run.time_note());
        assert_eq!(count(1, "index", "indexes"), "1 index");
        assert_eq!(capitalised("vacuum full"), "Vacuum full");
    }
}
