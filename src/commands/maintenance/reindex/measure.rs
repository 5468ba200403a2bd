//! What `campctl reindex` knows about an index before it chooses it: its catalog entry, its size (measured only
//! when no session holds an exclusive lock on it, so that measuring never waits) and its bloat.
//!
//! Bloat comes from one of three sources, and the report names which:
//!
//! - `pgstatindex`, when the pgstattuple extension is installed and the index is a valid btree: the leaf pages'
//!   density against the fillfactor, `1 − (avg_leaf_density / fillfactor) × leaf / (leaf + empty + deleted)`.
//!   The last factor counts the pages that VACUUM emptied (a range of rows deleted) as bloat too; without such
//!   pages it is 1 and the ratio is `1 − avg_leaf_density / fillfactor`. It reads the whole index.
//! - `estimate`, for other btrees: the pages a freshly built index would need, from the planner's statistics,
//!   `1 (metapage) + ceil(reltuples × tuple / ((block_size − 24 − 16) × fillfactor / 100))`, where `tuple` is the
//!   columns' `pg_stats.avg_width` plus the 8-byte index tuple header rounded up to 8 bytes (MAXALIGN), plus the
//!   4-byte line pointer; 24 is the page header and 16 btree's special space. Bloat is `1 − estimate / relpages`.
//!   Internal pages, NULLs and deduplication (PostgreSQL 13+) are left out, so it answers "is this index twice the
//!   size it needs" rather than percent points.
//! - `unknown`, with the reason: not a btree, the table was never analyzed, a column has no statistics, an
//!   expression column, or no pages yet. campctl never makes a number up.

use std::collections::HashMap;

use serde::Serialize;
use tokio_postgres::Client;

use crate::pg::quote_ident;

/// btree's default fillfactor (percent).
const DEFAULT_BTREE_FILLFACTOR: u32 = 90;
/// Page header (`SizeOfPageHeaderData`).
const PAGE_HEADER: i64 = 24;
/// btree's special space (`BTPageOpaqueData`).
const BTREE_SPECIAL: i64 = 16;
/// Index tuple header (`IndexTupleData`, MAXALIGNed).
const INDEX_TUPLE_HEADER: i64 = 8;
/// Line pointer (`ItemIdData`).
const LINE_POINTER: i64 = 4;

/// An index in scope, as the catalog describes it.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub oid: u32,
    pub schema: String,
    pub table: String,
    pub table_oid: u32,
    pub name: String,
    /// Access method: `btree`, `gin`, `gist`, …
    pub method: String,
    pub valid: bool,
    /// The index of an exclusion constraint (REINDEX CONCURRENTLY refuses it).
    pub exclusion: bool,
    /// Another session runs CREATE INDEX or REINDEX on the table (`pg_stat_progress_create_index`).
    pub being_built: bool,
    /// `pg_relation_size`; `None` while another session holds an exclusive lock on the index or its table.
    pub size_bytes: Option<i64>,
    pub fillfactor: u32,
    pub statistics: Statistics,
}

/// The planner's statistics the estimate works from.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Statistics {
    /// The index's `relpages`.
    pub relpages: i64,
    /// The index's `reltuples` (`-1`: never vacuumed or analyzed).
    pub index_tuples: f64,
    /// The table's `reltuples`.
    pub table_tuples: f64,
    /// A column of the index is an expression.
    pub expression: bool,
    /// Every column has a `pg_stats` row.
    pub all_columns_have_stats: bool,
    /// Sum of the columns' `avg_width`.
    pub width: i64,
}

/// Where a bloat figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum BloatSource {
    Pgstatindex,
    Estimate,
    Unknown,
}

impl BloatSource {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Pgstatindex => "pgstatindex",
            Self::Estimate => "estimate",
            Self::Unknown => "unknown",
        }
    }
}

/// The share of an index that a rebuild would give back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Bloat {
    /// 0–1; `null` when unknown.
    pub ratio: Option<f64>,
    pub source: BloatSource,
    /// Why it is unknown.
    pub note: Option<String>,
}

impl Bloat {
    fn known(ratio: f64, source: BloatSource) -> Self {
        Self {
            ratio: Some(ratio),
            source,
            note: None,
        }
    }

