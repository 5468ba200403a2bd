//! The backup checks (runbook 7.1's daily backup check and 7.2's weekly restore test, procedure 2.5.1):
//! `backup-age`, the age of the newest complete backup of each database in each store `backup` writes to, and
//! `verify-age`, the age of the newest one that passed `test-restore`. One result per `database@store`.
//!
//! Everything comes from the catalog (`crate::catalog`), the one reader of stores that `backup list`, `restore` and
//! `test-restore` share: a backup is a manifest (an archive without one is `incomplete` and never counts), a
//! runbook archive (`<db>_<YYYYMMDD>_<HHMMSS>.sql.gz`) is `legacy` and counts for `backup-age`, dated by its name.
//! The age is measured from the manifest's recorded start time, never from a file's mtime or a blob's
//! Last-Modified. A store that cannot be read is UNKNOWN naming the store and the cause; the other stores are still
//! reported. Nothing here writes to a store.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::check::{CheckResult, Level, Thresholds, Unit};
use super::run::Probe;
use super::settings::{CheckName, positive, thresholds};
use crate::catalog::{CatalogEntry, catalog};
use crate::commands::Ctx;
use crate::config_file::HealthConfig;
use crate::exit::UserError;
use crate::storage::Store;
use crate::units::HumanDuration;

/// Runbook 7.1 checks the daily backup and 7.2 tests a restore weekly: one missed day (or week) warns, two are
/// critical.
mod defaults {
    use super::Thresholds;

    const HOUR: f64 = 3600.0;
    const DAY: f64 = 24.0 * HOUR;
    /// A daily backup plus two hours of slack, missed once (26 h) or twice (50 h).
    pub(super) const BACKUP_AGE: Thresholds = Thresholds::above(26.0 * HOUR, 50.0 * HOUR);
    /// A weekly test-restore of a daily backup, missed once (8 d) or twice (15 d).
    pub(super) const VERIFY_AGE: Thresholds = Thresholds::above(8.0 * DAY, 15.0 * DAY);
}

/// `[health.backup_age]` and `[health.verify_age]`, resolved.
#[derive(Debug, Clone)]
pub(crate) struct BackupHealthSettings {
    /// The stores `backup` writes to, or why they cannot be resolved (an error only when a backup check runs).
    stores: Result<Vec<Store>, String>,
    pub backup_databases: Vec<String>,
    pub verify_databases: Vec<String>,
    pub backup_age: Thresholds,
    pub verify_age: Thresholds,
}

impl BackupHealthSettings {
    /// Reads `[health.backup_age]` and `[health.verify_age]`; their `timeout`s go to `timeouts`.
    ///
    /// # Errors
    /// Thresholds in the wrong order, a zero timeout, an empty database name (exit 2).
    pub(crate) fn resolve(
        file: &HealthConfig,
        ctx: &Ctx,
        where_: &dyn Fn(&str) -> String,
        timeouts: &mut Vec<(CheckName, Duration)>,
    ) -> anyhow::Result<Self> {
        let seconds = |value: Option<HumanDuration>| value.map(|value| value.0.as_secs_f64());
        let backup = file.backup_age.clone().unwrap_or_default();
        let verify = file.verify_age.clone().unwrap_or_default();
        for (check, table, timeout) in [
            (CheckName::BackupAge, ".backup_age", backup.timeout),
            (CheckName::VerifyAge, ".verify_age", verify.timeout),
        ] {
            if timeout.is_some() {
                timeouts.push((
                    check,
                    positive(timeout, 0, || format!("`timeout` of {}", where_(table)))?,
                ));
            }
        }
        let backup_databases = match backup.databases.clone() {
            Some(databases) => databases,
            None => vec![ctx.settings.db.dbname.clone()],
        };
        let verify_databases = verify.databases.clone().unwrap_or_else(|| backup_databases.clone());
        // Named as durations here: `thresholds` below would name them in seconds.
        for (table, config, default) in [
            (".backup_age", &backup, defaults::BACKUP_AGE),
            (".verify_age", &verify, defaults::VERIFY_AGE),
        ] {
            let seconds_of = |value: Option<HumanDuration>, default: f64| value.map_or(default, |v| v.0.as_secs_f64());
            if seconds_of(config.warning, default.warning) > seconds_of(config.critical, default.critical) {
                let show = |value: Option<HumanDuration>, default: f64| {
                    crate::units::format_seconds(seconds_of(value, default))
                };
                return Err(UserError::usage(format!(
                    "In {}, warning = {} is above critical = {}",
                    where_(table),
                    show(config.warning, default.warning),
                    show(config.critical, default.critical)
                ))
                .with_hint(format!(
                    "The warning age comes first: set it at or below the critical one (defaults: warning {}, \
                     critical {})",
                    crate::units::format_seconds(default.warning),
                    crate::units::format_seconds(default.critical)
                ))
                .into());
            }
        }
        for (table, databases) in [(".backup_age", &backup_databases), (".verify_age", &verify_databases)] {
            if databases.iter().any(String::is_empty) {
                return Err(
                    UserError::usage(format!("A database of {} has an empty name", where_(table)))
                        .with_hint(
                            "Set `databases = [\"app\"]` there, or name the database in `[database]` or PGDATABASE",
                        )
                        .into(),
                );
            }
        }
        Ok(Self {
            stores: ctx.settings.backup_stores().map_err(|err| format!("{err:#}")),
            backup_databases,
            verify_databases,
            backup_age: thresholds(
                seconds(backup.warning),
                seconds(backup.critical),
                defaults::BACKUP_AGE,
                || where_(".backup_age"),
            )?,
            verify_age: thresholds(
                seconds(verify.warning),
                seconds(verify.critical),
                defaults::VERIFY_AGE,
                || where_(".verify_age"),
            )?,
        })
    }

