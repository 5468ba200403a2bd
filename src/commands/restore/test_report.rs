//! The report of `campctl test-restore`: one timed result per check and the whole run, as a table, JSON
//! ([`Report`]) or JUnit XML (`junit.rs`).
//!
//! It holds data only, so that `test_restore.rs`, which runs the checks, and `junit.rs`, which writes them for CI,
//! both import it and neither imports the other. It must never run a check or touch a database.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::printer::{Cell, Report, Table};

/// The result of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum CheckOutcome {
    Pass,
    Fail,
    /// Not run because an earlier step failed.
    Skip,
}

/// One check of a test-restore.
#[derive(Debug, Clone, Serialize)]
pub(super) struct CheckResult {
    pub name: String,
    pub outcome: CheckOutcome,
    pub seconds: f64,
    pub detail: String,
}

/// What a test-restore found.
#[derive(Debug, Serialize)]
pub(super) struct TestRestoreReport {
    pub backup: String,
    pub origin: String,
    /// The database the backup was taken of.
    pub database: String,
    /// `host:port` of the server restored on.
    pub server: String,
    pub scratch_database: String,
    /// Whether the scratch database was kept (`--keep`).
    pub kept: bool,
    pub passed: bool,
    pub started_at: DateTime<Utc>,
    pub duration_seconds: f64,
    /// From the start of the download to a restored database: the measured recovery time.
    pub restore_seconds: Option<f64>,
    /// The store whose manifest of this backup now records this result (the copy that was tested).
    pub recorded_in: Vec<String>,
    pub host: String,
    pub checks: Vec<CheckResult>,
}

impl Report for TestRestoreReport {
    fn tables(&self) -> Vec<Table> {
        let title = format!(
            "Test restore of `{}` into `{}`: {}",
            self.backup,
            self.scratch_database,
            if self.passed { "PASSED" } else { "FAILED" }
        );
        let mut table = Table::new(title, &["check", "result", "time", "detail"]);
        for check in &self.checks {
            table.row(vec![
                check.name.as_str().into(),
                match check.outcome {
                    CheckOutcome::Pass => "pass".into(),
                    CheckOutcome::Fail => "FAIL".into(),
                    CheckOutcome::Skip => "skipped".into(),
                },
                Cell::Seconds(check.seconds),
                Cell::LongText(check.detail.clone()),
            ]);
        }
        if let Some(seconds) = self.restore_seconds {
            table.notes.push(format!(
                "Recovery time (download to restored database): {}",
                crate::units::format_seconds(seconds)
            ));
        }
        if self.kept {
            table.notes.push(format!(
                "The scratch database `{}` was kept (--keep)",
                self.scratch_database
            ));
        }
        vec![table]
    }
}

/// What `test-restore --dry-run` would do: the JSON of [`crate::printer::Printer::plan`] (docs/output.md,
/// "Dry-run plans").
#[derive(Debug, Serialize)]
pub(super) struct TestRestorePlan {
    pub backup: String,
    pub origin: String,
    pub object: String,
    /// Whether a manifest is there to check the download's SHA-256 and size against.
    pub checksum_verified: bool,
    /// The database the backup was taken of.
    pub database: String,
    /// `host:port` of the server restored on.
    pub server: String,
    pub scratch_database: String,
    pub jobs: u32,
    pub verify_first: bool,
    pub no_owner: bool,
    pub no_acl: bool,
    pub no_tablespaces: bool,
    /// `--keep`: the scratch database would be kept.
    pub keep: bool,
    /// Whether the result would be recorded in the backup's manifest (not with `--no-record`).
    pub record: bool,
    /// `--junit PATH`, or `null`.
    pub junit: Option<String>,
    /// The checks, by the names the report gives them (`sql <name>` for each of `[[test_restore.checks]]`).
    pub checks: Vec<String>,
    /// `[[test_restore.checks]]` as configured: `name`, `sql`, `expect`.
    pub sql_checks: Vec<crate::config_file::SqlCheck>,
}

impl TestRestoreReport {
    pub(super) fn check(
        &mut self,
        name: impl Into<String>,
        outcome: CheckOutcome,
        seconds: f64,
        detail: impl Into<String>,
    ) {
        self.checks.push(CheckResult {
            name: name.into(),
            outcome,
            seconds,
            detail: detail.into(),
        });
    }
}
