//! One stream to every store: the uploads of one backup, written chunk by chunk, then committed (or aborted)
//! together, and the manifest written to each store that has the archive. Shared by database and files backups.
//!
//! A store that fails on its own (unreachable, dying mid-upload, out of space: [`crate::storage::is_store_failure`])
//! is dropped from the run with its reason, and the others carry on: the backup is committed to every store that
//! succeeded and the run ends partial (exit 3), naming the failed store and why (DESIGN.md, "Safety rules"). Only
//! when no store is left does the run fail, with the last store's error.

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::catalog::manifest::Manifest;
use crate::catalog::manifest::metadata;
use crate::progress::Progress;
pub(super) use crate::storage::StoreFailure;
use crate::storage::{CommitInfo, Store, Upload, is_store_failure};

/// The uploads of one object, one per store (by index into `stores`), and the stores that failed so far.
pub(super) struct Uploads<'a> {
    stores: &'a [Store],
    active: Vec<(usize, Upload)>,
    failed: Vec<StoreFailure>,
}

impl<'a> Uploads<'a> {
    /// Starts an upload of `object` to every store. A store that cannot start is left out (see the module doc).
    ///
    /// # Errors
    /// No store could start, or one failed in a way that stops the run (a refused credential); the uploads already
    /// started are aborted.
    pub(super) async fn begin(stores: &'a [Store], object: &str, expected_size: Option<u64>) -> anyhow::Result<Self> {
        let mut started = Self {
            stores,
            active: Vec::with_capacity(stores.len()),
            failed: Vec::new(),
        };
        let mut last_error = None;
        for (index, store) in stores.iter().enumerate() {
            match store.begin_upload(object, expected_size).await {
                Ok(upload) => started.active.push((index, upload)),
                Err(err) => {
                    let err = err.context(format!("Failed to start the upload to {}", store.label()));
                    if !is_store_failure(&err) || stores.len() == 1 {
                        started.abort().await;
                        return Err(err);
                    }
                    started
                        .failed
                        .push(StoreFailure::new(store, "starting the upload", &err));
                    last_error = Some(err);
                }
            }
        }
        if started.active.is_empty()
            && let Some(err) = last_error
        {
            return Err(err.context("The backup could not be started in any store"));
        }
        Ok(started)
    }

    /// Writes every chunk from `rx` to every upload until the sender is done. A store whose write fails is dropped
    /// (its upload aborted); the error is returned only when no store is left (the receiver is dropped then, which
    /// stops the producer).
    pub(super) async fn pump(&mut self, mut rx: mpsc::Receiver<Bytes>, progress: &Progress) -> Option<anyhow::Error> {
        while let Some(chunk) = rx.recv().await {
            progress.set(chunk.len() as u64);
            let mut position = 0;
            while position < self.active.len() {
                let (index, upload) = &mut self.active[position];
                let index = *index;
                match upload.write(chunk.clone()).await {
                    Ok(()) => position += 1,
                    Err(err) => {
                        let store = &self.stores[index];
                        let err = err.context(format!("Failed to upload to {}", store.label()));
                        let (_, upload) = self.active.remove(position);
                        upload.abort().await;
                        if self.active.is_empty() {
                            return Some(err);
                        }
                        self.failed.push(StoreFailure::new(store, "uploading", &err));
                    }
                }
            }
        }
        None
    }

    /// Aborts every upload: nothing becomes visible in any store.
    pub(super) async fn abort(self) {
        for (_, upload) in self.active {
            upload.abort().await;
        }
    }

    /// Commits every upload; returns the indexes of the stores that have the object and every store that failed
    /// during the run (logged).
    pub(super) async fn commit(self, object: &str, info: &CommitInfo) -> (Vec<usize>, Vec<StoreFailure>) {
        let mut committed = Vec::new();
        let mut failed = self.failed;
        for (index, upload) in self.active {
            let store = &self.stores[index];
            match upload.commit(info.clone()).await {
                Ok(_) => committed.push(index),
                Err(err) => {
                    tracing::error!("failed to commit `{object}` to {}: {err:#}", store.label());
                    failed.push(StoreFailure {
                        store: store.label(),
                        error: format!("{err:#}"),
                    });
                }
            }
        }
        (committed, failed)
    }
}

/// Writes the manifest to each store in `committed`, with the catalog's metadata on its blob
/// (`catalog/manifest/metadata.rs`, in the same put); returns the labels written and the stores that failed.
pub(super) async fn put_manifest(
    stores: &[Store],
    committed: &[usize],
    name: &str,
    bytes: Bytes,
    manifest: &Manifest,
) -> (Vec<String>, Vec<StoreFailure>) {
    let info = metadata::commit_info(manifest);
    let mut written = Vec::new();
    let mut failed = Vec::new();
    for &index in committed {
        let store = &stores[index];
        match store.put_new(name, bytes.clone(), info.clone()).await {
            Ok(_) => written.push(store.label()),
            Err(err) => {
                tracing::error!("failed to write the manifest to {}: {err:#}", store.label());
                failed.push(StoreFailure {
                    store: store.label(),
                    error: format!("the manifest could not be written: {err:#}"),
                });
            }
        }
    }
    (written, failed)
}
