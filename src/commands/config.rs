//! `campctl config show|check`: the resolved configuration (secrets redacted) and its validation ([`check`]).
//!
//! `config show` prints every section of the file. Secrets (the database password, `[storage.azure]`
//! `connection_string` and `sas_token`, a password inside `[test_restore] target_url`) are never printed: only
//! whether they are set. The resolved stores are listed with the credential each one uses.

mod check;
mod check_report;
mod sections;

use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use serde::Serialize;

use crate::commands::Ctx;
use crate::config_file::{AzureStoreConfig, BackupConfig, LocalStoreConfig, RestoreConfig, SqlCheck};
use crate::exit::ExitStatus;
use crate::printer::{Cell, Printer, Report, Table};
use crate::storage::Store;

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the resolved configuration with the source of each database value; secrets are redacted
    Show,
    /// Validate every section, try the database and every store (list, write a probe object), check pg_dump
    Check,
}

/// `config show` in JSON.
#[derive(Debug, Serialize)]
struct ShowReport<'a> {
    config_file: Option<String>,
    profile: Option<&'a str>,
    database: &'a crate::pg::ConnParams,
    database_sources: &'a crate::pg::conninfo::Origins,
    statement_timeout: Option<String>,
    lock_timeout: Option<String>,
    output: OutputView,
    stats: &'a crate::config_file::StatsConfig,
    backup: &'a BackupConfig,
    storage: StorageView,
    restore: &'a RestoreConfig,
    test_restore: TestRestoreView<'a>,
    /// `[health]` as written (unset keys `null`; `campctl health` applies the defaults of docs/health.md).
    health: &'a crate::config_file::HealthConfig,
    /// `[notify]` with `webhook_url` replaced by whether it is set (from the file or `CAMPCTL_NOTIFY_WEBHOOK_URL`).
    notify: crate::config_file::NotifyConfig,
    /// `[schedule]` as written (unset keys `null`; `campctl schedule` applies the runbook's calendar, docs/schedule.md).
    schedule: &'a crate::config_file::ScheduleConfig,
    /// `[retention]` as written (unset keys show `campctl cleanup`'s default, docs/retention.md).
    retention: &'a crate::config_file::RetentionConfig,
    /// `[cleanup]` as written.
    cleanup: &'a crate::config_file::CleanupConfig,
    /// `[azure]` as written (no secrets live there; unset keys `null`, defaults in docs/azure.md).
    azure: &'a crate::config_file::AzureConfig,
    /// `[logs]` as written (unset keys `null`, defaults in docs/logs.md).
    logs: &'a crate::config_file::LogsConfig,
    /// The default of each `section.key` that `backup`, `restore` and `test-restore` resolve.
    #[serde(skip)]
    defaults: BTreeMap<&'static str, serde_json::Value>,
    /// Each `[backup]`, `[restore]` and `[test_restore]` key: the value a command uses (the file's, else its
    /// default) and where it came from (`config file` or `default`).
    command_sources: BTreeMap<String, Sourced>,
    /// Where each `[output]` value, the session timeouts and the `[stats]` keys came from (`flag or environment`,
    /// `config file`, `default`).
    sources: &'a BTreeMap<&'static str, &'static str>,
}

/// A value and the layer it came from.
#[derive(Debug, Serialize)]
struct Sourced {
    value: serde_json::Value,
    source: &'static str,
}

impl ShowReport<'_> {
    /// The source column of a key resolved in `GlobalSettings` (`sources`).
    fn source_of(&self, key: &str) -> Cell {
        self.sources.get(key).map_or(Cell::Null, |source| (*source).into())
    }

    /// Fills [`ShowReport::command_sources`] from the sections as shown (`[test_restore] target_url` only as where it
    /// points) and the defaults.
    fn with_command_sources(mut self) -> Self {
        let test_restore = serde_json::json!({
            "target_url": self.test_restore.target,
            "jobs": self.test_restore.jobs,
        });
        let sections = [
            ("backup", serde_json::to_value(self.backup).unwrap_or_default()),
            ("restore", serde_json::to_value(self.restore).unwrap_or_default()),
            ("test_restore", test_restore),
        ];
        for (prefix, section) in sections {
            let serde_json::Value::Object(map) = section else {
                continue;
            };
            for (key, value) in map {
                let name = format!("{prefix}.{key}");
                let sourced = match (value, self.defaults.get(name.as_str())) {
                    (serde_json::Value::Null, Some(default)) => Sourced {
                        value: default.clone(),
                        source: "default",
                    },
                    (serde_json::Value::Null, None) => Sourced {
                        value: serde_json::Value::Null,
                        source: "default",
                    },
                    (value, _) => Sourced {
                        value,
                        source: "config file",
                    },
                };
                self.command_sources.insert(name, sourced);
            }
        }
        self
    }
}

