//! Backup stores: a local directory and an Azure Blob container (optional prefix), with one layout
//! (DESIGN.md, "Backup stores, layout and manifest"):
//!
//! ```text
//! <db>/<db>_<YYYYMMDD>_<HHMMSS>.dump            archive, committed atomically
//! <db>/<db>_<YYYYMMDD>_<HHMMSS>.manifest.json   written last: a backup without its manifest does not exist
//! files/<name>/<name>_<YYYYMMDD>_<HHMMSS>.tar.gz (+ .manifest.json)
//! locks/<key>.lock                              the lock of one backup per database and store
//! ```
//!
//! A [`Store`] is an enum rather than a trait object: there are exactly two backends and async methods stay plain.
//! An [`Upload`] streams an object of unknown length: local `*.partial` + fsync + rename, Azure staged blocks with
//! N in flight and one commit with `If-None-Match: *`. Nothing is visible under `name` before [`Upload::commit`];
//! [`Upload::abort`] (or dropping the upload) leaves nothing behind that a listing shows.

pub mod azure;
mod azure_lock;
mod azure_upload;
mod errors;
pub mod local;
mod local_lock;
pub mod probe;
mod resolve;
mod snapshot;

use std::collections::BTreeMap;

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::config_file::StorageConfig;
use crate::exit::{Classify, ExitStatus};

pub use azure::{AzureLock, AzureStore, AzureUpload, LeaseRelease, SnapshotReport};
pub use errors::{caused_by_no_space, is_no_space};
pub use local::{LocalLock, LocalStore, LocalUpload};
pub use resolve::{AzureSettings, default_local_path};

/// One object of a listing.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectInfo {
    /// Name relative to the store (and its prefix), with `/` separators.
    pub name: String,
    pub size: u64,
    pub last_modified: Option<DateTime<Utc>>,
    /// User metadata (Azure metadata; empty for local files).
    pub metadata: BTreeMap<String, String>,
}

/// What a committed upload carries besides its bytes.
#[derive(Debug, Clone, Default)]
pub struct CommitInfo {
    /// Azure metadata keys must be C# identifiers (`campctl_sha256`); ignored by the local store.
    pub metadata: BTreeMap<String, String>,
    /// Content-MD5 of the whole object (Azure stores it as the blob's Content-MD5 property).
    pub content_md5: Option<[u8; 16]>,
    pub content_type: Option<String>,
}

/// A store failure the user can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("`{name}` already exists in {store}")]
    AlreadyExists { store: String, name: String },
    #[error("`{name}` was not found in {store}")]
    NotFound { store: String, name: String },
    #[error("Authentication to {store} failed with {credential}")]
    Auth {
        store: String,
        credential: String,
        hint: String,
    },
    #[error("The lock `{name}` in {store} is held by {holder}")]
    LockHeld {
        store: String,
        name: String,
        holder: String,
    },
    #[error("{store} is out of space")]
    NoSpace { store: String },
}

impl Classify for StoreError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            Self::AlreadyExists { .. } | Self::NoSpace { .. } => ExitStatus::Failure,
            Self::NotFound { .. } => ExitStatus::NotFound,
            Self::Auth { .. } => ExitStatus::Auth,
            Self::LockHeld { .. } => ExitStatus::LockHeld,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::Auth { hint, .. } => Some(hint.clone()),
            Self::LockHeld { .. } => Some(
                "Another campctl run holds it; wait for it, or pass `--wait-lock 10m` to wait up to that long".into(),
            ),
            Self::NoSpace { .. } => Some("Free space in the store or point `[storage.local] path` elsewhere".into()),
            Self::AlreadyExists { .. } | Self::NotFound { .. } => None,
        }
    }
}

/// A configured store (cheap to clone: the Azure clients are shared).
#[derive(Debug, Clone)]
pub enum Store {
    Local(local::LocalStore),
    Azure(azure::AzureStore),
}

/// An upload in progress to one store.
#[derive(Debug)]
pub enum Upload {
    Local(local::LocalUpload),
    Azure(azure::AzureUpload),
}

/// A held lock; released by [`LockGuard::release`] (and, best effort, on drop).
#[derive(Debug)]
pub enum LockGuard {
    Local(local::LocalLock),
    Azure(azure::AzureLock),
}

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

