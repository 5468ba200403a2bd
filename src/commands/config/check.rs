//! `campctl config check`: every section of the configuration, the database, every store, and pg_dump.
//!
//! Sections are validated with the parsers the commands themselves use (`Store::from_config`,
//! `Compression::from_str`, `row_counting`, `select_stores`, `StatsSettings::resolve`, `ConnParams::resolve`, and
//! for `jobs` the value parser of `--jobs`), so that `config check` and a real run cannot disagree about a value.
//! Each store is then probed ([`crate::storage::probe`]): one page is listed and a small object is written and
//! deleted, since whether a credential may write can only be learnt by writing.
//!
//! The exit code: a database that cannot be reached ends the check at once with that error's own code (the
//! invalid sections are named in warnings first). Otherwise the report is printed, and the code is 2 when a
//! section is invalid; else 12 when a store rejected its credential; else the code of the first other failure
//! (2 for an unreachable store, 1 for pg_dump).

use std::collections::BTreeMap;

use clap::{Args as _, FromArgMatches as _};
use serde::Serialize;

use crate::Ctx;
use crate::commands::backup::{Compression, row_counting, select_stores};
use crate::config_file::Sections;
use crate::exit::{self, ExitStatus};
use crate::pg::conninfo::ConnSources;
use crate::printer::{Printer, Report, Table};
use crate::storage::Store;

/// What the probe of a store could do.
#[derive(Debug, Serialize)]
struct StoreAccess {
    /// Whether one page could be listed.
    can_list: bool,
    /// Whether a probe object could be written and deleted (`null`: not tried, since listing failed).
    can_write: Option<bool>,
}

/// One line of `config check`.
#[derive(Debug, Serialize)]
pub(super) struct Check {
    name: String,
    ok: bool,
    /// 0 when the check passed, else the exit code this problem gives on its own.
    exit_code: u8,
    detail: String,
    /// Stores only: what the probe could do.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    access: Option<StoreAccess>,
    /// A configuration section (its failure decides the exit code first).
    #[serde(skip)]
    section: bool,
}

impl Check {
    fn pass(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ok: true,
            exit_code: 0,
            detail: detail.into(),
            access: None,
            section: false,
        }
    }

    fn fail(name: impl Into<String>, status: ExitStatus, detail: impl Into<String>) -> Self {
        Self {
            ok: false,
            exit_code: status.code(),
            ..Self::pass(name, detail)
        }
    }

    /// A failed check from an error: its own exit code (an unclassified error means "unreachable": 2).
    fn error(name: impl Into<String>, err: &anyhow::Error) -> Self {
        let status = match exit::status_of(err) {
            ExitStatus::Failure => ExitStatus::Usage,
            status => status,
        };
        Self::fail(name, status, exit::one_line(err))
    }
}

#[derive(Debug, Serialize)]
struct CheckReport {
    ok: bool,
    exit_code: u8,
    checks: Vec<Check>,
}

impl Report for CheckReport {
    fn tables(&self) -> Vec<Table> {
        let mut table = Table::new("Configuration check", &["check", "ok", "detail"]);
        for check in &self.checks {
            table.row(vec![
                check.name.clone().into(),
                check.ok.into(),
                check.detail.clone().into(),
            ]);
        }
        vec![table]
    }
}

/// Runs `campctl config check`.
///
/// # Errors
/// Only when stdout cannot be written: every problem found is a line of the report and decides the exit code.
pub(super) async fn check(ctx: &Ctx, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let settings = &ctx.settings;
    let mut checks = vec![Check::pass(
        "config_file",
        settings.config.path.as_ref().map_or_else(
            || "no file found; using the environment and built-in defaults".to_string(),
            |path| match &settings.config.profile {
                Some(profile) => format!("`{}` is valid TOML (profile `{profile}`)", path.display()),
                None => format!("`{}` is valid TOML", path.display()),
            },
        ),
    )];
    // The connection first: when it fails, that error ends the check with its own exit code (2 unreachable,
    // 10 no such database or role, 12 authentication), after a warning for each invalid section.
    let (database, server_version) = match database_checks(ctx).await {
        Ok(found) => found,
        Err(err) => {
            let mut sections = Vec::new();
            section_checks(ctx, &mut sections);
            for check in sections.iter().filter(|check| !check.ok) {
                printer.warn(&format!("{}: {}", check.name, check.detail));
            }
            return Err(err);
        }
    };
    checks.extend(database);
    // config_file, database, session and pg_dump first, in this order, as before sections and stores were checked.
    checks.push(pg_dump_check(&server_version).await);
    let stores = section_checks(ctx, &mut checks);
    for store in &stores {
        checks.push(store_check(store).await);
    }
    let status = overall(&checks);
    printer.report(&CheckReport {
        ok: status == ExitStatus::Success,
        exit_code: status.code(),
        checks,
    })?;
    Ok(status)
}

