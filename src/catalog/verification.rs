//! The verification record: the result of the last test-restore of a backup, written back into its manifest (an
//! atomic replace of the manifest object) so that `backup list` shows it and retention with `require_verified` can
//! trust it; the manifest blob's metadata (`manifest/metadata.rs`) is rewritten with it. Only `test-restore` writes it; this file must never change anything else in a manifest.

use bytes::Bytes;

use super::manifest::metadata;
use super::manifest::{self, TestRestoreResult};
use crate::storage::Store;

/// Replaces the `test_restore` record of the manifest `object` in `store` with `result`.
///
/// # Errors
/// The manifest cannot be read, parsed or written back.
pub(crate) async fn record(store: &Store, object: &str, result: TestRestoreResult) -> anyhow::Result<()> {
    let mut current = manifest::parse(&store.get(object).await?)?;
    current.test_restore = Some(result);
    // The blob's metadata is rewritten with the body in the same put, so the catalog's copy says the same.
    let info = metadata::commit_info(&current);
    store
        .put(object, Bytes::from(serde_json::to_vec_pretty(&current)?), info)
        .await
}
