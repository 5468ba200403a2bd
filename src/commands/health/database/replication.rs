//! `replication`: the replication lag in seconds (runbook 5.1.3: 10 s / 60 s).
//!
//! - **On a standby** (`pg_is_in_recovery()`): `now() − pg_last_xact_replay_timestamp()` while the received WAL is
//!   ahead of the replayed WAL, else 0 (caught up: an idle primary sends nothing to replay, and the time since the
//!   last commit is no lag). A standby that receives no WAL by streaming (`pg_last_wal_receive_lsn()` NULL) cannot
//!   tell whether it is behind: UNKNOWN.
//! - **On a primary**, one result per replica in `pg_stat_replication`: 0 when its `replay_lsn` has reached the
//!   current WAL position; else the larger of `replay_lag` and the time its `replay_lsn` has stood still while
//!   behind. `replay_lag` alone misses a stuck or paused replay (it is only updated when the replay position moves),
//!   so each run keeps every replica's replay position and the time it was first seen behind at that position in
//!   the state file: a replica whose replay does not move is as late as the time since that first sighting (0 on the
//!   first run that sees it, which says so).
//! - A primary with no replica is OK with a note.
//!
//! Without `pg_read_all_stats` a replica's positions are hidden: that replica is UNKNOWN.

use chrono::Utc;

use super::super::check::{CheckResult, Level, Unit};
use super::super::probe::Probe;
use super::{client, query_failed};
use crate::pg::monitor::STANDBY_SQL;
use crate::units::format_bytes;

const PAUSED_SQL: &str = "SELECT CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END";

const REPLICAS_SQL: &str = "
    SELECT pid, application_name, client_addr::text, state,
        pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8,
        pg_wal_lsn_diff(replay_lsn, '0/0')::float8,
        extract(epoch FROM replay_lag)::float8
    FROM pg_stat_replication
    ORDER BY application_name, client_addr, pid";

const CHECK: &str = "replication";

pub(crate) async fn replication(probe: &Probe<'_>) -> anyhow::Result<Vec<CheckResult>> {
    let client = match client(probe, CHECK).await {
        Ok(client) => client,
        Err(unknown) => return Ok(unknown),
    };
    let (standby, paused) = tokio::join!(client.query_one(STANDBY_SQL, &[]), client.query_one(PAUSED_SQL, &[]));
    let standby = standby.map_err(|err| query_failed("the recovery state", &err))?;
    let in_recovery: bool = standby.get(0);
    if in_recovery {
        let paused: Option<bool> = paused.ok().and_then(|row| row.get(0));
        return Ok(vec![on_standby(probe, &standby, paused == Some(true))]);
    }
    let rows = client
        .query(REPLICAS_SQL, &[])
        .await
        .map_err(|err| query_failed("pg_stat_replication", &err))?;
    if rows.is_empty() {
        return Ok(vec![CheckResult::state(
            CHECK,
            None,
            Level::Ok,
            "a primary with no replica connected: nothing lags (a standalone server, or every replica is gone: \
             `campctl stats replication` lists slots)",
        )]);
    }
    Ok(rows.iter().map(|row| replica(probe, row)).collect())
}

