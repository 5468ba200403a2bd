//! `campctl backup [DB]`: pg_dump → archive scanner → compressor → SHA-256 (+ MD5 for Azure) → every store, committed
//! pg_dump exited 0 and the archive parsed to its end; the manifest is written last.
//!
//! Three stages connected by bounded channels keep memory bounded by configuration, never by database size:
//! an async reader of pg_dump's stdout, a blocking thread that scans, compresses and hashes, and the async uploads
//! (whose blocks in flight are the store's concern).

use std::collections::BTreeMap;

use anyhow::Context as _;
use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use chrono::Utc;
use serde::Serialize;
use tokio::io::AsyncReadExt as _;
use tokio::sync::mpsc;

use super::compression::{Compression, Compressor};
use super::digest::{Digests, Finished};
use super::fanout::{StoreFailure, Uploads, put_manifest};
use super::naming;
use super::settings::DumpSettings;
use crate::catalog::manifest::{ArchiveInfo, BackupKind, MANIFEST_VERSION, Manifest, TableEntry};
use crate::commands::Ctx;
use crate::commands::retention::report::CleanupReport;
use crate::exit::{ExitStatus, UserError};
use crate::lock;
use crate::pg::archive::{ArchiveScanner, ArchiveSummary, ScanOptions};
use crate::pg::tools::PgTool;
use crate::printer::{Cell, Plan, Printer, Report, Table};
use crate::storage::{CommitInfo, Store};

/// Bytes read from pg_dump per chunk.
const READ_CHUNK: usize = 256 * 1024;
/// Chunks queued between stages.
const QUEUE: usize = 8;

/// The summary printed at the end.
#[derive(Debug, Serialize)]
pub(crate) struct BackupReport {
    pub name: String,
    pub database: String,
    pub object: String,
    pub manifest: String,
    pub stores: Vec<String>,
    /// Labels of the stores the backup is not in (exit 3), with the reasons in `failures`.
    pub failed_stores: Vec<String>,
    pub failures: Vec<StoreFailure>,
    pub compression: String,
    pub dump_bytes: u64,
    pub size_bytes: u64,
    pub duration_seconds: f64,
    pub sha256: String,
    pub tables: usize,
    pub rows: Option<u64>,
    pub large_objects: u64,
    /// `backup --prune`: the retention run that followed the backup (absent without `--prune`, or when the backup
    /// was not committed to every store).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prune: Option<CleanupReport>,
}

impl Report for BackupReport {
    fn tables(&self) -> Vec<Table> {
        let mut table = Table::new(format!("Backup `{}`", self.name), &["key", "value"]);
        let rate = self.dump_bytes as f64 / self.duration_seconds.max(0.001);
        for (key, value) in [
            ("database", Cell::from(self.database.as_str())),
            ("object", self.object.as_str().into()),
            ("stores", self.stores.join(", ").into()),
            ("compression", self.compression.as_str().into()),
            ("pg_dump output", Cell::Bytes(self.dump_bytes as i64)),
            ("stored size", Cell::Bytes(self.size_bytes as i64)),
            ("duration", Cell::Seconds(self.duration_seconds)),
            ("rate", format!("{}/s", crate::units::format_bytes(rate as i64)).into()),
            ("tables", Cell::Int(self.tables as i64)),
            ("rows", Cell::opt(self.rows.map(|r| r as i64))),
            ("large objects", Cell::Int(self.large_objects as i64)),
            ("sha256", self.sha256.as_str().into()),
        ] {
            table.row(vec![key.into(), value]);
        }
        for failure in &self.failures {
            table.notes.push(format!("not committed to {failure}"));
        }
        let mut tables = vec![table];
        if let Some(prune) = &self.prune {
            tables.extend(prune.tables());
        }
        tables
    }
}

/// What `backup --dry-run` would do: the JSON of [`Printer::plan`] (docs/output.md, "Dry-run plans").
#[derive(Debug, Serialize)]
struct DumpPlan {
    database: String,
    server_version: String,
    database_size_bytes: u64,
    pg_dump: String,
    pg_dump_version: String,
    /// The archive's name if the run started now (the real name is chosen once the lock is held).
    object: String,
    manifest: String,
    compression: String,
    stores: Vec<String>,
}

