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

use chrono::{DateTime, Utc};

use super::catalogs::StoreCatalog;
use super::check::{CheckResult, Level, Unit};
use super::limits::CheckName;
use super::probe::Probe;
use crate::catalog::CatalogEntry;

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

/// One result per `database@store`: `judge` gets a readable store's entries; a store that could not be read is
/// UNKNOWN.
fn per_store(
    check: &'static str,
    databases: &[String],
    stores: &[StoreCatalog],
    judge: impl Fn(&str, &StoreCatalog, &[CatalogEntry], Option<String>) -> CheckResult,
) -> Vec<CheckResult> {
    let mut results = Vec::new();
    for database in databases {
        for store in stores {
            let target = Some(format!("{database}@{}", store.kind));
            results.push(match &store.entries {
                Ok(entries) => judge(database, store, entries, target),
                Err(err) => unreadable(check, target, store, err),
            });
        }
    }
    results
}

/// `backup-age`: per database and store, the age of the newest complete backup (legacy archives count); none at
/// all is CRITICAL.
pub(crate) async fn backup_age(probe: &Probe<'_>) -> anyhow::Result<Vec<CheckResult>> {
    const CHECK: &str = "backup-age";
    let settings = &probe.settings.backups;
    let stores = probe.catalogs.get(probe.settings, CheckName::BackupAge).await?;
    let now = Utc::now();
    Ok(per_store(
        CHECK,
        &settings.backup_databases,
        stores,
        |database, store, entries, target| {
            let newest = entries
                .iter()
                .filter(|entry| is_backup_of(entry, database))
                .filter_map(|entry| entry.started_at.map(|at| (at, entry)))
                .max_by_key(|(at, _)| *at);
            let incomplete = entries
                .iter()
                .filter(|entry| entry.kind == "incomplete" && entry.object.split('/').next() == Some(database))
                .count();
            let not_counted = match incomplete {
                0 => String::new(),
                1 => "; 1 archive without a manifest (incomplete) does not count".to_string(),
                n => format!("; {n} archives without a manifest (incomplete) do not count"),
            };
            let Some((at, entry)) = newest else {
                return CheckResult::state(
                    CHECK,
                    target,
                    Level::Critical,
                    format!("no complete backup in {}{not_counted}", store.label),
                );
            };
            let dated = if entry.kind == "legacy" {
                "legacy: a runbook archive without a manifest, dated by its name".to_string()
            } else {
                format!("started {}", when(at))
            };
            CheckResult::measured(
                CHECK,
                target,
                age(at, now),
                Unit::Seconds,
                settings.backup_age,
                format!("{} ({dated}){not_counted}", entry.name),
            )
        },
    ))
}

/// `verify-age`: per database and store, the age of the newest backup whose last test-restore passed; none is
/// CRITICAL.
pub(crate) async fn verify_age(probe: &Probe<'_>) -> anyhow::Result<Vec<CheckResult>> {
    const CHECK: &str = "verify-age";
    let settings = &probe.settings.backups;
    let stores = probe.catalogs.get(probe.settings, CheckName::VerifyAge).await?;
    let now = Utc::now();
    Ok(per_store(
        CHECK,
        &settings.verify_databases,
        stores,
        |database, store, entries, target| {
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
                return CheckResult::state(
                    CHECK,
                    target,
                    Level::Critical,
                    format!(
                        "none of {count} backup{} in {} has passed test-restore{newest_failed}",
                        if count == 1 { "" } else { "s" },
                        store.label,
                    ),
                );
            };
            let tested = entry.verified_at.map_or(String::new(), |tested| {
                format!(", test-restore passed {}", when(tested))
            });
            CheckResult::measured(
                CHECK,
                target,
                age(at, now),
                Unit::Seconds,
                settings.verify_age,
                format!("{} (started {}{tested}){newest_failed}", entry.name, when(at)),
            )
        },
    ))
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
    use super::super::settings::backups::defaults;
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
