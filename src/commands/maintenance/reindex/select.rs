//! Which indexes `campctl reindex` works on, and what it does to each: the candidates of the scope ([`find`]),
//! the verdict of the thresholds or of `--invalid` ([`Selection::choose`], [`LeftOut`] for the others), the
//! working order ([`choose`]) and the statement for each ([`statement`], names from the catalog, always quoted).
//!
//! Read-only: it runs catalog queries and the bloat measurement, never REINDEX or DROP (that is `run.rs`).

use serde::Serialize;

use super::measure::{self, Bloat, Candidate};
use super::settings::{ReindexSettings, Selection};
use crate::commands::maintenance::report::count;
use crate::commands::maintenance::scope;
use crate::exit::UserError;
use crate::pg::quote_ident;
use crate::units::format_bytes;

/// `1 index`, `2 indexes`.
pub(super) fn count_of(indexes: usize) -> String {
    count(indexes, "index", "indexes")
}

/// What is done to an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Action {
    Reindex,
    /// `DROP INDEX CONCURRENTLY` of an invalid leftover of REINDEX CONCURRENTLY.
    Drop,
}

/// The statement for one index; the names come from the catalog and are always quoted.
pub(super) fn statement(action: Action, schema: &str, index: &str, concurrently: bool) -> String {
    let target = format!("{}.{}", quote_ident(schema), quote_ident(index));
    match (action, concurrently) {
        (Action::Reindex, true) => format!("REINDEX INDEX CONCURRENTLY {target}"),
        (Action::Reindex, false) => format!("REINDEX INDEX {target}"),
        // Dropping an invalid index never needs the exclusive lock of a plain DROP INDEX.
        (Action::Drop, _) => format!("DROP INDEX CONCURRENTLY {target}"),
    }
}

/// `_ccnew`/`_ccold` (with an optional number) when `name` is what a failed REINDEX CONCURRENTLY leaves behind: the
/// unfinished new copy, or the old copy after the swap.
pub(super) fn leftover_suffix(name: &str) -> Option<&'static str> {
    let stem = name.trim_end_matches(|c: char| c.is_ascii_digit());
    ["_ccnew", "_ccold"].into_iter().find(|suffix| stem.ends_with(suffix))
}

/// Why an index in scope was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeftOut {
    /// Valid, with --invalid: not counted.
    Valid,
    Invalid,
    BeingBuilt,
    Exclusion,
    BelowThreshold,
    UnknownBloat,
    UnknownSize,
}

impl LeftOut {
    pub(crate) const NOTED: [Self; 6] = [
        Self::Invalid,
        Self::BeingBuilt,
        Self::Exclusion,
        Self::BelowThreshold,
        Self::UnknownBloat,
        Self::UnknownSize,
    ];

    pub(crate) fn note(self, count: usize) -> String {
        let why = match self {
            Self::Valid => "left out as valid (--invalid)",
            Self::Invalid => {
                "left out as invalid: `campctl reindex --invalid` rebuilds them, or drops the leftovers of a failed \
                 REINDEX CONCURRENTLY"
            }
            Self::BeingBuilt => "left out as invalid while another session runs CREATE INDEX or REINDEX on their table",
            Self::Exclusion => {
                "of exclusion constraints left out: REINDEX CONCURRENTLY does not support them; use --no-concurrently"
            }
            Self::BelowThreshold => "in scope below the thresholds",
            Self::UnknownBloat => {
                "of unknown bloat left out (--min-bloat-ratio needs pgstattuple, or a btree on an analyzed table)"
            }
            Self::UnknownSize => "of unknown size left out (--min-size; another session holds an exclusive lock)",
        };
        format!("{} {why}", count_of(count))
    }
}

// `Selection` (the options) is resolved in `settings.rs`; choosing with it is this file's work.
impl Selection {
    /// What to do with an index and why, or why it is left out.
    pub(crate) fn choose(&self, index: &Candidate, bloat: &Bloat) -> Result<(Action, String), LeftOut> {
        if self.invalid {
            if index.valid {
                return Err(LeftOut::Valid);
            }
            if index.being_built {
                return Err(LeftOut::BeingBuilt);
            }
            if let Some(suffix) = leftover_suffix(&index.name) {
                let what = if suffix == "_ccnew" {
                    "the unfinished new copy; the original index is intact"
                } else {
                    "the old copy, already replaced"
                };
                return Ok((
                    Action::Drop,
                    format!("invalid `{suffix}` leftover of a failed REINDEX CONCURRENTLY ({what}): drop it"),
                ));
            }
            if index.exclusion && self.concurrently {
                return Err(LeftOut::Exclusion);
            }
            return Ok((
                Action::Reindex,
                "invalid (e.g. a failed CREATE INDEX CONCURRENTLY): rebuild it".into(),
            ));
        }
        if !index.valid {
            return Err(LeftOut::Invalid);
        }
        if index.exclusion && self.concurrently {
            return Err(LeftOut::Exclusion);
        }
        let mut reasons = Vec::new();
        if let Some(min) = self.min_bloat_ratio {
            let Some(ratio) = bloat.ratio else {
                return Err(LeftOut::UnknownBloat);
            };
            if ratio < min {
                return Err(LeftOut::BelowThreshold);
            }
            reasons.push(format!(
                "bloat {:.1}% ({}) ≥ {:.1}%",
                ratio * 100.0,
                bloat.source.name(),
                min * 100.0
            ));
        }
        if let Some(min) = self.min_size {
            let Some(size) = index.size_bytes else {
                return Err(LeftOut::UnknownSize);
            };
            if (size as u64) < min {
                return Err(LeftOut::BelowThreshold);
            }
            reasons.push(format!("size {} ≥ {}", format_bytes(size), format_bytes(min as i64)));
        }
        if reasons.is_empty() {
            reasons.push("in scope".into());
        }
        Ok((Action::Reindex, reasons.join("; ")))
    }
}