/// What the scan/compress/hash stage produced.
struct Processed {
    summary: ArchiveSummary,
    digests: Finished,
    input_bytes: u64,
    output_bytes: u64,
}

/// Runs one database backup.
///
/// # Errors
/// Connection, version, lock, pg_dump or store failures; nothing is committed unless everything before the commit
/// succeeded.
#[tracing::instrument(skip_all, fields(db = %settings.database))]
pub(crate) async fn backup_database(
    mut settings: DumpSettings,
    ctx: &Ctx,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let run_started = std::time::SystemTime::now();
    let params = ctx.settings.db.with_dbname(&settings.database);
    let client = crate::pg::connect(&params, ctx.settings.session).await?;
    let version = crate::pg::database::server_version(&client).await?;
    let (server_version, server_major) = (version.text.clone(), version.major());
    let database_size: i64 = client
        .query_one("SELECT pg_database_size(current_database())", &[])
        .await
        .context("Failed to read the database's size")?
        .get(0);
    let database_size = u64::try_from(database_size).unwrap_or(0);
    let tool = PgTool::find("pg_dump", settings.pg_dump.as_deref(), server_major).await?;

    let prefix = format!("{}/", settings.database);
    let labels: Vec<String> = settings.stores.iter().map(Store::label).collect();

    if ctx.settings.dry_run {
        let base = format!("{}_{}", settings.database, Utc::now().format("%Y%m%d_%H%M%S"));
        let object = format!("{prefix}{base}.dump{}", settings.compression.suffix());
        let steps = vec![
            format!(
                "lock `{}` (an advisory lock and each store's lock{})",
                settings.database,
                if settings.wait_lock.is_zero() {
                    ""
                } else {
                    ", waiting if held"
                }
            ),
            format!(
                "dump `{}` (PostgreSQL {server_version}, {}) with `{}` {}",
                settings.database,
                crate::units::format_bytes(database_size as i64),
                tool.path.display(),
                tool.version
            ),
            format!("write `{object}` to {}", labels.join(", ")),
            format!("write `{prefix}{base}.manifest.json` last, to each store that has the archive"),
        ];
        let plan = DumpPlan {
            database: settings.database.clone(),
            server_version,
            database_size_bytes: database_size,
            pg_dump: tool.path.display().to_string(),
            pg_dump_version: tool.version.clone(),
            object,
            manifest: format!("{prefix}{base}.manifest.json"),
            compression: settings.compression.to_string(),
            stores: labels,
        };
        printer.plan(&Plan::new("backup", plan, steps))?;
        return Ok(ExitStatus::Success);
    }

    let mut locks = lock::acquire(
        &client,
        &settings.stores,
        &settings.database,
        "backup",
        settings.wait_lock,
    )
    .await?;
    // Stores that failed while being locked (unreachable) are left out; the run ends partial (exit 3).
    let (stores, lock_failures) = locks.usable(&settings.stores);
    settings.stores = stores;
    naming::warn_leftovers(&settings.stores, &prefix, run_started, printer).await;
    // Named only now that the lock is held: a run that waited for another must not take its name.
    let (started_at, base) = naming::unique_name(&settings.stores, &prefix, &settings.database).await;
    let object = format!("{prefix}{base}.dump{}", settings.compression.suffix());
    let manifest_object = format!("{prefix}{base}.manifest.json");
    let result = run_pipeline(&settings, &tool, &params, &object, database_size, printer).await;
    let outcome = match result {
        Ok((uploads, processed)) => {
            commit(
                &settings,
                CommitPlan {
                    uploads,
                    processed,
                    base,
                    object,
                    manifest_object,
                    started_at,
                    server_version,
                    pg_dump_version: tool.version.clone(),
                    earlier_failures: lock_failures,
                },
            )
            .await
        }
        Err(err) => Err(err),
    };
    let outcome = match outcome {
        Ok(mut committed) => {
            // Pruned only after a backup in every store, under this backup's locks; its report is part of the
            // backup's (one JSON document).
            let prune_status = if settings.prune && committed.failed.is_empty() {
                prune(&settings, ctx, printer, &mut committed.report).await
            } else {
                ExitStatus::Success
            };
            finish_report(printer, &committed).map(|status| match status {
                ExitStatus::Success => prune_status,
                partial => partial,
            })
        }
        Err(err) => Err(err),
    };
    locks.release().await;
    outcome
}

