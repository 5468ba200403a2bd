//! `campctl config check`'s probe of one store: can campctl list it, and can its credential write to it?
//!
//! Listing reads one page only (the top of a local directory, the first page of an Azure listing), so that the check
//! costs the same for an empty store and for one with ten thousand backups.
//!
//! Whether a credential may write cannot be read from it: an account key, a SAS token, an Entra ID role assignment
//! and a directory's permissions all answer differently, and a SAS token's `sp=` or a POSIX mode bit does not tell
//! about ACLs, read-only mounts, RBAC conditions or immutability policies. So the probe does what a backup does: it
//! writes one small object through the same code path as a backup's manifest ([`Store::put_new`]: on Azure the
//! container is created if missing, as the first backup would; locally the directory is created, a partial file is
//! fsynced and renamed) and deletes it again. The object lives under `locks/`, which listings never show, so that
//! one left behind by a failed delete can never look like a backup; its name carries the host, pid and time.

use bytes::Bytes;

use super::local::LOCKS_DIR;
use super::{CommitInfo, Store};
use crate::os::hostname;

/// Entries read from a listing at most.
const PAGE: usize = 100;

/// What a listing of one page found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// Entries on the first page (top-level entries of a local directory, blobs of an Azure page).
    pub entries: usize,
    /// Whether there is more than one page.
    pub more: bool,
    /// `false` when the directory or container does not exist yet (the first backup creates it).
    pub exists: bool,
}

/// The result of probing one store.
#[derive(Debug)]
pub struct Probe {
    pub list: anyhow::Result<Listing>,
    /// `None` when listing failed (a write would fail the same way and say less).
    pub write: Option<anyhow::Result<()>>,
}

impl Store {
    /// Lists one page, then writes and deletes a small probe object (see the module docs).
    pub async fn probe(&self) -> Probe {
        let list = match self {
            Self::Local(store) => list_local(store.root().to_path_buf()).await,
            Self::Azure(store) => list_azure(store).await,
        };
        let write = match &list {
            Ok(_) => Some(self.write_probe().await),
            Err(_) => None,
        };
        Probe { list, write }
    }

    async fn write_probe(&self) -> anyhow::Result<()> {
        let name = format!(
            "{LOCKS_DIR}/campctl-probe-{}-{}-{}",
            sanitize(&hostname()),
            std::process::id(),
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f")
        );
        let info = CommitInfo {
            content_type: Some("text/plain".into()),
            ..CommitInfo::default()
        };
        self.put_new(&name, Bytes::from_static(b"campctl config check\n"), info)
            .await?;
        self.delete(&name).await
    }
}

/// Host names may hold characters a blob or file name should not: keep letters, digits, `-` and `.`.
fn sanitize(host: &str) -> String {
    host.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

async fn list_local(root: std::path::PathBuf) -> anyhow::Result<Listing> {
    super::local::blocking(move || {
        let entries = match fs_err::read_dir(&root) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Listing {
                    entries: 0,
                    more: false,
                    exists: false,
                });
            }
            Err(err) => return Err(err.into()),
        };
        let mut count = 0;
        for entry in entries {
            entry?;
            count += 1;
            if count > PAGE {
                break;
            }
        }
        Ok(Listing {
            entries: count.min(PAGE),
            more: count > PAGE,
            exists: true,
        })
    })
    .await
}

async fn list_azure(store: &super::AzureStore) -> anyhow::Result<Listing> {
    use azure_core::http::StatusCode;
    use azure_storage_blob::models::BlobContainerClientListBlobsOptions;
    use futures::TryStreamExt as _;

    let inner = &store.inner;
    let prefix = inner.blob_name("");
    let options = BlobContainerClientListBlobsOptions {
        prefix: (!prefix.is_empty()).then_some(prefix),
        maxresults: Some(i32::try_from(PAGE).unwrap_or(i32::MAX)),
        ..BlobContainerClientListBlobsOptions::default()
    };
    let first = async {
        let mut pages = inner.container.list_blobs(Some(options))?.into_pages();
        match pages.try_next().await? {
            Some(page) => page.into_model().map(Some),
            None => Ok(None),
        }
    };
    match first.await {
        Ok(page) => {
            let (entries, more) = page.map_or((0, false), |page| {
                (
                    page.blob_items.len(),
                    page.next_marker.is_some_and(|marker| !marker.is_empty()),
                )
            });
            Ok(Listing {
                entries,
                more,
                exists: true,
            })
        }
        Err(err) if super::errors::is_status(&err, StatusCode::NotFound) => Ok(Listing {
            entries: 0,
            more: false,
            exists: false,
        }),
        Err(err) => Err(inner.error(err, "", "list")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn item_09_local_probe_lists_writes_and_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::Local(super::super::LocalStore::new(dir.path().join("backups")));
        let probe = store.probe().await;
        assert_eq!(
            probe.list.as_ref().expect("listed"),
            &Listing {
                entries: 0,
                more: false,
                exists: false
            }
        );
        probe.write.expect("tried").expect("writable");
        assert!(store.list("").await.expect("list").is_empty());
        let locks = dir.path().join("backups").join(LOCKS_DIR);
        assert_eq!(fs_err::read_dir(locks).expect("locks dir").count(), 0);
    }
}
