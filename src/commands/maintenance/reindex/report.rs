//! The report of `campctl reindex`: one [`IndexResult`] per chosen index and the [`ReindexReport`] around them,
//! with the plan view (`--dry-run`) and the result view. The figures every maintenance report shares (and the exit
//! status they lead to) are in `maintenance/report.rs`.
//!
//! It formats; it never queries the server or decides what to rebuild.

use serde::Serialize;

use super::measure::Bloat;
use super::select::{Action, Chosen, LeftOut, count_of, statement};
use super::settings::ReindexSettings;
use crate::commands::maintenance::report::{Row, Run, capitalised};
use crate::printer::{Cell, Report, Table};
use crate::status::{Status, Tally};
use crate::units::format_bytes;

/// One index of the plan and its result.
#[derive(Debug, Serialize)]
pub(super) struct IndexResult {
    pub schema: String,
    pub table: String,
    pub index: String,
    pub action: Action,
    /// Why it was chosen.
    pub reason: String,
    pub statement: String,
    /// `planned` (dry run), `done`, `skipped` or `failed`.
    pub status: Status,
    pub detail: Option<String>,
    /// `null` while another session holds an exclusive lock on the index or its table.
    pub size_before_bytes: Option<i64>,
    /// `0` for a dropped index; `null` when unknown.
    pub size_after_bytes: Option<i64>,
    pub reclaimed_bytes: Option<i64>,
    pub bloat_before: Bloat,
    pub seconds: f64,
    /// The rebuild failed on duplicate keys of this unique index: a query that lists them (remove them first).
    pub duplicates_query: Option<String>,
}

/// What `campctl reindex` did (or, with --dry-run, would do).
#[derive(Debug, Serialize)]
pub(super) struct ReindexReport {
    /// `database`, `dry_run`, `jobs`, `not_selected` (indexes in scope left out; `notes` says why), `done`,
    /// `skipped`, `failed`, `seconds`.
    #[serde(flatten)]
    pub run: Run,
    pub concurrently: bool,
    /// `--invalid`: only invalid indexes.
    pub invalid_only: bool,
    pub indexes: Vec<IndexResult>,
    pub notes: Vec<String>,
    pub size_bytes_before: i64,
    pub size_bytes_after: i64,
    pub reclaimed_bytes: i64,
    /// Invalid `_ccnew`/`_ccold` indexes that failed rebuilds left behind (`campctl reindex --invalid` drops them).
    pub leftovers: Vec<String>,
}

fn bloat_cells(bloat: &Bloat) -> [Cell; 2] {
    let source = match &bloat.note {
        Some(note) => format!("{} ({note})", bloat.source.name()),
        None => bloat.source.name().to_string(),
    };
    [
        bloat.ratio.map_or(Cell::Unknown, |r| Cell::Percent(r * 100.0)),
        Cell::LongText(source),
    ]
}

