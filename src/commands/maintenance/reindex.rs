//! `campctl reindex`: REINDEX [CONCURRENTLY] with reindexdb's scope options, selection by measured bloat and size,
//! clean-up of invalid indexes, parallel sessions per table, and a before/after size report (runbook 3.2.2, 7.3).
//!
//! One statement per index, built from the catalog's names: `REINDEX INDEX CONCURRENTLY "s"."i"` by default. The
//! indexes of one table run one after another on one session (two concurrent rebuilds of one table would wait for
//! each other's lock); tables run in parallel with `--jobs`. [`measure`] reads sizes and bloat.

mod duplicates;
mod measure;

use std::fmt::Write as _;
use std::time::Instant;

use clap::Args;
use serde::Serialize;
use tokio_postgres::error::SqlState;

use self::measure::{Bloat, Candidate};
use super::jobs::{self, Counter, Work};
use super::scope::{self, ScopeArgs};
use crate::Ctx;
use crate::exit::{ExitStatus, UserError};
use crate::interrupt;
use crate::pg::quote_ident;
use crate::printer::{Cell, Printer, Report, Table};
use crate::units::{ByteSize, format_bytes, format_seconds};

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

/// What is done to an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Reindex,
    /// `DROP INDEX CONCURRENTLY` of an invalid leftover of REINDEX CONCURRENTLY.
    Drop,
}

/// The statement for one index; the names come from the catalog and are always quoted.
fn statement(action: Action, schema: &str, index: &str, concurrently: bool) -> String {
    let target = format!("{}.{}", quote_ident(schema), quote_ident(index));
    match (action, concurrently) {
        (Action::Reindex, true) => format!("REINDEX INDEX CONCURRENTLY {target}"),
        (Action::Reindex, false) => format!("REINDEX INDEX {target}"),
        // Dropping an invalid index never needs the exclusive lock of a plain DROP INDEX.
        (Action::Drop, _) => format!("DROP INDEX CONCURRENTLY {target}"),
    }
}

/// `_ccnew`/`_ccold` (with an optional number) when `name` is what a failed REINDEX CONCURRENTLY leaves behind: the
/// unfinished new copy, or the old copy after the swap.
fn leftover_suffix(name: &str) -> Option<&'static str> {
    let stem = name.trim_end_matches(|c: char| c.is_ascii_digit());
    ["_ccnew", "_ccold"].into_iter().find(|suffix| stem.ends_with(suffix))
}

