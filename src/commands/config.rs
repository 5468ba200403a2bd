//! `campctl config show|check`: the resolved configuration (secrets redacted) and its validation.

use clap::{Args, Subcommand};
use serde::Serialize;

use crate::Ctx;
use crate::exit::ExitStatus;
use crate::printer::{Cell, Printer, Report, Table};

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the resolved configuration with the source of each database value; secrets are redacted
    Show,
    /// Validate the configuration and try the database connection and pg_dump
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
}

#[derive(Debug, Serialize)]
struct OutputView {
    format: crate::cli::OutputFormat,
    log_format: crate::cli::LogFormat,
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
        let password = if db.password.is_some() {
            "******** (set)"
        } else {
            "(not set)"
        };
        for (key, value) in [
            ("database.host", db.host.clone()),
            ("database.port", db.port.to_string()),
            ("database.user", db.user.clone()),
            ("database.password", password.to_string()),
            ("database.dbname", db.dbname.clone()),
            ("database.sslmode", db.sslmode.to_string()),
            (
                "database.sslrootcert",
                db.sslrootcert.as_ref().map_or("-".into(), |p| p.display().to_string()),
            ),
            ("database.connect_timeout", format!("{}s", db.connect_timeout.as_secs())),
            ("database.application_name", db.application_name.clone()),
        ] {
            let short = key.trim_start_matches("database.");
            let origin = if key == "database.password" && db.password.is_none() {
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
                "".into(),
            ]);
        }
        table.row(vec![
            "output.format".into(),
            format!("{:?}", self.output.format).to_lowercase().into(),
            "".into(),
        ]);
        table.row(vec![
            "output.log_format".into(),
            format!("{:?}", self.output.log_format).to_lowercase().into(),
            "".into(),
        ]);
        table.row(vec!["output.color".into(), self.output.color.into(), "".into()]);
        table.row(vec![
            "stats.limit".into(),
            Cell::opt(self.stats.limit.map(i64::from)),
            "".into(),
        ]);
        table.row(vec![
            "stats.min_duration".into(),
            Cell::opt(self.stats.min_duration.map(|d| d.to_string())),
            "".into(),
        ]);
        vec![table]
    }
}

/// One line of `config check`.
#[derive(Debug, Serialize)]
struct Check {
    name: &'static str,
    ok: bool,
    detail: String,
}

#[derive(Debug, Serialize)]
struct CheckReport {
    ok: bool,
    checks: Vec<Check>,
}

impl Report for CheckReport {
    fn tables(&self) -> Vec<Table> {
        let mut table = Table::new("Configuration check", &["check", "ok", "detail"]);
        for check in &self.checks {
            table.row(vec![check.name.into(), check.ok.into(), check.detail.clone().into()]);
        }
        vec![table]
    }
}

/// Runs `campctl config …`.
///
/// # Errors
/// The database connection failed (with its own exit code), or stdout could not be written.
pub async fn config(args: ConfigArgs, ctx: &Ctx, printer: &Printer) -> anyhow::Result<ExitStatus> {
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
            };
            printer.report(&report)?;
            Ok(ExitStatus::Success)
        }
        ConfigCommand::Check => {
            let mut checks = vec![Check {
                name: "config_file",
                ok: true,
                detail: settings.config.path.as_ref().map_or_else(
                    || "no file found; using the environment and built-in defaults".to_string(),
                    |p| format!("`{}` is valid", p.display()),
                ),
            }];
            let client = ctx.connect().await?;
            let row = client
                .query_one(
                    "SELECT current_setting('server_version'), current_user::text, current_database()::text, \
                     coalesce((SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl), 'no TLS')",
                    &[],
                )
                .await?;
            let server_version: String = row.get(0);
            checks.push(Check {
                name: "database",
                ok: true,
                detail: format!(
                    "connected to `{}` as `{}`, database `{}`, PostgreSQL {server_version}, {} (sslmode={})",
                    settings.db.target(),
                    row.get::<_, String>(1),
                    row.get::<_, String>(2),
                    row.get::<_, String>(3),
                    settings.db.sslmode
                ),
            });
            let session = client
                .query_one(
                    "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'), \
                     current_setting('application_name')",
                    &[],
                )
                .await?;
            checks.push(Check {
                name: "session",
                ok: true,
                detail: format!(
                    "statement_timeout={} lock_timeout={} application_name={}",
                    session.get::<_, String>(0),
                    session.get::<_, String>(1),
                    session.get::<_, String>(2)
                ),
            });
            checks.push(pg_dump_check(&server_version).await);
            let ok = checks.iter().all(|c| c.ok);
            printer.report(&CheckReport { ok, checks })?;
            Ok(if ok { ExitStatus::Success } else { ExitStatus::Failure })
        }
    }
}

/// `pg_dump` must exist and be at least the server's major version (DESIGN.md, "Safety rules").
async fn pg_dump_check(server_version: &str) -> Check {
    let server_major: u32 = server_version
        .split(['.', ' '])
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    match tokio::process::Command::new("pg_dump").arg("--version").output().await {
        Err(err) => Check {
            name: "pg_dump",
            ok: false,
            detail: format!("`pg_dump` cannot be run: {err}; install the PostgreSQL client"),
        },
        Ok(output) => {
            let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
            let major: u32 = text
                .rsplit(' ')
                .next()
                .and_then(|v| v.split('.').next())
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            if major >= server_major {
                Check {
                    name: "pg_dump",
                    ok: true,
                    detail: format!("{text} (server {server_major})"),
                }
            } else {
                Check {
                    name: "pg_dump",
                    ok: false,
                    detail: format!(
                        "{text} is older than the server ({server_major}); install postgresql-client-{server_major}"
                    ),
                }
            }
        }
    }
}