/// `--prune`: retention on this database's dumps in the stores just written to, under the locks this backup holds;
/// its report goes into `report`. Whatever goes wrong is a warning and exit 3: the backup is done and stays.
async fn prune(settings: &DumpSettings, ctx: &Ctx, printer: &Printer, report: &mut BackupReport) -> ExitStatus {
    let run = crate::commands::retention::settings::RetentionSettings::resolve(
        Some(settings.database.clone()),
        settings.stores.clone(),
        &ctx.settings.config,
        false,
        ctx.settings.yes,
    );
    let result = match run {
        Ok(mut run) => {
            run.only_dumps = true;
            crate::commands::retention::execute(&run, printer, true).await
        }
        Err(err) => Err(err),
    };
    match result {
        Ok(outcome) => {
            report.prune = Some(outcome.report);
            crate::commands::retention::finish(printer, &outcome.unreadable, outcome.failed)
        }
        Err(err) => printer.partial(
            &format!("the backup succeeded, but pruning its older backups failed (exit 3): {err:#}"),
            "The backup is kept; run `campctl cleanup --db DB` to see the plan and prune",
        ),
    }
}

/// Starts pg_dump and streams its output into one upload per store. On any failure every upload is aborted.
async fn run_pipeline<'a>(
    settings: &'a DumpSettings,
    tool: &PgTool,
    params: &crate::pg::ConnParams,
    object: &str,
    database_size: u64,
    printer: &Printer,
) -> anyhow::Result<(Uploads<'a>, Processed)> {
    let expected = settings.expected_size.or(Some(database_size));
    let mut uploads = Uploads::begin(&settings.stores, object, expected).await?;

    let mut command = tool.command_fresh(params).await?;
    command
        .arg("--format=custom")
        .arg(format!("--compress={}", settings.compression.pg_dump_level()))
        .arg("--no-password")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    tracing::info!("running `{}` for `{}`", tool.path.display(), settings.database);
    let mut child = command
        .spawn()
        .with_context(|| format!("Failed to start `{}`", tool.path.display()))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let stderr_task = tokio::spawn(crate::pg::tools::collect_stderr(stderr, "pg_dump", 20));

    let (raw_tx, raw_rx) = mpsc::channel::<Bytes>(QUEUE);
    let (out_tx, out_rx) = mpsc::channel::<Bytes>(QUEUE);
    let reader = tokio::spawn(read_stdout(stdout, raw_tx));
    let options = ScanOptions {
        count_rows: settings.row_counts.clone(),
    };
    let (compression, threads) = (settings.compression, settings.threads);
    // The whole object's MD5 only when a store keeps it (Azure's Content-MD5).
    let digests = Digests::for_stores(&settings.stores);
    let processor =
        tokio::task::spawn_blocking(move || process(raw_rx, &out_tx, options, compression, threads, digests));

    let progress = printer.transfer("backup: stored");
    let upload_error = uploads.pump(out_rx, &progress).await;
    progress.finish();

    let read_result = reader.await.context("the pg_dump reader task failed")?;
    let processed = processor.await.context("the compression task failed")?;
    let status = if upload_error.is_some() {
        let _ = child.start_kill();
        child.wait().await
    } else {
        child.wait().await
    }
    .context("Failed to wait for pg_dump")?;
    let stderr_tail = stderr_task.await.unwrap_or_default();

    // When the scan stops first, pg_dump dies of SIGPIPE: then the scanner's error is the cause worth reporting.
    let killed_by_sigpipe = {
        use std::os::unix::process::ExitStatusExt as _;
        status.signal() == Some(libc::SIGPIPE)
    };
    let blame_pg_dump = !(status.success() || killed_by_sigpipe && processed.is_err());
    let failure = match (upload_error, processed) {
        (None, _) if blame_pg_dump => pg_dump_failed(status, &stderr_tail),
        (Some(err), _) | (None, Err(err)) => err,
        (None, Ok(processed)) => match read_result {
            Err(err) => err.context("Failed to read pg_dump's output"),
            Ok(()) => return Ok((uploads, processed)),
        },
    };
    uploads.abort().await;
    Err(failure)
}

