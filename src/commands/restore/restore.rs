//! `campctl restore [BACKUP]`: restore aside, verify, then swap (runbook 2.3.1, made safe).
//!
//! The runbook drops the database first and then hopes pg_restore succeeds. campctl verifies the download, restores
//! into `<db>__restore_<timestamp>`, compares every table's exact row count with the manifest, runs ANALYZE, and
//! only then swaps: it closes the target to new connections, ends its sessions, and renames the target to
//! `<db>__pre_restore_<timestamp>` and the new copy into its place in one transaction. The previous database is kept
//! for `cleanup` (or dropped at once with `--drop-previous`). Any failure before the swap, Ctrl-C included, leaves
//! the target as it was and drops the half-restored copy.
//!
//! What it tells the operator (the `--dry-run` plan, the report) is in `restore_report.rs`.

use std::time::Instant;

use anyhow::Context as _;
use chrono::Utc;

use super::args::RestoreArgs;
use super::read_lock::ReadLock;
use super::restore_report::{PlanInput, RestoreReport, print_plan};
use super::row_counts::{self, Comparison};
use super::run;
use super::settings::RestoreSettings;
use super::{Prepared, maintenance_server, names, preflight, prepare, swap_in};
use crate::catalog::select::Selected;
use crate::commands::Ctx;
use crate::exit::{ExitStatus, UserError};
use crate::interrupt;
use crate::lock;
use crate::pg::database::{self, ServerVersion};
use crate::pg::{self, ConnParams, SessionOptions, quote_ident};
use crate::printer::Printer;

/// The target as it is before the restore.
struct TargetInfo {
    owner: String,
    create_options: String,
    empty: bool,
}

async fn target_info(
    client: &tokio_postgres::Client,
    server: &ConnParams,
    target: &str,
    version: &ServerVersion,
) -> anyhow::Result<Option<TargetInfo>> {
    let Some(info) = database::describe(client, target, version).await? else {
        return Ok(None);
    };
    if !info.allow_connections {
        return Err(UserError::usage(format!(
            "Database `{target}` does not allow connections (a previous restore may have stopped during its swap)"
        ))
        .with_hint(format!(
            "Check it, then `ALTER DATABASE {} ALLOW_CONNECTIONS true`",
            quote_ident(target)
        ))
        .into());
    }
    let target_client = pg::connect(&server.with_dbname(target), SessionOptions::default()).await?;
    let relations: i64 = target_client
        .query_one(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'",
            &[],
        )
        .await?
        .get(0);
    Ok(Some(TargetInfo {
        owner: info.owner,
        create_options: info.create_options,
        empty: relations == 0,
    }))
}

