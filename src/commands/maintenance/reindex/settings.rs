//! `campctl reindex`, resolved: [`ReindexSettings::resolve`] checks the flags before any connection is made, so
//! that a usage error never waits for a server (as `StatsSettings::resolve` does for `stats`).
//!
//! It reads no catalog and runs no SQL: whether a `--index` names an index, or a `--table` a table, is for the
//! server to say (`select.rs`).

use super::ReindexArgs;
use crate::commands::Ctx;
use crate::commands::maintenance::scope::{self, ScopeArgs};
use crate::exit::UserError;

/// The options that choose indexes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Selection {
    pub invalid: bool,
    pub concurrently: bool,
    pub min_bloat_ratio: Option<f64>,
    pub min_size: Option<u64>,
}

/// `campctl reindex`, resolved and checked.
#[derive(Debug, Clone)]
pub(crate) struct ReindexSettings {
    pub scope: ScopeArgs,
    /// `--index`: SQL names, resolved by the server.
    pub indexes: Vec<String>,
    pub selection: Selection,
    /// `--jobs`: sessions wanted.
    pub jobs: usize,
    pub database: String,
    pub dry_run: bool,
    pub yes: bool,
}

impl ReindexSettings {
    /// Checks the flags and resolves them.
    ///
    /// # Errors
    /// A usage error (exit 2): a `--table` with a column list, or a malformed one.
    pub(crate) fn resolve(args: ReindexArgs, ctx: &Ctx) -> anyhow::Result<Self> {
        check_no_columns(&args.scope.tables)?;
        Ok(Self {
            selection: Selection {
                invalid: args.invalid,
                concurrently: !args.no_concurrently,
                min_bloat_ratio: args.min_bloat_ratio,
                min_size: args.min_size.map(|size| size.0),
            },
            scope: args.scope,
            indexes: args.indexes,
            jobs: args.jobs as usize,
            database: ctx.settings.db.dbname.clone(),
            dry_run: ctx.settings.dry_run,
            yes: ctx.settings.yes,
        })
    }
}

/// REINDEX works on whole indexes: a `--table users(email)` is refused.
fn check_no_columns(tables: &[String]) -> Result<(), UserError> {
    for spec in tables {
        if !scope::split_columns(spec)?.1.is_empty() {
            return Err(UserError::usage(format!("`{spec}`: reindex takes no column list"))
                .with_hint("Name the table alone, e.g. `--table users`, or one index with --index"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_list_is_a_usage_error() {
        assert!(check_no_columns(&["users".into(), "\"a(b)\"".into()]).is_ok());
        let err = check_no_columns(&["users(email)".into()]).expect_err("refused");
        assert_eq!(err.status, crate::exit::ExitStatus::Usage);
        assert!(err.message.contains("no column list"), "{}", err.message);
    }

    #[test]
    fn ratios_are_between_zero_and_one() {
        assert_eq!(super::super::super::parse_ratio("0.3"), Ok(0.3));
        assert!(super::super::super::parse_ratio("30").is_err());
        assert!(super::super::super::parse_ratio("x").is_err());
    }
}
