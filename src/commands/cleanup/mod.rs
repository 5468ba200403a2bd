//! `campctl cleanup` (runbook 9.1.2): removes what the retention policy no longer keeps, with a floor that never
//! lets a stopped schedule age its last backups out (docs/cleanup.md, docs/retention.md).
//!
//! [`CleanupArgs`] is resolved into [`settings::CleanupSettings`] before anything runs; `backups.rs` reads every
//! store and plans (each backup kept or deleted, with the rule that decided), `report.rs` prints the plan as a
//! table, JSON or CSV. `--dry-run` stops after the plan; otherwise the series that lose backups are locked in their
//! stores (exit 11 when a backup holds one), the guard `max_delete_fraction` is checked, and the deletes run.
//! A delete that fails leaves the run partial (exit 3); nothing else is changed.

mod backups;
mod report;
pub(crate) mod settings;

use clap::Args;

use self::report::CleanupReport;
use self::settings::CleanupSettings;
use crate::commands::Ctx;
use crate::exit::{ExitStatus, UserError};
use crate::printer::Printer;
use crate::storage::Store;

/// Delete the backups the retention policy no longer keeps, and abandoned uploads
///
/// Plans first: every backup of every store, kept (with the rule that keeps it) or deleted, and the bytes freed.
/// `--dry-run` stops there. Deleting more than `[cleanup] max_delete_fraction` (default half) of a store's backups
/// needs `--yes`. The newest `min_keep` backups and the newest verified one are never deleted. docs/cleanup.md,
/// docs/retention.md.
#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// Backups: apply `[retention]` to every store, and remove uploads that never got a manifest (the only selector
    /// so far, and what a plain `campctl cleanup` does)
    #[arg(long)]
    pub(crate) backups: bool,

    /// Only the backups of this database (or files backup name)
    #[arg(long, value_name = "NAME")]
    pub(crate) db: Option<String>,
}

/// Runs `campctl cleanup`.
///
/// # Errors
/// Settings errors (exit 2), a lock held by a running backup (exit 11), a refused `max_delete_fraction` (exit 2),
/// or no store could be read.
pub(crate) async fn cleanup(args: CleanupArgs, ctx: &Ctx, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let stores = Store::from_config(&ctx.settings.storage)?;
    if stores.is_empty() {
        return Err(
            UserError::usage("No store is configured, so there are no backups to clean up")
                .with_hint("Configure `[storage.local]` or `[storage.azure]` (docs/storage.md)")
                .into(),
        );
    }
    let settings = CleanupSettings::resolve(
        &args,
        stores,
        &ctx.settings.config,
        ctx.settings.dry_run,
        ctx.settings.yes,
    )?;
    let (mut rows, unreadable) = backups::plan_stores(&settings).await;
    if unreadable.len() == settings.stores.len() {
        let (store, err) = unreadable.into_iter().next().unwrap_or_default();
        anyhow::bail!("No configured store could be read ({store}: {err})");
    }
    for (store, err) in &unreadable {
        printer.warn(&format!(
            "{store} could not be read, so nothing is deleted there: {err}"
        ));
    }
    if settings.dry_run {
        printer.report(&CleanupReport::new(true, rows))?;
        return Ok(finish(printer, &unreadable, 0));
    }
    guard(&settings, &rows)?;
    let locks = backups::lock_all(&settings, &rows).await?;
    backups::delete(&settings, &mut rows).await;
    for held in locks {
        held.release().await;
    }
    let failed = rows
        .iter()
        .filter(|r| r.result.as_deref().is_some_and(|s| s.starts_with("failed")))
        .count();
    printer.report(&CleanupReport::new(false, rows))?;
    Ok(finish(printer, &unreadable, failed))
}

/// Refuses a run that deletes more than `max_delete_fraction` of a store's backups, unless `--yes`.
fn guard(settings: &CleanupSettings, rows: &[backups::PlanRow]) -> anyhow::Result<()> {
    if settings.yes {
        return Ok(());
    }
    for (index, store) in settings.stores.iter().enumerate() {
        let backups: Vec<_> = rows
            .iter()
            .filter(|r| r.store_index == index && r.is_backup())
            .collect();
        let deleted = backups.iter().filter(|r| r.deletes()).count();
        if backups.is_empty() || deleted == 0 {
            continue;
        }
        let fraction = deleted as f64 / backups.len() as f64;
        if fraction > settings.max_delete_fraction {
            return Err(UserError::usage(format!(
                "The plan deletes {deleted} of the {} backups in {} ({:.0}%), more than `[cleanup] \
                 max_delete_fraction` ({:.0}%)",
                backups.len(),
                store.label(),
                fraction * 100.0,
                settings.max_delete_fraction * 100.0
            ))
            .with_hint("Check the plan with `campctl cleanup --dry-run`, then run again with `--yes`")
            .into());
        }
    }
    Ok(())
}

/// Exit 0, or 3 when a store could not be read or a delete failed.
fn finish(printer: &Printer, unreadable: &[(String, String)], failed: usize) -> ExitStatus {
    if unreadable.is_empty() && failed == 0 {
        return ExitStatus::Success;
    }
    let mut parts = Vec::new();
    if !unreadable.is_empty() {
        let labels: Vec<&str> = unreadable.iter().map(|(s, _)| s.as_str()).collect();
        parts.push(format!("{} could not be read", labels.join(", ")));
    }
    if failed > 0 {
        parts.push(format!("{failed} deletes failed (see `result`)"));
    }
    printer.partial(
        &format!("partial cleanup (exit 3): {}", parts.join("; ")),
        "Run `campctl cleanup` again: it resumes where this run stopped",
    )
}
