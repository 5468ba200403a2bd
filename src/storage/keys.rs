//! The store keys of the configuration file's `[storage]` section, as [`super::Store::from_config`] reads them.
//!
//! `storage` owns these input types and never reads the file's schema (`config_file.rs` sits above it):
//! `settings` converts `[storage.local]` and `[storage.azure]` into them. They hold the values as written, not
//! yet checked; `resolve.rs` and `azure_settings.rs` validate them and name the key of a bad one. Secrets here are
//! never printed.

use std::path::PathBuf;

use crate::units::{ByteSize, HumanDuration};

/// `[storage]`: where backups go.
#[derive(Debug, Clone, Default)]
pub struct StoreKeys {
    pub local: Option<LocalKeys>,
    pub azure: Option<AzureKeys>,
}

/// `[storage.local]`: a directory.
#[derive(Debug, Clone, Default)]
pub struct LocalKeys {
    /// Default: `/var/backups/campctl` as root, else `$XDG_DATA_HOME/campctl/backups`.
    pub path: Option<PathBuf>,
    /// Where `path` was written (`` `FILE` line N ``), for the message that refuses a bad one; set by `settings`.
    pub path_origin: Option<String>,
    /// `false` leaves the local store out when other stores are configured.
    pub enabled: Option<bool>,
}

/// `[storage.azure]`: a Blob container with an optional prefix.
#[derive(Debug, Clone, Default)]
pub struct AzureKeys {
    /// `https://ACCOUNT.blob.core.windows.net` (or an Azurite endpoint `http://127.0.0.1:10000/devstoreaccount1`).
    pub account_url: Option<String>,
    /// Account name, when `account_url` is not given.
    pub account: Option<String>,
    pub container: Option<String>,
    /// Folder inside the container, e.g. `prod/`.
    pub prefix: Option<String>,
    /// `auto` (default), `connection-string`, `sas`, `environment`, `workload-identity`, `managed-identity`, `cli`.
    pub credential: Option<String>,
    /// Secret: `AccountName=…;AccountKey=…` or `UseDevelopmentStorage=true`.
    pub connection_string: Option<String>,
    /// Secret: a SAS token (`sv=…&sig=…`).
    pub sas_token: Option<String>,
    /// Client id of a user-assigned managed identity.
    pub managed_identity_client_id: Option<String>,
    /// Size of staged blocks (default: chosen so 50,000 blocks cover the expected size, at least 8MiB).
    pub block_size: Option<ByteSize>,
    /// Blocks in flight per upload (default 4).
    pub concurrency: Option<u32>,
    /// The check the service verifies on each staged block: `auto` (default: `crc64`, `md5` against the storage
    /// emulator), `crc64`, `md5` or `none`.
    pub block_checksum: Option<String>,
    /// Retries of one request (default 3).
    pub max_retries: Option<u32>,
    /// Timeout of one request (default `60s`).
    pub timeout: Option<HumanDuration>,
}
