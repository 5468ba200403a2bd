//! `campctl vacuum`: VACUUM / ANALYZE / VACUUM FULL with vacuumdb's options, selection by measured dead tuples and
//! transaction-id age, parallel sessions, and a before/after report (runbook 3.1.4, 3.2.2, 7.3).
//!
//! The command in four rooms, in the order a run goes through them: [`settings`] checks the flags before any
//! connection; [`select`] measures the tables in scope and chooses them; [`run`] executes the statements; [`report`]
//! holds the rows and their views. This file only strings them together and never holds SQL of its own.

mod report;
mod run;
mod select;
mod settings;

use std::time::Instant;

use clap::Args;

use self::report::VacuumReport;
pub(crate) use self::settings::VacuumSettings;
use super::scope::{self, ScopeArgs};
use crate::commands::Ctx;
use crate::exit::ExitStatus;
use crate::printer::Printer;

/// Why a run can fail on some tables, and what to do.
const FAILED_HINT: &str = "A lock timeout means another session held the table: retry later, raise \
                           `[database] lock_timeout`, or pass --skip-locked to skip such tables";

/// VACUUM / ANALYZE / VACUUM FULL with a dead-tuple and size report before and after
///
/// Without options: `VACUUM (ANALYZE)` of every table in the database, one session (runbook 3.1.4). Select work by
/// measured bloat (`--min-dead-tuples`, `--min-dead-ratio`) or transaction-id age (`--min-xid-age`, oldest first);
/// `--dry-run` prints the plan and the statements.
#[derive(Debug, Args)]
pub struct VacuumArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,

    /// Also ANALYZE (the default, as in the runbook)
    #[arg(long, overrides_with = "no_analyze")]
    pub analyze: bool,

    /// VACUUM without ANALYZE
    #[arg(long, overrides_with = "analyze")]
    pub no_analyze: bool,

    /// Only ANALYZE, no VACUUM
    #[arg(long, conflicts_with_all = ["full", "freeze", "no_truncate", "analyze_in_stages", "no_analyze"])]
    pub analyze_only: bool,

    /// Only ANALYZE, in three stages (statistics targets 1, 10, then the default) so that the planner has rough
    /// statistics quickly, e.g. after a restore
    #[arg(long, conflicts_with_all = ["full", "freeze", "no_truncate", "no_analyze"])]
    pub analyze_in_stages: bool,

    /// With --analyze-only or --analyze-in-stages: only tables that have no statistics yet
    #[arg(long)]
    pub missing_stats_only: bool,

    /// VACUUM FULL: rewrite each table to give space back to the OS; locks it against reads and writes while it runs
    /// (asks first; never with more than one job)
    #[arg(long)]
    pub full: bool,

    /// Freeze every row (VACUUM FREEZE)
    #[arg(long)]
    pub freeze: bool,

    /// Do not truncate empty pages at the end of tables (avoids the brief exclusive lock that takes)
    #[arg(long)]
    pub no_truncate: bool,

    /// Skip tables whose lock is not available at once, and report them, instead of waiting
    #[arg(long)]
    pub skip_locked: bool,

    /// Only tables with at least N dead tuples (pg_stat_user_tables.n_dead_tup)
    #[arg(long, value_name = "N")]
    pub min_dead_tuples: Option<u64>,

    /// Only tables whose dead tuples are at least this share of all tuples (0.2 = 20%)
    #[arg(long, value_name = "RATIO", value_parser = super::parse_ratio)]
    pub min_dead_ratio: Option<f64>,

    /// Also tables whose transaction-id age is at least N (wraparound risk), oldest first
    #[arg(long, value_name = "N")]
    pub min_xid_age: Option<u64>,

    /// Tables vacuumed in parallel, one session each (capped by the server's free connections)
    #[arg(long, short = 'j', value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub jobs: u32,
}

/// Runs `campctl vacuum`.
///
/// # Errors
/// Bad options (exit 2), a missing table or schema (10), a refused confirmation (2). Some tables failed: the
/// report, then `Ok(ExitStatus::Partial)` (exit 3).
pub(crate) async fn vacuum(args: VacuumArgs, ctx: &Ctx, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let settings = VacuumSettings::resolve(args, ctx)?;
    let outcome = run_vacuum(&settings, ctx, printer).await?;
    printer.report(&outcome)?;
    Ok(outcome.conclude(printer))
}

/// The report of a vacuum run, for callers outside this module (`campctl cleanup --vacuum`): printed as
/// `campctl vacuum` prints it (JSON: the same object).
#[derive(Debug, serde::Serialize)]
#[serde(transparent)]
pub(crate) struct VacuumOutcome(VacuumReport);

impl crate::printer::Report for VacuumOutcome {
    fn tables(&self) -> Vec<crate::printer::Table> {
        self.0.tables()
    }
}

impl VacuumOutcome {
    /// Exit 0, or 3 (with the failed tables named) when some tables failed.
    pub(crate) fn conclude(&self, printer: &Printer) -> ExitStatus {
        super::report::conclude(printer, &self.0.tables, "tables", FAILED_HINT)
    }
}

/// Everything `campctl vacuum` does but print its report: also `campctl cleanup --vacuum`'s (runbook 9.1.2).
///
/// # Errors
/// As [`vacuum`].
pub(crate) async fn run_vacuum(
    settings: &VacuumSettings,
    ctx: &Ctx,
    printer: &Printer,
) -> anyhow::Result<VacuumOutcome> {
    let started = Instant::now();
    let client = ctx.connect().await?;
    let relations = scope::tables(&client, &settings.scope).await?;
    let oids: Vec<u32> = relations.iter().map(|r| r.oid).collect();
    let before = select::measure(&client, &oids, settings.thresholds.missing_stats_only).await?;
    let (chosen, not_selected) = select::choose(relations, &before, &settings.thresholds);
    let mut report = VacuumReport::plan(settings, &chosen, not_selected);
    if settings.dry_run {
        if settings.mode.in_stages {
            printer
                .note("Each statement runs three times: with default_statistics_target 1, then 10, then the default");
        }
        return Ok(VacuumOutcome(report));
    }
    if chosen.is_empty() {
        return Ok(VacuumOutcome(report));
    }
    if settings.mode.full {
        printer.confirm(
            &format!(
                "VACUUM FULL rewrites {} table(s) in `{}` and locks each one against reads and writes while it runs \
                 ({} now). Continue?",
                chosen.len(),
                settings.database,
                crate::units::format_bytes(report.size_bytes_before)
            ),
            settings.yes,
        )?;
    }
    let (results, jobs) = run::execute(settings, &chosen, ctx, printer).await?;
    report.run.jobs = jobs;
    let chosen_oids: Vec<u32> = chosen.iter().map(|(r, _, _)| r.oid).collect();
    let after = select::measure(&client, &chosen_oids, false).await?;
    run::record(&mut report, &chosen, &results, &after, settings.mode);
    report.run.seconds = started.elapsed().as_secs_f64();
    Ok(VacuumOutcome(report))
}
