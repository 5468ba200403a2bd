//! `campctl stats indexes`: index sizes and scans, and the indexes worth a look: unused, invalid, duplicate
//! (runbook 3.3.2, which only sorted by size).
//!
//! - unused: no scan since the statistics were reset, and not unique, primary, exclusion or backing a constraint
//!   (dropping those would change behaviour, not just speed).
//! - invalid: `indisvalid` is false, e.g. a `CREATE INDEX CONCURRENTLY` that failed; it is still maintained on every
//!   write but never used by the planner.
//! - duplicate: another index of the same table has the same columns, operator classes, collations, options,
//!   expressions and predicate. One index of such a group is kept (primary first, then constraint-backed, unique,
//!   valid, oldest); every other one names it in `duplicate_of`.
//!
//! The counts cover every index in the selected schemas; the list shows the largest, ranked on the server by the
//! catalog's page counts and then measured exactly (see `tables.rs` for why).

use serde::Serialize;
use tokio_postgres::Client;

use super::{StatsSettings, blocked_tables, known, schema_filter};
use crate::printer::{Cell, Report, Table};
use crate::units::format_bytes;

/// `$1` schemas (or NULL), `$2` rows, `$3` candidates measured exactly.
const INDEXES_SQL: &str = concat!(
    "WITH ",
    blocked_tables!(),
    ", idx AS (
        SELECT i.indexrelid, i.indexrelid IN (SELECT oid FROM locked) AS locked, n.nspname::text AS schema,
            tc.relname::text AS table_name, ic.relname::text AS index_name, ic.relpages, i.indisunique,
            i.indisprimary, i.indisexclusion, i.indisvalid, pg_stat_get_numscans(i.indexrelid) AS scans,
            k.conindid IS NOT NULL AS constraint_backed,
            count(*) OVER same AS same_definition,
            first_value(ic.relname::text) OVER (same ORDER BY i.indisprimary DESC, k.conindid IS NOT NULL DESC,
                i.indisunique DESC, i.indisvalid DESC, i.indexrelid) AS keeper
        FROM pg_index i
        JOIN pg_class ic ON ic.oid = i.indexrelid
        JOIN pg_class tc ON tc.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = tc.relnamespace
        LEFT JOIN (SELECT DISTINCT conindid FROM pg_constraint WHERE conindid <> 0) k ON k.conindid = i.indexrelid
        WHERE ic.relkind = 'i' AND ",
    schema_filter!(),
    "   WINDOW same AS (PARTITION BY i.indrelid, i.indkey::text, i.indclass::text, i.indcollation::text,
            i.indoption::text, pg_get_expr(i.indexprs, i.indrelid), pg_get_expr(i.indpred, i.indrelid))
    ), flagged AS (
        SELECT idx.*,
            scans = 0 AND NOT indisunique AND NOT indisprimary AND NOT indisexclusion AND NOT constraint_backed
                AS unused,
            CASE WHEN same_definition > 1 AND keeper <> index_name THEN keeper END AS duplicate_of
        FROM idx
    ), candidate AS (
        SELECT flagged.*,
            count(*) OVER () AS total_count,
            count(*) FILTER (WHERE unused) OVER () AS unused_count,
            CASE WHEN coalesce(bool_or(locked) FILTER (WHERE unused) OVER (), false) THEN NULL
                 ELSE coalesce(sum(pg_relation_size(indexrelid)) FILTER (WHERE unused AND NOT locked) OVER (), 0)::int8
            END AS unused_bytes,
            count(*) FILTER (WHERE NOT indisvalid) OVER () AS invalid_count,
            count(*) FILTER (WHERE duplicate_of IS NOT NULL) OVER () AS duplicate_count
        FROM flagged
        ORDER BY relpages DESC, indexrelid
        LIMIT $3
    )
    SELECT schema, table_name, index_name,
        CASE WHEN NOT locked THEN coalesce(pg_relation_size(indexrelid), 0) END AS size, scans,
        indisunique, indisprimary, indisexclusion, constraint_backed, indisvalid, unused, duplicate_of,
        total_count, unused_count, unused_bytes, invalid_count, duplicate_count
    FROM candidate
    ORDER BY size DESC NULLS LAST, indexrelid
    LIMIT $2"
);

/// The report of `campctl stats indexes`.
#[derive(Debug, Serialize)]
pub(crate) struct IndexesReport {
    /// The `--schema` filter; `null` means every non-system schema.
    pub schemas: Option<Vec<String>>,
    /// The most rows shown.
    pub limit: u32,
    /// Counts over every index in the selected schemas, not only the rows shown.
    pub summary: IndexSummary,
    /// Largest first.
    pub indexes: Vec<IndexRow>,
}

