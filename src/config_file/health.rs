//! `[health]` and its per-check tables (`[health.disk]`, `[health.cpu]`, ...): the schema only. Thresholds are in
//! the check's unit (percent, seconds as a duration, a count); `commands/health/settings.rs` applies the defaults
//! of runbook section 5 and checks that each pair is ordered.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::units::HumanDuration;

/// `[health]`: defaults of `campctl health`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthConfig {
    /// The checks a plain `campctl health` runs (default: every check that is configured).
    pub checks: Option<Vec<String>>,
    /// How long one check may take (default `5s`).
    pub timeout: Option<HumanDuration>,
    /// The status of a check that timed out: `unknown` (default) or `critical`.
    pub timeout_status: Option<TimeoutStatus>,
    /// Where samples of counters are kept between runs, so that rates are real (deadlocks per minute, evicted
    /// keys since the last run). Default: `/var/lib/campctl/health-state.json` as root, else
    /// `$XDG_STATE_HOME/campctl/health-state.json`.
    pub state_file: Option<PathBuf>,
    pub disk: Option<DiskHealthConfig>,
    pub memory: Option<PercentHealthConfig>,
    pub cpu: Option<CpuHealthConfig>,
    pub load: Option<RatioHealthConfig>,
    pub backup_age: Option<BackupAgeHealthConfig>,
    pub verify_age: Option<BackupAgeHealthConfig>,
}

/// What a check that timed out reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeoutStatus {
    Unknown,
    Critical,
}

/// A check judged by a percentage (0–100).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PercentHealthConfig {
    pub warning: Option<f64>,
    pub critical: Option<f64>,
    /// This check's own timeout (default `[health] timeout`).
    pub timeout: Option<HumanDuration>,
}

/// A check judged by a plain ratio (the load average per core).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RatioHealthConfig {
    pub warning: Option<f64>,
    pub critical: Option<f64>,
    pub timeout: Option<HumanDuration>,
}

/// `[health.disk]`: the use of the file systems holding `paths`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiskHealthConfig {
    /// Directories whose file system is checked (default `/`, plus the local backup store when there is one).
    pub paths: Option<Vec<PathBuf>>,
    pub warning: Option<f64>,
    pub critical: Option<f64>,
    pub timeout: Option<HumanDuration>,
}

/// `[health.cpu]`: CPU use sampled over `interval`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CpuHealthConfig {
    pub warning: Option<f64>,
    pub critical: Option<f64>,
    /// How long the use is sampled (default `1s`).
    pub interval: Option<HumanDuration>,
    pub timeout: Option<HumanDuration>,
}

/// `[health.backup_age]` and `[health.verify_age]`: the age of the newest complete (or verified) backup of each
/// database in each store `backup` writes to.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackupAgeHealthConfig {
    /// The databases to check (default: `[health.backup_age] databases` for `verify_age`, else the configured
    /// database).
    pub databases: Option<Vec<String>>,
    /// An age such as `26h` (backup-age) or `8d` (verify-age).
    pub warning: Option<HumanDuration>,
    pub critical: Option<HumanDuration>,
    pub timeout: Option<HumanDuration>,
}
