//! `campctl stats` without a section: one screen with the figures an operator checks first.
//!
//! It reuses the sections' queries, run concurrently on one connection. A part that fails (or that the role
//! cannot see) is `null` with a warning on stderr; the rest is still shown.

use serde::Serialize;
use tokio_postgres::Client;

use super::indexes::IndexSummary;
use super::{
    StatsSettings, connections, database, indexes, known, percent_cell, queries, replication, settings, vacuum,
};
use crate::printer::{Cell, Printer, Report, Table};

/// Tables listed under "top dead tuples".
const TOP_DEAD: u32 = 5;

/// The report of `campctl stats` (no section). `null` means unknown: not visible, or that part failed.
#[derive(Debug, Serialize)]
pub(crate) struct SummaryReport {
    pub database: Option<String>,
    pub size_bytes: Option<i64>,
    pub server_version: Option<String>,
    pub is_standby: Option<bool>,
    pub cache_hit_percent: Option<f64>,
    pub connections: Option<ConnectionSummary>,
    /// The longest-running statement now (visible sessions only); `null` if none runs.
    pub longest_query_seconds: Option<f64>,
    pub longest_query_pid: Option<i32>,
    /// Sessions idle in a transaction now, however briefly (visible sessions only).
    pub idle_in_transaction: Option<i64>,
    /// Sessions waiting for a lock now.
    pub waiting: Option<i64>,
    /// The tables with the most dead tuples.
    pub top_dead_tuples: Option<Vec<TopDead>>,
    /// The database with the oldest `datfrozenxid`.
    pub oldest_xid: Option<OldestXid>,
    pub indexes: Option<IndexSummary>,
    pub replicas: Option<i64>,
    pub slots: Option<i64>,
    /// Settings that are not as recommended (`campctl stats settings`).
    pub settings_differ: Option<Vec<String>>,
}

/// Client connections against `max_connections`.
#[derive(Debug, Serialize)]
pub(crate) struct ConnectionSummary {
    pub total: i64,
    pub max_connections: i64,
    pub percent: f64,
}

/// One table of the dead-tuple top list.
#[derive(Debug, Serialize)]
pub(crate) struct TopDead {
    pub schema: String,
    pub table: String,
    pub dead_tuples: i64,
    pub dead_percent: Option<f64>,
}

/// The oldest database by transaction ID age.
#[derive(Debug, Serialize)]
pub(crate) struct OldestXid {
    pub database: String,
    pub xid_age: i64,
    pub wraparound_margin: i64,
    pub freeze_max_age_percent: Option<f64>,
}

/// A part's value, or `None` with a warning.
fn part<T>(printer: &Printer, what: &str, result: anyhow::Result<T>) -> Option<T> {
    result
        .map_err(|err| printer.warn(&format!("{what} is unknown: {err:#}")))
        .ok()
}

