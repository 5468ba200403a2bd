//! Property tests of the manifest reader and of backup object names (hardening issue, "Fuzzing and property
//! tests"): a manifest read from a store may be anything (damaged, truncated, hand-edited, from a newer campctl); it
//! is read or refused with an error, never a panic, and what is read writes back to the same manifest.

use proptest::prelude::*;

use super::{Manifest, parse};
use crate::catalog::list::{base_of, is_archive};
use crate::dump_options::Compression;
use crate::units::fuzz::config;

/// A complete manifest as `campctl backup` writes it.
const SAMPLE: &str = r#"{
  "manifest_version": 1, "kind": "database", "name": "shop_20261129_030000",
  "object": "shop/shop_20261129_030000.dump.zst", "database": "shop",
  "started_at": "2026-11-29T03:00:00Z", "finished_at": "2026-11-29T03:00:05.250Z", "duration_seconds": 5.25,
  "campctl_version": "0.1.0", "host": "db-1", "server_version": "15.18", "pg_dump_version": "15.18",
  "archive": { "format": "custom", "version": "1.14.0", "compression": "none", "toc_entries": 12,
               "data_bytes": 4096, "large_objects": 1 },
  "compression": "zstd:1", "size_bytes": 1234, "sha256": "00ff", "md5": "AAAA", "row_counts": "all",
  "tables": [ { "schema": "public", "table": "users", "rows": 3, "bytes": 40 },
              { "schema": "Sales", "table": "Order Items", "rows": null, "bytes": 0 } ],
  "file_count": null, "file_bytes": null, "stores": ["local:/var/backups/campctl"],
  "test_restore": { "at": "2026-11-30T03:00:00Z", "passed": true, "duration_seconds": 9.5, "restore_seconds": 4.0 }
}"#;

/// A JSON value of any shape.
fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
        Just(serde_json::Value::from("2026-13-45T99:00:00Z")),
        Just(serde_json::Value::from(u64::from(u32::MAX) + 1)),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..4)
                .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
        ]
    })
}

/// `value` with every float rounded to 12 significant digits: serde_json's default float parsing may be off by one
/// unit in the last place, which is not what this test is about.
fn rounded(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Number(number) if number.is_f64() => {
            serde_json::Value::String(format!("{:.12e}", number.as_f64().unwrap_or_default()))
        }
        serde_json::Value::Array(items) => serde_json::Value::Array(items.into_iter().map(rounded).collect()),
        serde_json::Value::Object(map) => {
            serde_json::Value::Object(map.into_iter().map(|(key, value)| (key, rounded(value))).collect())
        }
        other => other,
    }
}

/// Reads `bytes`; what is read must write back to itself.
fn read(bytes: &[u8]) -> Result<(), TestCaseError> {
    match parse(bytes) {
        Ok(manifest) => {
            let written = serde_json::to_vec(&manifest).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let again: Manifest = parse(&written).map_err(|e| TestCaseError::fail(format!("re-read: {e:#}")))?;
            let value = |manifest: &Manifest| {
                serde_json::to_value(manifest)
                    .map(rounded)
                    .map_err(|e| TestCaseError::fail(e.to_string()))
            };
            prop_assert_eq!(value(&again)?, value(&manifest)?);
        }
        Err(error) => {
            let message = format!("{error:#}");
            prop_assert!(!message.is_empty());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn fuzz_manifest_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        read(&bytes)?;
    }

    #[test]
    fn fuzz_manifest_damaged(
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
    ) {
        let mut bytes = SAMPLE.as_bytes().to_vec();
        for (at, byte) in flips {
            let at = at.index(bytes.len());
            bytes[at] ^= byte;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        read(&bytes)?;
    }

    #[test]
    fn fuzz_manifest_fields(
        replacements in prop::collection::vec((any::<prop::sample::Index>(), json()), 1..4),
        nested in any::<prop::sample::Index>(),
    ) {
        let mut value: serde_json::Value = serde_json::from_str(SAMPLE).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for (key, replacement) in replacements {
            let serde_json::Value::Object(map) = &mut value else { unreachable!("the sample is an object") };
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = &keys[key.index(keys.len())];
            // Half the time replace a field inside the field's own object (archive, tables[0], test_restore).
            let slot = map.get_mut(key).ok_or_else(|| TestCaseError::fail("a key of the map"))?;
            match slot {
                serde_json::Value::Object(inner) if !inner.is_empty() && nested.index(2) == 0 => {
                    let keys: Vec<String> = inner.keys().cloned().collect();
                    inner.insert(keys[nested.index(keys.len())].clone(), replacement);
                }
                _ => *slot = replacement,
            }
        }
        read(&serde_json::to_vec(&value).map_err(|e| TestCaseError::fail(e.to_string()))?)?;
    }

    #[test]
    fn fuzz_blob_names(name in prop_oneof![any::<String>(), "[a-z_]{0,8}(_[0-9]{8}_[0-9]{6})?(\\.dump|\\.dump\\.zst|\\.dump\\.gz|\\.tar\\.gz|\\.manifest\\.json)?"]) {
        let base = base_of(&name);
        prop_assert!(name.starts_with(base));
        if is_archive(&name) {
            prop_assert!(base.len() < name.len(), "{}", name);
        }
    }

    #[test]
    fn fuzz_compression(text in prop_oneof![any::<String>(), "(zstd|gzip|pgdump|none|lz4)(:[0-9-]{0,4})?"]) {
        if let Ok(compression) = text.parse::<Compression>() {
            prop_assert_eq!(compression.to_string().parse::<Compression>().ok(), Some(compression));
        }
    }
}

/// `md5` is optional: a local-only backup writes none, and a manifest with one (every earlier campctl) still reads
/// and writes it back.
#[test]
fn md5_is_optional_and_kept_when_present() {
    let with = parse(SAMPLE.as_bytes()).expect("the sample reads");
    assert_eq!(with.md5.as_deref(), Some("AAAA"));
    let written: serde_json::Value = serde_json::to_value(&with).expect("writes");
    assert_eq!(written["md5"], "AAAA");
    let mut value: serde_json::Value = serde_json::from_str(SAMPLE).expect("JSON");
    value.as_object_mut().expect("an object").remove("md5");
    let without = parse(&serde_json::to_vec(&value).expect("bytes")).expect("reads without md5");
    assert_eq!(without.md5, None);
    let written: serde_json::Value = serde_json::to_value(&without).expect("writes");
    assert!(written.get("md5").is_none(), "{written}");
}
