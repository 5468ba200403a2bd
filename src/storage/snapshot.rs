//! `campctl backup snapshot` (runbook 2.4.1): a blob snapshot of every blob under a prefix, `concurrency` at a
//! time.

use std::sync::Arc;

use azure_storage_blob::models::BlobClientCreateSnapshotResultHeaders as _;
use futures::stream::{self, StreamExt as _};
use serde::Serialize;

use super::azure::AzureStore;
use super::azure_container::{container_client, list_container};
use super::errors::{azure_error, describe};

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
        let settings = &self.inner.settings;
        let container_name = container.unwrap_or(&settings.container).to_string();
        let client = Arc::new(match container {
            Some(other) if other != settings.container => container_client(settings, other)?,
            _ => container_client(settings, &settings.container)?,
        });
        // Errors name the container asked for, in its account: the store's own label names the configured container
        // (and its prefix), which is not the one listed when `--container` names another.
        let account = format!("azure:{}", settings.endpoint.as_str().trim_end_matches('/'));
        let listed = if prefix.is_empty() {
            container_name.clone()
        } else {
            format!("{container_name}/{prefix}")
        };
        let items = list_container(&client, prefix, false)
            .await
            .map_err(|err| azure_error(&err, &account, &settings.auth, &listed, "list the blobs of"))?;
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
}