    fn unknown(why: impl Into<String>) -> Self {
        Self {
            ratio: None,
            source: BloatSource::Unknown,
            note: Some(why.into()),
        }
    }
}

const CANDIDATES: &str = "\
    WITH locked AS MATERIALIZED (SELECT l.relation FROM pg_locks l WHERE l.granted \
                                  AND l.mode = 'AccessExclusiveLock' AND l.relation IS NOT NULL \
                                  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())), \
         building AS MATERIALIZED (SELECT p.relid FROM pg_stat_progress_create_index p \
                                   WHERE p.pid <> pg_backend_pid()) \
    SELECT c.oid, n.nspname::text, t.relname::text, t.oid, c.relname::text, am.amname::text, i.indisvalid, \
           i.indisexclusion, \
           EXISTS (SELECT 1 FROM building b WHERE b.relid = t.oid), \
           CASE WHEN NOT EXISTS (SELECT 1 FROM locked l WHERE l.relation IN (c.oid, t.oid)) \
                THEN pg_relation_size(c.oid) END, \
           (SELECT o.option_value FROM pg_options_to_table(c.reloptions) o WHERE o.option_name = 'fillfactor'), \
           c.relpages::int8, c.reltuples::float8, t.reltuples::float8, w.expression, w.all_stats, w.width \
    FROM pg_index i \
    JOIN pg_class c ON c.oid = i.indexrelid \
    JOIN pg_namespace n ON n.oid = c.relnamespace \
    JOIN pg_class t ON t.oid = i.indrelid \
    JOIN pg_am am ON am.oid = c.relam \
    CROSS JOIN LATERAL ( \
        SELECT coalesce(bool_or(k.attnum = 0), false) AS expression, count(s.avg_width) = count(*) AS all_stats, \
               coalesce(sum(s.avg_width), 0)::int8 AS width \
        FROM unnest(i.indkey::int2[]) AS k(attnum) \
        LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
        LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = t.relname AND s.attname = a.attname \
                            AND NOT s.inherited \
    ) w \
    WHERE c.relkind = 'i' AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
      AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%' \
      AND (i.indrelid = ANY($1) OR i.indexrelid = ANY($3) \
           OR i.indrelid IN (SELECT p.relid::oid FROM unnest($2::oid[]) AS r(oid), pg_partition_tree(r.oid::regclass) p \
                             WHERE p.isleaf)) \
    ORDER BY t.relpages DESC, n.nspname, t.relname, c.relname";

/// The leaf indexes (relkind `i`) of `tables`, of the leaf partitions of `partitioned`, and `indexes` themselves,
/// outside the system schemas; the biggest tables first.
///
/// # Errors
/// The catalog query failed.
pub(super) async fn candidates(
    client: &Client,
    tables: &[u32],
    partitioned: &[u32],
    indexes: &[u32],
) -> anyhow::Result<Vec<Candidate>> {
    let rows = client.query(CANDIDATES, &[&tables, &partitioned, &indexes]).await?;
    Ok(rows
        .iter()
        .map(|row| Candidate {
            oid: row.get(0),
            schema: row.get(1),
            table: row.get(2),
            table_oid: row.get(3),
            name: row.get(4),
            method: row.get(5),
            valid: row.get(6),
            exclusion: row.get(7),
            being_built: row.get(8),
            size_bytes: row.get(9),
            fillfactor: row
                .get::<_, Option<String>>(10)
                .and_then(|value| value.parse().ok())
                .unwrap_or(DEFAULT_BTREE_FILLFACTOR),
            statistics: Statistics {
                relpages: row.get(11),
                index_tuples: row.get(12),
                table_tuples: row.get(13),
                expression: row.get(14),
                all_columns_have_stats: row.get(15),
                width: row.get(16),
            },
        })
        .collect())
}

