//! Interop: what campctl stores in Azure is read by an independent client, Microsoft's Python SDK
//! (azure-storage-blob, pinned in tests/requirements.txt and installed by scripts/test into .pydeps/).

use super::BackupEnv;
use crate::common::{azurite, python};

#[test]
fn the_python_sdk_lists_and_downloads_the_same_bytes_and_metadata() {
    python::require("azure/storage/blob");
    let env = BackupEnv::with_azure();
    env.db
        .execute("CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 5000) g");
    let report = env.backup(&["--store", "azure"]);
    let object = format!("pg/{}", report["object"].as_str().expect("object"));
    let seen = python::run_json(
        "interop_blob.py",
        [
            azurite().connection_string().as_str(),
            env.container.as_deref().expect("container"),
            &object,
        ],
    );
    assert_eq!(seen["sha256"], report["sha256"], "{seen}");
    assert_eq!(seen["size"], report["size_bytes"], "{seen}");
    assert_eq!(seen["metadata"]["campctl_sha256"], report["sha256"], "{seen}");
    assert_eq!(seen["metadata"]["campctl_database"], env.db.name(), "{seen}");
    assert!(seen["content_md5"].is_string(), "Content-MD5 is set: {seen}");
    assert_eq!(
        seen["content_md5"], seen["md5"],
        "Content-MD5 is the MD5 of the bytes downloaded: {seen}"
    );
    let manifest = azurite().get_blob(
        env.container.as_deref().expect("container"),
        &format!("pg/{}", report["manifest"].as_str().expect("manifest")),
    );
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).expect("manifest JSON");
    assert_eq!(
        manifest["md5"], seen["md5"],
        "the manifest records the blob's MD5: {seen}"
    );
    assert_eq!(manifest["sha256"], seen["sha256"], "{seen}");
    let listed: Vec<&str> = seen["listed"]
        .as_array()
        .expect("listed")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(listed.contains(&object.as_str()), "{listed:?}");
    assert!(listed.iter().any(|name| name.ends_with(".manifest.json")), "{listed:?}");
}
