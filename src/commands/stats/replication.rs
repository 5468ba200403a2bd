//! `campctl stats replication`: streaming replicas (`pg_stat_replication`) with their lag, replication slots
//! (`pg_replication_slots`) with the WAL they hold back, and, on a standby, how far it has received and replayed.
//!
//! On a standalone server both lists are empty; that is not an error. Lag in bytes is measured from this server's
//! current WAL position (`pg_current_wal_lsn()`, or the last received position on a standby). Without
//! `pg_read_all_stats` the server hides a replica's positions and lags: they are `null` ("unknown").
//! Slots are read as `to_jsonb` rows, so columns added in later versions (`wal_status`, `safe_wal_size`) are read
//! where they exist and `null` elsewhere.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Client;

use super::known;
use crate::pg::monitor::{STANDBY_SQL, current_lsn};
use crate::printer::{Cell, Report, Table};

const REPLICAS_SQL: &str = concat!(
    "SELECT pid, usename::text, application_name, client_addr::text, state, sync_state,
        sent_lsn::text, write_lsn::text, flush_lsn::text, replay_lsn::text,
        pg_wal_lsn_diff(",
    current_lsn!(),
    ", replay_lsn)::int8,
        extract(epoch FROM write_lag)::float8, extract(epoch FROM flush_lag)::float8,
        extract(epoch FROM replay_lag)::float8, backend_start
    FROM pg_stat_replication
    ORDER BY application_name, pid"
);

const SLOTS_SQL: &str = concat!(
    "SELECT to_jsonb(s), pg_wal_lsn_diff(",
    current_lsn!(),
    ", s.restart_lsn)::int8
    FROM pg_replication_slots s
    ORDER BY s.slot_name"
);

/// The report of `campctl stats replication`.
#[derive(Debug, Serialize)]
pub(crate) struct ReplicationReport {
    /// This server is a standby (in recovery).
    pub is_standby: bool,
    /// Only on a standby.
    pub standby: Option<Standby>,
    pub replicas: Vec<Replica>,
    /// `null` when `pg_replication_slots` is not visible.
    pub slots: Option<Vec<ReplicationSlot>>,
}

/// A standby's own progress.
#[derive(Debug, Serialize)]
pub(crate) struct Standby {
    pub receive_lsn: Option<String>,
    pub replay_lsn: Option<String>,
    /// WAL received but not replayed yet.
    pub replay_lag_bytes: Option<i64>,
    pub last_replay_time: Option<DateTime<Utc>>,
    /// Seconds since the last replayed transaction committed on the primary (grows on an idle primary too).
    pub replay_delay_seconds: Option<f64>,
}

/// One connected replica (a WAL sender).
#[derive(Debug, Serialize)]
pub(crate) struct Replica {
    pub pid: i32,
    pub user: Option<String>,
    pub application: Option<String>,
    pub client_addr: Option<String>,
    /// `startup`, `catchup`, `streaming`, `backup`, `stopping`; `null` when not visible.
    pub state: Option<String>,
    /// `async`, `potential`, `sync`, `quorum`.
    pub sync_state: Option<String>,
    pub sent_lsn: Option<String>,
    pub write_lsn: Option<String>,
    pub flush_lsn: Option<String>,
    pub replay_lsn: Option<String>,
    /// Bytes of WAL the replica has not replayed yet.
    pub lag_bytes: Option<i64>,
    pub write_lag_seconds: Option<f64>,
    pub flush_lag_seconds: Option<f64>,
    pub replay_lag_seconds: Option<f64>,
    pub backend_start: Option<DateTime<Utc>>,
}

/// One replication slot.
#[derive(Debug, Serialize)]
pub(crate) struct ReplicationSlot {
    pub slot: Option<String>,
    /// `physical` or `logical`.
    pub slot_type: Option<String>,
    /// The output plugin of a logical slot.
    pub plugin: Option<String>,
    /// The database of a logical slot.
    pub database: Option<String>,
    pub active: Option<bool>,
    pub active_pid: Option<i64>,
    pub restart_lsn: Option<String>,
    pub confirmed_flush_lsn: Option<String>,
    /// WAL kept on disk for this slot: current position − `restart_lsn`.
    pub retained_bytes: Option<i64>,
    /// `reserved`, `extended`, `unreserved`, `lost` (PostgreSQL 13+).
    pub wal_status: Option<String>,
}

/// Reads replicas, slots and the standby's progress.
///
/// # Errors
/// A query failed for another reason than privileges.
pub(crate) async fn collect(client: &Client) -> anyhow::Result<ReplicationReport> {
    let (standby, replicas, slots) = tokio::join!(
        client.query_one(STANDBY_SQL, &[]),
        super::visible("pg_stat_replication", client.query(REPLICAS_SQL, &[])),
        super::visible("pg_replication_slots", client.query(SLOTS_SQL, &[])),
    );
    let standby = standby?;
    let is_standby: bool = standby.get(0);
    let replicas = replicas?
        .unwrap_or_default()
        .iter()
        .map(|row| Replica {
            pid: row.get(0),
            user: row.get(1),
            application: row.get(2),
            client_addr: row.get(3),
            state: row.get(4),
            sync_state: row.get(5),
            sent_lsn: row.get(6),
            write_lsn: row.get(7),
            flush_lsn: row.get(8),
            replay_lsn: row.get(9),
            lag_bytes: row.get(10),
            write_lag_seconds: row.get(11),
            flush_lag_seconds: row.get(12),
            replay_lag_seconds: row.get(13),
            backend_start: row.get(14),
        })
        .collect();
    let slots = slots?.map(|rows| {
        rows.iter()
            .map(|row| {
                let slot: serde_json::Value = row.get(0);
                let text = |key: &str| slot.get(key).and_then(|v| v.as_str()).map(str::to_string);
                ReplicationSlot {
                    slot: text("slot_name"),
                    slot_type: text("slot_type"),
                    plugin: text("plugin"),
                    database: text("database"),
                    active: slot.get("active").and_then(serde_json::Value::as_bool),
                    active_pid: slot.get("active_pid").and_then(serde_json::Value::as_i64),
                    restart_lsn: text("restart_lsn"),
                    confirmed_flush_lsn: text("confirmed_flush_lsn"),
                    retained_bytes: row.get(1),
                    wal_status: text("wal_status"),
                }
            })
            .collect()
    });
    Ok(ReplicationReport {
        is_standby,
        standby: is_standby.then(|| Standby {
            receive_lsn: standby.get(1),
            replay_lsn: standby.get(2),
            replay_lag_bytes: standby.get(3),
            last_replay_time: standby.get(4),
            replay_delay_seconds: standby.get(5),
        }),
        replicas,
        slots,
    })
}

impl Report for ReplicationReport {
    fn tables(&self) -> Vec<Table> {
        let mut replicas = Table::new(
            "Replicas",
            &[
                "client",
                "state",
                "sync_state",
                "replay_lsn",
                "lag_bytes",
                "write_lag_seconds",
                "flush_lag_seconds",
                "replay_lag_seconds",
            ],
        )
        .empty_message("No replica is connected (a standalone server, or no streaming replication)");
        for row in &self.replicas {
            let client = [row.application.as_deref(), row.client_addr.as_deref()]
                .into_iter()
                .flatten()
                .filter(|part| !part.is_empty())
                .collect::<Vec<_>>()
                .join(" @ ");
            replicas.row(vec![
                if client.is_empty() {
                    format!("pid {}", row.pid).into()
                } else {
                    client.into()
                },
                known(row.state.clone()),
                known(row.sync_state.clone()),
                known(row.replay_lsn.clone()),
                known(row.lag_bytes.map(Cell::Bytes)),
                row.write_lag_seconds.map_or(Cell::Null, Cell::Seconds),
                row.flush_lag_seconds.map_or(Cell::Null, Cell::Seconds),
                row.replay_lag_seconds.map_or(Cell::Null, Cell::Seconds),
            ]);
        }
        if self.replicas.iter().any(|row| row.state.is_none()) {
            replicas
                .notes
                .push("unknown: grant `pg_monitor` to see replication positions".to_string());
        }
        let mut slots = Table::new(
            "Replication slots",
            &[
                "slot",
                "slot_type",
                "database",
                "active",
                "retained_bytes",
                "wal_status",
            ],
        )
        .empty_message(if self.slots.is_some() {
            "No replication slots"
        } else {
            "unknown (not visible to this role)"
        });
        for row in self.slots.iter().flatten() {
            slots.row(vec![
                known(row.slot.clone()),
                known(row.slot_type.clone()),
                Cell::opt(row.database.clone()),
                known(row.active),
                known(row.retained_bytes.map(Cell::Bytes)),
                Cell::opt(row.wal_status.clone()),
            ]);
        }
        let mut tables = vec![replicas, slots];
        if let Some(standby) = &self.standby {
            let mut table = Table::new(
                "This server is a standby",
                &["receive_lsn", "replay_lsn", "replay_lag_bytes", "last_replay_time"],
            );
            table.row(vec![
                Cell::opt(standby.receive_lsn.clone()),
                Cell::opt(standby.replay_lsn.clone()),
                standby.replay_lag_bytes.map_or(Cell::Null, Cell::Bytes),
                Cell::opt(standby.last_replay_time),
            ]);
            tables.push(table);
        }
        tables
    }
}
