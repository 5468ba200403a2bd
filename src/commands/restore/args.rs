//! The command lines of `restore` and `test-restore` (clap's raw input), apart from the commands and from their
//! resolution (`settings.rs`), so that the command, its settings and `cli.rs` all read them without importing each
//! other. This file only declares flags: it never checks or resolves a value.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::SourceArgs;

/// Restore a backup safely: restore aside, verify against the manifest, then swap
///
/// Restores into `<db>__restore_<timestamp>`, checks every table's exact row count against the backup's manifest,
/// runs ANALYZE, then swaps it in: the target's sessions are ended and it is renamed to
/// `<db>__pre_restore_<timestamp>` (kept until `--drop-previous` or cleanup). Nothing is changed if any step fails.
///
/// `restore pitr` and `restore geo` restore the Azure Flexible Server itself into a new server (runbook 2.3.2).
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RestoreArgs {
    /// Azure Flexible Server restores into a new server; without one, `restore [BACKUP]` restores a campctl backup
    #[command(subcommand)]
    pub azure: Option<RestoreAzureCommand>,

    #[command(flatten)]
    pub source: SourceArgs,

    /// Restore into this new database instead, with no swap
    #[arg(long, value_name = "NEWDB")]
    pub to: Option<String>,

    /// With `--to`: replace an existing non-empty database (it is kept as `<NEWDB>__pre_restore_<timestamp>`)
    #[arg(long, requires = "to")]
    pub replace: bool,

    /// Drop the previous database after a successful swap instead of keeping it
    #[arg(long)]
    pub drop_previous: bool,

    /// Skip ANALYZE of the restored database
    #[arg(long)]
    pub no_analyze: bool,

    /// Wait up to this long for a backup or restore of the same database, or a backup or cleanup of the backup's
    /// database (its store lock), to finish [default: 0, exit 11]
    #[arg(long, value_name = "DUR")]
    pub wait_lock: Option<crate::units::HumanDuration>,
}

/// Restore a backup into a scratch database, verify it against its manifest, drop it
///
/// Checks, each timed: download + checksum, archive readable, pg_restore --exit-on-error, table count, every
/// table's exact row count, and the SQL checks of `[[test_restore.checks]]`. Exit 0 when all pass, 1 when any
/// fails. The result is recorded in the backup's manifest (`backup list` shows it as verified).
#[derive(Debug, Args)]
pub struct TestRestoreArgs {
    #[command(flatten)]
    pub source: SourceArgs,

    /// Restore on this server instead of the configured one (URL or key/value string)
    #[arg(long, value_name = "URL")]
    pub target_url: Option<String>,

    /// Keep the scratch database for inspection (drop it yourself)
    #[arg(long)]
    pub keep: bool,

    /// Also write the result as JUnit XML to PATH (one testcase per check)
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,

    /// Do not record the result in the backup's manifest
    #[arg(long)]
    pub no_record: bool,

    /// Wait up to this long for a backup or cleanup of the backup's database to let go of its store lock
    /// [default: `[restore] wait_lock`, else 0: exit 11]
    #[arg(long, value_name = "DUR")]
    pub wait_lock: Option<crate::units::HumanDuration>,
}

/// `campctl restore pitr | geo`: Azure Flexible Server restores into a new server (runbook 2.3.2).
#[derive(Debug, Subcommand)]
pub enum RestoreAzureCommand {
    /// Point-in-time restore of the Azure Flexible Server into a new server (runbook 2.3.2)
    ///
    /// Checks first, before anything is created: the source server exists and is Ready, the time lies between its
    /// earliest restore point and now, the new name is a valid Flexible Server name, free and not the source's.
    /// Then asks (or `--yes`), creates the new server with the source's location, SKU, version, storage,
    /// availability zone and network (delegated subnet and private DNS zone), and follows Azure's operation until
    /// it ends. `--dry-run` shows the request and creates nothing.
    Pitr(PitrArgs),
    /// Geo-restore of the Azure Flexible Server into a new server in another region (runbook 2.3.2)
    ///
    /// Needs geo-redundant backup on the source (Azure sets it only when a server is created). Restores the latest
    /// geo-replicated backup (or the one at `--time`) into the new server in LOCATION; a VNet-integrated source needs
    /// `--subnet` in a VNet of LOCATION. Otherwise as `restore pitr`.
    Geo(GeoArgs),
}

#[derive(Debug, Args)]
pub struct PitrArgs {
    /// The point in time: RFC 3339 with a zone (`2026-12-05T03:00:00Z`, `…T04:00:00+01:00`), `now`, or a time ago
    /// (`-2h`, `-1d12h`, `-90m`)
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub time: String,

    #[command(flatten)]
    pub target: NewServerArgs,
}

#[derive(Debug, Args)]
pub struct GeoArgs {
    /// The region of the new server (e.g. `northeurope`, the source region's pair)
    #[arg(long, value_name = "LOCATION")]
    pub location: String,

    /// The point in time, as for `restore pitr` [default: now: the latest geo-replicated backup]
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub time: Option<String>,

    #[command(flatten)]
    pub target: NewServerArgs,
}

/// The new server of `restore pitr | geo`.
#[derive(Debug, Args)]
pub struct NewServerArgs {
    /// Name of the new server (3–63 lowercase letters, digits and hyphens; not the source's)
    #[arg(long, value_name = "NAME")]
    pub new_server: String,

    /// The source Flexible Server: a name in `[azure] resource_group`, or a full resource id [default: `[azure]
    /// postgres_server`]
    #[arg(long, value_name = "NAME|ID")]
    pub server: Option<String>,

    /// Resource group of the new server [default: the source's]
    #[arg(long, value_name = "GROUP")]
    pub resource_group: Option<String>,

    /// Compute SKU of the new server, e.g. `Standard_D4ds_v4` [default: the source's]
    #[arg(long, value_name = "SKU")]
    pub sku: Option<String>,

    /// Tier of `--sku`: Burstable, GeneralPurpose or MemoryOptimized [default: from the SKU's name]
    #[arg(long, value_name = "TIER", requires = "sku")]
    pub tier: Option<String>,

    /// Storage size of the new server in GiB, at least the source's [default: the source's]
    #[arg(long, value_name = "GB")]
    pub storage_size_gb: Option<u32>,

    /// Delegated subnet (resource id) of the new server [default: the source's, for `pitr`]
    #[arg(long, value_name = "ID")]
    pub subnet: Option<String>,

    /// Private DNS zone (resource id) of the new server [default: the source's]
    #[arg(long, value_name = "ID")]
    pub private_dns_zone: Option<String>,

    /// Start the restore and print how to follow it, without waiting for Azure to finish
    #[arg(long)]
    pub no_wait: bool,
}
