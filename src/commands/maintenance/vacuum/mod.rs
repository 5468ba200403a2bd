//! `campctl vacuum`: VACUUM / ANALYZE / VACUUM FULL with vacuumdb's options, selection by measured dead tuples and
//! transaction-id age, parallel sessions, and a before/after report (runbook 3.1.4, 3.2.2, 7.3).

use std::time::Instant;

use clap::Args;
use serde::Serialize;

use super::jobs::{self, Counter, Finished, Outcome, Work};
use super::scope::{self, Relation, ScopeArgs};
use crate::Ctx;
use crate::exit::{ExitStatus, UserError};
use crate::printer::{Cell, Printer, Report, Table};

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

/// Measured state of one table (of a partitioned table: of its partitions together).
#[derive(Debug, Clone, Copy, Serialize, Default)]
pub struct TableState {
    /// From the cumulative statistics; `null` after a VACUUM FULL without ANALYZE, which does not update them.
    pub live_tuples: Option<i64>,
    pub dead_tuples: Option<i64>,
    /// `pg_table_size` (heap, TOAST, free space and visibility maps); `null` while another session holds an
    /// exclusive lock on the table (measuring it would wait for that lock).
    pub size_bytes: Option<i64>,
    /// Age of the oldest unfrozen transaction id (table or its TOAST table; the oldest of a partitioned table's
    /// partitions); `null` for a partitioned table without partitions.
    pub xid_age: Option<i64>,
    /// A partitioned table: how many partitions its figures are summed over (leaves, all levels); `null` for a table.
    pub partitions: Option<i64>,
    /// No ANALYZE has ever run and there are no statistics.
    pub missing_stats: bool,
}

/// One table of the plan and its result.
#[derive(Debug, Serialize)]
pub struct TableResult {
    pub schema: String,
    pub table: String,
    /// Why it was chosen.
    pub reason: String,
    pub statement: String,
    /// `planned` (dry run), `done`, `skipped` (lock not available with --skip-locked) or `failed`.
    pub status: String,
    pub detail: Option<String>,
    pub before: TableState,
    pub after: Option<TableState>,
    pub seconds: f64,
}

/// What `campctl vacuum` did (or, with --dry-run, would do).
#[derive(Debug, Serialize)]
pub struct VacuumReport {
    pub database: String,
    /// `vacuum`, `vacuum full`, `analyze`, `analyze in stages`.
    pub mode: String,
    pub dry_run: bool,
    pub jobs: usize,
    pub tables: Vec<TableResult>,
    /// Tables in scope that the thresholds left out.
    pub not_selected: usize,
    pub done: usize,
    pub skipped: usize,
    pub failed: usize,
    pub dead_tuples_before: i64,
    /// `null` after VACUUM FULL without ANALYZE (the statistics are not updated by it).
    pub dead_tuples_after: Option<i64>,
    pub size_bytes_before: i64,
    pub size_bytes_after: i64,
    pub seconds: f64,
}

