//! `long-queries` and `idle-in-transaction`: the longest running statement and the longest idle transaction of
//! the client sessions (runbook 3.4.3, 8.1.1). Never campctl's own sessions: this one, and those whose
//! `application_name` starts with `campctl` (a backup's pg_dump, a vacuum: long by nature and watched by their own
//! command).
//!
//! Without `pg_monitor` the server hides the state and times of other roles' sessions. A value past a threshold is
//! still reported; an OK one is UNKNOWN when sessions were hidden, since one of them may be the longest.

use std::fmt::Write as _;

use super::super::check::{CheckResult, Level, Thresholds, Unit};
use super::super::probe::Probe;
use super::{client, query_failed};
use crate::pg::monitor::client_backend;

/// What is measured, and since when.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `state = 'active'`, since `query_start`.
    Running,
    /// `state` `idle in transaction` or `idle in transaction (aborted)`, since `state_change`.
    IdleInTransaction,
}

/// One row: hidden sessions, then the longest one's pid, database, user, application and seconds (NULL if none).
macro_rules! longest_sql {
    ($filter:literal, $since:literal) => {
        concat!(
            "WITH s AS (
                SELECT pid, datname::text AS db, usename::text AS usr, application_name AS app, state,
                    extract(epoch FROM now() - ",
            $since,
            ")::float8 AS seconds
                FROM pg_stat_activity
                WHERE ",
            client_backend!(),
            " AND pid <> pg_backend_pid() AND coalesce(application_name, '') NOT LIKE 'campctl%'
            )
            SELECT h.hidden, t.pid, t.db, t.usr, t.app, t.seconds
            FROM (SELECT count(*) FILTER (WHERE state IS NULL)::int8 AS hidden FROM s) h
            LEFT JOIN (SELECT * FROM s WHERE ",
            $filter,
            " ORDER BY seconds DESC NULLS LAST LIMIT 1) t ON true"
        )
    };
}

const RUNNING_SQL: &str = longest_sql!("state = 'active'", "query_start");
const IDLE_SQL: &str = longest_sql!("state LIKE 'idle in transaction%'", "state_change");

/// `long-queries`: seconds the longest running statement has been running (0 when none runs).
pub(crate) async fn long_queries(probe: &Probe<'_>) -> anyhow::Result<Vec<CheckResult>> {
    longest(probe, Kind::Running).await
}

/// `idle-in-transaction`: seconds the longest idle-in-transaction session has been idle (0 when none is).
pub(crate) async fn idle_in_transaction(probe: &Probe<'_>) -> anyhow::Result<Vec<CheckResult>> {
    longest(probe, Kind::IdleInTransaction).await
}

async fn longest(probe: &Probe<'_>, kind: Kind) -> anyhow::Result<Vec<CheckResult>> {
    let (check, sql, thresholds, doing) = match kind {
        Kind::Running => (
            "long-queries",
            RUNNING_SQL,
            probe.settings.database.long_queries,
            "running its statement",
        ),
        Kind::IdleInTransaction => (
            "idle-in-transaction",
            IDLE_SQL,
            probe.settings.database.idle_in_transaction,
            "idle in a transaction",
        ),
    };
    let client = match client(probe, check).await {
        Ok(client) => client,
        Err(unknown) => return Ok(unknown),
    };
    let row = client
        .query_one(sql, &[])
        .await
        .map_err(|err| query_failed("pg_stat_activity", &err))?;
    let hidden: i64 = row.get(0);
    let pid: Option<i32> = row.get(1);
    let seconds: Option<f64> = row.get(5);
    let (value, message) = match (pid, seconds) {
        (Some(pid), Some(seconds)) => {
            let database: Option<String> = row.get(2);
            let user: Option<String> = row.get(3);
            let application: Option<String> = row.get(4);
            let mut message = format!(
                "pid {pid} ({} in `{}`",
                user.map_or_else(|| "unknown role".to_string(), |user| format!("`{user}`")),
                database.unwrap_or_default()
            );
            if let Some(application) = application.filter(|name| !name.is_empty()) {
                let _ = write!(message, ", `{application}`");
            }
            let _ = write!(message, ") {doing} for {}", Unit::Seconds.show(seconds.max(0.0)));
            (seconds.max(0.0), message)
        }
        _ => (
            0.0,
            match kind {
                Kind::Running => "no client session is running a statement".to_string(),
                Kind::IdleInTransaction => "no client session is idle in a transaction".to_string(),
            },
        ),
    };
    Ok(vec![judged(check, value, thresholds, message, hidden)])
}

/// The result of a longest-session value, UNKNOWN instead of OK when `hidden` sessions may be longer.
fn judged(check: &'static str, value: f64, thresholds: Thresholds, message: String, hidden: i64) -> CheckResult {
    let mut result = CheckResult::measured(check, None, value, Unit::Seconds, thresholds, message);
    if hidden > 0 {
        let note = format!("; {hidden} sessions of other roles are not visible to this role (grant it `pg_monitor`)");
        result.message.push_str(&note);
        if result.status == Level::Ok {
            result.status = Level::Unknown;
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_sessions_make_ok_unknown_but_never_hide_a_problem() {
        let thresholds = Thresholds::above(300.0, 900.0);
        let ok = judged("long-queries", 10.0, thresholds, "m".into(), 2);
        assert_eq!(ok.status, Level::Unknown);
        assert!(ok.message.contains("2 sessions of other roles"), "{}", ok.message);
        assert_eq!(
            judged("long-queries", 10.0, thresholds, "m".into(), 0).status,
            Level::Ok
        );
        assert_eq!(
            judged("long-queries", 1000.0, thresholds, "m".into(), 2).status,
            Level::Critical
        );
    }
}
