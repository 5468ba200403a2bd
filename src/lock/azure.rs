//! Locks of the Azure store: a blob lease on `<prefix>locks/<name>`.
//!
//! The lease lasts [`LEASE_SECONDS`] and a background task renews it every [`RENEW_EVERY`] while the lock is held,
//! so a run that dies loses its lock within a minute without anyone cleaning up. The holder is written into the
//! lock blob's metadata after the lease is taken (and cleared before it is released), so that a second run can
//! name it, together with the lease id.
//!
//! A lease whose holder is stale ([`LockHolder::is_stale`]: this host, process gone, e.g. a run killed with SIGKILL)
//! is taken over at once with a warning, as a local lock is, with `Change Lease` from the recorded lease id to a new one, which
//! only one of several runs racing for it can win. A run that is interrupted releases its lease through the cleanup
//! registry that `main` runs (see [`LeaseRelease`], in `storage` so that the registry needs no lock), because a task
//! spawned from a dropped future does not outlive the runtime's shutdown. Another host's lease is broken only by
//! [`break_lock`] (`backup unlock`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use azure_core::http::StatusCode;
use azure_storage_blob::models::{
    BlobClientAcquireLeaseResultHeaders as _, BlobClientBreakLeaseOptions, BlobClientGetPropertiesResultHeaders as _,
    BlobClientSetMetadataOptions, BlockBlobClientUploadOptions, LeaseState,
};
use bytes::Bytes;
use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};
use tokio::task::JoinHandle;

use super::{LockHolder, StoreLockState};
use crate::os::hostname;
use crate::storage::azure::{AzureInner, AzureStore};
use crate::storage::errors::{describe, http_error, is_already_exists};
use crate::storage::local::LOCKS_DIR;
use crate::storage::{LeaseRelease, StoreError};

/// The lease duration (the service takes 15–60 s or infinite).
pub(super) const LEASE_SECONDS: i32 = 60;
/// How often the lease is renewed while held.
pub(super) const RENEW_EVERY: Duration = Duration::from_secs(20);
/// How often a waiting run tries again.
const POLL: Duration = Duration::from_secs(1);
/// Metadata values are HTTP header values: non-ASCII (a database name in Japanese) and `%` are percent-encoded.
const METADATA_VALUE: &AsciiSet = &CONTROLS.add(b'%');

/// A held lease; released by [`AzureLock::release`], else (best effort) on drop, else it expires.
pub struct AzureLock {
    store: Arc<AzureInner>,
    blob: String,
    lease_id: String,
    renewal: JoinHandle<()>,
    released: bool,
}

impl std::fmt::Debug for AzureLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureLock")
            .field("blob", &self.blob)
            .finish_non_exhaustive()
    }
}

enum Attempt {
    Taken(String),
    Held(String),
}

