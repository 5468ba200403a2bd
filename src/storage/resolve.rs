//! `[storage]` + environment → the list of [`Store`]s (flag > env > file > default, DESIGN.md "Configuration"):
//! the local store unless `enabled = false` (its path absolute, or the default for root or the user), and the Azure
//! store when `[storage.azure]` names a container.
//!
//! The Azure keys themselves are resolved in `azure_settings.rs`. This file must never read `config_file`
//! (`settings` converts the file's sections into [`StoreKeys`]), and never leave the list empty without an error.

use std::path::PathBuf;

use super::Store;
use super::azure::AzureStore;
use super::azure_settings::azure_settings;
use super::keys::StoreKeys;
use super::local::LocalStore;
use crate::azure::credentials::EnvLookup;
use crate::env_vars::EnvVars;
use crate::exit::UserError;

pub(super) fn stores(config: &StoreKeys, env: EnvLookup<'_>) -> anyhow::Result<Vec<Store>> {
    let mut stores = Vec::new();
    let local = config.local.clone().unwrap_or_default();
    if local.enabled != Some(false) {
        let path = match local.path {
            Some(path) => checked_local_path(path, local.path_origin.as_deref())?,
            None => default_local_path(env)?,
        };
        stores.push(Store::Local(LocalStore::new(path)));
    }
    if let Some(azure) = &config.azure {
        if azure.container.is_some() {
            stores.push(Store::Azure(AzureStore::new(azure_settings(azure, env)?)?));
        } else {
            tracing::warn!("`[storage.azure]` has no `container`: the Azure store is not used");
        }
    }
    if stores.is_empty() {
        return Err(UserError::usage(
            "No backup store is configured: `[storage.local] enabled = false` and no `[storage.azure] container`",
        )
        .with_hint(
            "Set `[storage.azure] container` (and an account), or remove `enabled = false` from `[storage.local]`",
        )
        .into());
    }
    Ok(stores)
}

/// `[storage.local] path` must be absolute: an empty or relative one resolves against whatever directory campctl
/// happens to run in (cron's, a shell's), so a backup would land where the next `backup list` or `restore`, started
/// elsewhere, never looks (hardening item 13).
fn checked_local_path(path: PathBuf, origin: Option<&str>) -> anyhow::Result<PathBuf> {
    if path.is_absolute() {
        return Ok(path);
    }
    let why = if path.as_os_str().is_empty() {
        "it is empty".to_owned()
    } else {
        format!("`{}` is relative", path.display())
    };
    let origin = origin.unwrap_or("the configuration file");
    Err(UserError::usage(format!(
        "Invalid `[storage.local] path` in {origin}: {why}, so backups would go to the directory campctl runs in, \
         where `backup list` and `restore` run elsewhere would not find them"
    ))
    .with_hint(
        "Give an absolute directory, e.g. `path = \"/var/backups/campctl\"`, or remove `path` for the default \
         (the file is `--config`, `CAMPCTL_CONFIG` or the first `campctl.toml` found: docs/configuration.md)",
    )
    .into())
}

/// `/var/backups/campctl` as root, else `$XDG_DATA_HOME/campctl/backups` (default `~/.local/share/…`).
///
/// # Errors
/// When neither `XDG_DATA_HOME` nor `HOME` is set for a non-root user.
pub fn default_local_path(env: EnvLookup<'_>) -> anyhow::Result<PathBuf> {
    if crate::os::is_root() {
        return Ok(PathBuf::from("/var/backups/campctl"));
    }
    let non_empty = |name: &str| env(name).filter(|value| !value.is_empty()).map(PathBuf::from);
    let data_home = non_empty(EnvVars::XDG_DATA_HOME)
        .or_else(|| non_empty(EnvVars::HOME).map(|home| home.join(".local").join("share")))
        .ok_or_else(|| {
            UserError::usage("Cannot choose a local backup directory: neither `XDG_DATA_HOME` nor `HOME` is set")
                .with_hint("Set `[storage.local] path`")
        })?;
    Ok(data_home.join("campctl").join("backups"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::LocalKeys;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn default_is_one_local_store_and_disabled_local_with_nothing_else_is_an_error() {
        let resolved = stores(&StoreKeys::default(), &no_env).expect("default");
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].kind(), "local");
        let config = StoreKeys {
            local: Some(LocalKeys {
                path: None,
                path_origin: None,
                enabled: Some(false),
            }),
            azure: None,
        };
        assert!(stores(&config, &no_env).is_err());
    }
}
