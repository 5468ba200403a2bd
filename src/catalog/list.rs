//! `campctl backup list`: the catalog of every configured store, newest first, read from manifests only.
//! An archive without its manifest is shown as `incomplete`, never as a backup.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use clap::Args;
use futures::StreamExt as _;
use serde::Serialize;

use super::manifest::{self, BackupKind};
use crate::exit::ExitStatus;
use crate::printer::{Cell, Printer, Report, Table};
use crate::storage::{Store, is_store_failure};

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only backups of this database (or files backup name)
    #[arg(long, value_name = "NAME")]
    pub db: Option<String>,

    /// At most this many backups (newest first)
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

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

#[derive(Debug, Serialize)]
pub struct CatalogReport {
    pub backups: Vec<CatalogEntry>,
}

impl Report for CatalogReport {
    fn tables(&self) -> Vec<Table> {
        let mut table = Table::new(
            "Backups (newest first)",
            &[
                "name",
                "kind",
                "time",
                "size",
                "duration",
                "compression",
                "sha256",
                "verified",
                "store",
            ],
        )
        .empty_message("No backups found in the configured stores");
        for entry in &self.backups {
            table.row(vec![
                entry.name.as_str().into(),
                entry.kind.as_str().into(),
                entry
                    .started_at
                    .map_or(Cell::Null, |t| Cell::Text(t.format("%Y-%m-%d %H:%M:%SZ").to_string())),
                Cell::Bytes(entry.size_bytes as i64),
                entry.duration_seconds.map_or(Cell::Null, Cell::Seconds),
                Cell::opt(entry.compression.clone()),
                Cell::opt(entry.sha256.as_ref().map(|s| s.chars().take(12).collect::<String>())),
                match entry.verified {
                    Some(true) => "verified".into(),
                    Some(false) => "FAILED".into(),
                    None => Cell::Null,
                },
                entry.store.as_str().into(),
            ]);
        }
        vec![table]
    }
}

pub(crate) fn is_archive(name: &str) -> bool {
    [".dump", ".dump.zst", ".dump.gz", ".tar.gz"]
        .iter()
        .any(|suffix| name.ends_with(suffix))
}

pub(crate) fn base_of(name: &str) -> &str {
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

/// Runs `campctl backup list`.
///
/// # Errors
/// No store can be listed, or one fails in a way that is not an outage (a refused credential).
pub async fn list(args: ListArgs, stores: &[Store], printer: &Printer) -> anyhow::Result<ExitStatus> {
    let mut backups = Vec::new();
    // A store that is down (unreachable, failing) is left out with a warning naming it; the catalog of the others is
    // still printed, and the run ends partial (exit 3). Only when no store can be read does the listing fail.
    let mut unreachable = Vec::new();
    for (index, store) in stores.iter().enumerate() {
        match catalog(store, args.db.as_deref()).await {
            Ok(entries) => backups.extend(entries),
            Err(err) if is_store_failure(&err) && unreachable.len() + 1 < stores.len() => {
                printer.warn(&format!(
                    "{} could not be read, so its backups are not listed: {err:#}",
                    store.label()
                ));
                unreachable.push(index);
            }
            Err(err) => {
                return Err(if unreachable.is_empty() || !is_store_failure(&err) {
                    err
                } else {
                    err.context("No configured store could be read")
                });
            }
        }
    }
    backups.sort_by(|a, b| b.started_at.cmp(&a.started_at).then_with(|| a.name.cmp(&b.name)));
    if let Some(limit) = args.limit {
        backups.truncate(limit);
    }
    if backups.iter().any(|b| b.kind == "incomplete") {
        printer.warn("archives marked `incomplete` have no manifest: they were interrupted or made by another tool");
    }
    printer.report(&CatalogReport { backups })?;
    if unreachable.is_empty() {
        return Ok(ExitStatus::Success);
    }
    let labels: Vec<String> = unreachable.iter().map(|&i| stores[i].label()).collect();
    printer.warn(&format!(
        "partial listing (exit 3): {} could not be read",
        labels.join(", ")
    ));
    Ok(ExitStatus::Partial)
}
