//! Locks of the local store: `<root>/locks/<name>`, created with `O_EXCL` and holding the [`LockHolder`] as JSON.
//!
//! A lock whose process is gone (same host, pid not alive) is stale and taken over with a warning: a run killed with
//! SIGKILL cannot remove its lock, and nobody should have to find and delete the file by hand.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::local::{LOCKS_DIR, LocalStore, blocking, create_dirs, sync_dir};
use super::{LockHolder, StoreError, hostname, process_alive};

/// How often a waiting run looks at the lock again.
const POLL: Duration = Duration::from_millis(500);
/// An unreadable lock file (a run that died between creating and writing it) older than this is stale.
const UNREADABLE_GRACE: Duration = Duration::from_secs(60);

/// A held local lock; the file is removed by [`LocalLock::release`] or, best effort, on drop.
#[derive(Debug)]
pub struct LocalLock {
    path: PathBuf,
    released: bool,
}

/// What one attempt found.
enum Attempt {
    Taken,
    Held(String),
}

impl LocalStore {
    pub async fn lock(&self, name: &str, holder: &LockHolder, wait: Duration) -> anyhow::Result<LocalLock> {
        let path = self.path_of(&format!("{LOCKS_DIR}/{name}"))?;
        let deadline = Instant::now() + wait;
        let json = serde_json::to_vec_pretty(holder)?;
        loop {
            let (attempt_path, attempt_json) = (path.clone(), json.clone());
            match blocking(move || try_lock(&attempt_path, &attempt_json)).await? {
                Attempt::Taken => {
                    return Ok(LocalLock { path, released: false });
                }
                Attempt::Held(holder) => {
                    if Instant::now() + POLL > deadline {
                        return Err(StoreError::LockHeld {
                            store: self.label(),
                            name: name.to_string(),
                            holder,
                        }
                        .into());
                    }
                    tracing::debug!("lock `{name}` in {} is held by {holder}; waiting", self.label());
                    tokio::time::sleep(POLL).await;
                }
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
                    let _ = std::fs::remove_file(path);
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
        let existing = match std::fs::read(path) {
            Ok(bytes) => bytes,
            // Released between our create and read: try again.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Err(anyhow::Error::new(err).context(format!("Failed to read `{}`", path.display()))),
        };
        match serde_json::from_slice::<LockHolder>(&existing) {
            Ok(holder) if holder.host == hostname() && !process_alive(holder.pid) => {
                tracing::warn!(
                    "taking over the stale lock `{}`: it was held by {holder}, which is no longer running",
                    path.display()
                );
                remove_if_unchanged(path, &existing)?;
            }
            Ok(holder) => return Ok(Attempt::Held(holder.to_string())),
            Err(_) => {
                let age = std::fs::metadata(path)
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

/// Removes a stale lock file unless another run replaced it meanwhile.
fn remove_if_unchanged(path: &std::path::Path, seen: &[u8]) -> anyhow::Result<()> {
    match std::fs::read(path) {
        Ok(now) if now == seen => match std::fs::remove_file(path) {
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
        let path = self.path.clone();
        blocking(move || match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!("the lock `{}` was already gone when released", path.display());
                Ok(())
            }
            Err(err) => Err(anyhow::Error::new(err).context(format!("Failed to remove the lock `{}`", path.display()))),
        })
        .await
    }
}

impl Drop for LocalLock {
    fn drop(&mut self) {
        if !self.released {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
