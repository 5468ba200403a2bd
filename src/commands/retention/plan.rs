//! A retention run (`cleanup --backups`, `backup --prune`): the plan of every store (each series judged by the retention engine,
//! `catalog/retention.rs`; abandoned uploads by their age), then the deletes.
//!
//! Deletes go manifest first, then the archive (the verification record lives in the manifest; on Azure a blob is
//! deleted with its snapshots), so that a run killed between two deletes leaves an archive without a manifest, an
//! `incomplete` entry the next run removes, never a manifest pointing at nothing. Each series is deleted under the
//! lock its backups take (`backup-DB`, `files-NAME`) in that store, taken before the first delete: a running backup
//! makes the run exit 11 before anything is deleted.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::settings::RetentionSettings;
use crate::catalog::CatalogEntry;
use crate::catalog::list::{
    base_of, catalog_from_bodies, catalog_with_names, database_of_name, disagreeing, is_archive,
};
use crate::catalog::retention::{Candidate, plan};
use crate::lock::{self, RunLocks, store_lock_name};
use crate::storage::{Store, UncommittedBlob};

/// One row of the plan: a backup (or an abandoned upload) of one store, what happens to it and why.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PlanRow {
    pub store: String,
    /// The database, or the files backup's name.
    pub series: String,
    /// `database`, `files`, `legacy`, `incomplete` (an archive without a manifest), `partial` (a local
    /// `*.partial` file) or `uncommitted` (Azure blocks staged under a name and never committed).
    pub kind: String,
    pub name: String,
    pub time: Option<DateTime<Utc>>,
    pub size_bytes: u64,
    /// `keep` or `delete`.
    pub action: &'static str,
    /// `kept: daily 2026-12-01`, `delete: older than 30d before the newest backup and no rule keeps it`.
    pub reason: String,
    /// The objects deleted, in order (manifest first).
    pub objects: Vec<String>,
    /// After a run: `deleted`, or the error; `null` in a plan.
    pub result: Option<String>,
    /// The lock name of the series in its store.
    #[serde(skip)]
    pub lock: String,
    /// The index of the store.
    #[serde(skip)]
    pub store_index: usize,
}

impl PlanRow {
    pub(crate) fn deletes(&self) -> bool {
        self.action == "delete"
    }

    /// A backup (not an abandoned upload), for the `max_delete_fraction` guard.
    pub(crate) fn is_backup(&self) -> bool {
        matches!(self.kind.as_str(), "database" | "files" | "legacy")
    }
}

/// The series of an entry: `(files?, name)`; `None` when its name says nothing (an archive at the top of the store
/// that no database claims).
fn series_of(entry: &CatalogEntry) -> Option<(bool, String)> {
    match entry.kind.as_str() {
        "files" => entry.database.clone().map(|name| (true, name)),
        "database" | "legacy" => entry.database.clone().map(|name| (false, name)),
        _ => series_of_object(&entry.object),
    }
}

/// The series an object's name puts it in (`appdb/…`, `files/NAME/…`, or a top-level archive's database name).
fn series_of_object(object: &str) -> Option<(bool, String)> {
    let parts: Vec<&str> = object.split('/').collect();
    match parts.as_slice() {
        ["files", name, ..] => Some((true, (*name).to_string())),
        [folder, _, ..] => Some((false, (*folder).to_string())),
        [file] => database_of_name(base_of(file)).map(|db| (false, db)),
        [] => None,
    }
}

/// The manifest object of a campctl archive (`appdb/appdb_….dump.zst` → `appdb/appdb_….manifest.json`).
fn manifest_of(object: &str) -> String {
    let (folder, file) = object.rsplit_once('/').map_or(("", object), |(f, n)| (f, n));
    let manifest = format!("{}.manifest.json", base_of(file));
    if folder.is_empty() {
        manifest
    } else {
        format!("{folder}/{manifest}")
    }
}

/// Reads every store and plans. A store that cannot be read is returned as a failure (the others are planned).
pub(crate) async fn plan_stores(settings: &RetentionSettings) -> (Vec<PlanRow>, Vec<(String, String)>) {
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for (index, store) in settings.stores.iter().enumerate() {
        match plan_store(settings, index, store).await {
            Ok(store_rows) => rows.extend(store_rows),
            Err(err) => failures.push((store.label(), format!("{err:#}"))),
        }
    }
    (rows, failures)
}

