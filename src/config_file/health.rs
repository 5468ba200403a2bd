//! `[health]` and its per-check tables (`[health.disk]`, `[health.cpu]`, ...): the schema only. Thresholds are in
//! the check's unit (percent, seconds as a duration, a count); `commands/health/settings.rs` applies the defaults
//! of runbook section 5 and checks that each pair is ordered.

use std::collections::BTreeMap;
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
    /// `[health.database]`: connect + `SELECT 1` latency.
    pub database: Option<DurationHealthConfig>,
    /// `[health.connections]`: % of the connections roles without a reservation may open.
    pub connections: Option<PercentHealthConfig>,
    /// `[health.replication]`: replication lag.
    pub replication: Option<DurationHealthConfig>,
    /// `[health.deadlocks]`: deadlocks per minute.
    pub deadlocks: Option<RatioHealthConfig>,
    /// `[health.long_queries]`: the longest running statement.
    pub long_queries: Option<DurationHealthConfig>,
    /// `[health.idle_in_transaction]`: the longest idle-in-transaction session.
    pub idle_in_transaction: Option<DurationHealthConfig>,
    /// `[health.wraparound]`: transaction ID age as % of `autovacuum_freeze_max_age`.
    pub wraparound: Option<PercentHealthConfig>,
    /// `[health.cache_hit]`: buffer cache hit ratio of the configured database (low is bad).
    pub cache_hit: Option<CacheHitHealthConfig>,
    pub redis: Option<RedisHealthConfig>,
    /// `[[health.api]]`: one entry per URL.
    pub api: Option<Vec<ApiHealthConfig>>,
    pub backup_age: Option<BackupAgeHealthConfig>,
    pub verify_age: Option<BackupAgeHealthConfig>,
    /// `[health.azure_metrics]`: Azure Monitor metrics of `[azure] postgres_server` and `app_service_plan`.
    pub azure_metrics: Option<AzureMetricsHealthConfig>,
    /// `[health.app_service]`: the state of `[azure] app_service`.
    pub app_service: Option<AppServiceHealthConfig>,
    /// `[health.error_rate]`: the share of requests answered 5xx in the logs source over `window`.
    pub error_rate: Option<LogRateHealthConfig>,
    /// `[health.latency_p95]`: the 95th percentile of response times in the logs source over `window`.
    pub latency_p95: Option<LogLatencyHealthConfig>,
}

/// `[health.error_rate]`: thresholds in % (default 1 / 5, runbook 5.1.2) over `window` (default `15m`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogRateHealthConfig {
    pub warning: Option<f64>,
    pub critical: Option<f64>,
    pub window: Option<HumanDuration>,
    pub timeout: Option<HumanDuration>,
}

/// `[health.latency_p95]`: thresholds as durations (default `1s` / `3s`, runbook 5.1.2) over `window` (`15m`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogLatencyHealthConfig {
    pub warning: Option<HumanDuration>,
    pub critical: Option<HumanDuration>,
    pub window: Option<HumanDuration>,
    pub timeout: Option<HumanDuration>,
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

/// A check judged by a duration (latency, lag, how long a statement runs), thresholds written as durations
/// (`"10s"`, `"5m"`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DurationHealthConfig {
    pub warning: Option<HumanDuration>,
    pub critical: Option<HumanDuration>,
    pub timeout: Option<HumanDuration>,
}

/// `[health.cache_hit]`: the share of blocks found in shared buffers; at or below a threshold is bad.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheHitHealthConfig {
    pub warning: Option<f64>,
    pub critical: Option<f64>,
    /// Fewer blocks needed than this since the statistics were reset is too few to judge: OK with a note
    /// (default 10000).
    pub min_blocks: Option<u64>,
    pub timeout: Option<HumanDuration>,
}

/// `[health.redis]`: PING latency, memory against `maxmemory`, keys evicted since the last run, clients against
/// `maxclients`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisHealthConfig {
    /// `redis://[user[:password]@]host[:port][/db]` or `rediss://…` (TLS).
    pub url: Option<String>,
    /// The password when neither the URL nor `REDISCLI_AUTH` gives one. Never printed.
    pub password: Option<String>,
    /// CA certificates (PEM) that verify a `rediss://` server (default: the system's).
    pub ca_file: Option<PathBuf>,
    /// PING latency (default `100ms` / `500ms`).
    pub latency_warning: Option<HumanDuration>,
    pub latency_critical: Option<HumanDuration>,
    /// `used_memory` as a percentage of `maxmemory` (default 80 / 95).
    pub memory_warning: Option<f64>,
    pub memory_critical: Option<f64>,
    /// Keys evicted since the last run (default 1 / 1000).
    pub evicted_warning: Option<f64>,
    pub evicted_critical: Option<f64>,
    /// `connected_clients` as a percentage of `maxclients` (default 80 / 95).
    pub clients_warning: Option<f64>,
    pub clients_critical: Option<f64>,
    pub timeout: Option<HumanDuration>,
}

/// One `[[health.api]]` entry: an HTTP(S) GET of `url`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiHealthConfig {
    pub url: Option<String>,
    /// The status code that is healthy (default: any 2xx).
    pub expect_status: Option<u16>,
    /// A dotted path into the JSON body (`status`, `checks.db`) whose value must be `json_value`.
    pub json_field: Option<String>,
    /// The expected value of `json_field`, compared as text (a JSON string without its quotes).
    pub json_value: Option<String>,
    /// CA certificates (PEM) that verify an `https://` server (default: the system's).
    pub ca_file: Option<PathBuf>,
    /// Latency (default `1s` / `3s`, runbook 5.1.2's P95 response time).
    pub warning: Option<HumanDuration>,
    pub critical: Option<HumanDuration>,
    /// How long this URL may take (default `[health] timeout`).
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

/// `[health.azure_metrics]`: which Azure Monitor metrics are read, over which window, and their thresholds.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AzureMetricsHealthConfig {
    /// The span averaged, ending at the last complete minute (default `15m`).
    pub window: Option<HumanDuration>,
    /// The grain of the points averaged, whole minutes (default `1m`).
    pub interval: Option<HumanDuration>,
    /// Metrics of the Flexible Server (default `cpu_percent`, `memory_percent`, `storage_percent`,
    /// `active_connections`).
    pub server_metrics: Option<Vec<String>>,
    /// Metrics of the App Service plan (default `CpuPercentage`, `MemoryPercentage`).
    pub plan_metrics: Option<Vec<String>>,
    /// Thresholds by metric name (`[health.azure_metrics.thresholds.cpu_percent]`), over the defaults.
    pub thresholds: Option<BTreeMap<String, MetricThresholdConfig>>,
    pub timeout: Option<HumanDuration>,
}

/// The thresholds of one Azure metric, in its unit.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricThresholdConfig {
    pub warning: Option<f64>,
    pub critical: Option<f64>,
}

/// `[health.app_service]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppServiceHealthConfig {
    pub timeout: Option<HumanDuration>,
}
