//! `campctl reindex`: REINDEX [CONCURRENTLY] with reindexdb's scope options, selection by measured bloat and size,
//! clean-up of invalid indexes, parallel sessions per table, and a before/after size report (runbook 3.2.2, 7.3).
//!
//! One statement per index, built from the catalog's names: `REINDEX INDEX CONCURRENTLY "s"."i"` by default. The
//! indexes of one table run one after another on one session (two concurrent rebuilds of one table would wait for
//! each other's lock); tables run in parallel with `--jobs`.
//!
//! The command in four rooms, in the order a run goes through them: [`settings`] checks the flags before any
//! connection; [`select`] finds the candidates and chooses them ([`measure`] reads sizes and bloat); [`run`]
//! executes the statements and explains failures ([`duplicates`]); [`report`] holds the rows and their views. This
//! file only strings them together and never holds SQL of its own.

mod duplicates;
mod measure;
mod report;
mod run;
mod select;
mod settings;

use std::time::Instant;

use clap::Args;

use self::report::ReindexReport;
use self::select::Action;
pub(crate) use self::settings::ReindexSettings;
use super::scope::ScopeArgs;
use crate::commands::Ctx;
use crate::exit::ExitStatus;
use crate::printer::Printer;
use crate::units::{ByteSize, format_bytes};

/// What to do when some rebuilds failed (no unique violation among them).
const FAILED_HINT: &str = "A lock timeout means another session held the table: retry later or raise \
                           `[database] lock_timeout`. A failed or cancelled REINDEX CONCURRENTLY can leave an \
                           invalid `<index>_ccnew` index behind: `campctl reindex --invalid` removes it";
/// What to do when a unique index failed on duplicate keys.
const DUPLICATES_HINT: &str = "A unique index cannot be rebuilt while its table holds duplicate keys: remove the \
                               duplicates first (the query under the report, `duplicates_query` in JSON, lists \
                               them), then run the same command again";

/// REINDEX [CONCURRENTLY] with bloat-based selection and invalid-index cleanup, sizes before and after
///
/// Without options: `REINDEX INDEX CONCURRENTLY` of every valid index in the database, one table at a time.
/// Choose by measured bloat (`--min-bloat-ratio`; `pgstatindex` when the pgstattuple extension is installed, else an
/// estimate from the planner's statistics for btrees, else `unknown`) or size (`--min-size`). `--invalid` repairs
/// what failed `CREATE INDEX CONCURRENTLY` / `REINDEX CONCURRENTLY` runs left behind. `--dry-run` prints the plan.
#[derive(Debug, Args)]
pub struct ReindexArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,

    /// Only this index (repeatable; names follow SQL as for --table)
    #[arg(long = "index", short = 'i', value_name = "INDEX")]
    pub indexes: Vec<String>,

    /// Every index of the database (the default without --table, --schema or --index)
    #[arg(long, conflicts_with_all = ["tables", "schemas", "indexes"])]
    pub database: bool,

    /// Only invalid indexes: drop the leftovers of a failed REINDEX CONCURRENTLY (`_ccnew`, `_ccold`), rebuild
    /// the others (e.g. from a failed CREATE INDEX CONCURRENTLY)
    #[arg(long, conflicts_with_all = ["min_bloat_ratio", "min_size"])]
    pub invalid: bool,

    /// Plain REINDEX: blocks writes to the table, and reads that use the index, while it runs (asks first)
    #[arg(long)]
    pub no_concurrently: bool,

    /// Only indexes whose measured bloat is at least this share (0.3 = 30%); those of unknown bloat are left out
    #[arg(long, value_name = "RATIO", value_parser = super::parse_ratio)]
    pub min_bloat_ratio: Option<f64>,

    /// Only indexes of at least this size (`pg_relation_size`), e.g. `100MB`
    #[arg(long, value_name = "SIZE")]
    pub min_size: Option<ByteSize>,

    /// Tables worked on in parallel, one session each (capped by the server's free connections); the indexes of
    /// one table are rebuilt one after another
    #[arg(long, short = 'j', value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub jobs: u32,
}

/// Runs `campctl reindex`.
///
/// # Errors
/// Bad options (exit 2), a missing table, index or schema (10), a refused confirmation (2). Some indexes failed:
/// the report, then `Ok(ExitStatus::Partial)` (exit 3).
pub(crate) async fn reindex(args: ReindexArgs, ctx: &Ctx, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let settings = ReindexSettings::resolve(args, ctx)?;
    let started = Instant::now();
    let client = ctx.connect().await?;
    let candidates = select::find(&client, &settings).await?;
    let bloats = measure::bloat(&client, &candidates, settings.selection.min_bloat_ratio.is_some()).await?;
    let (chosen, left_out, table_order) = select::choose(&settings.selection, candidates, bloats);
    let mut report = ReindexReport::plan(&settings, &chosen, &left_out);
    if settings.dry_run || chosen.is_empty() {
        report.run.seconds = started.elapsed().as_secs_f64();
        printer.report(&report)?;
        return Ok(ExitStatus::Success);
    }
    let rebuilds = chosen.iter().filter(|(_, _, a, _)| *a == Action::Reindex).count();
    if !settings.selection.concurrently && rebuilds > 0 {
        printer.confirm(
            &format!(
                "REINDEX without CONCURRENTLY blocks writes to {} table(s) in `{}`, and reads that use the index, while \
                 each of {rebuilds} index(es) is rebuilt ({} now). Continue?",
                table_order.len(),
                settings.database,
                format_bytes(report.size_bytes_before)
            ),
            settings.yes,
        )?;
    }
    let unique_violations = run::execute(&mut report, &chosen, &table_order, settings.jobs, ctx, printer).await?;
    run::record(&client, &chosen, &mut report, &unique_violations).await?;
    report.run.seconds = started.elapsed().as_secs_f64();
    printer.report(&report)?;
    let hint = if unique_violations.is_empty() {
        FAILED_HINT
    } else {
        DUPLICATES_HINT
    };
    Ok(super::report::conclude(printer, &report.indexes, "indexes", hint))
}
