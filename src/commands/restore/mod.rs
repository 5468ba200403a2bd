//! `campctl restore` and `campctl test-restore`: restores that cannot lose the database, and restore tests a CI
//! job can trust. Both select a backup ([`crate::catalog::select`]), download and verify it ([`fetch`], failing with a
//! [`crate::catalog::fetch_error::FetchError`]), restore it into a new database ([`run`]) and compare its row counts with the
//! backup ([`row_counts`]). `restore` ([`restore`](mod@restore)) then swaps the copy in (`swap_in`); `test-restore`
//! ([`test_restore`]) runs its checks (`sql_check` for the user's SQL) and drops it. While either reads the backup
//! it holds the store lock of the backup's series (`read_lock`), so that `cleanup` cannot delete it meanwhile. What
//! both check before any work is in `preflight`; the SQL on whole databases (create, rename, drop, end sessions) is
//! [`crate::pg::database`]'s.
//!
//! This directory is the pair's shared home: it must never hold what another command needs (that moves down, into
//! `pg`, `storage` or the catalog). Each command's settings are resolved before it connects, in [`settings`]
//! (`RestoreSettings`, `TestRestoreSettings`, and the pg_restore options both build the same way).

pub(crate) mod args;
mod azure;
mod fetch;
pub(crate) mod junit;
mod names;
mod preflight;
mod read_lock;
pub(crate) mod run;
pub(crate) mod settings;
// The `restore` command in a file named after it, beside `test_restore`: the directory is the pair's shared home
// (source options, preparation), the file is the command, as `test_restore.rs` is for `test-restore`.
#[expect(
    clippy::module_inception,
    reason = "the `restore` command, named after it beside `test_restore`; the directory holds what both share"
)]
pub(crate) mod restore;
mod restore_report;
pub(crate) mod row_counts;
mod spool;
mod sql_check;
mod swap_in;
mod test_report;
pub(crate) mod test_restore;

use std::path::PathBuf;

use clap::Args;

pub(crate) use args::{RestoreArgs, TestRestoreArgs};

use crate::catalog::{select, select_stores};
use crate::exit::ExitStatus;
use crate::pg::tools::PgTool;

/// Options shared by `restore` and `test-restore`: which backup, from where, and how pg_restore runs.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// `latest` (default), a backup name (`<db>_<YYYYMMDD>_<HHMMSS>`), a local path, or a blob URL
    #[arg(value_name = "BACKUP")]
    pub backup: Option<String>,

    /// Database whose backups `latest` means [default: the configured database]
    #[arg(long, value_name = "NAME")]
    pub db: Option<String>,

    /// Look only in these stores (`local`, `azure`; repeatable) [default: every configured store]
    #[arg(long = "store", value_name = "STORE")]
    pub stores: Vec<String>,

    /// Parallel pg_restore jobs; more than 1 spools the archive to a file first [default: 1, streaming]
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub jobs: Option<u32>,

    /// Directory for the spool file of `--jobs` > 1 [default: the system temp directory]
    #[arg(long, value_name = "DIR")]
    pub spool_dir: Option<PathBuf>,

    /// With one job: download and verify the whole backup before creating any database, then stream it again
    /// [default: on for restore, off for test-restore]
    #[arg(long, overrides_with = "no_verify_first")]
    pub verify_first: bool,

    /// With one job: verify while streaming into pg_restore (one read); a damaged backup then fails the restore of
    /// the new copy, which is dropped
    #[arg(long, overrides_with = "verify_first")]
    pub no_verify_first: bool,

    /// Restore ownership (pg_restore without `--no-owner`); the roles must exist on the server
    #[arg(long)]
    pub keep_owner: bool,

    /// Restore privileges (pg_restore without `--no-acl`); the roles must exist on the server
    #[arg(long)]
    pub keep_acl: bool,

    /// Restore every object into the server's default tablespace (pg_restore `--no-tablespaces`); needed when the
    /// backup's tablespaces do not exist on the server restored on
    #[arg(long)]
    pub no_tablespaces: bool,

    /// The pg_restore to run [default: the newest in /usr/lib/postgresql/*/bin, else pg_restore on PATH]
    #[arg(long, value_name = "PATH")]
    pub pg_restore: Option<PathBuf>,
}