/// 2 for an invalid section first, then 12 for a rejected credential, then the first other failure.
fn overall(checks: &[Check]) -> ExitStatus {
    let failed: Vec<&Check> = checks.iter().filter(|c| !c.ok).collect();
    let code = if failed.iter().any(|c| c.section) {
        ExitStatus::Usage.code()
    } else if failed.iter().any(|c| c.exit_code == ExitStatus::Auth.code()) {
        ExitStatus::Auth.code()
    } else {
        failed.first().map_or(0, |c| c.exit_code)
    };
    [
        ExitStatus::Success,
        ExitStatus::Failure,
        ExitStatus::Usage,
        ExitStatus::Partial,
        ExitStatus::NotFound,
        ExitStatus::LockHeld,
        ExitStatus::Auth,
        ExitStatus::Interrupted,
    ]
    .into_iter()
    .find(|status| status.code() == code)
    .unwrap_or(ExitStatus::Failure)
}

/// Where the values came from, for error messages: "`/etc/campctl/config.toml`", with the profile.
fn origin(ctx: &Ctx) -> String {
    let config = &ctx.settings.config;
    match (&config.path, &config.profile) {
        (Some(path), Some(profile)) => format!("`{}` (profile `{profile}`)", path.display()),
        (Some(path), None) => format!("`{}`", path.display()),
        (None, _) => "the environment".to_string(),
    }
}

/// One check per section; returns the stores to probe (those that resolve, also when another one does not).
fn section_checks(ctx: &Ctx, checks: &mut Vec<Check>) -> Vec<Store> {
    let sections = &ctx.settings.config.sections;
    let origin = origin(ctx);
    let mut push = |name: &str, problems: Vec<String>, fine: String| {
        let mut check = if problems.is_empty() {
            Check::pass(name, fine)
        } else {
            let detail = problems.join("; ");
            let named = ctx
                .settings
                .config
                .path
                .as_ref()
                .is_some_and(|path| detail.contains(&path.display().to_string()));
            Check::fail(
                name,
                ExitStatus::Usage,
                if named {
                    detail
                } else {
                    format!("in {origin}: {detail}")
                },
            )
        };
        check.section = true;
        checks.push(check);
    };
    push(
        "[database]",
        Vec::new(),
        format!("resolved to `{}` (see the `database` check)", ctx.settings.db.target()),
    );
    push("[output]", Vec::new(), "valid".into());
    push("[stats]", stats_problems(ctx), "valid".into());
    let stores = Store::from_config(&sections.storage);
    let (storage_problems, storage_fine) = match &stores {
        Ok(stores) => (
            Vec::new(),
            stores.iter().map(Store::label).collect::<Vec<_>>().join(", "),
        ),
        Err(err) => (vec![exit::one_line(err)], String::new()),
    };
    push(
        "[backup]",
        backup_problems(sections, stores.as_ref().ok()),
        "valid".into(),
    );
    push("[storage]", storage_problems, storage_fine);
    push("[restore]", restore_problems(sections), "valid".into());
    push("[test_restore]", test_restore_problems(sections), "valid".into());
    stores.unwrap_or_else(|_| each_store(&sections.storage))
}

