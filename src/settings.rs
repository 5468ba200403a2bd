//! Resolution: clap's raw input + the environment + `campctl.toml` + built-in defaults → [`GlobalSettings`].
//! Commands only ever see resolved settings (flag > environment > file > default, DESIGN.md "Configuration").
//!
//! Settings sit on floor 4 (see `lib.rs`): above `pg`, `storage`, the catalog and the lock, below the commands. The
//! file's sections reach the layers below only through the conversions of `settings/inputs.rs`, and commands take
//! what they need from [`GlobalSettings`] (or their own `…Settings`) instead of calling in here while they run. This
//! module must never import a command or `cli.rs`: the raw global flags live here ([`GlobalArgs`]).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context as _;

use crate::config_file::{self, LoadedConfig};
use crate::env_vars::EnvVars;
use crate::exit::UserError;
use crate::logging::LogFormat;
use crate::pg::conninfo::{ConnSources, FileKeys};
use crate::pg::{ConnParams, SessionOptions};
use crate::printer::{ColorChoice, OutputFormat, Printer, Verbosity};
use crate::storage::StoreKeys;

pub mod azure;
mod entra;
mod global_args;
mod inputs;
pub(crate) mod logs;
pub(crate) mod logs_workspace;
pub mod notify;
pub(crate) mod stores;
pub use global_args::GlobalArgs;

/// Everything every command may use, resolved once.
#[derive(Debug, Clone)]
pub struct GlobalSettings {
    pub format: OutputFormat,
    pub log_format: LogFormat,
    /// `-v` count minus `-q` count.
    pub verbosity: i8,
    pub color: bool,
    pub yes: bool,
    pub dry_run: bool,
    pub progress: bool,
    pub config: LoadedConfig,
    pub db: ConnParams,
    pub session: SessionOptions,
    /// The effective OS user's name, libpq's default user (for connection strings resolved later, e.g.
    /// `--target-url`).
    pub os_user: Option<String>,
    /// The home directory (for `~/.pgpass` and `~/.postgresql/root.crt` of those connection strings).
    pub home: Option<PathBuf>,
    /// `[storage]` as `storage` reads it (converted once here; the stores themselves are resolved by the
    /// commands that use them, with the environment's overrides).
    pub storage: StoreKeys,
    /// Where each `[output]` value, the session timeouts and the `[stats]` defaults came from, for `config show`:
    /// `flag or environment`, `config file` or `default` (keyed `output.format`, `database.lock_timeout`, ...).
    pub sources: BTreeMap<&'static str, &'static str>,
}

/// The layer a value came from: given on the command line (or by its variable, which clap reads as the flag), in
/// the file, or neither.
fn layer(flag: bool, file: bool) -> &'static str {
    if flag {
        "flag or environment"
    } else if file {
        "config file"
    } else {
        "default"
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// The home directory (for `~/.pgpass`, `~/.postgresql/root.crt`, `~/.config`).
pub fn home_dir() -> Option<PathBuf> {
    env(EnvVars::HOME).map(PathBuf::from)
}

/// Whether colour is wanted on stderr.
pub fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => env(EnvVars::NO_COLOR).is_none() && std::io::stderr().is_terminal(),
    }
}

