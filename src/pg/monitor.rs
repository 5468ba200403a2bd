//! The server's monitoring SQL that more than one command reads: connection limits, which sessions are client
//! sessions, the WAL position lag is measured from, a standby's progress and each database's transaction ID age.
//!
//! `stats` shows these as reports and `health` judges them against thresholds; the SQL lives here, once, so the
//! two cannot measure different things. Only statements and the facts they rest on: no report shapes, no
//! thresholds, no privilege handling (each caller decides what a hidden value means for it).

/// `max_connections`, and the slots other roles cannot use: `superuser_reserved_connections` plus
/// `reserved_connections` (PostgreSQL 16+; `current_setting(.., true)` is NULL before).
pub const CONNECTION_LIMITS_SQL: &str = "
    SELECT current_setting('max_connections')::int8,
        current_setting('superuser_reserved_connections')::int8
        + coalesce(current_setting('reserved_connections', true)::int8, 0)";

/// The `WHERE` condition of a client session in `pg_stat_activity` (no alias). Without `pg_read_all_stats` the
/// server hides another role's `backend_type`: a hidden process with a user name is taken for a client session
/// (background processes have none; another role's parallel worker or WAL sender would be miscounted).
macro_rules! client_backend {
    () => {
        "(backend_type = 'client backend' OR (backend_type IS NULL AND usename IS NOT NULL))"
    };
}
pub(crate) use client_backend;

/// The WAL position lag is measured from: the current one on a primary, the last received one on a standby.
/// `CASE` keeps `pg_current_wal_lsn()` (an error during recovery) off a standby.
macro_rules! current_lsn {
    () => {
        "CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END"
    };
}
pub(crate) use current_lsn;

/// A standby's own progress (columns: in recovery, received LSN, replayed LSN, received − replayed bytes, last
/// replayed commit time, seconds since it). On a primary the positions are NULL.
pub const STANDBY_SQL: &str = "
    SELECT pg_is_in_recovery(), pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text,
        pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::int8,
        pg_last_xact_replay_timestamp(),
        extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8";

/// 2³¹ − 1: transaction IDs further apart than this wrap around.
pub const XID_LIMIT: i64 = 2_147_483_647;

/// Every database's transaction ID age (`age(datfrozenxid)`) and multixact age, oldest first.
pub const XID_AGES_SQL: &str = "
    SELECT datname::text, age(datfrozenxid)::int8, mxid_age(datminmxid)::int8
    FROM pg_database ORDER BY 2 DESC, 1";

/// `autovacuum_freeze_max_age`: the transaction ID age at which an anti-wraparound autovacuum starts.
pub const FREEZE_MAX_AGE_SQL: &str = "SELECT current_setting('autovacuum_freeze_max_age')::int8";
