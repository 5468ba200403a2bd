//! Running `campctl vacuum`'s statements: the sessions, the stages of `--analyze-in-stages` (statistics targets 1,
//! 10, then the default, each stage over every table), and writing each table's outcome and state after into the
//! report.
//!
//! It runs only the statements of the plan it is given; choosing tables is `select.rs`, and whether the run exits
//! 3 is decided by `maintenance/report.rs` after the report is printed.

use super::report::VacuumReport;
use super::select::{Chosen, TableState, state_of};
use super::settings::{Mode, VacuumSettings};
use crate::commands::Ctx;
use crate::commands::maintenance::jobs::{self, Finished, Outcome, Work};
use crate::commands::maintenance::report::{status_of, tally};
use crate::printer::Printer;

/// The session setup of each stage: one stage without `--analyze-in-stages`.
fn stages(mode: Mode) -> Vec<Vec<String>> {
    if mode.in_stages {
        vec![
            vec![
                "SET default_statistics_target = 1".into(),
                "SET vacuum_cost_delay = 0".into(),
            ],
            vec!["SET default_statistics_target = 10".into()],
            vec![
                "RESET default_statistics_target".into(),
                "RESET vacuum_cost_delay".into(),
            ],
        ]
    } else {
        vec![Vec::new()]
    }
}

/// Runs the statement of every chosen table (each stage in turn) on up to `--jobs` sessions. Returns each table's
/// result, in the order of `chosen`, and the number of sessions used.
///
/// # Errors
/// The sessions could not be opened.
pub(super) async fn execute(
    settings: &VacuumSettings,
    chosen: &[Chosen],
    ctx: &Ctx,
    printer: &Printer,
) -> anyhow::Result<(Vec<Finished>, usize)> {
    let mode = settings.mode;
    let wanted = settings.jobs.min(chosen.len());
    let mut sessions = jobs::open(&ctx.settings.db, ctx.settings.session, wanted, printer).await?;
    let used = sessions.len();
    let work: Vec<Work> = chosen
        .iter()
        .map(|(relation, _, _)| Work {
            label: relation.display(),
            statements: vec![mode.statement(relation)],
        })
        .collect();
    let stages = stages(mode);
    let mut results: Vec<Finished> = Vec::new();
    for (stage, setup) in stages.iter().enumerate() {
        let label = if stages.len() > 1 {
            format!("{} (stage {} of {})", mode.name(), stage + 1, stages.len())
        } else {
            mode.name().to_string()
        };
        let progress = printer.items(work.len(), &label);
        let stage_results = jobs::run_all(&mut sessions, setup, &work, &progress).await;
        progress.finish();
        if results.is_empty() {
            results = stage_results;
        } else {
            for (total, this) in results.iter_mut().zip(stage_results) {
                total.seconds += this.seconds;
                if total.outcome == Outcome::Done {
                    total.outcome = this.outcome;
                }
            }
        }
    }
    Ok((results, used))
}

/// Writes each table's outcome and its state `after` into the report, and the totals.
pub(super) fn record(
    report: &mut VacuumReport,
    chosen: &[Chosen],
    results: &[Finished],
    after: &[(u32, TableState)],
    mode: Mode,
) {
    let stale_counts = mode.full && !mode.analyze;
    for ((relation, _, _), (row, result)) in chosen.iter().zip(report.tables.iter_mut().zip(results)) {
        row.status = status_of(&result.outcome);
        row.detail = result.outcome.detail().map(str::to_string);
        row.seconds = result.seconds;
        let mut state = state_of(after, relation.oid);
        if stale_counts && result.outcome == Outcome::Done {
            // VACUUM FULL rewrites the table but does not report to the statistics; only ANALYZE would.
            state.live_tuples = None;
            state.dead_tuples = None;
        }
        row.after = Some(state);
    }
    report.run.tally = tally(&report.tables);
    report.dead_tuples_after = if stale_counts {
        None
    } else {
        Some(
            report
                .tables
                .iter()
                .filter_map(|t| t.after)
                .filter_map(|s| s.dead_tuples)
                .sum(),
        )
    };
    report.size_bytes_after = report
        .tables
        .iter()
        .filter_map(|t| t.after)
        .filter_map(|s| s.size_bytes)
        .sum();
}
