//! Running `campctl reindex`'s statements and writing what they did into the report: one work item per table (its
//! indexes one after another on one session, tables in parallel), the outcome of each statement, the sizes after,
//! and the explanations a failure needs (duplicate keys of a unique index, the `_ccnew`/`_ccold` leftovers of a
//! failed REINDEX CONCURRENTLY).
//!
//! It runs only the statements of the plan it is given, plus the `DROP INDEX CONCURRENTLY` of a `_ccnew` copy that
//! its own failed rebuild left behind; whether the run exits 3 is decided by `maintenance/report.rs` after the
//! report is printed.

use std::fmt::Write as _;

use tokio_postgres::error::SqlState;

use super::duplicates;
use super::measure;
use super::report::ReindexReport;
use super::select::{Action, Chosen, leftover_suffix, statement};
use crate::commands::Ctx;
use crate::commands::maintenance::jobs::{self, Work};
use crate::commands::maintenance::report::{status_of, tally};
use crate::interrupt;
use crate::printer::Printer;
use crate::status::Status;

/// Runs every chosen statement, one work item per table in `table_order`, and writes each index's outcome into the
/// report. Returns the rows whose rebuild failed on duplicate keys of a unique index.
///
/// # Errors
/// The sessions could not be opened.
pub(super) async fn execute(
    report: &mut ReindexReport,
    chosen: &[Chosen],
    table_order: &[u32],
    jobs_wanted: usize,
    ctx: &Ctx,
    printer: &Printer,
) -> anyhow::Result<Vec<usize>> {
    let rank = |oid: u32| table_order.iter().position(|t| *t == oid).unwrap_or(usize::MAX);
    // One work item per table: its statements in order, on one session.
    let mut work: Vec<Work> = Vec::new();
    let mut rows_of: Vec<Vec<usize>> = Vec::new();
    for (row, ((c, ..), result)) in chosen.iter().zip(&report.indexes).enumerate() {
        let position = rank(c.table_oid);
        if position == work.len() {
            work.push(Work {
                label: format!("{}.{}", c.schema, c.table),
                statements: Vec::new(),
            });
            rows_of.push(Vec::new());
        }
        work[position].statements.push(result.statement.clone());
        rows_of[position].push(row);
    }
    let mut sessions = jobs::open(&ctx.settings.db, ctx.settings.session, jobs_wanted, printer).await?;
    report.run.jobs = sessions.len();
    let counter = printer.items(work.len(), "reindex");
    // If this run is interrupted, say what a cancelled REINDEX CONCURRENTLY leaves behind and how to clean it up.
    let note = report.concurrently.then(|| {
        interrupt::register(interrupt::Action::Note {
            message: "a cancelled REINDEX CONCURRENTLY leaves an invalid `<index>_ccnew` index; `campctl reindex --invalid` drops it"
                .into(),
        })
    });
    let results = jobs::run_each(&mut sessions, &[], &work, &counter).await;
    if let Some(note) = note {
        note.disarm();
    }
    counter.finish();
    drop(sessions);

    let mut unique_violations = Vec::new();
    for (rows, steps) in rows_of.iter().zip(results) {
        for (row, step) in rows.iter().zip(steps) {
            let result = &mut report.indexes[*row];
            result.status = status_of(&step.outcome);
            result.detail = step.outcome.detail().map(str::to_string);
            result.seconds = step.seconds;
            if step.outcome.code() == Some(&SqlState::UNIQUE_VIOLATION) && result.action == Action::Reindex {
                unique_violations.push(*row);
            }
        }
    }
    Ok(unique_violations)
}

/// After the statements: explains duplicate keys, measures the sizes after, names leftovers, and sums up.
///
/// # Errors
/// A catalog query failed.
pub(super) async fn record(
    client: &tokio_postgres::Client,
    chosen: &[Chosen],
    report: &mut ReindexReport,
    unique_violations: &[usize],
) -> anyhow::Result<()> {
    explain_duplicates(client, chosen, report, unique_violations).await?;
    let names: Vec<(String, String)> = report
        .indexes
        .iter()
        .map(|i| (i.schema.clone(), i.index.clone()))
        .collect();
    let after = measure::sizes_by_name(client, &names).await?;
    for (result, size) in report.indexes.iter_mut().zip(after) {
        result.size_after_bytes = match (result.action, result.status, size) {
            (Action::Drop, Status::Done, _) => Some(0),
            (_, _, size) => size.flatten(),
        };
        result.reclaimed_bytes = result
            .size_before_bytes
            .zip(result.size_after_bytes)
            .map(|(before, after)| before - after);
    }
    note_leftovers(client, chosen, report).await?;
    report.run.tally = tally(&report.indexes);
    report.size_bytes_after = report.indexes.iter().filter_map(|i| i.size_after_bytes).sum();
    report.reclaimed_bytes = report.indexes.iter().filter_map(|i| i.reclaimed_bytes).sum();
    Ok(())
}

