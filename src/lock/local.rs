//! Locks of the local store: `<root>/locks/<name>`, created with `O_EXCL` and holding the [`LockHolder`] as JSON.
//!
//! A lock whose holder is stale ([`LockHolder::is_stale`]: same host, process gone) is taken over with a warning: a
//! run killed with SIGKILL cannot remove its lock, and nobody should have to find and delete the file by hand. A
//! lock of another host's run is only removed by [`break_lock`] (`backup unlock`). This file never touches anything
//! outside `<root>/locks/`.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{LockHolder, StoreLockState};
use crate::storage::StoreError;
use crate::storage::local::{LOCKS_DIR, LocalStore, blocking, create_dirs, sync_dir};

/// How often a waiting run looks at the lock again.
const POLL: Duration = Duration::from_millis(500);
/// An unreadable lock file (a run that died between creating and writing it) older than this is stale.
const UNREADABLE_GRACE: Duration = Duration::from_secs(60);

/// A held local lock; the file is removed by [`LocalLock::release`] or, best effort, on drop.
#[derive(Debug)]
pub struct LocalLock {
    path: PathBuf,
    /// What this run wrote into the file: a release removes the file only while it still holds this, so that a run
    /// whose lock was broken (`backup unlock`) never removes the next run's lock.
    json: Vec<u8>,
    released: bool,
}

/// What one attempt found.
enum Attempt {
    Taken,
    Held(String),
}

/// Takes the lock `name` of `store`, waiting up to `wait`.
pub(super) async fn take(
    store: &LocalStore,
    name: &str,
    holder: &LockHolder,
    wait: Duration,
) -> anyhow::Result<LocalLock> {
    let path = store.path_of(&format!("{LOCKS_DIR}/{name}"))?;
    let deadline = Instant::now() + wait;
    let json = serde_json::to_vec_pretty(holder)?;
    loop {
        let (attempt_path, attempt_json) = (path.clone(), json.clone());
        match blocking(move || try_lock(&attempt_path, &attempt_json)).await? {
            Attempt::Taken => {
                return Ok(LocalLock {
                    path,
                    json,
                    released: false,
                });
            }
            Attempt::Held(holder) => {
                if Instant::now() + POLL > deadline {
                    return Err(StoreError::LockHeld {
                        store: store.label(),
                        name: name.to_string(),
                        holder,
                    }
                    .into());
                }
                tracing::debug!("lock `{name}` in {} is held by {holder}; waiting", store.label());
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

fn try_lock(path: &std::path::Path, json: &[u8]) -> anyhow::Result<Attempt> {
    let dir = path.parent().expect("a lock path has a parent");
    create_dirs(dir).map_err(|err| anyhow::Error::new(err).context(format!("Failed to create `{}`", dir.display())))?;
    // Two tries: the second after removing a stale lock.
    for _ in 0..2 {
        match std::fs::OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(mut file) => {
                let written = file.write_all(json).and_then(|()| file.sync_all());
                if let Err(err) = written {
                    let _ = fs_err::remove_file(path);
                    return Err(anyhow::Error::new(err).context(format!("Failed to write `{}`", path.display())));
                }
                sync_dir(dir)?;
                return Ok(Attempt::Taken);
            }
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(err) => {
                return Err(anyhow::Error::new(err).context(format!("Failed to create `{}`", path.display())));
            }
        }
        let existing = match fs_err::read(path) {
            Ok(bytes) => bytes,
            // Released between our create and read: try again.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Err(anyhow::Error::new(err).context(format!("Failed to read `{}`", path.display()))),
        };
        match serde_json::from_slice::<LockHolder>(&existing) {
            Ok(holder) if holder.is_stale() => {
                tracing::warn!(
                    "taking over the stale lock `{}`: it was held by {holder}, which is no longer running",
                    path.display()
                );
                remove_if_unchanged(path, &existing)?;
            }
            Ok(holder) => return Ok(Attempt::Held(holder.to_string())),
            Err(_) => {
                let age = fs_err::metadata(path)
                    .and_then(|meta| meta.modified())
                    .ok()
                    .and_then(|modified| modified.elapsed().ok())
                    .unwrap_or_default();
                if age < UNREADABLE_GRACE {
                    return Ok(Attempt::Held(format!(
                        "an unknown run (`{}` is not readable yet)",
                        path.display()
                    )));
                }
                tracing::warn!(
                    "taking over the unreadable lock `{}` (left by a run that died)",
                    path.display()
                );
                remove_if_unchanged(path, &existing)?;
            }
        }
    }
    Ok(Attempt::Held(format!(
        "another run (`{}` was taken again at once)",
        path.display()
    )))
}

/// Reads the lock `name` of `store` without taking it.
pub(super) async fn inspect(store: &LocalStore, name: &str) -> anyhow::Result<StoreLockState> {
    let path = store.path_of(&format!("{LOCKS_DIR}/{name}"))?;
    blocking(move || match fs_err::read(&path) {
        Ok(bytes) => Ok(match serde_json::from_slice::<LockHolder>(&bytes) {
            Ok(holder) => StoreLockState::Held(holder),
            Err(_) => StoreLockState::Unknown(format!("`{}` holds no readable holder", path.display())),
        }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(StoreLockState::Free),
        Err(err) => Err(anyhow::Error::new(err).context(format!("Failed to read `{}`", path.display()))),
    })
    .await
}

/// Removes the lock file `name` of `store`, whoever holds it; returns whether there was one.
pub(super) async fn break_lock(store: &LocalStore, name: &str) -> anyhow::Result<bool> {
    let path = store.path_of(&format!("{LOCKS_DIR}/{name}"))?;
    blocking(move || match fs_err::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(anyhow::Error::new(err).context(format!("Failed to remove the lock `{}`", path.display()))),
    })
    .await
}

/// Removes a stale lock file unless another run replaced it meanwhile.
fn remove_if_unchanged(path: &std::path::Path, seen: &[u8]) -> anyhow::Result<()> {
    match fs_err::read(path) {
        Ok(now) if now == seen => match fs_err::remove_file(path) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => {
                Err(anyhow::Error::new(err).context(format!("Failed to remove the stale lock `{}`", path.display())))
            }
        },
        _ => Ok(()),
    }
}

impl LocalLock {
    pub async fn release(mut self) -> anyhow::Result<()> {
        self.released = true;
        let (path, json) = (self.path.clone(), self.json.clone());
        blocking(move || match fs_err::read(&path) {
            Ok(now) if now == json => match fs_err::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(err) => {
                    Err(anyhow::Error::new(err).context(format!("Failed to remove the lock `{}`", path.display())))
                }
            },
            Ok(_) => {
                tracing::warn!(
                    "the lock `{}` was broken and is now another run's: left in place",
                    path.display()
                );
                Ok(())
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!("the lock `{}` was already gone when released", path.display());
                Ok(())
            }
            Err(err) => Err(anyhow::Error::new(err).context(format!("Failed to read the lock `{}`", path.display()))),
        })
        .await
    }
}

impl Drop for LocalLock {
    fn drop(&mut self) {
        if !self.released {
            let _ = remove_if_unchanged(&self.path, &self.json);
        }
    }
}
