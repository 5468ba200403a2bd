//! The Azure Blob store: a container (optional prefix) through the official SDK (`azure_storage_blob` 1.x).
//!
//! Blob names are `<prefix><name>`. Clients are not `Clone` (azure-sdk-facts.md), so one container client is
//! shared through an `Arc` by the store, its uploads, its locks' renewal tasks and snapshot tasks. The container is
//! created on first write if it does not exist.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZero;
use std::sync::Arc;

use azure_core::http::StatusCode;
use azure_storage_blob::models::{
    BlobClientDeleteOptions, BlobClientDownloadOptions, BlobClientGetPropertiesResultHeaders as _,
    BlobContainerClientListBlobsOptions, BlobItem, BlockBlobClientUploadOptions, DeleteSnapshotsOptionType,
    ListBlobsIncludeItem,
};
use azure_storage_blob::{BlobClient, BlobContainerClient, BlobContainerClientOptions};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::{BoxStream, StreamExt as _, TryStreamExt as _};
use tokio::sync::OnceCell;
use url::Url;

use super::azure_settings::AzureSettings;
use super::errors::{azure_error, http_error, is_already_exists};
use super::local::LOCKS_DIR;
use super::{CommitInfo, ObjectInfo, StoreError};
use crate::azure::sas::append_sas;

pub use super::azure_upload::AzureUpload;
pub use super::lease::LeaseRelease;
pub use super::snapshot::SnapshotReport;

/// Partition size and parallelism of downloads: memory ≈ 2 × parallel × partition (azure-sdk-facts.md).
const DOWNLOAD_PARTITION: usize = 4 << 20;
const DOWNLOAD_PARALLEL: usize = 2;

/// An Azure Blob container store.
#[derive(Debug, Clone)]
pub struct AzureStore {
    pub(crate) inner: Arc<AzureInner>,
}

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

impl AzureStore {
    /// A store for resolved settings (no request is sent yet).
    ///
    /// # Errors
    /// When the SDK refuses the URL (an Entra ID credential with an `http://` endpoint).
    pub fn new(settings: AzureSettings) -> anyhow::Result<Self> {
        // Both rustls providers are linked (ring for PostgreSQL, aws-lc-rs through the SDK's reqwest), and reqwest
        // panics when it has to guess. `main` names ring for the process; this covers library callers (tests).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let container = container_client(&settings, &settings.container)?;
        let mut base = settings.endpoint.as_str().trim_end_matches('/').to_string();
        base.push('/');
        base.push_str(&settings.container);
        if !settings.prefix.is_empty() {
            base.push('/');
            base.push_str(settings.prefix.trim_end_matches('/'));
        }
        Ok(Self {
            inner: Arc::new(AzureInner {
                label: format!("azure:{base}"),
                settings,
                container,
                container_ready: OnceCell::new(),
            }),
        })
    }

    pub fn label(&self) -> String {
        self.inner.label.clone()
    }

    /// The resolved settings (endpoint, container, prefix, credential, block size…).
    pub fn settings(&self) -> &AzureSettings {
        &self.inner.settings
    }

    pub async fn begin_upload(&self, name: &str, expected_size: Option<u64>) -> anyhow::Result<AzureUpload> {
        self.inner.ensure_container().await?;
        Ok(AzureUpload::new(self.inner.clone(), name, expected_size))
    }

    /// One request: `Put Blob` with the bytes, metadata and properties (`If-None-Match: *` unless `replace`).
    pub async fn put(&self, name: &str, bytes: Bytes, info: CommitInfo, replace: bool) -> anyhow::Result<ObjectInfo> {
        self.inner.ensure_container().await?;
        let size = bytes.len() as u64;
        let options = BlockBlobClientUploadOptions {
            if_none_match: (!replace).then(|| "*".into()),
            metadata: Some(to_hash_map(&info.metadata)),
            blob_content_md5: info.content_md5.map(|md5| md5.to_vec()),
            blob_content_type: info.content_type.clone(),
            ..BlockBlobClientUploadOptions::default()
        };
        let blob = self.inner.blob(name);
        match blob.upload(bytes.into(), Some(options)).await {
            Ok(_) => Ok(ObjectInfo {
                name: name.to_string(),
                size,
                last_modified: Some(Utc::now()),
                metadata: info.metadata,
            }),
            Err(err) if !replace && is_already_exists(&err) => Err(StoreError::AlreadyExists {
                store: self.label(),
                name: name.to_string(),
            }
            .into()),
            Err(err) => Err(self.inner.error(err, name, "upload")),
        }
    }

