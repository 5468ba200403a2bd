//! `campctl backup unlock NAME`: breaks the locks of the runs of `NAME` after showing who holds them and a
//! confirmation (type the name on a terminal; `--yes` without one, else exit 2; `--dry-run` only shows them).
//!
//! `NAME` is a database (the locks of `backup NAME` and `restore --to NAME`) or a files backup name. What it breaks:
//! - the store locks `backup-NAME` and `files-NAME` in every configured store: the lock file is removed, the blob
//!   lease is broken at once ([`crate::lock::break_lock`]);
//! - campctl's advisory locks `NAME` and `restore NAME` on the server: the session holding one is ended
//!   (`pg_terminate_backend`). Only a campctl run takes locks in campctl's advisory class, so that session is a
//!   campctl run's own lock session; a run that is still alive loses that session and fails at its next statement.
//!
//! Nothing held anywhere is exit 10. This command never takes a lock itself, and never breaks a lock it did not show.

use clap::Args;
use serde::Serialize;

use crate::commands::Ctx;
use crate::exit::{ExitStatus, UserError};
use crate::lock::advisory::{self, AdvisoryHolder};
use crate::lock::{self, StoreLockState, store_lock_name};
use crate::printer::{Cell, Printer, Report, Table};
use crate::storage::{Store, is_store_failure};

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// The database (or files backup name) whose lock to break
    #[arg(value_name = "NAME")]
    pub name: String,
}

/// One lock that was found held.
#[derive(Debug, Serialize)]
pub(crate) struct HeldLock {
    /// `store` or `advisory`.
    pub kind: &'static str,
    /// The store's label, or `postgresql:<database>`.
    pub place: String,
    /// `backup-appdb` in a store; the advisory key on the server.
    pub lock: String,
    pub holder: String,
    /// Whether this run broke it (`false` in a dry run).
    pub broken: bool,
    #[serde(skip)]
    target: Target,
}

#[derive(Debug)]
enum Target {
    Store(usize),
    Session(AdvisoryHolder),
}

#[derive(Debug, Serialize)]
pub(crate) struct UnlockReport {
    pub name: String,
    pub dry_run: bool,
    pub locks: Vec<HeldLock>,
}

impl Report for UnlockReport {
    fn tables(&self) -> Vec<Table> {
        let mut table = Table::new(
            format!("Locks of `{}`", self.name),
            &["kind", "where", "lock", "holder", "broken"],
        );
        for lock in &self.locks {
            table.row(vec![
                lock.kind.into(),
                lock.place.as_str().into(),
                lock.lock.as_str().into(),
                lock.holder.as_str().into(),
                Cell::Text(if lock.broken { "broken" } else { "held" }.into()),
            ]);
        }
        vec![table]
    }
}

/// How a store lock's holder reads in the listing, with the stale rule applied.
fn describe(state: &StoreLockState) -> Option<String> {
    match state {
        StoreLockState::Free => None,
        StoreLockState::Held(holder) if holder.is_stale() => Some(format!("{holder}, no longer running (stale)")),
        StoreLockState::Held(holder) if holder.host == crate::os::hostname() => {
            Some(format!("{holder}, still running on this host"))
        }
        StoreLockState::Held(holder) => Some(format!("{holder}, on another host")),
        StoreLockState::Unknown(what) => Some(what.clone()),
    }
}

async fn find(name: &str, stores: &[Store], ctx: &Ctx, printer: &Printer) -> anyhow::Result<Vec<HeldLock>> {
    let mut found = Vec::new();
    for (index, store) in stores.iter().enumerate() {
        for lock_name in [store_lock_name("backup", name), store_lock_name("files", name)] {
            match lock::inspect(store, &lock_name).await {
                Ok(state) => {
                    if let Some(holder) = describe(&state) {
                        found.push(HeldLock {
                            kind: "store",
                            place: store.label(),
                            lock: lock_name,
                            holder,
                            broken: false,
                            target: Target::Store(index),
                        });
                    }
                }
                Err(err) if is_store_failure(&err) => {
                    printer.warn(&format!(
                        "{} could not be read, so its locks are not shown: {err:#}",
                        store.label()
                    ));
                    break;
                }
                Err(err) => return Err(err),
            }
        }
    }
    // The advisory lock: without a server, the store locks can still be broken.
    match ctx.connect().await {
        Ok(client) => {
            for key in [name.to_string(), format!("restore {name}")] {
                for holder in advisory::holders(&client, &key).await? {
                    found.push(HeldLock {
                        kind: "advisory",
                        place: format!("postgresql:{}", holder.database),
                        lock: key.clone(),
                        holder: holder.to_string(),
                        broken: false,
                        target: Target::Session(holder),
                    });
                }
            }
        }
        Err(err) => printer.warn(&format!(
            "the server could not be reached, so its advisory locks are not shown: {err:#}"
        )),
    }
    Ok(found)
}

/// Runs `campctl backup unlock NAME`.
///
/// # Errors
/// Nothing of `NAME` is held (exit 10), no confirmation (exit 2), a store or the server refused to break a lock.
pub(crate) async fn unlock(
    args: UnlockArgs,
    stores: &[Store],
    ctx: &Ctx,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let name = args.name;
    let mut locks = find(&name, stores, ctx, printer).await?;
    if locks.is_empty() {
        let labels: Vec<String> = stores.iter().map(Store::label).collect();
        return Err(UserError::new(
            ExitStatus::NotFound,
            format!("No lock of `{name}` is held in {} or on the server", labels.join(", ")),
        )
        .with_hint("Give the database (or files backup name) of the run that holds the lock, as its exit 11 named it")
        .into());
    }
    for lock in &locks {
        printer.note(&format!(
            "{} `{}` in {}: held by {}",
            lock.kind, lock.lock, lock.place, lock.holder
        ));
    }
    let dry_run = ctx.settings.dry_run;
    if dry_run {
        printer.note(&format!("dry run: would break {} lock(s) of `{name}`", locks.len()));
    } else {
        printer.confirm_typed(
            &format!(
                "This breaks {} lock(s) of `{name}`; a run that still holds one goes on unprotected or fails.",
                locks.len()
            ),
            &name,
            ctx.settings.yes,
        )?;
        let client = if locks.iter().any(|l| matches!(l.target, Target::Session(_))) {
            Some(ctx.connect().await?)
        } else {
            None
        };
        for lock in &mut locks {
            lock.broken = match (&lock.target, &client) {
                (Target::Store(index), _) => lock::break_lock(&stores[*index], &lock.lock).await?,
                (Target::Session(holder), Some(client)) => advisory::terminate(client, holder).await?,
                (Target::Session(_), None) => false,
            };
            if lock.broken {
                tracing::warn!(
                    "broke {} `{}` in {}, held by {}",
                    lock.kind,
                    lock.lock,
                    lock.place,
                    lock.holder
                );
            }
        }
    }
    printer.report(&UnlockReport { name, dry_run, locks })?;
    Ok(ExitStatus::Success)
}
