//! The report of `campctl stats queries --terminate` / `--terminate-idle`: each planned session and its
//! [`Outcome`], as a table or JSON.
//!
//! Data and wording only, so that `terminate.rs` stays about planning and ending sessions. It must never query or
//! signal a session, and [`Outcome::failed`] stays exhaustive: a new outcome must be judged, never defaulted.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::printer::{Cell, Report, Table};
use crate::units::format_seconds;

/// What happened to one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Outcome {
    /// `--dry-run`: would be ended.
    WouldTerminate,
    Terminated,
    /// Signalled, but still there after the wait (it exits at its next interrupt check).
    StillRunning,
    /// Ended or reconnected (another `backend_start`) before campctl got to it.
    Gone,
    /// `--terminate-idle`: became active again before campctl got to it; left alone.
    NotIdle,
    /// This role may not end it (it needs the session's role or `pg_signal_backend`; superusers' only a superuser).
    Denied,
    Failed,
    /// `--terminate`: no session has this PID.
    NotFound,
    /// `--terminate`: campctl's own session; never ended.
    OwnSession,
}

impl Outcome {
    /// Whether the attempt failed (the run then exits 3). Exhaustive on purpose: a new outcome must be judged.
    pub(super) fn failed(self) -> bool {
        match self {
            Self::Denied | Self::Failed => true,
            Self::WouldTerminate
            | Self::Terminated
            | Self::StillRunning
            | Self::Gone
            | Self::NotIdle
            | Self::NotFound
            | Self::OwnSession => false,
        }
    }

    /// The JSON name, for the table view.
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::WouldTerminate => "would_terminate",
            Self::Terminated => "terminated",
            Self::StillRunning => "still_running",
            Self::Gone => "gone",
            Self::NotIdle => "not_idle",
            Self::Denied => "denied",
            Self::Failed => "failed",
            Self::NotFound => "not_found",
            Self::OwnSession => "own_session",
        }
    }
}

/// One session of the plan and what became of it.
#[derive(Debug, Serialize)]
pub(crate) struct TerminateRow {
    pub pid: i32,
    pub database: Option<String>,
    pub user: Option<String>,
    pub application: Option<String>,
    pub backend_type: Option<String>,
    /// `null` when not visible to this role.
    pub state: Option<String>,
    /// Seconds in the current state.
    pub state_seconds: Option<f64>,
    pub query: Option<String>,
    pub outcome: Outcome,
    /// The server's message for `denied` and `failed`.
    pub message: Option<String>,
    #[serde(skip)]
    pub(super) backend_start: Option<DateTime<Utc>>,
}

/// The report of `--terminate` / `--terminate-idle`.
#[derive(Debug, Serialize)]
pub(crate) struct TerminateReport {
    /// `pids` (`--terminate`) or `idle` (`--terminate-idle`).
    pub mode: &'static str,
    /// `--terminate-idle` in seconds.
    pub idle_seconds: Option<f64>,
    pub dry_run: bool,
    /// Sessions ended.
    pub terminated: i64,
    pub sessions: Vec<TerminateRow>,
}

impl Report for TerminateReport {
    fn tables(&self) -> Vec<Table> {
        let title = match (self.dry_run, self.idle_seconds) {
            (true, _) => "Sessions that would be terminated (dry run)".to_string(),
            (false, Some(idle)) => format!(
                "Sessions idle for more than {}: {} terminated",
                format_seconds(idle),
                self.terminated
            ),
            (false, None) => format!("Sessions: {} terminated", self.terminated),
        };
        let mut table = Table::new(
            title,
            &["pid", "database", "user", "state", "state_seconds", "outcome", "query"],
        )
        .empty_message("No session to terminate");
        for row in &self.sessions {
            let visible = row.outcome != Outcome::NotFound;
            let hidden = if visible { Cell::Unknown } else { Cell::Null };
            table.row(vec![
                row.pid.into(),
                Cell::opt(row.database.clone()),
                Cell::opt(row.user.clone()),
                row.state.clone().map_or_else(|| hidden.clone(), Into::into),
                row.state_seconds.map_or_else(|| hidden.clone(), Cell::Seconds),
                row.outcome.name().into(),
                row.query.clone().map_or(hidden, Cell::LongText),
            ]);
        }
        for row in self.sessions.iter().filter(|row| row.message.is_some()) {
            table.notes.push(format!(
                "PID {}: {}",
                row.pid,
                row.message.as_deref().unwrap_or_default()
            ));
        }
        vec![table]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_names_match_json() {
        for outcome in [
            Outcome::WouldTerminate,
            Outcome::Terminated,
            Outcome::StillRunning,
            Outcome::Gone,
            Outcome::NotIdle,
            Outcome::Denied,
            Outcome::Failed,
            Outcome::NotFound,
            Outcome::OwnSession,
        ] {
            assert_eq!(serde_json::to_value(outcome).expect("serialize"), outcome.name());
        }
    }
}