/// The candidate indexes of the scope: `--index`es, the indexes of the `--table`s (or of every table, narrowed by
/// `--schema` / `--exclude-schema`).
pub(super) async fn find(client: &tokio_postgres::Client, args: &ReindexSettings) -> anyhow::Result<Vec<Candidate>> {
    let mut indexes = Vec::new();
    for spec in &args.indexes {
        let (oid, schema, name, kind) = scope::resolve_relation(client, spec, "Index").await?;
        match kind {
            'i' => {}
            'I' => {
                return Err(UserError::usage(format!(
                    "`{spec}` is a partitioned index: campctl rebuilds the indexes of the partitions"
                ))
                .with_hint("Name the partitions' indexes, or the partitioned table with --table")
                .into());
            }
            _ => return Err(UserError::usage(format!("`{spec}` is not an index (relkind `{kind}`)")).into()),
        }
        if matches!(schema.as_str(), "pg_catalog" | "information_schema") || schema.starts_with("pg_toast") {
            return Err(UserError::usage(format!(
                "`{schema}.{name}` is a system index: campctl reindexes user tables only"
            ))
            .into());
        }
        indexes.push(oid);
    }
    let (mut tables, mut partitioned) = (Vec::new(), Vec::new());
    if args.indexes.is_empty() || !args.scope.tables.is_empty() || !args.scope.schemas.is_empty() {
        for relation in scope::tables(client, &args.scope).await? {
            if relation.kind == 'p' {
                partitioned.push(relation.oid);
            } else {
                tables.push(relation.oid);
            }
        }
    } else {
        scope::check_schemas(client, &args.scope.exclude_schemas).await?;
    }
    measure::candidates(client, &tables, &partitioned, &indexes).await
}

/// A chosen index: the candidate, its bloat, what to do and why.
pub(super) type Chosen = (Candidate, Bloat, Action, String);

/// The chosen indexes in working order, why the others were left out (valid ones of `--invalid` not counted), and
/// the tables in working order.
pub(super) fn choose(
    selection: &Selection,
    candidates: Vec<Candidate>,
    bloats: Vec<Bloat>,
) -> (Vec<Chosen>, Vec<LeftOut>, Vec<u32>) {
    let mut chosen: Vec<Chosen> = Vec::new();
    let mut left_out = Vec::new();
    for (candidate, bloat) in candidates.into_iter().zip(bloats) {
        match selection.choose(&candidate, &bloat) {
            Ok((action, why)) => chosen.push((candidate, bloat, action, why)),
            Err(LeftOut::Valid) => {}
            Err(reason) => left_out.push(reason),
        }
    }
    // The catalog order groups indexes by table (biggest first); within a table, leftovers are dropped first.
    let table_order: Vec<u32> = chosen.iter().fold(Vec::new(), |mut order, (c, ..)| {
        if !order.contains(&c.table_oid) {
            order.push(c.table_oid);
        }
        order
    });
    let rank = |oid: u32| table_order.iter().position(|t| *t == oid).unwrap_or(usize::MAX);
    chosen.sort_by_key(|(c, _, action, _)| (rank(c.table_oid), *action != Action::Drop));
    (chosen, left_out, table_order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_quote_every_identifier() {
        let name = "a\"; DROP INDEX x; --_idx";
        assert_eq!(
            statement(Action::Reindex, "public", name, true),
            "REINDEX INDEX CONCURRENTLY \"public\".\"a\"\"; DROP INDEX x; --_idx\""
        );
        assert_eq!(
            statement(Action::Reindex, "Sales Data", "données_été_idx", false),
            "REINDEX INDEX \"Sales Data\".\"données_été_idx\""
        );
        assert_eq!(
            statement(Action::Drop, "public", "t_pkey_ccnew", false),
            "DROP INDEX CONCURRENTLY \"public\".\"t_pkey_ccnew\"",
            "a leftover is always dropped concurrently"
        );
    }

    #[test]
    fn leftovers_of_reindex_concurrently_are_recognised_by_name() {
        assert_eq!(leftover_suffix("t_pkey_ccnew"), Some("_ccnew"));
        assert_eq!(leftover_suffix("t_pkey_ccnew1"), Some("_ccnew"));
        assert_eq!(leftover_suffix("t_pkey_ccold12"), Some("_ccold"));
        assert_eq!(leftover_suffix("t_pkey"), None);
        assert_eq!(leftover_suffix("t_ccnew_x"), None);
        assert_eq!(leftover_suffix("t_pkey_ccnewer"), None);
        assert_eq!(leftover_suffix("ccnew"), None);
    }
}
