//! `campctl backup files --source DIR` (runbook 2.4.2): a tar.gz of a directory streamed to every store, with a
//! manifest (file count, bytes, SHA-256). Symlinks are stored as links; an unreadable file fails the run (exit 3,
//! nothing committed) unless `--skip-unreadable`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context as _;
use base64::Engine as _;
use bytes::Bytes;
use chrono::Utc;
use md5::Digest as _;
use serde::Serialize;
use tokio::sync::mpsc;

use super::fanout::{Uploads, put_manifest};
use super::naming;
use super::settings::FilesSettings;
use crate::catalog::manifest::{BackupKind, MANIFEST_VERSION, Manifest};
use crate::commands::Ctx;
use crate::exit::ExitStatus;
use crate::lock;
use crate::printer::{Cell, Plan, Printer, Report, Table};
use crate::storage::{CommitInfo, Store};

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
    pub skipped: Vec<String>,
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
        vec![table]
    }
}

/// Sends the gzip output to the uploader in ~1 MiB pieces.
struct ChannelWriter {
    buffer: Vec<u8>,
    tx: mpsc::Sender<Bytes>,
    sha256: sha2::Sha256,
    md5: md5::Md5,
    bytes: u64,
}

impl ChannelWriter {
    fn flush_buffer(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(1 << 20));
        self.sha256.update(&chunk);
        self.md5.update(&chunk);
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
    file_count: u64,
    file_bytes: u64,
    unreadable: Vec<String>,
    sha256: [u8; 32],
    md5: [u8; 16],
    size: u64,
}

fn archive(source: &Path, root_name: &str, skip_unreadable: bool, tx: mpsc::Sender<Bytes>) -> anyhow::Result<Archived> {
    let writer = ChannelWriter {
        buffer: Vec::with_capacity(1 << 20),
        tx,
        sha256: sha2::Sha256::new(),
        md5: md5::Md5::new(),
        bytes: 0,
    };
    let gzip = flate2::write::GzEncoder::new(writer, flate2::Compression::default());
    let mut builder = tar::Builder::new(gzip);
    builder.follow_symlinks(false);
    let mut state = (0u64, 0u64, Vec::new());
    builder
        .append_dir(root_name, source)
        .with_context(|| format!("Failed to read `{}`", source.display()))?;
    walk(&mut builder, source, Path::new(root_name), skip_unreadable, &mut state)?;
    let gzip = builder.into_inner().context("Failed to finish the tar stream")?;
    let mut writer = gzip.finish().context("Failed to finish the gzip stream")?;
    writer.flush_buffer()?;
    let (file_count, file_bytes, unreadable) = state;
    Ok(Archived {
        file_count,
        file_bytes,
        unreadable,
        sha256: writer.sha256.finalize().into(),
        md5: writer.md5.finalize().into(),
        size: writer.bytes,
    })
}

fn walk<W: Write>(
    builder: &mut tar::Builder<W>,
    dir: &Path,
    name: &Path,
    skip_unreadable: bool,
    state: &mut (u64, u64, Vec<String>),
) -> anyhow::Result<()> {
    let entries = match fs_err::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
            state.2.push(dir.display().to_string());
            return Ok(());
        }
        Err(err) => return Err(err.into()),
    };
    let mut entries: Vec<_> = entries.collect::<Result<_, _>>()?;
    entries.sort_by_key(fs_err::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let entry_name = name.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            builder.append_path_with_name(&path, &entry_name)?;
            state.0 += 1;
        } else if kind.is_dir() {
            builder.append_dir(&entry_name, &path)?;
            walk(builder, &path, &entry_name, skip_unreadable, state)?;
        } else if kind.is_file() {
            match fs_err::File::open(&path) {
                Ok(mut file) => {
                    let length = file.metadata()?.len();
                    builder.append_file(&entry_name, file.file_mut())?;
                    state.0 += 1;
                    state.1 += length;
                }
                Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
                    state.2.push(path.display().to_string());
                    if !skip_unreadable {
                        tracing::warn!("cannot read `{}`: {err}", path.display());
                    }
                }
                Err(err) => return Err(err).with_context(|| format!("Failed to read `{}`", path.display())),
            }
        } else {
            tracing::warn!(
                "skipping `{}`: not a regular file, directory or symlink",
                path.display()
            );
        }
    }
    Ok(())
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
    let (root_name, skip) = (name.clone(), skip_unreadable);
    let source_for_thread = source.clone();
    let tar_task = tokio::task::spawn_blocking(move || archive(&source_for_thread, &root_name, skip, tx));
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
    if !archived.unreadable.is_empty() && !skip_unreadable {
        uploads.abort().await;
        locks.release().await;
        return Ok(printer.partial(
            &format!(
                "{} file(s) could not be read, so nothing was committed: {}",
                archived.unreadable.len(),
                archived.unreadable.join(", ")
            ),
            "Fix their permissions, or pass `--skip-unreadable` to back up the rest",
        ));
    }
    let sha256 = hex::encode(archived.sha256);
    let info = CommitInfo {
        metadata: BTreeMap::from([
            ("campctl_kind".to_string(), "files".to_string()),
            ("campctl_sha256".to_string(), sha256.clone()),
        ]),
        content_md5: Some(archived.md5),
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
        size_bytes: archived.size,
        sha256: sha256.clone(),
        md5: base64::engine::general_purpose::STANDARD.encode(archived.md5),
        row_counts: "none".into(),
        tables: Vec::new(),
        file_count: Some(archived.file_count),
        file_bytes: Some(archived.file_bytes),
        stores: committed.iter().map(|&i| stores[i].label()).collect(),
        test_restore: None,
    };
    let bytes = Bytes::from(serde_json::to_vec_pretty(&manifest)?);
    let (written, manifest_failures) = put_manifest(&stores, &committed, &manifest_object, bytes).await;
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
    printer.report(&FilesReport {
        name: base,
        object,
        stores: written,
        file_count: archived.file_count,
        file_bytes: archived.file_bytes,
        size_bytes: archived.size,
        sha256,
        duration_seconds: manifest.duration_seconds,
        skipped: archived.unreadable,
    })?;
    if let Some(committed_to) = partial {
        return Ok(printer.partial(
            &format!("partial files backup (exit 3): committed to {committed_to}"),
            "Run `campctl backup files` again once the failed store is back",
        ));
    }
    Ok(ExitStatus::Success)
}