/// Takes the lock `name` of `store`, waiting up to `wait`.
pub(super) async fn take(
    store: &AzureStore,
    name: &str,
    holder: &LockHolder,
    wait: Duration,
) -> anyhow::Result<AzureLock> {
    let inner = &store.inner;
    inner.ensure_container().await?;
    let blob = format!("{LOCKS_DIR}/{name}");
    let deadline = Instant::now() + wait;
    loop {
        match try_lease(inner, &blob).await? {
            Attempt::Taken(lease_id) => {
                let lock = AzureLock {
                    store: inner.clone(),
                    blob: blob.clone(),
                    renewal: spawn_renewal(inner.clone(), blob.clone(), lease_id.clone()),
                    lease_id,
                    released: false,
                };
                let options = BlobClientSetMetadataOptions {
                    lease_id: Some(lock.lease_id.clone()),
                    ..BlobClientSetMetadataOptions::default()
                };
                if let Err(err) = inner
                    .blob(&blob)
                    .set_metadata(&holder_metadata(holder, &lock.lease_id), Some(options))
                    .await
                {
                    let err = inner.error(err, &blob, "record the holder of the lock");
                    let _ = lock.release().await;
                    return Err(err);
                }
                return Ok(lock);
            }
            Attempt::Held(holder) => {
                if Instant::now() + POLL > deadline {
                    return Err(StoreError::LockHeld {
                        store: inner.label.clone(),
                        name: name.to_string(),
                        holder,
                    }
                    .into());
                }
                tracing::debug!("lock `{name}` in {} is held by {holder}; waiting", inner.label);
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

/// One attempt: acquire the lease (creating the lock blob first if missing), or find out who holds it.
async fn try_lease(inner: &AzureInner, blob: &str) -> anyhow::Result<Attempt> {
    let client = inner.blob(blob);
    for _ in 0..2 {
        match client.acquire_lease(LEASE_SECONDS, None).await {
            Ok(response) => {
                let lease_id = response
                    .lease_id()
                    .ok()
                    .flatten()
                    .ok_or_else(|| anyhow::anyhow!("the service returned no lease id for `{blob}`"))?;
                return Ok(Attempt::Taken(lease_id));
            }
            Err(err) if http_error(&err).is_some_and(|(status, _)| status == StatusCode::NotFound) => {
                let options = BlockBlobClientUploadOptions {
                    if_none_match: Some("*".into()),
                    ..BlockBlobClientUploadOptions::default()
                };
                match client.upload(Bytes::new().into(), Some(options)).await {
                    Ok(_) => {}
                    // Another run created it meanwhile.
                    Err(err) if is_already_exists(&err) => {}
                    Err(err) => return Err(inner.error(err, blob, "create the lock blob")),
                }
            }
            Err(err) if http_error(&err).is_some_and(|(status, _)| status == StatusCode::Conflict) => {
                let metadata = match client.get_properties(None).await {
                    Ok(properties) => properties.metadata().ok().unwrap_or_default(),
                    Err(err) => return Err(inner.error(err, blob, "read the holder of the lock")),
                };
                let Some(holder) = holder_from_metadata(&metadata) else {
                    return Ok(Attempt::Held(format!(
                        "an unknown run (the lease on `{blob}` carries no holder yet)"
                    )));
                };
                if let Some(lease_id) = take_over_stale(inner, blob, &holder, &metadata).await {
                    return Ok(Attempt::Taken(lease_id));
                }
                return Ok(Attempt::Held(holder.to_string()));
            }
            Err(err) => return Err(inner.error(err, blob, "lease the lock")),
        }
    }
    Ok(Attempt::Held(format!(
        "another run (`{blob}` was recreated while we leased it)"
    )))
}

fn spawn_renewal(inner: Arc<AzureInner>, blob: String, lease_id: String) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(RENEW_EVERY).await;
            match inner.blob(&blob).renew_lease(lease_id.clone(), None).await {
                Ok(_) => tracing::trace!("renewed the lease on `{blob}`"),
                Err(err) => tracing::warn!(
                    "Failed to renew the lease on `{blob}` in {} (another run may take the lock once it expires): {}",
                    inner.label,
                    describe(&err)
                ),
            }
        }
    })
}

/// Takes over the lease of a holder on this host whose process is gone: `Change Lease` from the lease id it recorded
/// to a new one. Returns the new lease id, or `None` when the holder is alive, elsewhere, recorded no lease id, or
/// another run changed the lease first.
async fn take_over_stale(
    inner: &AzureInner,
    blob: &str,
    holder: &LockHolder,
    metadata: &HashMap<String, String>,
) -> Option<String> {
    if !holder.is_stale() {
        return None;
    }
    let old = metadata_value(metadata, LEASE_KEY)?;
    let new = new_lease_id();
    match inner.blob(blob).change_lease(old, new.clone(), None).await {
        Ok(_) => {
            tracing::warn!(
                "taking over the stale lock `{blob}` in {}: it was held by {holder}, which is no longer running",
                inner.label
            );
            Some(new)
        }
        Err(err) => {
            tracing::debug!("could not take over the stale lease on `{blob}`: {}", describe(&err));
            None
        }
    }
}