/// The bloat of each candidate, in order (see the module's documentation for the sources).
///
/// # Errors
/// Reading the block size or the extension list failed. A failing `pgstatindex` (no privilege, an index that turned
/// invalid) falls back to the estimate.
pub(super) async fn bloat(
    client: &Client,
    candidates: &[Candidate],
    use_pgstatindex: bool,
) -> anyhow::Result<Vec<Bloat>> {
    let block_size: i64 = client
        .query_one("SELECT current_setting('block_size')::int8", &[])
        .await?
        .get(0);
    let extension: Option<String> = client
        .query_opt(
            "SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace \
             WHERE e.extname = 'pgstattuple'",
            &[],
        )
        .await?
        .map(|row| row.get(0));
    // pgstatindex reads the whole index: only worth it when bloat decides what is rebuilt.
    let pgstatindex = extension.filter(|_| use_pgstatindex).map(|schema| {
        format!(
            "SELECT avg_leaf_density::float8, leaf_pages::int8, empty_pages::int8, deleted_pages::int8 \
             FROM {}.pgstatindex($1::oid::regclass)",
            quote_ident(&schema)
        )
    });
    let mut measured = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        measured.push(measure(client, candidate, pgstatindex.as_deref(), block_size).await);
    }
    Ok(measured)
}

async fn measure(client: &Client, candidate: &Candidate, pgstatindex: Option<&str>, block_size: i64) -> Bloat {
    if candidate.method != "btree" {
        return Bloat::unknown(format!("not a btree index (`{}`)", candidate.method));
    }
    // pgstatindex takes a share lock and rejects invalid indexes: only where the size could be read without waiting.
    if let Some(sql) = pgstatindex
        && candidate.valid
        && candidate.size_bytes.is_some()
    {
        match client.query_one(sql, &[&candidate.oid]).await {
            Ok(row) => {
                return from_pgstatindex(row.get(0), row.get(1), row.get(2), row.get(3), candidate.fillfactor)
                    .map_or_else(
                        || Bloat::unknown("pgstatindex: the index has no leaf pages"),
                        |ratio| Bloat::known(ratio, BloatSource::Pgstatindex),
                    );
            }
            Err(err) => tracing::debug!(
                "pgstatindex of `{}.{}` failed ({err}); estimating instead",
                candidate.schema,
                candidate.name
            ),
        }
    }
    match estimate(&candidate.statistics, candidate.fillfactor, block_size) {
        Ok(ratio) => Bloat::known(ratio, BloatSource::Estimate),
        Err(why) => Bloat::unknown(why),
    }
}

/// Bloat from `pgstatindex`'s leaf density (percent) and page counts; `None` without leaf pages (NaN density).
pub(super) fn from_pgstatindex(density: f64, leaf: i64, empty: i64, deleted: i64, fillfactor: u32) -> Option<f64> {
    if leaf <= 0 || !density.is_finite() || fillfactor == 0 {
        return None;
    }
    let pages = (leaf + empty.max(0) + deleted.max(0)) as f64;
    let used = density / f64::from(fillfactor) * leaf as f64 / pages;
    Some((1.0 - used).clamp(0.0, 1.0))
}

/// Bloat of a btree estimated from the planner's statistics, or why there is no estimate.
pub(super) fn estimate(statistics: &Statistics, fillfactor: u32, block_size: i64) -> Result<f64, &'static str> {
    if statistics.table_tuples < 0.0 || statistics.index_tuples < 0.0 {
        return Err("the table was never analyzed");
    }
    if statistics.expression {
        return Err("an expression column has no column statistics");
    }
    if !statistics.all_columns_have_stats {
        return Err("a column has no statistics (ANALYZE the table)");
    }
    if statistics.relpages <= 0 || fillfactor == 0 {
        return Err("the index has no pages yet (VACUUM or ANALYZE the table)");
    }
    let tuple = (statistics.width + INDEX_TUPLE_HEADER + 7) / 8 * 8 + LINE_POINTER;
    let per_page = (block_size - PAGE_HEADER - BTREE_SPECIAL) as f64 * f64::from(fillfactor) / 100.0;
    let pages = 1.0 + (statistics.index_tuples * tuple as f64 / per_page).ceil();
    Ok((1.0 - pages / statistics.relpages as f64).max(0.0))
}

