//! One stream to every store: the uploads of one backup, written chunk by chunk, then committed (or aborted)
//! together, and the manifest written to each store that has the archive. Shared by database and files backups.

use bytes::Bytes;
use tokio::sync::mpsc;

use super::progress::Progress;
use crate::storage::{CommitInfo, Store, Upload};

/// The uploads of one object, one per store (by index into `stores`).
pub struct Uploads<'a> {
    stores: &'a [Store],
    uploads: Vec<(usize, Upload)>,
}

impl<'a> Uploads<'a> {
    /// Starts an upload of `object` to every store.
    ///
    /// # Errors
    /// A store refused the upload; the ones already started are aborted.
    pub async fn begin(stores: &'a [Store], object: &str, expected_size: Option<u64>) -> anyhow::Result<Self> {
        let mut started = Self {
            stores,
            uploads: Vec::with_capacity(stores.len()),
        };
        for (index, store) in stores.iter().enumerate() {
            match store.begin_upload(object, expected_size).await {
                Ok(upload) => started.uploads.push((index, upload)),
                Err(err) => {
                    started.abort().await;
                    return Err(err.context(format!("Failed to start the upload to {}", store.label())));
                }
            }
        }
        Ok(started)
    }

    /// Writes every chunk from `rx` to every upload until the sender is done; stops at the first failure and
    /// returns it (the receiver is dropped then, which stops the producer).
    pub async fn pump(&mut self, mut rx: mpsc::Receiver<Bytes>, progress: &Progress) -> Option<anyhow::Error> {
        while let Some(chunk) = rx.recv().await {
            progress.set(chunk.len() as u64);
            for (index, upload) in &mut self.uploads {
                if let Err(err) = upload.write(chunk.clone()).await {
                    return Some(err.context(format!("Failed to upload to {}", self.stores[*index].label())));
                }
            }
        }
        None
    }

    /// Aborts every upload: nothing becomes visible in any store.
    pub async fn abort(self) {
        for (_, upload) in self.uploads {
            upload.abort().await;
        }
    }

    /// Commits every upload; returns the indexes of the stores that have the object and the labels of those that
    /// failed (logged).
    pub async fn commit(self, object: &str, info: &CommitInfo) -> (Vec<usize>, Vec<String>) {
        let mut committed = Vec::new();
        let mut failed = Vec::new();
        for (index, upload) in self.uploads {
            let store = &self.stores[index];
            match upload.commit(info.clone()).await {
                Ok(_) => committed.push(index),
                Err(err) => {
                    tracing::error!("failed to commit `{object}` to {}: {err:#}", store.label());
                    failed.push(store.label());
                }
            }
        }
        (committed, failed)
    }
}

/// Writes the manifest to each store in `committed`; returns the labels written and the labels that failed.
pub async fn put_manifest(
    stores: &[Store],
    committed: &[usize],
    name: &str,
    manifest: Bytes,
) -> (Vec<String>, Vec<String>) {
    let info = CommitInfo {
        content_type: Some("application/json".into()),
        ..CommitInfo::default()
    };
    let mut written = Vec::new();
    let mut failed = Vec::new();
    for &index in committed {
        let store = &stores[index];
        match store.put_new(name, manifest.clone(), info.clone()).await {
            Ok(_) => written.push(store.label()),
            Err(err) => {
                tracing::error!("failed to write the manifest to {}: {err:#}", store.label());
                failed.push(store.label());
            }
        }
    }
    (written, failed)
}
