//! Streaming upload to Azure: blocks staged with `concurrency` in flight, then one `Put Block List` with
//! `If-None-Match: *`, the metadata and Content-MD5.
//!
//! Memory stays near (concurrency + 1) × block size: one block being filled, and at most `concurrency` staged in
//! tasks; [`AzureUpload::write`] waits for a stage to finish before it starts another. Nothing is visible until the
//! commit: staged blocks that are never committed do not appear in listings and expire after 7 days. The caller
//! hashes the whole stream; this computes only the check of each block (`[storage.azure] block_checksum`, see
//! [`super::block_checksum`]) in the block's stage task, and a block the service rejects for it fails the upload
//! with [`StoreError::CorruptedInTransit`].

use std::sync::Arc;

use azure_core::http::RequestContent;
use azure_storage_blob::models::{BlockBlobClientCommitBlockListOptions, BlockLookupList};
use bytes::{Bytes, BytesMut};
use chrono::Utc;
use tokio::task::JoinSet;

use super::azure_container::{AzureInner, to_hash_map};
use super::errors::{describe, is_already_exists, is_checksum_mismatch};
use super::{CommitInfo, ObjectInfo, StoreError};

/// The service's limit of blocks per blob.
pub(super) const MAX_BLOCKS: u64 = 50_000;
/// The smallest block size chosen from an expected size.
pub(super) const MIN_BLOCK_SIZE: u64 = 8 << 20;
/// The largest block size chosen (the service takes up to 4000 MiB; a power of two must stay below).
const MAX_CHOSEN_BLOCK_SIZE: u64 = 2048 << 20;

/// The block size for an expected object size: the smallest power-of-two MiB of at least 8 MiB such that 50,000
/// blocks cover twice the expected size (a dump may grow past its estimate).
pub(super) fn block_size_for(expected_size: Option<u64>) -> u64 {
    let needed = expected_size.unwrap_or(0).saturating_mul(2).div_ceil(MAX_BLOCKS);
    let mut size = MIN_BLOCK_SIZE;
    while size < needed && size < MAX_CHOSEN_BLOCK_SIZE {
        size *= 2;
    }
    size
}

/// The id of block `index`: equal length for every block of a blob, as the service requires (the SDK base64-encodes
/// it).
fn block_id(index: usize) -> Vec<u8> {
    format!("campctl-{index:010}").into_bytes()
}

/// An upload to Azure in progress.
pub struct AzureUpload {
    store: Arc<AzureInner>,
    name: String,
    block_size: usize,
    concurrency: usize,
    buffer: BytesMut,
    blocks: Vec<Vec<u8>>,
    in_flight: JoinSet<anyhow::Result<()>>,
    written: u64,
    /// Set after a failed stage: later writes and the commit fail at once.
    failed: bool,
}

impl std::fmt::Debug for AzureUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureUpload")
            .field("name", &self.name)
            .field("blocks", &self.blocks.len())
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

impl AzureUpload {
    pub(super) fn new(store: Arc<AzureInner>, name: &str, expected_size: Option<u64>) -> Self {
        let block_size = store
            .settings
            .block_size
            .unwrap_or_else(|| block_size_for(expected_size));
        let block_size = usize::try_from(block_size).unwrap_or(usize::MAX);
        let concurrency = store.settings.concurrency.max(1);
        tracing::debug!(
            "uploading `{name}` to {} in blocks of {} with {concurrency} in flight",
            store.label,
            crate::units::ByteSize(block_size as u64)
        );
        Self {
            store,
            name: name.to_string(),
            block_size,
            concurrency,
            buffer: BytesMut::new(),
            blocks: Vec::new(),
            in_flight: JoinSet::new(),
            written: 0,
            failed: false,
        }
    }

