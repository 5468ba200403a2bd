//! Which stores `backup` writes to: the configured stores ([`Store::from_config`]) narrowed by `[backup] stores`.
//!
//! It lives here, below the commands, because `backup` writes to these stores and `health` (`backup-age`,
//! `verify-age`) and `config check` read the same list: none of them may reach into another command for it.

use super::GlobalSettings;
use crate::catalog::select_stores;
use crate::config_file::{ConfigError, LoadedConfig};
use crate::storage::{Store, StoreKind};

/// `[backup] stores` (empty: every configured store).
///
/// # Errors
/// A name that is not a kind of store, naming the file, line and key (exit 2).
pub(crate) fn file_stores(loaded: &LoadedConfig) -> Result<Vec<StoreKind>, ConfigError> {
    Ok(loaded
        .values("[backup] stores", loaded.sections.backup.stores.as_ref())?
        .unwrap_or_default())
}

impl GlobalSettings {
    /// The stores a plain `campctl backup` writes to: every configured store, or those `[backup] stores` names.
    ///
    /// # Errors
    /// A store that cannot be configured (a bad `[storage]` key), a bad `[backup] stores` value or one naming a
    /// store that is not configured (exit 2).
    pub(crate) fn backup_stores(&self) -> anyhow::Result<Vec<Store>> {
        let stores = Store::from_config(&self.storage)?;
        select_stores(stores, &file_stores(&self.config)?)
    }
}
