//! The store lock a `restore` or `test-restore` holds while it reads a backup, so that `cleanup` (and
//! `backup --prune`), which take the same lock before deleting, never delete the archive under it.
//!
//! It is the lock of the backup's series, `backup-DB` (the database the backup was taken of: its manifest's, else
//! the archive name's, as `cleanup` counts it), in the configured store the archive is read from, with the holder's
//! command `restore NAME` / `test-restore NAME`. It is taken after the confirmation and before the archive is opened,
//! and released as soon as the last byte has been read: when a spool file is complete, or when the stream into
//! pg_restore ends ([`super::run::restore_into`]). A backup of the same database waits for it (or exits 11).
//!
//! No lock is taken for a file outside every configured store (a path or URL nobody's cleanup deletes). A lock held
//! by another run exits 11 naming it (or waits with `--wait-lock`); any other failure to take it (an unreachable
//! store, whose read then fails with its own error; a credential that may read but not lease) is a warning and the
//! read goes on without it. This file never reads or deletes a backup.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::catalog::select::Selected;
use crate::lock::{self, RunLocks, store_lock_name};
use crate::storage::{Store, StoreError};

/// The read lock of one run; [`ReadLock::release`] lets go of it (dropping it does too, best effort).
pub(super) struct ReadLock {
    locks: Option<RunLocks>,
    /// `backup-appdb in local:/var/backups/campctl`, for the log.
    what: String,
}

impl ReadLock {
    /// No lock: a file outside the stores, or a lock that could not be taken.
    fn none() -> Self {
        Self {
            locks: None,
            what: String::new(),
        }
    }

    /// Takes the lock of the series `selected` belongs to in the configured store it is read from, waiting up to
    /// `wait`; `command` is `restore` or `test-restore`.
    ///
    /// # Errors
    /// [`StoreError::LockHeld`] (exit 11) naming the holder when it is still held after `wait`.
    pub(super) async fn take(
        selected: &Selected,
        stores: &[Store],
        command: &str,
        wait: Duration,
    ) -> anyhow::Result<Self> {
        let Some((store, series)) = locked_store(selected, stores) else {
            tracing::info!(
                "`{}` is outside every configured store: no store lock is taken",
                selected.origin
            );
            return Ok(Self::none());
        };
        let name = store_lock_name("backup", &series);
        let holder = format!("{command} {}", selected.name);
        let deadline = Instant::now()
            .checked_add(wait)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365));
        let what = format!("`{name}` in {}", store.label());
        match lock::store_locks(std::slice::from_ref(&store), &name, &holder, deadline).await {
            Ok(locks) => {
                tracing::info!("holding the lock {what} as `{holder}`");
                Ok(Self {
                    locks: Some(locks),
                    what,
                })
            }
            Err(err) if is_lock_held(&err) => Err(err),
            Err(err) => {
                tracing::warn!(
                    "could not take the lock {what} ({err:#}): reading `{}` without it, so a cleanup running now \
                     could delete it",
                    selected.name
                );
                Ok(Self::none())
            }
        }
    }

    /// Lets go of the lock (nothing when none is held, or it was released already).
    pub(super) async fn release(&mut self) {
        if let Some(locks) = self.locks.take() {
            locks.release().await;
            tracing::info!("released the lock {}", self.what);
        }
    }
}

fn is_lock_held(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|cause| matches!(cause.downcast_ref::<StoreError>(), Some(StoreError::LockHeld { .. })))
}

/// The configured store `selected` is read from, and its series (the `DB` of `backup-DB`); `None` for a file
/// outside every configured store.
fn locked_store(selected: &Selected, stores: &[Store]) -> Option<(Store, String)> {
    if !selected.origin.starts_with("file:") {
        // A backup found by name, `latest` or a blob URL: always in one of the configured stores.
        let series = series_of(selected, &selected.object)?;
        return Some((selected.store.clone(), series));
    }
    // A path: locked only when it lies inside a configured local store.
    let Store::Local(local) = &selected.store else {
        return None;
    };
    let file = canonical(&local.root().join(&selected.object));
    stores.iter().find_map(|store| {
        let Store::Local(configured) = store else {
            return None;
        };
        let relative = file.strip_prefix(canonical(configured.root())).ok()?;
        let object = relative.to_string_lossy().into_owned();
        Some((store.clone(), series_of(selected, &object)?))
    })
}

/// The series as `cleanup` counts it: the database of the manifest or of the archive's name, else the archive's
/// folder in the store.
fn series_of(selected: &Selected, object: &str) -> Option<String> {
    selected.source_database().or_else(|| {
        let (folder, _) = object.split_once('/')?;
        (!folder.is_empty()).then(|| folder.to_string())
    })
}

fn canonical(path: &Path) -> std::path::PathBuf {
    fs_err::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}
