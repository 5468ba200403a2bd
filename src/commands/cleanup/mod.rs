//! `campctl cleanup` (runbook 9.1.2): removes what the retention policy no longer keeps, with a floor that never
//! lets a stopped schedule age its last backups out (docs/cleanup.md, docs/retention.md).
//!
//! [`CleanupArgs`] is resolved into [`RetentionSettings`] before anything runs; the shared home
//! `commands/retention/` (also `backup --prune`'s) reads every store and plans (each backup kept or deleted, with
//! the rule that decided) and prints the plan as a table, JSON or CSV. `--dry-run` stops after the plan; otherwise the series that lose backups are locked in their
//! stores (exit 11 when a backup holds one), the guard `max_delete_fraction` is checked, and the deletes run.
//! A delete that fails leaves the run partial (exit 3); nothing else is changed.

use clap::Args;

use crate::commands::Ctx;
use crate::commands::retention::{self, settings::RetentionSettings};
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
    let settings = RetentionSettings::resolve(
        args.db,
        stores,
        &ctx.settings.config,
        ctx.settings.dry_run,
        ctx.settings.yes,
    )?;
    retention::run(&settings, printer, false).await
}
