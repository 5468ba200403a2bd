//! The manifest blob's metadata: what the catalog needs of a backup, copied into the metadata of its manifest object
//! (Azure blob metadata; the local store ignores it) in the same atomic put as the manifest itself, so that listing
//! a store (`include=metadata`) is enough to build its catalog without reading 10,000 manifests.
//!
//! The manifest's body is authoritative: the metadata is a cache of it, written by the same put that writes the body
//! (a backup's manifest, and the test-restore record that rewrites it), so the two differ only when someone edits one
//! of them by hand. A manifest without this metadata, with an unknown `campctl_catalog` version or with a missing or
//! malformed key is read from its body, as before.
//!
//! Keys are lowercase C# identifiers (Azure compares them without case). Values are ASCII: text fields are
//! percent-encoded (UTF-8) outside `A-Z a-z 0-9 - _ . : + /`, times are RFC 3339 in UTC with all their digits,
//! numbers are Rust's shortest exact decimal, so that every value round-trips exactly.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use super::{BackupKind, Manifest};
use crate::storage::CommitInfo;

/// The version of this layout (`campctl_catalog`); a catalog reads only the versions it knows and falls back to the
/// manifest's body for any other.
pub(crate) const METADATA_VERSION: &str = "1";

/// Metadata larger than this is not written (the manifest is then read from its body); Azure allows 8 KiB.
const MAX_METADATA_BYTES: usize = 4096;

const VERSION: &str = "campctl_catalog";
const KIND: &str = "campctl_kind";
const NAME: &str = "campctl_name";
const OBJECT: &str = "campctl_object";
const DATABASE: &str = "campctl_database";
const STARTED_AT: &str = "campctl_started_at";
const SIZE_BYTES: &str = "campctl_size_bytes";
const DURATION_SECONDS: &str = "campctl_duration_seconds";
const COMPRESSION: &str = "campctl_compression";
const SHA256: &str = "campctl_sha256";
/// `none` (never test-restored), `passed` or `failed`.
const VERIFIED: &str = "campctl_verified";
/// When the last test-restore ran; present unless `campctl_verified` is `none`.
const VERIFIED_AT: &str = "campctl_verified_at";

/// Characters written as they are; everything else (including every non-ASCII byte) is percent-encoded.
const PLAIN: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b':')
    .remove(b'+')
    .remove(b'/');

/// What the catalog knows of one backup: the facts of its manifest that a catalog row holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Summary {
    pub kind: BackupKind,
    pub name: String,
    pub object: String,
    pub database: String,
    pub started_at: DateTime<Utc>,
    pub size_bytes: u64,
    pub duration_seconds: f64,
    pub compression: String,
    pub sha256: String,
    /// The last test-restore: whether it passed, and when it ran.
    pub test_restore: Option<(bool, DateTime<Utc>)>,
}

impl Summary {
    /// The summary of a manifest's body.
    pub(crate) fn of(manifest: &Manifest) -> Self {
        Self {
            kind: manifest.kind,
            name: manifest.name.clone(),
            object: manifest.object.clone(),
            database: manifest.database.clone(),
            started_at: manifest.started_at,
            size_bytes: manifest.size_bytes,
            duration_seconds: manifest.duration_seconds,
            compression: manifest.compression.clone(),
            sha256: manifest.sha256.clone(),
            test_restore: manifest.test_restore.as_ref().map(|t| (t.passed, t.at)),
        }
    }
}

fn encode(value: &str) -> String {
    utf8_percent_encode(value, PLAIN).to_string()
}

