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

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::locked_store;
    use crate::catalog::select::Selected;
    use crate::storage::{LocalStore, Store};

    fn selected(name: &str, store: &Path, object: &str, origin: String) -> Selected {
        Selected {
            name: name.to_string(),
            store: Store::Local(LocalStore::new(store.to_path_buf())),
            object: object.to_string(),
            manifest: None,
            manifest_object: None,
            origin,
        }
    }

    fn series(found: Option<(Store, String)>) -> Option<(String, String)> {
        found.map(|(store, series)| (store.label(), series))
    }

    #[test]
    fn a_backup_in_a_store_locks_its_database_series_and_a_file_outside_every_store_locks_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("store");
        let configured = vec![Store::Local(LocalStore::new(root.clone()))];
        let label = configured[0].label();

        // A legacy archive at the top of the store: its series is the database of its name.
        let legacy = selected(
            "appdb_20261021_022410.dump",
            &root,
            "appdb_20261021_022410.dump",
            label.clone(),
        );
        assert_eq!(
            series(locked_store(&legacy, &configured)),
            Some((label.clone(), "appdb".into()))
        );
        // An archive whose name says nothing: the folder it is in, as cleanup counts it.
        let odd = selected("odd.dump", &root, "otherdb/odd.dump", label.clone());
        assert_eq!(
            series(locked_store(&odd, &configured)),
            Some((label.clone(), "otherdb".into()))
        );

        // The same archive given by its path inside the store: locked in the configured store.
        let folder = root.join("appdb");
        fs_err::create_dir_all(&folder).expect("mkdir");
        let file = folder.join("appdb_20261201_030000.dump.zst");
        fs_err::write(&file, b"x").expect("write");
        let by_path = selected(
            "appdb_20261201_030000.dump.zst",
            &folder,
            "appdb_20261201_030000.dump.zst",
            format!("file:{}", file.display()),
        );
        assert_eq!(
            series(locked_store(&by_path, &configured)),
            Some((label, "appdb".into()))
        );

        // A copy outside every configured store: no lock.
        let outside: PathBuf = dir.path().join("elsewhere");
        fs_err::create_dir_all(&outside).expect("mkdir");
        let copy = outside.join("appdb_20261201_030000.dump.zst");
        fs_err::write(&copy, b"x").expect("write");
        let by_copy = selected(
            "appdb_20261201_030000.dump.zst",
            &outside,
            "appdb_20261201_030000.dump.zst",
            format!("file:{}", copy.display()),
        );
        assert_eq!(series(locked_store(&by_copy, &configured)), None);
    }
}