/// One index of the plan and its result.
#[derive(Debug, Serialize)]
pub struct IndexResult {
    pub schema: String,
    pub table: String,
    pub index: String,
    pub action: Action,
    /// Why it was chosen.
    pub reason: String,
    pub statement: String,
    /// `planned` (dry run), `done`, `skipped` or `failed`.
    pub status: String,
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
pub struct ReindexReport {
    pub database: String,
    pub dry_run: bool,
    pub concurrently: bool,
    /// `--invalid`: only invalid indexes.
    pub invalid_only: bool,
    pub jobs: usize,
    pub indexes: Vec<IndexResult>,
    /// Indexes in scope that were left out; `notes` says why.
    pub not_selected: usize,
    pub notes: Vec<String>,
    pub done: usize,
    pub skipped: usize,
    pub failed: usize,
    pub size_bytes_before: i64,
    pub size_bytes_after: i64,
    pub reclaimed_bytes: i64,
    /// Invalid `_ccnew`/`_ccold` indexes that failed rebuilds left behind (`campctl reindex --invalid` drops them).
    pub leftovers: Vec<String>,
    pub seconds: f64,
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
        if self.dry_run {
            let mut plan = Table::new(
                format!(
                    "Plan: {how}, {} in `{}` (dry run)",
                    indexes(self.indexes.len()),
                    self.database
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
                indexes(self.indexes.len()),
                self.database
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
                i.status.as_str().into(),
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
            "{} done, {} skipped, {} failed; size {} → {}, {} reclaimed; {} with {} job{}",
            self.done,
            self.skipped,
            self.failed,
            format_bytes(self.size_bytes_before),
            format_bytes(self.size_bytes_after),
            format_bytes(self.reclaimed_bytes),
            format_seconds(self.seconds),
            self.jobs,
            if self.jobs == 1 { "" } else { "s" }
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

/// `1 index`, `2 indexes`.
fn indexes(count: usize) -> String {
    format!("{count} {}", if count == 1 { "index" } else { "indexes" })
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Why an index in scope was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LeftOut {
    /// Valid, with --invalid: not counted.
    Valid,
    Invalid,
    BeingBuilt,
    Exclusion,
    BelowThreshold,
    UnknownBloat,
    UnknownSize,
}

impl LeftOut {
    const NOTED: [Self; 6] = [
        Self::Invalid,
        Self::BeingBuilt,
        Self::Exclusion,
        Self::BelowThreshold,
        Self::UnknownBloat,
        Self::UnknownSize,
    ];

    fn note(self, count: usize) -> String {
        let why = match self {
            Self::Valid => "left out as valid (--invalid)",
            Self::Invalid => {
                "left out as invalid: `campctl reindex --invalid` rebuilds them, or drops the leftovers of a failed \
                 REINDEX CONCURRENTLY"
            }
            Self::BeingBuilt => "left out as invalid while another session runs CREATE INDEX or REINDEX on their table",
            Self::Exclusion => {
                "of exclusion constraints left out: REINDEX CONCURRENTLY does not support them; use --no-concurrently"
            }
            Self::BelowThreshold => "in scope below the thresholds",
            Self::UnknownBloat => {
                "of unknown bloat left out (--min-bloat-ratio needs pgstattuple, or a btree on an analyzed table)"
            }
            Self::UnknownSize => "of unknown size left out (--min-size; another session holds an exclusive lock)",
        };
        format!("{} {why}", indexes(count))
    }
}

/// The options that choose indexes.
struct Selection {
    invalid: bool,
    concurrently: bool,
    min_bloat_ratio: Option<f64>,
    min_size: Option<u64>,
}

impl Selection {
    /// What to do with an index and why, or why it is left out.
    fn choose(&self, index: &Candidate, bloat: &Bloat) -> Result<(Action, String), LeftOut> {
        if self.invalid {
            if index.valid {
                return Err(LeftOut::Valid);
            }
            if index.being_built {
                return Err(LeftOut::BeingBuilt);
            }
            if let Some(suffix) = leftover_suffix(&index.name) {
                let what = if suffix == "_ccnew" {
                    "the unfinished new copy; the original index is intact"
                } else {
                    "the old copy, already replaced"
                };
                return Ok((
                    Action::Drop,
                    format!("invalid `{suffix}` leftover of a failed REINDEX CONCURRENTLY ({what}): drop it"),
                ));
            }
            if index.exclusion && self.concurrently {
                return Err(LeftOut::Exclusion);
            }
            return Ok((
                Action::Reindex,
                "invalid (e.g. a failed CREATE INDEX CONCURRENTLY): rebuild it".into(),
            ));
        }
        if !index.valid {
            return Err(LeftOut::Invalid);
        }
        if index.exclusion && self.concurrently {
            return Err(LeftOut::Exclusion);
        }
        let mut reasons = Vec::new();
        if let Some(min) = self.min_bloat_ratio {
            let Some(ratio) = bloat.ratio else {
                return Err(LeftOut::UnknownBloat);
            };
            if ratio < min {
                return Err(LeftOut::BelowThreshold);
            }
            reasons.push(format!(
                "bloat {:.1}% ({}) ≥ {:.1}%",
                ratio * 100.0,
                bloat.source.name(),
                min * 100.0
            ));
        }
        if let Some(min) = self.min_size {
            let Some(size) = index.size_bytes else {
                return Err(LeftOut::UnknownSize);
            };
            if (size as u64) < min {
                return Err(LeftOut::BelowThreshold);
            }
            reasons.push(format!("size {} ≥ {}", format_bytes(size), format_bytes(min as i64)));
        }
        if reasons.is_empty() {
            reasons.push("in scope".into());
        }
        Ok((Action::Reindex, reasons.join("; ")))
    }
}

/// The candidate indexes of the scope: `--index`es, the indexes of the `--table`s (or of every table, narrowed by
/// `--schema` / `--exclude-schema`).
async fn find(client: &tokio_postgres::Client, args: &ReindexArgs) -> anyhow::Result<Vec<Candidate>> {
    let mut indexes = Vec::new();
    for spec in &args.indexes {
        let (oid, schema, name, kind) = scope::resolve_relation(client, spec, "Index").await?;
        match kind {
            'i' => {}
            'I' => {
                return Err(UserError::usage(format!(
                    "`{spec}` is a partitioned index: campctl rebuilds the indexes of the partitions"
                ))
                .with_hint("Name the partitions' indexes, or the partitioned table with --table")
                .into());
            }
            _ => return Err(UserError::usage(format!("`{spec}` is not an index (relkind `{kind}`)")).into()),
        }
        if matches!(schema.as_str(), "pg_catalog" | "information_schema") || schema.starts_with("pg_toast") {
            return Err(UserError::usage(format!(
                "`{schema}.{name}` is a system index: campctl reindexes user tables only"
            ))
            .into());
        }
        indexes.push(oid);
    }
    let (mut tables, mut partitioned) = (Vec::new(), Vec::new());
    if args.indexes.is_empty() || !args.scope.tables.is_empty() || !args.scope.schemas.is_empty() {
        for relation in scope::tables(client, &args.scope).await? {
            if relation.kind == 'p' {
                partitioned.push(relation.oid);
            } else {
                tables.push(relation.oid);
            }
        }
    } else {
        scope::check_schemas(client, &args.scope.exclude_schemas).await?;
    }
    measure::candidates(client, &tables, &partitioned, &indexes).await
}

/// Runs `campctl reindex`.
///
/// # Errors
/// Bad options (exit 2), a missing table, index or schema (10), a refused confirmation (2), some indexes failed (3).
pub async fn reindex(args: ReindexArgs, ctx: &Ctx, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    for spec in &args.scope.tables {
        if !scope::split_columns(spec)?.1.is_empty() {
            return Err(UserError::usage(format!("`{spec}`: reindex takes no column list"))
                .with_hint("Name the table alone, e.g. `--table users`, or one index with --index")
                .into());
        }
    }
    let selection = Selection {
        invalid: args.invalid,
        concurrently: !args.no_concurrently,
        min_bloat_ratio: args.min_bloat_ratio,
        min_size: args.min_size.map(|size| size.0),
    };
    let client = ctx.connect().await?;
    let candidates = find(&client, &args).await?;
    let bloats = measure::bloat(&client, &candidates, selection.min_bloat_ratio.is_some()).await?;

    let mut chosen: Vec<(Candidate, Bloat, Action, String)> = Vec::new();
    let mut left_out = Vec::new();
    for (candidate, bloat) in candidates.into_iter().zip(bloats) {
        match selection.choose(&candidate, &bloat) {
            Ok((action, why)) => chosen.push((candidate, bloat, action, why)),
            Err(LeftOut::Valid) => {}
            Err(reason) => left_out.push(reason),
        }
    }
    // The catalog order groups indexes by table (biggest first); within a table, leftovers are dropped first.
    let table_order: Vec<u32> = chosen.iter().fold(Vec::new(), |mut order, (c, ..)| {
        if !order.contains(&c.table_oid) {
            order.push(c.table_oid);
        }
        order
    });
    let rank = |oid: u32| table_order.iter().position(|t| *t == oid).unwrap_or(usize::MAX);
    chosen.sort_by_key(|(c, _, action, _)| (rank(c.table_oid), *action != Action::Drop));

    let mut report = ReindexReport {
        database: ctx.settings.db.dbname.clone(),
        dry_run: ctx.settings.dry_run,
        concurrently: selection.concurrently,
        invalid_only: args.invalid,
        jobs: args.jobs as usize,
        indexes: chosen
            .iter()
            .map(|(c, bloat, action, why)| IndexResult {
                schema: c.schema.clone(),
                table: c.table.clone(),
                index: c.name.clone(),
                action: *action,
                reason: why.clone(),
                statement: statement(*action, &c.schema, &c.name, selection.concurrently),
                status: "planned".into(),
                detail: None,
                size_before_bytes: c.size_bytes,
                size_after_bytes: None,
                reclaimed_bytes: None,
                bloat_before: bloat.clone(),
                seconds: 0.0,
                duplicates_query: None,
            })
            .collect(),
        not_selected: left_out.len(),
        notes: LeftOut::NOTED
            .iter()
            .map(|kind| (kind, left_out.iter().filter(|l| *l == kind).count()))
            .filter(|(_, count)| *count > 0)
            .map(|(kind, count)| kind.note(count))
            .collect(),
        done: 0,
        skipped: 0,
        failed: 0,
        size_bytes_before: chosen.iter().filter_map(|(c, ..)| c.size_bytes).sum(),
        size_bytes_after: 0,
        reclaimed_bytes: 0,
        leftovers: Vec::new(),
        seconds: 0.0,
    };
    if ctx.settings.dry_run || chosen.is_empty() {
        report.seconds = started.elapsed().as_secs_f64();
        printer.report(&report)?;
        return Ok(ExitStatus::Success);
    }
    let rebuilds = chosen.iter().filter(|(_, _, a, _)| *a == Action::Reindex).count();
    if !selection.concurrently && rebuilds > 0 {
        printer.confirm(
            &format!(
                "REINDEX without CONCURRENTLY blocks writes to {} table(s) in `{}`, and reads that use the index, while \
                 each of {rebuilds} index(es) is rebuilt ({} now). Continue?",
                table_order.len(),
                report.database,
                format_bytes(report.size_bytes_before)
            ),
            ctx.settings.yes,
        )?;
    }

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
    let mut sessions = jobs::open(&ctx.settings.db, ctx.settings.session, args.jobs as usize, printer).await?;
    report.jobs = sessions.len();
    let counter = Counter::new(printer.progress, work.len(), "reindex");
    // If this run is interrupted, say what a cancelled REINDEX CONCURRENTLY leaves behind and how to clean it up.
    let note = selection.concurrently.then(|| {
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
            result.status = step.outcome.status().into();
            result.detail = step.outcome.detail().map(str::to_string);
            result.seconds = step.seconds;
            if step.outcome.code() == Some(&SqlState::UNIQUE_VIOLATION) && result.action == Action::Reindex {
                unique_violations.push(*row);
            }
        }
    }
    explain_duplicates(&client, &chosen, &mut report, &unique_violations).await?;
    let names: Vec<(String, String)> = report
        .indexes
        .iter()
        .map(|i| (i.schema.clone(), i.index.clone()))
        .collect();
    let after = measure::sizes_by_name(&client, &names).await?;
    for (result, size) in report.indexes.iter_mut().zip(after) {
        result.size_after_bytes = match (result.action, result.status.as_str(), size) {
            (Action::Drop, "done", _) => Some(0),
            (_, _, size) => size.flatten(),
        };
        result.reclaimed_bytes = result
            .size_before_bytes
            .zip(result.size_after_bytes)
            .map(|(before, after)| before - after);
    }
    note_leftovers(&client, &chosen, &mut report).await?;
    (report.done, report.skipped, report.failed) = super::tally(report.indexes.iter().map(|i| i.status.as_str()));
    report.size_bytes_after = report.indexes.iter().filter_map(|i| i.size_after_bytes).sum();
    report.reclaimed_bytes = report.indexes.iter().filter_map(|i| i.reclaimed_bytes).sum();
    report.seconds = started.elapsed().as_secs_f64();
    printer.report(&report)?;
    if report.failed > 0 {
        let failed: Vec<String> = report
            .indexes
            .iter()
            .filter(|i| i.status == "failed")
            .map(|i| format!("{}.{} ({})", i.schema, i.index, i.detail.as_deref().unwrap_or("failed")))
            .collect();
        let hint = if unique_violations.is_empty() {
            "A lock timeout means another session held the table: retry later or raise `[database] lock_timeout`. \
             A failed or cancelled REINDEX CONCURRENTLY can leave an invalid `<index>_ccnew` index behind: \
             `campctl reindex --invalid` removes it"
        } else {
            "A unique index cannot be rebuilt while its table holds duplicate keys: remove the duplicates first \
             (the query under the report, `duplicates_query` in JSON, lists them), then run the same command again"
        };
        return Err(super::partial_failure("indexes", &failed, report.indexes.len(), hint));
    }
    Ok(ExitStatus::Success)
}

/// Whether the invalid index `schema.name` of `table` was there before this run (and not dropped by it).
fn was_there(
    chosen: &[(Candidate, Bloat, Action, String)],
    report: &ReindexReport,
    table: u32,
    schema: &str,
    name: &str,
) -> bool {
    chosen.iter().zip(&report.indexes).any(|((c, ..), result)| {
        c.table_oid == table
            && c.name == name
            && c.schema == schema
            && !(result.action == Action::Drop && result.status == "done")
    })
}

/// After rebuilds that failed on duplicate keys (`rows` of the report): drops the `_ccnew` copy each one left (it
/// can never be completed while the duplicates are there; re-running would only make another) and says that the
/// duplicates must go first, with a query that lists them. See [`duplicates`].
async fn explain_duplicates(
    client: &tokio_postgres::Client,
    chosen: &[(Candidate, Bloat, Action, String)],
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
    chosen: &[(Candidate, Bloat, Action, String)],
    report: &mut ReindexReport,
) -> anyhow::Result<()> {
    let mut failed_tables: Vec<u32> = chosen
        .iter()
        .zip(&report.indexes)
        .filter(|(_, result)| result.status == "failed")
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
            if result.status == "failed" && result.schema == schema && own {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_quote_every_identifier() {
        let name = "a\"; DROP INDEX x; --_idx";
        assert_eq!(
            statement(Action::Reindex, "public", name, true),
            "REINDEX INDEX CONCURRENTLY \"public\".\"a\"\"; DROP INDEX x; --_idx\""
        );
        assert_eq!(
            statement(Action::Reindex, "Sales Data", "données_été_idx", false),
            "REINDEX INDEX \"Sales Data\".\"données_été_idx\""
        );
        assert_eq!(
            statement(Action::Drop, "public", "t_pkey_ccnew", false),
            "DROP INDEX CONCURRENTLY \"public\".\"t_pkey_ccnew\"",
            "a leftover is always dropped concurrently"
        );
    }

    #[test]
    fn leftovers_of_reindex_concurrently_are_recognised_by_name() {
        assert_eq!(leftover_suffix("t_pkey_ccnew"), Some("_ccnew"));
        assert_eq!(leftover_suffix("t_pkey_ccnew1"), Some("_ccnew"));
        assert_eq!(leftover_suffix("t_pkey_ccold12"), Some("_ccold"));
        assert_eq!(leftover_suffix("t_pkey"), None);
        assert_eq!(leftover_suffix("t_ccnew_x"), None);
        assert_eq!(leftover_suffix("t_pkey_ccnewer"), None);
        assert_eq!(leftover_suffix("ccnew"), None);
    }

    #[test]
    fn ratios_are_between_zero_and_one() {
        assert_eq!(super::super::parse_ratio("0.3"), Ok(0.3));
        assert!(super::super::parse_ratio("30").is_err());
        assert!(super::super::parse_ratio("x").is_err());
    }
}
