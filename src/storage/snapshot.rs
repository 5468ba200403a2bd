//! `campctl backup snapshot` (runbook 2.4.1): a blob snapshot of every blob under a prefix, `concurrency` at a
//! time; and for `cleanup --snapshots`, the listing of a container's snapshots (with the blobs that still exist)
//! and the delete of one snapshot by blob name and snapshot timestamp.

use std::collections::BTreeSet;
use std::sync::Arc;

use azure_core::http::StatusCode;
use azure_storage_blob::BlobContainerClient;
use azure_storage_blob::models::{BlobClientCreateSnapshotResultHeaders as _, BlobClientDeleteOptions};
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt as _};
use serde::Serialize;

use super::azure::AzureStore;
use super::azure_container::{container_client, list_container};
use super::errors::{azure_error, describe, is_status};

/// The outcome of [`AzureStore::snapshot_blobs`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct SnapshotReport {
    pub container: String,
    /// Blobs found under the prefix (snapshots themselves are not counted).
    pub total: usize,
    pub snapshotted: usize,
    /// The blobs that could not be snapshotted, by name.
    pub failed: Vec<SnapshotFailure>,
    /// The snapshots taken, by blob name.
    pub snapshots: Vec<BlobSnapshot>,
}

/// One snapshot taken: `{ "blob": …, "snapshot": … }` in JSON (docs/output.md).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct BlobSnapshot {
    pub blob: String,
    /// The snapshot's timestamp as the service returned it (`2026-12-04T03:00:01.1234567Z`): with the blob's name,
    /// what `?snapshot=` takes to read it.
    pub snapshot: String,
}

/// One blob that could not be snapshotted: `{ "blob": …, "error": … }` in JSON.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SnapshotFailure {
    pub blob: String,
    pub error: String,
}

