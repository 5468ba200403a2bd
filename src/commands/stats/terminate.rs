//! `campctl stats queries --terminate PID...` and `--terminate-idle DUR`: ending sessions with
//! `pg_terminate_backend`, the only writes of `campctl stats` (runbook 3.4.3 and 8.1.1).
//!
//! Safety, in order: the plan (the sessions that would be ended) is computed first and shown on stderr; `--dry-run`
//! prints it as the report and stops; otherwise the user confirms (`--yes` without a terminal, else exit 2).
//! Each session is then ended by its own statement that re-checks the plan: the same PID *and* the same
//! `backend_start` (a PID reused by a new session is not touched), and for `--terminate-idle` still idle since
//! before the cut-off (a session that woke up meanwhile is left alone). A session that has gone away meanwhile is
//! reported, not an error; a permission error ends that one session's attempt, not the command.
//!
//! Only client backends (`backend_type = 'client backend'`) are ever ended: a `--terminate` PID of a background
//! process (the autovacuum launcher, a WAL sender, a parallel worker, the checkpointer, ...) refuses the whole
//! command before anything is ended (exit 2), naming the process's type, and so does a PID whose type this role
//! cannot see (another role's process without `pg_read_all_stats`): campctl could not tell it from a background
//! worker. The statement that ends a session re-checks the type.
//!
//! `--terminate-idle` takes client sessions of the current database only, in state `idle`, `idle in transaction`
//! or `idle in transaction (aborted)` whose state changed more than DUR ago; never campctl's own sessions
//! (`application_name` starting with `campctl`, or the configured one), which may hold a backup's lock, and never
//! sessions whose state this role cannot see.
//!
//! The report (each session's [`Outcome`]) is in `terminate_report.rs`.

use std::fmt::Write as _;

use chrono::Utc;
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::terminate_report::{Outcome, TerminateReport, TerminateRow};
use super::{StatsSettings, TerminateTarget};
use crate::exit::{ExitStatus, UserError};
use crate::printer::{Cell, Printer};
use crate::units::format_seconds;

/// How long `pg_terminate_backend` waits for a session to exit (PostgreSQL 14+).
const TERMINATE_TIMEOUT_MS: i64 = 5000;

const PLAN_COLUMNS: &str = "pid, datname::text, usename::text, application_name, backend_type, state, backend_start,
    extract(epoch FROM now() - state_change)::float8, CASE WHEN state IS NOT NULL THEN query END,
    pid = pg_backend_pid()";

/// The states `--terminate-idle` ends.
const IDLE_STATES: &str = "state IN ('idle', 'idle in transaction', 'idle in transaction (aborted)')";