/// `[storage]` with its secrets replaced by whether they are set, and the stores it resolves to.
#[derive(Debug, Serialize)]
struct StorageView {
    local: Option<LocalStoreConfig>,
    azure: Option<AzureStoreConfig>,
    /// `local:/path` / `azure:https://…/container/prefix` with the credential used.
    stores: Vec<StoreView>,
    /// Why the stores could not be resolved (`config check` says more).
    #[serde(skip_serializing_if = "Option::is_none")]
    stores_error: Option<String>,
}

#[derive(Debug, Serialize)]
struct StoreView {
    label: String,
    credential: Option<String>,
}

/// `[notify]` as shown: the webhook URL is a secret (its path or query is the credential), so only whether it is
/// set, and by which layer.
fn notify_view(file: &crate::config_file::NotifyConfig) -> crate::config_file::NotifyConfig {
    let from_env =
        std::env::var(crate::env_vars::EnvVars::CAMPCTL_NOTIFY_WEBHOOK_URL).is_ok_and(|value| !value.trim().is_empty());
    let mut view = file.clone();
    view.webhook_url = if from_env {
        Some(format!(
            "{SET} by {}",
            crate::env_vars::EnvVars::CAMPCTL_NOTIFY_WEBHOOK_URL
        ))
    } else {
        file.webhook_url.as_ref().map(|_| SET.into())
    };
    view
}

/// The defaults `[notify]` resolves to (`settings::notify`).
fn notify_defaults() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        ("notify.format", crate::notify::Format::default().name().into()),
        ("notify.on", serde_json::json!([crate::notify::Event::Failure.name()])),
        (
            "notify.timeout",
            crate::units::HumanDuration(crate::notify::DEFAULT_TIMEOUT)
                .to_string()
                .into(),
        ),
    ]
}

/// `[test_restore]` with the target URL reduced to where it points.
#[derive(Debug, Serialize)]
struct TestRestoreView<'a> {
    /// `host:port/dbname` of `target_url` (its password is never shown).
    target: Option<String>,
    jobs: Option<&'a crate::config_file::FileValue<crate::dump_options::Jobs>>,
    checks: &'a [SqlCheck],
}

const SET: &str = "******** (set)";

impl StorageView {
    fn new(config: &crate::config_file::StorageConfig) -> Self {
        let azure = config.azure.clone().map(|mut azure| {
            azure.connection_string = azure.connection_string.map(|_| SET.into());
            azure.sas_token = azure.sas_token.map(|_| SET.into());
            azure
        });
        let stores = Store::from_config(&crate::storage::StoreKeys::from(config))
            .map(|stores| {
                stores
                    .iter()
                    .map(|store| StoreView {
                        label: store.label(),
                        credential: match store {
                            Store::Local(_) => None,
                            Store::Azure(azure) => Some(azure.settings().auth.describe()),
                        },
                    })
                    .collect()
            })
            .map_err(|err| crate::diagnostics::one_line(&err));
        let (stores, stores_error) = match stores {
            Ok(stores) => (stores, None),
            Err(err) => (Vec::new(), Some(err)),
        };
        Self {
            local: config.local.clone(),
            azure,
            stores,
            stores_error,
        }
    }
}

/// A row per key of a serialised section: `prefix.key` → its value and where it came from (`config file`, or `default`
/// with the value the command's resolver uses; `-` when there is none), so that every key of the file appears,
/// also keys added later.
fn section_rows(
    table: &mut Table,
    prefix: &str,
    section: &impl Serialize,
    defaults: &BTreeMap<&str, serde_json::Value>,
) {
    let Ok(serde_json::Value::Object(map)) = serde_json::to_value(section) else {
        return;
    };
    for (key, value) in map {
        let name = format!("{prefix}.{key}");
        match value {
            serde_json::Value::Null => match defaults.get(name.as_str()) {
                Some(default) => table.row(vec![name.into(), json_text(default).into(), "default".into()]),
                None => table.row(vec![name.into(), Cell::Null, "".into()]),
            },
            serde_json::Value::String(text) => table.row(vec![name.into(), text.into(), "config file".into()]),
            serde_json::Value::Object(_) => section_rows(table, &name, &value, defaults),
            other => table.row(vec![name.into(), other.to_string().into(), "config file".into()]),
        }
    }
}