impl AzureStore {
    /// Snapshots every blob of `container` (default: this store's container) under `prefix`, `concurrency` at a
    /// time. `prefix` is a blob-name prefix within the container, not relative to the store's prefix, so any
    /// container of the account can be snapshotted. Failures of single blobs are reported, not returned.
    ///
    /// # Errors
    /// When the blobs cannot be listed (authentication, a missing container, the network).
    pub async fn snapshot_blobs(
        &self,
        container: Option<&str>,
        prefix: &str,
        concurrency: usize,
    ) -> anyhow::Result<SnapshotReport> {
        let (container_name, client) = self.other_container(container)?;
        let client = Arc::new(client);
        let items = list_container(&client, prefix, false)
            .await
            .map_err(|err| self.listing_error(&err, &container_name, prefix))?;
        let names: Vec<String> = items.into_iter().filter_map(|item| item.name).collect();
        let total = names.len();
        let results: Vec<(String, Result<String, String>)> = stream::iter(names)
            .map(|name| {
                let client = client.clone();
                async move {
                    let result = match client.blob_client(&name).create_snapshot(None).await {
                        Ok(response) => match response.snapshot() {
                            Ok(Some(snapshot)) => Ok(snapshot),
                            Ok(None) => Err("the service returned no snapshot timestamp".to_string()),
                            Err(err) => Err(describe(&err)),
                        },
                        Err(err) => Err(describe(&err)),
                    };
                    (name, result)
                }
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        let mut report = SnapshotReport {
            container: container_name,
            total,
            ..SnapshotReport::default()
        };
        for (name, result) in results {
            match result {
                Ok(snapshot) => report.snapshots.push(BlobSnapshot { blob: name, snapshot }),
                Err(error) => report.failed.push(SnapshotFailure { blob: name, error }),
            }
        }
        report.snapshots.sort();
        report.failed.sort();
        report.snapshotted = report.snapshots.len();
        Ok(report)
    }

    /// The name and a client of `container` (default: this store's container).
    fn other_container(&self, container: Option<&str>) -> anyhow::Result<(String, BlobContainerClient)> {
        let settings = &self.inner.settings;
        let name = container.unwrap_or(&settings.container).to_string();
        let client = container_client(settings, &name)?;
        Ok((name, client))
    }

    /// A listing error naming the container asked for, in its account: the store's own label names the configured
    /// container (and its prefix), which is not the one listed when another container is named.
    fn listing_error(&self, err: &azure_core::Error, container: &str, prefix: &str) -> anyhow::Error {
        let settings = &self.inner.settings;
        let account = format!("azure:{}", settings.endpoint.as_str().trim_end_matches('/'));
        let listed = if prefix.is_empty() {
            container.to_string()
        } else {
            format!("{container}/{prefix}")
        };
        azure_error(err, &account, &settings.auth, &listed, "list the blobs of")
    }

    /// Every snapshot of `container` (default: this store's container) under `prefix` (a blob-name prefix within
    /// the container, not relative to the store's prefix), in one paged listing, with the names of the blobs that
    /// still exist there.
    ///
    /// # Errors
    /// When the blobs cannot be listed (authentication, a missing container, the network), or the service returns
    /// a snapshot timestamp that is not a time.
    pub async fn list_snapshots(&self, container: Option<&str>, prefix: &str) -> anyhow::Result<SnapshotListing> {
        let (container_name, client) = self.other_container(container)?;
        let items = list_container(&client, prefix, true)
            .await
            .map_err(|err| self.listing_error(&err, &container_name, prefix))?;
        let mut listing = SnapshotListing::default();
        for item in items {
            let Some(name) = item.name else { continue };
            match item.snapshot {
                Some(snapshot) => {
                    let time = DateTime::parse_from_rfc3339(&snapshot)
                        .map_err(|err| {
                            anyhow::anyhow!(
                                "The service listed a snapshot of `{container_name}/{name}` with the timestamp \
                                 `{snapshot}`, which is not a time: {err}"
                            )
                        })?
                        .with_timezone(&Utc);
                    listing.snapshots.push(ListedSnapshot {
                        blob: name,
                        snapshot,
                        time,
                    });
                }
                // A version or a deleted blob (with versioning or soft delete on) is not a live blob.
                None if item.deleted != Some(true) && item.version_id.is_none() => {
                    listing.live_blobs.insert(name);
                }
                None => {}
            }
        }
        listing.container = container_name;
        Ok(listing)
    }

    /// Deletes one snapshot of `blob` in `container` (default: this store's container): the blob itself and its
    /// other snapshots stay. A snapshot already gone counts as deleted.
    ///
    /// # Errors
    /// The service refused the delete; the message is the service's error.
    pub async fn delete_snapshot(&self, container: Option<&str>, blob: &str, snapshot: &str) -> Result<(), String> {
        let (_, client) = self.other_container(container).map_err(|err| format!("{err:#}"))?;
        let options = BlobClientDeleteOptions {
            snapshot: Some(snapshot.to_string()),
            ..BlobClientDeleteOptions::default()
        };
        match client.blob_client(blob).delete(Some(options)).await {
            Ok(_) => Ok(()),
            Err(err) if is_status(&err, StatusCode::NotFound) => Ok(()),
            Err(err) => Err(describe(&err)),
        }
    }
}

/// The snapshots of one container under a prefix, and the blobs there that still exist.
#[derive(Debug, Clone, Default)]
pub struct SnapshotListing {
    pub container: String,
    pub snapshots: Vec<ListedSnapshot>,
    /// The names of the base blobs under the prefix (not snapshots, versions or soft-deleted blobs).
    pub live_blobs: BTreeSet<String>,
}

/// One snapshot in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedSnapshot {
    pub blob: String,
    /// The timestamp as the service wrote it (what `?snapshot=` takes).
    pub snapshot: String,
    /// The same, as a time: when the snapshot was taken (by the service's clock).
    pub time: DateTime<Utc>,
}
