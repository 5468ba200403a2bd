//! The PostgreSQL advisory lock of a run: `pg_try_advisory_lock(class, hashtext(key))` on campctl's own session, in
//! campctl's class `camp`, so that runs on every host that work on one server exclude each other. PostgreSQL frees
//! it when the session ends, so a holder whose process died (even by SIGKILL) never leaves it behind.
//!
//! `backup unlock` may end the session of a holder ([`terminate`]): a session holding a lock of campctl's class is a
//! campctl run's own lock session (nothing else takes locks in this class), whatever its `application_name`. This
//! file never ends any other session.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use tokio_postgres::Client;

use crate::exit::{ExitStatus, UserError};

/// First key of campctl's advisory locks: "camp".
const ADVISORY_CLASS: i32 = 0x6361_6D70;

/// A session that holds campctl's advisory lock of one key, as far as this role may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvisoryHolder {
    /// The PostgreSQL backend's pid.
    pub pid: i32,
    /// The database the lock was taken in.
    pub database: String,
    /// The client's host, `local socket`, or `None` when hidden from this role (no `pg_read_all_stats`).
    pub host: Option<String>,
    pub application: String,
    pub since: Option<DateTime<Utc>>,
}

impl std::fmt::Display for AdvisoryHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PostgreSQL backend pid {} from {} (application `{}`), connected since {}",
            self.pid,
            self.host.as_deref().unwrap_or("a host hidden from this role"),
            self.application,
            self.since.map_or_else(
                || "a time hidden from this role".to_string(),
                |since| since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )
        )
    }
}

/// How long a held advisory lock is tried again, even without `--wait-lock`, when its holder is known to have
/// died (see [`crate::lock::acquire`]): the server frees the lock of a holder killed (also by SIGKILL) only once its
/// backend has seen the closed connection and exited, a moment after the process ended. A live holder gets no grace:
/// the run exits 11 at once.
pub const DEAD_HOLDER_GRACE: Duration = Duration::from_secs(2);

/// One try at the advisory lock `key` on `client`.
///
/// # Errors
/// A database error.
pub async fn try_take(client: &Client, key: &str) -> anyhow::Result<bool> {
    Ok(client
        .query_one(
            "SELECT pg_try_advisory_lock($1, hashtext($2))",
            &[&ADVISORY_CLASS, &key],
        )
        .await
        .context("Failed to take the advisory lock")?
        .get(0))
}

/// Takes the advisory lock `key` on `client`, trying again every half second until `deadline`.
///
/// # Errors
/// [`ExitStatus::LockHeld`] naming the holder, or a database error.
pub async fn take(client: &Client, key: &str, deadline: Instant) -> anyhow::Result<()> {
    loop {
        if try_take(client, key).await? {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(held_error(client, key).await);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The sessions that hold campctl's advisory lock `key`, in any database of the server (usually one).
///
/// # Errors
/// The query failed.
pub async fn holders(client: &Client, key: &str) -> anyhow::Result<Vec<AdvisoryHolder>> {
    let rows = client
        .query(
            "SELECT a.pid, coalesce(d.datname, ''), \
                    CASE WHEN a.backend_start IS NOT NULL \
                         THEN coalesce(a.client_hostname, host(a.client_addr), 'local socket') END, \
                    coalesce(a.application_name, ''), a.backend_start \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             LEFT JOIN pg_database d ON d.oid = l.database \
             WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::int4::oid \
               AND l.objid = hashtext($2)::oid AND l.objsubid = 2 ORDER BY a.pid",
            &[&ADVISORY_CLASS, &key],
        )
        .await
        .with_context(|| format!("Failed to look up the holder of the advisory lock `{key}`"))?;
    Ok(rows
        .iter()
        .map(|row| AdvisoryHolder {
            pid: row.get(0),
            database: row.get(1),
            host: row.get(2),
            application: row.get(3),
            since: row.get(4),
        })
        .collect())
}

/// Ends the session of `holder` (`pg_terminate_backend`), which frees its advisory lock; waits up to five seconds
/// for it to be gone. Returns whether it was ended.
///
/// # Errors
/// The role may not end that session (it needs to be the same role, or have `pg_signal_backend`).
pub async fn terminate(client: &Client, holder: &AdvisoryHolder) -> anyhow::Result<bool> {
    let ended: bool = client
        .query_one("SELECT pg_terminate_backend($1, 5000)", &[&holder.pid])
        .await
        .with_context(|| {
            format!(
                "Failed to end the session of PostgreSQL backend pid {} (ending another role's session needs that \
                 role or pg_signal_backend)",
                holder.pid
            )
        })?
        .get(0);
    Ok(ended)
}

async fn held_error(client: &Client, key: &str) -> anyhow::Error {
    let who = match holders(client, key).await {
        Ok(holders) if !holders.is_empty() => holders[0].to_string(),
        _ => "another session (not visible to this role)".to_string(),
    };
    UserError::new(
        ExitStatus::LockHeld,
        format!("Another run holds the lock of `{key}`: {who}"),
    )
    .with_hint("Wait for it to finish, or pass `--wait-lock 30m` to wait up to that long")
    .into()
}
