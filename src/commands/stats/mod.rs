//! `campctl stats [SECTION]`: read-only database statistics, the runbook's monitoring SQL (3.1.3, 3.3.2,
//! 3.4.1–3.4.3, 8.1.1) as one command.
//!
//! `StatsArgs` (clap) is resolved into [`StatsSettings`] before anything runs. Each section lives in its own module
//! with one `#[derive(Serialize)]` report and an `async fn collect`; without a section, [`summary`] runs the parts
//! it needs concurrently on one connection (tokio-postgres pipelines the queries). The only writes are
//! `pg_terminate_backend` calls of `queries --terminate` / `--terminate-idle`, after confirmation ([`terminate`]).
//!
//! Everything here must work for a role with `pg_monitor` and degrade for a role without it: a part the role
//! cannot see becomes "unknown" (`null` in JSON), never an error of the whole command.

mod connections;
mod database;
mod indexes;
mod queries;
mod replication;
mod settings;
mod summary;
mod tables;
mod terminate;
mod terminate_report;
mod vacuum;
mod workers;

use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use crate::commands::Ctx;
use crate::config_file::StatsConfig;
use crate::exit::{ExitStatus, UserError};
use crate::printer::{Cell, Printer};
use crate::units::HumanDuration;

/// Rows per table when neither `--limit` nor `[stats] limit` is given.
pub(crate) const DEFAULT_LIMIT: u32 = 20;
/// `--min-duration` when neither the flag nor `[stats] min_duration` is given (runbook 3.4.3: five minutes).
pub(crate) const DEFAULT_MIN_DURATION: Duration = Duration::from_secs(300);

/// Database statistics: tables, indexes, connections, queries, vacuum, database, replication, settings
///
/// One section, or a one-screen summary without SECTION. Read-only, except `queries --terminate` /
/// `--terminate-idle`, which end sessions after a confirmation. Works as a role with `pg_monitor`; without it, what the role cannot see is shown as `unknown`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Section to show [default: a one-screen summary of all sections]
    #[arg(value_enum, value_name = "SECTION")]
    pub section: Option<Section>,

    /// Rows per table, at least 1 [default: `[stats] limit` in campctl.toml, else 20]
    ///
    /// 0 is refused: there is no "unlimited", because every section ranks and cuts on the server.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i64::from(u32::MAX)))]
    pub limit: Option<u32>,

    /// Only tables of this schema in `tables`, `indexes` and `vacuum` (repeatable; SQL name rules: quote capitals,
    /// `'"Sales"'`)
    ///
    /// Unquoted names fold to lower case, as in psql and `campctl vacuum --schema`. Without it, every schema except `pg_catalog`, `information_schema`, `pg_toast` and temporary schemas.
    #[arg(long = "schema", value_name = "SCHEMA")]
    pub schemas: Vec<String>,

    /// Report statements running (or transactions idle) at least this long [default: `[stats] min_duration`, else 5m]
    #[arg(long, value_name = "DUR")]
    pub min_duration: Option<HumanDuration>,

    /// End these sessions with pg_terminate_backend, after confirmation (`queries` only)
    ///
    /// Lists the sessions first; asks on a terminal, needs `--yes` without one; `--dry-run` only lists them.
    /// A PID that does not exist is reported as not found (exit 10 when none of them exists).
    #[arg(long, value_name = "PID", num_args = 1.., conflicts_with = "terminate_idle")]
    pub terminate: Vec<i32>,

    /// End sessions of the current database idle (in transaction or not) for longer than DUR (`queries` only)
    ///
    /// Runbook 8.1.1. Client sessions only; never campctl's own sessions (application_name `campctl*`).
    /// Lists the sessions first and asks like `--terminate`.
    #[arg(long, value_name = "DUR")]
    pub terminate_idle: Option<HumanDuration>,
}

/// A section of `campctl stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Section {
    /// Table sizes (total, heap, indexes, TOAST), live and dead tuples, last vacuum/analyze, scans (runbook 3.4.1)
    Tables,
    /// Index sizes and scans; unused, invalid and duplicate indexes (runbook 3.3.2)
    Indexes,
    /// Connections per database and state against max_connections (runbook 3.4.2, 8.1.1)
    Connections,
    /// Long-running statements, idle-in-transaction sessions, lock waits; can end sessions (runbook 3.4.3, 8.1.1)
    Queries,
    /// Dead tuples against the autovacuum threshold, transaction ID age, running vacuums (runbook 3.1)
    Vacuum,
    /// Size, cache hit ratio, commits and rollbacks, deadlocks, temporary files per database
    Database,
    /// Streaming replicas and their lag, replication slots and the WAL they retain
    Replication,
    /// Autovacuum and connection settings against the runbook's recommendations (runbook 3.1.3)
    Settings,
}