/// Plans, confirms and ends the sessions.
///
/// # Errors
/// A query failed, the confirmation was refused (exit 2), or stdout could not be written.
pub(crate) async fn terminate(
    target: &TerminateTarget,
    settings: &StatsSettings,
    client: &Client,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let version = crate::pg::database::server_version(client).await?.num;
    let (mode, idle_seconds, mut sessions) = match target {
        TerminateTarget::Pids(pids) => ("pids", None, plan_pids(client, pids).await?),
        TerminateTarget::Idle(idle) => (
            "idle",
            Some(idle.as_secs_f64()),
            plan_idle(client, idle.as_secs_f64(), settings).await?,
        ),
    };
    if let TerminateTarget::Pids(_) = target {
        refuse_non_clients(&sessions)?;
    }
    let all_missing =
        matches!(target, TerminateTarget::Pids(_)) && sessions.iter().all(|s| s.outcome == Outcome::NotFound);
    let planned: Vec<usize> = (0..sessions.len())
        .filter(|index| sessions[*index].outcome == Outcome::WouldTerminate)
        .collect();

    if !settings.dry_run && !planned.is_empty() {
        printer.note("Sessions to terminate:");
        for index in &planned {
            printer.note(&format!("  {}", describe(&sessions[*index])));
        }
        let pids: Vec<String> = planned.iter().map(|index| sessions[*index].pid.to_string()).collect();
        let question = format!(
            "Terminate {} session{} (PID {}) with pg_terminate_backend?",
            pids.len(),
            if pids.len() == 1 { "" } else { "s" },
            pids.join(", ")
        );
        printer.confirm(&question, settings.yes)?;
        for index in planned {
            let row = &mut sessions[index];
            (row.outcome, row.message) = end_session(client, row, idle_seconds, version).await;
        }
    } else if settings.dry_run {
        printer.note("Dry run: no session was terminated");
    }

    let report = TerminateReport {
        mode,
        idle_seconds,
        dry_run: settings.dry_run,
        terminated: sessions.iter().filter(|s| s.outcome == Outcome::Terminated).count() as i64,
        sessions,
    };
    printer.report(&report)?;
    if all_missing {
        printer.warn("None of the given PIDs is a session of this server; list them with `campctl stats connections`");
        return Ok(ExitStatus::NotFound);
    }
    let failed: Vec<String> = report
        .sessions
        .iter()
        .filter(|s| s.outcome.failed())
        .map(|s| format!("{} ({})", s.pid, s.outcome.name()))
        .collect();
    if failed.is_empty() {
        return Ok(ExitStatus::Success);
    }
    Ok(printer.partial(
        &format!(
            "{} of {} sessions could not be terminated: {}",
            failed.len(),
            report.sessions.len(),
            failed.join(", ")
        ),
        "`denied` needs the session's role or `pg_signal_backend`; the report's `message` says why each one failed",
    ))
}

/// The backend type of the sessions campctl may end.
const CLIENT_BACKEND: &str = "client backend";

/// Refuses the whole `--terminate` (exit 2, nothing ended) when a PID is not a client session, or when its type
/// is hidden from this role.
fn refuse_non_clients(sessions: &[TerminateRow]) -> anyhow::Result<()> {
    let planned = || sessions.iter().filter(|row| row.outcome == Outcome::WouldTerminate);
    if let Some(row) = planned().find(|row| row.backend_type.as_deref().is_some_and(|t| t != CLIENT_BACKEND)) {
        return Err(UserError::usage(format!(
            "PID {} is not a client session but the server's `{}` process: campctl only ends client backends",
            row.pid,
            row.backend_type.as_deref().unwrap_or_default()
        ))
        .with_hint(
            "Background processes belong to the server; leave them alone. `campctl stats queries` and `campctl \
             stats connections` list the client sessions",
        )
        .into());
    }
    if let Some(row) = planned().find(|row| row.backend_type.is_none()) {
        return Err(UserError::usage(format!(
            "The type of process {} is hidden from this role, so campctl cannot check that it is a client session",
            row.pid
        ))
        .with_hint("Grant `pg_read_all_stats` (part of `pg_monitor`) to this role, or end the session as its own role")
        .into());
    }
    Ok(())
}

fn row_of(row: &tokio_postgres::Row) -> TerminateRow {
    let own: bool = row.get(9);
    TerminateRow {
        pid: row.get(0),
        database: row.get(1),
        user: row.get(2),
        application: row.get(3),
        backend_type: row.get(4),
        state: row.get(5),
        backend_start: row.get(6),
        state_seconds: row.get(7),
        query: row.get(8),
        outcome: if own {
            Outcome::OwnSession
        } else {
            Outcome::WouldTerminate
        },
        message: None,
    }
}

/// `--terminate`: the given PIDs in the order given; a PID without a session is `not_found`.
async fn plan_pids(client: &Client, pids: &[i32]) -> anyhow::Result<Vec<TerminateRow>> {
    let sql = format!("SELECT {PLAN_COLUMNS} FROM pg_stat_activity WHERE pid = ANY ($1)");
    let rows = client.query(&sql, &[&pids]).await?;
    let mut found: Vec<TerminateRow> = rows.iter().map(row_of).collect();
    Ok(pids
        .iter()
        .map(|pid| match found.iter().position(|row| row.pid == *pid) {
            Some(index) => found.swap_remove(index),
            None => TerminateRow {
                pid: *pid,
                database: None,
                user: None,
                application: None,
                backend_type: None,
                state: None,
                state_seconds: None,
                query: None,
                outcome: Outcome::NotFound,
                message: None,
                backend_start: None,
            },
        })
        .collect())
}