/// Whether the invalid index `schema.name` of `table` was there before this run (and not dropped by it).
fn was_there(chosen: &[Chosen], report: &ReindexReport, table: u32, schema: &str, name: &str) -> bool {
    chosen.iter().zip(&report.indexes).any(|((c, ..), result)| {
        c.table_oid == table
            && c.name == name
            && c.schema == schema
            && !(result.action == Action::Drop && result.status == Status::Done)
    })
}

/// After rebuilds that failed on duplicate keys (`rows` of the report): drops the `_ccnew` copy each one left (it
/// can never be completed while the duplicates are there; re-running would only make another) and says that the
/// duplicates must go first, with a query that lists them. See [`duplicates`].
async fn explain_duplicates(
    client: &tokio_postgres::Client,
    chosen: &[Chosen],
    report: &mut ReindexReport,
    rows: &[usize],
) -> anyhow::Result<()> {
    for &row in rows {
        let candidate = &chosen[row].0;
        let mut dropped = Vec::new();
        if report.concurrently {
            for (table, schema, name) in measure::invalid_indexes(client, &[candidate.table_oid]).await? {
                if schema != candidate.schema
                    || leftover_suffix(&name) != Some("_ccnew")
                    || !duplicates::leftover_of(&name, &candidate.name)
                    || was_there(chosen, report, table, &schema, &name)
                {
                    continue;
                }
                let sql = statement(Action::Drop, &schema, &name, true);
                match client.batch_execute(&sql).await {
                    Ok(()) => dropped.push(format!("`{name}`")),
                    // Then it stays, and the report names it as a leftover.
                    Err(err) => tracing::warn!("`{sql}` failed: {err}"),
                }
            }
        }
        let query = duplicates::unique_key(client, candidate.oid)
            .await?
            .map(|key| key.duplicates_query());
        let result = &mut report.indexes[row];
        let mut detail = format!(
            "{}: the table holds duplicate keys of this unique index; remove them first, then rebuild it",
            result.detail.as_deref().unwrap_or("duplicate key")
        );
        if !dropped.is_empty() {
            let _ = write!(detail, " (the unfinished copy {} was dropped)", dropped.join(", "));
        }
        result.detail = Some(detail);
        if let Some(query) = &query {
            report.notes.push(format!(
                "`{}.{}` has duplicate keys; list them with: {query}",
                result.schema, result.index
            ));
        }
        result.duplicates_query = query;
    }
    Ok(())
}

/// After failures: names the invalid `_ccnew`/`_ccold` indexes that were not there before in the report.
async fn note_leftovers(
    client: &tokio_postgres::Client,
    chosen: &[Chosen],
    report: &mut ReindexReport,
) -> anyhow::Result<()> {
    let mut failed_tables: Vec<u32> = chosen
        .iter()
        .zip(&report.indexes)
        .filter(|(_, result)| result.status == Status::Failed)
        .map(|((c, ..), _)| c.table_oid)
        .collect();
    failed_tables.sort_unstable();
    failed_tables.dedup();
    if failed_tables.is_empty() {
        return Ok(());
    }
    for (table, schema, name) in measure::invalid_indexes(client, &failed_tables).await? {
        if was_there(chosen, report, table, &schema, &name) || leftover_suffix(&name).is_none() {
            continue;
        }
        for result in &mut report.indexes {
            let own = duplicates::leftover_of(&name, &result.index);
            if result.status == Status::Failed && result.schema == schema && own {
                let detail = result.detail.get_or_insert_with(String::new);
                let _ = write!(
                    detail,
                    "; left `{name}` behind (`campctl reindex --invalid` removes it)"
                );
            }
        }
        report.leftovers.push(format!("{schema}.{name}"));
    }
    Ok(())
}