/// A fresh lease id (a GUID, as the service requires): a hash of this host, process, time and a counter.
fn new_lease_id() -> String {
    use sha2::Digest as _;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hash = sha2::Sha256::new();
    hash.update(hostname().as_bytes());
    hash.update(std::process::id().to_le_bytes());
    hash.update(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
            .to_le_bytes(),
    );
    hash.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let hex = hex::encode(&hash.finalize()[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The metadata key of the lease id (a stale lease can be taken over only by whoever knows it).
const LEASE_KEY: &str = "campctl_lease";

fn holder_metadata(holder: &LockHolder, lease_id: &str) -> HashMap<String, String> {
    let encode = |value: &str| utf8_percent_encode(value, METADATA_VALUE).to_string();
    HashMap::from([
        ("campctl_host".to_string(), encode(&holder.host)),
        ("campctl_pid".to_string(), holder.pid.to_string()),
        ("campctl_started_at".to_string(), holder.started_at.to_rfc3339()),
        ("campctl_command".to_string(), encode(&holder.command)),
        (LEASE_KEY.to_string(), lease_id.to_string()),
    ])
}

fn metadata_value(metadata: &HashMap<String, String>, key: &str) -> Option<String> {
    metadata
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(key))
        .map(|(_, value)| percent_decode_str(value).decode_utf8_lossy().into_owned())
}

fn holder_from_metadata(metadata: &HashMap<String, String>) -> Option<LockHolder> {
    let get = |key: &str| metadata_value(metadata, key);
    Some(LockHolder {
        host: get("campctl_host")?,
        pid: get("campctl_pid")?.parse().ok()?,
        started_at: chrono::DateTime::parse_from_rfc3339(&get("campctl_started_at")?)
            .ok()?
            .with_timezone(&chrono::Utc),
        command: get("campctl_command").unwrap_or_default(),
    })
}

impl AzureLock {
    pub async fn release(mut self) -> anyhow::Result<()> {
        self.released = true;
        self.renewal.abort();
        self.release_handle().release().await
    }

    /// What releases this lease without the lock itself, for the interrupt cleanup registry.
    pub fn release_handle(&self) -> LeaseRelease {
        LeaseRelease::new(self.store.clone(), self.blob.clone(), self.lease_id.clone())
    }
}

impl Drop for AzureLock {
    /// A lock dropped without release (an error path, Ctrl-C) releases its lease in the background if the runtime
    /// still runs; otherwise the lease expires within a minute.
    fn drop(&mut self) {
        self.renewal.abort();
        if self.released {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (store, blob, lease_id) = (self.store.clone(), self.blob.clone(), self.lease_id.clone());
            runtime.spawn(async move {
                let _ = store.blob(&blob).release_lease(lease_id, None).await;
            });
        }
    }
}

/// Reads the lease state and holder of the lock `name` of `store` without taking it.
pub(super) async fn inspect(store: &AzureStore, name: &str) -> anyhow::Result<StoreLockState> {
    let inner = &store.inner;
    let blob = format!("{LOCKS_DIR}/{name}");
    let properties = match inner.blob(&blob).get_properties(None).await {
        Ok(properties) => properties,
        Err(err) if http_error(&err).is_some_and(|(status, _)| status == StatusCode::NotFound) => {
            return Ok(StoreLockState::Free);
        }
        Err(err) => return Err(inner.error(err, &blob, "read the holder of the lock")),
    };
    let state = properties.lease_state().ok().flatten();
    if !matches!(state, Some(LeaseState::Leased | LeaseState::Breaking)) {
        return Ok(StoreLockState::Free);
    }
    let metadata = properties.metadata().ok().unwrap_or_default();
    Ok(holder_from_metadata(&metadata).map_or_else(
        || StoreLockState::Unknown(format!("the lease on `{blob}` carries no holder")),
        StoreLockState::Held,
    ))
}

/// Breaks the lease on the lock `name` of `store` at once (break period 0), whoever holds it; returns whether it
/// was leased. The holder's next renewal fails with a warning, and its release finds the lease gone.
pub(super) async fn break_lock(store: &AzureStore, name: &str) -> anyhow::Result<bool> {
    let inner = &store.inner;
    let blob = format!("{LOCKS_DIR}/{name}");
    let options = BlobClientBreakLeaseOptions {
        break_period: Some(0),
        ..BlobClientBreakLeaseOptions::default()
    };
    match inner.blob(&blob).break_lease(Some(options)).await {
        Ok(_) => {
            // The broken lease leaves the blob writable without a lease id: clear the holder it recorded.
            if let Err(err) = inner.blob(&blob).set_metadata(&HashMap::new(), None).await {
                tracing::debug!("could not clear the holder of `{blob}`: {}", describe(&err));
            }
            Ok(true)
        }
        Err(err)
            if http_error(&err)
                .is_some_and(|(status, _)| status == StatusCode::NotFound || status == StatusCode::Conflict) =>
        {
            Ok(false)
        }
        Err(err) => Err(inner.error(err, &blob, "break the lease on")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holder_round_trips_through_metadata() {
        let holder = LockHolder {
            host: "db-01".into(),
            pid: 4242,
            started_at: chrono::DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
                .expect("time")
                .with_timezone(&chrono::Utc),
            command: "backup 日本語 100%".into(),
        };
        let lease_id = new_lease_id();
        let metadata = holder_metadata(&holder, &lease_id);
        assert!(metadata.values().all(|value| value.is_ascii()));
        assert_eq!(holder_from_metadata(&metadata), Some(holder));
        assert_eq!(metadata_value(&metadata, LEASE_KEY), Some(lease_id));
    }

    #[test]
    fn item_03_new_lease_ids_are_distinct_guids() {
        let (first, second) = (new_lease_id(), new_lease_id());
        assert_ne!(first, second);
        let groups: Vec<usize> = first.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{first}");
        assert!(first.chars().all(|c| c == '-' || c.is_ascii_hexdigit()), "{first}");
    }
}
