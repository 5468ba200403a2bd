//! What every part of health's settings shares: the check names (`--check`, `[health] checks`) and the resolvers of
//! thresholds and durations, so that each family's settings file and `settings.rs` read them from below.

use std::time::Duration;

use clap::ValueEnum;

use super::check::{Direction, Thresholds};
use crate::exit::UserError;
use crate::units::HumanDuration;

/// A check, as `--check`, `--skip` and `[health] checks` name it. The report lists results in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ValueEnum)]
pub(crate) enum CheckName {
    /// Use of the file systems of `[health.disk] paths` (80/90 %)
    Disk,
    /// Memory in use, from MemAvailable (80/95 %)
    Memory,
    /// CPU use sampled over `[health.cpu] interval` (70/90 %)
    Cpu,
    /// The 1-minute load average per core (1.0/2.0)
    Load,
    /// Connect to PostgreSQL and run `SELECT 1`: latency (1/3 seconds); CRITICAL when it cannot connect
    Database,
    /// Client connections in % of max_connections minus the reserved ones (80/95 %)
    Connections,
    /// Replication lag: per replica on a primary, replay delay on a standby (10/60 seconds)
    Replication,
    /// Deadlocks per minute over all databases, since the last run (1/5)
    Deadlocks,
    /// The longest running statement of a client session (5m/15m)
    LongQueries,
    /// The longest session idle in a transaction (5m/10m)
    IdleInTransaction,
    /// The oldest database's transaction ID age in % of autovacuum_freeze_max_age (100/200 %)
    Wraparound,
    /// Buffer cache hit ratio of the configured database; low is bad (99/95 %)
    CacheHit,
    /// Redis at `[health.redis] url`: PING latency (100/500 ms), memory of maxmemory (80/95 %), keys evicted since
    /// the last run (1/1000), clients of maxclients (80/95 %)
    Redis,
    /// Each `[[health.api]]` URL: the expected status and JSON field, latency (1/3 s)
    Api,
    /// Age of the newest complete backup, per database and store (26h/50h)
    BackupAge,
    /// Age of the newest test-restored backup, per database and store (8d/15d)
    VerifyAge,
    /// Azure Monitor metrics of `[azure] postgres_server` and `app_service_plan`, averaged over 15m (CPU 70/90 %,
    /// memory 80/95 %, storage 80/90 %, connections 80/95)
    AzureMetrics,
    /// `[azure] app_service`: the web app's state (Running; Stopped is CRITICAL) and availability
    AppService,
    /// Share of requests answered 5xx in the logs source (`[logs] workspace_id`) over 15m (1/5 %)
    ErrorRate,
    /// P95 response time in the logs source (`[logs] workspace_id`) over 15m (1/3 seconds)
    LatencyP95,
}

impl CheckName {
    /// The name the command line and the outputs use (`long-queries`).
    /// The check's table under `[health]`, as `where_` takes it: `.long_queries` for `long-queries`.
    pub(crate) fn table(self) -> String {
        format!(".{}", self.name().replace('-', "_"))
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Disk => "disk",
            Self::Memory => "memory",
            Self::Cpu => "cpu",
            Self::Load => "load",
            Self::Database => "database",
            Self::Connections => "connections",
            Self::Replication => "replication",
            Self::Deadlocks => "deadlocks",
            Self::LongQueries => "long-queries",
            Self::IdleInTransaction => "idle-in-transaction",
            Self::Wraparound => "wraparound",
            Self::CacheHit => "cache-hit",
            Self::Redis => "redis",
            Self::Api => "api",
            Self::BackupAge => "backup-age",
            Self::VerifyAge => "verify-age",
            Self::AzureMetrics => "azure-metrics",
            Self::AppService => "app-service",
            Self::ErrorRate => "error-rate",
            Self::LatencyP95 => "latency-p95",
        }
    }

    pub(crate) fn all() -> &'static [Self] {
        Self::value_variants()
    }
}

pub(crate) fn known_checks() -> String {
    CheckName::all()
        .iter()
        .map(|check| check.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A duration that must be above zero, or the default in milliseconds.
pub(crate) fn positive(
    value: Option<HumanDuration>,
    default_millis: u64,
    origin: impl Fn() -> String,
) -> anyhow::Result<Duration> {
    match value {
        None => Ok(Duration::from_millis(default_millis)),
        Some(value) if value.0.is_zero() => Err(UserError::usage(format!("{} must be above 0", origin()))
            .with_hint("Give a duration such as `5s`")
            .into()),
        Some(value) => Ok(value.0),
    }
}

/// A check's own `timeout` (`timeout` of its table, [`CheckName::table`]), added to `timeouts` when set.
///
/// # Errors
/// A zero timeout (exit 2), naming the table.
pub(crate) fn own_timeout(
    timeouts: &mut Vec<(CheckName, Duration)>,
    check: CheckName,
    value: Option<HumanDuration>,
    where_: &dyn Fn(&str) -> String,
) -> anyhow::Result<()> {
    if value.is_some() {
        timeouts.push((
            check,
            positive(value, 0, || format!("`timeout` of {}", where_(&check.table())))?,
        ));
    }
    Ok(())
}

/// A duration threshold in seconds, the unit `thresholds` takes for latencies.
pub(crate) fn duration_seconds(value: Option<HumanDuration>) -> Option<f64> {
    value.map(|value| value.0.as_secs_f64())
}

/// The configured thresholds over the defaults, refused when the warning one is past the critical one.
pub(crate) fn thresholds(
    warning: Option<f64>,
    critical: Option<f64>,
    default: Thresholds,
    origin: impl Fn() -> String,
) -> anyhow::Result<Thresholds> {
    let chosen = Thresholds {
        warning: warning.unwrap_or(default.warning),
        critical: critical.unwrap_or(default.critical),
        direction: default.direction,
    };
    if !chosen.warning.is_finite() || !chosen.critical.is_finite() {
        return Err(UserError::usage(format!("The thresholds of {} must be numbers", origin())).into());
    }
    if !chosen.is_ordered() {
        let (relation, fix) = match chosen.direction {
            Direction::Above => ("above", "at or below"),
            Direction::Below => ("below", "at or above"),
        };
        return Err(UserError::usage(format!(
            "In {}, warning = {} is {relation} critical = {}",
            origin(),
            chosen.warning,
            chosen.critical
        ))
        .with_hint(format!(
            "The warning threshold comes first: set it {fix} the critical one (defaults: warning {}, critical {})",
            default.warning, default.critical
        ))
        .into());
    }
    Ok(chosen)
}
