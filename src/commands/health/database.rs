//! The database checks (runbook 5.1.2, 5.1.3, 3.4.3, 8.1.1, and 9.1.1's `SELECT 1`): `database`, `connections`,
//! `replication`, `deadlocks`, `long-queries`, `idle-in-transaction`, `wraparound`, `cache-hit`.
//!
//! All of them share ONE session per run ([`SharedSession`]): the first check that needs it connects, the others
//! wait for that connection and then send their queries at once (tokio-postgres pipelines them on one client).
//! When connecting fails, `database` is CRITICAL with the error's first line and every other database check is
//! UNKNOWN ("no connection: …"). The SQL that `stats` shows too lives in [`crate::pg::monitor`].
//!
//! A role without `pg_monitor` (`pg_read_all_stats`) sees other roles' sessions and replicas without their state,
//! times and positions: what it cannot see makes a check UNKNOWN with the reason, never a guess and never a crash.

mod activity;
mod counters;
mod replication;
pub(crate) mod session;
pub(crate) mod settings;

use std::time::Instant;

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use self::session::first_line;
use super::check::{CheckResult, Level, Unit};
use super::probe::Probe;
use crate::pg::monitor::{CONNECTION_LIMITS_SQL, client_backend};

pub(crate) use self::activity::{idle_in_transaction, long_queries};
pub(crate) use self::counters::{cache_hit, deadlocks, wraparound};
pub(crate) use self::replication::replication;

/// The client for `check`, or the UNKNOWN result that says there is none.
async fn client<'p>(probe: &'p Probe<'_>, check: &'static str) -> Result<&'p Client, Vec<CheckResult>> {
    match probe.db.get(probe.ctx).await {
        Ok(connected) => Ok(&connected.client),
        Err(reason) => Err(vec![CheckResult::unknown(
            check,
            None,
            format!("no connection: {reason}"),
        )]),
    }
}

/// A query's failure as a check's reason: a missing privilege names `pg_monitor`.
fn query_failed(what: &str, err: &tokio_postgres::Error) -> anyhow::Error {
    let message = err
        .as_db_error()
        .map_or_else(|| err.to_string(), |db| db.message().to_string());
    if err.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) {
        anyhow::anyhow!("{what} is not visible to this role ({message}); grant it `pg_monitor`")
    } else {
        anyhow::anyhow!("cannot read {what}: {message}")
    }
}

/// `database`: connect (or take the session another check opened) and run `SELECT 1`; the value is the time to
/// connect plus the time `SELECT 1` took. CRITICAL when the connection or the query fails.
pub(crate) async fn database(probe: &Probe<'_>) -> anyhow::Result<Vec<CheckResult>> {
    const CHECK: &str = "database";
    let connected = match probe.db.get(probe.ctx).await {
        Ok(connected) => connected,
        Err(reason) => {
            return Ok(vec![CheckResult::state(
                CHECK,
                None,
                Level::Critical,
                format!("cannot connect: {reason}"),
            )]);
        }
    };
    let started = Instant::now();
    // The simple protocol: one round trip, as a health probe's `SELECT 1` should be.
    if let Err(err) = connected.client.simple_query("SELECT 1").await {
        return Ok(vec![CheckResult::state(
            CHECK,
            None,
            Level::Critical,
            format!("`SELECT 1` failed: {}", first_line(&err.to_string(), probe.ctx)),
        )]);
    }
    let select_seconds = started.elapsed().as_secs_f64();
    let version = crate::pg::database::server_version(&connected.client)
        .await
        .map_or_else(|_| "unknown version".to_string(), |version| version.text);
    let params = &probe.ctx.settings.db;
    Ok(vec![CheckResult::measured(
        CHECK,
        None,
        connected.connect_seconds + select_seconds,
        Unit::Seconds,
        probe.settings.database.latency,
        format!(
            "connected to `{}` database `{}` in {}, `SELECT 1` in {}; PostgreSQL {version}",
            params.target(),
            params.dbname,
            Unit::Seconds.show(connected.connect_seconds),
            Unit::Seconds.show(select_seconds),
        ),
    )])
}

const CLIENTS_SQL: &str = concat!("SELECT count(*)::int8 FROM pg_stat_activity WHERE ", client_backend!());

/// `connections`: client sessions (campctl's own included) in % of the slots roles without a reservation may
/// use: `max_connections` − `superuser_reserved_connections` − `reserved_connections` (PostgreSQL 16+).
pub(crate) async fn connections(probe: &Probe<'_>) -> anyhow::Result<Vec<CheckResult>> {
    const CHECK: &str = "connections";
    let client = match client(probe, CHECK).await {
        Ok(client) => client,
        Err(unknown) => return Ok(unknown),
    };
    let (clients, limits) = tokio::join!(
        client.query_one(CLIENTS_SQL, &[]),
        client.query_one(CONNECTION_LIMITS_SQL, &[])
    );
    let clients: i64 = clients.map_err(|err| query_failed("pg_stat_activity", &err))?.get(0);
    let limits = limits.map_err(|err| query_failed("the connection limits", &err))?;
    let (max, reserved): (i64, i64) = (limits.get(0), limits.get(1));
    let usable = max - reserved;
    if usable <= 0 {
        return Ok(vec![CheckResult::unknown(
            CHECK,
            None,
            format!("max_connections = {max} leaves no slot beside the {reserved} reserved ones"),
        )]);
    }
    Ok(vec![CheckResult::measured(
        CHECK,
        None,
        clients as f64 * 100.0 / usable as f64,
        Unit::Percent,
        probe.settings.database.connections,
        format!("{clients} of {usable} connections in use (max_connections {max}, {reserved} reserved)"),
    )])
}
