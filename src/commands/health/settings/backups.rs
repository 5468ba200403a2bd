//! `[health.backup_age]` and `[health.verify_age]` resolved: the stores `backup` writes to, the databases, the
//! thresholds and the timeouts.

use std::time::Duration;

use super::super::check::Thresholds;
use super::super::limits::{CheckName, own_timeout, thresholds};
use crate::commands::Ctx;
use crate::config_file::HealthConfig;
use crate::exit::UserError;
use crate::storage::Store;
use crate::units::HumanDuration;

/// Runbook 7.1 checks the daily backup and 7.2 tests a restore weekly: one missed day (or week) warns, two are
/// critical.
pub(crate) mod defaults {
    use super::Thresholds;

    const HOUR: f64 = 3600.0;
    const DAY: f64 = 24.0 * HOUR;
    /// A daily backup plus two hours of slack, missed once (26 h) or twice (50 h).
    pub(crate) const BACKUP_AGE: Thresholds = Thresholds::above(26.0 * HOUR, 50.0 * HOUR);
    /// A weekly test-restore of a daily backup, missed once (8 d) or twice (15 d).
    pub(crate) const VERIFY_AGE: Thresholds = Thresholds::above(8.0 * DAY, 15.0 * DAY);
}

/// `[health.backup_age]` and `[health.verify_age]`, resolved.
#[derive(Debug, Clone)]
pub(crate) struct BackupHealthSettings {
    /// The stores `backup` writes to, or why they cannot be resolved (an error only when a backup check runs).
    pub stores: Result<Vec<Store>, String>,
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
        own_timeout(timeouts, CheckName::BackupAge, backup.timeout, where_)?;
        own_timeout(timeouts, CheckName::VerifyAge, verify.timeout, where_)?;
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
