//! Releasing an Azure blob lease by its id: the one lease operation below the lock layer, because the interrupt
//! cleanup registry (which `main` runs after Ctrl-C) must release a held lease without depending on `crate::lock`
//! (which registers it there). Taking, renewing and breaking leases is `crate::lock`'s; this file must never take a
//! lease.

use std::collections::HashMap;
use std::sync::Arc;

use azure_core::http::StatusCode;
use azure_storage_blob::models::BlobClientSetMetadataOptions;

use super::azure_container::AzureInner;
use super::errors::{describe, http_error};

/// Releases one held lease; cheap to clone. Releasing a lease that is already released (or lost) is not an error,
/// so the lock's own release and an interrupt cleanup may both run.
#[derive(Clone)]
pub struct LeaseRelease {
    store: Arc<AzureInner>,
    blob: String,
    lease_id: String,
}

impl LeaseRelease {
    /// The release of the lease `lease_id` on the lock blob `blob` of `store`.
    pub(crate) fn new(store: Arc<AzureInner>, blob: String, lease_id: String) -> Self {
        Self { store, blob, lease_id }
    }
}

impl std::fmt::Debug for LeaseRelease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseRelease")
            .field("blob", &self.blob)
            .finish_non_exhaustive()
    }
}

impl LeaseRelease {
    /// `the lease on `locks/backup-appdb` in azure:…`.
    pub fn describe(&self) -> String {
        format!("the lease on `{}` in {}", self.blob, self.store.label)
    }

    /// Clears the holder recorded in the lock blob, then releases the lease.
    ///
    /// # Errors
    /// The service could not be reached or refused the release for another reason than the lease being gone
    /// already (it then expires within a minute).
    pub async fn release(&self) -> anyhow::Result<()> {
        let client = self.store.blob(&self.blob);
        // Clear the holder first, so that a run that takes the lock next is never named after us.
        let options = BlobClientSetMetadataOptions {
            lease_id: Some(self.lease_id.clone()),
            ..BlobClientSetMetadataOptions::default()
        };
        if let Err(err) = client.set_metadata(&HashMap::new(), Some(options)).await {
            tracing::debug!("Failed to clear the holder of `{}`: {}", self.blob, describe(&err));
        }
        match client.release_lease(self.lease_id.clone(), None).await {
            Ok(_) => Ok(()),
            // Released already (by the lock's own release or drop), or expired and taken by another run.
            Err(err) if http_error(&err).is_some_and(|(status, _)| status == StatusCode::Conflict) => {
                tracing::debug!("the lease on `{}` was already released: {}", self.blob, describe(&err));
                Ok(())
            }
            Err(err) => Err(self.store.error(err, &self.blob, "release the lease on")),
        }
    }
}
