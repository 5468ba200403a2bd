//! `campctl backup`: database dumps ([`dump`]) and the catalog ([`list`]), to every configured store.

pub(crate) mod azure;
mod compression;
mod digest;
pub(crate) mod dump;
mod fanout;
pub(crate) mod files;
pub(crate) mod list;
mod naming;
pub(crate) mod settings;
pub(crate) mod snapshot;
pub(crate) mod unlock;

use std::path::PathBuf;

use clap::{Args, Subcommand};

pub(crate) use compression::Compression;
pub(crate) use settings::{DumpSettings, FilesSettings};

use crate::commands::Ctx;
use crate::dump_options::RowCounts;
use crate::exit::ExitStatus;
use crate::printer::Printer;
use crate::storage::Store;
use crate::units::{ByteSize, HumanDuration};

/// Back up a database (pg_dump → local directory and/or Azure Blob), a directory, or blob snapshots
///
/// Without a subcommand: `pg_dump --format=custom` of DB (default: the configured database), compressed, checksummed
/// and committed atomically to the local store and/or Azure Blob; the manifest is written last.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub command: Option<BackupCommand>,

    #[command(flatten)]
    pub dump: DumpArgs,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// The backup catalog of every configured store, newest first
    List(list::ListArgs),
    /// A tar.gz of a directory (e.g. uploads), streamed to every store with a manifest (runbook 2.4.2)
    Files(FilesArgs),
    /// Blob snapshots of every blob in an Azure container (runbook 2.4.1)
    Snapshot(snapshot::SnapshotArgs),
    /// Break a lock after showing its holder (with confirmation)
    ///
    /// NAME is a database (the locks of `backup NAME` and `restore --to NAME`) or a files backup name. Shows who
    /// holds each of its locks: the lock file or blob lease in every store, and campctl's advisory lock on the server.
    /// Then asks you to type NAME (on a terminal; `--yes` without one) and breaks them: the lock file is removed, the
    /// lease broken, the holding campctl session ended. `--dry-run` only shows them. A holder on this host whose
    /// process is gone is taken over by the next run anyway; this is for a holder on another host.
    Unlock(unlock::UnlockArgs),
    /// Azure Flexible Server's own backups: settings, retention, list, on-demand backups (runbook 2.1.2, 2.2.2)
    Azure(azure::AzureArgs),
}

#[derive(Debug, Args)]
pub struct FilesArgs {
    /// Directory to back up (e.g. the uploads directory)
    #[arg(long, value_name = "DIR")]
    pub source: PathBuf,

    /// Name of the backup [default: the directory's name]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// Leave out files that cannot be read (listed in the report) instead of failing
    #[arg(long)]
    pub skip_unreadable: bool,
}

/// Options of `campctl backup [DB]`.
#[derive(Debug, Args)]
pub struct DumpArgs {
    /// Database to back up [default: the configured database]
    #[arg(value_name = "DB")]
    pub database: Option<String>,

    /// zstd[:LEVEL] (default zstd:1, multi-threaded), gzip[:LEVEL], pgdump[:LEVEL] (pg_dump's own zlib) or none
    #[arg(long, value_name = "ALGORITHM[:LEVEL]")]
    pub compression: Option<Compression>,

    /// Exact row counts in the manifest: all (default), listed (`[backup] row_count_tables`) or none
    #[arg(long, value_name = "WHICH")]
    pub row_counts: Option<RowCounts>,

    /// Write only to these stores (`local`, `azure`; repeatable) [default: every configured store]
    #[arg(long = "store", value_name = "STORE")]
    pub stores: Vec<String>,

    /// Wait up to this long for another backup of the same database to finish [default: 0, exit 11]
    #[arg(long, value_name = "DUR")]
    pub wait_lock: Option<HumanDuration>,

    /// Expected size of the dump, to size Azure blocks [default: the database size]
    #[arg(long, value_name = "SIZE")]
    pub expected_size: Option<ByteSize>,

    /// After a successful backup, apply `[retention]` to this database's backups in the stores written to
    ///
    /// The same plan and deletes as `campctl cleanup --db DB` (docs/cleanup.md), under the backup's own locks.
    /// A prune that fails is a warning and exit 3: the backup stays.
    #[arg(long)]
    pub prune: bool,

    /// The pg_dump to run [default: the newest in /usr/lib/postgresql/*/bin, else pg_dump on PATH]
    #[arg(long, value_name = "PATH")]
    pub pg_dump: Option<PathBuf>,
}

/// Runs `campctl backup …`: resolves the subcommand's settings, then runs it.
///
/// # Errors
/// See the subcommands.
pub(crate) async fn backup(args: BackupArgs, ctx: &Ctx, printer: &Printer) -> anyhow::Result<ExitStatus> {
    // Flexible Server's backups live in Azure, not in campctl's stores: `backup azure` needs none configured.
    let stores = if matches!(args.command, Some(BackupCommand::Azure(_))) {
        Vec::new()
    } else {
        Store::from_config(&ctx.settings.storage)?
    };
    match args.command {
        Some(BackupCommand::List(list_args)) => list::list(list_args, &stores, printer).await,
        Some(BackupCommand::Files(files_args)) => {
            let settings = FilesSettings::resolve(files_args, stores, &ctx.settings.config)?;
            Box::pin(files::backup_files(settings, ctx, printer)).await
        }
        Some(BackupCommand::Snapshot(snapshot_args)) => snapshot::snapshot(snapshot_args, &stores, printer).await,
        Some(BackupCommand::Unlock(unlock_args)) => unlock::unlock(unlock_args, &stores, ctx, printer).await,
        Some(BackupCommand::Azure(azure_args)) => azure::azure(azure_args, ctx, printer).await,
        None => {
            let settings = DumpSettings::resolve(args.dump, stores, &ctx.settings.db.dbname, &ctx.settings.config)?;
            Box::pin(dump::backup_database(settings, ctx, printer)).await
        }
    }
}
