//! The command lines of `restore` and `test-restore` (clap's raw input), apart from the commands and from their
//! resolution (`settings.rs`), so that the command, its settings and `cli.rs` all read them without importing each
//! other. This file only declares flags: it never checks or resolves a value.

use std::path::PathBuf;

use clap::Args;

use super::SourceArgs;

/// Restore a backup safely: restore aside, verify against the manifest, then swap
///
/// Restores into `<db>__restore_<timestamp>`, checks every table's exact row count against the backup's manifest,
/// runs ANALYZE, then swaps it in: the target's sessions are ended and it is renamed to
/// `<db>__pre_restore_<timestamp>` (kept until `--drop-previous` or cleanup). Nothing is changed if any step fails.
#[derive(Debug, Args)]
pub struct RestoreArgs {
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