/// The size of each `(schema, index)` after the run, looked up by name (REINDEX CONCURRENTLY gives the rebuilt
/// index a new oid): `None` when the index is gone, `Some(None)` while it is locked.
///
/// # Errors
/// The catalog query failed.
pub(super) async fn sizes_by_name(
    client: &Client,
    names: &[(String, String)],
) -> anyhow::Result<Vec<Option<Option<i64>>>> {
    let (schemas, indexes): (Vec<&str>, Vec<&str>) = names.iter().map(|(s, i)| (s.as_str(), i.as_str())).unzip();
    let rows = client
        .query(
            "WITH locked AS MATERIALIZED (SELECT l.relation FROM pg_locks l WHERE l.granted \
                                           AND l.mode = 'AccessExclusiveLock' AND l.relation IS NOT NULL \
                                           AND l.database = (SELECT oid FROM pg_database \
                                                             WHERE datname = current_database())) \
             SELECT x.nspname, x.relname, \
                    CASE WHEN NOT EXISTS (SELECT 1 FROM locked l WHERE l.relation IN (c.oid, i.indrelid)) \
                         THEN pg_relation_size(c.oid) END \
             FROM unnest($1::text[], $2::text[]) AS x(nspname, relname) \
             JOIN pg_namespace n ON n.nspname = x.nspname \
             JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = x.relname \
             JOIN pg_index i ON i.indexrelid = c.oid",
            &[&schemas, &indexes],
        )
        .await?;
    let found: HashMap<(String, String), Option<i64>> =
        rows.iter().map(|row| ((row.get(0), row.get(1)), row.get(2))).collect();
    Ok(names.iter().map(|key| found.get(key).copied()).collect())
}

/// The invalid indexes of `tables`: `(table oid, schema, index)`.
///
/// # Errors
/// The catalog query failed.
pub(super) async fn invalid_indexes(client: &Client, tables: &[u32]) -> anyhow::Result<Vec<(u32, String, String)>> {
    let rows = client
        .query(
            "SELECT i.indrelid, n.nspname::text, c.relname::text FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE NOT i.indisvalid AND i.indrelid = ANY($1) ORDER BY c.relname",
            &[&tables],
        )
        .await?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1), row.get(2))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyzed(relpages: i64, tuples: f64, width: i64) -> Statistics {
        Statistics {
            relpages,
            index_tuples: tuples,
            table_tuples: tuples,
            expression: false,
            all_columns_have_stats: true,
            width,
        }
    }

    #[test]
    fn estimate_matches_a_fresh_integer_index_and_sees_bloat() {
        // An int4 key: 4 + 8 → 16 bytes, + 4 line pointer = 20 bytes; 8152 × 0.9 / 20 ≈ 366.8 tuples a page.
        // 100,000 rows → 273 leaf pages + metapage (+ a root, left out).
        let fresh = estimate(&analyzed(276, 100_000.0, 4), 90, 8192).expect("known");
        assert!(fresh < 0.01, "{fresh}");
        // 90% of the rows deleted and vacuumed: the index keeps its pages.
        let bloated = estimate(&analyzed(276, 10_000.0, 4), 90, 8192).expect("known");
        assert!((bloated - (1.0 - 29.0 / 276.0)).abs() < 1e-9, "{bloated}");
    }

    #[test]
    fn estimate_is_unknown_rather_than_made_up() {
        let never = Statistics {
            table_tuples: -1.0,
            ..analyzed(10, 100.0, 4)
        };
        assert_eq!(estimate(&never, 90, 8192), Err("the table was never analyzed"));
        let expression = Statistics {
            expression: true,
            ..analyzed(10, 100.0, 4)
        };
        assert!(estimate(&expression, 90, 8192).is_err());
        let no_stats = Statistics {
            all_columns_have_stats: false,
            ..analyzed(10, 100.0, 4)
        };
        assert!(estimate(&no_stats, 90, 8192).is_err());
        assert!(estimate(&analyzed(0, 0.0, 4), 90, 8192).is_err());
    }

    #[test]
    fn pgstatindex_density_against_fillfactor() {
        assert_eq!(from_pgstatindex(90.0, 100, 0, 0, 90), Some(0.0));
        let sparse = from_pgstatindex(9.0, 100, 0, 0, 90).expect("known");
        assert!((sparse - 0.9).abs() < 1e-9, "{sparse}");
        // Half the pages deleted by VACUUM count as bloat too.
        let emptied = from_pgstatindex(90.0, 50, 0, 50, 90).expect("known");
        assert!((emptied - 0.5).abs() < 1e-9, "{emptied}");
        assert_eq!(
            from_pgstatindex(95.0, 10, 0, 0, 90),
            Some(0.0),
            "denser than the fillfactor"
        );
        assert_eq!(from_pgstatindex(f64::NAN, 0, 0, 0, 90), None);
    }
}
