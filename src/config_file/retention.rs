//! `[retention]` (with `[retention.files]` and `[retention.databases.NAME]`) and `[cleanup]`: the schema only.
//! `commands/cleanup/settings.rs` parses the durations and zones, applies the runbook's defaults (`keep_within =
//! "30d"`, `min_keep = 7`) and layers the overrides: built-in defaults < `[retention]` < `[retention.files]` (files
//! archives) or `[retention.databases.NAME]` (that database's dumps), each field on its own.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::units::HumanDuration;

/// The keep rules of one layer; every field left out falls through to the layer below.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionRules {
    pub keep_last: Option<u32>,
    pub keep_hourly: Option<u32>,
    pub keep_daily: Option<u32>,
    pub keep_weekly: Option<u32>,
    pub keep_monthly: Option<u32>,
    pub keep_yearly: Option<u32>,
    /// A calendar duration as restic writes it (`30d`, `1y6m`, `12h`; `m` is months; `0` switches it off).
    pub keep_within: Option<String>,
    /// The newest this many backups always stay (at least 1).
    pub min_keep: Option<u32>,
    /// Only backups whose last test-restore passed count toward the keep rules.
    pub require_verified: Option<bool>,
}

/// `[retention]`: the policy of every series, and its overrides.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    pub keep_last: Option<u32>,
    pub keep_hourly: Option<u32>,
    pub keep_daily: Option<u32>,
    pub keep_weekly: Option<u32>,
    pub keep_monthly: Option<u32>,
    pub keep_yearly: Option<u32>,
    pub keep_within: Option<String>,
    pub min_keep: Option<u32>,
    pub require_verified: Option<bool>,
    /// The zone of hour/day/week/month/year buckets: `local` (default), `UTC` or an offset such as `+01:00`.
    pub time_zone: Option<String>,
    /// Blob snapshots older than this go (`cleanup --snapshots`; default `30d`), except the newest of a blob that
    /// still exists.
    pub snapshot_max_age: Option<HumanDuration>,
    /// `[retention.files]`: overrides for files archives (`campctl backup files`).
    pub files: Option<RetentionRules>,
    /// `[retention.databases.NAME]`: overrides for the dumps of one database.
    pub databases: Option<BTreeMap<String, RetentionRules>>,
}

impl RetentionConfig {
    /// The top level's own rules, as a layer.
    #[must_use]
    pub fn rules(&self) -> RetentionRules {
        RetentionRules {
            keep_last: self.keep_last,
            keep_hourly: self.keep_hourly,
            keep_daily: self.keep_daily,
            keep_weekly: self.keep_weekly,
            keep_monthly: self.keep_monthly,
            keep_yearly: self.keep_yearly,
            keep_within: self.keep_within.clone(),
            min_keep: self.min_keep,
            require_verified: self.require_verified,
        }
    }
}

/// `[cleanup]`: defaults of `campctl cleanup`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CleanupConfig {
    /// Deleting more than this fraction of a store's backups needs `--yes` (default 0.5).
    pub max_delete_fraction: Option<f64>,
    /// An archive without a manifest (or a local `*.partial` file) older than this is an abandoned upload and is
    /// removed (default `1d`).
    pub incomplete_grace: Option<HumanDuration>,
    /// `[cleanup.logs]`: old log files (`cleanup --logs`).
    pub logs: Option<LogsCleanupConfig>,
    /// `[cleanup.databases]`: leftover restore databases (`cleanup --databases`).
    pub databases: Option<DatabasesCleanupConfig>,
    /// Whether a `campctl cleanup` without a selector also runs `VACUUM (ANALYZE)` (`--vacuum`; default false).
    pub vacuum: Option<bool>,
    /// Whether a `campctl cleanup` without a selector also prunes Docker images (`--docker`; default false).
    pub docker: Option<bool>,
    /// Where `cleanup --snapshots` ages blob snapshots out: `container` or `container/prefix`, in the account of
    /// `[storage.azure]` (default: that store's container, every blob).
    pub snapshot_containers: Option<Vec<String>>,
}

/// `[cleanup.databases]`: which leftover restore databases `cleanup --databases` drops.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabasesCleanupConfig {
    /// Leftovers whose name says they were made longer ago than this go (default `7d`).
    pub max_age: Option<HumanDuration>,
}

/// `[cleanup.logs]`: which log files `cleanup --logs` removes.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogsCleanupConfig {
    /// Directories searched (recursively; symbolic links are never followed).
    pub roots: Option<Vec<std::path::PathBuf>>,
    /// File name patterns (`*` and `?`), e.g. `*.log`; rotated copies (`app.log.1`, `app.log.2.gz`,
    /// `app.log-20261201.gz`) of a matching name match too.
    pub globs: Option<Vec<String>>,
    /// Files last modified longer ago than this go (default `30d`).
    pub max_age: Option<HumanDuration>,
}