/// A JSON value as the table shows it: a string without quotes.
fn json_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A value of the file, else its default, with where it came from.
fn file_or_default(value: Option<String>, key: &str, defaults: &BTreeMap<&str, serde_json::Value>) -> [Cell; 2] {
    match (value, defaults.get(key)) {
        (Some(value), _) => [value.into(), "config file".into()],
        (None, Some(default)) => [json_text(default).into(), "default".into()],
        (None, None) => [Cell::Null, "".into()],
    }
}

#[derive(Debug, Serialize)]
struct OutputView {
    format: crate::printer::OutputFormat,
    log_format: crate::logging::LogFormat,
    color: bool,
    progress: bool,
}

impl Report for ShowReport<'_> {
    fn tables(&self) -> Vec<Table> {
        let mut table = Table::new("Resolved configuration", &["key", "value", "source"]);
        let file = self
            .config_file
            .clone()
            .unwrap_or_else(|| "(none found: built-in defaults)".into());
        table.row(vec!["config_file".into(), file.into(), "".into()]);
        table.row(vec!["profile".into(), Cell::opt(self.profile), "".into()]);
        let db = self.database;
        let source = |key: &str| {
            Cell::Text(
                self.database_sources
                    .get(key)
                    .cloned()
                    .unwrap_or_else(|| "default".into()),
            )
        };
        let password = if db.auth == crate::pg::conninfo::AuthMethod::Entra {
            "(an Entra ID token, fetched for each session)"
        } else if db.password.is_some() {
            "******** (set)"
        } else {
            "(not set)"
        };
        for (key, value) in [
            ("database.host", db.host.clone()),
            ("database.port", db.port.to_string()),
            ("database.user", db.user.clone()),
            ("database.auth", db.auth.to_string()),
            ("database.password", password.to_string()),
            ("database.dbname", db.dbname.clone()),
            ("database.sslmode", db.sslmode.to_string()),
            (
                "database.sslrootcert",
                db.sslrootcert.as_ref().map_or("-".into(), |p| p.display().to_string()),
            ),
            (
                "database.connect_timeout",
                if db.connect_timeout == crate::pg::conninfo::WAIT_FOREVER {
                    "0 (wait forever)".to_string()
                } else {
                    format!("{}s", db.connect_timeout.as_secs())
                },
            ),
            ("database.application_name", db.application_name.clone()),
        ] {
            let short = key.trim_start_matches("database.");
            let origin = if key == "database.password"
                && db.password.is_none()
                && db.auth != crate::pg::conninfo::AuthMethod::Entra
            {
                Cell::Null
            } else {
                source(short)
            };
            table.row(vec![key.into(), value.into(), origin]);
        }
        for (key, value) in [
            ("database.statement_timeout", &self.statement_timeout),
            ("database.lock_timeout", &self.lock_timeout),
        ] {
            table.row(vec![
                key.into(),
                value.clone().unwrap_or_else(|| "(server default)".into()).into(),
                self.source_of(key),
            ]);
        }
        table.row(vec![
            "output.format".into(),
            format!("{:?}", self.output.format).to_lowercase().into(),
            self.source_of("output.format"),
        ]);
        table.row(vec![
            "output.log_format".into(),
            format!("{:?}", self.output.log_format).to_lowercase().into(),
            self.source_of("output.log_format"),
        ]);
        table.row(vec![
            "output.color".into(),
            self.output.color.into(),
            self.source_of("output.color"),
        ]);
        table.row(vec![
            "stats.limit".into(),
            i64::from(self.stats.limit.unwrap_or(crate::commands::stats::DEFAULT_LIMIT)).into(),
            self.source_of("stats.limit"),
        ]);
        table.row(vec![
            "stats.min_duration".into(),
            self.stats
                .min_duration
                .map_or_else(
                    || crate::units::HumanDuration(crate::commands::stats::DEFAULT_MIN_DURATION).to_string(),
                    |d| d.to_string(),
                )
                .into(),
            self.source_of("stats.min_duration"),
        ]);
        section_rows(&mut table, "backup", self.backup, &self.defaults);
        table.row(vec![
            "storage.local".into(),
            if self.storage.local.is_some() {
                ""
            } else {
                "(not set: default)"
            }
            .into(),
            "".into(),
        ]);
        if let Some(local) = &self.storage.local {
            section_rows(&mut table, "storage.local", local, &self.defaults);
        }
        table.row(vec![
            "storage.azure".into(),
            if self.storage.azure.is_some() { "" } else { "(not set)" }.into(),
            "".into(),
        ]);
        if let Some(azure) = &self.storage.azure {
            section_rows(&mut table, "storage.azure", azure, &self.defaults);
        }
        for store in &self.storage.stores {
            let value = match &store.credential {
                Some(credential) => format!("{} with {credential}", store.label),
                None => store.label.clone(),
            };
            table.row(vec!["storage.store".into(), value.into(), "resolved".into()]);
        }
        if let Some(err) = &self.storage.stores_error {
            table.row(vec![
                "storage.store".into(),
                format!("invalid: {err}").into(),
                "".into(),
            ]);
        }
        section_rows(&mut table, "restore", self.restore, &self.defaults);
        for (key, value) in [
            ("test_restore.target_url", self.test_restore.target.clone()),
            (
                "test_restore.jobs",
                self.test_restore.jobs.map(|jobs| jobs.text().to_string()),
            ),
        ] {
            let [value, source] = file_or_default(value, key, &self.defaults);
            table.row(vec![key.into(), value, source]);
        }
        for check in self.test_restore.checks {
            table.row(vec![
                "test_restore.checks".into(),
                format!("{}: `{}` = {}", check.name, check.sql, check.expect).into(),
                "".into(),
            ]);
        }
        section_rows(&mut table, "health", self.health, &self.defaults);
        section_rows(&mut table, "notify", &self.notify, &self.defaults);
        section_rows(&mut table, "schedule", self.schedule, &self.defaults);
        section_rows(&mut table, "retention", self.retention, &self.defaults);
        section_rows(&mut table, "cleanup", self.cleanup, &self.defaults);
        section_rows(&mut table, "azure", self.azure, &self.defaults);
        vec![table]
    }
}

