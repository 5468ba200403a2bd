//! The backup catalog: what a store holds and how a backup is found in it, shared by every command that reads
//! backups (`backup list`, `restore`, `test-restore`, and later retention and `health`).
//!
//! - [`manifest`]: the manifest schema (versioned JSON written last beside each archive) and its parser.
//! - [`list`]: one store's catalog: manifests, archives without one (`incomplete`), and archives the runbook's
//!   scripts made (`<db>_<YYYYMMDD>_<HHMMSS>.sql.gz`, listed as `legacy`).
//! - [`select`]: `latest`, a backup name, a local path or a blob URL, to one [`select::Selected`] backup.
//! - [`fetch_error`]: how downloading and verifying a backup fails, as types with their exit codes.
//! - [`retention`]: the retention engine (restic's keep rules, the `min_keep` floor, verified-only): which
//!   backups of a series stay and why; pure, shared by `cleanup --backups` and `backup --prune`.
//! - [`verification`]: the test-restore result recorded back into a backup's manifest.
//! - [`select_stores`]: which of the configured stores a run uses (`--store`, `[backup] stores`).
//!
//! The catalog sits above `storage` (it reads stores) and below settings and commands: it never imports a command,
//! never prints (it returns data and logs warnings through `tracing`), and never decides a command's exit status
//! beyond the typed errors it returns (not found: exit 10; a files backup named for restore: exit 2).

pub(crate) mod fetch_error;
pub(crate) mod list;
pub(crate) mod manifest;
pub(crate) mod retention;
pub(crate) mod select;
pub(crate) mod verification;

pub(crate) use list::{CatalogEntry, catalog};

use crate::exit::UserError;
use crate::storage::{Store, StoreKind};

/// Keeps the stores named in `wanted` (by kind); all of them when `wanted` is empty.
///
/// # Errors
/// A [`UserError`] (exit 2) naming a store that is not configured.
pub(crate) fn select_stores(mut stores: Vec<Store>, wanted: &[StoreKind]) -> anyhow::Result<Vec<Store>> {
    if wanted.is_empty() {
        return Ok(stores);
    }
    for name in wanted {
        if !stores.iter().any(|s| s.kind() == name.as_str()) {
            return Err(UserError::usage(format!("Store `{name}` is not configured"))
                .with_hint("Configure it under `[storage.local]` or `[storage.azure]` (docs/storage.md)")
                .into());
        }
    }
    stores.retain(|s| wanted.iter().any(|w| w.as_str() == s.kind()));
    Ok(stores)
}
