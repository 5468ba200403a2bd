//! `campctl stats database`: per-database size and activity counters from `pg_stat_database`, every database
//! but the templates, the current one first.
//!
//! The size of a database needs CONNECT on it or `pg_read_all_stats` (part of `pg_monitor`); otherwise it is
//! unknown (`null`). The counters count since `stats_reset`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Client;
use tokio_postgres::types::ToSql;

use super::{known, percent, percent_cell};
use crate::printer::{Cell, Report, Table};

/// `$1`: only the current database.
const DATABASES_SQL: &str = "
    SELECT d.datname::text, d.datname = current_database(),
        CASE WHEN has_database_privilege(d.oid, 'CONNECT') OR pg_has_role('pg_read_all_stats', 'USAGE')
             THEN pg_database_size(d.oid) END AS size,
        s.numbackends::int8, s.xact_commit, s.xact_rollback, s.blks_read, s.blks_hit, s.tup_returned,
        s.tup_fetched, s.tup_inserted, s.tup_updated, s.tup_deleted, s.conflicts, s.temp_files, s.temp_bytes,
        s.deadlocks, s.stats_reset
    FROM pg_database d
    LEFT JOIN pg_stat_database s ON s.datid = d.oid
    WHERE NOT d.datistemplate AND (NOT $1 OR d.datname = current_database())
    ORDER BY d.datname = current_database() DESC, size DESC NULLS LAST, d.datname";

/// The report of `campctl stats database`.
#[derive(Debug, Serialize)]
pub(crate) struct DatabaseReport {
    /// The database campctl is connected to.
    pub current: String,
    /// The current database first, then the largest.
    pub databases: Vec<DatabaseRow>,
}

/// One database; counters since `stats_reset`.
#[derive(Debug, Serialize)]
pub(crate) struct DatabaseRow {
    pub database: String,
    pub current: bool,
    /// `null` without CONNECT on the database or `pg_read_all_stats`.
    pub size_bytes: Option<i64>,
    /// Sessions connected now.
    pub backends: Option<i64>,
    pub commits: Option<i64>,
    pub rollbacks: Option<i64>,
    /// Rollbacks / (commits + rollbacks) × 100.
    pub rollback_percent: Option<f64>,
    pub blocks_read: Option<i64>,
    pub blocks_hit: Option<i64>,
    /// Blocks found in shared buffers / blocks needed × 100.
    pub cache_hit_percent: Option<f64>,
    pub tuples_returned: Option<i64>,
    pub tuples_fetched: Option<i64>,
    pub tuples_inserted: Option<i64>,
    pub tuples_updated: Option<i64>,
    pub tuples_deleted: Option<i64>,
    pub deadlocks: Option<i64>,
    /// Queries cancelled by recovery conflicts (standbys only).
    pub conflicts: Option<i64>,
    pub temp_files: Option<i64>,
    pub temp_bytes: Option<i64>,
    /// `null`: never reset.
    pub stats_reset: Option<DateTime<Utc>>,
}

/// Reads the databases (`only_current`: the current one only, for the summary).
///
/// # Errors
/// The query failed for another reason than privileges.
pub(crate) async fn collect(client: &Client, only_current: bool) -> anyhow::Result<DatabaseReport> {
    let params: [&(dyn ToSql + Sync); 1] = [&only_current];
    let (current, rows) = tokio::join!(
        client.query_one("SELECT current_database()::text", &[]),
        super::visible("pg_stat_database", client.query(DATABASES_SQL, &params)),
    );
    let current: String = current?.get(0);
    let databases = rows?
        .unwrap_or_default()
        .iter()
        .map(|row| {
            let commits: Option<i64> = row.get(4);
            let rollbacks: Option<i64> = row.get(5);
            let blocks_read: Option<i64> = row.get(6);
            let blocks_hit: Option<i64> = row.get(7);
            DatabaseRow {
                database: row.get(0),
                current: row.get(1),
                size_bytes: row.get(2),
                backends: row.get(3),
                commits,
                rollbacks,
                rollback_percent: commits.zip(rollbacks).and_then(|(c, r)| percent(r, c + r)),
                blocks_read,
                blocks_hit,
                cache_hit_percent: blocks_hit
                    .zip(blocks_read)
                    .and_then(|(hit, read)| percent(hit, hit + read)),
                tuples_returned: row.get(8),
                tuples_fetched: row.get(9),
                tuples_inserted: row.get(10),
                tuples_updated: row.get(11),
                tuples_deleted: row.get(12),
                conflicts: row.get(13),
                temp_files: row.get(14),
                temp_bytes: row.get(15),
                deadlocks: row.get(16),
                stats_reset: row.get(17),
            }
        })
        .collect();
    Ok(DatabaseReport { current, databases })
}

impl Report for DatabaseReport {
    fn tables(&self) -> Vec<Table> {
        let mut table = Table::new(
            format!("Databases (connected to `{}`)", self.current),
            &[
                "database",
                "size_bytes",
                "cache_hit_percent",
                "commits",
                "rollbacks",
                "rollback_percent",
                "deadlocks",
                "conflicts",
                "temp_files",
                "temp_bytes",
                "stats_reset",
            ],
        );
        for row in &self.databases {
            table.row(vec![
                row.database.clone().into(),
                known(row.size_bytes.map(Cell::Bytes)),
                percent_cell(row.cache_hit_percent),
                Cell::opt(row.commits),
                Cell::opt(row.rollbacks),
                percent_cell(row.rollback_percent),
                Cell::opt(row.deadlocks),
                Cell::opt(row.conflicts),
                Cell::opt(row.temp_files),
                row.temp_bytes.map_or(Cell::Null, Cell::Bytes),
                Cell::opt(row.stats_reset),
            ]);
        }
        if self.databases.iter().any(|row| row.size_bytes.is_none()) {
            table
                .notes
                .push("unknown size: needs CONNECT on the database or `pg_monitor`".to_string());
        }
        vec![table]
    }
}