/// When `[storage]` as a whole is invalid, the stores that resolve on their own, so that they are still probed.
fn each_store(config: &crate::config_file::StorageConfig) -> Vec<Store> {
    use crate::config_file::{LocalStoreConfig, StorageConfig};
    let local_only = StorageConfig {
        local: config.local.clone(),
        azure: None,
    };
    let azure_only = StorageConfig {
        local: Some(LocalStoreConfig {
            path: None,
            enabled: Some(false),
        }),
        azure: config.azure.clone(),
    };
    [local_only, azure_only]
        .iter()
        .filter_map(|part| Store::from_config(part).ok())
        .flatten()
        .collect()
}

fn stats_problems(ctx: &Ctx) -> Vec<String> {
    let command = crate::commands::stats::StatsArgs::augment_args(clap::Command::new("stats"));
    let parsed = command
        .try_get_matches_from(["stats"])
        .map_err(anyhow::Error::from)
        .and_then(|matches| Ok(crate::commands::stats::StatsArgs::from_arg_matches(&matches)?))
        .and_then(|args| {
            crate::commands::stats::StatsSettings::resolve(args, &ctx.settings.config.sections.stats, ctx)
        });
    parsed.err().map(|err| exit::one_line(&err)).into_iter().collect()
}

fn backup_problems(sections: &Sections, stores: Option<&Vec<Store>>) -> Vec<String> {
    let backup = &sections.backup;
    let mut problems = Vec::new();
    if let Some(text) = &backup.compression
        && let Err(err) = text.parse::<Compression>()
    {
        problems.push(format!("`[backup] compression`: {}", exit::one_line(&err.into())));
    }
    if let Err(err) = row_counting(
        backup.row_counts.as_deref(),
        backup.row_count_tables.as_deref().unwrap_or_default(),
    ) {
        problems.push(exit::one_line(&err));
    }
    if let Some(wanted) = &backup.stores {
        match stores {
            Some(stores) => {
                if let Err(err) = select_stores(stores.clone(), wanted) {
                    problems.push(format!("`[backup] stores`: {}", exit::one_line(&err)));
                }
            }
            None => problems.push("`[backup] stores` cannot be checked while `[storage]` is invalid".into()),
        }
    }
    problems
}

/// A file value checked by the value parser of the command-line flag `--{flag}` of `A`.
fn like_flag<A: clap::Args>(key: &str, flag: &str, value: &str) -> Option<String> {
    let command = A::augment_args(clap::Command::new("campctl"));
    let long = format!("--{flag}");
    command
        .try_get_matches_from(["campctl", long.as_str(), value])
        .err()
        .map(|err| {
            let text = err.render().to_string();
            let first = text.lines().next().unwrap_or_default();
            format!("`{key}`: {}", first.strip_prefix("error: ").unwrap_or(first))
        })
}

fn restore_problems(sections: &Sections) -> Vec<String> {
    use crate::commands::restore::SourceArgs;
    let restore = &sections.restore;
    let mut problems = Vec::new();
    if let Some(jobs) = restore.jobs {
        problems.extend(like_flag::<SourceArgs>("[restore] jobs", "jobs", &jobs.to_string()));
    }
    if let Some(dir) = &restore.spool_dir
        && !dir.is_dir()
    {
        problems.push(format!("`[restore] spool_dir`: `{}` is not a directory", dir.display()));
    }
    if let Some(name) = &restore.maintenance_db
        && (name.is_empty() || name.len() > 63)
    {
        problems.push(format!(
            "`[restore] maintenance_db`: `{name}` is not a database name (1 to 63 bytes)"
        ));
    }
    problems
}

fn test_restore_problems(sections: &Sections) -> Vec<String> {
    use crate::commands::restore::SourceArgs;
    let test_restore = &sections.test_restore;
    let mut problems = Vec::new();
    if let Some(jobs) = test_restore.jobs {
        problems.extend(like_flag::<SourceArgs>(
            "[test_restore] jobs",
            "jobs",
            &jobs.to_string(),
        ));
    }
    if let Some(url) = &test_restore.target_url
        && let Err(err) = crate::pg::ConnParams::resolve(&ConnSources {
            file: None,
            env: BTreeMap::new(),
            url: Some((url.as_str(), "[test_restore] target_url")),
            os_user: crate::settings::os_user(),
            home: crate::settings::home_dir(),
        })
    {
        problems.push(format!("`[test_restore] target_url`: {}", exit::one_line(&err.into())));
    }
    for (index, check) in test_restore.checks.iter().flatten().enumerate() {
        if check.name.trim().is_empty() || check.sql.trim().is_empty() {
            problems.push(format!(
                "`[[test_restore.checks]]` number {}: needs a non-empty `name` and `sql`",
                index + 1
            ));
        }
    }
    problems
}

