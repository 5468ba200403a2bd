//! Locks in one place: one run at a time per database and store (DESIGN.md, "Safety rules"). A run takes a
//! PostgreSQL advisory lock on its own session ([`advisory`]: covers every host that works on this server) and a
//! lock in each store: a lock file in the local store ([`local`]), a blob lease in Azure ([`azure`]). Commands see
//! one interface: [`acquire`] (advisory + store locks), [`store_locks`] (store locks only), the [`RunLocks`] they
//! return, and for `backup unlock` [`inspect`] and [`break_lock`].
//!
//! **One rule for stale holders**, everywhere ([`LockHolder::is_stale`]): a holder on this host whose process no
//! longer exists is stale and its lock is taken over at once with a warning, also after SIGKILL (which leaves a lock
//! file behind and a lease that would otherwise block the next run for up to a minute). A holder on another host is
//! never broken automatically: only `campctl backup unlock NAME`, after showing the holder and a confirmation, breaks
//! it. The advisory lock follows the same rule by construction: PostgreSQL frees it when its session ends, and the
//! session ends when the holder's process dies (its socket closes), on any host.
//!
//! A held lock exits 11 and names the holder; `--wait-lock DUR` waits for it. This module never decides what a
//! command does with its stores beyond leaving out those that failed while being locked ([`RunLocks::usable`]).

pub mod advisory;
mod azure;
mod local;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

pub use azure::AzureLock;
pub use local::LocalLock;

use crate::interrupt;
use crate::os::{hostname, process_alive};
use crate::storage::{LeaseRelease, Store, StoreFailure, is_store_failure};

/// Who holds a lock: written into the lock so that a second run can name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    pub host: String,
    pub pid: u32,
    pub started_at: DateTime<Utc>,
    pub command: String,
}

impl LockHolder {
    /// This process, now, running `command` (e.g. `backup appdb`).
    pub fn current(command: impl Into<String>) -> Self {
        Self {
            host: hostname(),
            pid: std::process::id(),
            started_at: Utc::now(),
            command: command.into(),
        }
    }

    /// The one rule for stale holders: on this host, and its process no longer exists. A holder on another host is
    /// never stale to campctl (it cannot see that host's processes); `backup unlock` breaks such a lock.
    pub fn is_stale(&self) -> bool {
        self.host == hostname() && !process_alive(self.pid)
    }
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "host `{}` pid {} since {}",
            self.host,
            self.pid,
            self.started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )?;
        if !self.command.is_empty() {
            write!(f, " (`{}`)", self.command)?;
        }
        Ok(())
    }
}

/// A held store lock; released by [`LockGuard::release`] (and, best effort, on drop).
#[derive(Debug)]
pub enum LockGuard {
    Local(LocalLock),
    Azure(AzureLock),
}

impl LockGuard {
    /// What releases this lock after an interrupt, when the guard's future has been dropped and the runtime is about
    /// to stop: a lease must be released by a request, which a drop cannot wait for. `None` for a local lock (its
    /// drop removes the file, and a stale one is taken over anyway).
    pub fn release_handle(&self) -> Option<LeaseRelease> {
        match self {
            Self::Local(_) => None,
            Self::Azure(lock) => Some(lock.release_handle()),
        }
    }

    /// Lets go of the lock.
    ///
    /// # Errors
    /// When the lock file or lease could not be removed (it then expires: a lease after 60 s; a local lock is
    /// taken over once its process is gone).
    pub async fn release(self) -> anyhow::Result<()> {
        match self {
            Self::Local(lock) => lock.release().await,
            Self::Azure(lock) => lock.release().await,
        }
    }
}