    /// Refuses a run of a backup check whose stores cannot be resolved (a bad `[storage]` or `[backup] stores`).
    ///
    /// # Errors
    /// The store error, as a usage error (exit 2).
    pub(crate) fn usable_for(&self, checks: &[CheckName]) -> anyhow::Result<()> {
        let wanted = checks
            .iter()
            .find(|check| matches!(check, CheckName::BackupAge | CheckName::VerifyAge));
        match (&self.stores, wanted) {
            (Err(err), Some(check)) => Err(UserError::usage(format!(
                "`{}` cannot tell which stores to read: {err}",
                check.name()
            ))
            .with_hint("Fix `[storage]` / `[backup] stores` (`campctl config check` lists every problem), or `--skip backup-age,verify-age`")
            .into()),
            _ => Ok(()),
        }
    }
}

/// One store's catalog, or why it could not be read.
struct StoreCatalog {
    kind: &'static str,
    label: String,
    entries: Result<Vec<CatalogEntry>, String>,
}

/// Reads every store's catalog at once. Each read gets 90 % of the check's timeout, so that a store that hangs is
/// UNKNOWN on its own while the others are still reported.
async fn read_stores(probe: &Probe<'_>, check: CheckName) -> anyhow::Result<Vec<StoreCatalog>> {
    let stores = match &probe.settings.backups.stores {
        Ok(stores) => stores,
        Err(err) => anyhow::bail!("the stores cannot be resolved: {err}"),
    };
    let budget = probe.settings.timeout_of(check).mul_f64(0.9);
    let reads = stores.iter().map(|store| async move {
        let entries = match tokio::time::timeout(budget, catalog(store, None)).await {
            Ok(Ok(entries)) => Ok(entries),
            Ok(Err(err)) => Err(format!("{err:#}")),
            Err(_) => Err(format!("no answer within {}", HumanDuration(budget))),
        };
        StoreCatalog {
            kind: store.kind(),
            label: store.label(),
            entries,
        }
    });
    Ok(futures::future::join_all(reads).await)
}

/// A database backup of `database` (campctl's or the runbook's), never a files backup nor an incomplete archive.
fn is_backup_of(entry: &CatalogEntry, database: &str) -> bool {
    matches!(entry.kind.as_str(), "database" | "legacy") && entry.database.as_deref() == Some(database)
}

