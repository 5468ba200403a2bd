//! Uncommitted Azure blocks: a block blob whose blocks were staged but never committed (an upload that stopped
//! before its `Put Block List`). It is not a blob, so a normal listing and Delete Blob do not see it; List Blobs with
//! `include=uncommittedblobs` does, and committing an empty block list (only while no blob of that name exists)
//! discards the staged blocks and leaves an empty blob, which is then deleted.

use azure_core::http::{RequestContent, StatusCode};
use azure_storage_blob::models::{
    BlobContainerClientListBlobsOptions, BlockBlobClientCommitBlockListOptions, BlockLookupList, ListBlobsIncludeItem,
};
use chrono::{DateTime, Utc};
use futures::stream::TryStreamExt as _;

use super::azure::AzureStore;
use super::azure_container::to_chrono;
use super::errors::is_status;

/// A name under the store's prefix in a listing with uncommitted blobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UncommittedBlob {
    /// Relative to the store's prefix, as the store's other names.
    pub name: String,
    /// When its first block was staged (the service's `Last-Modified` of the uncommitted entry), if given.
    pub since: Option<DateTime<Utc>>,
}

impl AzureStore {
    /// Every name under the store's prefix that List Blobs returns with `include=uncommittedblobs`, committed blobs
    /// included (snapshots left out): the names that hold only uncommitted blocks are those a plain listing of the
    /// same store does not return, which the caller, who lists the store anyway, subtracts (the two listings can
    /// then run at the same time).
    ///
    /// # Errors
    /// When the container cannot be listed.
    pub async fn blobs_with_uncommitted(&self) -> anyhow::Result<Vec<UncommittedBlob>> {
        let inner = &self.inner;
        let prefix = inner.settings.prefix.clone();
        let options = BlobContainerClientListBlobsOptions {
            include: Some(vec![ListBlobsIncludeItem::UncommittedBlobs]),
            prefix: (!prefix.is_empty()).then(|| prefix.clone()),
            ..BlobContainerClientListBlobsOptions::default()
        };
        let all = async { inner.container.list_blobs(Some(options))?.try_collect::<Vec<_>>().await }
            .await
            .map_err(|err| inner.error(err, &prefix, "list the uncommitted blobs under"))?;
        Ok(all
            .into_iter()
            .filter_map(|item| {
                let name = item.name?.strip_prefix(&prefix)?.to_string();
                if item.snapshot.is_some() {
                    return None;
                }
                Some(UncommittedBlob {
                    name,
                    since: item.properties.and_then(|p| p.last_modified).map(to_chrono),
                })
            })
            .collect())
    }

    /// Discards the uncommitted blocks of `name` (relative to the prefix): commits an empty block list only if no
    /// blob of that name exists (`If-None-Match: *`, so a blob committed meanwhile is never replaced), then deletes
    /// the empty blob. Nothing left under the name counts as done.
    ///
    /// # Errors
    /// The service refused the commit or the delete.
    pub async fn discard_uncommitted(&self, name: &str) -> anyhow::Result<()> {
        let inner = &self.inner;
        let blob = inner.blob(name);
        let content = RequestContent::try_from(BlockLookupList::default())
            .map_err(|err| inner.error(err, name, "serialize an empty block list for"))?;
        let options = BlockBlobClientCommitBlockListOptions {
            if_none_match: Some("*".into()),
            ..BlockBlobClientCommitBlockListOptions::default()
        };
        match blob.block_blob_client().commit_block_list(content, Some(options)).await {
            Ok(_) => {}
            // A blob of that name exists now: an upload finished meanwhile; it is not ours to delete.
            Err(err) if is_status(&err, StatusCode::Conflict) || is_status(&err, StatusCode::PreconditionFailed) => {
                anyhow::bail!("a blob named `{name}` was committed meanwhile: left alone");
            }
            Err(err) => return Err(inner.error(err, name, "discard the uncommitted blocks of")),
        }
        match blob.delete(None).await {
            Ok(_) => Ok(()),
            Err(err) if is_status(&err, StatusCode::NotFound) => Ok(()),
            Err(err) => Err(inner.error(err, name, "delete the emptied")),
        }
    }
}
