//! `campctl stats vacuum`: what autovacuum has to do and how far it is (runbook 3.1).
//!
//! - dead tuples, largest first (tables and partitions as autovacuum sees them), against the autovacuum trigger
//!   `autovacuum_vacuum_threshold + autovacuum_vacuum_scale_factor × reltuples`, with per-table `reloptions`;
//! - transaction ID age per database (`age(datfrozenxid)`): the margin to wraparound (2³¹ − 1 − age) and how far
//!   towards `autovacuum_freeze_max_age`, where anti-wraparound autovacuum starts;
//! - the tables with the oldest `relfrozenxid` (their TOAST table included);
//! - running vacuums, autovacuum workers and manual VACUUMs (`workers.rs`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Client;
use tokio_postgres::types::ToSql;

use super::workers::{self, Worker};
use super::{StatsSettings, known, percent, percent_cell, schema_filter};
use crate::pg::monitor::{XID_AGES_SQL, XID_LIMIT};
use crate::printer::{Cell, Report, Table};

const SETTINGS_SQL: &str = "
    SELECT current_setting('autovacuum')::bool, current_setting('track_counts')::bool,
        current_setting('autovacuum_vacuum_threshold')::float8,
        current_setting('autovacuum_vacuum_scale_factor')::float8,
        current_setting('autovacuum_freeze_max_age')::int8";

/// `$1` schemas (or NULL), `$2` rows.
const DEAD_SQL: &str = concat!(
    "WITH candidate AS (
        SELECT c.oid, n.nspname::text AS schema, c.relname::text AS name, greatest(c.reltuples, 0)::float8 AS reltuples,
            c.reloptions, pg_stat_get_live_tuples(c.oid) AS live, pg_stat_get_dead_tuples(c.oid) AS dead
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'm') AND pg_stat_get_dead_tuples(c.oid) > 0 AND ",
    schema_filter!(),
    "   ORDER BY dead DESC, c.oid
        LIMIT $2
    )
    SELECT schema, name, live, dead, reltuples,
        pg_stat_get_last_vacuum_time(oid), pg_stat_get_last_autovacuum_time(oid),
        (SELECT option_value::float8 FROM pg_options_to_table(reloptions)
         WHERE option_name = 'autovacuum_vacuum_threshold'),
        (SELECT option_value::float8 FROM pg_options_to_table(reloptions)
         WHERE option_name = 'autovacuum_vacuum_scale_factor'),
        (SELECT option_value::bool FROM pg_options_to_table(reloptions) WHERE option_name = 'autovacuum_enabled')
    FROM candidate
    ORDER BY dead DESC, oid"
);

/// `$1` schemas (or NULL), `$2` rows.
const OLDEST_SQL: &str = concat!(
    "SELECT n.nspname::text, c.relname::text,
        greatest(age(c.relfrozenxid), coalesce(age(t.relfrozenxid), 0))::int8 AS xid_age
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
    WHERE c.relkind IN ('r', 'm') AND ",
    schema_filter!(),
    " ORDER BY xid_age DESC, c.oid LIMIT $2"
);

/// The report of `campctl stats vacuum`.
#[derive(Debug, Serialize)]
pub(crate) struct VacuumReport {
    /// The `autovacuum` setting; `null` if unreadable.
    pub autovacuum: Option<bool>,
    /// The `track_counts` setting (autovacuum needs it).
    pub track_counts: Option<bool>,
    pub autovacuum_vacuum_threshold: Option<f64>,
    pub autovacuum_vacuum_scale_factor: Option<f64>,
    pub autovacuum_freeze_max_age: Option<i64>,
    /// Tables with dead tuples, most first.
    pub tables: Vec<DeadTable>,
    /// Every database, oldest first.
    pub databases: Vec<XidDatabase>,
    /// Tables of the selected schemas with the oldest `relfrozenxid`.
    pub oldest_tables: Vec<XidTable>,
    /// Running vacuums.
    pub workers: Vec<Worker>,
}