/// The age of a backup started at `at`, in seconds (0 for a time in the future: a clock ahead of this host's).
fn age(at: DateTime<Utc>, now: DateTime<Utc>) -> f64 {
    ((now - at).num_milliseconds() as f64 / 1000.0).max(0.0)
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `backup-age`: per database and store, the age of the newest complete backup (legacy archives count); none at
/// all is CRITICAL.
pub(crate) async fn backup_age(probe: &Probe<'_>) -> anyhow::Result<Vec<CheckResult>> {
    const CHECK: &str = "backup-age";
    let settings = &probe.settings.backups;
    let stores = read_stores(probe, CheckName::BackupAge).await?;
    let now = Utc::now();
    let mut results = Vec::new();
    for database in &settings.backup_databases {
        for store in &stores {
            let target = Some(format!("{database}@{}", store.kind));
            let entries = match &store.entries {
                Ok(entries) => entries,
                Err(err) => {
                    results.push(unreadable(CHECK, target, store, err));
                    continue;
                }
            };
            let newest = entries
                .iter()
                .filter(|entry| is_backup_of(entry, database))
                .filter_map(|entry| entry.started_at.map(|at| (at, entry)))
                .max_by_key(|(at, _)| *at);
            let incomplete = entries
                .iter()
                .filter(|entry| entry.kind == "incomplete" && entry.object.split('/').next() == Some(database.as_str()))
                .count();
            let not_counted = match incomplete {
                0 => String::new(),
                1 => "; 1 archive without a manifest (incomplete) does not count".to_string(),
                n => format!("; {n} archives without a manifest (incomplete) do not count"),
            };
            let Some((at, entry)) = newest else {
                results.push(CheckResult::state(
                    CHECK,
                    target,
                    Level::Critical,
                    format!("no complete backup in {}{not_counted}", store.label),
                ));
                continue;
            };
            let dated = if entry.kind == "legacy" {
                "legacy: a runbook archive without a manifest, dated by its name".to_string()
            } else {
                format!("started {}", when(at))
            };
            results.push(CheckResult::measured(
                CHECK,
                target,
                age(at, now),
                Unit::Seconds,
                settings.backup_age,
                format!("{} ({dated}){not_counted}", entry.name),
            ));
        }
    }
    Ok(results)
}

/// `verify-age`: per database and store, the age of the newest backup whose last test-restore passed; none is
/// CRITICAL.
pub(crate) async fn verify_age(probe: &Probe<'_>) -> anyhow::Result<Vec<CheckResult>> {
    const CHECK: &str = "verify-age";
    let settings = &probe.settings.backups;
    let stores = read_stores(probe, CheckName::VerifyAge).await?;
    let now = Utc::now();
    let mut results = Vec::new();
    for database in &settings.verify_databases {
        for store in &stores {
            let target = Some(format!("{database}@{}", store.kind));
            let entries = match &store.entries {
                Ok(entries) => entries,
                Err(err) => {
                    results.push(unreadable(CHECK, target, store, err));
                    continue;
                }
            };
            let backups = || {
                entries
                    .iter()
                    .filter(|entry| is_backup_of(entry, database))
                    .filter_map(|entry| entry.started_at.map(|at| (at, entry)))
            };
            let newest_verified = backups()
                .filter(|(_, entry)| entry.verified == Some(true))
                .max_by_key(|(at, _)| *at);
            // A newer backup whose test-restore failed is worth naming: it is why the verified one is old.
            let newest_failed = backups()
                .filter(|(_, entry)| entry.verified == Some(false))
                .max_by_key(|(at, _)| *at)
                .filter(|(at, _)| newest_verified.is_none_or(|(verified, _)| at > &verified))
                .map_or(String::new(), |(_, entry)| {
                    format!("; the test-restore of the newer {} failed", entry.name)
                });
            let Some((at, entry)) = newest_verified else {
                let count = backups().count();
                results.push(CheckResult::state(
                    CHECK,
                    target,
                    Level::Critical,
                    format!(
                        "none of {count} backup{} in {} has passed test-restore{newest_failed}",
                        if count == 1 { "" } else { "s" },
                        store.label,
                    ),
                ));
                continue;
            };
            let tested = entry.verified_at.map_or(String::new(), |tested| {
                format!(", test-restore passed {}", when(tested))
            });
            results.push(CheckResult::measured(
                CHECK,
                target,
                age(at, now),
                Unit::Seconds,
                settings.verify_age,
                format!("{} (started {}{tested}){newest_failed}", entry.name, when(at)),
            ));
        }
    }
    Ok(results)
}

/// UNKNOWN for a store that could not be read, naming it (the store's own errors already do) and the cause.
fn unreadable(check: &'static str, target: Option<String>, store: &StoreCatalog, err: &str) -> CheckResult {
    let message = if err.contains(&store.label) {
        err.to_string()
    } else {
        format!("cannot read {}: {err}", store.label)
    };
    CheckResult::unknown(check, target, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_a_daily_backup_and_a_weekly_test_restore_missed_once_and_twice() {
        let hour = 3600.0;
        assert_eq!(defaults::BACKUP_AGE.judge(25.0 * hour), Level::Ok);
        assert_eq!(defaults::BACKUP_AGE.judge(26.0 * hour), Level::Warning);
        assert_eq!(defaults::BACKUP_AGE.judge(50.0 * hour), Level::Critical);
        assert_eq!(defaults::VERIFY_AGE.judge(7.0 * 24.0 * hour), Level::Ok);
        assert_eq!(defaults::VERIFY_AGE.judge(8.0 * 24.0 * hour), Level::Warning);
        assert_eq!(defaults::VERIFY_AGE.judge(15.0 * 24.0 * hour), Level::Critical);
        let now = Utc::now();
        assert!((age(now - chrono::Duration::hours(2), now) - 7200.0).abs() < 1e-6);
        assert!(age(now + chrono::Duration::hours(1), now).abs() < f64::EPSILON);
    }
}
