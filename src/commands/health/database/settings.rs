//! [`DatabaseHealthSettings`]: the thresholds of the database checks from `[health.database]`,
//! `[health.connections]`, ... over the defaults (runbook 5.1.2 / 5.1.3 / 3.4.3 / 8.1.1 where it has a figure,
//! campctl's own where it has none), and their `timeout` keys.

use std::time::Duration;

use super::super::check::Thresholds;
use super::super::limits::{CheckName, own_timeout, thresholds};
use crate::config_file::{DurationHealthConfig, HealthConfig};
use crate::units::HumanDuration;

/// The database checks' thresholds, each in its check's unit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DatabaseHealthSettings {
    /// Seconds to connect and run `SELECT 1`.
    pub latency: Thresholds,
    /// Percent of the connections roles without a reservation may open.
    pub connections: Thresholds,
    /// Seconds of replication lag.
    pub replication: Thresholds,
    /// Deadlocks per minute.
    pub deadlocks: Thresholds,
    /// Seconds the longest statement has been running.
    pub long_queries: Thresholds,
    /// Seconds the longest session has been idle in a transaction.
    pub idle_in_transaction: Thresholds,
    /// Percent of `autovacuum_freeze_max_age`.
    pub wraparound: Thresholds,
    /// Percent of blocks found in shared buffers (low is bad).
    pub cache_hit: Thresholds,
    /// Fewer blocks needed than this is too few to judge the cache hit ratio.
    pub cache_hit_min_blocks: u64,
}

/// The defaults; docs/health.md ("The database") gives the source of each.
mod defaults {
    use super::Thresholds;

    /// campctl: a `SELECT 1` is a round trip; a second to connect and answer means a server or network in trouble.
    pub(super) const LATENCY: Thresholds = Thresholds::above(1.0, 3.0);
    /// Runbook 5.1.2 / 5.1.3.
    pub(super) const CONNECTIONS: Thresholds = Thresholds::above(80.0, 95.0);
    /// Runbook 5.1.3: 10 s / 60 s.
    pub(super) const REPLICATION: Thresholds = Thresholds::above(10.0, 60.0);
    /// Runbook 5.1.3: 1 / 5 per minute.
    pub(super) const DEADLOCKS: Thresholds = Thresholds::above(1.0, 5.0);
    /// Runbook 3.4.3: 5 min; critical (campctl): 15 min, three times that.
    pub(super) const LONG_QUERIES: Thresholds = Thresholds::above(300.0, 900.0);
    /// campctl: 5 min; critical at 10 min, where runbook 8.1.1 ends such sessions.
    pub(super) const IDLE_IN_TRANSACTION: Thresholds = Thresholds::above(300.0, 600.0);
    /// campctl: at 100 % an anti-wraparound autovacuum is due; at 200 % it has failed to finish for as long again.
    pub(super) const WRAPAROUND: Thresholds = Thresholds::above(100.0, 200.0);
    /// campctl: below 99 % an OLTP database reads from disk more than it should; below 95 % much more.
    pub(super) const CACHE_HIT: Thresholds = Thresholds::below(99.0, 95.0);
    pub(super) const CACHE_HIT_MIN_BLOCKS: u64 = 10_000;
}

impl DatabaseHealthSettings {
    /// Reads the database checks' tables of `[health]`; their `timeout` keys go into `timeouts`.
    ///
    /// # Errors
    /// A usage error (exit 2) naming the table: thresholds in the wrong order or not numbers, a zero timeout.
    pub(crate) fn resolve(
        file: &HealthConfig,
        where_: &dyn Fn(&str) -> String,
        timeouts: &mut Vec<(CheckName, Duration)>,
    ) -> anyhow::Result<Self> {
        let mut timeout = |check: CheckName, value: Option<HumanDuration>| own_timeout(timeouts, check, value, where_);
        timeout(CheckName::Database, file.database.as_ref().and_then(|t| t.timeout))?;
        timeout(
            CheckName::Connections,
            file.connections.as_ref().and_then(|t| t.timeout),
        )?;
        timeout(
            CheckName::Replication,
            file.replication.as_ref().and_then(|t| t.timeout),
        )?;
        timeout(CheckName::Deadlocks, file.deadlocks.as_ref().and_then(|t| t.timeout))?;
        timeout(
            CheckName::LongQueries,
            file.long_queries.as_ref().and_then(|t| t.timeout),
        )?;
        timeout(
            CheckName::IdleInTransaction,
            file.idle_in_transaction.as_ref().and_then(|t| t.timeout),
        )?;
        timeout(CheckName::Wraparound, file.wraparound.as_ref().and_then(|t| t.timeout))?;
        timeout(CheckName::CacheHit, file.cache_hit.as_ref().and_then(|t| t.timeout))?;

        let seconds = |check: CheckName, config: Option<&DurationHealthConfig>, default: Thresholds| {
            let secs = |value: Option<HumanDuration>| value.map(|value| value.0.as_secs_f64());
            thresholds(
                secs(config.and_then(|t| t.warning)),
                secs(config.and_then(|t| t.critical)),
                default,
                || where_(&check.table()),
            )
        };
        let number = |check: CheckName, warning: Option<f64>, critical: Option<f64>, default: Thresholds| {
            thresholds(warning, critical, default, || where_(&check.table()))
        };
        Ok(Self {
            latency: seconds(CheckName::Database, file.database.as_ref(), defaults::LATENCY)?,
            connections: number(
                CheckName::Connections,
                file.connections.as_ref().and_then(|t| t.warning),
                file.connections.as_ref().and_then(|t| t.critical),
                defaults::CONNECTIONS,
            )?,
            replication: seconds(CheckName::Replication, file.replication.as_ref(), defaults::REPLICATION)?,
            deadlocks: number(
                CheckName::Deadlocks,
                file.deadlocks.as_ref().and_then(|t| t.warning),
                file.deadlocks.as_ref().and_then(|t| t.critical),
                defaults::DEADLOCKS,
            )?,
            long_queries: seconds(
                CheckName::LongQueries,
                file.long_queries.as_ref(),
                defaults::LONG_QUERIES,
            )?,
            idle_in_transaction: seconds(
                CheckName::IdleInTransaction,
                file.idle_in_transaction.as_ref(),
                defaults::IDLE_IN_TRANSACTION,
            )?,
            wraparound: number(
                CheckName::Wraparound,
                file.wraparound.as_ref().and_then(|t| t.warning),
                file.wraparound.as_ref().and_then(|t| t.critical),
                defaults::WRAPAROUND,
            )?,
            cache_hit: number(
                CheckName::CacheHit,
                file.cache_hit.as_ref().and_then(|t| t.warning),
                file.cache_hit.as_ref().and_then(|t| t.critical),
                defaults::CACHE_HIT,
            )?,
            cache_hit_min_blocks: file
                .cache_hit
                .as_ref()
                .and_then(|t| t.min_blocks)
                .unwrap_or(defaults::CACHE_HIT_MIN_BLOCKS),
        })
    }
}
