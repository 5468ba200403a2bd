//! Backup stores: a local directory and an Azure Blob container (optional prefix), with one layout
//! (DESIGN.md, "Backup stores, layout and manifest"):
//!
//! ```text
//! <db>/<db>_<YYYYMMDD>_<HHMMSS>.dump            archive, committed atomically
//! <db>/<db>_<YYYYMMDD>_<HHMMSS>.manifest.json   written last: a backup without its manifest does not exist
//! files/<name>/<name>_<YYYYMMDD>_<HHMMSS>.tar.gz (+ .manifest.json)
//! locks/<command>-<key>                         the lock of one run per database and store (`crate::lock`)
//! ```
//!
//! A [`Store`] is an enum rather than a trait object: there are exactly two backends and async methods stay plain.
//! An [`Upload`] streams an object of unknown length: local `*.partial` + fsync + rename, Azure staged blocks with
//! N in flight and one commit with `If-None-Match: *`. Nothing is visible under `name` before [`Upload::commit`];
//! [`Upload::abort`] (or dropping the upload) leaves nothing behind that a listing shows.

pub mod azure;
mod azure_container;
mod azure_settings;
mod azure_upload;
pub(crate) mod block_checksum;
pub(crate) mod errors;
mod keys;
mod kind;
mod lease;
pub mod local;
pub mod probe;
mod resolve;
mod snapshot;
mod uncommitted;

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use serde::Serialize;

use crate::exit::{Classify, ExitStatus};

pub use azure::{AzureStore, AzureUpload, LeaseRelease};
pub use azure_settings::{AzureSettings, validate_container};
pub use errors::{caused_by_no_space, is_no_space};
pub use keys::{AzureKeys, LocalKeys, StoreKeys};
pub use kind::StoreKind;
pub use local::{LocalStore, LocalUpload};
pub use resolve::default_local_path;
pub use snapshot::{ListedSnapshot, SnapshotListing, SnapshotReport};
pub use uncommitted::UncommittedBlob;

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
    /// The service refused a staged block (`block` counts from 1) whose body did not match its check: nothing was
    /// committed.
    #[error(
        "{store} rejected block {block} of `{name}`: the block was corrupted in transit (its {check} did not \
         match: {detail})"
    )]
    CorruptedInTransit {
        store: String,
        name: String,
        block: usize,
        check: String,
        detail: String,
    },
}

impl Classify for StoreError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            Self::AlreadyExists { .. } | Self::NoSpace { .. } | Self::CorruptedInTransit { .. } => ExitStatus::Failure,
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
            Self::CorruptedInTransit { store, .. } => Some(format!(
                "Nothing was committed to {store}; run the backup again. If it happens again, look at what sits \
                 between this host and the storage account (a proxy, a NIC, memory errors)"
            )),
            Self::AlreadyExists { .. } | Self::NotFound { .. } => None,
        }
    }
}

/// A store that was dropped from a run, and why.
#[derive(Debug, Clone, Serialize)]
pub struct StoreFailure {
    pub store: String,
    pub error: String,
}

impl StoreFailure {
    /// Records `err` of `store`, logging it as a warning that names the store and the reason.
    pub fn new(store: &Store, stage: &str, err: &anyhow::Error) -> Self {
        let failure = Self {
            store: store.label(),
            error: format!("{err:#}"),
        };
        tracing::warn!(
            "{} failed ({stage}); the backup goes on to the other stores: {}",
            failure.store,
            failure.error
        );
        failure
    }
}

impl std::fmt::Display for StoreFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.store, self.error)
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

/// Whether an error of one store is that store's own failure (unreachable, timed out, out of space, a request
/// refused), after which a run that writes to several stores carries on with the others and ends partial (exit 3);
/// rather than a mistake that must stop the whole run: a lock held by another run (exit 11), a credential refused
/// (exit 12), a usage or configuration error (exit 2).
pub fn is_store_failure(err: &anyhow::Error) -> bool {
    // A `UserError` is a decision already made with a hint (e.g. a manifest that cannot be read), not an outage.
    // Without a `UserError` in the chain, the first classified error of a store's own work is a `StoreError`
    // (`crate::diagnostics` knows the whole list, but it sits above this module).
    let status = err
        .chain()
        .find_map(|cause| cause.downcast_ref::<StoreError>())
        .map_or(ExitStatus::Failure, Classify::exit_status);
    !err.chain().any(<dyn std::error::Error>::is::<crate::exit::UserError>)
        && !matches!(status, ExitStatus::LockHeld | ExitStatus::Auth | ExitStatus::Usage)
}

impl Store {
    /// Resolves the configured stores. With no `[storage]` at all: one local store at the default path.
    /// `[storage.local] enabled = false` leaves the local store out. Azure is configured when `[storage.azure]` has
    /// a container. `AZURE_STORAGE_CONNECTION_STRING`, `AZURE_STORAGE_SAS_TOKEN` and `AZURE_STORAGE_ACCOUNT`
    /// override the file (docs/storage.md).
    ///
    /// # Errors
    /// A [`crate::exit::UserError`] (exit 2) naming the key of an invalid value, or when no store is left.
    pub fn from_config(config: &StoreKeys) -> anyhow::Result<Vec<Store>> {
        Self::from_config_with_env(config, &|name| std::env::var(name).ok())
    }

    /// [`Store::from_config`] with the environment read through `env` (tests pass an empty one).
    ///
    /// # Errors
    /// See [`Store::from_config`].
    pub fn from_config_with_env(
        config: &StoreKeys,
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
