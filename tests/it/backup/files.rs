//! `campctl backup files` (runbook 2.4.2) and `campctl backup snapshot` (runbook 2.4.1).

use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;

use super::BackupEnv;
use crate::common::{assert_exit, azurite, unique_container};

fn make_tree(root: &std::path::Path) {
    std::fs::create_dir_all(root.join("avatars/2026")).expect("dirs");
    std::fs::write(root.join("avatars/2026/a.png"), vec![7u8; 100_000]).expect("file");
    std::fs::write(root.join("readme.txt"), "hello\n").expect("file");
    std::fs::write(root.join("empty"), "").expect("file");
    std::os::unix::fs::symlink("readme.txt", root.join("link-to-readme")).expect("symlink");
}

fn extract(archive: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    tar::Archive::new(flate2::read::GzDecoder::new(archive))
        .unpack(dir.path())
        .expect("a valid tar.gz");
    dir
}

#[test]
fn a_directory_round_trips_with_symlinks_as_links() {
    let env = BackupEnv::local();
    let source = env.ctx.home().join("uploads");
    make_tree(&source);
    let report = env.backup(&["files", "--source", source.to_str().expect("path")]);
    assert_eq!(report["file_count"], 4, "{report}");
    assert_eq!(report["file_bytes"], 100_006, "{report}");
    let object = report["object"].as_str().expect("object");
    assert!(
        object.starts_with("files/uploads/uploads_") && object.ends_with(".tar.gz"),
        "{object}"
    );
    let stored = std::fs::read(env.local.join(object)).expect("archive");
    let out = extract(&stored);
    assert_eq!(
        std::fs::read(out.path().join("uploads/avatars/2026/a.png"))
            .expect("a.png")
            .len(),
        100_000
    );
    let link = std::fs::read_link(out.path().join("uploads/link-to-readme")).expect("stored as a link");
    assert_eq!(link, std::path::Path::new("readme.txt"));
    let manifest_name = object.replace(".tar.gz", ".manifest.json");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.local.join(manifest_name)).expect("manifest")).expect("json");
    assert_eq!(manifest["kind"], "files");
    assert_eq!(manifest["file_count"], 4);
    assert_eq!(manifest["sha256"], report["sha256"]);
    let list = env.run(&["--format", "json", "backup", "list", "--db", "uploads"]);
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).expect("json");
    assert_eq!(list["backups"][0]["kind"], "files", "{list}");
}

#[test]
fn an_empty_directory_is_a_valid_backup() {
    let env = BackupEnv::local();
    let source = env.ctx.home().join("nothing-yet");
    std::fs::create_dir(&source).expect("dir");
    let report = env.backup(&["files", "--source", source.to_str().expect("path"), "--name", "uploads"]);
    assert_eq!(report["file_count"], 0);
    let out = extract(&std::fs::read(env.local.join(report["object"].as_str().expect("object"))).expect("archive"));
    assert!(out.path().join("uploads").is_dir());
}

#[test]
fn a_missing_source_exits_10() {
    let env = BackupEnv::local();
    let output = env.run(&["backup", "files", "--source", "/nonexistent/uploads"]);
    assert_exit(&output, 10);
    assert!(env.local_backup_files().is_empty());
}

#[test]
fn an_unreadable_file_fails_with_exit_3_unless_skipped() {
    let env = BackupEnv::local();
    let source = env.ctx.home().join("uploads");
    make_tree(&source);
    let secret = source.join("secret.key");
    std::fs::write(&secret, "top secret").expect("file");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    // Root reads everything: run campctl as `nobody` when the tests run as root.
    let as_root = unsafe { libc::geteuid() } == 0;
    if as_root {
        std::fs::set_permissions(env.ctx.home(), std::fs::Permissions::from_mode(0o755)).expect("chmod home");
        std::fs::create_dir_all(&env.local).expect("store");
        std::fs::set_permissions(&env.local, std::fs::Permissions::from_mode(0o777)).expect("chmod store");
    }
    let run = |extra: &[&str]| {
        let mut command = env.ctx.std_cmd();
        command
            .args([
                "--format",
                "json",
                "backup",
                "files",
                "--source",
                source.to_str().expect("path"),
            ])
            .args(extra);
        if as_root {
            command.uid(65534).gid(65534);
        }
        command.output().expect("run campctl")
    };
    let output = run(&[]);
    assert_exit(&output, 3);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("secret.key") && stderr.contains("--skip-unreadable"),
        "{stderr}"
    );
    assert!(
        env.local_backup_files().is_empty(),
        "nothing committed, no partial left"
    );
    let output = run(&["--skip-unreadable"]);
    assert_exit(&output, 0);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(report["file_count"], 4);
    assert!(
        report["skipped"][0].as_str().is_some_and(|s| s.ends_with("secret.key")),
        "{report}"
    );
}

#[test]
fn every_blob_of_a_container_gets_a_snapshot() {
    let env = BackupEnv::with_azure();
    let uploads = unique_container();
    azurite().create_container(&uploads);
    for name in ["a.png", "avatars/b.png", "avatars/c.png"] {
        azurite().put_blob(&uploads, name, name.as_bytes());
    }
    let output = env.run(&["--format", "json", "backup", "snapshot", "--container", &uploads]);
    assert_exit(&output, 0);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(report["total"], 3, "{report}");
    assert_eq!(report["snapshotted"], 3, "{report}");
    let listing = azurite()
        .request(
            "GET",
            &uploads,
            &[("comp", "list"), ("restype", "container"), ("include", "snapshots")],
            &[],
            &[],
        )
        .text();
    assert_eq!(listing.matches("<Snapshot>").count(), 3, "{listing}");
    // A prefix limits the snapshot to part of the container.
    let output = env.run(&[
        "--format",
        "json",
        "backup",
        "snapshot",
        "--container",
        &uploads,
        "--prefix",
        "avatars/",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(report["total"], 2, "{report}");
}

#[test]
fn snapshot_without_an_azure_store_is_a_usage_error() {
    let env = BackupEnv::local();
    assert_exit(&env.run(&["backup", "snapshot"]), 2);
}