/// Runs `campctl restore`.
///
/// # Errors
/// Bad input (exit 2), no such backup (10), a lock held (11), authentication (12), a verification mismatch or a
/// failed pg_restore (1); the target is unchanged in every case.
pub(crate) async fn restore(mut args: RestoreArgs, ctx: &Ctx, printer: &Printer) -> anyhow::Result<ExitStatus> {
    // `restore pitr | geo`: Azure's own restores into a new server, no campctl backup involved.
    if let Some(command) = args.azure.take() {
        return Box::pin(super::azure::restore_azure(command, ctx, printer)).await;
    }
    let RestoreSettings {
        source_db,
        target,
        mut options,
        maintenance_db,
        wait_lock,
        swap_timeout,
        analyze,
    } = RestoreSettings::resolve(&args, &ctx.settings.db.dbname, &ctx.settings.config, printer.bars())?;
    let server = maintenance_server(&ctx.settings.db, &maintenance_db, &ctx.settings.config);
    let Prepared {
        client,
        server_version,
        tool,
        selected,
        stores,
    } = prepare(&args.source, &source_db, &server, ctx, printer).await?;
    preflight::check_not_template(&client, &target).await?;
    preflight::cap_jobs(&client, &mut options, printer).await?;

    // A named backup of another database must not silently replace the configured one.
    if let Some(source) = selected.source_database()
        && source != target
        && args.to.is_none()
        && args.source.db.is_none()
    {
        return Err(UserError::usage(format!(
            "`{}` is a backup of `{source}`, but the target is the configured database `{target}`",
            selected.name
        ))
        .with_hint(format!(
            "Name the target: `--to {target}` to restore it there anyway, or `--db {source}` to restore `{source}`"
        ))
        .into());
    }
    let existing = target_info(&client, &server, &target, &server_version).await?;
    if let (Some(info), Some(_), false) = (&existing, &args.to, args.replace)
        && !info.empty
    {
        return Err(UserError::usage(format!("Database `{target}` exists and is not empty"))
            .with_hint(
                "Pass `--replace` to swap it out (it is kept as `<NEWDB>__pre_restore_<timestamp>`), or choose another \
             name",
            )
            .into());
    }
    let now = Utc::now();
    let aside = names::derived_name(&target, "__restore_", now);
    let previous = existing
        .as_ref()
        .map(|_| names::derived_name(&target, "__pre_restore_", now));
    printer.note(&format!(
        "Restoring `{}` from {} into `{target}` on {}",
        selected.name,
        selected.origin,
        ctx.settings.db.target()
    ));
    if ctx.settings.dry_run {
        print_plan(
            printer,
            &PlanInput {
                selected: &selected,
                server: ctx.settings.db.target(),
                target: &target,
                aside: &aside,
                previous: previous.as_deref(),
                options: &options,
                drop_previous: args.drop_previous,
            },
        )?;
        return Ok(ExitStatus::Success);
    }
    if let (Some(info), Some(previous)) = (&existing, &previous)
        && !info.empty
    {
        printer.confirm_typed(
            &format!(
                "This replaces database `{target}` with backup `{}`; its current contents are kept as `{previous}`{}.",
                selected.name,
                if args.drop_previous { " and then DROPPED" } else { "" }
            ),
            &target,
            ctx.settings.yes,
        )?;
    }
    // The recovery time runs from here: after the confirmation, before the download.
    let started = Instant::now();
    let wait = wait_lock;
    // The advisory lock that `backup` takes lives in the target database (advisory locks are per database), so take
    // it there; the swap ends this session (and so frees the lock) after closing the target to new connections.
    // Two restores into the same name exclude each other through the maintenance database, also when the target
    // does not exist yet.
    let _restore_lock = lock::acquire(&client, &[], &format!("restore {target}"), "restore", wait).await?;
    let lock_session = match &existing {
        Some(_) => {
            let session = pg::connect(&server.with_dbname(&target), ctx.settings.session).await?;
            let locks = lock::acquire(&session, &[], &target, "restore", wait).await?;
            let pid: i32 = session.query_one("SELECT pg_backend_pid()", &[]).await?.get(0);
            Some((session, locks, pid))
        }
        None => None,
    };

    let create_options = existing
        .as_ref()
        .map_or_else(|| "TEMPLATE template0".to_string(), |i| i.create_options.clone());
    // Last: the store lock of the backup's series, held only while the archive is read (cleanup cannot delete it).
    let read_lock = ReadLock::take(&selected, &stores, "restore", wait).await?;
    let restored = run::restore_into(&selected, &tool, &server, &aside, &create_options, &options, read_lock)
        .await
        .map_err(|failure| failure.error)?;
    let aside_params = server.with_dbname(&aside);
    let checked = verify_and_analyze(&aside_params, &selected, &restored, analyze).await;
    let (comparison, analyze_seconds) = match checked {
        Ok(done) => done,
        Err(err) => {
            drop_quietly(restored.cleanup).await;
            return Err(err);
        }
    };

    let swap_started = Instant::now();
    let swapped = match (&previous, lock_session) {
        (Some(previous), Some(lock_session)) => {
            swap_in::swap(&client, &server, &target, &aside, previous, swap_timeout, lock_session).await
        }
        _ => swap_in::rename(&client, &aside, &target).await.map(|()| 0),
    };
    let sessions_ended = match swapped {
        Ok(ended) => ended,
        Err(err) => {
            drop_quietly(restored.cleanup).await;
            return Err(err.context(format!("The swap failed; `{target}` is unchanged")));
        }
    };
    restored.cleanup.disarm();
    let swap_seconds = swap_started.elapsed().as_secs_f64();
    let recovery_seconds = started.elapsed().as_secs_f64();
    if let Some(info) = &existing {
        swap_in::set_owner(&client, &target, &info.owner).await;
    }
    let mut previous_dropped = false;
    if let (Some(previous), true) = (&previous, args.drop_previous) {
        database::drop_database(&server, previous).await?;
        previous_dropped = true;
    }

    let report = RestoreReport {
        backup: selected.name.clone(),
        origin: selected.origin.clone(),
        target: target.clone(),
        previous_database: previous,
        previous_dropped,
        checksum_verified: restored.fetched.checksum_verified,
        sha256: restored.fetched.sha256.clone(),
        archive_bytes: restored.fetched.archive_bytes,
        tables: comparison.counts.len(),
        rows: comparison.counts.iter().filter_map(|c| c.restored).sum(),
        download_seconds: restored.fetch_seconds,
        restore_seconds: restored.restore_seconds,
        verify_seconds: comparison.seconds,
        analyze_seconds,
        swap_seconds,
        sessions_ended,
        recovery_seconds,
    };
    printer.report(&report)?;
    Ok(ExitStatus::Success)
}

/// Compares row counts (exit 1 on a mismatch) and runs ANALYZE.
async fn verify_and_analyze(
    params: &ConnParams,
    selected: &Selected,
    restored: &run::Restored,
    analyze: bool,
) -> anyhow::Result<(Comparison, Option<f64>)> {
    let comparison = row_counts::compare(params, selected, &restored.fetched).await?;
    comparison.require_match()?;
    let analyze_seconds = if analyze {
        let started = Instant::now();
        let client = pg::connect(params, SessionOptions::default()).await?;
        client.batch_execute("ANALYZE").await.context("ANALYZE failed")?;
        Some(started.elapsed().as_secs_f64())
    } else {
        None
    };
    Ok((comparison, analyze_seconds))
}

async fn drop_quietly(cleanup: interrupt::Pending) {
    if let Err(err) = cleanup.run_now().await {
        tracing::error!("failed to drop the restored copy: {err:#}");
    }
}
