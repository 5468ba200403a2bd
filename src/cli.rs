//! The clap command tree: raw input only. `settings.rs` resolves it against the environment and `campctl.toml`.
//!
//! [`Cli::parse_env`] is how `main` parses: as `Cli::parse`, except that an environment variable clap reads and
//! that is set to the empty string counts as unset. `CAMPCTL_PROFILE=` or `CAMPCTL_FORMAT=` in a crontab, a
//! systemd unit or a Kubernetes manifest means "not set", as an empty `PG*` variable does for libpq.

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

use crate::commands::backup::BackupArgs;
use crate::commands::cleanup::CleanupArgs;
use crate::commands::config::ConfigArgs;
use crate::commands::health::HealthArgs;
use crate::commands::logs::LogsArgs;
use crate::commands::maintenance::reindex::ReindexArgs;
use crate::commands::maintenance::vacuum::VacuumArgs;
use crate::commands::notify::NotifyArgs;
use crate::commands::restore::{RestoreArgs, TestRestoreArgs};
use crate::commands::schedule::ScheduleArgs;
use crate::commands::stats::StatsArgs;
use crate::env_vars::EnvVars;
pub use crate::settings::GlobalArgs;

/// Maintenance runbook for PostgreSQL + Azure as one safe, scriptable CLI
///
/// campctl turns the runbook's backup, restore, maintenance and monitoring procedures into commands that are
/// safe by default, speak JSON, and exit with codes that mean something (0 ok, 1 negative answer, 2 usage,
/// 3 partial, 10 not found, 11 lock held, 12 authentication failed, 130 interrupted).
#[derive(Debug, Parser)]
#[command(name = "campctl", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    #[command(flatten)]
    pub global: GlobalArgs,
}

impl Cli {
    /// Parses the command line and the environment; an empty environment variable counts as unset.
    ///
    /// # Errors
    /// A usage error, or `--help` / `--version` (which clap reports as errors to be printed).
    pub fn parse_env() -> Result<Self, clap::Error> {
        Self::parse_env_with_path().map(|(cli, _)| cli)
    }

    /// [`Cli::parse_env`], with the subcommand path as typed (`backup`, `backup files`, `test-restore`): the
    /// command a notification names.
    ///
    /// # Errors
    /// As [`Cli::parse_env`].
    pub fn parse_env_with_path() -> Result<(Self, String), clap::Error> {
        let matches = unset_empty_env(Self::command()).try_get_matches()?;
        let mut path = Vec::new();
        let mut level = &matches;
        while let Some((name, sub)) = level.subcommand() {
            path.push(name.to_string());
            level = sub;
        }
        Ok((Self::from_arg_matches(&matches)?, path.join(" ")))
    }

    /// Whether the raw command line or `CAMPCTL_LOG_FORMAT` asks for JSON logs: for errors found before (or
    /// while) the command line is parsed.
    pub fn json_logs_requested() -> bool {
        let args: Vec<String> = std::env::args().collect();
        let flag = args.iter().enumerate().find_map(|(index, arg)| {
            if arg == "--log-format" {
                args.get(index + 1).cloned()
            } else {
                arg.strip_prefix("--log-format=").map(str::to_string)
            }
        });
        flag.or_else(|| std::env::var(EnvVars::CAMPCTL_LOG_FORMAT).ok())
            .is_some_and(|format| format.eq_ignore_ascii_case("json"))
    }
}

/// Drops the environment binding of every argument whose variable is set but empty, in every subcommand.
fn unset_empty_env(command: clap::Command) -> clap::Command {
    command
        .mut_args(|arg| {
            let empty = arg
                .get_env()
                .and_then(std::env::var_os)
                .is_some_and(|value| value.is_empty());
            if empty { arg.env(None::<&'static str>) } else { arg }
        })
        .mut_subcommands(unset_empty_env)
}

#[derive(Debug, Subcommand)]
pub enum Command {
    // The summaries of every command but config come from their Args' doc comments (with the long description):
    // a doc comment here would replace both and hide the long description from --help.
    Backup(Box<BackupArgs>),
    Restore(Box<RestoreArgs>),
    TestRestore(Box<TestRestoreArgs>),
    Vacuum(Box<VacuumArgs>),
    Reindex(Box<ReindexArgs>),
    Stats(Box<StatsArgs>),
    Health(Box<HealthArgs>),
    Logs(Box<LogsArgs>),
    Schedule(Box<ScheduleArgs>),
    Cleanup(Box<CleanupArgs>),
    /// Show or check the resolved configuration
    Config(ConfigArgs),
    /// Send a sample notification to the webhook of `[notify]`
    Notify(NotifyArgs),
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        super::Cli::command().debug_assert();
    }
}
