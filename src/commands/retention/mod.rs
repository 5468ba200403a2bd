//! The shared home of a retention run, used by `campctl cleanup --backups` and `campctl backup --prune` (commands
//! never import each other): [`settings`] resolves `[retention]` and `[cleanup]`, [`plan`] reads the stores, asks
//! the engine (`catalog/retention.rs`) and deletes manifest first under each series' lock, [`report`] prints the
//! plan or its result. Nothing here parses a command line.

pub(crate) mod plan;
pub(crate) mod report;
pub(crate) mod settings;

use self::plan::{PlanRow, delete, lock_all, plan_stores};
use self::report::CleanupReport;
use self::settings::RetentionSettings;
use crate::exit::{ExitStatus, UserError};
use crate::printer::Printer;

/// What a retention run did: its report, the stores that could not be read, the deletes that failed.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub report: CleanupReport,
    pub unreadable: Vec<(String, String)>,
    pub failed: usize,
}

/// Plans, and with `--dry-run` stops there; else checks the guard, locks each series that loses backups (unless
/// `locked`: the caller, `backup --prune`, holds its database's locks already) and deletes. Prints nothing but
/// warnings about stores that could not be read.
///
/// # Errors
/// No store could be read; the guard refused (exit 2); a lock is held (exit 11).
pub(crate) async fn execute(settings: &RetentionSettings, printer: &Printer, locked: bool) -> anyhow::Result<Outcome> {
    let (mut rows, unreadable) = plan_stores(settings).await;
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
        return Ok(Outcome {
            report: CleanupReport::new(true, rows),
            unreadable,
            failed: 0,
        });
    }
    guard(settings, &rows)?;
    let locks = if locked {
        Vec::new()
    } else {
        lock_all(settings, &rows).await?
    };
    delete(settings, &mut rows).await;
    for held in locks {
        held.release().await;
    }
    let failed = rows
        .iter()
        .filter(|r| r.result.as_deref().is_some_and(|s| s.starts_with("failed")))
        .count();
    Ok(Outcome {
        report: CleanupReport::new(false, rows),
        unreadable,
        failed,
    })
}

/// Refuses a run that deletes more than `max_delete_fraction` of a store's backups, unless `--yes`.
fn guard(settings: &RetentionSettings, rows: &[PlanRow]) -> anyhow::Result<()> {
    for (index, store) in settings.stores.iter().enumerate() {
        let backups: Vec<_> = rows
            .iter()
            .filter(|r| r.store_index == index && r.is_backup())
            .collect();
        let deleted = backups.iter().filter(|r| r.deletes()).count();
        fraction_guard(
            deleted,
            backups.len(),
            &format!("backups in {}", store.label()),
            settings.max_delete_fraction,
            settings.yes,
        )?;
    }
    Ok(())
}

/// The `max_delete_fraction` guard of one place (a store's backups, a container's snapshots): deleting `deleted` of
/// `total` (`what`: "backups in local:/…") is refused (exit 2) when that is more than `max_fraction`, unless `yes`.
///
/// # Errors
/// The refusal, naming the counts and how to go on.
pub(crate) fn fraction_guard(
    deleted: usize,
    total: usize,
    what: &str,
    max_fraction: f64,
    yes: bool,
) -> anyhow::Result<()> {
    if yes || total == 0 || deleted == 0 {
        return Ok(());
    }
    let fraction = deleted as f64 / total as f64;
    if fraction > max_fraction {
        return Err(UserError::usage(format!(
            "The plan deletes {deleted} of the {total} {what} ({:.0}%), more than `[cleanup] max_delete_fraction` \
             ({:.0}%)",
            fraction * 100.0,
            max_fraction * 100.0
        ))
        .with_hint("Check the plan with `campctl cleanup --dry-run`, then run again with `--yes`")
        .into());
    }
    Ok(())
}

/// Exit 0, or 3 when a store could not be read or a delete failed.
pub(crate) fn finish(printer: &Printer, unreadable: &[(String, String)], failed: usize) -> ExitStatus {
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