/// Plans one store from its catalog, read from the manifests' metadata where they carry it. Before a run that
/// deletes, the bodies of the manifests of every series with a delete are read: the body is authoritative, so if
/// any says something else than its metadata (edited by hand), the store is planned again from bodies alone.
async fn plan_store(settings: &RetentionSettings, index: usize, store: &Store) -> anyhow::Result<Vec<PlanRow>> {
    // The listing with uncommitted blobs runs beside the catalog's: names only it has hold uncommitted blocks only.
    let staged = async {
        match store {
            Store::Azure(azure) => azure.blobs_with_uncommitted().await.map(Some),
            Store::Local(_) => Ok(None),
        }
    };
    let (catalog, staged) = tokio::join!(catalog_with_names(store, settings.db.as_deref()), staged);
    let (entries, names) = catalog?;
    let uncommitted: Vec<UncommittedBlob> = staged?
        .into_iter()
        .flatten()
        .filter(|blob| !names.contains(&blob.name))
        .collect();

    if settings.dry_run {
        return plan_catalog(settings, index, store, entries, &uncommitted).await;
    }
    let rows = plan_catalog(settings, index, store, entries.clone(), &uncommitted).await?;
    let deleting: Vec<(bool, String)> = rows
        .iter()
        .filter(|r| r.deletes())
        .map(|r| (r.lock.starts_with("files-"), r.series.clone()))
        .collect();
    let checked: Vec<&CatalogEntry> = entries
        .iter()
        .filter(|e| series_of(e).is_some_and(|key| deleting.contains(&key)))
        .collect();
    let differ = disagreeing(store, &checked).await?;
    if differ.is_empty() {
        return Ok(rows);
    }
    tracing::warn!(
        "{} manifest(s) in {} say something else in their metadata than in their body (first: `{}`): planning \
         from the manifests' bodies",
        differ.len(),
        store.label(),
        differ[0]
    );
    let entries = catalog_from_bodies(store, settings.db.as_deref()).await?;
    plan_catalog(settings, index, store, entries, &uncommitted).await
}

async fn plan_catalog(
    settings: &RetentionSettings,
    index: usize,
    store: &Store,
    entries: Vec<CatalogEntry>,
    uncommitted: &[UncommittedBlob],
) -> anyhow::Result<Vec<PlanRow>> {
    let label = store.label();
    let mut series: BTreeMap<(bool, String), Vec<CatalogEntry>> = BTreeMap::new();
    let mut rows = Vec::new();
    let grace = chrono::Duration::from_std(settings.incomplete_grace).unwrap_or(chrono::Duration::MAX);
    for entry in entries {
        let Some(key) = series_of(&entry) else {
            continue;
        };
        if settings.only_dumps && key.0 {
            continue;
        }
        if entry.kind == "incomplete" {
            let old = entry.started_at.is_some_and(|t| settings.now - t > grace);
            let lock = lock_name(&key);
            rows.push(PlanRow {
                store: label.clone(),
                series: key.1,
                kind: entry.kind,
                name: entry.name,
                time: entry.started_at,
                size_bytes: entry.size_bytes,
                action: if old { "delete" } else { "keep" },
                reason: if old {
                    format!(
                        "delete: an upload without a manifest, older than {}",
                        crate::units::HumanDuration(settings.incomplete_grace)
                    )
                } else {
                    "kept: an upload without a manifest, still within the grace period".into()
                },
                objects: if old { vec![entry.object] } else { Vec::new() },
                result: None,
                lock,
                store_index: index,
            });
            continue;
        }
        series.entry(key).or_default().push(entry);
    }
    for ((files, name), entries) in series {
        let policy = settings.policies.of(files, &name);
        let mut by_name: BTreeMap<String, CatalogEntry> = BTreeMap::new();
        let mut candidates = Vec::new();
        for entry in entries {
            let Some(time) = entry.started_at else { continue };
            candidates.push(Candidate {
                name: entry.object.clone(),
                time,
                legacy: entry.kind == "legacy",
                verified: entry.verified,
            });
            by_name.insert(entry.object.clone(), entry);
        }
        let lock = lock_name(&(files, name.clone()));
        for decision in plan(candidates, policy, settings.now) {
            let Some(entry) = by_name.remove(&decision.candidate.name) else {
                continue;
            };
            let objects = if decision.kept() {
                Vec::new()
            } else if entry.kind == "legacy" {
                vec![entry.object.clone()]
            } else {
                vec![manifest_of(&entry.object), entry.object.clone()]
            };
            rows.push(PlanRow {
                store: label.clone(),
                series: name.clone(),
                kind: entry.kind,
                name: entry.name,
                time: entry.started_at,
                size_bytes: entry.size_bytes,
                action: if decision.kept() { "keep" } else { "delete" },
                reason: decision.reason(),
                objects,
                result: None,
                lock: lock.clone(),
                store_index: index,
            });
        }
    }
    match store {
        Store::Local(local) => rows.extend(partials(settings, index, store, local, &rows).await?),
        Store::Azure(azure) => rows.extend(uncommitted_rows(settings, index, azure, uncommitted)),
    }
    Ok(rows)
}

