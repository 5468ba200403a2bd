//! The report of `campctl vacuum`: one [`TableResult`] per chosen table and the [`VacuumReport`] around them, with
//! the plan view (`--dry-run`) and the result view. The figures every maintenance report shares (and the exit
//! status they lead to) are in `maintenance/report.rs`.
//!
//! It formats; it never queries the server or decides what to vacuum.

use serde::Serialize;

use super::select::{Chosen, TableState, dead_percent};
use super::settings::VacuumSettings;
use crate::commands::maintenance::report::{Row, Run, capitalised, count};
use crate::printer::{Cell, Report, Table};
use crate::status::{Status, Tally};
use crate::units::format_bytes;

/// One table of the plan and its result.
#[derive(Debug, Serialize)]
pub(super) struct TableResult {
    pub schema: String,
    pub table: String,
    /// Why it was chosen.
    pub reason: String,
    pub statement: String,
    /// `planned` (dry run), `done`, `skipped` (lock not available with --skip-locked) or `failed`.
    pub status: Status,
    pub detail: Option<String>,
    pub before: TableState,
    pub after: Option<TableState>,
    pub seconds: f64,
}

/// What `campctl vacuum` did (or, with --dry-run, would do).
#[derive(Debug, Serialize)]
pub(super) struct VacuumReport {
    /// `database`, `dry_run`, `jobs`, `not_selected`, `done`, `skipped`, `failed`, `seconds`.
    #[serde(flatten)]
    pub run: Run,
    /// `vacuum`, `vacuum full`, `analyze`, `analyze in stages`.
    pub mode: String,
    pub tables: Vec<TableResult>,
    pub dead_tuples_before: i64,
    /// `null` after VACUUM FULL without ANALYZE (the statistics are not updated by it).
    pub dead_tuples_after: Option<i64>,
    pub size_bytes_before: i64,
    pub size_bytes_after: i64,
}

impl Report for VacuumReport {
    fn tables(&self) -> Vec<Table> {
        if self.run.dry_run {
            let mut plan = Table::new(
                format!(
                    "Plan: {} of {} in `{}` (dry run)",
                    self.mode,
                    count(self.tables.len(), "table", "tables"),
                    self.run.database
                ),
                &[
                    "schema",
                    "table",
                    "dead tuples",
                    "dead percent",
                    "size",
                    "xid age",
                    "reason",
                    "statement",
                ],
            )
            .empty_message("No table matches the scope and thresholds");
            for t in &self.tables {
                plan.row(vec![
                    t.schema.as_str().into(),
                    table_name(t).into(),
                    Cell::opt(t.before.dead_tuples),
                    Cell::Percent(dead_percent(&t.before)),
                    t.before.size_bytes.map_or(Cell::Unknown, Cell::Bytes),
                    Cell::opt(t.before.xid_age),
                    Cell::LongText(t.reason.clone()),
                    Cell::LongText(t.statement.clone()),
                ]);
            }
            if self.run.not_selected > 0 {
                plan.notes.push(format!(
                    "{} tables in scope are below the thresholds",
                    self.run.not_selected
                ));
            }
            return vec![plan];
        }
        let mut table = Table::new(
            format!(
                "{} of {} in `{}`",
                capitalised(&self.mode),
                count(self.tables.len(), "table", "tables"),
                self.run.database
            ),
            &[
                "schema",
                "table",
                "status",
                "dead before",
                "dead after",
                "live after",
                "size before",
                "size after",
                "time",
                "detail",
            ],
        )
        .empty_message("No table matches the scope and thresholds");
        for t in &self.tables {
            let after = t.after.unwrap_or_default();
            table.row(vec![
                t.schema.as_str().into(),
                table_name(t).into(),
                t.status.into(),
                Cell::opt(t.before.dead_tuples),
                t.after
                    .map_or(Cell::Null, |_| after.dead_tuples.map_or(Cell::Unknown, Cell::Int)),
                t.after
                    .map_or(Cell::Null, |_| after.live_tuples.map_or(Cell::Unknown, Cell::Int)),
                t.before.size_bytes.map_or(Cell::Unknown, Cell::Bytes),
                t.after
                    .map_or(Cell::Null, |_| after.size_bytes.map_or(Cell::Unknown, Cell::Bytes)),
                Cell::Seconds(t.seconds),
                Cell::LongText(t.detail.clone().unwrap_or_default()),
            ]);
        }
        table.notes.push(format!(
            "{}; dead tuples {} → {}; size {} → {}; {}",
            self.run.tally_note(),
            self.dead_tuples_before,
            self.dead_tuples_after.map_or_else(
                || "unknown (VACUUM FULL without ANALYZE)".to_string(),
                |d| d.to_string()
            ),
            format_bytes(self.size_bytes_before),
            format_bytes(self.size_bytes_after),
            self.run.time_note(),
        ));
        if self.run.not_selected > 0 {
            table.notes.push(format!(
                "{} tables in scope were below the thresholds",
                self.run.not_selected
            ));
        }
        vec![table]
    }
}

/// The table's name, with the partition count of a partitioned table: `orders (12 partitions)`.
fn table_name(result: &TableResult) -> String {
    match result.before.partitions {
        Some(1) => format!("{} (1 partition)", result.table),
        Some(count) => format!("{} ({count} partitions)", result.table),
        None => result.table.clone(),
    }
}

impl Row for TableResult {
    fn status(&self) -> Status {
        self.status
    }
    fn label(&self) -> String {
        format!("{}.{}", self.schema, self.table)
    }
    fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }
}

impl VacuumReport {
    /// The plan: every chosen table `planned`, the figures before.
    pub(super) fn plan(settings: &VacuumSettings, chosen: &[Chosen], not_selected: usize) -> Self {
        Self {
            run: Run {
                database: settings.database.clone(),
                dry_run: settings.dry_run,
                jobs: settings.jobs,
                not_selected,
                tally: Tally::default(),
                seconds: 0.0,
            },
            mode: settings.mode.name().to_string(),
            tables: chosen
                .iter()
                .map(|(relation, state, why)| TableResult {
                    schema: relation.schema.clone(),
                    table: relation.name.clone(),
                    reason: why.clone(),
                    statement: settings.mode.statement(relation),
                    status: Status::Planned,
                    detail: None,
                    before: *state,
                    after: None,
                    seconds: 0.0,
                })
                .collect(),
            dead_tuples_before: chosen.iter().filter_map(|(_, s, _)| s.dead_tuples).sum(),
            dead_tuples_after: None,
            size_bytes_before: chosen.iter().filter_map(|(_, s, _)| s.size_bytes).sum(),
            size_bytes_after: 0,
        }
    }
}