/// The connection and the session settings in effect, and the server's version.
async fn database_checks(ctx: &Ctx) -> anyhow::Result<(Vec<Check>, String)> {
    let settings = &ctx.settings;
    let client = ctx.connect().await?;
    let row = client
        .query_one(
            "SELECT current_setting('server_version'), current_user::text, current_database()::text, \
             coalesce((SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl), 'no TLS'), \
             current_setting('statement_timeout'), current_setting('lock_timeout'), \
             current_setting('application_name')",
            &[],
        )
        .await?;
    let text = |index: usize| {
        row.try_get::<_, Option<String>>(index)
            .ok()
            .flatten()
            .unwrap_or_default()
    };
    let checks = vec![
        Check::pass(
            "database",
            format!(
                "connected to `{}` as `{}`, database `{}`, PostgreSQL {}, {} (sslmode={})",
                settings.db.target(),
                text(1),
                text(2),
                text(0),
                text(3),
                settings.db.sslmode
            ),
        ),
        Check::pass(
            "session",
            format!(
                "statement_timeout={} lock_timeout={} application_name={}",
                text(4),
                text(5),
                text(6)
            ),
        ),
    ];
    Ok((checks, text(0)))
}

/// Lists one page of the store and writes and deletes a probe object.
async fn store_check(store: &Store) -> Check {
    let name = format!("store {}", store.kind());
    let label = store.label();
    let who = match store {
        Store::Local(_) => "this user".to_string(),
        Store::Azure(azure) => azure.settings().auth.describe(),
    };
    let probe = store.probe().await;
    let mut check = match (&probe.list, &probe.write) {
        (Err(err), _) => Check::error(&name, err),
        (Ok(listing), write) => {
            let listed = if !listing.exists {
                format!("`{label}` did not exist; the probe created it, as the first backup would")
            } else if listing.more {
                format!("`{label}`: listed the first {} entries (more exist)", listing.entries)
            } else {
                format!("`{label}`: listed {} entries", listing.entries)
            };
            match write {
                Some(Err(err)) => {
                    let mut check = Check::error(&name, err);
                    check.detail = format!("{listed}; {who} cannot write: {}", check.detail);
                    check
                }
                _ => Check::pass(
                    &name,
                    format!("{listed}; wrote and deleted a probe object: {who} can write"),
                ),
            }
        }
    };
    check.access = Some(StoreAccess {
        can_list: probe.list.is_ok(),
        can_write: probe.write.as_ref().map(Result::is_ok),
    });
    check
}

/// `pg_dump` must exist and be at least the server's major version (DESIGN.md, "Safety rules").
async fn pg_dump_check(server_version: &str) -> Check {
    let server_major: Option<u32> = server_version.split(['.', ' ']).next().and_then(|m| m.parse().ok());
    let output = match tokio::process::Command::new("pg_dump").arg("--version").output().await {
        Ok(output) => output,
        Err(err) => {
            return Check::fail(
                "pg_dump",
                ExitStatus::Failure,
                format!("`pg_dump` cannot be run: {err}; install the PostgreSQL client"),
            );
        }
    };
    let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let major: u32 = text
        .rsplit(' ')
        .next()
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    match server_major {
        None => Check::pass("pg_dump", format!("{text} (the server's version is unknown)")),
        Some(server_major) if major >= server_major => {
            Check::pass("pg_dump", format!("{text} (server {server_major})"))
        }
        Some(server_major) => Check::fail(
            "pg_dump",
            ExitStatus::Failure,
            format!("{text} is older than the server ({server_major}); install postgresql-client-{server_major}"),
        ),
    }
}
