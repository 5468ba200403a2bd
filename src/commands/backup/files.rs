//! `campctl backup files --source DIR` (runbook 2.4.2): a tar.gz of a directory streamed to every store, with a
//! manifest (file count, bytes, SHA-256). Symlinks and hard links are stored as links; an unreadable file fails the
//! run (exit 3, nothing committed) unless `--skip-unreadable`. A live directory is expected: a file that changed while
//! read is stored at its size when opened, a vanished one is left out (both commit and exit 3), and FIFOs, sockets
//! and devices are left out and listed (exit 0). `walk.rs` writes the entries.

mod exact;
mod sparse;
mod walk;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context as _;
use base64::Engine as _;
use bytes::Bytes;
use chrono::Utc;
use serde::Serialize;
use tokio::sync::mpsc;

use super::digest::{Digests, Finished};
use super::fanout::{Uploads, put_manifest};
use super::naming;
use super::settings::FilesSettings;
use crate::catalog::manifest::{BackupKind, MANIFEST_VERSION, Manifest};
use crate::commands::Ctx;
use crate::exit::ExitStatus;
use crate::lock;
use crate::printer::{Cell, Plan, Printer, Report, Table};
use crate::storage::{CommitInfo, Store};
use walk::{SpecialFile, Walked};

/// The summary of `backup files`.
#[derive(Debug, Serialize)]
pub(crate) struct FilesReport {
    pub name: String,
    pub object: String,
    pub stores: Vec<String>,
    pub file_count: u64,
    pub file_bytes: u64,
    pub size_bytes: u64,
    pub sha256: String,
    pub duration_seconds: f64,
    /// Unreadable files and directories left out (`--skip-unreadable`).
    pub skipped: Vec<String>,
    /// Names stored as hard links to an earlier name of the same file.
    pub hard_links: u64,
    /// Files that grew, shrank or were modified while read, stored at their size when opened (exit 3).
    pub changed: Vec<String>,
    /// Files and directories that vanished between listing and reading, left out (exit 3).
    pub vanished: Vec<String>,
    /// FIFOs, sockets and device files, left out.
    pub skipped_special: Vec<SpecialFile>,
}

/// What `backup files --dry-run` would do: the JSON of [`Printer::plan`] (docs/output.md, "Dry-run plans").
#[derive(Debug, Serialize)]
struct FilesPlan {
    name: String,
    source: String,
    /// The archive's name if the run started now (the real name is chosen once the lock is held).
    object: String,
    manifest: String,
    skip_unreadable: bool,
    stores: Vec<String>,
}

impl Report for FilesReport {
    fn tables(&self) -> Vec<Table> {
        let mut table = Table::new(format!("Files backup `{}`", self.name), &["key", "value"]);
        for (key, value) in [
            ("object", Cell::from(self.object.as_str())),
            ("stores", self.stores.join(", ").into()),
            ("files", Cell::Int(self.file_count as i64)),
            ("hard links", Cell::Int(self.hard_links as i64)),
            ("file bytes", Cell::Bytes(self.file_bytes as i64)),
            ("stored size", Cell::Bytes(self.size_bytes as i64)),
            ("duration", Cell::Seconds(self.duration_seconds)),
            ("sha256", self.sha256.as_str().into()),
        ] {
            table.row(vec![key.into(), value]);
        }
        if !self.skipped.is_empty() {
            table
                .notes
                .push(format!("skipped (unreadable): {}", self.skipped.join(", ")));
        }
        if !self.changed.is_empty() {
            table.notes.push(format!(
                "changed while read (stored at their size when opened): {}",
                self.changed.join(", ")
            ));
        }
        if !self.vanished.is_empty() {
            table
                .notes
                .push(format!("vanished (left out): {}", self.vanished.join(", ")));
        }
        if !self.skipped_special.is_empty() {
            let special: Vec<String> = self
                .skipped_special
                .iter()
                .map(|special| format!("{} ({})", special.path, special.kind))
                .collect();
            table
                .notes
                .push(format!("skipped special files: {}", special.join(", ")));
        }
        vec![table]
    }
}

