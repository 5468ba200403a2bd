//! The manifest blob's metadata on Azurite (`src/catalog/manifest/metadata.rs`): campctl writes the catalog's facts
//! into the metadata of every manifest it puts (backup, test-restore's record), the catalog is read from the listing
//! alone when they are there, and from the bodies otherwise. Both give the same catalog and the same plan; a manifest
//! without metadata is still read; metadata edited by hand never makes cleanup delete what the body keeps.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};

use super::json;
use crate::backup::BackupEnv;
use crate::common::{assert_exit, azurite};

/// The `x-ms-meta-*` metadata of a blob, keys without the prefix.
fn metadata_of(container: &str, blob: &str) -> BTreeMap<String, String> {
    azurite()
        .request("GET", &format!("{container}/{blob}"), &[("comp", "metadata")], &[], &[])
        .expect_status(200, &format!("metadata of {blob}"))
        .headers
        .iter()
        .filter_map(|(key, value)| Some((key.strip_prefix("x-ms-meta-")?.to_string(), value.clone())))
        .collect()
}

/// Puts a blob with `metadata` (empty: none), replacing any blob of that name.
fn put_with_metadata(container: &str, blob: &str, body: &[u8], metadata: &BTreeMap<String, String>) {
    let headers: Vec<(String, String)> = metadata
        .iter()
        .map(|(key, value)| (format!("x-ms-meta-{key}"), value.clone()))
        .collect();
    let mut all = vec![("x-ms-blob-type", "BlockBlob")];
    all.extend(headers.iter().map(|(key, value)| (key.as_str(), value.as_str())));
    azurite()
        .request("PUT", &format!("{container}/{blob}"), &[], &all, body)
        .expect_status(201, &format!("put {blob}"));
}

/// Replaces a blob's metadata, leaving its body as it is (what `az storage blob metadata update` does).
fn set_metadata(container: &str, blob: &str, metadata: &BTreeMap<String, String>) {
    let headers: Vec<(String, String)> = metadata
        .iter()
        .map(|(key, value)| (format!("x-ms-meta-{key}"), value.clone()))
        .collect();
    let all: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    azurite()
        .request(
            "PUT",
            &format!("{container}/{blob}"),
            &[("comp", "metadata")],
            &all,
            &[],
        )
        .expect_status(200, &format!("set the metadata of {blob}"));
}

/// The manifest object names of the Azure store (relative to its `pg/` prefix).
fn azure_manifests(env: &BackupEnv) -> Vec<String> {
    let container = env.container.as_deref().expect("azure");
    azurite()
        .list_blobs(container)
        .into_iter()
        .filter(|b| b.ends_with(".manifest.json"))
        .filter_map(|b| b.strip_prefix("pg/").map(str::to_string))
        .collect()
}

/// One real backup (both stores); returns its manifest object.
fn real_backup(env: &BackupEnv) -> String {
    env.seed_small_table();
    let report = env.backup(&[]);
    report["manifest"].as_str().expect("manifest").to_string()
}

/// Older copies of the real backup in Azurite only, `days` days earlier each: the manifest's body with its name,
/// object and times changed (never test-restored) and, when `with_metadata`, the real manifest blob's metadata (as
/// campctl wrote it) with the same facts changed; without, an old manifest as campctl wrote them before. Returns
/// their manifest objects.
fn copies(env: &BackupEnv, real_manifest: &str, days: &[i64], with_metadata: bool) -> Vec<String> {
    let container = env.container.as_deref().expect("azure");
    let db = env.db.name().to_string();
    let body: serde_json::Value =
        serde_json::from_slice(&azurite().get_blob(container, &format!("pg/{real_manifest}"))).expect("JSON");
    let metadata = metadata_of(container, &format!("pg/{real_manifest}"));
    let object = body["object"].as_str().expect("object").to_string();
    let suffix = object
        .rsplit_once(".dump")
        .map(|(_, s)| s.to_string())
        .unwrap_or_default();
    let archive = azurite().get_blob(container, &format!("pg/{object}"));
    let started: DateTime<Utc> = body["started_at"].as_str().expect("time").parse().expect("RFC 3339");
    let mut made = Vec::new();
    for &day in days {
        let time = started - chrono::Duration::days(day);
        let base = format!("{db}_{}", time.format("%Y%m%d_%H%M%S"));
        let archive_name = format!("{db}/{base}.dump{suffix}");
        let manifest_name = format!("{db}/{base}.manifest.json");
        let mut copy = body.clone();
        copy["name"] = base.clone().into();
        copy["object"] = archive_name.clone().into();
        copy["started_at"] = time.to_rfc3339().into();
        copy["finished_at"] = time.to_rfc3339().into();
        copy["test_restore"] = serde_json::Value::Null;
        let mut copy_metadata = BTreeMap::new();
        if with_metadata {
            copy_metadata.clone_from(&metadata);
            copy_metadata.insert("campctl_name".into(), base.clone());
            copy_metadata.insert("campctl_object".into(), archive_name.clone());
            copy_metadata.insert(
                "campctl_started_at".into(),
                time.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            );
            copy_metadata.insert("campctl_verified".into(), "none".into());
            copy_metadata.remove("campctl_verified_at");
        }
        azurite().put_blob(container, &format!("pg/{archive_name}"), &archive);
        put_with_metadata(
            container,
            &format!("pg/{manifest_name}"),
            &serde_json::to_vec_pretty(&copy).expect("JSON"),
            &copy_metadata,
        );
        made.push(manifest_name);
    }
    made
}

