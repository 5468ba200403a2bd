//! A store of either backend, with what a case needs to inspect it.

use std::collections::BTreeMap;

use campctl::lock::LockHolder;
use campctl::storage::{AzureKeys, LocalKeys, StoreKeys};
use campctl::storage::{CommitInfo, Store, StoreError};
use campctl::units::{ByteSize, HumanDuration};

use crate::common::{azurite, unique_container};

/// Every Azure store of these tests lives under this prefix (with a `/` inside, as real prefixes have).
pub const PREFIX: &str = "pre/fix/";

pub struct Fixture {
    pub store: Store,
    /// The local store's directory (removed on drop).
    pub dir: Option<tempfile::TempDir>,
    /// The Azure store's container.
    pub container: Option<String>,
}

/// No process environment: the tests must not depend on `AZURE_*` variables of whoever runs them.
pub fn no_env(_: &str) -> Option<String> {
    None
}

impl Fixture {
    pub fn local() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = StoreKeys {
            local: Some(LocalKeys {
                path: Some(dir.path().join("store")),
                path_origin: None,
                enabled: None,
            }),
            azure: None,
        };
        let mut stores = Store::from_config_with_env(&config, &no_env).expect("local store");
        assert_eq!(stores.len(), 1);
        Self {
            store: stores.remove(0),
            dir: Some(dir),
            container: None,
        }
    }

    pub fn azure() -> Self {
        let container = unique_container();
        let config = azure_config(&container, azurite().connection_string());
        Self {
            store: azure_store(&config),
            dir: None,
            container: Some(container),
        }
    }
}

/// The blob name of an object of the Azure stores of these tests.
pub fn blob(name: &str) -> String {
    format!("{PREFIX}{name}")
}

/// `[storage.azure]` for Azurite with small blocks, 2 in flight and short retries; `[storage.local]` disabled.
pub fn azure_config(container: &str, connection_string: String) -> AzureKeys {
    AzureKeys {
        container: Some(container.to_string()),
        prefix: Some(PREFIX.to_string()),
        connection_string: Some(connection_string),
        block_size: Some(ByteSize(1 << 20)),
        concurrency: Some(2),
        max_retries: Some(1),
        timeout: Some(HumanDuration(std::time::Duration::from_secs(10))),
        ..AzureKeys::default()
    }
}

/// The one (Azure) store of `config`.
pub fn azure_store(config: &AzureKeys) -> Store {
    let storage = StoreKeys {
        local: Some(LocalKeys {
            path: None,
            path_origin: None,
            enabled: Some(false),
        }),
        azure: Some(config.clone()),
    };
    let mut stores = Store::from_config_with_env(&storage, &no_env).expect("azure store");
    assert_eq!(stores.len(), 1);
    assert_eq!(stores[0].kind(), "azure");
    stores.remove(0)
}

/// Deterministic, incompressible-looking bytes.
pub fn data(len: usize, seed: u8) -> Vec<u8> {
    let mut state = u32::from(seed).wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect()
}

pub fn info(sha: &str) -> CommitInfo {
    CommitInfo {
        metadata: BTreeMap::from([
            ("campctl_sha256".to_string(), sha.to_string()),
            ("campctl_kind".to_string(), "dump".to_string()),
        ]),
        content_md5: None,
        content_type: Some("application/octet-stream".to_string()),
    }
}

/// A holder that is alive on this host (this test process), so the local store does not take it over as stale.
pub fn holder(command: &str) -> LockHolder {
    LockHolder::current(command)
}

/// The [`StoreError`] in an error chain.
#[track_caller]
pub fn store_error(err: &anyhow::Error) -> &StoreError {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<StoreError>())
        .unwrap_or_else(|| panic!("not a StoreError: {err:#}"))
}