/// Counts over every index in the selected schemas.
#[derive(Debug, Serialize, Default, Clone, Copy)]
pub(crate) struct IndexSummary {
    pub total: i64,
    pub unused: i64,
    /// The size of the unused indexes together; `null` if one is locked (see `size_bytes`).
    pub unused_bytes: Option<i64>,
    pub invalid: i64,
    /// Indexes with a `duplicate_of`.
    pub duplicate: i64,
}

/// One index.
#[derive(Debug, Serialize)]
pub(crate) struct IndexRow {
    pub schema: String,
    pub table: String,
    pub index: String,
    /// `null` while another session holds or waits for an ACCESS EXCLUSIVE lock on the index.
    pub size_bytes: Option<i64>,
    /// Index scans since the statistics were reset.
    pub scans: i64,
    pub unique: bool,
    pub primary: bool,
    pub exclusion: bool,
    /// A constraint (primary key, unique, exclusion, or a foreign key's referenced key) uses this index.
    pub constraint: bool,
    pub valid: bool,
    pub unused: bool,
    pub invalid: bool,
    /// The index of the same table with the same definition that is kept; `null` if not a duplicate.
    pub duplicate_of: Option<String>,
}

impl IndexRow {
    /// `primary unique unused invalid duplicate`: the flags that apply, for the table view.
    fn flags(&self) -> String {
        let flags = [
            (self.primary, "primary"),
            (self.unique && !self.primary, "unique"),
            (self.exclusion, "exclusion"),
            (self.unused, "unused"),
            (self.invalid, "INVALID"),
            (self.duplicate_of.is_some(), "duplicate"),
        ];
        flags
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, name)| *name)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Reads the indexes and their counts.
///
/// # Errors
/// The query failed.
pub(crate) async fn collect(client: &Client, settings: &StatsSettings) -> anyhow::Result<IndexesReport> {
    collect_limited(client, settings, settings.limit()).await
}

/// Like [`collect`] with another row limit (the summary only needs the counts).
pub(crate) async fn collect_limited(
    client: &Client,
    settings: &StatsSettings,
    limit: i64,
) -> anyhow::Result<IndexesReport> {
    let candidates = (limit * 5).max(100);
    let rows = super::visible(
        "index statistics",
        client.query(INDEXES_SQL, &[&settings.schemas, &limit, &candidates]),
    )
    .await?
    .unwrap_or_default();
    let no_indexes = IndexSummary {
        unused_bytes: Some(0),
        ..IndexSummary::default()
    };
    let summary = rows.first().map_or(no_indexes, |row| IndexSummary {
        total: row.get(12),
        unused: row.get(13),
        unused_bytes: row.get(14),
        invalid: row.get(15),
        duplicate: row.get(16),
    });
    let indexes = rows
        .iter()
        .map(|row| {
            let valid: bool = row.get(9);
            IndexRow {
                schema: row.get(0),
                table: row.get(1),
                index: row.get(2),
                size_bytes: row.get(3),
                scans: row.get(4),
                unique: row.get(5),
                primary: row.get(6),
                exclusion: row.get(7),
                constraint: row.get(8),
                valid,
                unused: row.get(10),
                invalid: !valid,
                duplicate_of: row.get(11),
            }
        })
        .collect();
    Ok(IndexesReport {
        schemas: settings.schemas.clone(),
        limit: settings.limit,
        summary,
        indexes,
    })
}

impl Report for IndexesReport {
    fn tables(&self) -> Vec<Table> {
        let mut table = Table::new(
            format!("Indexes by size (top {})", self.limit),
            &[
                "schema",
                "table",
                "index",
                "size_bytes",
                "scans",
                "flags",
                "duplicate_of",
            ],
        )
        .empty_message("No indexes in the selected schemas");
        for row in &self.indexes {
            table.row(vec![
                row.schema.clone().into(),
                row.table.clone().into(),
                row.index.clone().into(),
                known(row.size_bytes.map(Cell::Bytes)),
                row.scans.into(),
                row.flags().into(),
                Cell::opt(row.duplicate_of.clone()),
            ]);
        }
        let summary = &self.summary;
        table.notes.push(format!(
            "{} indexes: {} unused ({}), {} invalid, {} duplicate",
            summary.total,
            summary.unused,
            summary
                .unused_bytes
                .map_or_else(|| "unknown size".to_string(), format_bytes),
            summary.invalid,
            summary.duplicate
        ));
        if summary.total > self.indexes.len() as i64 {
            table
                .notes
                .push("Counts cover every index; raise `--limit` to list more".to_string());
        }
        if summary.unused > 0 {
            table.notes.push(
                "unused: no scans since the statistics were reset (see `campctl stats database`); check replicas \
                 too before dropping"
                    .to_string(),
            );
        }
        vec![table]
    }
}