/// `--terminate-idle`: the idle client sessions of the current database, longest idle first.
async fn plan_idle(client: &Client, idle_seconds: f64, settings: &StatsSettings) -> anyhow::Result<Vec<TerminateRow>> {
    let sql = format!(
        "SELECT {PLAN_COLUMNS} FROM pg_stat_activity
         WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
           AND {IDLE_STATES} AND state_change < now() - make_interval(secs => $1)
           AND application_name NOT LIKE 'campctl%' AND application_name <> $2
         ORDER BY state_change, pid"
    );
    let rows = client.query(&sql, &[&idle_seconds, &settings.application_name]).await?;
    Ok(rows.iter().map(row_of).collect())
}

/// One line of the plan on stderr.
fn describe(row: &TerminateRow) -> String {
    let mut line = format!("PID {}", row.pid);
    for (label, value) in [
        ("database", &row.database),
        ("user", &row.user),
        ("application", &row.application),
    ] {
        if let Some(value) = value.as_deref().filter(|value| !value.is_empty()) {
            let _ = write!(line, "  {label} `{value}`");
        }
    }
    match (&row.state, row.state_seconds) {
        (Some(state), Some(seconds)) => {
            let _ = write!(line, "  {state} for {}", format_seconds(seconds));
        }
        (Some(state), None) => {
            let _ = write!(line, "  {state}");
        }
        _ => line.push_str("  state unknown"),
    }
    if let Some(query) = &row.query {
        let query = Cell::LongText(query.clone()).display(Utc::now());
        let _ = write!(line, "  {query}");
    }
    line
}

/// Ends one planned session if it still matches the plan.
async fn end_session(
    client: &Client,
    row: &TerminateRow,
    idle_seconds: Option<f64>,
    version: u32,
) -> (Outcome, Option<String>) {
    let call = if version >= 140_000 {
        "pg_terminate_backend(pid, $3)"
    } else {
        "pg_terminate_backend(pid) AND $3::int8 > 0"
    };
    let still_idle = if idle_seconds.is_some() {
        format!(" AND {IDLE_STATES} AND state_change < now() - make_interval(secs => $4)")
    } else {
        " AND $4::float8 >= 0".to_string()
    };
    let sql = format!(
        "SELECT {call} FROM pg_stat_activity
         WHERE pid = $1 AND backend_start IS NOT DISTINCT FROM $2 AND backend_type = '{CLIENT_BACKEND}'{still_idle}"
    );
    let result = client
        .query_opt(
            &sql,
            &[
                &row.pid,
                &row.backend_start,
                &TERMINATE_TIMEOUT_MS,
                &idle_seconds.unwrap_or(0.0),
            ],
        )
        .await;
    let exists = || async {
        client
            .query_opt(
                "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND backend_start IS NOT DISTINCT FROM $2",
                &[&row.pid, &row.backend_start],
            )
            .await
            .ok()
            .flatten()
            .is_some()
    };
    match result {
        Ok(Some(ended)) if ended.get::<_, Option<bool>>(0) == Some(true) => (Outcome::Terminated, None),
        Ok(Some(_)) => (
            if exists().await {
                Outcome::StillRunning
            } else {
                Outcome::Gone
            },
            None,
        ),
        Ok(None) if idle_seconds.is_some() && exists().await => (Outcome::NotIdle, None),
        Ok(None) => (Outcome::Gone, None),
        Err(err) => {
            let message = err
                .as_db_error()
                .map_or_else(|| err.to_string(), |db| db.message().to_string());
            tracing::debug!(pid = row.pid, "pg_terminate_backend failed: {message}");
            if err.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) {
                (Outcome::Denied, Some(message))
            } else {
                (Outcome::Failed, Some(message))
            }
        }
    }
}
