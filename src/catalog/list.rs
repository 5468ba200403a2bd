//! The catalog of one store, read from manifests: each manifest is one backup. A manifest blob that carries the
//! catalog's metadata (`manifest/metadata.rs`) is taken from the listing alone; the others are read. An archive without its manifest is
//! listed as `incomplete`, never as a backup. An archive the runbook's scripts made (`<db>_<YYYYMMDD>_<HHMMSS>.sql.gz`
//! at the top of the store or in `<db>/`: a pg_dump custom-format archive despite the name) is listed as `legacy`,
//! so that retention and health see it; restore takes it by name, path or URL, unverified (it has no manifest). This file only reads; it never prints, deletes or repairs anything
//! (the `backup list` command in `commands/backup/list.rs` prints it).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use serde::Serialize;

use super::manifest::metadata::{self, Summary};
use super::manifest::{self, BackupKind};
use crate::storage::{ObjectInfo, Store};

/// One row of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct CatalogEntry {
    pub name: String,
    /// `database`, `files`, `incomplete` for an archive without a manifest, or `legacy` for an archive the
    /// runbook's scripts made (`<db>_<YYYYMMDD>_<HHMMSS>.sql.gz`, no manifest).
    pub kind: String,
    pub database: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub size_bytes: u64,
    pub duration_seconds: Option<f64>,
    pub compression: Option<String>,
    pub sha256: Option<String>,
    /// Result of the last test-restore: `true` passed, `false` failed, `null` never tested.
    pub verified: Option<bool>,
    /// When the last test-restore ran (`health`'s `verify-age` reports it); not part of `backup list`'s output,
    /// whose `verified` says the result.
    #[serde(skip)]
    pub verified_at: Option<DateTime<Utc>>,
    pub store: String,
    pub object: String,
    /// The manifest object whose blob metadata this row was read from (`manifest/metadata.rs`); `None` when it
    /// was read from the manifest's body, or has no manifest.
    #[serde(skip)]
    pub metadata_of: Option<String>,
}

/// The suffix of the runbook's archives: custom-format dumps, named as if they were gzipped SQL.
pub(crate) const LEGACY_SUFFIX: &str = ".sql.gz";

/// The database of an archive the runbook's scripts made (`<db>_<YYYYMMDD>_<HHMMSS>.sql.gz`, at the top of the store
/// or in a folder), from its object name; `None` for any other name.
pub(crate) fn legacy_database(object: &str) -> Option<String> {
    let file_name = object.rsplit('/').next().unwrap_or(object);
    let base = file_name.strip_suffix(LEGACY_SUFFIX)?;
    database_of_name(base).filter(|db| format!("{db}_").len() + 15 == base.len())
}

/// The time in the name of a runbook archive (`<db>_<YYYYMMDD>_<HHMMSS>`): the scripts stamp it with `date`, in
/// the host's local time zone (campctl's own names are UTC), so it is read in this host's zone. `None` when the
/// name holds no valid time or the local time is ambiguous (a DST change): the caller keeps the object's time.
pub(crate) fn legacy_time(name: &str) -> Option<DateTime<Utc>> {
    use chrono::TimeZone as _;
    let stamp = name.get(name.len().checked_sub(15)?..)?;
    let naive = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%d_%H%M%S").ok()?;
    chrono::Local
        .from_local_datetime(&naive)
        .single()
        .map(|time| time.with_timezone(&Utc))
}

/// Whether an object name is an archive campctl makes (database dump or files tar.gz).
pub(crate) fn is_archive(name: &str) -> bool {
    [".dump", ".dump.zst", ".dump.gz", ".tar.gz"]
        .iter()
        .any(|suffix| name.ends_with(suffix))
}

/// The backup name of an archive or manifest object name (its suffix removed).
pub(crate) fn base_of(name: &str) -> &str {
    for suffix in [
        ".manifest.json",
        ".dump.zst",
        ".dump.gz",
        ".dump",
        ".tar.gz",
        LEGACY_SUFFIX,
    ] {
        if let Some(base) = name.strip_suffix(suffix) {
            return base;
        }
    }
    name
}

/// `camp_backend_db` of `camp_backend_db_20261129_030000` (also of a file name such as `…_030000.sql.gz`).
pub(crate) fn database_of_name(name: &str) -> Option<String> {
    let stem = match name.rsplit_once('_') {
        Some((head, time)) => &name[..head.len() + 1 + time.split('.').next().unwrap_or(time).len()],
        None => name,
    };
    let mut parts = stem.rsplitn(3, '_');
    let (time, date, db) = (parts.next()?, parts.next()?, parts.next()?);
    let stamp = |s: &str, n| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    (stamp(time, 6) && stamp(date, 8) && !db.is_empty()).then(|| db.to_string())
}

