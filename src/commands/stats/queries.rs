//! `campctl stats queries`: the sessions that need a look (runbook 3.4.3), in one table with a `category`:
//!
//! - `waiting`: waiting for a lock held by `blocked_by` (from `pg_blocking_pids`), however briefly;
//! - `blocking`: holds a lock other sessions wait for (`blocking` lists them), however briefly;
//! - `idle_in_transaction`: in a transaction but idle for at least `--min-duration` (holds locks and snapshots);
//! - `long_running`: a statement running for at least `--min-duration`.
//!
//! A session appears once, in the first category above that applies. Only client backends are listed, never
//! campctl's own. Without `pg_monitor` the server hides the type, state, times and query text of other roles'
//! sessions: a hidden process with a user name is taken for a client session, listed only if it waits or blocks
//! (with `null` for what is hidden), and otherwise counted in `invisible_sessions`.
//!
//! `--terminate` and `--terminate-idle` are in `terminate.rs`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::{Client, Row};

use super::StatsSettings;
use crate::pg::monitor::client_backend;
use crate::printer::{Cell, Report, Table};

const SESSIONS_SQL: &str = concat!(
    "SELECT pid, datname::text, usename::text, application_name, client_addr::text, state, wait_event_type,
        wait_event, backend_start, xact_start, query_start, state_change,
        extract(epoch FROM now() - query_start)::float8,
        extract(epoch FROM now() - xact_start)::float8,
        extract(epoch FROM now() - state_change)::float8,
        CASE WHEN state IS NOT NULL THEN query END,
        CASE WHEN coalesce(wait_event_type, 'Lock') = 'Lock' THEN pg_blocking_pids(pid) ELSE '{}' END
    FROM pg_stat_activity
    WHERE ",
    client_backend!(),
    " AND pid <> pg_backend_pid()"
);

/// Why a session is listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Category {
    Waiting,
    Blocking,
    IdleInTransaction,
    LongRunning,
}

impl Category {
    fn name(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Blocking => "blocking",
            Self::IdleInTransaction => "idle_in_transaction",
            Self::LongRunning => "long_running",
        }
    }
}

/// One client session as `pg_stat_activity` shows it to this role.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Session {
    pub pid: i32,
    pub database: Option<String>,
    pub user: Option<String>,
    pub application: Option<String>,
    pub client_addr: Option<String>,
    /// `active`, `idle`, `idle in transaction`, ...; `null` when not visible to this role.
    pub state: Option<String>,
    pub wait_event_type: Option<String>,
    pub wait_event: Option<String>,
    pub backend_start: Option<DateTime<Utc>>,
    pub xact_start: Option<DateTime<Utc>>,
    pub query_start: Option<DateTime<Utc>>,
    pub state_change: Option<DateTime<Utc>>,
    /// Since the current (or last) statement started.
    pub query_seconds: Option<f64>,
    /// Since the transaction started; `null` outside a transaction.
    pub transaction_seconds: Option<f64>,
    /// Since the state last changed (how long idle in transaction).
    pub state_seconds: Option<f64>,
    /// The current (or last) statement in full; `null` when not visible to this role.
    pub query: Option<String>,
    /// Sessions whose locks this one waits for.
    pub blocked_by: Vec<i32>,
    /// Sessions waiting for locks this one holds.
    pub blocking: Vec<i32>,
}

impl Session {
    fn from_row(row: &Row) -> Self {
        Self {
            pid: row.get(0),
            database: row.get(1),
            user: row.get(2),
            application: row.get(3),
            client_addr: row.get(4),
            state: row.get(5),
            wait_event_type: row.get(6),
            wait_event: row.get(7),
            backend_start: row.get(8),
            xact_start: row.get(9),
            query_start: row.get(10),
            state_change: row.get(11),
            query_seconds: row.get(12),
            transaction_seconds: row.get(13),
            state_seconds: row.get(14),
            query: row.get(15),
            blocked_by: row.get::<_, Option<Vec<i32>>>(16).unwrap_or_default(),
            blocking: Vec::new(),
        }
    }

    pub(crate) fn is_idle_in_transaction(&self) -> bool {
        self.state
            .as_deref()
            .is_some_and(|state| state.starts_with("idle in transaction"))
    }

