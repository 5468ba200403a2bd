//! `campctl stats tables`: the largest tables with their size split, tuples, maintenance times and scans
//! (runbook 3.4.1, which only looked at `public`).
//!
//! A partitioned table is one row: its partitions (all levels) are summed into it and not listed on their own,
//! because a partitioned parent has no storage and a table split into 500 partitions would otherwise push every
//! other table out of the list. `campctl stats vacuum` lists partitions individually, as autovacuum sees them.
//!
//! Speed with 10,000 tables: measuring a relation opens it (a relcache entry per table and per index), which costs
//! about a second for 10,000 tables with their indexes. So the server first ranks by the catalog's page counts
//! (`relpages`, kept by VACUUM, ANALYZE and CREATE INDEX; a relation never vacuumed or analyzed is measured), keeps
//! the best candidates, and measures only those exactly. Every figure shown is exact.
//!
//! Measuring takes a lock that waits behind an ACCESS EXCLUSIVE lock (VACUUM FULL, ALTER TABLE, LOCK TABLE), so
//! a table another session holds or waits for such a lock on is not measured: its sizes are "unknown".
//! Partitions are found through `pg_inherits` (`pg_partition_tree` would lock them).

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Client;

use super::{StatsSettings, blocked_tables, known, percent, percent_cell, schema_filter};
use crate::printer::{Cell, Report, Table};

/// How many candidates per shown row the page-count ranking keeps before the exact measurement.
const CANDIDATES_PER_ROW: i64 = 5;
/// At least this many candidates are measured.
const MIN_CANDIDATES: i64 = 100;

/// `$1` schemas (or NULL), `$2` rows, `$3` candidates.
const TABLES_SQL: &str = concat!(
    "WITH RECURSIVE rel AS (
        SELECT c.oid, c.relkind
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'm', 'p') AND NOT c.relispartition AND ",
    schema_filter!(),
    "), tree AS (
        SELECT oid AS root, oid AS rel FROM rel WHERE relkind = 'p'
        UNION ALL
        SELECT tree.root, i.inhrelid FROM tree JOIN pg_inherits i ON i.inhparent = tree.rel
    ), member AS (
        SELECT oid AS root, oid AS member FROM rel WHERE relkind <> 'p'
        UNION ALL
        SELECT tree.root, tree.rel FROM tree JOIN pg_class c ON c.oid = tree.rel WHERE c.relkind <> 'p'
    ), ",
    blocked_tables!(),
    ", index_pages AS (
        SELECT i.indrelid, sum(ic.relpages)::int8 AS pages
        FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
        GROUP BY i.indrelid
    ), candidate AS (
        SELECT m.root,
            sum(CASE WHEN mc.relpages > 0 OR b.oid IS NOT NULL
                     THEN mc.relpages::int8 * current_setting('block_size')::int8
                     ELSE coalesce(pg_relation_size(m.member), 0) END
                + (coalesce(tc.relpages, 0) + coalesce(ip.pages, 0))::int8 * current_setting('block_size')::int8
            ) AS estimate
        FROM member m
        JOIN pg_class mc ON mc.oid = m.member
        LEFT JOIN pg_class tc ON tc.oid = mc.reltoastrelid
        LEFT JOIN index_pages ip ON ip.indrelid = m.member
        LEFT JOIN blocked b ON b.oid = m.member
        GROUP BY m.root
        ORDER BY estimate DESC, m.root
        LIMIT $3
    ), measured AS (
        SELECT m.root, m.member, mc.reltoastrelid, b.oid IS NOT NULL AS blocked, candidate.estimate,
            CASE WHEN b.oid IS NULL THEN coalesce(pg_total_relation_size(m.member), 0) END AS total
        FROM candidate
        JOIN member m ON m.root = candidate.root
        JOIN pg_class mc ON mc.oid = m.member
        LEFT JOIN blocked b ON b.oid = m.member
    ), top AS (
        SELECT root, CASE WHEN NOT bool_or(blocked) THEN sum(total)::int8 END AS total_bytes,
            -- A table that cannot be measured keeps its place by its estimate.
            CASE WHEN NOT bool_or(blocked) THEN sum(total) ELSE max(estimate) END AS rank
        FROM measured GROUP BY root
        ORDER BY rank DESC, root LIMIT $2
    )
    SELECT n.nspname::text, c.relname::text, c.relkind::text, top.total_bytes,
        -- The CASE inside the aggregate: an aggregate inside a CASE is computed whatever the condition.
        CASE WHEN NOT bool_or(m.blocked)
             THEN sum(CASE WHEN NOT m.blocked THEN coalesce(pg_indexes_size(m.member), 0) END)::int8 END,
        CASE WHEN NOT bool_or(m.blocked)
             THEN sum(CASE WHEN NOT m.blocked
                           THEN coalesce(pg_total_relation_size(nullif(m.reltoastrelid, 0)), 0) END)::int8 END,
        count(*) FILTER (WHERE m.member <> m.root)::int8,
        sum(pg_stat_get_live_tuples(m.member))::int8,
        sum(pg_stat_get_dead_tuples(m.member))::int8,
        CASE WHEN count(*) = count(pg_stat_get_last_vacuum_time(m.member))
             THEN min(pg_stat_get_last_vacuum_time(m.member)) END,
        CASE WHEN count(*) = count(pg_stat_get_last_autovacuum_time(m.member))
             THEN min(pg_stat_get_last_autovacuum_time(m.member)) END,
        CASE WHEN count(*) = count(pg_stat_get_last_analyze_time(m.member))
             THEN min(pg_stat_get_last_analyze_time(m.member)) END,
        CASE WHEN count(*) = count(pg_stat_get_last_autoanalyze_time(m.member))
             THEN min(pg_stat_get_last_autoanalyze_time(m.member)) END,
        sum(pg_stat_get_numscans(m.member))::int8,
        sum((SELECT sum(pg_stat_get_numscans(i.indexrelid)) FROM pg_index i WHERE i.indrelid = m.member))::int8
    FROM top
    JOIN measured m ON m.root = top.root
    JOIN pg_class c ON c.oid = top.root
    JOIN pg_namespace n ON n.oid = c.relnamespace
    GROUP BY top.root, top.rank, n.nspname, c.relname, c.relkind, top.total_bytes
    ORDER BY top.rank DESC, top.root"
);

