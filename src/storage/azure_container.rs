//! The state one Azure store shares with its uploads, lease renewals and snapshot tasks ([`AzureInner`]: the
//! settings, one container client, the label, whether the container exists yet), and the few helpers all of them
//! use: a container client for any container of the account, a listing with metadata, metadata and time
//! conversions.
//!
//! It sits below `azure.rs`, `azure_upload.rs`, `lease.rs` and `snapshot.rs` so that they import it and not each
//! other. It must never grow a store operation of its own (those are `AzureStore`'s) and never retry by itself: the
//! SDK pipeline's `RetryPolicy` does that.

use std::collections::{BTreeMap, HashMap};

use azure_core::http::StatusCode;
use azure_storage_blob::models::{BlobContainerClientListBlobsOptions, BlobItem, ListBlobsIncludeItem};
use azure_storage_blob::{BlobClient, BlobContainerClient, BlobContainerClientOptions};
use chrono::{DateTime, Utc};
use futures::stream::TryStreamExt as _;
use tokio::sync::OnceCell;
use url::Url;

use super::ObjectInfo;
use super::azure_settings::AzureSettings;
use super::errors::{AzureRequestError, azure_error, describe, http_error};
use crate::azure::sas::append_sas;

/// What a store, its uploads and its lease renewals share through an `Arc`.
pub(crate) struct AzureInner {
    pub(super) settings: AzureSettings,
    pub(super) container: BlobContainerClient,
    pub(crate) label: String,
    container_ready: OnceCell<()>,
}

impl std::fmt::Debug for AzureInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureStore")
            .field("label", &self.label)
            .field("credential", &self.settings.auth.describe())
            .finish_non_exhaustive()
    }
}

/// A container client for `container` of the store's account, authorized as the store is.
pub(super) fn container_client(settings: &AzureSettings, container: &str) -> anyhow::Result<BlobContainerClient> {
    let mut url: Url = settings.endpoint.clone();
    url.path_segments_mut()
        .map_err(|()| anyhow::anyhow!("`{}` cannot hold a container path", settings.endpoint))?
        .pop_if_empty()
        .push(container);
    if let crate::azure::credentials::BlobAuth::Sas { token, .. } = &settings.auth {
        append_sas(&mut url, token);
    }
    let options = BlobContainerClientOptions {
        client_options: settings.retry.client_options(),
        ..BlobContainerClientOptions::default()
    };
    BlobContainerClient::new(url, settings.auth.token_credential(), Some(options)).map_err(|err| {
        anyhow::Error::new(AzureRequestError::new(&err)).context(format!(
            "Failed to set up a client for container `{container}` at `{}`",
            settings.endpoint
        ))
    })
}

impl AzureInner {
    /// The shared state of a store whose container client is `container` (no request is sent yet).
    pub(super) fn new(label: String, settings: AzureSettings, container: BlobContainerClient) -> Self {
        Self {
            label,
            settings,
            container,
            container_ready: OnceCell::new(),
        }
    }

    pub(super) fn blob_name(&self, name: &str) -> String {
        format!("{}{name}", self.settings.prefix)
    }

    pub(crate) fn blob(&self, name: &str) -> BlobClient {
        self.container.blob_client(&self.blob_name(name))
    }

    #[expect(
        clippy::needless_pass_by_value,
        reason = "taking the error by value reads better in `map_err`"
    )]
    pub(crate) fn error(&self, err: azure_core::Error, name: &str, action: &str) -> anyhow::Error {
        azure_error(&err, &self.label, &self.settings.auth, name, action)
    }

    /// Creates the container once per store if it does not exist. A credential that may not create containers
    /// (a container SAS) is fine as long as the container exists: the first real request says if not.
    pub(crate) async fn ensure_container(&self) -> anyhow::Result<()> {
        self.container_ready
            .get_or_try_init(|| async {
                match self.container.create(None).await {
                    Ok(_) => {
                        tracing::info!("created container `{}`", self.settings.container);
                        Ok(())
                    }
                    Err(err) if http_error(&err).is_some_and(|(status, _)| status == StatusCode::Conflict) => Ok(()),
                    Err(err)
                        if http_error(&err).is_some_and(|(status, _)| {
                            status == StatusCode::Forbidden || status == StatusCode::Unauthorized
                        }) =>
                    {
                        tracing::debug!(
                            "may not create container `{}`: {}",
                            self.settings.container,
                            describe(&err)
                        );
                        Ok(())
                    }
                    Err(err) => Err(self.error(err, &self.settings.container, "create the container")),
                }
            })
            .await?;
        Ok(())
    }

    /// Every committed blob under `<prefix><prefix_within>` (all pages), with metadata.
    pub(super) async fn list_items(&self, prefix_within: &str, snapshots: bool) -> azure_core::Result<Vec<BlobItem>> {
        list_container(&self.container, &self.blob_name(prefix_within), snapshots).await
    }

    /// A listing entry as an [`ObjectInfo`] relative to the prefix.
    pub(super) fn object_info(&self, item: BlobItem) -> Option<ObjectInfo> {
        let name = item.name?.strip_prefix(&self.settings.prefix)?.to_string();
        let properties = item.properties.unwrap_or_default();
        let metadata = item
            .metadata
            .and_then(|metadata| metadata.values)
            .unwrap_or_default()
            .into_iter()
            .collect();
        Some(ObjectInfo {
            name,
            size: properties.content_length.unwrap_or(0),
            last_modified: properties.last_modified.map(to_chrono),
            metadata,
        })
    }
}

/// Lists a container's blobs under `prefix` with metadata (and snapshots).
pub(super) async fn list_container(
    container: &BlobContainerClient,
    prefix: &str,
    snapshots: bool,
) -> azure_core::Result<Vec<BlobItem>> {
    let mut include = vec![ListBlobsIncludeItem::Metadata];
    if snapshots {
        include.push(ListBlobsIncludeItem::Snapshots);
    }
    let options = BlobContainerClientListBlobsOptions {
        include: Some(include),
        prefix: (!prefix.is_empty()).then(|| prefix.to_string()),
        ..BlobContainerClientListBlobsOptions::default()
    };
    container.list_blobs(Some(options))?.try_collect().await
}

pub(super) fn to_hash_map(metadata: &BTreeMap<String, String>) -> HashMap<String, String> {
    metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

pub(super) fn to_chrono(time: azure_core::time::OffsetDateTime) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(time.unix_timestamp(), time.nanosecond()).unwrap_or_default()
}
