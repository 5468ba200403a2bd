//! `campctl backup` end to end: real PostgreSQL, real pg_dump, a local store and Azurite.

mod block_integrity;
mod digests;
mod failures;
mod files;
mod interop;
mod locks;
pub(crate) mod outages;
pub(crate) mod round_trip;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::{TestContext, TestDb, assert_exit, azurite, pg, unique_container};

/// A test's campctl configuration: a local store in the temp HOME, optionally Azurite too.
pub struct BackupEnv {
    pub ctx: TestContext,
    pub db: TestDb,
    pub local: PathBuf,
    pub container: Option<String>,
}

impl BackupEnv {
    pub fn local() -> Self {
        Self::new(false)
    }

    pub fn with_azure() -> Self {
        Self::new(true)
    }

    fn new(azure: bool) -> Self {
        let ctx = TestContext::new();
        let db = ctx.db();
        let local = ctx.home().join("backups");
        let container = azure.then(|| {
            let container = unique_container();
            azurite().create_container(&container);
            container
        });
        ctx.write_file(
            "campctl.toml",
            store_config(&db.url(), &local, container.as_deref(), ""),
        );
        Self {
            ctx,
            db,
            local,
            container,
        }
    }

    /// Creates a table `t` of 1,000 rows: a database with something to dump.
    pub fn seed_small_table(&self) {
        self.db
            .execute("CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g");
    }

    /// Runs campctl with `args` and returns the output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.ctx.cmd().args(args).output().expect("run campctl")
    }

    /// Runs a backup in JSON and returns the report.
    pub fn backup(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--format", "json", "backup"];
        all.extend_from_slice(args);
        let output = self.run(&all);
        assert_exit(&output, 0);
        serde_json::from_slice(&output.stdout).expect("backup report is JSON")
    }

    /// Every file below the local store, relative to it.
    pub fn local_files(&self) -> Vec<String> {
        let mut files = Vec::new();
        collect(&self.local, &self.local, &mut files);
        files.sort();
        files
    }

    /// Files below the local store, without lock files.
    pub fn local_backup_files(&self) -> Vec<String> {
        self.local_files()
            .into_iter()
            .filter(|f| !f.starts_with("locks/"))
            .collect()
    }
}

/// `campctl.toml` for the database `url`, a local store at `local`, Azurite's `container` (prefix `pg/`) if given,
/// and `extra` appended.
pub fn store_config(url: &str, local: &Path, container: Option<&str>, extra: &str) -> String {
    let mut config = format!(
        "[database]\nurl = \"{url}\"\n\n[storage.local]\npath = \"{}\"\n",
        local.display()
    );
    if let Some(container) = container {
        let _ = write!(
            config,
            "\n[storage.azure]\nconnection_string = \"{}\"\ncontainer = \"{container}\"\nprefix = \"pg/\"\n",
            azurite().connection_string()
        );
    }
    config.push('\n');
    config.push_str(extra);
    config
}

pub fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, out);
        } else {
            out.push(path.strip_prefix(root).expect("below root").display().to_string());
        }
    }
}

/// Decompresses a stored archive according to the manifest's `compression`.
pub fn decompress(bytes: &[u8], compression: &str) -> Vec<u8> {
    if compression.starts_with("zstd") {
        zstd::decode_all(bytes).expect("zstd")
    } else if compression.starts_with("gzip") {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut out).expect("gzip");
        out
    } else {
        bytes.to_vec()
    }
}

/// `pg_restore --list` of an archive: the real tool must read what campctl stored.
pub fn pg_restore_list(archive: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("archive.dump");
    std::fs::write(&path, archive).expect("write archive");
    let output = std::process::Command::new(pg().bin_dir().join("pg_restore"))
        .arg("--list")
        .arg(&path)
        .output()
        .expect("run pg_restore");
    assert!(
        output.status.success(),
        "pg_restore --list failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A stand-in `pg_dump` script in the test's HOME; `body` runs with "$@".
pub fn stand_in_pg_dump(ctx: &TestContext, name: &str, body: &str) -> PathBuf {
    let path = ctx.write_file(name, format!("#!/bin/bash\n{body}\n"));
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    path
}

/// The real pg_dump of the harness.
pub fn real_pg_dump() -> PathBuf {
    pg().bin_dir().join("pg_dump")
}