/// The report of `campctl stats tables`.
#[derive(Debug, Serialize)]
pub(crate) struct TablesReport {
    /// The `--schema` filter; `null` means every non-system schema.
    pub schemas: Option<Vec<String>>,
    /// The most rows shown.
    pub limit: u32,
    /// Largest first.
    pub tables: Vec<TableRow>,
}

/// One table, materialized view, or partitioned table (summed over its partitions).
#[derive(Debug, Serialize)]
pub(crate) struct TableRow {
    pub schema: String,
    pub table: String,
    /// `table`, `partitioned` or `materialized_view`.
    pub kind: &'static str,
    /// Leaf partitions summed into this row; `null` unless partitioned.
    pub partitions: Option<i64>,
    /// Everything: heap + TOAST + indexes (`pg_total_relation_size`). The sizes are `null` while another session
    /// holds or waits for an ACCESS EXCLUSIVE lock on the table (reading them would wait for it).
    pub total_bytes: Option<i64>,
    /// The heap with its free space and visibility maps, without TOAST.
    pub table_bytes: Option<i64>,
    pub index_bytes: Option<i64>,
    /// The TOAST table and its index.
    pub toast_bytes: Option<i64>,
    pub live_tuples: i64,
    pub dead_tuples: i64,
    /// Dead / (live + dead) × 100; `null` for an empty table.
    pub dead_percent: Option<f64>,
    /// `null`: never. For a partitioned table, the oldest among its partitions (`null` if one never had it).
    pub last_vacuum: Option<DateTime<Utc>>,
    pub last_autovacuum: Option<DateTime<Utc>>,
    pub last_analyze: Option<DateTime<Utc>>,
    pub last_autoanalyze: Option<DateTime<Utc>>,
    pub seq_scans: i64,
    /// `null` when the table has no index.
    pub idx_scans: Option<i64>,
}