impl Report for ReindexReport {
    fn tables(&self) -> Vec<Table> {
        let how = if self.concurrently {
            "reindex concurrently"
        } else {
            "reindex"
        };
        if self.run.dry_run {
            let mut plan = Table::new(
                format!(
                    "Plan: {how}, {} in `{}` (dry run)",
                    count_of(self.indexes.len()),
                    self.run.database
                ),
                &[
                    "schema",
                    "table",
                    "index",
                    "size",
                    "bloat",
                    "bloat_source",
                    "reason",
                    "statement",
                ],
            )
            .empty_message("No index matches the scope and thresholds");
            for i in &self.indexes {
                let [bloat, source] = bloat_cells(&i.bloat_before);
                plan.row(vec![
                    i.schema.as_str().into(),
                    i.table.as_str().into(),
                    i.index.as_str().into(),
                    i.size_before_bytes.map_or(Cell::Unknown, Cell::Bytes),
                    bloat,
                    source,
                    Cell::LongText(i.reason.clone()),
                    Cell::LongText(i.statement.clone()),
                ]);
            }
            plan.notes.clone_from(&self.notes);
            return vec![plan];
        }
        let mut table = Table::new(
            format!(
                "{} of {} in `{}`",
                capitalised(how),
                count_of(self.indexes.len()),
                self.run.database
            ),
            &[
                "schema",
                "table",
                "index",
                "action",
                "status",
                "size_before",
                "size_after",
                "reclaimed",
                "bloat_before",
                "bloat_source",
                "time",
                "detail",
            ],
        )
        .empty_message("No index matches the scope and thresholds");
        for i in &self.indexes {
            let [bloat, source] = bloat_cells(&i.bloat_before);
            table.row(vec![
                i.schema.as_str().into(),
                i.table.as_str().into(),
                i.index.as_str().into(),
                match i.action {
                    Action::Reindex => "reindex",
                    Action::Drop => "drop",
                }
                .into(),
                i.status.into(),
                i.size_before_bytes.map_or(Cell::Unknown, Cell::Bytes),
                i.size_after_bytes.map_or(Cell::Unknown, Cell::Bytes),
                i.reclaimed_bytes.map_or(Cell::Unknown, Cell::Bytes),
                bloat,
                source,
                Cell::Seconds(i.seconds),
                Cell::LongText(i.detail.clone().unwrap_or_default()),
            ]);
        }
        table.notes.push(format!(
            "{}; size {} → {}, {} reclaimed; {}",
            self.run.tally_note(),
            format_bytes(self.size_bytes_before),
            format_bytes(self.size_bytes_after),
            format_bytes(self.reclaimed_bytes),
            self.run.time_note(),
        ));
        table.notes.extend(self.notes.iter().cloned());
        if !self.leftovers.is_empty() {
            table.notes.push(format!(
                "Failed rebuilds left invalid indexes behind ({}): `campctl reindex --invalid` removes them",
                self.leftovers.join(", ")
            ));
        }
        vec![table]
    }
}

impl Row for IndexResult {
    fn status(&self) -> Status {
        self.status
    }
    fn label(&self) -> String {
        format!("{}.{}", self.schema, self.index)
    }
    fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }
}

impl ReindexReport {
    /// The plan: every chosen index `planned`, with its size and bloat before; `left_out` becomes the notes.
    pub(super) fn plan(settings: &ReindexSettings, chosen: &[Chosen], left_out: &[LeftOut]) -> Self {
        let concurrently = settings.selection.concurrently;
        Self {
            run: Run {
                database: settings.database.clone(),
                dry_run: settings.dry_run,
                jobs: settings.jobs,
                not_selected: left_out.len(),
                tally: Tally::default(),
                seconds: 0.0,
            },
            concurrently,
            invalid_only: settings.selection.invalid,
            indexes: chosen
                .iter()
                .map(|(c, bloat, action, why)| IndexResult {
                    schema: c.schema.clone(),
                    table: c.table.clone(),
                    index: c.name.clone(),
                    action: *action,
                    reason: why.clone(),
                    statement: statement(*action, &c.schema, &c.name, concurrently),
                    status: Status::Planned,
                    detail: None,
                    size_before_bytes: c.size_bytes,
                    size_after_bytes: None,
                    reclaimed_bytes: None,
                    bloat_before: bloat.clone(),
                    seconds: 0.0,
                    duplicates_query: None,
                })
                .collect(),
            notes: LeftOut::NOTED
                .iter()
                .map(|kind| (kind, left_out.iter().filter(|l| *l == kind).count()))
                .filter(|(_, count)| *count > 0)
                .map(|(kind, count)| kind.note(count))
                .collect(),
            size_bytes_before: chosen.iter().filter_map(|(c, ..)| c.size_bytes).sum(),
            size_bytes_after: 0,
            reclaimed_bytes: 0,
            leftovers: Vec::new(),
        }
    }
}