/// Sends the gzip output to the uploader in ~1 MiB pieces.
struct ChannelWriter {
    buffer: Vec<u8>,
    tx: mpsc::Sender<Bytes>,
    digests: Digests,
    bytes: u64,
}

impl ChannelWriter {
    fn flush_buffer(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(1 << 20));
        self.digests.update(&chunk);
        self.bytes += chunk.len() as u64;
        self.tx
            .blocking_send(Bytes::from(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the upload stopped"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= 1 << 20 {
            self.flush_buffer()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the archiving thread found.
struct Archived {
    walked: Walked,
    digests: Finished,
    size: u64,
}

fn archive(source: &Path, root_name: &str, tx: mpsc::Sender<Bytes>, digests: Digests) -> anyhow::Result<Archived> {
    let writer = ChannelWriter {
        buffer: Vec::with_capacity(1 << 20),
        tx,
        digests,
        bytes: 0,
    };
    let gzip = flate2::write::GzEncoder::new(writer, flate2::Compression::default());
    let mut builder = tar::Builder::new(gzip);
    let walked = walk::walk_source(&mut builder, source, root_name)?;
    let gzip = builder.into_inner().context("Failed to finish the tar stream")?;
    let mut writer = gzip.finish().context("Failed to finish the gzip stream")?;
    writer.flush_buffer()?;
    Ok(Archived {
        walked,
        digests: writer.digests.finish(),
        size: writer.bytes,
    })
}

/// Runs `campctl backup files`.
///
/// # Errors
/// The source is missing, a store failed, or files were unreadable (exit 3).
pub(crate) async fn backup_files(settings: FilesSettings, ctx: &Ctx, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let FilesSettings {
        source,
        name,
        skip_unreadable,
        stores,
    } = settings;
    let folder = format!("files/{name}/");
    let labels: Vec<String> = stores.iter().map(Store::label).collect();
    if ctx.settings.dry_run {
        let base = format!("{name}_{}", Utc::now().format("%Y%m%d_%H%M%S"));
        let object = format!("{folder}{base}.tar.gz");
        let manifest = format!("{folder}{base}.manifest.json");
        let steps = vec![
            format!("lock `files-{name}` in each store"),
            format!(
                "archive `{}` as `{object}` to {}{}",
                source.display(),
                labels.join(", "),
                if skip_unreadable {
                    " (unreadable files are left out: --skip-unreadable)"
                } else {
                    ""
                }
            ),
            format!("write `{manifest}` last, to each store that has the archive"),
        ];
        let plan = FilesPlan {
            name: name.clone(),
            source: source.display().to_string(),
            object,
            manifest,
            skip_unreadable,
            stores: labels,
        };
        printer.plan(&Plan::new("backup files", plan, steps))?;
        return Ok(ExitStatus::Success);
    }

    let run_started = std::time::SystemTime::now();
    let configured = stores.len();
    let mut locks = lock::store_locks(&stores, &format!("files-{name}"), "files", std::time::Instant::now()).await?;
    // Stores that failed while being locked (unreachable) are left out; the run ends partial (exit 3).
    let (stores, lock_failures) = locks.usable(&stores);
    naming::warn_leftovers(&stores, &folder, run_started, printer).await;
    // Named once the lock is held, unique within a second (docs/backup.md, "Names").
    let (started_at, base) = naming::unique_name(&stores, &folder, &name).await;
    let object = format!("{folder}{base}.tar.gz");
    let manifest_object = format!("{folder}{base}.manifest.json");
    let mut uploads = match Uploads::begin(&stores, &object, None).await {
        Ok(uploads) => uploads,
        Err(err) => {
            locks.release().await;
            return Err(err);
        }
    };
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    let root_name = name.clone();
    let source_for_thread = source.clone();
    // The whole object's MD5 only when a store keeps it (Azure's Content-MD5).
    let digests = Digests::for_stores(&stores);
    let tar_task = tokio::task::spawn_blocking(move || archive(&source_for_thread, &root_name, tx, digests));
    let progress = printer.transfer("files backup: stored");
    let failure = uploads.pump(rx, &progress).await;
    progress.finish();
    let outcome = tar_task.await.context("the archiving task failed")?;
    let archived = match (failure, outcome) {
        (Some(err), _) | (None, Err(err)) => {
            uploads.abort().await;
            locks.release().await;
            return Err(err);
        }
        (None, Ok(done)) => done,
    };
    let Archived { walked, digests, size } = archived;
    if !walked.unreadable.is_empty() && !skip_unreadable {
        uploads.abort().await;
        locks.release().await;
        return Ok(printer.partial(
            &format!(
                "{} file(s) could not be read, so nothing was committed: {}",
                walked.unreadable.len(),
                walked.unreadable.join(", ")
            ),
            "Fix their permissions, or pass `--skip-unreadable` to back up the rest",
        ));
    }
    let sha256 = hex::encode(digests.sha256);
    let info = CommitInfo {
        metadata: BTreeMap::from([
            ("campctl_kind".to_string(), "files".to_string()),
            ("campctl_sha256".to_string(), sha256.clone()),
        ]),
        content_md5: digests.md5,
        content_type: Some("application/gzip".into()),
    };
    let (committed, upload_failures) = uploads.commit(&object, &info).await;
    let finished_at = Utc::now();
    let manifest = Manifest {
        manifest_version: MANIFEST_VERSION,
        kind: BackupKind::Files,
        name: base.clone(),
        object: object.clone(),
        database: name.clone(),
        started_at,
        finished_at,
        duration_seconds: (finished_at - started_at).num_milliseconds() as f64 / 1000.0,
        campctl_version: env!("CARGO_PKG_VERSION").to_string(),
        host: crate::os::hostname(),
        server_version: None,
        pg_dump_version: None,
        archive: None,
        compression: "gzip:6".into(),
        size_bytes: size,
        sha256: sha256.clone(),
        md5: digests
            .md5
            .map(|md5| base64::engine::general_purpose::STANDARD.encode(md5)),
        row_counts: "none".into(),
        tables: Vec::new(),
        file_count: Some(walked.file_count),
        file_bytes: Some(walked.file_bytes),
        stores: committed.iter().map(|&i| stores[i].label()).collect(),
        test_restore: None,
    };
    let bytes = Bytes::from(serde_json::to_vec_pretty(&manifest)?);
    let (written, manifest_failures) = put_manifest(&stores, &committed, &manifest_object, bytes, &manifest).await;
    locks.release().await;
    let failures: Vec<String> = lock_failures
        .iter()
        .chain(&upload_failures)
        .chain(&manifest_failures)
        .map(ToString::to_string)
        .collect();
    if written.is_empty() {
        anyhow::bail!(
            "The files backup could not be committed to any store: {}",
            failures.join("; ")
        );
    }
    let partial = (written.len() < configured).then(|| written.join(", "));
    for failure in &failures {
        printer.warn(&format!("the files backup `{base}` was not committed to {failure}"));
    }
    let Walked {
        file_count,
        file_bytes,
        hard_links,
        unreadable,
        changed,
        vanished,
        special,
    } = walked;
    let mut problems = Vec::new();
    if !changed.is_empty() {
        problems.push(format!(
            "{} file(s) changed as they were read and are stored at their size when opened: {}",
            changed.len(),
            changed.join(", ")
        ));
    }
    if !vanished.is_empty() {
        problems.push(format!(
            "{} file(s) or directories vanished during the backup and were left out: {}",
            vanished.len(),
            vanished.join(", ")
        ));
    }
    if let Some(committed_to) = partial {
        problems.push(format!("committed to {committed_to} only"));
    }
    printer.report(&FilesReport {
        name: base.clone(),
        object,
        stores: written,
        file_count,
        file_bytes,
        size_bytes: size,
        sha256,
        duration_seconds: manifest.duration_seconds,
        skipped: unreadable,
        hard_links,
        changed,
        vanished,
        skipped_special: special,
    })?;
    if !problems.is_empty() {
        return Ok(printer.partial(
            &format!("partial files backup `{base}` (exit 3): {}", problems.join("; ")),
            "The archive is complete and extracts with `tar -xzf`; run `campctl backup files` again when the directory is quiet (or a failed store is back) to capture those files",
        ));
    }
    Ok(ExitStatus::Success)
}