/// The Azure rows of `backup list --format json`.
fn azure_list(env: &BackupEnv) -> Vec<serde_json::Value> {
    let output = env.run(&["--format", "json", "backup", "list"]);
    assert_exit(&output, 0);
    json(&output)["backups"]
        .as_array()
        .expect("backups")
        .iter()
        .filter(|row| row["store"].as_str().is_some_and(|s| s.starts_with("azure")))
        .cloned()
        .collect()
}

/// The Azure rows of the `cleanup --backups --dry-run` plan.
fn azure_plan(env: &BackupEnv) -> serde_json::Value {
    let output = env.run(&[
        "--format",
        "json",
        "--dry-run",
        "cleanup",
        "--backups",
        "--store",
        "azure",
    ]);
    assert_exit(&output, 0);
    json(&output)["backups"].clone()
}

#[test]
fn a_catalog_read_from_manifest_metadata_equals_one_read_from_the_bodies_on_azurite() {
    let env = BackupEnv::with_azure();
    let container = env.container.clone().expect("azure");
    let real = real_backup(&env);
    // test-restore the Azure copy (by its URL), so that the verification record rewrites its manifest.
    let object = metadata_of(&container, &format!("pg/{real}"))["campctl_object"].clone();
    let url = format!("{}/{container}/pg/{object}", azurite().endpoint());
    let output = env.run(&["--format", "json", "test-restore", &url]);
    assert_exit(&output, 0);
    let metadata = metadata_of(&container, &format!("pg/{real}"));
    assert_eq!(
        metadata.get("campctl_catalog").map(String::as_str),
        Some("1"),
        "{metadata:?}"
    );
    assert_eq!(
        metadata.get("campctl_verified").map(String::as_str),
        Some("passed"),
        "{metadata:?}"
    );
    assert!(metadata.contains_key("campctl_verified_at"), "{metadata:?}");
    copies(&env, &real, &[1, 2, 4, 5, 40, 41], true);
    copies(&env, &real, &[3, 6, 42], false);

    let from_metadata = azure_list(&env);
    let plan_from_metadata = azure_plan(&env);
    assert_eq!(from_metadata.len(), 10, "{from_metadata:#?}");
    assert!(
        from_metadata.iter().all(|row| row["kind"] == "database"),
        "{from_metadata:#?}"
    );
    assert_eq!(from_metadata[0]["verified"], true, "{:#}", from_metadata[0]);
    let deleted: Vec<&serde_json::Value> = plan_from_metadata
        .as_array()
        .expect("rows")
        .iter()
        .filter(|row| row["action"] == "delete")
        .collect();
    assert_eq!(deleted.len(), 3, "{plan_from_metadata:#}");

    // The same manifests, their metadata removed: the catalog reads every body.
    for manifest in azure_manifests(&env) {
        let blob = format!("pg/{manifest}");
        let body = azurite().get_blob(&container, &blob);
        put_with_metadata(&container, &blob, &body, &BTreeMap::new());
        assert!(metadata_of(&container, &blob).is_empty());
    }
    assert_eq!(azure_list(&env), from_metadata);
    assert_eq!(azure_plan(&env), plan_from_metadata);
}

#[test]
fn a_manifest_without_metadata_is_still_read() {
    let env = BackupEnv::with_azure();
    let container = env.container.clone().expect("azure");
    let real = real_backup(&env);
    let before = azure_list(&env);
    let blob = format!("pg/{real}");
    assert!(!metadata_of(&container, &blob).is_empty());
    let body = azurite().get_blob(&container, &blob);
    put_with_metadata(&container, &blob, &body, &BTreeMap::new());

    let after = azure_list(&env);
    assert_eq!(after, before);
    assert_eq!(after.len(), 1, "{after:#?}");
    assert_eq!(after[0]["kind"], "database");
    assert!(
        after[0]["sha256"].as_str().is_some_and(|s| s.len() == 64),
        "{:#}",
        after[0]
    );
}

#[test]
fn cleanup_never_deletes_what_the_body_keeps_when_metadata_was_edited_by_hand() {
    let env = BackupEnv::with_azure();
    let container = env.container.clone().expect("azure");
    let real = real_backup(&env);
    let made = copies(&env, &real, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 35, 36], true);
    // Someone moves backup 10's time back by a year in its metadata only: its body still says 10 days.
    let edited = format!("pg/{}", made[9]);
    let mut metadata = metadata_of(&container, &edited);
    let started: DateTime<Utc> = metadata["campctl_started_at"].parse().expect("RFC 3339");
    metadata.insert(
        "campctl_started_at".into(),
        (started - chrono::Duration::days(365)).to_rfc3339_opts(SecondsFormat::AutoSi, true),
    );
    set_metadata(&container, &edited, &metadata);

    // The dry run plans from the listing, so it shows the edited time...
    let plan = azure_plan(&env);
    let name_of = |manifest: &str| manifest.rsplit('/').next().expect("name").replace(".manifest.json", "");
    let planned_deletes: Vec<String> = plan
        .as_array()
        .expect("rows")
        .iter()
        .filter(|row| row["action"] == "delete")
        .map(|row| row["name"].as_str().expect("name").to_string())
        .collect();
    assert!(planned_deletes.contains(&name_of(&made[9])), "{plan:#}");

    // ...but the run reads the bodies of the series it deletes from, finds the disagreement and plans from bodies.
    let output = env.run(&["--format", "json", "cleanup", "--backups", "--store", "azure", "--yes"]);
    assert_exit(&output, 0);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("planning from the manifests' bodies"), "{stderr}");
    let left = azure_manifests(&env);
    assert!(left.contains(&made[9]), "{left:?}");
    for gone in &made[10..] {
        assert!(!left.contains(gone), "{gone} should be deleted: {left:?}");
    }
    assert_eq!(left.len(), 11, "{left:?}");
}