    pub async fn get(&self, name: &str) -> anyhow::Result<Bytes> {
        let result = self
            .inner
            .blob(name)
            .download(Some(download_options()))
            .await
            .map_err(|err| self.inner.error(err, name, "download"))?;
        result
            .body
            .collect()
            .await
            .map_err(|err| self.inner.error(err, name, "download"))
    }

    pub async fn download(&self, name: &str) -> anyhow::Result<BoxStream<'static, anyhow::Result<Bytes>>> {
        let result = self
            .inner
            .blob(name)
            .download(Some(download_options()))
            .await
            .map_err(|err| self.inner.error(err, name, "download"))?;
        let inner = self.inner.clone();
        let name = name.to_string();
        Ok(result
            .body
            .map_err(move |err| inner.error(err, &name, "download"))
            .boxed())
    }

    pub async fn list(&self, prefix: &str) -> anyhow::Result<Vec<ObjectInfo>> {
        let items = match self.inner.list_items(prefix, false).await {
            Ok(items) => items,
            // No container yet: nothing was ever stored.
            Err(err) if http_error(&err).is_some_and(|(status, _)| status == StatusCode::NotFound) => Vec::new(),
            Err(err) => return Err(self.inner.error(err, prefix, "list")),
        };
        let mut objects: Vec<ObjectInfo> = items
            .into_iter()
            .filter_map(|item| self.inner.object_info(item))
            .filter(|object| !object.name.starts_with(&format!("{LOCKS_DIR}/")))
            .collect();
        objects.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(objects)
    }

    pub async fn delete(&self, name: &str) -> anyhow::Result<()> {
        let options = BlobClientDeleteOptions {
            delete_snapshots: Some(DeleteSnapshotsOptionType::Include),
            ..BlobClientDeleteOptions::default()
        };
        self.inner
            .blob(name)
            .delete(Some(options))
            .await
            .map(drop)
            .map_err(|err| self.inner.error(err, name, "delete"))
    }

    /// The properties of one blob (size, metadata), or `None` if it does not exist.
    ///
    /// # Errors
    /// Network and authentication errors.
    pub async fn stat(&self, name: &str) -> anyhow::Result<Option<ObjectInfo>> {
        match self.inner.blob(name).get_properties(None).await {
            Ok(response) => {
                let metadata = response.metadata().unwrap_or_default().into_iter().collect();
                Ok(Some(ObjectInfo {
                    name: name.to_string(),
                    size: response.content_length().ok().flatten().unwrap_or(0),
                    last_modified: response.last_modified().ok().flatten().map(to_chrono),
                    metadata,
                }))
            }
            Err(err) if http_error(&err).is_some_and(|(status, _)| status == StatusCode::NotFound) => Ok(None),
            Err(err) => Err(self.inner.error(err, name, "read the properties of")),
        }
    }
}

fn download_options() -> BlobClientDownloadOptions<'static> {
    BlobClientDownloadOptions {
        parallel: NonZero::new(DOWNLOAD_PARALLEL),
        partition_size: NonZero::new(DOWNLOAD_PARTITION),
        ..BlobClientDownloadOptions::default()
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
        anyhow::Error::new(super::errors::AzureRequestError::new(&err)).context(format!(
            "Failed to set up a client for container `{container}` at `{}`",
            settings.endpoint
        ))
    })
}

impl AzureInner {
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
                            super::errors::describe(&err)
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
    fn object_info(&self, item: BlobItem) -> Option<ObjectInfo> {
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