/// Runs every part concurrently.
///
/// # Errors
/// None of its own: failed parts are `null`. Kept fallible for symmetry with the sections.
pub(crate) async fn collect(
    client: &Client,
    settings: &StatsSettings,
    printer: &Printer,
) -> anyhow::Result<SummaryReport> {
    let top = StatsSettings {
        limit: TOP_DEAD,
        ..settings.clone()
    };
    let (server, database, connections, sessions, vacuum, indexes, replication, server_settings) = tokio::join!(
        async {
            let version = crate::pg::database::server_version(client).await?;
            let standby: bool = client.query_one("SELECT pg_is_in_recovery()", &[]).await?.get(0);
            Ok::<_, anyhow::Error>((version.text, standby))
        },
        database::collect(client, true),
        connections::collect(client),
        queries::sessions(client),
        vacuum::collect(client, &top),
        indexes::collect_limited(client, settings, 1),
        replication::collect(client),
        settings::collect(client),
    );
    let server = part(printer, "The server version", server);
    let database = part(printer, "The database size", database);
    let current = database.as_ref().and_then(|report| report.databases.first());
    let connections = part(printer, "The connection count", connections);
    let sessions = part(printer, "The sessions", sessions);
    let vacuum = part(printer, "The vacuum state", vacuum);
    let server_settings = part(printer, "The settings", server_settings);
    if let Some(report) = &server_settings {
        settings::warn_loudly(report, printer);
    }
    let replication = part(printer, "Replication", replication);
    let longest = sessions.as_ref().and_then(|sessions| {
        sessions
            .iter()
            .filter(|session| session.is_running())
            .filter_map(|session| session.query_seconds.map(|seconds| (session.pid, seconds)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    });
    Ok(SummaryReport {
        database: database.as_ref().map(|report| report.current.clone()),
        size_bytes: current.and_then(|row| row.size_bytes),
        server_version: server.as_ref().map(|(version, _)| version.clone()),
        is_standby: server.as_ref().map(|(_, standby)| *standby),
        cache_hit_percent: current.and_then(|row| row.cache_hit_percent),
        connections: connections.map(|report| ConnectionSummary {
            total: report.total,
            max_connections: report.max_connections,
            percent: report.percent,
        }),
        longest_query_seconds: longest.map(|(_, seconds)| seconds),
        longest_query_pid: longest.map(|(pid, _)| pid),
        idle_in_transaction: sessions.as_ref().map(|sessions| {
            sessions
                .iter()
                .filter(|session| session.is_idle_in_transaction())
                .count() as i64
        }),
        waiting: sessions
            .as_ref()
            .map(|sessions| sessions.iter().filter(|session| !session.blocked_by.is_empty()).count() as i64),
        top_dead_tuples: vacuum.as_ref().map(|report| {
            report
                .tables
                .iter()
                .map(|row| TopDead {
                    schema: row.schema.clone(),
                    table: row.table.clone(),
                    dead_tuples: row.dead_tuples,
                    dead_percent: row.dead_percent,
                })
                .collect()
        }),
        oldest_xid: vacuum.as_ref().and_then(|report| {
            report.databases.first().map(|row| OldestXid {
                database: row.database.clone(),
                xid_age: row.xid_age,
                wraparound_margin: row.wraparound_margin,
                freeze_max_age_percent: row.freeze_max_age_percent,
            })
        }),
        indexes: part(printer, "The index statistics", indexes).map(|report| report.summary),
        replicas: replication.as_ref().map(|report| report.replicas.len() as i64),
        slots: replication
            .as_ref()
            .and_then(|report| report.slots.as_ref().map(|slots| slots.len() as i64)),
        settings_differ: server_settings.map(|report| report.differing()),
    })
}

impl Report for SummaryReport {
    fn tables(&self) -> Vec<Table> {
        let mut summary = Table::new(
            format!("Summary of `{}`", self.database.as_deref().unwrap_or("unknown")),
            &["metric", "value"],
        );
        let mut add = |metric: &str, value: Cell| summary.row(vec![metric.into(), value]);
        add("size_bytes", known(self.size_bytes.map(Cell::Bytes)));
        add("server_version", known(self.server_version.clone()));
        add("standby", known(self.is_standby));
        add("cache_hit_percent", known(self.cache_hit_percent.map(Cell::Percent)));
        add(
            "connections",
            known(
                self.connections
                    .as_ref()
                    .map(|c| format!("{} of {} ({:.1}%)", c.total, c.max_connections, c.percent)),
            ),
        );
        let longest = match (self.longest_query_seconds, self.longest_query_pid) {
            (Some(seconds), Some(pid)) => Cell::Text(format!("{} (PID {pid})", crate::units::format_seconds(seconds))),
            _ if self.idle_in_transaction.is_none() => Cell::Unknown,
            _ => Cell::Null,
        };
        add("longest_query", longest);
        add("idle_in_transaction", known(self.idle_in_transaction));
        add("waiting_for_locks", known(self.waiting));
        add(
            "oldest_xid_age",
            known(self.oldest_xid.as_ref().map(|x| {
                let towards_freeze = x
                    .freeze_max_age_percent
                    .map(|percent| format!(", {percent:.1}% of autovacuum_freeze_max_age"))
                    .unwrap_or_default();
                format!(
                    "{} in `{}` (margin {}{towards_freeze})",
                    x.xid_age, x.database, x.wraparound_margin
                )
            })),
        );
        add(
            "unused_indexes",
            known(self.indexes.map(|i| {
                format!(
                    "{} ({})",
                    i.unused,
                    i.unused_bytes
                        .map_or_else(|| "unknown size".to_string(), crate::units::format_bytes)
                )
            })),
        );
        add("invalid_indexes", known(self.indexes.map(|i| i.invalid)));
        add("duplicate_indexes", known(self.indexes.map(|i| i.duplicate)));
        add("replicas", known(self.replicas));
        add("replication_slots", known(self.slots));
        add(
            "settings_differ",
            known(self.settings_differ.as_ref().map(|names| {
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            })),
        );
        let mut dead = Table::new(
            format!("Top {TOP_DEAD} tables by dead tuples"),
            &["schema", "table", "dead_tuples", "dead_percent"],
        )
        .empty_message(if self.top_dead_tuples.is_some() {
            "No table has dead tuples"
        } else {
            "unknown"
        });
        for row in self.top_dead_tuples.iter().flatten() {
            dead.row(vec![
                row.schema.clone().into(),
                row.table.clone().into(),
                row.dead_tuples.into(),
                percent_cell(row.dead_percent),
            ]);
        }
        vec![summary, dead]
    }
}