/// This machine's host name (`gethostname`), or `unknown`.
pub fn hostname() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it when the name fits.
    let rc = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    if rc != 0 {
        return "unknown".to_string();
    }
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}

/// Whether an error of one store is that store's own failure (unreachable, timed out, out of space, a request
/// refused), after which a run that writes to several stores carries on with the others and ends partial (exit 3);
/// rather than a mistake that must stop the whole run: a lock held by another run (exit 11), a credential refused
/// (exit 12), a usage or configuration error (exit 2).
pub fn is_store_failure(err: &anyhow::Error) -> bool {
    // A `UserError` is a decision already made with a hint (e.g. a manifest that cannot be read), not an outage.
    !err.chain().any(<dyn std::error::Error>::is::<crate::exit::UserError>)
        && !matches!(
            crate::exit::status_of(err),
            ExitStatus::LockHeld | ExitStatus::Auth | ExitStatus::Usage
        )
}

/// Whether a process of this host is alive (`kill(pid, 0)`; EPERM means it exists under another user).
pub(crate) fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

impl Store {
    /// Resolves the configured stores. With no `[storage]` at all: one local store at the default path.
    /// `[storage.local] enabled = false` leaves the local store out. Azure is configured when `[storage.azure]` has
    /// a container. `AZURE_STORAGE_CONNECTION_STRING`, `AZURE_STORAGE_SAS_TOKEN` and `AZURE_STORAGE_ACCOUNT`
    /// override the file (docs/storage.md).
    ///
    /// # Errors
    /// A [`crate::exit::UserError`] (exit 2) naming the key of an invalid value, or when no store is left.
    pub fn from_config(config: &StorageConfig) -> anyhow::Result<Vec<Store>> {
        Self::from_config_with_env(config, &|name| std::env::var(name).ok())
    }

    /// [`Store::from_config`] with the environment read through `env` (tests pass an empty one).
    ///
    /// # Errors
    /// See [`Store::from_config`].
    pub fn from_config_with_env(
        config: &StorageConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Vec<Store>> {
        resolve::stores(config, env)
    }

    /// `local` or `azure`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Local(_) => "local",
            Self::Azure(_) => "azure",
        }
    }

    /// `local:/var/backups/campctl` or `azure:https://acct.blob.core.windows.net/container/prefix` (never a secret).
    pub fn label(&self) -> String {
        match self {
            Self::Local(store) => store.label(),
            Self::Azure(store) => store.label(),
        }
    }

    /// Starts streaming an object of unknown length; nothing is visible under `name` before [`Upload::commit`].
    /// `expected_size` sizes Azure blocks.
    ///
    /// # Errors
    /// When the object cannot be started (directory not writable, container not reachable).
    pub async fn begin_upload(&self, name: &str, expected_size: Option<u64>) -> anyhow::Result<Upload> {
        Ok(match self {
            Self::Local(store) => Upload::Local(store.begin_upload(name).await?),
            Self::Azure(store) => Upload::Azure(store.begin_upload(name, expected_size).await?),
        })
    }

    /// Writes a small object that must not exist yet.
    ///
    /// # Errors
    /// [`StoreError::AlreadyExists`] if it exists; I/O, network and authentication errors.
    pub async fn put_new(&self, name: &str, bytes: Bytes, info: CommitInfo) -> anyhow::Result<ObjectInfo> {
        match self {
            Self::Local(store) => store.put(name, bytes, false).await,
            Self::Azure(store) => store.put(name, bytes, info, false).await,
        }
    }

    /// Writes a small object, replacing it if it exists.
    ///
    /// # Errors
    /// I/O, network and authentication errors.
    pub async fn put(&self, name: &str, bytes: Bytes, info: CommitInfo) -> anyhow::Result<()> {
        match self {
            Self::Local(store) => store.put(name, bytes, true).await.map(drop),
            Self::Azure(store) => store.put(name, bytes, info, true).await.map(drop),
        }
    }

    /// Reads a small object whole.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; I/O, network and authentication errors.
    pub async fn get(&self, name: &str) -> anyhow::Result<Bytes> {
        match self {
            Self::Local(store) => store.get(name).await,
            Self::Azure(store) => store.get(name).await,
        }
    }

    /// Streams a large object in order with bounded memory.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; I/O, network and authentication errors (also as items of the stream).
    pub async fn download(&self, name: &str) -> anyhow::Result<BoxStream<'static, anyhow::Result<Bytes>>> {
        match self {
            Self::Local(store) => store.download(name).await,
            Self::Azure(store) => store.download(name).await,
        }
    }

    /// The committed objects whose names start with `prefix`, recursively, sorted by name. Names are relative to
    /// the store; `*.partial` files, uncommitted blocks and the `locks/` folder are never listed.
    ///
    /// # Errors
    /// I/O, network and authentication errors.
    pub async fn list(&self, prefix: &str) -> anyhow::Result<Vec<ObjectInfo>> {
        match self {
            Self::Local(store) => store.list(prefix).await,
            Self::Azure(store) => store.list(prefix).await,
        }
    }

    /// Deletes an object (on Azure with its snapshots).
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; I/O, network and authentication errors.
    pub async fn delete(&self, name: &str) -> anyhow::Result<()> {
        match self {
            Self::Local(store) => store.delete(name).await,
            Self::Azure(store) => store.delete(name).await,
        }
    }

    /// Takes the lock `name` of this store (`locks/<name>`), waiting up to `wait` for another holder to let go.
    ///
    /// # Errors
    /// [`StoreError::LockHeld`] naming the holder when it is still held after `wait`.
    pub async fn lock(&self, name: &str, holder: &LockHolder, wait: Duration) -> anyhow::Result<LockGuard> {
        Ok(match self {
            Self::Local(store) => LockGuard::Local(store.lock(name, holder, wait).await?),
            Self::Azure(store) => LockGuard::Azure(store.lock(name, holder, wait).await?),
        })
    }
}

