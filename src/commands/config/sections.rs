//! `config check`'s validation of every section of the configuration, with the parsers and resolvers the commands
//! themselves use (`Store::from_config`, `LoadedConfig::value` for every typed key, `settings::stores::file_stores`
//! and `row_counting`, `select_stores`, `StatsSettings::resolve`, `HealthSettings::resolve`, `ScheduleSettings::resolve`,
//! `ConnParams::resolve`), so that `config check` and
//! a real run cannot disagree about a value. Unlike a run, it lists every bad value of a section, not the first.
//! Pure: nothing here connects or writes.

use clap::{Args as _, FromArgMatches as _};

use super::check_report::Check;
use crate::catalog::select_stores;
use crate::commands::Ctx;
use crate::commands::backup::settings::row_counting;
use crate::config_file::{ConfigError, LoadedConfig};
use crate::diagnostics;
use crate::exit::ExitStatus;
use crate::settings::stores::file_stores;
use crate::storage::{Store, StoreKeys};

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
pub(super) fn section_checks(ctx: &Ctx, checks: &mut Vec<Check>) -> Vec<Store> {
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
    push("[health]", health_problems(ctx), "valid".into());
    let logs_problems: Vec<String> = crate::commands::logs::settings::check(&ctx.settings.config.sections.logs)
        .err()
        .map(|err| diagnostics::one_line(&err))
        .into_iter()
        .collect();
    push("[logs]", logs_problems, "valid".into());
    let (notify_problems, notify_fine) = match crate::settings::notify::resolve(&ctx.settings.config) {
        Ok(Some(notify)) => (
            Vec::new(),
            format!("{} notifications to {}", notify.format.name(), notify.webhook.shown()),
        ),
        Ok(None) => (Vec::new(), "no webhook: nothing is sent".into()),
        Err(err) => (vec![err.to_string()], String::new()),
    };
    push("[notify]", notify_problems, notify_fine);
    push("[schedule]", schedule_problems(ctx), "valid".into());
    push("[retention] [cleanup]", cleanup_problems(ctx), "valid".into());
    let (azure_problems, azure_fine) = azure_check(ctx);
    push("[azure]", azure_problems, azure_fine);
    let stores = Store::from_config(&ctx.settings.storage);
    let (storage_problems, storage_fine) = match &stores {
        Ok(stores) => (
            Vec::new(),
            stores.iter().map(Store::label).collect::<Vec<_>>().join(", "),
        ),
        Err(err) => (vec![diagnostics::one_line(err)], String::new()),
    };
    push(
        "[backup]",
        backup_problems(&ctx.settings.config, stores.as_ref().ok()),
        "valid".into(),
    );
    push("[storage]", storage_problems, storage_fine);
    push("[restore]", restore_problems(&ctx.settings.config), "valid".into());
    push(
        "[test_restore]",
        test_restore_problems(&ctx.settings.config, ctx),
        "valid".into(),
    );
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
        .filter_map(|part| Store::from_config(&StoreKeys::from(part)).ok())
        .flatten()
        .collect()
}

/// `[azure]` as every Azure command resolves it (cloud, endpoints, credential choice, retry bounds, resource ids).
fn azure_check(ctx: &Ctx) -> (Vec<String>, String) {
    match crate::settings::azure::AzureSettings::resolve(&ctx.settings.config) {
        Ok(azure) => {
            let server = azure.postgres_server.as_ref().map(|_| azure.postgres_server());
            match server {
                Some(Err(err)) => (vec![diagnostics::one_line(&err)], String::new()),
                Some(Ok(id)) => (
                    Vec::new(),
                    format!(
                        "Flexible Server `{}` via {}",
                        id.name, azure.endpoints.management.endpoint
                    ),
                ),
                None => (Vec::new(), format!("valid ({})", azure.endpoints.management.endpoint)),
            }
        }
        Err(err) => (vec![diagnostics::one_line(&err)], String::new()),
    }
}