/// What `--terminate` / `--terminate-idle` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TerminateTarget {
    /// These process ids, in any database.
    Pids(Vec<i32>),
    /// Idle sessions of the current database whose state changed longer ago than this.
    Idle(Duration),
}

/// `campctl stats`, resolved: flags > `[stats]` in campctl.toml > built-in defaults.
#[derive(Debug, Clone)]
pub(crate) struct StatsSettings {
    pub section: Option<Section>,
    pub limit: u32,
    /// `None`: every non-system schema.
    pub schemas: Option<Vec<String>>,
    pub min_duration: Duration,
    pub terminate: Option<TerminateTarget>,
    /// The `application_name` of campctl's sessions (never ended by `--terminate-idle`).
    pub application_name: String,
    pub yes: bool,
    pub dry_run: bool,
}

impl StatsSettings {
    /// Merges the flags with the `[stats]` section and checks the combination.
    ///
    /// # Errors
    /// A usage error (exit 2): `--terminate*` without the `queries` section, a zero limit, a PID below 1.
    pub(crate) fn resolve(args: StatsArgs, file: &StatsConfig, ctx: &Ctx) -> anyhow::Result<Self> {
        let limit = args.limit.or(file.limit).unwrap_or(DEFAULT_LIMIT);
        if limit == 0 {
            let origin = match (&args.limit, &ctx.settings.config.path) {
                (Some(_), _) => "`--limit`".to_string(),
                (None, Some(path)) => format!("`[stats] limit` in `{}`", path.display()),
                (None, None) => "`[stats] limit`".to_string(),
            };
            return Err(UserError::usage(format!("{origin} must be at least 1"))
                .with_hint("Give the number of rows per table, 1 or more, e.g. `--limit 20`; 0 does not mean unlimited")
                .into());
        }
        let terminate = match (args.terminate.is_empty(), args.terminate_idle) {
            (true, None) => None,
            (false, _) => Some(TerminateTarget::Pids(dedup(args.terminate))),
            (true, Some(idle)) => Some(TerminateTarget::Idle(idle.0)),
        };
        if let Some(target) = &terminate {
            let flag = match target {
                TerminateTarget::Pids(_) => "--terminate",
                TerminateTarget::Idle(_) => "--terminate-idle",
            };
            if args.section != Some(Section::Queries) {
                return Err(
                    UserError::usage(format!("`{flag}` only works with the `queries` section"))
                        .with_hint(format!("Run `campctl stats queries {flag} ...`"))
                        .into(),
                );
            }
            let bad = match target {
                TerminateTarget::Pids(pids) => pids.iter().find(|pid| **pid < 1),
                TerminateTarget::Idle(_) => None,
            };
            if let Some(bad) = bad {
                return Err(UserError::usage(format!("`{bad}` is not a process id"))
                    .with_hint("Take the PIDs from `campctl stats queries` or `campctl stats connections`")
                    .into());
            }
        }
        let schemas = (!args.schemas.is_empty()).then(|| dedup(args.schemas));
        if schemas.is_some()
            && !matches!(
                args.section,
                None | Some(Section::Tables | Section::Indexes | Section::Vacuum)
            )
        {
            tracing::debug!("`--schema` has no effect on this section");
        }
        Ok(Self {
            section: args.section,
            limit,
            schemas,
            min_duration: args
                .min_duration
                .or(file.min_duration)
                .map_or(DEFAULT_MIN_DURATION, |d| d.0),
            terminate,
            application_name: ctx.settings.db.application_name.clone(),
            yes: ctx.settings.yes,
            dry_run: ctx.settings.dry_run,
        })
    }

    /// `--limit` for SQL (`LIMIT $n` takes a bigint).
    pub(crate) fn limit(&self) -> i64 {
        i64::from(self.limit)
    }
}

fn dedup<T: PartialEq>(items: Vec<T>) -> Vec<T> {
    let mut unique = Vec::with_capacity(items.len());
    for item in items {
        if !unique.contains(&item) {
            unique.push(item);
        }
    }
    unique
}

/// Runs `campctl stats …`.
///
/// # Errors
/// A usage error, the connection failed (with its own exit code), a query failed, or stdout could not be written.
#[tracing::instrument(skip_all, fields(section = ?args.section))]
pub(crate) async fn stats(args: StatsArgs, ctx: &Ctx, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let mut settings = StatsSettings::resolve(args, &ctx.settings.config.sections.stats, ctx)?;
    let client = ctx.connect().await?;
    // The same name rules as vacuum and reindex: a missing schema is a mistake to report (exit 10), not an empty
    // table to show.
    if let Some(schemas) = settings.schemas.take() {
        settings.schemas = Some(crate::pg::names::resolve_schemas(&client, &schemas).await?);
    }
    Box::pin(run(&settings, &client, printer)).await
}

