//! The Azure Blob store: a container (optional prefix) through the official SDK (`azure_storage_blob` 1.x).
//!
//! Blob names are `<prefix><name>`. Clients are not `Clone` (azure-sdk-facts.md), so one container client is
//! shared through an `Arc` by the store, its uploads, its locks' renewal tasks and snapshot tasks. The container is
//! created on first write if it does not exist.
//!
//! This file is the store's face (put, get, download, list, delete, stat). What the store shares with its uploads,
//! lease renewals and snapshot tasks (`AzureInner`) is in `azure_container.rs`, below all of them, so that
//! `azure_upload.rs` and `lease.rs` import it rather than this file, and this file never imports `snapshot.rs`
//! (which adds methods to [`AzureStore`]): the imports among them run one way.

use std::num::NonZero;
use std::sync::Arc;

use azure_core::http::StatusCode;
use azure_storage_blob::models::{
    BlobClientDeleteOptions, BlobClientDownloadOptions, BlobClientGetPropertiesResultHeaders as _,
    BlockBlobClientUploadOptions, DeleteSnapshotsOptionType,
};
use bytes::Bytes;
use chrono::Utc;
use futures::stream::{BoxStream, StreamExt as _, TryStreamExt as _};

use super::azure_container::{container_client, to_chrono, to_hash_map};
use super::azure_settings::AzureSettings;
use super::errors::{http_error, is_already_exists};
use super::local::LOCKS_DIR;
use super::{CommitInfo, ObjectInfo, StoreError};

pub(crate) use super::azure_container::AzureInner;
pub use super::azure_upload::AzureUpload;
pub use super::lease::LeaseRelease;

/// Partition size and parallelism of downloads: memory ≈ 2 × parallel × partition (azure-sdk-facts.md).
const DOWNLOAD_PARTITION: usize = 4 << 20;
const DOWNLOAD_PARALLEL: usize = 2;

/// An Azure Blob container store.
#[derive(Debug, Clone)]
pub struct AzureStore {
    pub(crate) inner: Arc<AzureInner>,
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
            inner: Arc::new(AzureInner::new(format!("azure:{base}"), settings, container)),
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