/// Reads the catalog of one store. A manifest whose blob carries the catalog's metadata (`manifest/metadata.rs`,
/// written by campctl in the same put as the body) is taken from the listing; any other manifest is read.
///
/// # Errors
/// The store cannot be listed.
pub(crate) async fn catalog(store: &Store, db: Option<&str>) -> anyhow::Result<Vec<CatalogEntry>> {
    Ok(catalog_from(store, db, Source::Metadata).await?.0)
}

/// [`catalog`], with the names of every object the listing returned (relative to the store): what cleanup
/// compares a listing of uncommitted blobs with, so that the store is not listed a third time.
///
/// # Errors
/// The store cannot be listed.
pub(crate) async fn catalog_with_names(
    store: &Store,
    db: Option<&str>,
) -> anyhow::Result<(Vec<CatalogEntry>, BTreeSet<String>)> {
    catalog_from(store, db, Source::Metadata).await
}

/// Reads the catalog of one store from the manifests' bodies only (the metadata ignored): what a catalog said
/// before manifests carried metadata, and the authority when the two disagree.
///
/// # Errors
/// The store cannot be listed.
pub(crate) async fn catalog_from_bodies(store: &Store, db: Option<&str>) -> anyhow::Result<Vec<CatalogEntry>> {
    Ok(catalog_from(store, db, Source::Bodies).await?.0)
}

#[derive(Clone, Copy, PartialEq)]
enum Source {
    Metadata,
    Bodies,
}

async fn catalog_from(
    store: &Store,
    db: Option<&str>,
    source: Source,
) -> anyhow::Result<(Vec<CatalogEntry>, BTreeSet<String>)> {
    let objects = store.list("").await?;
    let mut entries = Vec::new();
    let mut described = BTreeSet::new();
    let manifests: Vec<(&ObjectInfo, Option<Summary>)> = objects
        .iter()
        .filter(|o| o.name.ends_with(".manifest.json"))
        .map(|object| {
            let summary = (source == Source::Metadata)
                .then(|| metadata::from_metadata(&object.metadata))
                .flatten();
            (object, summary)
        })
        .collect();
    // The other manifests are small; read several at once (each is a round trip on Azure), keeping the listing's
    // order. The reads are built up front (no closure borrowing an object lives across an await): the future stays
    // `Send`, which `health` needs to run it beside its other checks.
    let reads: Vec<_> = manifests
        .iter()
        .filter(|(_, summary)| summary.is_none())
        .map(|(object, _)| read_manifest(store, object))
        .collect();
    let mut fetched = futures::stream::iter(reads)
        .buffered(8)
        .collect::<Vec<_>>()
        .await
        .into_iter();
    for (object, summary) in manifests {
        let (summary, metadata_of) = if let Some(summary) = summary {
            (summary, Some(object.name.clone()))
        } else {
            let Some((_, bytes)) = fetched.next() else { continue };
            match manifest::parse(&bytes?) {
                Ok(manifest) => (Summary::of(&manifest), None),
                Err(err) => {
                    tracing::warn!(
                        "skipping `{}` in {}: not a campctl manifest ({err:#})",
                        object.name,
                        store.label()
                    );
                    continue;
                }
            }
        };
        described.insert(summary.object.clone());
        if db.is_some_and(|db| db != summary.database) {
            continue;
        }
        let mut entry = entry_of(store, summary);
        entry.metadata_of = metadata_of;
        entries.push(entry);
    }
    for object in objects
        .iter()
        .filter(|o| is_archive(&o.name) && !described.contains(&o.name))
    {
        let folder = object.name.split('/').next().unwrap_or_default();
        if db.is_some_and(|db| db != folder && !object.name.starts_with(&format!("files/{db}/"))) {
            continue;
        }
        entries.push(without_manifest(store, object, "incomplete", None));
    }
    for object in objects.iter().filter(|o| !described.contains(&o.name)) {
        let Some(database) = legacy_database(&object.name) else {
            continue;
        };
        if db.is_some_and(|db| db != database) {
            continue;
        }
        let mut entry = without_manifest(store, object, "legacy", Some(database));
        entry.started_at = legacy_time(&entry.name).or(entry.started_at);
        entries.push(entry);
    }
    Ok((entries, objects.into_iter().map(|o| o.name).collect()))
}

