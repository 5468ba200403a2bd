//! The running vacuums of `campctl stats vacuum`: autovacuum workers and manual VACUUMs, from `pg_stat_activity`
//! joined to `pg_stat_progress_vacuum` (phase and heap progress).
//!
//! The relation is named from `pg_stat_progress_vacuum.relid` in the current database; in another database that
//! OID means nothing here, so the name comes from the worker's query text (`autovacuum: VACUUM public.t`), which
//! needs `pg_read_all_stats`; without it the relation is unknown.
//!
//! Without `pg_read_all_stats` the server still lists another role's vacuum in `pg_stat_progress_vacuum` (pid and
//! database) but hides everything else, the process's `backend_type` included: every column but the pid is read
//! as optional here and shown as unknown. Whether it is an autovacuum worker is then told by its missing role
//! (`usesysid`, visible to everyone): autovacuum workers run as no role, a manual VACUUM runs in a session of one.

use serde::Serialize;
use tokio_postgres::Client;

use super::{known, percent, percent_cell};
use crate::printer::{Cell, Table};

const WORKERS_SQL: &str = "
    SELECT a.pid, a.datname::text,
        CASE WHEN a.backend_type IS NOT NULL THEN a.backend_type = 'autovacuum worker'
             WHEN p.pid IS NOT NULL THEN a.usesysid IS NULL END,
        CASE WHEN p.datid = (SELECT oid FROM pg_database WHERE datname = current_database())
             THEN p.relid::regclass::text END,
        CASE WHEN a.state IS NOT NULL THEN a.query END, p.phase, p.heap_blks_total, p.heap_blks_scanned,
        extract(epoch FROM now() - coalesce(a.xact_start, a.query_start))::float8,
        p.pid IS NOT NULL AND p.relid IS NULL
    FROM pg_stat_activity a
    LEFT JOIN pg_stat_progress_vacuum p ON p.pid = a.pid
    WHERE a.backend_type = 'autovacuum worker' OR p.pid IS NOT NULL
    ORDER BY a.pid";

/// A running vacuum.
#[derive(Debug, Serialize)]
pub(crate) struct Worker {
    pub pid: i32,
    pub database: Option<String>,
    /// `true` for an autovacuum worker, `false` for a manual VACUUM; `null` if that cannot be told.
    pub autovacuum: Option<bool>,
    /// `null` when not visible to this role.
    pub relation: Option<String>,
    /// An anti-wraparound autovacuum (`null` when not visible).
    pub wraparound: Option<bool>,
    /// `pg_stat_progress_vacuum.phase`; `null` while an autovacuum worker only analyzes or is not visible.
    pub phase: Option<String>,
    /// The progress columns are hidden from this role (another role's VACUUM without `pg_read_all_stats`).
    #[serde(skip)]
    pub progress_hidden: bool,
    pub heap_blks_total: Option<i64>,
    pub heap_blks_scanned: Option<i64>,
    pub progress_percent: Option<f64>,
    pub duration_seconds: Option<f64>,
    pub query: Option<String>,
}

/// Reads the running vacuums; empty when not visible.
///
/// # Errors
/// The query failed for another reason than privileges.
pub(crate) async fn collect(client: &Client) -> anyhow::Result<Vec<Worker>> {
    let rows = super::visible("pg_stat_progress_vacuum", client.query(WORKERS_SQL, &[]))
        .await?
        .unwrap_or_default();
    Ok(rows
        .iter()
        .map(|row| {
            let query: Option<String> = row.get(4);
            let total: Option<i64> = row.get(6);
            let scanned: Option<i64> = row.get(7);
            Worker {
                pid: row.get(0),
                database: row.get(1),
                autovacuum: row.get(2),
                progress_hidden: row.get::<_, Option<bool>>(9).unwrap_or(false),
                relation: row
                    .get::<_, Option<String>>(3)
                    .or_else(|| query.as_deref().and_then(relation_of)),
                wraparound: query.as_deref().map(|query| query.contains("(to prevent wraparound)")),
                phase: row.get(5),
                heap_blks_total: total,
                heap_blks_scanned: scanned,
                progress_percent: total.zip(scanned).and_then(|(total, scanned)| percent(scanned, total)),
                duration_seconds: row.get(8),
                query,
            }
        })
        .collect())
}

/// `autovacuum: VACUUM ANALYZE public.t (to prevent wraparound)` → `public.t`.
fn relation_of(query: &str) -> Option<String> {
    let rest = query.strip_prefix("autovacuum: ")?;
    let rest = rest.strip_suffix(" (to prevent wraparound)").unwrap_or(rest);
    let rest = rest.strip_prefix("BRIN summarize ").unwrap_or(rest);
    let rest = rest.strip_prefix("VACUUM ").unwrap_or(rest);
    let rest = rest.strip_prefix("ANALYZE ").unwrap_or(rest);
    (!rest.is_empty()).then(|| rest.to_string())
}

/// The "Running vacuums" table.
pub(crate) fn table(workers: &[Worker]) -> Table {
    let mut table = Table::new(
        "Running vacuums",
        &[
            "pid",
            "database",
            "relation",
            "autovacuum",
            "phase",
            "progress_percent",
            "duration_seconds",
        ],
    )
    .empty_message("No vacuum is running");
    for row in workers {
        table.row(vec![
            row.pid.into(),
            Cell::opt(row.database.clone()),
            known(row.relation.clone()),
            known(row.autovacuum),
            if row.progress_hidden {
                Cell::Unknown
            } else {
                Cell::opt(row.phase.clone())
            },
            if row.progress_hidden {
                Cell::Unknown
            } else {
                percent_cell(row.progress_percent)
            },
            known(row.duration_seconds.map(Cell::Seconds)),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::relation_of;

    #[test]
    fn relation_from_autovacuum_query() {
        assert_eq!(relation_of("autovacuum: VACUUM public.t").as_deref(), Some("public.t"));
        assert_eq!(
            relation_of("autovacuum: VACUUM ANALYZE s.t (to prevent wraparound)").as_deref(),
            Some("s.t")
        );
        assert_eq!(relation_of("autovacuum: ANALYZE public.t").as_deref(), Some("public.t"));
        assert_eq!(relation_of("VACUUM t"), None);
    }
}
