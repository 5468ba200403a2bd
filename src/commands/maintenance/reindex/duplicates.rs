//! A rebuild of a unique index that fails on duplicate keys (SQLSTATE 23505): what campctl says and cleans up.
//!
//! Without this, `campctl reindex --invalid` looped: an invalid unique index (a `CREATE UNIQUE INDEX
//! CONCURRENTLY` that met duplicates) was rebuilt with `REINDEX INDEX CONCURRENTLY`, which failed on the same
//! duplicates and left a new invalid `<index>_ccnew`; the report then advised `campctl reindex --invalid`, which
//! dropped that copy and failed again. Rebuilding cannot succeed until the duplicates are gone, so campctl now:
//!
//! - drops the `_ccnew` copy that the failed rebuild left (the original index is intact: the swap never happened);
//! - says that the duplicate keys must be removed first, with a query that lists them. The query is built from the
//!   index's key columns as the server prints them (`pg_get_indexdef`, identifiers quoted by the server), the
//!   table's name quoted by campctl, the index's predicate for a partial index, and leaves NULL keys out unless the
//!   index treats NULLs as equal (`NULLS NOT DISTINCT`, PostgreSQL 15+): NULLs are never duplicates otherwise.

use std::fmt::Write as _;

use tokio_postgres::Client;

use super::select::leftover_suffix;
use crate::pg::quote_ident;

/// Index names are cut to 63 bytes (`NAMEDATALEN − 1`); a leftover this long may carry a cut index name.
const CUT_NAME_LENGTH: usize = 60;

/// The key of a unique index, as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct UniqueKey {
    pub schema: String,
    pub table: String,
    /// Each key column as the server prints it (a quoted column name, or an expression), and whether it is an
    /// expression.
    pub columns: Vec<(String, bool)>,
    /// The predicate of a partial index.
    pub predicate: Option<String>,
    pub nulls_not_distinct: bool,
}

impl UniqueKey {
    /// `SELECT <keys>, count(*) AS copies FROM <table> WHERE <keys not null> [AND (<predicate>)] GROUP BY <keys>
    /// HAVING count(*) > 1 ORDER BY copies DESC`.
    pub(super) fn duplicates_query(&self) -> String {
        let keys: Vec<String> = self
            .columns
            .iter()
            .map(|(column, expression)| {
                if *expression {
                    format!("({column})")
                } else {
                    column.clone()
                }
            })
            .collect();
        let mut conditions: Vec<String> = Vec::new();
        if !self.nulls_not_distinct {
            conditions.extend(keys.iter().map(|key| format!("{key} IS NOT NULL")));
        }
        if let Some(predicate) = &self.predicate {
            conditions.push(format!("({predicate})"));
        }
        let list = keys.join(", ");
        let mut sql = format!(
            "SELECT {list}, count(*) AS copies FROM {}.{}",
            quote_ident(&self.schema),
            quote_ident(&self.table)
        );
        if !conditions.is_empty() {
            let _ = write!(sql, " WHERE {}", conditions.join(" AND "));
        }
        let _ = write!(sql, " GROUP BY {list} HAVING count(*) > 1 ORDER BY copies DESC");
        sql
    }
}

/// Reads the key of index `oid`; `None` when it is gone.
///
/// # Errors
/// The catalog query failed.
pub(super) async fn unique_key(client: &Client, oid: u32) -> anyhow::Result<Option<UniqueKey>> {
    let row = client
        .query_opt(
            "SELECT n.nspname::text, t.relname::text, \
                    array(SELECT pg_get_indexdef(i.indexrelid, k, true) \
                          FROM generate_series(1, i.indnkeyatts::int) k ORDER BY k), \
                    array(SELECT i.indkey[k - 1] = 0 FROM generate_series(1, i.indnkeyatts::int) k ORDER BY k), \
                    pg_get_expr(i.indpred, i.indrelid, true), \
                    coalesce((to_jsonb(i) ->> 'indnullsnotdistinct')::bool, false) \
             FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
             WHERE i.indexrelid = $1",
            &[&oid],
        )
        .await?;
    Ok(row.map(|row| {
        let names: Vec<Option<String>> = row.get(2);
        let expressions: Vec<Option<bool>> = row.get(3);
        UniqueKey {
            schema: row.get(0),
            table: row.get(1),
            columns: names
                .into_iter()
                .zip(expressions)
                .map(|(name, expression)| (name.unwrap_or_default(), expression.unwrap_or(false)))
                .collect(),
            predicate: row.get(4),
            nulls_not_distinct: row.get(5),
        }
    }))
}

/// Whether `leftover` (`<index>_ccnew`, `<index>_ccnew1`, …) is a copy REINDEX CONCURRENTLY made of `index`.
/// PostgreSQL cuts the index's name so that the leftover's fits in 63 bytes; a long leftover matches a prefix.
pub(super) fn leftover_of(leftover: &str, index: &str) -> bool {
    let Some(suffix) = leftover_suffix(leftover) else {
        return false;
    };
    let stem = leftover.trim_end_matches(|c: char| c.is_ascii_digit());
    let Some(base) = stem.strip_suffix(suffix) else {
        return false;
    };
    base == index || (leftover.len() >= CUT_NAME_LENGTH && !base.is_empty() && index.starts_with(base))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(columns: &[(&str, bool)], predicate: Option<&str>, nulls_not_distinct: bool) -> UniqueKey {
        UniqueKey {
            schema: "Sales Data".into(),
            table: "Order \"Lines\"".into(),
            columns: columns.iter().map(|(c, e)| ((*c).to_string(), *e)).collect(),
            predicate: predicate.map(str::to_string),
            nulls_not_distinct,
        }
    }

    #[test]
    fn item_16_duplicates_query_quotes_and_skips_nulls() {
        assert_eq!(
            key(&[("\"Sku\"", false), ("lower(region)", true)], None, false).duplicates_query(),
            "SELECT \"Sku\", (lower(region)), count(*) AS copies FROM \"Sales Data\".\"Order \"\"Lines\"\"\" \
             WHERE \"Sku\" IS NOT NULL AND (lower(region)) IS NOT NULL GROUP BY \"Sku\", (lower(region)) \
             HAVING count(*) > 1 ORDER BY copies DESC"
        );
        assert_eq!(
            key(&[("a", false)], Some("deleted_at IS NULL"), true).duplicates_query(),
            "SELECT a, count(*) AS copies FROM \"Sales Data\".\"Order \"\"Lines\"\"\" WHERE (deleted_at IS NULL) \
             GROUP BY a HAVING count(*) > 1 ORDER BY copies DESC"
        );
    }

    #[test]
    fn item_16_leftovers_belong_to_their_index() {
        assert!(leftover_of("t_a_key_ccnew", "t_a_key"));
        assert!(leftover_of("t_a_key_ccnew2", "t_a_key"));
        assert!(!leftover_of("t_a_key_ccnew", "t_a"));
        assert!(!leftover_of("t_a_key", "t_a_key"));
        let long = "x".repeat(63);
        let cut = format!("{}_ccnew", &long[..57]);
        assert!(leftover_of(&cut, &long));
        assert!(!leftover_of(&cut, "y"));
    }
}