/// The row of a backup with a manifest.
fn entry_of(store: &Store, summary: Summary) -> CatalogEntry {
    CatalogEntry {
        name: summary.name,
        kind: match summary.kind {
            BackupKind::Database => "database".into(),
            BackupKind::Files => "files".into(),
        },
        database: Some(summary.database),
        started_at: Some(summary.started_at),
        size_bytes: summary.size_bytes,
        duration_seconds: Some(summary.duration_seconds),
        compression: Some(summary.compression),
        sha256: Some(summary.sha256),
        verified: summary.test_restore.map(|(passed, _)| passed),
        verified_at: summary.test_restore.map(|(_, at)| at),
        store: store.label(),
        object: summary.object,
        metadata_of: None,
    }
}

/// The manifests, among `entries`, whose metadata says something else than their body (or whose body cannot be
/// read or parsed): entries read from metadata are checked against their bodies, the others are skipped.
///
/// # Errors
/// A manifest cannot be fetched.
pub(crate) async fn disagreeing(store: &Store, entries: &[&CatalogEntry]) -> anyhow::Result<Vec<String>> {
    let reads: Vec<_> = entries
        .iter()
        .filter_map(|entry| Some((*entry, entry.metadata_of.clone()?)))
        .map(|(entry, name)| async move { (entry, store.get(&name).await, name) })
        .collect();
    let fetched: Vec<_> = futures::stream::iter(reads).buffered(8).collect().await;
    let mut differ = Vec::new();
    for (entry, bytes, name) in fetched {
        let agrees = manifest::parse(&bytes?).is_ok_and(|body| {
            let mut from_body = entry_of(store, Summary::of(&body));
            from_body.metadata_of.clone_from(&entry.metadata_of);
            from_body == *entry
        });
        if !agrees {
            differ.push(name);
        }
    }
    Ok(differ)
}

/// The bytes of one manifest, with its object.
async fn read_manifest<'a>(store: &Store, object: &'a ObjectInfo) -> (&'a ObjectInfo, anyhow::Result<bytes::Bytes>) {
    (object, store.get(&object.name).await)
}

/// The row of an archive without a manifest (`incomplete`, or `legacy` with its database): only what the store
/// says of the object is known.
fn without_manifest(store: &Store, object: &ObjectInfo, kind: &str, database: Option<String>) -> CatalogEntry {
    CatalogEntry {
        name: base_of(object.name.rsplit('/').next().unwrap_or(&object.name)).to_string(),
        kind: kind.into(),
        database,
        started_at: object.last_modified,
        size_bytes: object.size,
        duration_seconds: None,
        compression: None,
        sha256: None,
        verified: None,
        verified_at: None,
        store: store.label(),
        object: object.name.clone(),
        metadata_of: None,
    }
}

#[cfg(test)]
mod tests {
    use super::{base_of, database_of_name, legacy_database, legacy_time};

    #[test]
    fn runbook_archives_are_dated_by_their_name() {
        let time = legacy_time("camp_backend_db_20250111_030000").expect("a valid stamp");
        let local = time.with_timezone(&chrono::Local);
        assert_eq!(local.format("%Y%m%d_%H%M%S").to_string(), "20250111_030000");
        assert_eq!(legacy_time("db_20251399_030000"), None);
        assert_eq!(legacy_time("short"), None);
    }

    #[test]
    fn backup_names_carry_their_database() {
        for (name, database) in [
            ("camp_backend_db_20261129_030000", Some("camp_backend_db")),
            ("camp_backend_db_20250111_030000.sql.gz", Some("camp_backend_db")),
            ("backup.sql.gz", None),
            ("db_2026112_030000", None),
        ] {
            assert_eq!(database_of_name(name).as_deref(), database, "{name}");
        }
    }

    #[test]
    fn runbook_archives_are_recognised_by_name() {
        for (object, database) in [
            ("camp_backend_db_20250111_030000.sql.gz", Some("camp_backend_db")),
            (
                "camp_backend_db/camp_backend_db_20250111_030000.sql.gz",
                Some("camp_backend_db"),
            ),
            ("camp_backend_db_20250111_030000.dump", None),
            ("backup.sql.gz", None),
            ("db_20250111_030000_extra.sql.gz", None),
        ] {
            assert_eq!(legacy_database(object).as_deref(), database, "{object}");
        }
        assert_eq!(base_of("db_20250111_030000.sql.gz"), "db_20250111_030000");
    }
}