fn on_standby(probe: &Probe<'_>, row: &tokio_postgres::Row, paused: bool) -> CheckResult {
    let target = Some("standby".to_string());
    let receive: Option<String> = row.get(1);
    let behind_bytes: Option<i64> = row.get(3);
    let since_commit: Option<f64> = row.get(5);
    let paused_note = if paused { " (replay is paused)" } else { "" };
    let (Some(receive), Some(behind_bytes)) = (receive, behind_bytes) else {
        return CheckResult::unknown(
            CHECK,
            target,
            format!("this standby receives no WAL by streaming, so it cannot tell how far behind it is{paused_note}"),
        );
    };
    if behind_bytes <= 0 {
        return CheckResult::measured(
            CHECK,
            target,
            0.0,
            Unit::Seconds,
            probe.settings.database.replication,
            format!("standby: replayed all WAL received (up to {receive}){paused_note}"),
        );
    }
    let Some(since_commit) = since_commit else {
        return CheckResult::unknown(
            CHECK,
            target,
            format!(
                "standby: {} of received WAL not replayed, and no transaction replayed since it started{paused_note}",
                format_bytes(behind_bytes)
            ),
        );
    };
    CheckResult::measured(
        CHECK,
        target,
        since_commit.max(0.0),
        Unit::Seconds,
        probe.settings.database.replication,
        format!(
            "standby: {} of received WAL not replayed; the last replayed commit is {} old{paused_note}",
            format_bytes(behind_bytes),
            Unit::Seconds.show(since_commit.max(0.0))
        ),
    )
}

fn replica(probe: &Probe<'_>, row: &tokio_postgres::Row) -> CheckResult {
    let pid: i32 = row.get(0);
    let application: Option<String> = row.get(1);
    let address: Option<String> = row.get(2);
    let state: Option<String> = row.get(3);
    let behind_bytes: Option<f64> = row.get(4);
    let position: Option<f64> = row.get(5);
    let replay_lag: Option<f64> = row.get(6);
    let name = [application.as_deref(), address.as_deref()]
        .into_iter()
        .flatten()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("@");
    let target = Some(if name.is_empty() { format!("pid {pid}") } else { name });
    let (Some(state), Some(behind_bytes), Some(position)) = (state, behind_bytes, position) else {
        return CheckResult::unknown(
            CHECK,
            target,
            "the replica's positions are not visible to this role (grant it `pg_monitor`)",
        );
    };
    let key = format!(
        "postgres replication {} {}",
        probe.ctx.settings.db.target(),
        target.as_deref().unwrap_or_default()
    );
    let now = Utc::now().timestamp_millis() as f64 / 1000.0;
    let stuck_since = if behind_bytes > 0.0 {
        let previous_position = probe.state.previous(&format!("{key} replay_lsn"));
        let previous_since = probe.state.previous(&format!("{key} behind_since"));
        #[expect(
            clippy::float_cmp,
            reason = "the same LSN read twice is the same f64 (exact below 2^53 bytes of WAL)"
        )]
        let unmoved = previous_position.is_some_and(|old| old.value == position);
        match previous_since {
            Some(since) if unmoved && since.value >= 0.0 => Some(since.value),
            _ => Some(now),
        }
    } else {
        None
    };
    probe.state.sample(&format!("{key} replay_lsn"), position);
    // -1: not behind.
    probe
        .state
        .sample(&format!("{key} behind_since"), stuck_since.unwrap_or(-1.0));
    let Some(since) = stuck_since else {
        return CheckResult::measured(
            CHECK,
            target,
            0.0,
            Unit::Seconds,
            probe.settings.database.replication,
            format!("replica {state}: replayed all WAL"),
        );
    };
    let stuck = (now - since).max(0.0);
    let lag = replay_lag.unwrap_or(0.0).max(stuck);
    #[expect(clippy::cast_possible_truncation, reason = "WAL byte counts fit an i64")]
    let behind = format_bytes(behind_bytes as i64);
    let message = if stuck > 0.0 && stuck >= replay_lag.unwrap_or(0.0) {
        format!(
            "replica {state}: {behind} behind, its replay position has not moved for {}",
            Unit::Seconds.show(stuck)
        )
    } else if stuck == 0.0 && replay_lag.is_none() {
        format!("replica {state}: {behind} behind; first seen behind at this replay position now")
    } else {
        format!(
            "replica {state}: {behind} behind, replay_lag {}",
            Unit::Seconds.show(replay_lag.unwrap_or(0.0))
        )
    };
    CheckResult::measured(
        CHECK,
        target,
        lag,
        Unit::Seconds,
        probe.settings.database.replication,
        message,
    )
}
