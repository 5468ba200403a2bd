//! `campctl backup list`: the catalog of every configured store ([`crate::catalog::catalog`]), newest first, as a
//! table or JSON. A store that cannot be read is left out with a warning (exit 3); this command never changes a store.

use clap::Args;
use serde::Serialize;

use crate::catalog::{CatalogEntry, catalog};
use crate::exit::{ExitStatus, UserError};
use crate::printer::{Cell, Printer, Report, Table};
use crate::storage::{Store, is_store_failure};

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only backups of this database (or files backup name)
    #[arg(long, value_name = "NAME")]
    pub db: Option<String>,

    /// At most this many backups (newest first)
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize)]
pub(crate) struct CatalogReport {
    pub backups: Vec<CatalogEntry>,
}

impl Report for CatalogReport {
    fn tables(&self) -> Vec<Table> {
        let mut table = Table::new(
            "Backups (newest first)",
            &[
                "name",
                "kind",
                "time",
                "size",
                "duration",
                "compression",
                "sha256",
                "verified",
                "store",
            ],
        )
        .empty_message("No backups found in the configured stores");
        for entry in &self.backups {
            table.row(vec![
                entry.name.as_str().into(),
                entry.kind.as_str().into(),
                entry
                    .started_at
                    .map_or(Cell::Null, |t| Cell::Text(t.format("%Y-%m-%d %H:%M:%SZ").to_string())),
                Cell::Bytes(entry.size_bytes as i64),
                entry.duration_seconds.map_or(Cell::Null, Cell::Seconds),
                Cell::opt(entry.compression.clone()),
                entry.sha256.clone().map_or(Cell::Null, Cell::Digest),
                match entry.verified {
                    Some(true) => "verified".into(),
                    Some(false) => "FAILED".into(),
                    None => Cell::Null,
                },
                entry.store.as_str().into(),
            ]);
        }
        vec![table]
    }
}

/// Runs `campctl backup list`.
///
/// # Errors
/// `--limit 0` (exit 2), no store can be listed, or one fails in a way that is not an outage (a refused credential).
pub(crate) async fn list(args: ListArgs, stores: &[Store], printer: &Printer) -> anyhow::Result<ExitStatus> {
    // `--limit 0` would list nothing and then say "No backups found", which is false.
    if args.limit == Some(0) {
        return Err(UserError::usage("`--limit` must be at least 1")
            .with_hint("Leave `--limit` out to list every backup, or give the number of newest backups to show")
            .into());
    }
    let mut backups = Vec::new();
    // A store that is down (unreachable, failing) is left out with a warning naming it; the catalog of the others is
    // still printed, and the run ends partial (exit 3). Only when no store can be read does the listing fail.
    let mut unreachable = Vec::new();
    for (index, store) in stores.iter().enumerate() {
        match catalog(store, args.db.as_deref()).await {
            Ok(entries) => backups.extend(entries),
            Err(err) if is_store_failure(&err) && unreachable.len() + 1 < stores.len() => {
                printer.warn(&format!(
                    "{} could not be read, so its backups are not listed: {err:#}",
                    store.label()
                ));
                unreachable.push(index);
            }
            Err(err) => {
                return Err(if unreachable.is_empty() || !is_store_failure(&err) {
                    err
                } else {
                    err.context("No configured store could be read")
                });
            }
        }
    }
    backups.sort_by(|a, b| b.started_at.cmp(&a.started_at).then_with(|| a.name.cmp(&b.name)));
    if let Some(limit) = args.limit {
        backups.truncate(limit);
    }
    if backups.iter().any(|b| b.kind == "incomplete") {
        printer.warn("archives marked `incomplete` have no manifest: they were interrupted or made by another tool");
    }
    if backups.iter().any(|b| b.kind == "legacy") {
        printer.warn(
            "archives marked `legacy` were made by the runbook's scripts: they have no manifest, so a restore cannot \
             verify them",
        );
    }
    printer.report(&CatalogReport { backups })?;
    if unreachable.is_empty() {
        return Ok(ExitStatus::Success);
    }
    let labels: Vec<String> = unreachable.iter().map(|&i| stores[i].label()).collect();
    Ok(printer.partial(
        &format!("partial listing (exit 3): {} could not be read", labels.join(", ")),
        "The list shows the stores that could be read; check the others with `campctl config check`",
    ))
}