fn pg_dump_failed(status: std::process::ExitStatus, stderr_tail: &[String]) -> anyhow::Error {
    let how = crate::pg::tools::describe_exit(status);
    let detail = stderr_tail
        .iter()
        .rev()
        .find(|l| l.contains("error"))
        .or_else(|| stderr_tail.last());
    let message = match detail {
        Some(line) => format!("pg_dump {how}: {line}"),
        None => format!("pg_dump {how}"),
    };
    UserError::new(ExitStatus::Failure, message + "; nothing was committed")
        .with_hint("The lines pg_dump printed are in the log above (run with -v for all of them)")
        .into()
}

async fn read_stdout(mut stdout: tokio::process::ChildStdout, tx: mpsc::Sender<Bytes>) -> anyhow::Result<()> {
    loop {
        let mut buffer = BytesMut::with_capacity(READ_CHUNK);
        while buffer.len() < READ_CHUNK {
            if stdout.read_buf(&mut buffer).await? == 0 {
                if !buffer.is_empty() {
                    let _ = tx.send(buffer.freeze()).await;
                }
                return Ok(());
            }
        }
        if tx.send(buffer.freeze()).await.is_err() {
            // The next stage stopped (its error is reported there).
            return Ok(());
        }
    }
}

/// The blocking stage: archive scan, compression, digests (on this thread: docs/backup.md, "Digests").
fn process(
    mut rx: mpsc::Receiver<Bytes>,
    tx: &mpsc::Sender<Bytes>,
    options: ScanOptions,
    compression: Compression,
    threads: u32,
    mut digests: Digests,
) -> anyhow::Result<Processed> {
    let mut scanner = ArchiveScanner::new(options);
    let mut compressor = Compressor::new(compression, threads).context("Failed to start the compressor")?;
    let (mut input_bytes, mut output_bytes) = (0u64, 0u64);
    let mut emit = |bytes: Vec<u8>| -> anyhow::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        digests.update(&bytes);
        output_bytes += bytes.len() as u64;
        tx.blocking_send(Bytes::from(bytes))
            .map_err(|_| anyhow::anyhow!("the upload stopped"))
    };
    while let Some(chunk) = rx.blocking_recv() {
        input_bytes += chunk.len() as u64;
        scanner
            .push(&chunk)
            .context("pg_dump's output is not a valid archive")?;
        emit(compressor.write(&chunk).context("Compression failed")?)?;
    }
    let summary = scanner.finish().context("pg_dump's output is not a complete archive")?;
    emit(compressor.finish().context("Compression failed")?)?;
    Ok(Processed {
        summary,
        digests: digests.finish(),
        input_bytes,
        output_bytes,
    })
}

struct CommitPlan<'a> {
    uploads: Uploads<'a>,
    processed: Processed,
    base: String,
    object: String,
    manifest_object: String,
    started_at: chrono::DateTime<Utc>,
    server_version: String,
    pg_dump_version: String,
    /// Stores left out before the upload started (their lock could not be taken).
    earlier_failures: Vec<StoreFailure>,
}

