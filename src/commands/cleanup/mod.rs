//! `campctl cleanup` (runbook 9.1.2): removes what the retention policy no longer keeps, with a floor that never
//! lets a stopped schedule age its last backups out (docs/cleanup.md, docs/retention.md).
//!
//! [`CleanupArgs`] is resolved into [`RetentionSettings`] before anything runs; the shared home
//! `commands/retention/` (also `backup --prune`'s) reads every store and plans (each backup kept or deleted, with
//! the rule that decided) and prints the plan as a table, JSON or CSV. `--dry-run` stops after the plan; otherwise the series that lose backups are locked in their
//! stores (exit 11 when a backup holds one), the guard `max_delete_fraction` is checked, and the deletes run.
//! A delete that fails leaves the run partial (exit 3); nothing else is changed.

mod databases;
mod docker;
mod logs;
mod report;
mod snapshots;

use clap::Args;

use self::logs::LogsSettings;
use self::report::CommandReport;
use self::snapshots::SnapshotSettings;
use crate::commands::Ctx;
use crate::commands::maintenance::vacuum::{self, VacuumArgs, VacuumSettings};
use crate::commands::retention::{self, settings::RetentionSettings};
use crate::exit::{ExitStatus, UserError};
use crate::printer::Printer;
use crate::storage::Store;

/// Delete the backups the retention policy no longer keeps, and abandoned uploads
///
/// Plans first: every backup of every store, kept (with the rule that keeps it) or deleted, and the bytes freed.
/// `--dry-run` stops there. Deleting more than `[cleanup] max_delete_fraction` (default half) of a store's backups
/// needs `--yes`. The newest `min_keep` backups and the newest verified one are never deleted. Without a selector:
/// `--backups`, `--snapshots` with an Azure store, and the others when configured. docs/cleanup.md,
/// docs/retention.md.
#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// Backups: apply `[retention]` to every store, and remove uploads that never got a manifest
    #[arg(long)]
    pub(crate) backups: bool,

    /// Log files: those under `[cleanup.logs] roots` matching its `globs` (rotated copies too), older than `max_age`
    #[arg(long)]
    pub(crate) logs: bool,

    /// Leftover restore databases (`DB__pre_restore_…`, `DB__restore_…`, `DB__test_restore_…`) older than
    /// `[cleanup.databases] max_age` (7d), never one with a session connected
    #[arg(long)]
    pub(crate) databases: bool,

    /// `VACUUM (ANALYZE)` of the configured database, table by table, with `campctl vacuum`'s report
    #[arg(long)]
    pub(crate) vacuum: bool,

    /// Docker images: `docker image prune -a -f` when a docker CLI and daemon answer, else reported as skipped
    #[arg(long)]
    pub(crate) docker: bool,

    /// Blob snapshots older than `[retention] snapshot_max_age` (30d) in `[cleanup] snapshot_containers`, except
    /// the newest of each blob that still exists
    #[arg(long)]
    pub(crate) snapshots: bool,

    /// Only the backups in these stores (`local`, `azure`; repeatable) [default: every configured store]
    #[arg(long = "store", value_name = "STORE")]
    pub(crate) stores: Vec<String>,

    /// Only the backups of this database (or files backup name)
    #[arg(long, value_name = "NAME")]
    pub(crate) db: Option<String>,
}

/// `[cleanup.logs]` as `cleanup --logs` resolves it, for `config check`.
///
/// # Errors
/// A table without roots or patterns, or a relative root (exit 2).
pub(crate) fn check_logs(ctx: &Ctx) -> anyhow::Result<()> {
    LogsSettings::resolve(ctx.settings.config.sections.cleanup.logs.as_ref()).map(drop)
}

/// `[retention] snapshot_max_age` and `[cleanup] snapshot_containers` as `cleanup --snapshots` resolves them, for
/// `config check`.
///
/// # Errors
/// A zero age or an entry that is not a container name (exit 2).
pub(crate) fn check_snapshots(ctx: &Ctx) -> anyhow::Result<()> {
    let sections = &ctx.settings.config.sections;
    SnapshotSettings::resolve(&sections.retention, &sections.cleanup, None).map(drop)
}

/// The Azure store among `stores` and what `cleanup --snapshots` does there; `None` when the snapshots are not
/// part of this run (not selected, or no selector and no Azure store).
///
/// # Errors
/// `--snapshots` without an Azure store (exit 2); bad settings (exit 2).
fn snapshot_settings(
    explicit: bool,
    stores: &[Store],
    ctx: &Ctx,
) -> anyhow::Result<Option<(crate::storage::AzureStore, SnapshotSettings)>> {
    let azure = stores.iter().find_map(|store| match store {
        Store::Azure(azure) => Some(azure.clone()),
        Store::Local(_) => None,
    });
    let Some(azure) = azure else {
        if explicit {
            return Err(
                UserError::usage("`--snapshots` needs an Azure store: blob snapshots live in Azure")
                    .with_hint(
                        "Configure `[storage.azure]` (an account and credentials; docs/storage.md), or leave out \
                     `--store local`",
                    )
                    .into(),
            );
        }
        return Ok(None);
    };
    let sections = &ctx.settings.config.sections;
    let settings = SnapshotSettings::resolve(
        &sections.retention,
        &sections.cleanup,
        Some(&azure.settings().container),
    )?;
    Ok(Some((azure, settings)))
}

/// `campctl vacuum`'s settings with its defaults (every table, `VACUUM (ANALYZE)`), resolved as a plain `campctl
/// vacuum` would be (with `--dry-run` and `--yes` from the command line).
fn vacuum_settings(ctx: &Ctx) -> anyhow::Result<VacuumSettings> {
    use clap::{Args as _, FromArgMatches as _};
    let matches = VacuumArgs::augment_args(clap::Command::new("vacuum")).try_get_matches_from(["vacuum"])?;
    VacuumSettings::resolve(VacuumArgs::from_arg_matches(&matches)?, ctx)
}