    pub(crate) fn is_running(&self) -> bool {
        self.state
            .as_deref()
            .is_some_and(|state| state != "idle" && !state.starts_with("idle in transaction"))
    }

    /// The category and its duration in seconds, or `None` if the session is not worth listing.
    fn classify(&self, min_seconds: f64) -> Option<(Category, Option<f64>)> {
        let idle_or_running = if self.is_idle_in_transaction() {
            self.state_seconds
        } else {
            self.query_seconds
        };
        if !self.blocked_by.is_empty() {
            Some((Category::Waiting, self.query_seconds))
        } else if !self.blocking.is_empty() {
            Some((Category::Blocking, idle_or_running))
        } else if self.is_idle_in_transaction() && self.state_seconds.is_some_and(|s| s >= min_seconds) {
            Some((Category::IdleInTransaction, self.state_seconds))
        } else if self.is_running() && self.query_seconds.is_some_and(|s| s >= min_seconds) {
            Some((Category::LongRunning, self.query_seconds))
        } else {
            None
        }
    }
}

/// Every client session but campctl's own, with `blocking` filled in.
///
/// # Errors
/// The query failed.
pub(crate) async fn sessions(client: &Client) -> anyhow::Result<Vec<Session>> {
    let rows = super::visible("pg_stat_activity", client.query(SESSIONS_SQL, &[]))
        .await?
        .unwrap_or_default();
    let mut sessions: Vec<Session> = rows.iter().map(Session::from_row).collect();
    let waits: Vec<(i32, Vec<i32>)> = sessions
        .iter()
        .map(|session| (session.pid, session.blocked_by.clone()))
        .collect();
    for session in &mut sessions {
        session.blocking = waits
            .iter()
            .filter(|(_, blockers)| blockers.contains(&session.pid))
            .map(|(pid, _)| *pid)
            .collect();
    }
    Ok(sessions)
}

/// The report of `campctl stats queries`.
#[derive(Debug, Serialize)]
pub(crate) struct QueriesReport {
    /// `--min-duration` in seconds (for `idle_in_transaction` and `long_running`).
    pub min_duration_seconds: f64,
    /// The most rows shown.
    pub limit: u32,
    /// Sessions per category, before `--limit`.
    pub counts: CategoryCounts,
    /// Client sessions of other roles whose state this role cannot see (and that neither wait nor block).
    pub invisible_sessions: i64,
    /// Ordered by category (waiting, blocking, idle_in_transaction, long_running), then longest first.
    pub sessions: Vec<ListedSession>,
}

/// Sessions per category.
#[derive(Debug, Serialize, Default)]
pub(crate) struct CategoryCounts {
    pub waiting: i64,
    pub blocking: i64,
    pub idle_in_transaction: i64,
    pub long_running: i64,
}

/// A session with the reason it is listed.
#[derive(Debug, Serialize)]
pub(crate) struct ListedSession {
    pub category: Category,
    /// How long it has been waiting or running (seconds since `query_start`), or idle in transaction (since
    /// `state_change`); `null` when not visible.
    pub duration_seconds: Option<f64>,
    #[serde(flatten)]
    pub session: Session,
}

/// Reads and classifies the sessions.
///
/// # Errors
/// The query failed.
pub(crate) async fn collect(client: &Client, settings: &StatsSettings) -> anyhow::Result<QueriesReport> {
    Ok(classify(sessions(client).await?, settings))
}

fn classify(sessions: Vec<Session>, settings: &StatsSettings) -> QueriesReport {
    let min_seconds = settings.min_duration.as_secs_f64();
    let mut counts = CategoryCounts::default();
    let mut invisible_sessions = 0;
    let mut listed = Vec::new();
    for session in sessions {
        let Some((category, duration_seconds)) = session.classify(min_seconds) else {
            if session.state.is_none() {
                invisible_sessions += 1;
            }
            continue;
        };
        *match category {
            Category::Waiting => &mut counts.waiting,
            Category::Blocking => &mut counts.blocking,
            Category::IdleInTransaction => &mut counts.idle_in_transaction,
            Category::LongRunning => &mut counts.long_running,
        } += 1;
        listed.push(ListedSession {
            category,
            duration_seconds,
            session,
        });
    }
    listed.sort_by(|a, b| {
        a.category.cmp(&b.category).then_with(|| {
            let (a, b) = (a.duration_seconds.unwrap_or(-1.0), b.duration_seconds.unwrap_or(-1.0));
            b.total_cmp(&a)
        })
    });
    listed.truncate(settings.limit as usize);
    QueriesReport {
        min_duration_seconds: min_seconds,
        limit: settings.limit,
        counts,
        invisible_sessions,
        sessions: listed,
    }
}