/// Runs `campctl config …`.
///
/// # Errors
/// The database connection failed (with its own exit code), or stdout could not be written.
pub(crate) async fn config(args: ConfigArgs, ctx: &Ctx, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let settings = &ctx.settings;
    match args.command {
        ConfigCommand::Show => {
            let report = ShowReport {
                config_file: settings.config.path.as_ref().map(|p| p.display().to_string()),
                profile: settings.config.profile.as_deref(),
                database: &settings.db,
                database_sources: &settings.db.origins,
                statement_timeout: settings.session.statement_timeout.map(|d| d.to_string()),
                lock_timeout: settings.session.lock_timeout.map(|d| d.to_string()),
                output: OutputView {
                    format: settings.format,
                    log_format: settings.log_format,
                    color: settings.color,
                    progress: settings.progress,
                },
                stats: &settings.config.sections.stats,
                backup: &settings.config.sections.backup,
                storage: StorageView::new(&settings.config.sections.storage),
                restore: &settings.config.sections.restore,
                health: &settings.config.sections.health,
                notify: notify_view(&settings.config.sections.notify),
                schedule: &settings.config.sections.schedule,
                retention: &settings.config.sections.retention,
                cleanup: &settings.config.sections.cleanup,
                azure: &settings.config.sections.azure,
                logs: &settings.config.sections.logs,
                test_restore: TestRestoreView {
                    target: settings.config.sections.test_restore.target_url.as_deref().map(|url| {
                        settings
                            .standalone_connection(url, "[test_restore] target_url")
                            .map_or_else(|err| format!("invalid: {err}"), |params| params.target())
                    }),
                    jobs: settings.config.sections.test_restore.jobs.as_ref(),
                    checks: settings
                        .config
                        .sections
                        .test_restore
                        .checks
                        .as_deref()
                        .unwrap_or_default(),
                },
                defaults: crate::commands::backup::settings::file_defaults()
                    .into_iter()
                    .chain(crate::commands::restore::settings::file_defaults())
                    .chain(notify_defaults())
                    .chain(crate::commands::retention::settings::file_defaults())
                    .collect(),
                command_sources: BTreeMap::new(),
                sources: &settings.sources,
            }
            .with_command_sources();
            printer.report(&report)?;
            Ok(ExitStatus::Success)
        }
        ConfigCommand::Check => check::check(ctx, printer).await,
    }
}