/// `[retention]` and `[cleanup]` as `campctl cleanup` resolves them: durations, zone, floor, guard.
fn cleanup_problems(ctx: &Ctx) -> Vec<String> {
    crate::commands::retention::settings::RetentionSettings::resolve(
        None,
        Vec::new(),
        &ctx.settings.config,
        true,
        false,
    )
    .and_then(|_| crate::commands::cleanup::check_logs(ctx))
    .and_then(|()| crate::commands::cleanup::check_snapshots(ctx))
    .err()
    .map(|err| diagnostics::one_line(&err))
    .into_iter()
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
    parsed
        .err()
        .map(|err| diagnostics::one_line(&err))
        .into_iter()
        .collect()
}

/// `[health]` as a plain `campctl health` resolves it: check names, thresholds in order, timeouts.
fn health_problems(ctx: &Ctx) -> Vec<String> {
    let command = crate::commands::health::HealthArgs::augment_args(clap::Command::new("health"));
    command
        .try_get_matches_from(["health"])
        .map_err(anyhow::Error::from)
        .and_then(|matches| Ok(crate::commands::health::HealthArgs::from_arg_matches(&matches)?))
        .and_then(|args| crate::commands::health::HealthSettings::resolve(args, ctx))
        .err()
        .map(|err| diagnostics::one_line(&err))
        .into_iter()
        .collect()
}

/// `[schedule]` as `campctl schedule` resolves it: times, the zone, database names.
fn schedule_problems(ctx: &Ctx) -> Vec<String> {
    use crate::commands::schedule::{ScheduleSettings, Target};
    ScheduleSettings::resolve(ctx, Target::Cron)
        .err()
        .map(|err| diagnostics::one_line(&err))
        .into_iter()
        .collect()
}

fn backup_problems(loaded: &LoadedConfig, stores: Option<&Vec<Store>>) -> Vec<String> {
    let backup = &loaded.sections.backup;
    let mut problems = Vec::new();
    if let Err(err) = loaded.value("[backup] compression", backup.compression.as_ref()) {
        problems.push(bad_value(err));
    }
    match loaded.value("[backup] row_counts", backup.row_counts.as_ref()) {
        Err(err) => problems.push(bad_value(err)),
        Ok(which) => {
            if let Err(err) = row_counting(which, backup.row_count_tables.as_deref().unwrap_or_default()) {
                problems.push(diagnostics::one_line(&err));
            }
        }
    }
    match file_stores(loaded) {
        Err(err) => problems.push(bad_value(err)),
        Ok(wanted) if wanted.is_empty() => {}
        Ok(wanted) => match stores {
            Some(stores) => {
                if let Err(err) = select_stores(stores.clone(), &wanted) {
                    problems.push(format!("`[backup] stores`: {}", diagnostics::one_line(&err)));
                }
            }
            None => problems.push("`[backup] stores` cannot be checked while `[storage]` is invalid".into()),
        },
    }
    problems
}

/// A file value that does not parse, as one problem of its section: the key, the line and why (the section's check
/// names the file).
fn bad_value(err: ConfigError) -> String {
    match err {
        ConfigError::Value(bad) => format!("`{}` line {}: {}", bad.key, bad.line, bad.message),
        other => diagnostics::one_line(&other.into()),
    }
}

fn restore_problems(loaded: &LoadedConfig) -> Vec<String> {
    let restore = &loaded.sections.restore;
    let mut problems = Vec::new();
    if let Err(err) = loaded.value("[restore] jobs", restore.jobs.as_ref()) {
        problems.push(bad_value(err));
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

fn test_restore_problems(loaded: &LoadedConfig, ctx: &Ctx) -> Vec<String> {
    let test_restore = &loaded.sections.test_restore;
    let mut problems = Vec::new();
    if let Err(err) = loaded.value("[test_restore] jobs", test_restore.jobs.as_ref()) {
        problems.push(bad_value(err));
    }
    if let Some(url) = &test_restore.target_url
        && let Err(err) = ctx
            .settings
            .standalone_connection(url.as_str(), "[test_restore] target_url")
    {
        problems.push(format!(
            "`[test_restore] target_url`: {}",
            diagnostics::one_line(&err.into())
        ));
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
