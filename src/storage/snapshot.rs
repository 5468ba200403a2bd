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
    /// `(blob, error)`.
    pub failed: Vec<(String, String)>,
    /// `(blob, snapshot timestamp)`.
    pub snapshots: Vec<(String, String)>,
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
        let label = self.label();
        let items = list_container(&client, prefix, false).await.map_err(|err| {
            azure_error(
                &err,
                &label,
                &settings.auth,
                &format!("{container_name}/{prefix}"),
                "list",
            )
        })?;
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
                Ok(snapshot) => report.snapshots.push((name, snapshot)),
                Err(err) => report.failed.push((name, err)),
            }
        }
        report.snapshots.sort();
        report.failed.sort();
        report.snapshotted = report.snapshots.len();
        Ok(report)
    }
}
