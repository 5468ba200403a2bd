//! Which tables `campctl vacuum` works on: their measured state ([`measure`]: tuples, size, transaction-id age,
//! summed over a partitioned table's partitions) and the thresholds' verdict ([`choose`]: why each is chosen, in
//! which order).
//!
//! Read-only: it runs catalog and statistics queries, never VACUUM or ANALYZE (that is `run.rs`).

use serde::Serialize;

use super::settings::Thresholds;
use crate::commands::maintenance::scope::Relation;

/// Measured state of one table (of a partitioned table: of its partitions together).
#[derive(Debug, Clone, Copy, Serialize, Default)]
pub(super) struct TableState {
    /// From the cumulative statistics; `null` after a VACUUM FULL without ANALYZE, which does not update them.
    pub live_tuples: Option<i64>,
    pub dead_tuples: Option<i64>,
    /// `pg_table_size` (heap, TOAST, free space and visibility maps); `null` while another session holds an
    /// exclusive lock on the table (measuring it would wait for that lock).
    pub size_bytes: Option<i64>,
    /// Age of the oldest unfrozen transaction id (table or its TOAST table; the oldest of a partitioned table's
    /// partitions); `null` for a partitioned table without partitions.
    pub xid_age: Option<i64>,
    /// A partitioned table: how many partitions its figures are summed over (leaves, all levels); `null` for a table.
    pub partitions: Option<i64>,
    /// No ANALYZE has ever run and there are no statistics.
    pub missing_stats: bool,
}

/// Dead tuples as a percentage of all tuples (0 without tuples).
pub(super) fn dead_percent(state: &TableState) -> f64 {
    let (live, dead) = (state.live_tuples.unwrap_or(0), state.dead_tuples.unwrap_or(0));
    let total = live + dead;
    if total == 0 {
        0.0
    } else {
        100.0 * dead as f64 / total as f64
    }
}

/// Reads the state of the given tables.
///
/// A partitioned table has no storage and no counters of its own; VACUUM and ANALYZE of it work on its leaf
/// partitions (all levels), so its state is theirs summed: tuples and sizes added up, the oldest transaction-id
/// age, the size unknown if one partition is locked. Partitions are found through `pg_inherits`
/// (`pg_partition_tree` would lock them); a table's inheritance children (not partitions) are not counted, as
/// VACUUM does not process them either.
/// `with_stats` also finds the tables without statistics (`pg_stats`, filtered by privilege, is costly to scan).
///
/// # Errors
/// The query failed.
pub(super) async fn measure(
    client: &tokio_postgres::Client,
    oids: &[u32],
    with_stats: bool,
) -> anyhow::Result<Vec<(u32, TableState)>> {
    let rows = client
        .query(
            "WITH RECURSIVE tree AS ( \
                 SELECT r AS root, r AS rel FROM unnest($1::oid[]) AS r \
                 UNION ALL \
                 SELECT tree.root, i.inhrelid FROM tree \
                 JOIN pg_class p ON p.oid = tree.rel AND p.relkind = 'p' \
                 JOIN pg_inherits i ON i.inhparent = tree.rel \
             ), locked AS MATERIALIZED (SELECT l.relation FROM pg_locks l WHERE l.granted \
                                         AND l.mode = 'AccessExclusiveLock' AND l.relation IS NOT NULL), \
             member AS ( \
                 SELECT tree.root, c.oid <> tree.root AS partition, \
                        coalesce(s.n_live_tup, 0) AS live, coalesce(s.n_dead_tup, 0) AS dead, \
                        EXISTS (SELECT 1 FROM locked l WHERE l.relation = c.oid) AS locked, \
                        CASE WHEN NOT EXISTS (SELECT 1 FROM locked l WHERE l.relation = c.oid) \
                             THEN pg_table_size(c.oid) END AS size, \
                        CASE WHEN c.relkind IN ('r', 'm') \
                             THEN greatest(age(c.relfrozenxid), coalesce(age(t.relfrozenxid), 0))::int8 END AS xid_age \
                 FROM tree JOIN pg_class c ON c.oid = tree.rel \
                 LEFT JOIN pg_class t ON t.oid = c.reltoastrelid \
                 LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid \
                 WHERE c.relkind <> 'p' \
             ), summed AS ( \
                 SELECT root, sum(live)::int8 AS live, sum(dead)::int8 AS dead, bool_or(locked) AS locked, \
                        sum(size)::int8 AS size, max(xid_age) AS xid_age, \
                        count(*) FILTER (WHERE partition)::int8 AS partitions \
                 FROM member GROUP BY root \
             ), analyzed AS MATERIALIZED (SELECT DISTINCT st.schemaname, st.tablename FROM pg_stats st \
                                          WHERE $2) \
             SELECT c.oid, coalesce(m.live, 0), coalesce(m.dead, 0), \
                    CASE WHEN NOT coalesce(m.locked, false) AND NOT EXISTS (SELECT 1 FROM locked l WHERE l.relation = c.oid) \
                         THEN coalesce(m.size, 0) END, \
                    m.xid_age, \
                    CASE WHEN c.relkind = 'p' THEN coalesce(m.partitions, 0) END, \
                    $2 AND s.last_analyze IS NULL AND s.last_autoanalyze IS NULL AND NOT EXISTS \
                      (SELECT 1 FROM analyzed a WHERE a.schemaname = n.nspname AND a.tablename = c.relname) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN summed m ON m.root = c.oid \
             LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid \
             WHERE c.oid = ANY($1)",
            &[&oids, &with_stats],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| {
            (
                row.get(0),
                TableState {
                    live_tuples: row.get(1),
                    dead_tuples: row.get(2),
                    size_bytes: row.get(3),
                    xid_age: row.get(4),
                    partitions: row.get(5),
                    missing_stats: row.get::<_, Option<bool>>(6).unwrap_or(false),
                },
            )
        })
        .collect())
}

