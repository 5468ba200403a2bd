//! campctl: the maintenance runbook for PostgreSQL + Azure as one CLI.
//!
//! `main.rs` parses the command line and calls [`run`]; [`run`] resolves settings and dispatches to one command.
//!
//! # Layers
//!
//! The modules stand on floors, and imports only go down (or stay on their floor without a circle). A module never
//! imports one above it: what two modules of a floor share moves down to a shared home. `tests/cli/layers.rs`
//! holds the same table and fails on an upward import, naming the file and line.
//!
//! ```text
//!  6  cli (clap tree)  ·  lib.rs (this file: `run`, the one dispatch match)  ·  main.rs (the binary)
//!        │
//!  5  commands/        backup, restore, test-restore, vacuum, reindex, stats, health, logs, schedule, notify, config
//!        │
//!  4  settings         GlobalSettings, GlobalArgs (clap's raw global input); converts the file's sections
//!     config_file      into the input types of pg and storage (`settings/inputs.rs`); config_file is the pure
//!     diagnostics      serde schema of campctl.toml; diagnostics renders errors and knows every classified type
//!        │
//!  3  catalog  lock  interrupt    what several commands share: backups and manifests, locks, undo after Ctrl-C,
//!     logs                        the application's JSON log files read into reports
//!        │
//!  2  pg  storage  azure          services; each owns its input types (`pg::conninfo::FileKeys`,
//!     http  notify                `storage::StoreKeys`, `pg::SessionOptions`, `notify::NotifySettings`) and
//!        │                        never reads config_file; http is the rustls config of HTTPS clients
//!  1  printer  progress  logging  output, with the output enums (`printer::{OutputFormat, ColorChoice}`,
//!        │                        `logging::LogFormat`) that cli, config_file and settings re-use
//!  0  exit  os  units  env_vars  stderr  status  leaves: exit codes and `Classify`/`UserError`, safe OS calls,
//!     dump_options                               sizes and durations, variable names, stderr lines, report status,
//!                                                a dump's compression and row-count choice
//! ```
//!
//! Test code (`#[cfg(test)]` items, `fuzz.rs`, `tests.rs`) may use any layer to build its input.

// `unsafe` lives in `os` alone (safe wrappers of the libc calls); the compiler keeps it so.
#![deny(unsafe_code)]
// Items only the crate uses are `pub(crate)`, so that what nothing uses shows as dead code.
#![warn(unreachable_pub)]

pub mod azure;
pub(crate) mod catalog;
pub mod cli;
pub(crate) mod commands;
pub mod config_file;
pub mod diagnostics;
pub mod dump_options;
pub(crate) mod env_vars;
pub mod exit;
pub(crate) mod http;
pub mod interrupt;
pub mod lock;
pub mod logging;
pub(crate) mod logs;
pub mod notify;
#[expect(
    unsafe_code,
    reason = "the one home of the crate's libc calls, each with a SAFETY note"
)]
pub(crate) mod os;
pub mod pg;
pub mod printer;
pub(crate) mod progress;
pub mod settings;
pub(crate) mod status;
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
    if settings.format.is_health_only() && !matches!(cli.command, Command::Health(_)) {
        return Err(exit::UserError::usage(format!(
            "`--format {}` is only for `campctl health`",
            settings.format.name()
        ))
        .with_hint("Use `--format table`, `json` or `csv` (check `[output] format` in campctl.toml too)")
        .into());
    }
    let ctx = Ctx { settings };
    match cli.command {
        Command::Backup(args) => Box::pin(commands::backup::backup(*args, &ctx, &printer)).await,
        Command::Restore(args) => Box::pin(commands::restore::restore::restore(*args, &ctx, &printer)).await,
        Command::TestRestore(args) => {
            Box::pin(commands::restore::test_restore::test_restore(*args, &ctx, &printer)).await
        }
        Command::Vacuum(args) => Box::pin(commands::maintenance::vacuum::vacuum(*args, &ctx, &printer)).await,
        Command::Reindex(args) => Box::pin(commands::maintenance::reindex::reindex(*args, &ctx, &printer)).await,
        Command::Stats(args) => Box::pin(commands::stats::stats(*args, &ctx, &printer)).await,
        Command::Health(args) => Box::pin(commands::health::health(*args, &ctx, &printer)).await,
        Command::Logs(args) => Box::pin(commands::logs::logs(*args, &ctx, &printer)).await,
        Command::Schedule(args) => commands::schedule::schedule(&args, &ctx, &printer),
        Command::Cleanup(args) => Box::pin(commands::cleanup::cleanup(*args, &ctx, &printer)).await,
        Command::Config(args) => commands::config::config(args, &ctx, &printer).await,
        Command::Notify(args) => commands::notify::notify(args, &ctx, &printer).await,
    }
}