/// PIDs for a table cell: `123 456`.
pub(crate) fn pid_list(pids: &[i32]) -> String {
    pids.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")
}

impl Report for QueriesReport {
    fn tables(&self) -> Vec<Table> {
        let mut table = Table::new(
            format!(
                "Sessions waiting, blocking, idle in transaction or running at least {}",
                crate::units::format_seconds(self.min_duration_seconds)
            ),
            &[
                "category",
                "pid",
                "database",
                "user",
                "duration_seconds",
                "state",
                "blocked_by",
                "query",
            ],
        )
        .empty_message("No session waits, blocks, or has been idle in transaction or running that long");
        for row in &self.sessions {
            let session = &row.session;
            table.row(vec![
                row.category.name().into(),
                session.pid.into(),
                Cell::opt(session.database.clone()),
                Cell::opt(session.user.clone()),
                row.duration_seconds.map_or(Cell::Unknown, Cell::Seconds),
                session.state.clone().map_or(Cell::Unknown, Into::into),
                if session.blocked_by.is_empty() {
                    Cell::Null
                } else {
                    pid_list(&session.blocked_by).into()
                },
                session.query.clone().map_or(Cell::Unknown, Cell::LongText),
            ]);
        }
        let total =
            self.counts.waiting + self.counts.blocking + self.counts.idle_in_transaction + self.counts.long_running;
        if total > self.sessions.len() as i64 {
            table
                .notes
                .push(format!("{total} sessions match; raise `--limit` to list more"));
        }
        if self.invisible_sessions > 0 {
            table.notes.push(format!(
                "{} sessions of other roles are not visible; grant `pg_monitor` to see them",
                self.invisible_sessions
            ));
        }
        vec![table]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(pid: i32, state: Option<&str>, query_seconds: f64, state_seconds: f64) -> Session {
        Session {
            pid,
            database: Some("db".into()),
            user: Some("u".into()),
            application: None,
            client_addr: None,
            state: state.map(str::to_string),
            wait_event_type: None,
            wait_event: None,
            backend_start: None,
            xact_start: None,
            query_start: None,
            state_change: None,
            query_seconds: state.map(|_| query_seconds),
            transaction_seconds: None,
            state_seconds: state.map(|_| state_seconds),
            query: state.map(|_| "SELECT 1".into()),
            blocked_by: Vec::new(),
            blocking: Vec::new(),
        }
    }

    #[test]
    fn a_session_gets_the_first_category_that_applies() {
        let mut waiting = session(1, Some("active"), 0.5, 0.5);
        waiting.blocked_by = vec![2];
        assert_eq!(waiting.classify(60.0).map(|c| c.0), Some(Category::Waiting));
        let mut blocker = session(2, Some("idle in transaction"), 100.0, 3.0);
        blocker.blocking = vec![1];
        assert_eq!(blocker.classify(60.0), Some((Category::Blocking, Some(3.0))));
        let idle = session(3, Some("idle in transaction (aborted)"), 100.0, 61.0);
        assert_eq!(idle.classify(60.0), Some((Category::IdleInTransaction, Some(61.0))));
        assert_eq!(
            session(4, Some("active"), 61.0, 61.0).classify(60.0),
            Some((Category::LongRunning, Some(61.0)))
        );
        assert_eq!(session(5, Some("active"), 59.0, 59.0).classify(60.0), None);
        assert_eq!(session(6, Some("idle"), 600.0, 600.0).classify(60.0), None);
        assert_eq!(session(7, None, 0.0, 0.0).classify(0.0), None);
    }
}