// `Store::lock` is defined here, not in `storage`: a store only offers the objects a lock is made of, and the rules of
// taking one (waiting, stale holders) are this module's. An inherent impl may live anywhere in the crate.
impl Store {
    /// Takes the lock `name` of this store (`locks/<name>`), waiting up to `wait` for another holder to let go; a
    /// stale holder ([`LockHolder::is_stale`]) is taken over with a warning.
    ///
    /// # Errors
    /// [`crate::storage::StoreError::LockHeld`] naming the holder when it is still held after `wait`.
    pub async fn lock(&self, name: &str, holder: &LockHolder, wait: Duration) -> anyhow::Result<LockGuard> {
        Ok(match self {
            Store::Local(store) => LockGuard::Local(local::take(store, name, holder, wait).await?),
            Store::Azure(store) => LockGuard::Azure(azure::take(store, name, holder, wait).await?),
        })
    }
}

/// What `backup unlock` finds in one store's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLockState {
    /// Nobody holds it.
    Free,
    /// Held by this run.
    Held(LockHolder),
    /// Held, but the holder is not recorded (yet): the description says what was found.
    Unknown(String),
}

/// Looks at the lock `name` of `store` without taking it.
///
/// # Errors
/// The store cannot be read.
pub async fn inspect(store: &Store, name: &str) -> anyhow::Result<StoreLockState> {
    match store {
        Store::Local(store) => local::inspect(store, name).await,
        Store::Azure(store) => azure::inspect(store, name).await,
    }
}

/// Breaks the lock `name` of `store`, whoever holds it: removes the lock file, or breaks the lease at once. Only
/// `backup unlock` calls this, after showing the holder and a confirmation. Returns whether a lock was broken.
///
/// # Errors
/// The store cannot be reached, or refuses the request.
pub async fn break_lock(store: &Store, name: &str) -> anyhow::Result<bool> {
    match store {
        Store::Local(store) => local::break_lock(store, name).await,
        Store::Azure(store) => azure::break_lock(store, name).await,
    }
}

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

/// The name of a run's lock in the stores: `backup-appdb`, `files-uploads`.
pub fn store_lock_name(command: &str, key: &str) -> String {
    format!("{command}-{key}")
}

/// Takes the advisory lock `key` on `client` and the lock `<command>-<key>` in every store, waiting up to `wait`.
///
/// # Errors
/// [`crate::exit::ExitStatus::LockHeld`] naming the holder, or a database/store error.
pub async fn acquire(
    client: &Client,
    stores: &[Store],
    key: &str,
    command: &str,
    wait: Duration,
) -> anyhow::Result<RunLocks> {
    let mut deadline = Instant::now() + wait;
    let name = store_lock_name(command, key);
    if !advisory::try_take(client, key).await? {
        // Held. If a store lock of this name is held by a run on this host that is gone, that run was killed and
        // the server is about to free its advisory lock too: wait a moment for it rather than exit 11.
        if previous_run_died(stores, &name).await {
            deadline = deadline.max(Instant::now() + advisory::DEAD_HOLDER_GRACE);
        }
        advisory::take(client, key, deadline).await?;
    }
    store_locks(stores, &name, command, deadline).await
}

/// Whether a store lock `name` is held by a stale holder (this host, process gone). Only asked when the advisory
/// lock is held; a store that cannot be read says nothing.
async fn previous_run_died(stores: &[Store], name: &str) -> bool {
    for store in stores {
        if let Ok(StoreLockState::Held(holder)) = inspect(store, name).await
            && holder.is_stale()
        {
            return true;
        }
    }
    false
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

#[cfg(test)]
mod tests {
    use super::{LockHolder, hostname};

    #[test]
    fn a_holder_is_stale_only_on_this_host_with_its_process_gone() {
        let mut holder = LockHolder::current("backup appdb");
        assert!(!holder.is_stale(), "this process is alive");
        // A pid above the kernel's maximum (4194304) never exists.
        holder.pid = 99_999_999;
        assert!(holder.is_stale(), "same host, process gone");
        holder.host = format!("{}-elsewhere", hostname());
        assert!(!holder.is_stale(), "another host's holder is never stale");
    }
}