/// Commits the archive to every store, then writes the manifest to each store that has the archive.
async fn commit(settings: &DumpSettings, plan: CommitPlan<'_>) -> anyhow::Result<Committed> {
    let processed = &plan.processed;
    let sha256 = hex::encode(processed.digests.sha256);
    let md5 = processed
        .digests
        .md5
        .map(|md5| base64::engine::general_purpose::STANDARD.encode(md5));
    let metadata: BTreeMap<String, String> = [
        ("campctl_kind", "database".to_string()),
        ("campctl_database", settings.database.clone()),
        ("campctl_sha256", sha256.clone()),
        ("campctl_compression", settings.compression.to_string()),
        ("campctl_version", env!("CARGO_PKG_VERSION").to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let info = CommitInfo {
        metadata,
        content_md5: processed.digests.md5,
        content_type: Some("application/octet-stream".into()),
    };
    let (committed, upload_failures) = plan.uploads.commit(&plan.object, &info).await;
    let mut failed = plan.earlier_failures;
    failed.extend(upload_failures);
    if committed.is_empty() {
        let failed: Vec<String> = failed.iter().map(ToString::to_string).collect();
        anyhow::bail!("The backup could not be committed to any store: {}", failed.join("; "));
    }
    let finished_at = Utc::now();
    let summary = &processed.summary;
    let manifest = Manifest {
        manifest_version: MANIFEST_VERSION,
        kind: BackupKind::Database,
        name: plan.base.clone(),
        object: plan.object.clone(),
        database: settings.database.clone(),
        started_at: plan.started_at,
        finished_at,
        duration_seconds: (finished_at - plan.started_at).num_milliseconds() as f64 / 1000.0,
        campctl_version: env!("CARGO_PKG_VERSION").to_string(),
        host: crate::os::hostname(),
        server_version: Some(plan.server_version.clone()),
        pg_dump_version: Some(plan.pg_dump_version.clone()),
        archive: Some(ArchiveInfo {
            format: "custom".into(),
            version: summary.version.clone(),
            compression: summary.compression.clone(),
            toc_entries: summary.toc_entries,
            data_bytes: summary.data_bytes,
            large_objects: summary.large_objects,
        }),
        compression: settings.compression.to_string(),
        size_bytes: processed.output_bytes,
        sha256: sha256.clone(),
        md5,
        row_counts: settings.row_counts_label.to_string(),
        tables: summary
            .tables
            .iter()
            .map(|t| TableEntry {
                schema: t.schema.clone(),
                table: t.table.clone(),
                rows: t.rows,
                bytes: t.bytes,
            })
            .collect(),
        file_count: None,
        file_bytes: None,
        stores: committed.iter().map(|i| settings.stores[*i].label()).collect(),
        test_restore: None,
    };
    let manifest_bytes = Bytes::from(serde_json::to_vec_pretty(&manifest).context("Failed to encode the manifest")?);
    let (stores, manifest_failed) = put_manifest(
        &settings.stores,
        &committed,
        &plan.manifest_object,
        manifest_bytes,
        &manifest,
    )
    .await;
    failed.extend(manifest_failed);
    let rows = (settings.row_counts_label != "none").then(|| summary.tables.iter().filter_map(|t| t.rows).sum::<u64>());
    let report = BackupReport {
        name: plan.base,
        database: settings.database.clone(),
        object: plan.object,
        manifest: plan.manifest_object,
        stores,
        failed_stores: failed.iter().map(|f| f.store.clone()).collect(),
        failures: failed.clone(),
        compression: settings.compression.to_string(),
        dump_bytes: processed.input_bytes,
        size_bytes: processed.output_bytes,
        duration_seconds: manifest.duration_seconds,
        sha256,
        tables: summary.tables.len(),
        rows,
        large_objects: summary.large_objects,
        prune: None,
    };
    tracing::info!(
        "backup `{}` committed: {} in {:.1}s",
        report.name,
        crate::units::format_bytes(report.size_bytes as i64),
        report.duration_seconds
    );
    Ok(Committed { report, failed })
}

/// A committed backup: its report and the stores it is not in.
struct Committed {
    report: BackupReport,
    failed: Vec<StoreFailure>,
}

/// Prints the backup's report (with its prune's); exit 3 when the backup is not in every store.
fn finish_report(printer: &Printer, committed: &Committed) -> anyhow::Result<ExitStatus> {
    let Committed { report, failed } = committed;
    printer.report(report)?;
    if failed.is_empty() {
        return Ok(ExitStatus::Success);
    }
    for failure in failed {
        printer.warn(&format!(
            "the backup `{}` was not committed to {}: {}",
            report.name, failure.store, failure.error
        ));
    }
    Ok(printer.partial(
        &format!("partial backup (exit 3): committed to {}", report.stores.join(", ")),
        "Run `campctl backup` again once the failed store is back",
    ))
}
