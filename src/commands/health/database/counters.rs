//! `deadlocks` (a rate between two runs, from the state file), `wraparound` (transaction ID age) and `cache-hit`
//! (the buffer cache hit ratio of the configured database): what `pg_stat_database` and `pg_database` count, readable
//! by every role.

use super::super::check::{CheckResult, Level, Unit};
use super::super::probe::Probe;
use super::super::state::Delta;
use super::{client, query_failed};
use crate::pg::monitor::{FREEZE_MAX_AGE_SQL, XID_AGES_SQL, XID_LIMIT};

const DEADLOCKS_SQL: &str = "SELECT coalesce(sum(deadlocks), 0)::float8 FROM pg_stat_database";

/// `deadlocks`: deadlocks per minute over every database since the last run (`pg_stat_database.deadlocks`, kept
/// in the state file per server). The first run, and a run after the counter went down, only take a sample.
pub(crate) async fn deadlocks(probe: &Probe<'_>) -> anyhow::Result<Vec<CheckResult>> {
    const CHECK: &str = "deadlocks";
    let client = match client(probe, CHECK).await {
        Ok(client) => client,
        Err(unknown) => return Ok(unknown),
    };
    let total: f64 = client
        .query_one(DEADLOCKS_SQL, &[])
        .await
        .map_err(|err| query_failed("pg_stat_database", &err))?
        .get(0);
    let key = format!("postgres deadlocks {}", probe.ctx.settings.db.target());
    let result = match probe.state.sample(&key, total) {
        Delta::First => CheckResult::state(
            CHECK,
            None,
            Level::Ok,
            format!("first run: {total:.0} deadlocks so far; the rate is measured from the next run on"),
        ),
        Delta::Reset => CheckResult::state(
            CHECK,
            None,
            Level::Ok,
            "the counter went down (statistics reset, a restart or a database dropped); measuring again from now",
        ),
        Delta::Since { seconds, .. } if seconds <= 0.0 => CheckResult::unknown(
            CHECK,
            None,
            "the last sample is not older than this one; is the clock right?",
        ),
        Delta::Since { increase, seconds } => CheckResult::measured(
            CHECK,
            None,
            increase * 60.0 / seconds,
            Unit::PerMinute,
            probe.settings.database.deadlocks,
            format!(
                "{increase:.0} deadlocks in the {} since the last run ({total:.0} in all)",
                Unit::Seconds.show(seconds)
            ),
        ),
    };
    Ok(vec![result])
}

/// `wraparound`: the oldest database's `age(datfrozenxid)` in % of `autovacuum_freeze_max_age`.
pub(crate) async fn wraparound(probe: &Probe<'_>) -> anyhow::Result<Vec<CheckResult>> {
    const CHECK: &str = "wraparound";
    let client = match client(probe, CHECK).await {
        Ok(client) => client,
        Err(unknown) => return Ok(unknown),
    };
    let (ages, max_age) = tokio::join!(
        client.query(XID_AGES_SQL, &[]),
        client.query_one(FREEZE_MAX_AGE_SQL, &[])
    );
    let ages = ages.map_err(|err| query_failed("pg_database", &err))?;
    let max_age: i64 = max_age
        .map_err(|err| query_failed("autovacuum_freeze_max_age", &err))?
        .get(0);
    let Some(oldest) = ages.first() else {
        return Ok(vec![CheckResult::unknown(CHECK, None, "pg_database lists no database")]);
    };
    if max_age <= 0 {
        return Ok(vec![CheckResult::unknown(
            CHECK,
            None,
            format!("autovacuum_freeze_max_age is {max_age}"),
        )]);
    }
    let database: String = oldest.get(0);
    let age: i64 = oldest.get(1);
    Ok(vec![CheckResult::measured(
        CHECK,
        None,
        age as f64 * 100.0 / max_age as f64,
        Unit::Percent,
        probe.settings.database.wraparound,
        format!(
            "`{database}` is the oldest: transaction ID age {age} of autovacuum_freeze_max_age {max_age}, {} \
             transactions before wraparound",
            XID_LIMIT - age
        ),
    )])
}

const CACHE_HIT_SQL: &str = "
    SELECT current_database()::text, coalesce(blks_hit, 0)::int8, coalesce(blks_read, 0)::int8
    FROM pg_stat_database WHERE datname = current_database()";

/// `cache-hit`: `blks_hit / (blks_hit + blks_read)` of the configured database since its statistics were reset;
/// OK with a note while fewer blocks than `[health.cache_hit] min_blocks` were needed.
pub(crate) async fn cache_hit(probe: &Probe<'_>) -> anyhow::Result<Vec<CheckResult>> {
    const CHECK: &str = "cache-hit";
    let client = match client(probe, CHECK).await {
        Ok(client) => client,
        Err(unknown) => return Ok(unknown),
    };
    let Some(row) = client
        .query_opt(CACHE_HIT_SQL, &[])
        .await
        .map_err(|err| query_failed("pg_stat_database", &err))?
    else {
        return Ok(vec![CheckResult::unknown(
            CHECK,
            None,
            "pg_stat_database has no row for this database yet",
        )]);
    };
    let database: String = row.get(0);
    let (hit, read): (i64, i64) = (row.get(1), row.get(2));
    let needed = hit.saturating_add(read);
    let min_blocks = probe.settings.database.cache_hit_min_blocks;
    let percent = if needed > 0 {
        hit as f64 * 100.0 / needed as f64
    } else {
        100.0
    };
    let counts = format!("{hit} of {needed} blocks found in shared buffers in `{database}`");
    if u64::try_from(needed).unwrap_or(0) < min_blocks {
        return Ok(vec![
            CheckResult::state(
                CHECK,
                None,
                Level::Ok,
                format!("{counts}: too few to judge (fewer than `min_blocks` = {min_blocks})"),
            )
            .with_value(percent, Unit::Percent),
        ]);
    }
    Ok(vec![CheckResult::measured(
        CHECK,
        None,
        percent,
        Unit::Percent,
        probe.settings.database.cache_hit,
        counts,
    )])
}
