//! `campctl backup snapshot` (runbook 2.4.1): a blob snapshot of every blob in a container (e.g. the uploads
//! container), taken concurrently; failures are listed and make the exit code 3.

use clap::Args;

use crate::exit::{ExitStatus, UserError};
use crate::printer::{Cell, Printer, Report, Table};
use crate::storage::SnapshotReport;
use crate::storage::{Store, validate_container};

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Container to snapshot [default: the container of `[storage.azure]`]
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,

    /// Only blobs whose name starts with this
    #[arg(long, value_name = "PREFIX", default_value = "")]
    pub prefix: String,

    /// Snapshots taken at the same time
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub concurrency: usize,
}

impl Report for SnapshotReport {
    fn tables(&self) -> Vec<Table> {
        let mut summary = Table::new(
            format!("Snapshots of container `{}`", self.container),
            &["blobs", "snapshotted", "failed"],
        );
        summary.row(vec![
            Cell::Int(self.total as i64),
            Cell::Int(self.snapshotted as i64),
            Cell::Int(self.failed.len() as i64),
        ]);
        let mut failures = Table::new("Failures", &["blob", "error"]).empty_message("none");
        for failure in &self.failed {
            failures.row(vec![failure.blob.as_str().into(), failure.error.as_str().into()]);
        }
        vec![summary, failures]
    }
}

/// Runs `campctl backup snapshot`.
///
/// # Errors
/// No Azure store is configured, or the container cannot be listed.
pub(crate) async fn snapshot(args: SnapshotArgs, stores: &[Store], printer: &Printer) -> anyhow::Result<ExitStatus> {
    let Some(Store::Azure(azure)) = stores.iter().find(|s| matches!(s, Store::Azure(_))) else {
        return Err(UserError::usage("`backup snapshot` needs an Azure store")
            .with_hint("Configure `[storage.azure]` with an account and credentials (docs/storage.md)")
            .into());
    };
    // A name the service would refuse is a usage error, found before any request (item 19: `BAD_NAME` came back
    // as the service's raw XML with exit 1).
    if let Some(container) = &args.container
        && let Err(why) = validate_container(container)
    {
        return Err(UserError::usage(format!(
            "Invalid `--container`: `{container}` is not a container name: it {why}"
        ))
        .with_hint(
            "Azure container names are 3 to 63 lowercase letters, digits and single hyphens, starting and \
                     ending with a letter or digit",
        )
        .into());
    }
    if args.concurrency == 0 {
        return Err(UserError::usage("`--concurrency` must be at least 1").into());
    }
    let report = azure
        .snapshot_blobs(args.container.as_deref(), &args.prefix, args.concurrency)
        .await?;
    printer.report(&report)?;
    if report.failed.is_empty() {
        return Ok(ExitStatus::Success);
    }
    Ok(printer.partial(
        &format!(
            "partial snapshot (exit 3): {} of {} blobs could not be snapshotted",
            report.failed.len(),
            report.total
        ),
        "The report lists each failure; run the same command again to retry (it snapshots every blob again)",
    ))
}
