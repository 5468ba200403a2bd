//! The row-count comparison of `restore` and `test-restore`: every table's exact row count in a restored database,
//! against what the backup recorded (its manifest, or without one the archive's own count), and the number of
//! tables the archive defines against the number restored.
//!
//! This file only counts and compares; what a mismatch means is the caller's: `restore` refuses to swap
//! ([`Comparison::require_match`]), `test-restore` reports one check per table. It must never write to the database
//! it counts, and never count anything but `ONLY` the table itself (a partitioned parent's rows are its
//! partitions').

use std::collections::HashSet;
use std::time::Instant;

use anyhow::Context as _;
use futures::StreamExt as _;

use super::fetch::Fetched;
use super::select::Selected;
use crate::exit::{ExitStatus, UserError};
use crate::pg::{self, ConnParams, SessionOptions, quote_ident};

/// One table's expected and restored rows.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct TableCount {
    pub schema: String,
    pub table: String,
    /// From the manifest (or, without one, from the archive itself); `None` when not counted.
    pub expected: Option<u64>,
    /// `None` when the table is missing from the restored database.
    pub restored: Option<u64>,
}

impl TableCount {
    pub(crate) fn matches(&self) -> bool {
        match (self.expected, self.restored) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(expected), Some(restored)) => expected == restored,
        }
    }

    pub(crate) fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.table)
    }
}

/// What the tables of a restored database hold, against the backup.
#[derive(Debug, Clone)]
pub(crate) struct Comparison {
    pub counts: Vec<TableCount>,
    /// Tables the archive defines (`TABLE` entries).
    pub expected_tables: usize,
    /// User tables in the restored database (relkind r or p, outside system and extension-owned ones).
    pub restored_tables: usize,
    pub seconds: f64,
}

impl Comparison {
    pub(crate) fn mismatches(&self) -> Vec<&TableCount> {
        self.counts.iter().filter(|c| !c.matches()).collect()
    }

    /// `restore`'s rule: every table matches and the table counts agree, or an error (exit 1) naming the first five
    /// differences; the caller then drops the copy and leaves the target unchanged.
    ///
    /// # Errors
    /// The restored copy differs from the backup.
    pub(crate) fn require_match(&self) -> Result<(), UserError> {
        let mismatches = self.mismatches();
        if mismatches.is_empty() && self.restored_tables == self.expected_tables {
            return Ok(());
        }
        let mut details: Vec<String> = mismatches
            .iter()
            .take(5)
            .map(|c| match c.restored {
                None => format!("`{}` is missing", c.qualified()),
                Some(rows) => format!(
                    "`{}` has {rows} rows, the backup recorded {}",
                    c.qualified(),
                    c.expected.unwrap_or_default()
                ),
            })
            .collect();
        if self.restored_tables != self.expected_tables {
            details.push(format!(
                "{} tables were restored, the archive defines {}",
                self.restored_tables, self.expected_tables
            ));
        }
        Err(UserError::new(
            ExitStatus::Failure,
            format!("The restored copy does not match the backup: {}", details.join("; ")),
        )
        .with_hint("The target is unchanged and the copy was dropped. `campctl test-restore` reports every table"))
    }
}

/// Counts every table's rows in the restored database `params` (exactly, `count(*)` of the table alone) and compares
/// them with the manifest's counts, or the archive's own when there is no manifest.
///
/// # Errors
/// The database cannot be queried.
pub(crate) async fn compare(params: &ConnParams, selected: &Selected, fetched: &Fetched) -> anyhow::Result<Comparison> {
    let started = Instant::now();
    let expected: Vec<(String, String, Option<u64>)> = match &selected.manifest {
        Some(manifest) => manifest
            .tables
            .iter()
            .map(|t| (t.schema.clone(), t.table.clone(), t.rows))
            .collect(),
        None => fetched
            .summary
            .tables
            .iter()
            .map(|t| (t.schema.clone(), t.table.clone(), t.rows))
            .collect(),
    };
    let client = pg::connect(params, SessionOptions::default()).await?;
    let existing: HashSet<(String, String)> = client
        .query(
            "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p', 'm', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
               AND n.nspname NOT LIKE 'pg\\_toast%'",
            &[],
        )
        .await
        .context("Failed to list the restored tables")?
        .into_iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let restored_tables: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
               AND n.nspname NOT LIKE 'pg\\_toast%' \
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass \
                               AND d.objid = c.oid AND d.deptype = 'e')",
            &[],
        )
        .await?
        .get(0);
    let client = &client;
    let existing = &existing;
    // Several counts in flight on one connection (pipelined); the server runs them one after another.
    let counts: Vec<anyhow::Result<TableCount>> = futures::stream::iter(expected)
        .map(|(schema, table, rows)| async move {
            let restored = if existing.contains(&(schema.clone(), table.clone())) {
                let sql = format!(
                    "SELECT count(*) FROM ONLY {}.{}",
                    quote_ident(&schema),
                    quote_ident(&table)
                );
                let count: i64 = client
                    .query_one(&sql, &[])
                    .await
                    .with_context(|| format!("Failed to count the rows of `{schema}.{table}`"))?
                    .get(0);
                Some(count as u64)
            } else {
                None
            };
            Ok(TableCount {
                schema,
                table,
                expected: rows,
                restored,
            })
        })
        .buffered(4)
        .collect()
        .await;
    Ok(Comparison {
        counts: counts.into_iter().collect::<anyhow::Result<_>>()?,
        expected_tables: fetched.summary.table_definitions.len(),
        restored_tables: restored_tables as usize,
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(table: &str, expected: Option<u64>, restored: Option<u64>) -> TableCount {
        TableCount {
            schema: "public".into(),
            table: table.into(),
            expected,
            restored,
        }
    }

    fn comparison(counts: Vec<TableCount>, expected_tables: usize, restored_tables: usize) -> Comparison {
        Comparison {
            counts,
            expected_tables,
            restored_tables,
            seconds: 0.0,
        }
    }

    #[test]
    fn a_table_matches_when_present_with_the_recorded_rows() {
        assert!(count("a", Some(3), Some(3)).matches());
        assert!(count("a", None, Some(3)).matches(), "not counted in the backup");
        assert!(!count("a", Some(3), Some(2)).matches());
        assert!(!count("a", Some(0), None).matches(), "missing");
        assert!(!count("a", None, None).matches(), "missing");
    }

    #[test]
    fn restore_refuses_any_difference_and_names_it() {
        let same = comparison(vec![count("a", Some(3), Some(3)), count("b", None, Some(1))], 2, 2);
        assert!(same.require_match().is_ok());
        let differs = comparison(vec![count("a", Some(3), Some(2)), count("b", Some(1), None)], 2, 1);
        let err = differs.require_match().expect_err("rows differ");
        assert_eq!(err.status, ExitStatus::Failure);
        assert_eq!(
            err.message,
            "The restored copy does not match the backup: `public.a` has 2 rows, the backup recorded 3; \
             `public.b` is missing; 1 tables were restored, the archive defines 2"
        );
        let extra_table = comparison(vec![count("a", Some(3), Some(3))], 1, 2);
        assert!(extra_table.require_match().is_err());
    }
}
