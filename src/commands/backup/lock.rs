//! One backup per database at a time: a PostgreSQL advisory lock on campctl's own session (covers every host that
//! backs up this server) plus a lock in each store (a blob lease on Azure, a lock file locally).
//! A held lock exits 11 and names the holder; `--wait-lock DUR` waits for it.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use tokio_postgres::Client;

use super::fanout::StoreFailure;
use crate::exit::{ExitStatus, UserError};
use crate::interrupt;
use crate::storage::{LockGuard, LockHolder, Store, is_store_failure};

/// First key of campctl's advisory locks: "camp".
const ADVISORY_CLASS: i32 = 0x6361_6D70;

/// The locks of one run; released explicitly at the end. Dropping them releases them too, best effort; and each
/// blob lease is registered with the interrupt cleanup ([`crate::interrupt`]), so that Ctrl-C or SIGTERM, which drop
/// the command's future, still release it before the process exits.
pub struct RunLocks {
    store_locks: Vec<(LockGuard, Option<interrupt::Pending>)>,
    /// Stores (by index) that could not be locked because they failed (unreachable…): the run leaves them out.
    failed: Vec<(usize, StoreFailure)>,
}

impl RunLocks {
    fn push(&mut self, guard: LockGuard) {
        let pending = guard
            .release_handle()
            .map(|lease| interrupt::register(interrupt::Action::ReleaseLease { lease }));
        self.store_locks.push((guard, pending));
    }

    /// The stores of `stores` this run can use: all but those that failed while being locked, and those failures.
    pub fn usable(&mut self, stores: &[Store]) -> (Vec<Store>, Vec<StoreFailure>) {
        let failed = std::mem::take(&mut self.failed);
        let usable = stores
            .iter()
            .enumerate()
            .filter(|(index, _)| !failed.iter().any(|(i, _)| i == index))
            .map(|(_, store)| store.clone())
            .collect();
        (usable, failed.into_iter().map(|(_, failure)| failure).collect())
    }

    /// Releases every store lock. The advisory lock ends with the session.
    pub async fn release(self) {
        for (guard, pending) in self.store_locks {
            match guard.release().await {
                Ok(()) => {
                    if let Some(pending) = pending {
                        pending.disarm();
                    }
                }
                // Left registered: `main` tries once more on the way out.
                Err(err) => tracing::warn!("failed to release a store lock: {err:#}"),
            }
        }
    }
}

/// Takes the advisory lock `key` on `client` and the lock `backup-<key>` in every store, waiting up to `wait`.
///
/// # Errors
/// [`ExitStatus::LockHeld`] naming the holder, or a database/store error.
pub async fn acquire(
    client: &Client,
    stores: &[Store],
    key: &str,
    command: &str,
    wait: Duration,
) -> anyhow::Result<RunLocks> {
    let deadline = Instant::now() + wait;
    loop {
        let taken: bool = client
            .query_one(
                "SELECT pg_try_advisory_lock($1, hashtext($2))",
                &[&ADVISORY_CLASS, &key],
            )
            .await
            .context("Failed to take the advisory lock")?
            .get(0);
        if taken {
            break;
        }
        if Instant::now() >= deadline {
            return Err(held_error(client, key).await);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    store_locks(stores, &format!("{command}-{key}"), command, deadline).await
}

/// Takes the lock `name` in every store, waiting until `deadline`. A store that fails on its own (unreachable) while
/// others remain is left out of the run and reported by [`RunLocks::usable`]; otherwise a failure releases the locks
/// already taken.
///
/// # Errors
/// [`crate::storage::StoreError::LockHeld`] naming the holder, a refused credential, or the error of the last store
/// when none could be locked.
pub async fn store_locks(stores: &[Store], name: &str, command: &str, deadline: Instant) -> anyhow::Result<RunLocks> {
    let holder = LockHolder::current(command);
    let mut locks = RunLocks {
        store_locks: Vec::with_capacity(stores.len()),
        failed: Vec::new(),
    };
    for (index, store) in stores.iter().enumerate() {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match store.lock(name, &holder, remaining).await {
            Ok(guard) => locks.push(guard),
            Err(err) if stores.len() > 1 && is_store_failure(&err) && locks.failed.len() + 1 < stores.len() => {
                locks
                    .failed
                    .push((index, StoreFailure::new(store, "taking its lock", &err)));
            }
            Err(err) => {
                locks.release().await;
                return Err(err);
            }
        }
    }
    Ok(locks)
}

async fn held_error(client: &Client, key: &str) -> anyhow::Error {
    let holder = client
        .query_opt(
            "SELECT a.pid, CASE WHEN a.backend_start IS NOT NULL \
                                THEN coalesce(a.client_hostname, host(a.client_addr), 'local socket') END, \
                    coalesce(a.application_name, ''), a.backend_start \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::int4::oid \
               AND l.objid = hashtext($2)::oid AND l.objsubid = 2 LIMIT 1",
            &[&ADVISORY_CLASS, &key],
        )
        .await;
    let who = match holder {
        Ok(Some(row)) => {
            // Without pg_read_all_stats, another role's host and start time are hidden (NULL).
            let since: Option<DateTime<Utc>> = row.get(3);
            format!(
                "PostgreSQL backend pid {} from {} (application `{}`), connected since {}",
                row.get::<_, i32>(0),
                row.get::<_, Option<String>>(1)
                    .as_deref()
                    .unwrap_or("a host hidden from this role"),
                row.get::<_, String>(2),
                since.map_or_else(
                    || "a time hidden from this role".to_string(),
                    |since| since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                )
            )
        }
        _ => "another session (not visible to this role)".to_string(),
    };
    UserError::new(
        ExitStatus::LockHeld,
        format!("Another run holds the lock of `{key}`: {who}"),
    )
    .with_hint("Wait for it to finish, or pass `--wait-lock 30m` to wait up to that long")
    .into()
}
