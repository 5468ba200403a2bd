//! `campctl vacuum`, resolved: [`VacuumSettings::resolve`] checks the flags against each other and builds the
//! [`Mode`] before any connection is made, so that a usage error never waits for a server (as
//! `StatsSettings::resolve` does for `stats`).
//!
//! It reads no catalog and runs no SQL; [`Mode::statement`] only formats a statement from catalog names, always
//! quoted.

use super::VacuumArgs;
use crate::commands::Ctx;
use crate::commands::maintenance::scope::{self, Relation, ScopeArgs};
use crate::exit::UserError;

/// What a VACUUM or ANALYZE statement does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mode {
    pub analyze: bool,
    pub analyze_only: bool,
    pub in_stages: bool,
    pub full: bool,
    pub freeze: bool,
    pub no_truncate: bool,
    pub skip_locked: bool,
}

impl Mode {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self { in_stages: true, .. } => "analyze in stages",
            Self { analyze_only: true, .. } => "analyze",
            Self { full: true, .. } => "vacuum full",
            Self { analyze: true, .. } => "vacuum analyze",
            _ => "vacuum",
        }
    }

    /// The statement for one relation; every identifier is quoted.
    pub(crate) fn statement(self, relation: &Relation) -> String {
        let target = format!("{}{}", relation.quoted(), relation.column_list());
        if self.analyze_only || self.in_stages {
            return if self.skip_locked {
                format!("ANALYZE (SKIP_LOCKED) {target}")
            } else {
                format!("ANALYZE {target}")
            };
        }
        let mut options = Vec::new();
        if self.full {
            options.push("FULL");
        }
        if self.freeze {
            options.push("FREEZE");
        }
        if self.analyze {
            options.push("ANALYZE");
        }
        if self.no_truncate && !self.full {
            options.push("TRUNCATE false");
        }
        if self.skip_locked {
            options.push("SKIP_LOCKED");
        }
        if options.is_empty() {
            format!("VACUUM {target}")
        } else {
            format!("VACUUM ({}) {target}", options.join(", "))
        }
    }

    /// Whether the statement analyzes (a column list needs it).
    fn analyzes(self) -> bool {
        self.analyze || self.analyze_only || self.in_stages
    }
}

/// The thresholds that choose tables (see `select.rs`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Thresholds {
    pub min_dead_tuples: Option<u64>,
    pub min_dead_ratio: Option<f64>,
    pub min_xid_age: Option<u64>,
    pub missing_stats_only: bool,
}

impl Thresholds {
    /// Whether a dead-tuple threshold is set.
    pub(crate) fn dead_rule(&self) -> bool {
        self.min_dead_tuples.is_some() || self.min_dead_ratio.is_some()
    }
}

/// `campctl vacuum`, resolved and checked.
#[derive(Debug, Clone)]
pub(crate) struct VacuumSettings {
    pub scope: ScopeArgs,
    pub mode: Mode,
    pub thresholds: Thresholds,
    /// `--jobs`: sessions wanted.
    pub jobs: usize,
    pub database: String,
    pub dry_run: bool,
    pub yes: bool,
}

impl VacuumSettings {
    /// Checks the flags against each other and resolves them.
    ///
    /// # Errors
    /// A usage error (exit 2): `--full` with `--jobs`, `--missing-stats-only` without an analyze-only mode, a
    /// column list with `--no-analyze`, a malformed column list.
    pub(crate) fn resolve(args: VacuumArgs, ctx: &Ctx) -> anyhow::Result<Self> {
        let mode = Mode {
            analyze: !args.no_analyze,
            analyze_only: args.analyze_only,
            in_stages: args.analyze_in_stages,
            full: args.full,
            freeze: args.freeze,
            no_truncate: args.no_truncate,
            skip_locked: args.skip_locked,
        };
        if args.full && args.jobs > 1 {
            return Err(
                UserError::usage("--full runs one table at a time: it cannot be combined with --jobs")
                    .with_hint("VACUUM FULL locks each table and rewrites it; run it with the default --jobs 1")
                    .into(),
            );
        }
        if args.missing_stats_only && !(args.analyze_only || args.analyze_in_stages) {
            return Err(UserError::usage("--missing-stats-only needs --analyze-only or --analyze-in-stages").into());
        }
        if !mode.analyzes() {
            for spec in &args.scope.tables {
                if !scope::split_columns(spec)?.1.is_empty() {
                    return Err(UserError::usage(format!(
                        "`{spec}`: a column list needs ANALYZE, but --no-analyze was given"
                    ))
                    .into());
                }
            }
        }
        Ok(Self {
            scope: args.scope,
            mode,
            thresholds: Thresholds {
                min_dead_tuples: args.min_dead_tuples,
                min_dead_ratio: args.min_dead_ratio,
                min_xid_age: args.min_xid_age,
                missing_stats_only: args.missing_stats_only,
            },
            jobs: args.jobs as usize,
            database: ctx.settings.db.dbname.clone(),
            dry_run: ctx.settings.dry_run,
            yes: ctx.settings.yes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relation(columns: &[&str]) -> Relation {
        Relation {
            oid: 1,
            schema: "public".into(),
            name: "a\"; DROP TABLE x; --".into(),
            kind: 'r',
            columns: columns.iter().map(|c| (*c).to_string()).collect(),
        }
    }

    fn mode() -> Mode {
        Mode {
            analyze: true,
            analyze_only: false,
            in_stages: false,
            full: false,
            freeze: false,
            no_truncate: false,
            skip_locked: false,
        }
    }

    #[test]
    fn statements_quote_every_identifier() {
        assert_eq!(
            mode().statement(&relation(&["Email"])),
            "VACUUM (ANALYZE) \"public\".\"a\"\"; DROP TABLE x; --\" (\"Email\")"
        );
        let full = Mode {
            full: true,
            analyze: false,
            no_truncate: true,
            skip_locked: true,
            ..mode()
        };
        assert_eq!(
            full.statement(&relation(&[])),
            "VACUUM (FULL, SKIP_LOCKED) \"public\".\"a\"\"; DROP TABLE x; --\""
        );
        let analyze = Mode {
            analyze_only: true,
            skip_locked: true,
            ..mode()
        };
        assert!(analyze.statement(&relation(&[])).starts_with("ANALYZE (SKIP_LOCKED) "));
    }

    #[test]
    fn ratios_are_between_zero_and_one() {
        assert_eq!(super::super::super::parse_ratio("0.2"), Ok(0.2));
        assert!(super::super::super::parse_ratio("20").is_err());
        assert!(super::super::super::parse_ratio("x").is_err());
    }
}
