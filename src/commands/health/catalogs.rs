//! The stores' catalogs of one health run, read once for `backup-age` and `verify-age` together (as the database
//! checks share one session): the first of the two that runs lists every store, the other waits for that listing.

use tokio::sync::OnceCell;

use super::limits::CheckName;
use super::settings::HealthSettings;
use crate::catalog::{CatalogEntry, catalog};
use crate::units::HumanDuration;

/// One store's catalog, or why it could not be read.
pub(crate) struct StoreCatalog {
    pub kind: &'static str,
    pub label: String,
    pub entries: Result<Vec<CatalogEntry>, String>,
}

/// The catalogs of a run, read on first use.
#[derive(Default)]
pub(crate) struct SharedCatalogs {
    cell: OnceCell<Result<Vec<StoreCatalog>, String>>,
}

impl SharedCatalogs {
    /// Every store's catalog, reading them if no check did yet. Each read gets 90 % of the timeout of `check` (the
    /// first that asks), so that a store that hangs is UNKNOWN on its own while the others are still reported.
    ///
    /// # Errors
    /// The stores `backup` writes to cannot be resolved.
    pub(crate) async fn get(&self, settings: &HealthSettings, check: CheckName) -> anyhow::Result<&[StoreCatalog]> {
        let read = self.cell.get_or_init(|| read_stores(settings, check)).await;
        match read {
            Ok(catalogs) => Ok(catalogs),
            Err(err) => anyhow::bail!("the stores cannot be resolved: {err}"),
        }
    }
}

impl std::fmt::Debug for SharedCatalogs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedCatalogs")
            .field("read", &self.cell.initialized())
            .finish()
    }
}

async fn read_stores(settings: &HealthSettings, check: CheckName) -> Result<Vec<StoreCatalog>, String> {
    let stores = settings.backups.stores.as_ref().map_err(Clone::clone)?;
    let budget = settings.timeout_of(check).mul_f64(0.9);
    let reads = stores.iter().map(|store| async move {
        let entries = match tokio::time::timeout(budget, catalog(store, None)).await {
            Ok(Ok(entries)) => Ok(entries),
            Ok(Err(err)) => Err(format!("{err:#}")),
            Err(_) => Err(format!("no answer within {}", HumanDuration(budget))),
        };
        StoreCatalog {
            kind: store.kind(),
            label: store.label(),
            entries,
        }
    });
    Ok(futures::future::join_all(reads).await)
}
