//! The shared core of `restore` and `test-restore`: verify the download, create a new database, run `pg_restore`
//! into it. What arrived is then compared with what the backup recorded in [`super::row_counts`].
//!
//! The new database is registered with the interrupt registry ([`crate::interrupt`]) before it is created, so an error or Ctrl-C at any
//! later point drops it. The names of the databases it creates are made in `names.rs`, the spool file of a parallel
//! restore in `spool.rs`. This file must never touch the target database: swapping the copy in is `swap_in`'s.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;

use super::fetch::{Fetch, Fetched};
use super::read_lock::ReadLock;
use super::spool::{spool_file, spool_too_small};
use crate::catalog::fetch_error::{Reader, fetch_error, is_download_failure};
use crate::catalog::select::Selected;
use crate::exit::{ExitStatus, UserError};
use crate::interrupt::{self, Pending};
use crate::pg::quote::quote_conninfo_value;
use crate::pg::tools::{self, PgTool};
use crate::pg::{self, ConnParams, SessionOptions};
use crate::progress::Progress;
use crate::units::format_bytes;

/// How to run pg_restore.
#[derive(Debug, Clone)]
pub(crate) struct RestoreOptions {
    /// Parallel jobs; 1 streams straight into pg_restore, more spool to a file first.
    pub jobs: u32,
    /// Directory of the spool file (`--jobs` > 1).
    pub spool_dir: PathBuf,
    /// With one job: download and verify the whole backup once before creating anything, then stream it again into
    /// pg_restore (two reads, no spool file).
    pub verify_first: bool,
    pub no_owner: bool,
    pub no_acl: bool,
    /// `--no-tablespaces`: every object goes into the default tablespace (pg_restore `--no-tablespaces`).
    pub no_tablespaces: bool,
    /// Draw a bar rather than log lines: [`crate::printer::Printer::bars`], decided by the caller.
    pub progress: bool,
}

/// The steps of a restore, for reporting which one failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Download and checksum.
    Download,
    /// Decompression, format version and completeness of the archive.
    Archive,
    /// Creating the database and running pg_restore.
    PgRestore,
}

/// A failure and the step it happened in.
#[derive(Debug)]
pub(crate) struct StepError {
    pub step: Step,
    pub error: anyhow::Error,
}

/// A restored database, still registered for cleanup.
#[derive(Debug)]
pub(crate) struct Restored {
    pub fetched: Fetched,
    /// Download + verification (overlaps the restore when streaming).
    pub fetch_seconds: f64,
    /// From the start of pg_restore to its successful exit.
    pub restore_seconds: f64,
    /// Drops the database unless disarmed.
    pub cleanup: Pending,
}

/// Verifies the download and restores it into the new database `database` (created here with `create_options`,
/// e.g. `TEMPLATE template0`) on the server of `server` (connected to a maintenance database). `lock`, the store
/// lock of the backup's series ([`ReadLock`]), is released as soon as the archive has been read for the last time:
/// once the spool file is complete (`--jobs` > 1), or when the stream into pg_restore ends (one job); on any
/// failure before that, when this returns.
///
/// # Errors
/// The step that failed and why; the new database is dropped before this returns.
pub(super) async fn restore_into(
    selected: &Selected,
    tool: &PgTool,
    server: &ConnParams,
    database: &str,
    create_options: &str,
    options: &RestoreOptions,
    mut lock: ReadLock,
) -> Result<Restored, StepError> {
    let result = read_and_restore(selected, tool, server, database, create_options, options, &mut lock).await;
    lock.release().await;
    result
}