/// What a notification of this run needs to know from the command line and the settings, taken before [`run`]
/// consumes them (`[notify]`, docs/notify.md). `main` sends it with [`RunNotice::send`] once the command and the
/// interrupt clean-up are done.
#[derive(Debug)]
pub struct RunNotice {
    settings: notify::NotifySettings,
    command: String,
    database: Option<String>,
    server: String,
    started_at: chrono::DateTime<chrono::Utc>,
}

impl RunNotice {
    /// `None` without a webhook URL (nothing is sent, nothing waits) and for `campctl notify …` itself (which
    /// reports its own answer).
    ///
    /// # Errors
    /// A bad `[notify]` value or `CAMPCTL_NOTIFY_WEBHOOK_URL` (exit 2), before the command runs.
    pub fn new(
        cli: &Cli,
        command: String,
        settings: &GlobalSettings,
        started_at: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<Option<Self>> {
        if matches!(cli.command, Command::Notify(_)) {
            return Ok(None);
        }
        let Some(notify) = settings::notify::resolve(&settings.config)? else {
            return Ok(None);
        };
        let database = match &cli.command {
            Command::Backup(args) if args.command.is_none() => args.dump.database.clone(),
            Command::Restore(args) => args.to.clone(),
            _ => None,
        }
        .or_else(|| Some(settings.db.dbname.clone()).filter(|name| !name.is_empty()));
        Ok(Some(Self {
            settings: notify,
            command,
            database,
            server: format!("{}:{}", settings.db.host, settings.db.port),
            started_at,
        }))
    }

    /// Sends the run's outcome when `[notify] on` names it. A failed notification is a warning on stderr; the
    /// exit code stays the command's own.
    pub async fn send(&self, result: Result<ExitStatus, &anyhow::Error>) {
        let (status, error) = match result {
            Ok(ExitStatus::Interrupted) => (
                ExitStatus::Interrupted,
                Some("interrupted (Ctrl-C or SIGTERM)".to_string()),
            ),
            Ok(status) => (status, None),
            Err(err) if exit::is_broken_pipe(err) => (ExitStatus::Success, None),
            Err(err) => (diagnostics::status_of(err), Some(format!("{err:#}"))),
        };
        let outcome = notify::Outcome {
            command: self.command.clone(),
            host: os::hostname(),
            database: self.database.clone(),
            server: Some(self.server.clone()),
            exit_code: status.code(),
            status: notify::Event::of(status),
            error,
            started_at: self.started_at,
            finished_at: chrono::Utc::now(),
        };
        notify::deliver(&self.settings, &outcome).await;
    }
}

/// The `--junit PATH` of a `test-restore` command line, known once the command line is parsed.
#[must_use]
pub fn junit_path(cli: &Cli) -> Option<std::path::PathBuf> {
    match &cli.command {
        Command::TestRestore(args) => args.junit.clone(),
        _ => None,
    }
}

/// Makes a `test-restore --junit PATH` that ended without its report (a usage, settings or connection error, a
/// missing backup, Ctrl-C or SIGTERM) replace PATH with a JUnit document whose one test case is that error, so that
/// a passing report of an earlier run never survives a failed one (issue 16, item 10). A run that wrote its report
/// (exit 0 or 1) and a closed stdout (exit 0) leave the file as it is. Called by `main` on every exit; a file that
/// cannot be written is a warning (the run's own error is the one to report).
pub fn junit_on_failure(
    path: Option<&std::path::Path>,
    outcome: Result<ExitStatus, &anyhow::Error>,
    started_at: chrono::DateTime<chrono::Utc>,
    json_logs: bool,
) {
    let Some(path) = path else { return };
    let (message, detail, code) = match outcome {
        Ok(ExitStatus::Interrupted) => (
            "test-restore was interrupted (Ctrl-C or SIGTERM) before it finished".to_string(),
            "interrupted: the scratch database was dropped and nothing was recorded".to_string(),
            ExitStatus::Interrupted.code(),
        ),
        Ok(_) => return,
        Err(err) if exit::is_broken_pipe(err) => return,
        Err(err) => (
            err.to_string(),
            diagnostics::render(err, false),
            diagnostics::status_of(err).code(),
        ),
    };
    let xml = commands::restore::junit::render_error(&message, detail.trim_end(), code, started_at);
    if let Err(err) = commands::restore::junit::write(path, &xml) {
        let message = format!("{err:#}");
        stderr::write_stderr(&if json_logs {
            stderr::json_line("WARN", &message, serde_json::Map::new())
        } else {
            format!("{}\n", exit::warning(&message, false))
        });
    }
}
