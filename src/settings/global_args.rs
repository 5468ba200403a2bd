//! The options every command accepts (`--config`, `--format`, `-v`, `--dry-run` …): clap's raw input of
//! [`super::GlobalSettings`], which resolves it against the environment and `campctl.toml`.
//!
//! It lives with settings, below the commands and the command line, as each command's own `…Args` lives with the
//! command that resolves it; `cli.rs` flattens it into the command tree. It must never hold a resolved value.

use std::path::PathBuf;

use clap::Args;

use crate::env_vars::EnvVars;
use crate::logging::LogFormat;
use crate::printer::{ColorChoice, OutputFormat};

/// Options that every command accepts.
#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// Configuration file [default: discovered, see docs/configuration.md]
    #[arg(global = true, long, value_name = "PATH", env = EnvVars::CAMPCTL_CONFIG, help_heading = "Global options")]
    pub config: Option<PathBuf>,

    /// Profile of the configuration file to use (`[profiles.NAME]`)
    #[arg(global = true, long, value_name = "NAME", env = EnvVars::CAMPCTL_PROFILE, help_heading = "Global options")]
    pub profile: Option<String>,

    /// Database URL or libpq key/value string; overrides the PG* variables and the file
    #[arg(
        global = true,
        long,
        value_name = "URL",
        env = EnvVars::DATABASE_URL,
        hide_env_values = true,
        help_heading = "Global options"
    )]
    pub db_url: Option<String>,

    /// Output format of reports on stdout
    #[arg(global = true, long, value_enum, env = EnvVars::CAMPCTL_FORMAT, help_heading = "Global options")]
    pub format: Option<OutputFormat>,

    /// Format of log lines on stderr
    #[arg(global = true, long, value_enum, env = EnvVars::CAMPCTL_LOG_FORMAT, help_heading = "Global options")]
    pub log_format: Option<LogFormat>,

    /// More log output (-v debug, -vv trace, -vvv trace for dependencies too)
    #[arg(global = true, short, long, action = clap::ArgAction::Count, help_heading = "Global options")]
    pub verbose: u8,

    /// Less output (-q hides progress and notes, -qq also warnings)
    #[arg(global = true, short, long, action = clap::ArgAction::Count, conflicts_with = "verbose", help_heading = "Global options")]
    pub quiet: u8,

    /// Answer yes to confirmations (needed without a terminal)
    #[arg(global = true, short = 'y', long, help_heading = "Global options")]
    pub yes: bool,

    /// Show what would be done without changing anything
    #[arg(global = true, short = 'n', long, help_heading = "Global options")]
    pub dry_run: bool,

    /// Hide progress bars (log lines are still written without a terminal)
    #[arg(global = true, long, help_heading = "Global options")]
    pub no_progress: bool,

    /// When to use colour (NO_COLOR is respected by `auto`)
    #[arg(global = true, long, value_enum, env = EnvVars::CAMPCTL_COLOR, help_heading = "Global options")]
    pub color: Option<ColorChoice>,
}
