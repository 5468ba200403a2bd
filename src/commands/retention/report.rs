//! The plan (with `--dry-run`) or the result of a retention run (`campctl cleanup`, `backup --prune`): one row per backup or abandoned upload, newest
//! first in each series, with the rule that keeps it or why it goes; and per store, what is kept and the bytes
//! freed. Table, JSON and CSV come from this one struct (`printer::Report`).

use serde::Serialize;

use super::plan::PlanRow;
use crate::printer::{Cell, Report, Table};

/// What one store keeps and frees.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StoreTotals {
    pub store: String,
    pub backups: usize,
    pub kept: usize,
    pub deleted: usize,
    /// Abandoned uploads (`incomplete` archives, `*.partial` files) removed.
    pub abandoned_uploads: usize,
    pub bytes_freed: u64,
}

/// The report of a retention run.
#[derive(Debug, Serialize)]
pub(crate) struct CleanupReport {
    /// `true`: a plan, nothing was deleted.
    pub dry_run: bool,
    pub stores: Vec<StoreTotals>,
    pub backups: Vec<PlanRow>,
}

impl CleanupReport {
    pub(crate) fn new(dry_run: bool, backups: Vec<PlanRow>) -> Self {
        let mut stores: Vec<StoreTotals> = Vec::new();
        for row in &backups {
            if !stores.iter().any(|s| s.store == row.store) {
                stores.push(StoreTotals {
                    store: row.store.clone(),
                    backups: 0,
                    kept: 0,
                    deleted: 0,
                    abandoned_uploads: 0,
                    bytes_freed: 0,
                });
            }
            let Some(totals) = stores.iter_mut().find(|s| s.store == row.store) else {
                continue;
            };
            let goes = row.deletes() && (dry_run || row.result.as_deref() == Some("deleted"));
            if row.is_backup() {
                totals.backups += 1;
                if goes {
                    totals.deleted += 1;
                } else {
                    totals.kept += 1;
                }
            } else if goes {
                totals.abandoned_uploads += 1;
            }
            if goes {
                totals.bytes_freed += row.size_bytes;
            }
        }
        Self {
            dry_run,
            stores,
            backups,
        }
    }
}

impl Report for CleanupReport {
    fn tables(&self) -> Vec<Table> {
        let title = if self.dry_run {
            "Cleanup plan (dry run: nothing deleted)"
        } else {
            "Cleanup"
        };
        let mut table = Table::new(
            title,
            &[
                "store", "series", "name", "kind", "time", "size", "action", "reason", "result",
            ],
        )
        .empty_message("No backups found in the configured stores");
        for row in &self.backups {
            table.row(vec![
                row.store.as_str().into(),
                row.series.as_str().into(),
                row.name.as_str().into(),
                row.kind.as_str().into(),
                row.time
                    .map_or(Cell::Null, |t| Cell::Text(t.format("%Y-%m-%d %H:%M:%SZ").to_string())),
                Cell::Bytes(row.size_bytes as i64),
                row.action.into(),
                row.reason.as_str().into(),
                Cell::opt(row.result.clone()),
            ]);
        }
        let mut totals = Table::new(
            if self.dry_run { "Would free" } else { "Freed" },
            &[
                "store",
                "backups",
                "kept",
                "deleted",
                "abandoned uploads",
                "bytes freed",
            ],
        );
        for store in &self.stores {
            totals.row(vec![
                store.store.as_str().into(),
                Cell::Int(store.backups as i64),
                Cell::Int(store.kept as i64),
                Cell::Int(store.deleted as i64),
                Cell::Int(store.abandoned_uploads as i64),
                Cell::Bytes(store.bytes_freed as i64),
            ]);
        }
        vec![table, totals]
    }
}
