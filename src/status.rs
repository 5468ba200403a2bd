//! The status of one row of a report (a table vacuumed, an index rebuilt): [`Status`], and [`Tally`], which counts
//! them exhaustively.
//!
//! A leaf of the output layer, beside `printer`: it imports nothing of campctl. Reports hold a `Status`, never a
//! string, so that a new status cannot be compared against a misspelt literal or silently dropped by a `_ =>` arm:
//! adding a variant makes [`Tally::add`] fail to compile until it is counted somewhere.
//!
//! It must never decide an exit code: a command looks at its [`Tally`] and says which [`crate::exit::ExitStatus`]
//! the run ends with (see `exit.rs` for the rule for partial results).

use serde::Serialize;

/// What became of one row of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// `--dry-run`, or not run yet: the row is part of the plan.
    Planned,
    Done,
    /// Deliberately not done (e.g. `--skip-locked` found the lock taken): not a failure.
    Skipped,
    Failed,
}

impl Status {
    /// The name JSON uses (`planned`, `done`, `skipped`, `failed`), for tables.
    pub fn name(self) -> &'static str {
        match self {
            Self::Planned => "planned",
            Self::Done => "done",
            Self::Skipped => "skipped",
            Self::Failed => "failed",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How many rows ended in each [`Status`]. Serialises as `done`, `skipped`, `failed` (what the reports have always
/// written); `planned` is counted too but left out of JSON, where the dry-run flag says it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Tally {
    pub done: usize,
    pub skipped: usize,
    pub failed: usize,
    #[serde(skip)]
    pub planned: usize,
}

impl Tally {
    /// Counts `statuses`.
    pub(crate) fn of(statuses: impl IntoIterator<Item = Status>) -> Self {
        let mut tally = Self::default();
        for status in statuses {
            tally.add(status);
        }
        tally
    }

    /// Counts one more row. Exhaustive on purpose: no status goes uncounted.
    pub(crate) fn add(&mut self, status: Status) {
        match status {
            Status::Planned => self.planned += 1,
            Status::Done => self.done += 1,
            Status::Skipped => self.skipped += 1,
            Status::Failed => self.failed += 1,
        }
    }

    /// Every row counted (the tests check that every status is counted).
    #[cfg(test)]
    pub(crate) fn total(&self) -> usize {
        self.planned + self.done + self.skipped + self.failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_is_counted() {
        let all = [
            Status::Planned,
            Status::Done,
            Status::Skipped,
            Status::Failed,
            Status::Done,
        ];
        let tally = Tally::of(all);
        assert_eq!((tally.planned, tally.done, tally.skipped, tally.failed), (1, 2, 1, 1));
        assert_eq!(tally.total(), all.len(), "nothing is dropped");
    }

    #[test]
    fn statuses_serialise_as_their_names() {
        for status in [Status::Planned, Status::Done, Status::Skipped, Status::Failed] {
            assert_eq!(
                serde_json::to_value(status).expect("serialises"),
                serde_json::Value::from(status.name())
            );
        }
        let json = serde_json::to_value(Tally::of([Status::Done])).expect("serialises");
        assert_eq!(json, serde_json::json!({"done": 1, "skipped": 0, "failed": 0}));
    }
}