/// The names of the Azure store that hold only uncommitted blocks, first staged longer ago than the grace period
/// (younger ones are kept: a backup may be uploading them now). Each is removed under its series' lock.
fn uncommitted_rows(
    settings: &RetentionSettings,
    index: usize,
    azure: &crate::storage::AzureStore,
    uncommitted: &[UncommittedBlob],
) -> Vec<PlanRow> {
    let grace = chrono::Duration::from_std(settings.incomplete_grace).unwrap_or(chrono::Duration::MAX);
    let mut out = Vec::new();
    for blob in uncommitted {
        // campctl only ever stages blocks under an archive's name.
        if !is_archive(&blob.name) {
            continue;
        }
        let Some(key) = series_of_object(&blob.name) else {
            continue;
        };
        if (settings.only_dumps && key.0) || settings.db.as_ref().is_some_and(|db| *db != key.1) {
            continue;
        }
        let old = blob.since.is_some_and(|t| settings.now - t > grace);
        out.push(PlanRow {
            store: azure.label(),
            series: key.1.clone(),
            kind: "uncommitted".into(),
            name: blob.name.rsplit('/').next().unwrap_or_default().to_string(),
            time: blob.since,
            size_bytes: 0,
            action: if old { "delete" } else { "keep" },
            reason: if old {
                format!(
                    "delete: uncommitted blocks of an upload that did not finish, older than {}",
                    crate::units::HumanDuration(settings.incomplete_grace)
                )
            } else {
                "kept: uncommitted blocks, still within the grace period".into()
            },
            objects: if old { vec![blob.name.clone()] } else { Vec::new() },
            result: None,
            lock: lock_name(&key),
            store_index: index,
        });
    }
    out
}

/// The `*.partial` files of the local store's folders, older than the grace period.
async fn partials(
    settings: &RetentionSettings,
    index: usize,
    store: &Store,
    local: &crate::storage::LocalStore,
    rows: &[PlanRow],
) -> anyhow::Result<Vec<PlanRow>> {
    let mut folders: Vec<(String, bool, String)> = Vec::new();
    for row in rows {
        let files = row.lock.starts_with("files-");
        let folder = if files {
            format!("files/{}", row.series)
        } else {
            row.series.clone()
        };
        if !folders.iter().any(|(f, _, _)| *f == folder) {
            folders.push((folder, files, row.series.clone()));
        }
    }
    let before = std::time::SystemTime::from(settings.now) - settings.incomplete_grace;
    let mut out = Vec::new();
    for (folder, files, series) in folders {
        for (path, modified) in local.leftover_partials(&folder, before).await? {
            let size = fs_err::metadata(&path).map_or(0, |m| m.len());
            out.push(PlanRow {
                store: store.label(),
                series: series.clone(),
                kind: "partial".into(),
                name: path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                time: Some(modified.into()),
                size_bytes: size,
                action: "delete",
                reason: format!(
                    "delete: left by an upload that did not finish, older than {}",
                    crate::units::HumanDuration(settings.incomplete_grace)
                ),
                objects: vec![path.display().to_string()],
                result: None,
                lock: lock_name(&(files, series.clone())),
                store_index: index,
            });
        }
    }
    Ok(out)
}

fn lock_name((files, name): &(bool, String)) -> String {
    if *files {
        store_lock_name("files", name)
    } else {
        store_lock_name("backup", name)
    }
}

/// Takes the lock of every series that has something to delete, in its store, before anything is deleted.
///
/// # Errors
/// A lock is held (exit 11, naming its holder) or a store fails while being locked: the locks taken are released.
pub(crate) async fn lock_all(settings: &RetentionSettings, rows: &[PlanRow]) -> anyhow::Result<Vec<RunLocks>> {
    let mut wanted: Vec<(usize, &str)> = rows
        .iter()
        .filter(|r| r.deletes())
        .map(|r| (r.store_index, r.lock.as_str()))
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut taken = Vec::new();
    for (index, name) in wanted {
        let store = std::slice::from_ref(&settings.stores[index]);
        match lock::store_locks(store, name, "cleanup", Instant::now()).await {
            Ok(locks) => taken.push(locks),
            Err(err) => {
                for locks in taken {
                    locks.release().await;
                }
                return Err(err);
            }
        }
    }
    Ok(taken)
}

/// Deletes what the plan deletes, row by row (manifest first). Each row's `result` says what happened.
pub(crate) async fn delete(settings: &RetentionSettings, rows: &mut [PlanRow]) {
    for row in rows.iter_mut().filter(|r| r.deletes()) {
        let store = &settings.stores[row.store_index];
        let mut result = Ok(());
        for object in &row.objects {
            let outcome = match (store, row.kind.as_str()) {
                (Store::Local(local), "partial") => local.remove_partial(std::path::Path::new(object)).await,
                (Store::Azure(azure), "uncommitted") => azure.discard_uncommitted(object).await,
                _ => store.delete(object).await,
            };
            if let Err(err) = outcome {
                result = Err(format!("{err:#}"));
                break;
            }
            tracing::info!("deleted `{object}` from {}", store.label());
        }
        row.result = Some(match result {
            Ok(()) => "deleted".into(),
            Err(err) => format!("failed: {err}"),
        });
    }
}