/// A table with dead tuples.
#[derive(Debug, Serialize)]
pub(crate) struct DeadTable {
    pub schema: String,
    pub table: String,
    pub live_tuples: i64,
    pub dead_tuples: i64,
    /// Dead / (live + dead) × 100.
    pub dead_percent: Option<f64>,
    /// Dead tuples above which autovacuum vacuums the table (per-table reloptions honoured).
    pub autovacuum_threshold: Option<f64>,
    pub over_threshold: Option<bool>,
    /// `autovacuum` is on and the table does not set `autovacuum_enabled = false`.
    pub autovacuum_enabled: Option<bool>,
    pub last_vacuum: Option<DateTime<Utc>>,
    pub last_autovacuum: Option<DateTime<Utc>>,
}

/// Transaction ID age of one database.
#[derive(Debug, Serialize)]
pub(crate) struct XidDatabase {
    pub database: String,
    pub xid_age: i64,
    /// 2³¹ − 1 − `xid_age`: transactions left before wraparound.
    pub wraparound_margin: i64,
    /// `xid_age` / `autovacuum_freeze_max_age` × 100; past 100 an anti-wraparound vacuum is due.
    pub freeze_max_age_percent: Option<f64>,
    pub multixact_age: i64,
}

/// Transaction ID age of one table.
#[derive(Debug, Serialize)]
pub(crate) struct XidTable {
    pub schema: String,
    pub table: String,
    pub xid_age: i64,
    pub freeze_max_age_percent: Option<f64>,
}

/// Reads every part; a part the role cannot see stays empty or `null`.
///
/// # Errors
/// A query failed for another reason than privileges.
pub(crate) async fn collect(client: &Client, settings: &StatsSettings) -> anyhow::Result<VacuumReport> {
    let limit = settings.limit();
    let oldest_params: [&(dyn ToSql + Sync); 2] = [&settings.schemas, &limit];
    let (globals, dead, databases, oldest, workers) = tokio::join!(
        super::visible("the autovacuum settings", client.query_one(SETTINGS_SQL, &[])),
        dead_tables(client, settings, limit),
        super::visible("pg_database", client.query(XID_AGES_SQL, &[])),
        super::visible("table transaction ID ages", client.query(OLDEST_SQL, &oldest_params)),
        workers::collect(client),
    );
    let globals = globals?;
    let get = |index: usize| globals.as_ref().map(|row| row.get::<_, f64>(index));
    let autovacuum = globals.as_ref().map(|row| row.get::<_, bool>(0));
    let (threshold, scale_factor) = (get(2), get(3));
    let freeze_max_age = globals.as_ref().map(|row| row.get::<_, i64>(4));
    let freeze_percent = |age: i64| freeze_max_age.and_then(|max| percent(age, max));

    let tables = dead?
        .into_iter()
        .map(|table| table.judge(autovacuum, threshold, scale_factor))
        .collect();
    let databases = databases?
        .unwrap_or_default()
        .iter()
        .map(|row| {
            let xid_age: i64 = row.get(1);
            XidDatabase {
                database: row.get(0),
                xid_age,
                wraparound_margin: XID_LIMIT - xid_age,
                freeze_max_age_percent: freeze_percent(xid_age),
                multixact_age: row.get(2),
            }
        })
        .collect();
    let oldest_tables = oldest?
        .unwrap_or_default()
        .iter()
        .map(|row| {
            let xid_age: i64 = row.get(2);
            XidTable {
                schema: row.get(0),
                table: row.get(1),
                xid_age,
                freeze_max_age_percent: freeze_percent(xid_age),
            }
        })
        .collect();
    Ok(VacuumReport {
        autovacuum,
        track_counts: globals.as_ref().map(|row| row.get::<_, bool>(1)),
        autovacuum_vacuum_threshold: threshold,
        autovacuum_vacuum_scale_factor: scale_factor,
        autovacuum_freeze_max_age: freeze_max_age,
        tables,
        databases,
        oldest_tables,
        workers: workers?,
    })
}

/// A dead-tuple row and the per-table settings it is judged with.
pub(crate) struct DeadCandidate {
    pub row: DeadTable,
    /// Per-table `autovacuum_vacuum_threshold`, `autovacuum_vacuum_scale_factor`, and `reltuples`.
    overrides: (Option<f64>, Option<f64>, f64),
    /// Per-table `autovacuum_enabled`.
    autovacuum_enabled: Option<bool>,
}