impl Report for VacuumReport {
    fn tables(&self) -> Vec<Table> {
        if self.dry_run {
            let mut plan = Table::new(
                format!(
                    "Plan: {} of {} in `{}` (dry run)",
                    self.mode,
                    tables(self.tables.len()),
                    self.database
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
            if self.not_selected > 0 {
                plan.notes.push(format!(
                    "{} tables in scope are below the thresholds",
                    self.not_selected
                ));
            }
            return vec![plan];
        }
        let mut table = Table::new(
            format!(
                "{} of {} in `{}`",
                capitalised(&self.mode),
                tables(self.tables.len()),
                self.database
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
                t.status.as_str().into(),
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
            "{} done, {} skipped, {} failed; dead tuples {} → {}; size {} → {}; {} with {} job{}",
            self.done,
            self.skipped,
            self.failed,
            self.dead_tuples_before,
            self.dead_tuples_after.map_or_else(
                || "unknown (VACUUM FULL without ANALYZE)".to_string(),
                |d| d.to_string()
            ),
            crate::units::format_bytes(self.size_bytes_before),
            crate::units::format_bytes(self.size_bytes_after),
            crate::units::format_seconds(self.seconds),
            self.jobs,
            if self.jobs == 1 { "" } else { "s" }
        ));
        if self.not_selected > 0 {
            table.notes.push(format!(
                "{} tables in scope were below the thresholds",
                self.not_selected
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

fn tables(count: usize) -> String {
    if count == 1 {
        "1 table".into()
    } else {
        format!("{count} tables")
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn dead_percent(state: &TableState) -> f64 {
    let (live, dead) = (state.live_tuples.unwrap_or(0), state.dead_tuples.unwrap_or(0));
    let total = live + dead;
    if total == 0 {
        0.0
    } else {
        100.0 * dead as f64 / total as f64
    }
}

/// Reads the state of the given tables.
///
/// A partitioned table has no storage and no counters of its own; VACUUM and ANALYZE of it work on its leaf
/// partitions (all levels), so its state is theirs summed: tuples and sizes added up, the oldest transaction-id
/// age, the size unknown if one partition is locked. Partitions are found through `pg_inherits`
/// (`pg_partition_tree` would lock them); a table's inheritance children (not partitions) are not counted, as
/// VACUUM does not process them either.
/// `with_stats` also finds the tables without statistics (`pg_stats`, filtered by privilege, is costly to scan).
///
/// # Errors
/// The query failed.
pub async fn measure(
    client: &tokio_postgres::Client,
    oids: &[u32],
    with_stats: bool,
) -> anyhow::Result<Vec<(u32, TableState)>> {
    let rows = client
        .query(
            "WITH RECURSIVE tree AS ( \
                 SELECT r AS root, r AS rel FROM unnest($1::oid[]) AS r \
                 UNION ALL \
                 SELECT tree.root, i.inhrelid FROM tree \
                 JOIN pg_class p ON p.oid = tree.rel AND p.relkind = 'p' \
                 JOIN pg_inherits i ON i.inhparent = tree.rel \
             ), locked AS MATERIALIZED (SELECT l.relation FROM pg_locks l WHERE l.granted \
                                         AND l.mode = 'AccessExclusiveLock' AND l.relation IS NOT NULL), \
             member AS ( \
                 SELECT tree.root, c.oid <> tree.root AS partition, \
                        coalesce(s.n_live_tup, 0) AS live, coalesce(s.n_dead_tup, 0) AS dead, \
                        EXISTS (SELECT 1 FROM locked l WHERE l.relation = c.oid) AS locked, \
                        CASE WHEN NOT EXISTS (SELECT 1 FROM locked l WHERE l.relation = c.oid) \
                             THEN pg_table_size(c.oid) END AS size, \
                        CASE WHEN c.relkind IN ('r', 'm') \
                             THEN greatest(age(c.relfrozenxid), coalesce(age(t.relfrozenxid), 0))::int8 END AS xid_age \
                 FROM tree JOIN pg_class c ON c.oid = tree.rel \
                 LEFT JOIN pg_class t ON t.oid = c.reltoastrelid \
                 LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid \
                 WHERE c.relkind <> 'p' \
             ), summed AS ( \
                 SELECT root, sum(live)::int8 AS live, sum(dead)::int8 AS dead, bool_or(locked) AS locked, \
                        sum(size)::int8 AS size, max(xid_age) AS xid_age, \
                        count(*) FILTER (WHERE partition)::int8 AS partitions \
                 FROM member GROUP BY root \
             ), analyzed AS MATERIALIZED (SELECT DISTINCT st.schemaname, st.tablename FROM pg_stats st \
                                          WHERE $2) \
             SELECT c.oid, coalesce(m.live, 0), coalesce(m.dead, 0), \
                    CASE WHEN NOT coalesce(m.locked, false) AND NOT EXISTS (SELECT 1 FROM locked l WHERE l.relation = c.oid) \
                         THEN coalesce(m.size, 0) END, \
                    m.xid_age, \
                    CASE WHEN c.relkind = 'p' THEN coalesce(m.partitions, 0) END, \
                    $2 AND s.last_analyze IS NULL AND s.last_autoanalyze IS NULL AND NOT EXISTS \
                      (SELECT 1 FROM analyzed a WHERE a.schemaname = n.nspname AND a.tablename = c.relname) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN summed m ON m.root = c.oid \
             LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid \
             WHERE c.oid = ANY($1)",
            &[&oids, &with_stats],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| {
            (
                row.get(0),
                TableState {
                    live_tuples: row.get(1),
                    dead_tuples: row.get(2),
                    size_bytes: row.get(3),
                    xid_age: row.get(4),
                    partitions: row.get(5),
                    missing_stats: row.get::<_, Option<bool>>(6).unwrap_or(false),
                },
            )
        })
        .collect())
}

/// The resolved options.
struct Mode {
    analyze: bool,
    analyze_only: bool,
    in_stages: bool,
    full: bool,
    freeze: bool,
    no_truncate: bool,
    skip_locked: bool,
}

impl Mode {
    fn name(&self) -> &'static str {
        match self {
            Self { in_stages: true, .. } => "analyze in stages",
            Self { analyze_only: true, .. } => "analyze",
            Self { full: true, .. } => "vacuum full",
            Self { analyze: true, .. } => "vacuum analyze",
            _ => "vacuum",
        }
    }

    fn statement(&self, relation: &Relation) -> String {
        let target = format!("{}{}", relation.quoted(), relation.column_list());
        if self.analyze_only || self.in_stages {
            return if self.skip_locked {
                format!("ANALYZE (SKIP_LOCKED) {target}")
            } else {
                format!("ANALYZE {target}")
            };
        }
        let mut options = Vec::new();
        if self.full {
            options.push("FULL");
        }
        if self.freeze {
            options.push("FREEZE");
        }
        if self.analyze {
            options.push("ANALYZE");
        }
        if self.no_truncate && !self.full {
            options.push("TRUNCATE false");
        }
        if self.skip_locked {
            options.push("SKIP_LOCKED");
        }
        if options.is_empty() {
            format!("VACUUM {target}")
        } else {
            format!("VACUUM ({}) {target}", options.join(", "))
        }
    }
}

/// Why a table is chosen, or `None` when the thresholds leave it out.
fn reason(args: &VacuumArgs, state: &TableState) -> Option<String> {
    let mut reasons = Vec::new();
    let dead_rule = args.min_dead_tuples.is_some() || args.min_dead_ratio.is_some();
    let mut dead_ok = dead_rule;
    if let Some(min) = args.min_dead_tuples {
        dead_ok &= state.dead_tuples.unwrap_or(0) as u64 >= min;
    }
    if let Some(ratio) = args.min_dead_ratio {
        dead_ok &= dead_percent(state) >= ratio * 100.0 && state.dead_tuples.unwrap_or(0) > 0;
    }
    if dead_ok {
        reasons.push(format!(
            "{} dead tuples ({:.1}%)",
            state.dead_tuples.unwrap_or(0),
            dead_percent(state)
        ));
    }
    let xid_ok = args
        .min_xid_age
        .is_some_and(|min| state.xid_age.is_some_and(|age| age as u64 >= min));
    if xid_ok {
        reasons.push(format!("xid age {}", state.xid_age.unwrap_or_default()));
    }
    if args.missing_stats_only {
        if !state.missing_stats {
            return None;
        }
        reasons.push("no statistics yet".into());
    }
    let thresholds = dead_rule || args.min_xid_age.is_some();
    if thresholds && !dead_ok && !xid_ok {
        return None;
    }
    if reasons.is_empty() {
        reasons.push("in scope".into());
    }
    Some(reasons.join("; "))
}

/// Runs `campctl vacuum`.
///
/// # Errors
/// Bad options (exit 2), a missing table or schema (10), a refused confirmation (2), some tables failed (3).
pub async fn vacuum(args: VacuumArgs, ctx: &Ctx, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    let mode = Mode {
        analyze: !args.no_analyze,
        analyze_only: args.analyze_only,
        in_stages: args.analyze_in_stages,
        full: args.full,
        freeze: args.freeze,
        no_truncate: args.no_truncate,
        skip_locked: args.skip_locked,
    };
    if args.full && args.jobs > 1 {
        return Err(
            UserError::usage("--full runs one table at a time: it cannot be combined with --jobs")
                .with_hint("VACUUM FULL locks each table and rewrites it; run it with the default --jobs 1")
                .into(),
        );
    }
    if args.missing_stats_only && !(args.analyze_only || args.analyze_in_stages) {
        return Err(UserError::usage("--missing-stats-only needs --analyze-only or --analyze-in-stages").into());
    }
    let client = ctx.connect().await?;
    let relations = scope::tables(&client, &args.scope).await?;
    if !mode.analyze
        && !mode.analyze_only
        && !mode.in_stages
        && let Some(relation) = relations.iter().find(|r| !r.columns.is_empty())
    {
        return Err(UserError::usage(format!(
            "`{}`: a column list needs ANALYZE, but --no-analyze was given",
            relation.display()
        ))
        .into());
    }
    let oids: Vec<u32> = relations.iter().map(|r| r.oid).collect();
    let before = measure(&client, &oids, args.missing_stats_only).await?;
    let state_of = |states: &[(u32, TableState)], oid: u32| {
        states
            .iter()
            .find(|(o, _)| *o == oid)
            .map(|(_, s)| *s)
            .unwrap_or_default()
    };
    let mut chosen: Vec<(Relation, TableState, String)> = relations
        .into_iter()
        .filter_map(|relation| {
            let state = state_of(&before, relation.oid);
            reason(&args, &state).map(|why| (relation, state, why))
        })
        .collect();
    let not_selected = oids.len() - chosen.len();
    if let Some(min) = args.min_xid_age {
        // Wraparound first: the tables over the age threshold lead, oldest first; the rest follow by age too.
        let old = |s: &TableState| s.xid_age.is_some_and(|a| a as u64 >= min);
        chosen.sort_by_key(|(_, state, _)| (!old(state), std::cmp::Reverse(state.xid_age.unwrap_or(0))));
    } else if args.min_dead_tuples.is_some() || args.min_dead_ratio.is_some() {
        chosen.sort_by_key(|(_, state, _)| std::cmp::Reverse(state.dead_tuples.unwrap_or(0)));
    }

    let mut report = VacuumReport {
        database: ctx.settings.db.dbname.clone(),
        mode: mode.name().to_string(),
        dry_run: ctx.settings.dry_run,
        jobs: args.jobs as usize,
        tables: chosen
            .iter()
            .map(|(relation, state, why)| TableResult {
                schema: relation.schema.clone(),
                table: relation.name.clone(),
                reason: why.clone(),
                statement: mode.statement(relation),
                status: "planned".into(),
                detail: None,
                before: *state,
                after: None,
                seconds: 0.0,
            })
            .collect(),
        not_selected,
        done: 0,
        skipped: 0,
        failed: 0,
        dead_tuples_before: chosen.iter().filter_map(|(_, s, _)| s.dead_tuples).sum(),
        dead_tuples_after: None,
        size_bytes_before: chosen.iter().filter_map(|(_, s, _)| s.size_bytes).sum(),
        size_bytes_after: 0,
        seconds: 0.0,
    };
    if ctx.settings.dry_run {
        if mode.in_stages {
            printer
                .note("Each statement runs three times: with default_statistics_target 1, then 10, then the default");
        }
        printer.report(&report)?;
        return Ok(ExitStatus::Success);
    }
    if chosen.is_empty() {
        printer.report(&report)?;
        return Ok(ExitStatus::Success);
    }
    if mode.full {
        printer.confirm(
            &format!(
                "VACUUM FULL rewrites {} table(s) in `{}` and locks each one against reads and writes while it runs \
                 ({} now). Continue?",
                chosen.len(),
                report.database,
                crate::units::format_bytes(report.size_bytes_before)
            ),
            ctx.settings.yes,
        )?;
    }

    let wanted = (args.jobs as usize).min(chosen.len());
    let mut sessions = jobs::open(&ctx.settings.db, ctx.settings.session, wanted, printer).await?;
    report.jobs = sessions.len();
    let work: Vec<Work> = chosen
        .iter()
        .map(|(relation, _, _)| Work {
            label: relation.display(),
            statements: vec![mode.statement(relation)],
        })
        .collect();
    let stages: Vec<Vec<String>> = if mode.in_stages {
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
    };
    let mut results: Vec<Finished> = Vec::new();
    for (stage, setup) in stages.iter().enumerate() {
        let label = if stages.len() > 1 {
            format!("{} (stage {} of {})", mode.name(), stage + 1, stages.len())
        } else {
            mode.name().to_string()
        };
        let counter = Counter::new(printer.progress, work.len(), &label);
        let stage_results = jobs::run_all(&mut sessions, setup, &work, &counter).await;
        counter.finish();
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
    drop(sessions);

    let after = measure(
        &client,
        &chosen.iter().map(|(r, _, _)| r.oid).collect::<Vec<_>>(),
        false,
    )
    .await?;
    let stale_counts = mode.full && !mode.analyze;
    for ((relation, _, _), (row, result)) in chosen.iter().zip(report.tables.iter_mut().zip(&results)) {
        row.status = result.outcome.status().into();
        row.detail = result.outcome.detail().map(str::to_string);
        row.seconds = result.seconds;
        let mut state = state_of(&after, relation.oid);
        if stale_counts && result.outcome == Outcome::Done {
            // VACUUM FULL rewrites the table but does not report to the statistics; only ANALYZE would.
            state.live_tuples = None;
            state.dead_tuples = None;
        }
        row.after = Some(state);
    }
    (report.done, report.skipped, report.failed) = super::tally(results.iter().map(|r| r.outcome.status()));
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
    report.seconds = started.elapsed().as_secs_f64();
    printer.report(&report)?;
    if report.skipped > 0 {
        let names: Vec<String> = report
            .tables
            .iter()
            .filter(|t| t.status == "skipped")
            .map(|t| format!("{}.{}", t.schema, t.table))
            .collect();
        printer.warn(&format!("skipped (lock not available): {}", names.join(", ")));
    }
    if report.failed > 0 {
        let names: Vec<String> = report
            .tables
            .iter()
            .filter(|t| t.status == "failed")
            .map(|t| format!("{}.{} ({})", t.schema, t.table, t.detail.as_deref().unwrap_or("failed")))
            .collect();
        return Err(super::partial_failure(
            "tables",
            &names,
            report.tables.len(),
            "A lock timeout means another session held the table: retry later, raise `[database] lock_timeout`, or \
             pass --skip-locked to skip such tables",
        ));
    }
    Ok(ExitStatus::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relation(columns: &[&str]) -> Relation {
        Relation {
            oid: 1,
            schema: "public".into(),
            name: "a\"; DROP TABLE x; --".into(),
            kind: 'r',
            columns: columns.iter().map(|c| (*c).to_string()).collect(),
        }
    }

    fn mode() -> Mode {
        Mode {
            analyze: true,
            analyze_only: false,
            in_stages: false,
            full: false,
            freeze: false,
            no_truncate: false,
            skip_locked: false,
        }
    }

    #[test]
    fn statements_quote_every_identifier() {
        assert_eq!(
            mode().statement(&relation(&["Email"])),
            "VACUUM (ANALYZE) \"public\".\"a\"\"; DROP TABLE x; --\" (\"Email\")"
        );
        let full = Mode {
            full: true,
            analyze: false,
            no_truncate: true,
            skip_locked: true,
            ..mode()
        };
        assert_eq!(
            full.statement(&relation(&[])),
            "VACUUM (FULL, SKIP_LOCKED) \"public\".\"a\"\"; DROP TABLE x; --\""
        );
        let analyze = Mode {
            analyze_only: true,
            skip_locked: true,
            ..mode()
        };
        assert!(analyze.statement(&relation(&[])).starts_with("ANALYZE (SKIP_LOCKED) "));
    }

    #[test]
    fn ratios_are_between_zero_and_one() {
        assert_eq!(super::super::parse_ratio("0.2"), Ok(0.2));
        assert!(super::super::parse_ratio("20").is_err());
        assert!(super::super::parse_ratio("x").is_err());
    }
}