    pub async fn write(&mut self, mut chunk: Bytes) -> anyhow::Result<()> {
        if self.failed {
            anyhow::bail!("the upload of `{}` to {} already failed", self.name, self.store.label);
        }
        self.written += chunk.len() as u64;
        while !chunk.is_empty() {
            let room = self.block_size - self.buffer.len();
            let part = chunk.split_to(room.min(chunk.len()));
            if self.buffer.is_empty() && part.len() == self.block_size {
                // A whole block in one piece: stage it without copying.
                self.stage(part).await?;
                continue;
            }
            if self.buffer.capacity() < self.block_size {
                self.buffer.reserve(self.block_size - self.buffer.len());
            }
            self.buffer.extend_from_slice(&part);
            if self.buffer.len() == self.block_size {
                let block = self.buffer.split().freeze();
                self.stage(block).await?;
            }
        }
        Ok(())
    }

    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Starts staging one block, after waiting for a slot.
    async fn stage(&mut self, block: Bytes) -> anyhow::Result<()> {
        while self.in_flight.len() >= self.concurrency {
            self.join_one().await?;
        }
        if self.blocks.len() as u64 >= MAX_BLOCKS {
            self.failed = true;
            anyhow::bail!(
                "`{}` needs more than {MAX_BLOCKS} blocks of {} in {}: set `[storage.azure] block_size` larger or \
                 pass a larger expected size",
                self.name,
                crate::units::ByteSize(self.block_size as u64),
                self.store.label
            );
        }
        let index = self.blocks.len();
        let id = block_id(index);
        self.blocks.push(id.clone());
        let store = self.store.clone();
        let name = self.name.clone();
        self.in_flight.spawn(async move {
            let length = block.len() as u64;
            let checksum = store.settings.block_checksum;
            // Computed here, in the block's own task: never on the thread that compresses the stream.
            let options = checksum.stage_options(&block).await?;
            store
                .blob(&name)
                .block_blob_client()
                .stage_block(&id, length, block.into(), Some(options))
                .await
                .map(drop)
                .map_err(|err| {
                    if is_checksum_mismatch(&err) {
                        anyhow::Error::new(StoreError::CorruptedInTransit {
                            store: store.label.clone(),
                            name: name.clone(),
                            block: index + 1,
                            check: checksum.to_string(),
                            detail: describe(&err),
                        })
                    } else {
                        store.error(err, &name, "stage a block of")
                    }
                })
        });
        Ok(())
    }

    /// Waits for one staged block; a failure fails the upload.
    async fn join_one(&mut self) -> anyhow::Result<()> {
        let Some(joined) = self.in_flight.join_next().await else {
            return Ok(());
        };
        let result = joined
            .map_err(|err| anyhow::anyhow!("a block upload task of `{}` failed: {err}", self.name))
            .and_then(|staged| staged);
        if result.is_err() {
            self.failed = true;
            self.in_flight.abort_all();
        }
        result
    }

    /// Stages the rest, waits for every block, then commits the block list with `If-None-Match: *`.
    pub async fn commit(mut self, info: CommitInfo) -> anyhow::Result<ObjectInfo> {
        if self.failed {
            anyhow::bail!("the upload of `{}` to {} already failed", self.name, self.store.label);
        }
        if !self.buffer.is_empty() {
            let block = self.buffer.split().freeze();
            self.stage(block).await?;
        }
        while !self.in_flight.is_empty() {
            self.join_one().await?;
        }
        let list = BlockLookupList {
            latest: Some(std::mem::take(&mut self.blocks)),
            ..BlockLookupList::default()
        };
        let options = BlockBlobClientCommitBlockListOptions {
            if_none_match: Some("*".into()),
            metadata: Some(to_hash_map(&info.metadata)),
            blob_content_md5: info.content_md5.map(|md5| md5.to_vec()),
            blob_content_type: info.content_type.clone(),
            ..BlockBlobClientCommitBlockListOptions::default()
        };
        let content = RequestContent::try_from(list)
            .map_err(|err| self.store.error(err, &self.name, "serialize the block list of"))?;
        match self
            .store
            .blob(&self.name)
            .block_blob_client()
            .commit_block_list(content, Some(options))
            .await
        {
            Ok(_) => Ok(ObjectInfo {
                name: self.name.clone(),
                size: self.written,
                last_modified: Some(Utc::now()),
                metadata: info.metadata,
            }),
            Err(err) if is_already_exists(&err) => Err(StoreError::AlreadyExists {
                store: self.store.label.clone(),
                name: self.name.clone(),
            }
            .into()),
            Err(err) => Err(self.store.error(err, &self.name, "commit")),
        }
    }

    /// Stops staging; the blocks staged so far are never committed.
    pub fn abort(mut self) {
        self.in_flight.abort_all();
        tracing::debug!(
            "abandoned the upload of `{}` to {} after {} bytes (uncommitted blocks expire)",
            self.name,
            self.store.label,
            self.written
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_sizes() {
        const MIB: u64 = 1 << 20;
        const GIB: u64 = 1 << 30;
        assert_eq!(block_size_for(None), 8 * MIB);
        assert_eq!(block_size_for(Some(100 * GIB)), 8 * MIB);
        // 2 × 200 GiB / 50,000 = 8.4 MiB → 16 MiB.
        assert_eq!(block_size_for(Some(200 * GIB)), 16 * MIB);
        assert_eq!(block_size_for(Some(1 << 40)), 64 * MIB);
        assert!(block_size_for(Some(u64::MAX)) <= 4000 * MIB);
        assert_eq!(block_id(0).len(), block_id(49_999).len());
    }
}