async fn read_and_restore(
    selected: &Selected,
    tool: &PgTool,
    server: &ConnParams,
    database: &str,
    create_options: &str,
    options: &RestoreOptions,
    lock: &mut ReadLock,
) -> Result<Restored, StepError> {
    let reader = Reader {
        path: tool.path.display().to_string(),
        major: tool.major,
    };
    let fail = |step| move |error| StepError { step, error };
    let fetch_failed = |error: anyhow::Error| StepError {
        step: if is_download_failure(&error) {
            Step::Download
        } else {
            Step::Archive
        },
        error,
    };
    let progress = Arc::new(Progress::start(options.progress, "restore: downloaded"));
    if options.jobs <= 1 && options.verify_first {
        // A first pass that only verifies: nothing is created unless the whole backup checks out.
        let mut check = Fetch::start(selected, reader.clone(), progress.clone())
            .await
            .map_err(fail(Step::Download))?;
        check.head().await.map_err(fetch_failed)?;
        let verified = check
            .finish_into(&mut tokio::io::sink(), false)
            .await
            .map_err(fetch_failed)?;
        tracing::info!(
            "verified {} ({} archive) in {:.1}s; restoring",
            selected.name,
            format_bytes(verified.archive_bytes as i64),
            verified.seconds
        );
    }
    let mut download = Fetch::start(selected, reader.clone(), progress.clone())
        .await
        .map_err(fail(Step::Download))?;
    download.head().await.map_err(fetch_failed)?;
    let started = Instant::now();
    if options.jobs <= 1 {
        let cleanup = create_database(server, database, create_options)
            .await
            .map_err(fail(Step::PgRestore))?;
        let outcome = stream_restore(download, tool, server, database, options, lock).await;
        progress.finish();
        return finish(outcome, cleanup, started).await;
    }

    // Spool: verify everything before any database exists.
    let spool = spool_file(&options.spool_dir, selected)
        .await
        .map_err(fail(Step::Download))?;
    let mut file = tokio::fs::File::from_std(
        spool
            .reopen()
            .context("Failed to open the spool file")
            .map_err(fail(Step::Download))?,
    );
    let fetched = download.finish_into(&mut file, false).await.map_err(|error| {
        if crate::storage::caused_by_no_space(&error) {
            StepError {
                step: Step::Download,
                error: spool_too_small(&options.spool_dir, "filled up while spooling the archive"),
            }
        } else {
            fetch_failed(error)
        }
    });
    progress.finish();
    // The spool holds the whole archive (or the read failed): the store's copy is no longer read.
    lock.release().await;
    let fetched = fetched?;
    drop(file);
    let fetch_seconds = fetched.seconds;
    tracing::info!(
        "verified {} ({} archive) in {:.1}s; restoring with {} jobs",
        selected.name,
        format_bytes(fetched.archive_bytes as i64),
        fetch_seconds,
        options.jobs
    );
    let cleanup = create_database(server, database, create_options)
        .await
        .map_err(fail(Step::PgRestore))?;
    let restore_started = Instant::now();
    let outcome = run_pg_restore(tool, server, database, options, Some(spool.path()))
        .await
        .map(|()| fetched);
    drop(spool);
    finish(outcome, cleanup, restore_started).await
}

async fn finish(
    outcome: Result<Fetched, StepError>,
    cleanup: Pending,
    started: Instant,
) -> Result<Restored, StepError> {
    match outcome {
        Ok(fetched) => Ok(Restored {
            fetch_seconds: fetched.seconds,
            restore_seconds: started.elapsed().as_secs_f64(),
            fetched,
            cleanup,
        }),
        Err(failure) => {
            if let Err(err) = cleanup.run_now().await {
                tracing::error!("failed to drop the half-restored database: {err:#}");
            }
            Err(failure)
        }
    }
}

async fn create_database(server: &ConnParams, database: &str, create_options: &str) -> anyhow::Result<Pending> {
    let client = pg::connect(server, SessionOptions::default()).await?;
    let cleanup = interrupt::register(interrupt::Action::DropDatabase {
        params: server.clone(),
        name: database.to_string(),
    });
    if let Err(err) = pg::database::create(&client, database, create_options).await {
        // It was not created: nothing to drop (and it may be someone else's database of that name). Not the
        // backup's fault either: a usage error, never a failed check.
        cleanup.disarm();
        let reason = err
            .as_db_error()
            .map_or_else(|| err.to_string(), |e| e.message().to_string());
        return Err(
            UserError::usage(format!("Failed to create database `{database}`: {reason}"))
                .with_hint("The role needs CREATEDB on this server, and the name must be free")
                .into(),
        );
    }
    Ok(cleanup)
}

/// `--jobs 1`: the download streams into pg_restore's stdin; both must succeed.
async fn stream_restore(
    download: Fetch,
    tool: &PgTool,
    server: &ConnParams,
    database: &str,
    options: &RestoreOptions,
    lock: &mut ReadLock,
) -> Result<Fetched, StepError> {
    // With `auth = "entra"`, a token still valid for this child (fetched now if the cached one is near expiry).
    let server = &*server.fresh().await.map_err(|error| StepError {
        step: Step::PgRestore,
        error,
    })?;
    let mut child = pg_restore_command(tool, server, database, options, None)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("Failed to start `{}`", tool.path.display()))
        .map_err(|error| StepError {
            step: Step::PgRestore,
            error,
        })?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let stderr_task = tokio::spawn(tools::collect_stderr(stderr, "pg_restore", 40));
    let fed = download.finish_into(&mut stdin, true).await;
    drop(stdin);
    // The last byte has been read (pg_restore may still be working through what it was given).
    lock.release().await;
    if let Err(error) = fed {
        let own_failure = is_download_failure(&error) || is_verification(&error);
        let _ = child.start_kill();
        let status = child.wait().await;
        let tail = stderr_task.await.unwrap_or_default();
        if own_failure {
            return Err(StepError {
                step: if is_download_failure(&error) {
                    Step::Download
                } else {
                    Step::Archive
                },
                error,
            });
        }
        // pg_restore stopped reading: its own error is the cause.
        return Err(StepError {
            step: Step::PgRestore,
            error: match status {
                Ok(status) if !status.success() => pg_restore_failed(status, &tail),
                _ => error,
            },
        });
    }
    let status = child.wait().await.context("Failed to wait for pg_restore");
    let tail = stderr_task.await.unwrap_or_default();
    match status {
        Ok(status) if status.success() => Ok(fed.expect("checked above")),
        Ok(status) => Err(StepError {
            step: Step::PgRestore,
            error: pg_restore_failed(status, &tail),
        }),
        Err(error) => Err(StepError {
            step: Step::PgRestore,
            error,
        }),
    }
}