async fn run(settings: &StatsSettings, client: &Client, printer: &Printer) -> anyhow::Result<ExitStatus> {
    if let Some(target) = &settings.terminate {
        return terminate::terminate(target, settings, client, printer).await;
    }
    match settings.section {
        None => printer.report(&Box::pin(summary::collect(client, settings, printer)).await?)?,
        Some(Section::Tables) => printer.report(&tables::collect(client, settings).await?)?,
        Some(Section::Indexes) => printer.report(&indexes::collect(client, settings).await?)?,
        Some(Section::Connections) => printer.report(&connections::collect(client).await?)?,
        Some(Section::Queries) => printer.report(&queries::collect(client, settings).await?)?,
        Some(Section::Vacuum) => {
            let report = vacuum::collect(client, settings).await?;
            if report.autovacuum == Some(false) {
                printer.warn("`autovacuum` is off: dead tuples pile up and nothing prevents transaction ID wraparound");
            }
            if report.track_counts == Some(false) {
                printer.warn("`track_counts` is off: autovacuum cannot see which tables need it");
            }
            printer.report(&report)?;
        }
        Some(Section::Database) => printer.report(&database::collect(client, false).await?)?,
        Some(Section::Replication) => printer.report(&replication::collect(client).await?)?,
        Some(Section::Settings) => {
            let report = settings::collect(client).await?;
            settings::warn_loudly(&report, printer);
            printer.report(&report)?;
        }
    }
    Ok(ExitStatus::Success)
}

/// `$1` of the `tables`, `indexes` and `vacuum` queries: the `--schema` list, or NULL for every non-system schema.
/// Needs `n` = `pg_namespace` of the relation. User input only ever arrives as the parameter.
macro_rules! schema_filter {
    () => {
        "(CASE WHEN $1::text[] IS NULL \
              THEN n.nspname <> ALL ('{pg_catalog,information_schema}'::name[]) \
                   AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)' \
              ELSE n.nspname::text = ANY ($1::text[]) END)"
    };
}
pub(crate) use schema_filter;

/// CTEs `locked` (relations of this database another session holds or waits for an ACCESS EXCLUSIVE lock on) and
/// `blocked` (the tables whose size functions would wait for one: locked themselves, or their TOAST table or an
/// index is). Size functions lock what they measure, and an ACCESS EXCLUSIVE lock, even one only waited for,
/// makes them wait; campctl says "unknown" instead.
macro_rules! blocked_tables {
    () => {
        "locked AS (
            SELECT l.relation AS oid FROM pg_locks l
            WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.pid <> pg_backend_pid()
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        ), locked_heap AS (
            SELECT oid FROM locked
            UNION SELECT i.indrelid FROM pg_index i JOIN locked ON locked.oid = i.indexrelid
        ), blocked AS (
            SELECT oid FROM locked_heap
            UNION SELECT c.oid FROM pg_class c JOIN locked_heap l ON c.reltoastrelid = l.oid
        )"
    };
}
pub(crate) use blocked_tables;

/// Reads one part of a report. A permission error (SQLSTATE 42501) becomes `None`, shown as "unknown", with a
/// warning; any other error fails with `what` as context.
pub(crate) async fn visible<T>(
    what: &str,
    query: impl Future<Output = Result<T, tokio_postgres::Error>>,
) -> anyhow::Result<Option<T>> {
    match query.await {
        Ok(value) => Ok(Some(value)),
        Err(err) if err.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) => {
            tracing::warn!(
                "{what} is not visible to this role ({}); shown as unknown",
                err.as_db_error()
                    .map_or_else(|| err.to_string(), |e| e.message().to_string())
            );
            Ok(None)
        }
        Err(err) => Err(err).with_context(|| format!("Failed to read {what}")),
    }
}

/// `part / whole` as a percentage, `None` when `whole` is zero.
pub(crate) fn percent(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 * 100.0 / whole as f64)
}

/// A percentage cell; `None` is "never happened" (`-`).
pub(crate) fn percent_cell(value: Option<f64>) -> Cell {
    value.map_or(Cell::Null, Cell::Percent)
}

/// A cell for a value that is `None` when the role cannot see it.
pub(crate) fn known<T: Into<Cell>>(value: Option<T>) -> Cell {
    value.map_or(Cell::Unknown, Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_of_nothing_is_none() {
        assert_eq!(percent(1, 4), Some(25.0));
        assert_eq!(percent(0, 0), None);
    }

    #[test]
    fn dedup_keeps_first_occurrence() {
        assert_eq!(dedup(vec![3, 1, 3, 2, 1]), vec![3, 1, 2]);
    }
}