impl DeadCandidate {
    /// The row with the autovacuum judgement: the table's own settings over the server's.
    pub(crate) fn judge(
        self,
        autovacuum: Option<bool>,
        threshold: Option<f64>,
        scale_factor: Option<f64>,
    ) -> DeadTable {
        let mut row = self.row;
        let (own_threshold, own_scale, reltuples) = self.overrides;
        if let (Some(threshold), Some(scale)) = (own_threshold.or(threshold), own_scale.or(scale_factor)) {
            let limit = threshold + scale * reltuples;
            row.autovacuum_threshold = Some(limit);
            row.over_threshold = Some(row.dead_tuples as f64 > limit);
        }
        row.autovacuum_enabled = autovacuum.map(|on| on && self.autovacuum_enabled != Some(false));
        row
    }
}

/// The tables with the most dead tuples, without the autovacuum judgement (the summary needs only these).
///
/// # Errors
/// The query failed for another reason than privileges.
pub(crate) async fn dead_tables(
    client: &Client,
    settings: &StatsSettings,
    limit: i64,
) -> anyhow::Result<Vec<DeadCandidate>> {
    let rows = super::visible(
        "dead tuple statistics",
        client.query(DEAD_SQL, &[&settings.schemas, &limit]),
    )
    .await?
    .unwrap_or_default();
    Ok(rows
        .iter()
        .map(|row| {
            let live_tuples: i64 = row.get(2);
            let dead_tuples: i64 = row.get(3);
            DeadCandidate {
                row: DeadTable {
                    schema: row.get(0),
                    table: row.get(1),
                    live_tuples,
                    dead_tuples,
                    dead_percent: percent(dead_tuples, live_tuples + dead_tuples),
                    autovacuum_threshold: None,
                    over_threshold: None,
                    autovacuum_enabled: None,
                    last_vacuum: row.get(5),
                    last_autovacuum: row.get(6),
                },
                overrides: (row.get(7), row.get(8), row.get(4)),
                autovacuum_enabled: row.get(9),
            }
        })
        .collect())
}

impl Report for VacuumReport {
    fn tables(&self) -> Vec<Table> {
        let mut dead = Table::new(
            "Dead tuples (autovacuum: due = over its threshold)",
            &[
                "schema",
                "table",
                "live_tuples",
                "dead_tuples",
                "dead_percent",
                "threshold",
                "autovacuum",
                "last_vacuum",
                "last_autovacuum",
            ],
        )
        .empty_message("No table has dead tuples");
        for row in &self.tables {
            let status = match (row.autovacuum_enabled, row.over_threshold) {
                (Some(false), _) => Cell::from("disabled"),
                (_, Some(true)) => Cell::from("due"),
                (_, Some(false)) => Cell::from("not due"),
                (_, None) => Cell::Unknown,
            };
            dead.row(vec![
                row.schema.clone().into(),
                row.table.clone().into(),
                row.live_tuples.into(),
                row.dead_tuples.into(),
                percent_cell(row.dead_percent),
                row.autovacuum_threshold.map_or(Cell::Unknown, |t| Cell::Float(t, 0)),
                status,
                Cell::opt(row.last_vacuum),
                Cell::opt(row.last_autovacuum),
            ]);
        }
        match (self.autovacuum, self.track_counts) {
            (Some(false), _) => dead
                .notes
                .push("autovacuum is OFF: nothing vacuums these tables".to_string()),
            (_, Some(false)) => dead
                .notes
                .push("track_counts is OFF: autovacuum cannot see dead tuples".to_string()),
            _ => {}
        }
        let mut databases = Table::new(
            "Transaction ID age by database",
            &[
                "database",
                "xid_age",
                "wraparound_margin",
                "freeze_max_age_percent",
                "multixact_age",
            ],
        );
        for row in &self.databases {
            databases.row(vec![
                row.database.clone().into(),
                row.xid_age.into(),
                row.wraparound_margin.into(),
                known(row.freeze_max_age_percent.map(Cell::Percent)),
                row.multixact_age.into(),
            ]);
        }
        let mut oldest = Table::new(
            "Oldest tables by transaction ID age",
            &["schema", "table", "xid_age", "freeze_max_age_percent"],
        );
        for row in &self.oldest_tables {
            oldest.row(vec![
                row.schema.clone().into(),
                row.table.clone().into(),
                row.xid_age.into(),
                known(row.freeze_max_age_percent.map(Cell::Percent)),
            ]);
        }
        vec![dead, databases, oldest, workers::table(&self.workers)]
    }
}
