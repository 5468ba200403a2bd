//! The catalog of one store, read from manifests: each manifest is one backup. An archive without its manifest is
//! listed as `incomplete`, never as a backup. This file only reads; it never prints, deletes or repairs anything
//! (the `backup list` command in `commands/backup/list.rs` prints it).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use serde::Serialize;

use super::manifest::{self, BackupKind};
use crate::storage::Store;

/// One row of the catalog.
#[derive(Debug, Serialize)]
pub struct CatalogEntry {
    pub name: String,
    /// `database`, `files`, or `incomplete` for an archive without a manifest.
    pub kind: String,
    pub database: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub size_bytes: u64,
    pub duration_seconds: Option<f64>,
    pub compression: Option<String>,
    pub sha256: Option<String>,
    /// Result of the last test-restore: `true` passed, `false` failed, `null` never tested.
    pub verified: Option<bool>,
    pub store: String,
    pub object: String,
}

/// Whether an object name is an archive campctl makes (database dump or files tar.gz).
pub fn is_archive(name: &str) -> bool {
    [".dump", ".dump.zst", ".dump.gz", ".tar.gz"]
        .iter()
        .any(|suffix| name.ends_with(suffix))
}

/// The backup name of an archive or manifest object name (its suffix removed).
pub fn base_of(name: &str) -> &str {
    for suffix in [".manifest.json", ".dump.zst", ".dump.gz", ".dump", ".tar.gz"] {
        if let Some(base) = name.strip_suffix(suffix) {
            return base;
        }
    }
    name
}

/// Reads the catalog of one store.
///
/// # Errors
/// The store cannot be listed.
pub async fn catalog(store: &Store, db: Option<&str>) -> anyhow::Result<Vec<CatalogEntry>> {
    let objects = store.list("").await?;
    let mut entries = Vec::new();
    let mut described = BTreeSet::new();
    // Manifests are small; read several at once (each is a round trip on Azure), keeping the listing's order.
    let fetched: Vec<_> = futures::stream::iter(objects.iter().filter(|o| o.name.ends_with(".manifest.json")))
        .map(|object| async move { (object, store.get(&object.name).await) })
        .buffered(8)
        .collect()
        .await;
    for (object, bytes) in fetched {
        let bytes = bytes?;
        let manifest = match manifest::parse(&bytes) {
            Ok(manifest) => manifest,
            Err(err) => {
                tracing::warn!(
                    "skipping `{}` in {}: not a campctl manifest ({err:#})",
                    object.name,
                    store.label()
                );
                continue;
            }
        };
        described.insert(manifest.object.clone());
        if db.is_some_and(|db| db != manifest.database) {
            continue;
        }
        entries.push(CatalogEntry {
            name: manifest.name,
            kind: match manifest.kind {
                BackupKind::Database => "database".into(),
                BackupKind::Files => "files".into(),
            },
            database: Some(manifest.database),
            started_at: Some(manifest.started_at),
            size_bytes: manifest.size_bytes,
            duration_seconds: Some(manifest.duration_seconds),
            compression: Some(manifest.compression),
            sha256: Some(manifest.sha256),
            verified: manifest.test_restore.map(|t| t.passed),
            store: store.label(),
            object: manifest.object,
        });
    }
    for object in objects
        .iter()
        .filter(|o| is_archive(&o.name) && !described.contains(&o.name))
    {
        let folder = object.name.split('/').next().unwrap_or_default();
        if db.is_some_and(|db| db != folder && !object.name.starts_with(&format!("files/{db}/"))) {
            continue;
        }
        entries.push(CatalogEntry {
            name: base_of(object.name.rsplit('/').next().unwrap_or(&object.name)).to_string(),
            kind: "incomplete".into(),
            database: None,
            started_at: object.last_modified,
            size_bytes: object.size,
            duration_seconds: None,
            compression: None,
            sha256: None,
            verified: None,
            store: store.label(),
            object: object.name.clone(),
        });
    }
    Ok(entries)
}
