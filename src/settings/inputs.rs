//! The configuration file's sections converted into the input types that `pg` and `storage` own.
//!
//! `config_file.rs` is a pure serde schema and the layers below settings never import it: a section reaches `pg`
//! or `storage` only through a conversion here. A conversion copies values and must never resolve, default or
//! validate them (that is the job of the layer that owns the type, which names the key in its errors).

use crate::config_file::{AzureStoreConfig, DatabaseConfig, LocalStoreConfig, StorageConfig};
use crate::pg::conninfo::FileKeys;
use crate::storage::{AzureKeys, LocalKeys, StoreKeys};

impl From<&DatabaseConfig> for FileKeys {
    fn from(config: &DatabaseConfig) -> Self {
        Self {
            url: config.url.clone(),
            host: config.host.clone(),
            port: config.port,
            user: config.user.clone(),
            password: config.password.clone(),
            dbname: config.dbname.clone(),
            // As written: `pg` parses it, and settings names the file's line when that value is the one in use.
            sslmode: config.sslmode.as_ref().map(|mode| mode.text().to_string()),
            sslrootcert: config.sslrootcert.clone(),
            passfile: config.passfile.clone(),
            connect_timeout: config.connect_timeout.map(|timeout| timeout.0),
            application_name: config.application_name.clone(),
            auth: config.auth.clone(),
        }
    }
}

impl From<&StorageConfig> for StoreKeys {
    fn from(config: &StorageConfig) -> Self {
        Self {
            local: config.local.as_ref().map(LocalKeys::from),
            azure: config.azure.as_ref().map(AzureKeys::from),
        }
    }
}

impl From<&LocalStoreConfig> for LocalKeys {
    fn from(config: &LocalStoreConfig) -> Self {
        Self {
            path: config.path.clone(),
            // Where it was written: set by `settings`, which has the file.
            path_origin: None,
            enabled: config.enabled,
        }
    }
}

impl From<&AzureStoreConfig> for AzureKeys {
    fn from(config: &AzureStoreConfig) -> Self {
        Self {
            account_url: config.account_url.clone(),
            account: config.account.clone(),
            container: config.container.clone(),
            prefix: config.prefix.clone(),
            credential: config.credential.clone(),
            connection_string: config.connection_string.clone(),
            sas_token: config.sas_token.clone(),
            managed_identity_client_id: config.managed_identity_client_id.clone(),
            block_size: config.block_size,
            concurrency: config.concurrency,
            block_checksum: config.block_checksum.clone(),
            max_retries: config.max_retries,
            timeout: config.timeout,
        }
    }
}
