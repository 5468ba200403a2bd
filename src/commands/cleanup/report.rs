//! `campctl cleanup`'s report: the retention run's plan or result (`commands/retention/report.rs`: `stores` and
//! `backups`), with `--logs`, the log files that go (`logs`), and with `--snapshots`, every blob snapshot kept or
//! deleted (`snapshots`). Table, JSON and CSV from this one struct.

use std::time::Duration;

use serde::Serialize;

use super::databases::DatabaseRow;
use super::docker::DockerResult;
use super::logs::LogRow;
use super::snapshots::SnapshotRow;
use crate::commands::maintenance::vacuum::VacuumOutcome;
use crate::commands::retention::report::CleanupReport;
use crate::printer::{Cell, Report, Table};
use crate::units::HumanDuration;

#[derive(Debug, Serialize)]
pub(crate) struct CommandReport {
    /// `true`: a plan, nothing was deleted.
    pub dry_run: bool,
    /// The backups part (`--backups`); absent when not selected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stores: Option<Vec<crate::commands::retention::report::StoreTotals>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backups: Option<Vec<crate::commands::retention::plan::PlanRow>>,
    /// The log files that go (`--logs`); absent when not selected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs: Option<Vec<LogRow>>,
    /// The leftover restore databases (`--databases`); absent when not selected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub databases: Option<Vec<DatabaseRow>>,
    /// `campctl vacuum`'s report (`--vacuum`); absent when not selected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vacuum: Option<VacuumOutcome>,
    /// What `--docker` did; absent when not selected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker: Option<DockerResult>,
    /// Every blob snapshot of the configured containers, kept or deleted (`--snapshots`); absent when not part of
    /// the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshots: Option<Vec<SnapshotRow>>,
}

impl CommandReport {
    pub(crate) fn new(dry_run: bool, backups: Option<CleanupReport>, logs: Option<Vec<LogRow>>) -> Self {
        let (stores, backups) = match backups {
            Some(report) => (Some(report.stores), Some(report.backups)),
            None => (None, None),
        };
        Self {
            dry_run,
            stores,
            backups,
            logs,
            docker: None,
            databases: None,
            vacuum: None,
            snapshots: None,
        }
    }

    pub(crate) fn with_snapshots(mut self, snapshots: Option<Vec<SnapshotRow>>) -> Self {
        self.snapshots = snapshots;
        self
    }

    pub(crate) fn with_vacuum(mut self, vacuum: Option<VacuumOutcome>) -> Self {
        self.vacuum = vacuum;
        self
    }

    /// Exit 3 when some tables of `--vacuum` failed (named on stderr), else `status`.
    pub(crate) fn conclude_vacuum(
        &self,
        printer: &crate::printer::Printer,
        status: crate::exit::ExitStatus,
    ) -> crate::exit::ExitStatus {
        match self.vacuum.as_ref().map(|vacuum| vacuum.conclude(printer)) {
            Some(failed) if failed != crate::exit::ExitStatus::Success => failed,
            _ => status,
        }
    }

    pub(crate) fn with_databases(mut self, databases: Option<Vec<DatabaseRow>>) -> Self {
        self.databases = databases;
        self
    }

    pub(crate) fn with_docker(mut self, docker: Option<DockerResult>) -> Self {
        self.docker = docker;
        self
    }
}

impl Report for CommandReport {
    fn tables(&self) -> Vec<Table> {
        let mut tables = Vec::new();
        if let (Some(stores), Some(backups)) = (&self.stores, &self.backups) {
            // The retention report's own tables, rebuilt from its parts.
            let report = CleanupReport {
                dry_run: self.dry_run,
                stores: stores.clone(),
                backups: backups.clone(),
            };
            tables.extend(report.tables());
        }
        if let Some(logs) = &self.logs {
            let mut table = Table::new(
                if self.dry_run {
                    "Log files that would go"
                } else {
                    "Log files"
                },
                &["path", "size", "modified", "result"],
            )
            .empty_message("No log file is older than `max_age`");
            for row in logs {
                table.row(vec![
                    row.path.as_str().into(),
                    Cell::Bytes(row.size_bytes as i64),
                    Cell::Text(row.modified.format("%Y-%m-%d %H:%M:%SZ").to_string()),
                    Cell::opt(row.result.clone()),
                ]);
            }
            tables.push(table);
        }
        if let Some(databases) = &self.databases {
            let mut table = Table::new(
                "Leftover restore databases",
                &["name", "kind", "created", "action", "reason", "result"],
            )
            .empty_message("No leftover restore database");
            for row in databases {
                table.row(vec![
                    row.name.as_str().into(),
                    row.kind.into(),
                    Cell::Text(row.created.format("%Y-%m-%d %H:%M:%SZ").to_string()),
                    row.action.into(),
                    row.reason.as_str().into(),
                    Cell::opt(row.result.clone()),
                ]);
            }
            tables.push(table);
        }
        if let Some(snapshots) = &self.snapshots {
            let mut table = Table::new(
                if self.dry_run {
                    "Blob snapshots (dry run: nothing deleted)"
                } else {
                    "Blob snapshots"
                },
                &["container", "blob", "snapshot", "age", "action", "reason", "result"],
            )
            .empty_message("No blob snapshot in the configured containers");
            for row in snapshots {
                table.row(vec![
                    row.container.as_str().into(),
                    row.blob.as_str().into(),
                    row.snapshot.as_str().into(),
                    Cell::Text(HumanDuration(Duration::from_secs(row.age_seconds)).to_string()),
                    row.action.into(),
                    row.reason.as_str().into(),
                    Cell::opt(row.result.clone()),
                ]);
            }
            tables.push(table);
        }
        if let Some(vacuum) = &self.vacuum {
            tables.extend(vacuum.tables());
        }
        if let Some(docker) = &self.docker {
            let mut table = Table::new("Docker images", &["status", "detail"]);
            table.row(vec![docker.status.into(), docker.detail.as_str().into()]);
            tables.push(table);
        }
        tables
    }
}
