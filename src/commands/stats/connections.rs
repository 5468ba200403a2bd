//! `campctl stats connections`: client connections per database and state against `max_connections`
//! (runbook 3.4.2 and the "too many clients" check of 8.1.1).
//!
//! Only client backends count towards `max_connections` and into `total`; campctl's own session is one of them.
//! Background processes (autovacuum, WAL senders, parallel workers, the checkpointer, ...) have their own limits and
//! are counted separately in `background`. Without `pg_monitor` (`pg_read_all_stats`), the server hides the type
//! and state of other roles' processes: those with a user name are counted as client connections (background
//! processes have none; another role's parallel worker or WAL sender would be miscounted), and their state is
//! `null` in JSON and "unknown" in the table, never guessed.

use std::collections::BTreeMap;

use serde::Serialize;
use tokio_postgres::Client;

use super::percent;
use crate::printer::{Cell, Report, Table};

const ACTIVITY_SQL: &str = "
    SELECT datname::text, usename::text, application_name, state, backend_type, count(*)::int8
    FROM pg_stat_activity
    GROUP BY 1, 2, 3, 4, 5";

/// The report of `campctl stats connections`.
#[derive(Debug, Serialize)]
pub(crate) struct ConnectionsReport {
    pub max_connections: i64,
    /// `superuser_reserved_connections` (+ `reserved_connections` on PostgreSQL 16+): slots other roles cannot use.
    pub reserved: i64,
    /// Client connections, campctl's own included.
    pub total: i64,
    /// `total` / `max_connections` × 100.
    pub percent: f64,
    /// Slots left for roles without a reservation: `max_connections` − `reserved` − `total`.
    pub available: i64,
    /// Client connections whose state the role cannot see.
    pub unknown_state: i64,
    /// Most connections first; `state` is `null` when not visible.
    pub by_database_state: Vec<DatabaseState>,
    pub by_user: Vec<Count>,
    pub by_application: Vec<Count>,
    /// Processes that are not client connections, by `backend_type`.
    pub background: Vec<Count>,
}

/// Client connections of one database in one state.
#[derive(Debug, Serialize)]
pub(crate) struct DatabaseState {
    pub database: Option<String>,
    pub state: Option<String>,
    pub count: i64,
}

/// Client connections (or background processes) of one user, application or backend type.
#[derive(Debug, Serialize)]
pub(crate) struct Count {
    pub name: Option<String>,
    pub count: i64,
}

/// Reads the connection counts.
///
/// # Errors
/// A query failed.
pub(crate) async fn collect(client: &Client) -> anyhow::Result<ConnectionsReport> {
    let (activity, limits) = tokio::join!(
        client.query(ACTIVITY_SQL, &[]),
        client.query_one(crate::pg::monitor::CONNECTION_LIMITS_SQL, &[])
    );
    let activity = super::visible("pg_stat_activity", async { activity })
        .await?
        .unwrap_or_default();
    let limits = super::visible("the connection limits", async { limits }).await?;
    let (max_connections, reserved) = limits.map_or((0, 0), |row| (row.get(0), row.get(1)));

    let mut by_database_state: BTreeMap<(Option<String>, Option<String>), i64> = BTreeMap::new();
    let mut by_user: BTreeMap<Option<String>, i64> = BTreeMap::new();
    let mut by_application: BTreeMap<Option<String>, i64> = BTreeMap::new();
    let mut background: BTreeMap<Option<String>, i64> = BTreeMap::new();
    let (mut total, mut unknown_state) = (0, 0);
    for row in &activity {
        let database: Option<String> = row.get(0);
        let user: Option<String> = row.get(1);
        let application: Option<String> = row.get(2);
        let state: Option<String> = row.get(3);
        let backend_type: Option<String> = row.get(4);
        let count: i64 = row.get(5);
        // Without pg_read_all_stats, other roles' processes hide their type: one with a user is a client session
        // (background processes have none), unless it is one of that role's parallel workers or WAL senders.
        let client = backend_type.as_deref() == Some("client backend") || (backend_type.is_none() && user.is_some());
        if !client {
            *background.entry(backend_type).or_default() += count;
            continue;
        }
        total += count;
        if state.is_none() {
            unknown_state += count;
        }
        *by_database_state.entry((database, state)).or_default() += count;
        *by_user.entry(user).or_default() += count;
        *by_application
            .entry(application.filter(|name| !name.is_empty()))
            .or_default() += count;
    }
    let by_database_state = sorted(by_database_state)
        .into_iter()
        .map(|((database, state), count)| DatabaseState { database, state, count })
        .collect();
    let counts = |map| {
        sorted(map)
            .into_iter()
            .map(|(name, count)| Count { name, count })
            .collect()
    };
    Ok(ConnectionsReport {
        max_connections,
        reserved,
        total,
        percent: percent(total, max_connections).unwrap_or(0.0),
        available: max_connections - reserved - total,
        unknown_state,
        by_database_state,
        by_user: counts(by_user),
        by_application: counts(by_application),
        background: counts(background),
    })
}

/// Most first, then by key.
fn sorted<K: Ord>(map: BTreeMap<K, i64>) -> Vec<(K, i64)> {
    let mut entries: Vec<_> = map.into_iter().collect();
    entries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    entries
}

fn name_cell(name: Option<&str>, missing: &str) -> Cell {
    name.map_or_else(|| Cell::Text(missing.to_string()), Into::into)
}

impl Report for ConnectionsReport {
    fn tables(&self) -> Vec<Table> {
        let mut states = Table::new(
            format!(
                "Connections: {} of {} ({:.1}%), {} reserved, {} available",
                self.total, self.max_connections, self.percent, self.reserved, self.available
            ),
            &["database", "state", "count"],
        )
        .empty_message("No client connections");
        for row in &self.by_database_state {
            states.row(vec![
                name_cell(row.database.as_deref(), "(none)"),
                row.state.clone().map_or(Cell::Unknown, Into::into),
                row.count.into(),
            ]);
        }
        if self.unknown_state > 0 {
            states.notes.push(format!(
                "The state of {} connections of other roles is not visible; grant `pg_monitor` to see it",
                self.unknown_state
            ));
        }
        let mut users = Table::new("By user", &["user", "count"]);
        for row in &self.by_user {
            users.row(vec![name_cell(row.name.as_deref(), "(none)"), row.count.into()]);
        }
        let mut applications = Table::new("By application", &["application", "count"]);
        for row in &self.by_application {
            applications.row(vec![name_cell(row.name.as_deref(), "(none)"), row.count.into()]);
        }
        let mut background = Table::new("Background processes (not counted above)", &["backend_type", "count"]);
        for row in &self.background {
            background.row(vec![name_cell(row.name.as_deref(), "(unknown)"), row.count.into()]);
        }
        vec![states, users, applications, background]
    }
}