/// Runs `campctl cleanup`.
///
/// # Errors
/// Settings errors (exit 2), a lock held by a running backup (exit 11), a refused `max_delete_fraction` (exit 2),
/// or no store could be read.
pub(crate) async fn cleanup(args: CleanupArgs, ctx: &Ctx, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let logs_settings = LogsSettings::resolve(ctx.settings.config.sections.cleanup.logs.as_ref())?;
    // No selector: everything that is configured (backups always; logs with a `[cleanup.logs]` table; Docker with
    // `[cleanup] docker = true`).
    let file = &ctx.settings.config.sections.cleanup;
    let selected = args.backups || args.logs || args.docker || args.databases || args.vacuum || args.snapshots;
    let (backups, logs, docker, databases, vacuum) = if selected {
        (args.backups, args.logs, args.docker, args.databases, args.vacuum)
    } else {
        (
            true,
            logs_settings.is_some(),
            file.docker.unwrap_or(false),
            file.databases.is_some(),
            file.vacuum.unwrap_or(false),
        )
    };
    // The stores, when the backups or the snapshots need them (`--store` narrows both).
    let stores = if backups || args.snapshots || !selected {
        crate::catalog::select_stores(
            Store::from_config(&ctx.settings.storage)?,
            &crate::storage::StoreKind::parse_all(&args.stores)?,
        )?
    } else {
        Vec::new()
    };
    let snapshots = if args.snapshots || !selected {
        snapshot_settings(args.snapshots, &stores, ctx)?
    } else {
        None
    };
    // The snapshots are planned (and their guard checked) before anything else changes: a refused guard leaves the
    // logs, databases and backups as they were.
    let mut unreadable = Vec::new();
    let snapshot_rows = match &snapshots {
        Some((azure, settings)) => {
            let (rows, failed_lists) = snapshots::plan(azure, settings, chrono::Utc::now()).await;
            if !ctx.settings.dry_run {
                snapshots::guard(settings, &rows, ctx.settings.yes)?;
            }
            for (what, err) in &failed_lists {
                printer.warn(&format!(
                    "The {what} could not be listed, so none is deleted there: {err}"
                ));
            }
            unreadable.extend(failed_lists);
            Some(rows)
        }
        None => None,
    };
    let vacuum_settings = if vacuum { Some(vacuum_settings(ctx)?) } else { None };
    let logs_settings = match (logs, logs_settings) {
        (false, _) => None,
        (true, Some(settings)) => Some(settings),
        (true, None) => {
            return Err(UserError::usage("`--logs` needs a `[cleanup.logs]` table")
                .with_hint("Configure `roots` and `globs` under `[cleanup.logs]` (docs/cleanup.md)")
                .into());
        }
    };
    let mut failed_logs = 0;
    let log_rows = logs_settings.map(|settings| {
        let mut rows = logs::plan(&settings, std::time::SystemTime::now());
        if !ctx.settings.dry_run {
            failed_logs = logs::delete(&mut rows);
        }
        rows
    });
    let docker_result = if docker {
        Some(docker::prune(ctx.settings.dry_run).await)
    } else {
        None
    };
    let database_rows = if databases {
        let client = ctx.connect().await?;
        let rows = databases::run(
            &client,
            databases::max_age(file.databases.as_ref()),
            chrono::Utc::now(),
            ctx.settings.dry_run,
        )
        .await?;
        failed_logs += rows
            .iter()
            .filter(|r| r.result.as_deref().is_some_and(|s| s.starts_with("failed")))
            .count();
        Some(rows)
    } else {
        None
    };
    let vacuum_outcome = match &vacuum_settings {
        Some(settings) => Some(vacuum::run_vacuum(settings, ctx, printer).await?),
        None => None,
    };
    let snapshot_rows = match (snapshot_rows, &snapshots) {
        (Some(mut rows), Some((azure, _))) if !ctx.settings.dry_run => {
            failed_logs += snapshots::delete(azure, &mut rows).await;
            Some(rows)
        }
        (rows, _) => rows,
    };
    if let Some(failed) = docker_result.as_ref().filter(|d| d.status == "failed") {
        printer.warn(&format!("Docker images were not pruned: {}", failed.detail));
        failed_logs += 1;
    }
    if !backups {
        let report = CommandReport::new(ctx.settings.dry_run, None, log_rows)
            .with_docker(docker_result)
            .with_databases(database_rows)
            .with_vacuum(vacuum_outcome)
            .with_snapshots(snapshot_rows);
        printer.report(&report)?;
        let status = retention::finish(printer, &unreadable, failed_logs);
        return Ok(report.conclude_vacuum(printer, status));
    }
    if stores.is_empty() {
        return Err(
            UserError::usage("No store is configured, so there are no backups to clean up")
                .with_hint("Configure `[storage.local]` or `[storage.azure]` (docs/storage.md)")
                .into(),
        );
    }
    let settings = RetentionSettings::resolve(
        args.db,
        stores,
        &ctx.settings.config,
        ctx.settings.dry_run,
        ctx.settings.yes,
    )?;
    let outcome = retention::execute(&settings, printer, false).await?;
    let report = CommandReport::new(settings.dry_run, Some(outcome.report), log_rows)
        .with_docker(docker_result)
        .with_databases(database_rows)
        .with_vacuum(vacuum_outcome)
        .with_snapshots(snapshot_rows);
    printer.report(&report)?;
    unreadable.extend(outcome.unreadable);
    let status = retention::finish(printer, &unreadable, outcome.failed + failed_logs);
    Ok(report.conclude_vacuum(printer, status))
}