impl GlobalSettings {
    /// Loads the configuration file and resolves every global setting.
    ///
    /// # Errors
    /// An unreadable or invalid file, an unknown profile, or an invalid connection parameter (exit 2).
    pub fn resolve(args: &GlobalArgs) -> anyhow::Result<Self> {
        let cwd = std::env::current_dir().context("Failed to read the current directory")?;
        let candidates =
            config_file::discovery_paths(&cwd, env(EnvVars::XDG_CONFIG_HOME).map(PathBuf::from), home_dir());
        let config = config_file::load(args.config.as_deref(), &candidates, args.profile.as_deref())?;
        let file = &config.sections;

        let libpq: BTreeMap<&'static str, String> = EnvVars::LIBPQ
            .iter()
            .filter_map(|name| env(name).map(|value| (*name, value)))
            .collect();
        let url_label = if std::env::args_os().any(|arg| arg.to_string_lossy().starts_with("--db-url")) {
            "--db-url"
        } else {
            "DATABASE_URL"
        };
        // With a profile, the top level's `[database]` and the profile's own are two layers (a password stays
        // with the user and host of its layer); without one, the file is one layer.
        let (file_keys, profile_keys) = match &config.database_layers {
            Some((top, own)) => (FileKeys::from(top), Some(FileKeys::from(own))),
            None => (FileKeys::from(&file.database), None),
        };
        let sources = |file_keys, profile_keys| ConnSources {
            file: Some(file_keys),
            profile: profile_keys,
            env: libpq.clone(),
            url: args.db_url.as_deref().map(|url| (url, url_label)),
            os_user: crate::os::os_user(),
            home: home_dir(),
            standalone: false,
        };
        let mut db = match ConnParams::resolve(&sources(&file_keys, profile_keys.as_ref())) {
            Ok(db) => db,
            Err(err) => {
                // A bad `[database] sslmode` that is the value in use (no variable or URL overrides it): name its
                // file, line and key rather than only "config file".
                if let Err(bad) = config.value("[database] sslmode", file.database.sslmode.as_ref()) {
                    let without = |keys: &FileKeys| FileKeys {
                        sslmode: None,
                        ..keys.clone()
                    };
                    let profile_without = profile_keys.as_ref().map(without);
                    if ConnParams::resolve(&sources(&without(&file_keys), profile_without.as_ref())).is_ok() {
                        return Err(bad.into());
                    }
                }
                return Err(err.into());
            }
        };
        // `[database] auth = "entra"`: the token comes from `[azure]`'s credential, fetched per session.
        entra::wire(&mut db, &config)?;

        let value_sources = BTreeMap::from([
            (
                "output.format",
                layer(args.format.is_some(), file.output.format.is_some()),
            ),
            (
                "output.log_format",
                layer(args.log_format.is_some(), file.output.log_format.is_some()),
            ),
            ("output.color", layer(args.color.is_some(), file.output.color.is_some())),
            (
                "output.progress",
                layer(args.no_progress, file.output.progress.is_some()),
            ),
            (
                "database.statement_timeout",
                layer(false, file.database.statement_timeout.is_some()),
            ),
            (
                "database.lock_timeout",
                layer(false, file.database.lock_timeout.is_some()),
            ),
            ("stats.limit", layer(false, file.stats.limit.is_some())),
            ("stats.min_duration", layer(false, file.stats.min_duration.is_some())),
        ]);
        let color = use_color(args.color.or(file.output.color).unwrap_or_default());
        let log_format = args.log_format.or(file.output.log_format).unwrap_or_default();
        Ok(Self {
            format: args.format.or(file.output.format).unwrap_or_default(),
            log_format,
            verbosity: i8::try_from(args.verbose).unwrap_or(i8::MAX) - i8::try_from(args.quiet).unwrap_or(i8::MAX),
            color,
            yes: args.yes,
            dry_run: args.dry_run,
            // A progress bar is not a JSON line: with JSON logs, progress is logged (as without a terminal).
            progress: !args.no_progress
                && file.output.progress.unwrap_or(true)
                && log_format == LogFormat::Text
                && std::io::stderr().is_terminal(),
            session: SessionOptions {
                statement_timeout: file.database.statement_timeout,
                lock_timeout: file.database.lock_timeout,
            },
            storage: {
                let mut storage = StoreKeys::from(&file.storage);
                if let Some(local) = storage.local.as_mut() {
                    local.path_origin = config.origin_of("storage.local", "path");
                }
                storage
            },
            sources: value_sources,
            config,
            db,
            os_user: crate::os::os_user(),
            home: home_dir(),
        })
    }

    /// A connection string taken on its own (`--target-url`, `[test_restore] target_url`): neither the `PG*`
    /// variables nor `[database]` apply; the password comes from the string, its `passfile=` or `~/.pgpass`, and a
    /// `service=` is found as libpq finds it (`PGSERVICEFILE`, `PGSYSCONFDIR`).
    ///
    /// # Errors
    /// A malformed string or an undefined service (exit 2).
    pub fn standalone_connection(&self, url: &str, label: &'static str) -> Result<ConnParams, UserError> {
        let env = [EnvVars::PGSERVICEFILE, EnvVars::PGSYSCONFDIR]
            .into_iter()
            .filter_map(|name| env(name).map(|value| (name, value)))
            .collect();
        ConnParams::resolve(&ConnSources {
            file: None,
            profile: None,
            env,
            url: Some((url, label)),
            os_user: self.os_user.clone(),
            home: self.home.clone(),
            standalone: true,
        })
    }

    /// The printer for this run.
    pub fn printer(&self) -> Printer {
        let verbosity = match self.verbosity {
            i8::MIN..=-2 => Verbosity::Silent,
            -1 => Verbosity::Quiet,
            0 => Verbosity::Default,
            _ => Verbosity::Verbose,
        };
        Printer {
            format: self.format,
            verbosity,
            color: self.color,
            progress: self.progress && self.verbosity <= 0,
            json_logs: self.log_format == LogFormat::Json,
        }
    }
}