/// `server`'s maintenance database `name` (see [`settings::maintenance_db`]), with the name's origin recorded as
/// `[restore] maintenance_db`: a database that does not exist is then blamed on that key, not on the URL whose
/// host and credentials the session borrows.
fn maintenance_server(
    server: &crate::pg::ConnParams,
    name: &str,
    loaded: &crate::config_file::LoadedConfig,
) -> crate::pg::ConnParams {
    let mut params = server.with_dbname(name);
    let origin = if loaded.sections.restore.maintenance_db.is_some() {
        "`[restore] maintenance_db` in campctl.toml"
    } else {
        "the default of `[restore] maintenance_db` (`postgres`); set that key to a database that exists"
    };
    params.origins.insert("dbname", origin.to_string());
    params
}

/// What `restore` and `test-restore` both start with.
struct Prepared {
    /// A session on the maintenance database of the server restored on.
    client: tokio_postgres::Client,
    /// The version of the server restored on, read once on `client`.
    server_version: crate::pg::database::ServerVersion,
    tool: PgTool,
    selected: select::Selected,
    /// The stores looked in (`--store`), for the read lock ([`read_lock`]).
    stores: Vec<crate::storage::Store>,
}

/// Connects to `server` (its maintenance database), finds a pg_restore at least as new as it, selects the backup
/// of `source_db` that `source` names, and refuses an archive version that pg_restore cannot read, all before any
/// download.
///
/// # Errors
/// See [`select::select`], [`PgTool::find`] and [`crate::pg::connect`].
async fn prepare(
    source: &SourceArgs,
    source_db: &str,
    server: &crate::pg::ConnParams,
    ctx: &crate::commands::Ctx,
    printer: &crate::printer::Printer,
) -> anyhow::Result<Prepared> {
    let stores = select_stores(
        crate::storage::Store::from_config(&ctx.settings.storage)?,
        &crate::storage::StoreKind::parse_all(&source.stores)?,
    )?;
    let client = crate::pg::connect(server, ctx.settings.session).await?;
    preflight::warn_leftovers(&client, chrono::Utc::now(), printer).await?;
    let server_version = crate::pg::database::server_version(&client).await?;
    let tool = PgTool::find("pg_restore", source.pg_restore.as_deref(), server_version.major()).await?;
    let selected = select::select(source.backup.as_deref(), source_db, &stores).await?;
    warn_unverified(&selected, printer);
    check_manifest_version(&selected, &tool)?;
    Ok(Prepared {
        client,
        server_version,
        tool,
        selected,
        stores,
    })
}

/// Refuses, before anything is downloaded, an archive version the manifest says pg_restore cannot read.
fn check_manifest_version(selected: &select::Selected, tool: &PgTool) -> anyhow::Result<()> {
    let Some(version) = selected
        .manifest
        .as_ref()
        .and_then(|m| m.archive.as_ref())
        .map(|a| a.version.clone())
    else {
        return Ok(());
    };
    let parts: Vec<u8> = version.split('.').filter_map(|p| p.parse().ok()).collect();
    let reader = crate::catalog::fetch_error::Reader {
        path: tool.path.display().to_string(),
        major: tool.major,
    };
    if let [major, minor, ..] = parts.as_slice()
        && (*major, *minor) > reader.readable()
    {
        return Err(crate::catalog::fetch_error::FetchError::UnreadableVersion { version, reader }.into());
    }
    Ok(())
}

/// Warns that a plain archive cannot be verified.
fn warn_unverified(selected: &select::Selected, printer: &crate::printer::Printer) {
    if selected.manifest.is_none() {
        printer.warn(&format!(
            "`{}` has no campctl manifest: its checksum cannot be verified; rows are compared with what the archive \
             itself holds",
            selected.name
        ));
    }
}

/// Exit status of a run whose checks failed.
fn failed_or(ok: bool) -> ExitStatus {
    if ok { ExitStatus::Success } else { ExitStatus::Failure }
}