impl Upload {
    /// Appends bytes. Waits while the store is busy: Azure keeps at most `concurrency` blocks in flight, so memory
    /// stays near (concurrency + 1) × block size.
    ///
    /// # Errors
    /// I/O, network and authentication errors, [`StoreError::NoSpace`]; after an error only [`Upload::abort`] is
    /// useful.
    pub async fn write(&mut self, chunk: Bytes) -> anyhow::Result<()> {
        match self {
            Self::Local(upload) => upload.write(chunk).await,
            Self::Azure(upload) => upload.write(chunk).await,
        }
    }

    /// Bytes accepted by [`Upload::write`] so far.
    pub fn bytes_written(&self) -> u64 {
        match self {
            Self::Local(upload) => upload.bytes_written(),
            Self::Azure(upload) => upload.bytes_written(),
        }
    }

    /// Makes the object visible under its name, atomically, unless that name exists.
    ///
    /// # Errors
    /// [`StoreError::AlreadyExists`] (the existing object is left intact); I/O, network and authentication errors.
    /// Nothing is visible after an error.
    pub async fn commit(self, info: CommitInfo) -> anyhow::Result<ObjectInfo> {
        match self {
            Self::Local(upload) => upload.commit().await,
            Self::Azure(upload) => upload.commit(info).await,
        }
    }

    /// Gives up: nothing becomes visible (local: the partial file is removed; Azure: staged blocks are never
    /// committed and expire). Best effort; never fails.
    pub async fn abort(self) {
        match self {
            Self::Local(upload) => upload.abort().await,
            Self::Azure(upload) => upload.abort(),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::{StoreError, is_store_failure};

    #[test]
    fn item_05_a_store_outage_is_told_from_a_mistake() {
        let outage = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused))
            .context("Failed to list `appdb/` in azure:http://127.0.0.1:1/acct/c");
        assert!(is_store_failure(&outage));
        let full = anyhow::Error::new(StoreError::NoSpace {
            store: "local:/b".into(),
        });
        assert!(is_store_failure(&full));
        let held = anyhow::Error::new(StoreError::LockHeld {
            store: "azure:x".into(),
            name: "backup-appdb".into(),
            holder: "host `h` pid 1".into(),
        });
        assert!(!is_store_failure(&held));
        let auth = anyhow::Error::new(StoreError::Auth {
            store: "azure:x".into(),
            credential: "a connection string".into(),
            hint: String::new(),
        });
        assert!(!is_store_failure(&auth.context("Failed to lease the lock")));
        let usage = anyhow::Error::new(crate::exit::UserError::usage("bad key"));
        assert!(!is_store_failure(&usage));
    }
}