fn time(value: DateTime<Utc>) -> String {
    value.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The metadata of a manifest's blob; empty when it would not fit (the catalog then reads the body).
pub(crate) fn to_metadata(manifest: &Manifest) -> BTreeMap<String, String> {
    let summary = Summary::of(manifest);
    let (verified, verified_at) = match summary.test_restore {
        None => ("none", None),
        Some((true, at)) => ("passed", Some(at)),
        Some((false, at)) => ("failed", Some(at)),
    };
    let mut metadata = BTreeMap::from([
        (VERSION, METADATA_VERSION.to_string()),
        (
            KIND,
            match summary.kind {
                BackupKind::Database => "database".into(),
                BackupKind::Files => "files".into(),
            },
        ),
        (NAME, encode(&summary.name)),
        (OBJECT, encode(&summary.object)),
        (DATABASE, encode(&summary.database)),
        (STARTED_AT, time(summary.started_at)),
        (SIZE_BYTES, summary.size_bytes.to_string()),
        (DURATION_SECONDS, summary.duration_seconds.to_string()),
        (COMPRESSION, encode(&summary.compression)),
        (SHA256, encode(&summary.sha256)),
        (VERIFIED, verified.to_string()),
    ]);
    if let Some(at) = verified_at {
        metadata.insert(VERIFIED_AT, time(at));
    }
    let size: usize = metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_METADATA_BYTES {
        return BTreeMap::new();
    }
    metadata.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// How a manifest is written: JSON, with its metadata.
pub(crate) fn commit_info(manifest: &Manifest) -> CommitInfo {
    CommitInfo {
        content_type: Some("application/json".into()),
        metadata: to_metadata(manifest),
        ..CommitInfo::default()
    }
}

/// The summary in a manifest blob's metadata; `None` unless it is complete, well-formed and of a known version
/// (the caller then reads the manifest's body). Keys are matched without case, as Azure does.
pub(crate) fn from_metadata(metadata: &BTreeMap<String, String>) -> Option<Summary> {
    let get = |key: &str| {
        metadata
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(key))
            .map(|(_, value)| value.as_str())
    };
    let text = |key: &str| {
        percent_decode_str(get(key)?)
            .decode_utf8()
            .ok()
            .map(std::borrow::Cow::into_owned)
    };
    let parse_time = |key: &str| {
        DateTime::parse_from_rfc3339(get(key)?)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    if get(VERSION)? != METADATA_VERSION {
        return None;
    }
    let kind = match get(KIND)? {
        "database" => BackupKind::Database,
        "files" => BackupKind::Files,
        _ => return None,
    };
    let test_restore = match get(VERIFIED)? {
        "none" => None,
        "passed" => Some((true, parse_time(VERIFIED_AT)?)),
        "failed" => Some((false, parse_time(VERIFIED_AT)?)),
        _ => return None,
    };
    Some(Summary {
        kind,
        name: text(NAME)?,
        object: text(OBJECT)?,
        database: text(DATABASE)?,
        started_at: parse_time(STARTED_AT)?,
        size_bytes: get(SIZE_BYTES)?.parse().ok()?,
        duration_seconds: get(DURATION_SECONDS)?.parse().ok()?,
        compression: text(COMPRESSION)?,
        sha256: text(SHA256)?,
        test_restore,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::super::{Manifest, TestRestoreResult};
    use super::*;

    fn manifest(name: &str, database: &str) -> Manifest {
        let started_at = Utc
            .with_ymd_and_hms(2026, 11, 29, 3, 0, 0)
            .single()
            .expect("a valid time")
            + chrono::Duration::nanoseconds(123_456_789);
        Manifest {
            manifest_version: super::super::MANIFEST_VERSION,
            kind: BackupKind::Database,
            name: name.into(),
            object: format!("{database}/{name}.dump.zst"),
            database: database.into(),
            started_at,
            finished_at: started_at,
            duration_seconds: 0.1 + 0.2,
            campctl_version: "0.1.0".into(),
            host: "host".into(),
            server_version: None,
            pg_dump_version: None,
            archive: None,
            compression: "zstd:3".into(),
            size_bytes: u64::MAX,
            sha256: "ab".repeat(32),
            md5: Some("x".into()),
            row_counts: "none".into(),
            tables: Vec::new(),
            file_count: None,
            file_bytes: None,
            stores: Vec::new(),
            test_restore: None,
        }
    }

    fn assert_ascii_identifiers(metadata: &BTreeMap<String, String>) {
        for (key, value) in metadata {
            assert!(
                key.starts_with("campctl_")
                    && key
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{key} is not a lowercase identifier"
            );
            assert!(
                value.bytes().all(|b| b.is_ascii_graphic()),
                "{key} = {value:?} is not header-safe ASCII"
            );
        }
    }

    #[test]
    fn metadata_round_trips_a_manifest() {
        let mut passed = manifest("camp_backend_db_20261129_030000", "camp_backend_db");
        passed.test_restore = Some(TestRestoreResult {
            at: passed.started_at + chrono::Duration::hours(5),
            passed: true,
            duration_seconds: 1.0,
            restore_seconds: 1.0,
        });
        let mut failed = passed.clone();
        failed.kind = BackupKind::Files;
        if let Some(t) = failed.test_restore.as_mut() {
            t.passed = false;
        }
        for manifest in [manifest("db_20261129_030000", "db"), passed, failed] {
            let metadata = to_metadata(&manifest);
            assert_ascii_identifiers(&metadata);
            assert_eq!(from_metadata(&metadata), Some(Summary::of(&manifest)));
        }
    }

    #[test]
    fn metadata_round_trips_names_that_are_not_plain_ascii() {
        let manifest = manifest("Lagerbestände 2026_20261129_030000", "Lagerbestände 2026 % \"ü\"\t日本");
        let metadata = to_metadata(&manifest);
        assert_ascii_identifiers(&metadata);
        assert_eq!(
            metadata["campctl_database"],
            "Lagerbest%C3%A4nde%202026%20%25%20%22%C3%BC%22%09%E6%97%A5%E6%9C%AC"
        );
        assert_eq!(from_metadata(&metadata), Some(Summary::of(&manifest)));
    }

    #[test]
    fn metadata_keys_match_without_case() {
        let manifest = manifest("db_20261129_030000", "db");
        let upper: BTreeMap<_, _> = to_metadata(&manifest)
            .into_iter()
            .map(|(k, v)| (k.to_uppercase(), v))
            .collect();
        assert_eq!(from_metadata(&upper), Some(Summary::of(&manifest)));
    }

    #[test]
    fn incomplete_or_unknown_metadata_is_not_used() {
        let manifest = manifest("db_20261129_030000", "db");
        let metadata = to_metadata(&manifest);
        assert_eq!(from_metadata(&BTreeMap::new()), None);
        for key in metadata.keys() {
            let mut without = metadata.clone();
            without.remove(key);
            assert_eq!(from_metadata(&without), None, "without {key}");
        }
        for (key, value) in [
            (VERSION, "2"),
            (KIND, "snapshot"),
            (STARTED_AT, "yesterday"),
            (SIZE_BYTES, "-1"),
            (VERIFIED, "maybe"),
            (VERIFIED, "passed"),
            (NAME, "%FF"),
        ] {
            let mut bad = metadata.clone();
            bad.insert(key.to_string(), value.to_string());
            assert_eq!(from_metadata(&bad), None, "{key} = {value}");
        }
    }

    #[test]
    fn oversized_metadata_is_not_written() {
        let long = "ü".repeat(2000);
        let manifest = manifest(&format!("{long}_20261129_030000"), &long);
        assert!(to_metadata(&manifest).is_empty());
        assert_eq!(commit_info(&manifest).content_type.as_deref(), Some("application/json"));
    }
}
