//! The backup manifest: versioned JSON written last, beside the archive. A backup without a manifest does not exist
//! (DESIGN.md). `backup list`, `restore` and `test-restore` read only manifests; the schema is in docs/backup.md.
//! It lives in the catalog because `backup` writes it and `backup list`, `restore` and `test-restore` read it; this
//! file only defines and parses the schema, and never reads or writes a store. The manifest blob also carries the
//! catalog's facts as metadata (`manifest/metadata.rs`), a cache of the body for listings.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The manifest format version; bump on incompatible changes.
pub(crate) const MANIFEST_VERSION: u32 = 1;

/// What kind of backup a manifest describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum BackupKind {
    /// `campctl backup [DB]`: a pg_dump custom-format archive.
    Database,
    /// `campctl backup files`: a tar.gz of a directory.
    Files,
}

/// One table's data in the archive.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct TableEntry {
    pub schema: String,
    pub table: String,
    /// Exact row count in the dump's snapshot; `null` when not counted (`--row-counts`).
    pub rows: Option<u64>,
    /// Bytes of COPY data.
    pub bytes: u64,
}

/// The archive as pg_dump wrote it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ArchiveInfo {
    /// `custom`.
    pub format: String,
    /// Archive format version (`1.14.0`): pg_restore must be able to read it.
    pub version: String,
    /// Compression inside the archive (pg_dump's own), `none` unless `--compression pgdump`.
    pub compression: String,
    pub toc_entries: usize,
    pub data_bytes: u64,
    pub large_objects: u64,
}

/// The result of the last test-restore of this backup (filled in by `campctl test-restore`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TestRestoreResult {
    pub at: DateTime<Utc>,
    pub passed: bool,
    pub duration_seconds: f64,
    pub restore_seconds: f64,
}

/// The manifest of one backup.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Manifest {
    #[expect(
        clippy::struct_field_names,
        reason = "the manifest's JSON key, read by older and newer campctl"
    )]
    pub manifest_version: u32,
    pub kind: BackupKind,
    /// `camp_backend_db_20261129_030000`
    pub name: String,
    /// Object name of the archive in the store.
    pub object: String,
    /// Database name, or the files backup's name.
    pub database: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_seconds: f64,
    pub campctl_version: String,
    pub host: String,
    pub server_version: Option<String>,
    pub pg_dump_version: Option<String>,
    pub archive: Option<ArchiveInfo>,
    /// campctl's compression of the stored object (`zstd:3`, `gzip:6`, `pgdump:6`, `none`).
    pub compression: String,
    pub size_bytes: u64,
    /// Hex SHA-256 of the stored object.
    pub sha256: String,
    /// Base64 MD5 of the stored object (the blob's Content-MD5); computed only when an Azure store was written, so
    /// absent from a local-only backup's manifest (older manifests always have it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    /// `none`, `listed` or `all`.
    pub row_counts: String,
    pub tables: Vec<TableEntry>,
    /// For `files` backups: number of entries and bytes of file content.
    pub file_count: Option<u64>,
    pub file_bytes: Option<u64>,
    /// Stores the backup was committed to.
    pub stores: Vec<String>,
    pub test_restore: Option<TestRestoreResult>,
}

/// `<base>.manifest.json` for an archive named `<base>.dump[.zst]` or `<base>.tar.gz`.
pub(crate) fn manifest_name(prefix: &str, base: &str) -> String {
    format!("{prefix}{base}.manifest.json")
}

/// Parses a manifest, rejecting versions this campctl does not know.
///
/// # Errors
/// Not JSON, missing fields, or a newer manifest version.
pub(crate) fn parse(bytes: &[u8]) -> anyhow::Result<Manifest> {
    let value: serde_json::Value = serde_json::from_slice(bytes)?;
    let version = value
        .get("manifest_version")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    if version > u64::from(MANIFEST_VERSION) {
        anyhow::bail!(
            "manifest version {version} is newer than this campctl understands ({MANIFEST_VERSION}); upgrade campctl"
        );
    }
    Ok(serde_json::from_value(value)?)
}

#[cfg(test)]
mod fuzz;
pub(crate) mod metadata;