/// Why a table is chosen, or `None` when the thresholds leave it out.
pub(super) fn reason(args: &Thresholds, state: &TableState) -> Option<String> {
    let mut reasons = Vec::new();
    let dead_rule = args.dead_rule();
    let mut dead_ok = dead_rule;
    if let Some(min) = args.min_dead_tuples {
        dead_ok &= state.dead_tuples.unwrap_or(0) as u64 >= min;
    }
    if let Some(ratio) = args.min_dead_ratio {
        dead_ok &= dead_percent(state) >= ratio * 100.0 && state.dead_tuples.unwrap_or(0) > 0;
    }
    if dead_ok {
        reasons.push(format!(
            "{} dead tuples ({:.1}%)",
            state.dead_tuples.unwrap_or(0),
            dead_percent(state)
        ));
    }
    let xid_ok = args
        .min_xid_age
        .is_some_and(|min| state.xid_age.is_some_and(|age| age as u64 >= min));
    if xid_ok {
        reasons.push(format!("xid age {}", state.xid_age.unwrap_or_default()));
    }
    if args.missing_stats_only {
        if !state.missing_stats {
            return None;
        }
        reasons.push("no statistics yet".into());
    }
    let thresholds = dead_rule || args.min_xid_age.is_some();
    if thresholds && !dead_ok && !xid_ok {
        return None;
    }
    if reasons.is_empty() {
        reasons.push("in scope".into());
    }
    Some(reasons.join("; "))
}

/// A table the thresholds chose: its relation, state before and why.
pub(super) type Chosen = (Relation, TableState, String);

/// The state of `oid` in `states` (the default when it was not measured).
pub(super) fn state_of(states: &[(u32, TableState)], oid: u32) -> TableState {
    states
        .iter()
        .find(|(o, _)| *o == oid)
        .map(|(_, s)| *s)
        .unwrap_or_default()
}

/// The tables the thresholds choose, in working order, and how many they left out.
pub(super) fn choose(
    relations: Vec<Relation>,
    before: &[(u32, TableState)],
    thresholds: &Thresholds,
) -> (Vec<Chosen>, usize) {
    let total = relations.len();
    let mut chosen: Vec<Chosen> = relations
        .into_iter()
        .filter_map(|relation| {
            let state = state_of(before, relation.oid);
            reason(thresholds, &state).map(|why| (relation, state, why))
        })
        .collect();
    let not_selected = total - chosen.len();
    if let Some(min) = thresholds.min_xid_age {
        // Wraparound first: the tables over the age threshold lead, oldest first; the rest follow by age too.
        let old = |s: &TableState| s.xid_age.is_some_and(|a| a as u64 >= min);
        chosen.sort_by_key(|(_, state, _)| (!old(state), std::cmp::Reverse(state.xid_age.unwrap_or(0))));
    } else if thresholds.dead_rule() {
        chosen.sort_by_key(|(_, state, _)| std::cmp::Reverse(state.dead_tuples.unwrap_or(0)));
    }
    (chosen, not_selected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(dead: i64, live: i64, xid_age: i64) -> TableState {
        TableState {
            live_tuples: Some(live),
            dead_tuples: Some(dead),
            xid_age: Some(xid_age),
            ..TableState::default()
        }
    }

    #[test]
    fn thresholds_choose_and_order_tables() {
        let thresholds = Thresholds {
            min_dead_tuples: Some(10),
            ..Thresholds::default()
        };
        assert_eq!(reason(&thresholds, &state(5, 100, 0)), None);
        assert_eq!(
            reason(&thresholds, &state(20, 80, 0)).as_deref(),
            Some("20 dead tuples (20.0%)")
        );
        assert_eq!(
            reason(&Thresholds::default(), &state(0, 0, 0)).as_deref(),
            Some("in scope")
        );
        let relation = |oid| Relation {
            oid,
            schema: "public".into(),
            name: format!("t{oid}"),
            kind: 'r',
            columns: Vec::new(),
        };
        let before = [(1, state(20, 0, 0)), (2, state(50, 0, 0)), (3, state(1, 0, 0))];
        let (chosen, not_selected) = choose(vec![relation(1), relation(2), relation(3)], &before, &thresholds);
        let names: Vec<&str> = chosen.iter().map(|(r, ..)| r.name.as_str()).collect();
        assert_eq!((names, not_selected), (vec!["t2", "t1"], 1), "most dead tuples first");
    }
}
