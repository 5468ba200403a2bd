//! The verification record: the result of the last test-restore of a backup, written back into its manifest (an
//! atomic replace of the manifest object) so that `backup list` shows it and retention with `require_verified` can
//! trust it. Only `test-restore` writes it; this file must never change anything else in a manifest.

use bytes::Bytes;

use super::manifest::{self, TestRestoreResult};
use crate::storage::{CommitInfo, Store};

/// Replaces the `test_restore` record of the manifest `object` in `store` with `result`.
///
/// # Errors
/// The manifest cannot be read, parsed or written back.
pub(crate) async fn record(store: &Store, object: &str, result: TestRestoreResult) -> anyhow::Result<()> {
    let mut current = manifest::parse(&store.get(object).await?)?;
    current.test_restore = Some(result);
    let info = CommitInfo {
        content_type: Some("application/json".into()),
        ..CommitInfo::default()
    };
    store
        .put(object, Bytes::from(serde_json::to_vec_pretty(&current)?), info)
        .await
}
