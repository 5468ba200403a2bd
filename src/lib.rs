//! campctl: the maintenance runbook for PostgreSQL + Azure as one CLI.
//!
//! `main.rs` parses the command line and calls [`run`]; [`run`] resolves settings and dispatches to one command.

pub mod azure;
pub mod catalog;
pub mod cleanup;
pub mod cli;
pub mod commands;
pub mod config_file;
pub mod diagnostics;
pub mod env_vars;
pub mod exit;
pub mod lock;
pub mod logging;
pub mod pg;
pub mod printer;
pub mod progress;
pub mod settings;
pub mod status;
pub mod stderr;
pub mod storage;
pub mod units;

use cli::{Cli, Command};
use commands::Ctx;
use exit::ExitStatus;
use printer::Printer;
use settings::GlobalSettings;

/// Runs one command: the single dispatch `match`.
///
/// # Errors
/// Whatever the command failed with; `main` maps it to an exit code.
pub async fn run(cli: Cli, settings: GlobalSettings, printer: Printer) -> anyhow::Result<ExitStatus> {
    let ctx = Ctx { settings };
    match cli.command {
        Command::Backup(args) => Box::pin(commands::backup::backup(*args, &ctx, &printer)).await,
        Command::Restore(args) => Box::pin(commands::restore::swap::restore(*args, &ctx, &printer)).await,
        Command::TestRestore(args) => {
            Box::pin(commands::restore::test_restore::test_restore(*args, &ctx, &printer)).await
        }
        Command::Vacuum(args) => Box::pin(commands::maintenance::vacuum::vacuum(*args, &ctx, &printer)).await,
        Command::Reindex(args) => Box::pin(commands::maintenance::reindex::reindex(*args, &ctx, &printer)).await,
        Command::Stats(args) => Box::pin(commands::stats::stats(*args, &ctx, &printer)).await,
        Command::Config(args) => commands::config::config(args, &ctx, &printer).await,
    }
}
