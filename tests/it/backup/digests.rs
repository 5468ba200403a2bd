//! The whole-object digests: SHA-256 always; MD5 (the blob's Content-MD5) only when an Azure store is written, so a
//! local-only backup's manifest has no `md5`, and one written to Azure has the MD5 the service keeps for the blob.

use base64::Engine as _;
use md5::Digest as _;

use crate::common::azurite;
use crate::restore::{RestoreEnv, content_digest, drop_database_quietly, seed};

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

fn md5_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(bytes))
}

/// The Content-MD5 Azurite keeps for `blob` (its properties, read with a HEAD request).
fn blob_content_md5(container: &str, blob: &str) -> Option<String> {
    azurite()
        .request("HEAD", &format!("{container}/{blob}"), &[], &[], &[])
        .expect_status(200, &format!("properties of {blob}"))
        .header("content-md5")
        .map(str::to_owned)
}

/// Restores the backup `name` from `store` into `<db>__copy_<label>`, compares its content with the source and drops
/// the copy.
fn restore_and_compare(env: &RestoreEnv, name: &str, store: &str, label: &str) {
    let target = env.copy_name(label);
    let report = env.restore(&[name, "--store", store, "--to", &target]);
    assert_eq!(report["checksum_verified"], true, "{report}");
    assert_eq!(
        content_digest(&target),
        content_digest(env.db.name()),
        "the copy restored from {store} holds the source's data"
    );
    drop_database_quietly(&target);
}

#[test]
fn a_local_only_backup_records_no_md5_and_restores() {
    let env = RestoreEnv::local();
    env.db.execute(&seed());
    let report = env.run_json(&["backup", "--store", "local"], 0);
    let manifest = env.local_manifest(&report);
    assert!(
        manifest.get("md5").is_none(),
        "no MD5 without an Azure store: {manifest:#}"
    );
    let stored = std::fs::read(env.local.join(report["object"].as_str().expect("object"))).expect("archive");
    assert_eq!(manifest["sha256"].as_str(), Some(sha256_hex(&stored).as_str()));
    assert_eq!(report["sha256"], manifest["sha256"]);
    let name = report["name"].as_str().expect("name");
    restore_and_compare(&env, name, "local", "local");

    // A files backup to the local store alone records none either.
    let source = env.ctx.home().join("files-source");
    std::fs::create_dir_all(&source).expect("source dir");
    std::fs::write(source.join("a.txt"), "some content\n").expect("a file");
    let files = env.run_json(
        &[
            "backup",
            "files",
            "--source",
            source.to_str().expect("UTF-8"),
            "--name",
            "docs",
        ],
        0,
    );
    let manifest_name = files["object"]
        .as_str()
        .expect("object")
        .replace(".tar.gz", ".manifest.json");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.local.join(manifest_name)).expect("files manifest")).expect("JSON");
    assert!(manifest.get("md5").is_none(), "{manifest:#}");
    let stored = std::fs::read(env.local.join(files["object"].as_str().expect("object"))).expect("tar.gz");
    assert_eq!(manifest["sha256"].as_str(), Some(sha256_hex(&stored).as_str()));
}

#[test]
fn an_azure_backup_records_the_md5_the_service_keeps_for_the_blob() {
    let env = RestoreEnv::with_azure();
    env.seed_small_table();
    let report = env.run_json(&["backup", "--store", "azure"], 0);
    let container = env.container.as_deref().expect("container");
    let object = format!("pg/{}", report["object"].as_str().expect("object"));
    let manifest: serde_json::Value = serde_json::from_slice(&azurite().get_blob(
        container,
        &format!("pg/{}", report["manifest"].as_str().expect("manifest")),
    ))
    .expect("manifest JSON");
    let blob = azurite().get_blob(container, &object);
    let md5 = manifest["md5"].as_str().expect("an Azure backup's manifest has md5");
    assert_eq!(md5, md5_base64(&blob), "the manifest's MD5 is the blob's");
    assert_eq!(blob_content_md5(container, &object).as_deref(), Some(md5));
    assert_eq!(manifest["sha256"].as_str(), Some(sha256_hex(&blob).as_str()));
}

#[test]
fn a_local_and_azure_backup_has_md5_and_both_copies_restore() {
    let env = RestoreEnv::with_azure();
    env.db.execute(&seed());
    let report = env.run_json(&["backup", "--store", "local", "--store", "azure"], 0);
    assert_eq!(report["stores"].as_array().map(Vec::len), Some(2), "{report}");
    let manifest = env.local_manifest(&report);
    let container = env.container.as_deref().expect("container");
    let object = format!("pg/{}", report["object"].as_str().expect("object"));
    let local = std::fs::read(env.local.join(report["object"].as_str().expect("object"))).expect("archive");
    let md5 = manifest["md5"]
        .as_str()
        .expect("md5 with an Azure store among the stores");
    assert_eq!(md5, md5_base64(&local));
    assert_eq!(blob_content_md5(container, &object).as_deref(), Some(md5));
    let azure_manifest: serde_json::Value = serde_json::from_slice(&azurite().get_blob(
        container,
        &format!("pg/{}", report["manifest"].as_str().expect("manifest")),
    ))
    .expect("manifest JSON");
    assert_eq!(azure_manifest["md5"].as_str(), Some(md5));
    let name = report["name"].as_str().expect("name");
    restore_and_compare(&env, name, "local", "from_local");
    restore_and_compare(&env, name, "azure", "from_azure");
}