/// Whether the archive failed verification (rather than being refused, or pg_restore failing).
fn is_verification(err: &anyhow::Error) -> bool {
    fetch_error(err).is_some_and(|e| !e.is_refusal())
}

async fn run_pg_restore(
    tool: &PgTool,
    server: &ConnParams,
    database: &str,
    options: &RestoreOptions,
    file: Option<&Path>,
) -> Result<(), StepError> {
    let fail = |error| StepError {
        step: Step::PgRestore,
        error,
    };
    let server = &*server.fresh().await.map_err(fail)?;
    let mut child = pg_restore_command(tool, server, database, options, file)
        .stdin(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("Failed to start `{}`", tool.path.display()))
        .map_err(fail)?;
    let stderr = child.stderr.take().expect("stderr is piped");
    let tail = tools::collect_stderr(stderr, "pg_restore", 40).await;
    let status = child
        .wait()
        .await
        .context("Failed to wait for pg_restore")
        .map_err(fail)?;
    if status.success() {
        Ok(())
    } else {
        Err(fail(pg_restore_failed(status, &tail)))
    }
}

fn pg_restore_command(
    tool: &PgTool,
    server: &ConnParams,
    database: &str,
    options: &RestoreOptions,
    file: Option<&Path>,
) -> tokio::process::Command {
    let mut command = tool.command(&server.with_dbname(database));
    // `--dbname=NAME` would be parsed as a connection string if NAME held `=`; `dbname='…'` is always literal.
    command.arg("--exit-on-error").arg("--no-password").arg("--verbose");
    if options.no_owner {
        command.arg("--no-owner");
    }
    if options.no_acl {
        command.arg("--no-acl");
    }
    if options.no_tablespaces {
        command.arg("--no-tablespaces");
    }
    if options.jobs > 1 {
        command.arg(format!("--jobs={}", options.jobs));
    }
    command.arg(format!("--dbname=dbname={}", quote_conninfo_value(database)));
    if let Some(file) = file {
        command.arg(file);
    }
    command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    tracing::info!("running `{}` into `{database}`", tool.path.display());
    command
}

/// The tablespace named by a "does not exist" error of pg_restore's stderr: `tablespace "ts" does not exist` (a
/// `CREATE … TABLESPACE`) or the `DETAIL:  Tablespace "ts" does not exist.` of a refused `SET default_tablespace`.
fn missing_tablespace(line: &str) -> Option<String> {
    let lower = line.to_ascii_lowercase();
    let start = lower.find("tablespace \"")? + "tablespace \"".len();
    let end = start + lower[start..].find("\" does not exist")?;
    line.get(start..end).map(str::to_string)
}

fn pg_restore_failed(status: std::process::ExitStatus, tail: &[String]) -> anyhow::Error {
    let how = tools::describe_exit(status);
    // A tablespace of the source server that this one lacks says nothing about the backup: a usage error naming
    // the tablespace and the flag, never a failed check that marks the backup FAILED (issue 16, item 12).
    if let Some(tablespace) = tail.iter().find_map(|line| missing_tablespace(line)) {
        return UserError::usage(format!(
            "pg_restore {how}: the backup puts objects in tablespace `{tablespace}`, which does not exist on this \
             server"
        ))
        .with_hint(format!(
            "Pass `--no-tablespaces` to restore every object into the server's default tablespace, or create \
             tablespace `{tablespace}` on this server first (CREATE TABLESPACE … LOCATION …). The half-restored \
             copy was dropped and nothing else was changed"
        ))
        .into();
    }
    let detail: Vec<&str> = tail
        .iter()
        .filter(|l| l.contains("error") || l.contains("ERROR") || l.contains("DETAIL"))
        .map(String::as_str)
        .collect();
    let message = if detail.is_empty() {
        format!("pg_restore {how}")
    } else {
        format!("pg_restore {how}: {}", detail.join(" "))
    };
    UserError::new(ExitStatus::Failure, message)
        .with_hint(
            "The half-restored copy was dropped and nothing else was changed. A missing role or extension on this \
             server is the usual cause: create it, or keep the default `--no-owner --no-acl`",
        )
        .into()
}

#[cfg(test)]
mod tests {
    use super::missing_tablespace;

    #[test]
    fn a_missing_tablespace_is_named() {
        for line in [
            "pg_restore: error: could not execute query: ERROR:  tablespace \"ts_a\" does not exist",
            "DETAIL:  Tablespace \"ts_a\" does not exist.",
        ] {
            assert_eq!(missing_tablespace(line).as_deref(), Some("ts_a"), "{line}");
        }
        assert_eq!(missing_tablespace("ERROR:  role \"x\" does not exist"), None);
    }
}