/// Reads the largest tables.
///
/// # Errors
/// The query failed.
pub(crate) async fn collect(client: &Client, settings: &StatsSettings) -> anyhow::Result<TablesReport> {
    let limit = settings.limit();
    let candidates = (limit * CANDIDATES_PER_ROW).max(MIN_CANDIDATES);
    let rows = super::visible(
        "table statistics",
        client.query(TABLES_SQL, &[&settings.schemas, &limit, &candidates]),
    )
    .await?
    .unwrap_or_default();
    let tables = rows
        .iter()
        .map(|row| {
            let total_bytes: Option<i64> = row.get(3);
            let index_bytes: Option<i64> = row.get(4);
            let toast_bytes: Option<i64> = row.get(5);
            let partitions: i64 = row.get(6);
            let live_tuples: i64 = row.get(7);
            let dead_tuples: i64 = row.get(8);
            let relkind: String = row.get(2);
            TableRow {
                schema: row.get(0),
                table: row.get(1),
                kind: match relkind.as_str() {
                    "p" => "partitioned",
                    "m" => "materialized_view",
                    _ => "table",
                },
                partitions: (relkind == "p").then_some(partitions),
                total_bytes,
                table_bytes: total_bytes
                    .zip(index_bytes)
                    .zip(toast_bytes)
                    .map(|((total, index), toast)| total - index - toast),
                index_bytes,
                toast_bytes,
                live_tuples,
                dead_tuples,
                dead_percent: percent(dead_tuples, live_tuples + dead_tuples),
                last_vacuum: row.get(9),
                last_autovacuum: row.get(10),
                last_analyze: row.get(11),
                last_autoanalyze: row.get(12),
                seq_scans: row.get(13),
                idx_scans: row.get(14),
            }
        })
        .collect();
    Ok(TablesReport {
        schemas: settings.schemas.clone(),
        limit: settings.limit,
        tables,
    })
}

impl Report for TablesReport {
    fn tables(&self) -> Vec<Table> {
        let mut sizes = Table::new(
            format!("Tables by total size (top {})", self.limit),
            &[
                "schema",
                "table",
                "total_bytes",
                "table_bytes",
                "index_bytes",
                "toast_bytes",
                "live_tuples",
                "dead_tuples",
                "dead_percent",
            ],
        )
        .empty_message("No tables in the selected schemas");
        let mut activity = Table::new(
            "Maintenance and scans",
            &[
                "schema",
                "table",
                "last_vacuum",
                "last_autovacuum",
                "last_analyze",
                "last_autoanalyze",
                "seq_scans",
                "idx_scans",
            ],
        )
        .empty_message("No tables in the selected schemas");
        for row in &self.tables {
            let name = match row.partitions {
                Some(count) => format!("{} ({count} partitions)", row.table),
                None => row.table.clone(),
            };
            sizes.row(vec![
                row.schema.clone().into(),
                row.table.clone().into(),
                known(row.total_bytes.map(Cell::Bytes)),
                known(row.table_bytes.map(Cell::Bytes)),
                known(row.index_bytes.map(Cell::Bytes)),
                known(row.toast_bytes.map(Cell::Bytes)),
                row.live_tuples.into(),
                row.dead_tuples.into(),
                percent_cell(row.dead_percent),
            ]);
            activity.row(vec![
                row.schema.clone().into(),
                name.into(),
                Cell::opt(row.last_vacuum),
                Cell::opt(row.last_autovacuum),
                Cell::opt(row.last_analyze),
                Cell::opt(row.last_autoanalyze),
                row.seq_scans.into(),
                Cell::opt(row.idx_scans),
            ]);
        }
        if self.tables.iter().any(|row| row.total_bytes.is_none()) {
            sizes.notes.push(
                "unknown size: another session holds or waits for an ACCESS EXCLUSIVE lock on the table".to_string(),
            );
        }
        if self.tables.iter().any(|row| row.partitions.is_some()) {
            sizes.notes.push(
                "Partitioned tables are summed over their partitions; times are the oldest among the partitions"
                    .to_string(),
            );
        }
        vec![sizes, activity]
    }
}
