//! What `campctl restore` tells the operator: the plan of a `--dry-run` ([`print_plan`]: steps on
//! stderr, or one JSON document on stdout) and, after the
//! swap, the [`RestoreReport`] on stdout (a table or JSON), step by step with the measured recovery time.
//!
//! It holds data and wording only, so that `restore.rs`, which does the work, stays about the work. It must never
//! run a step, touch a database or decide an exit code.

use serde::Serialize;

use super::run::RestoreOptions;
use crate::catalog::select::Selected;
use crate::pg::quote_ident;
use crate::printer::{Cell, Plan, Printer, Report, Table};

/// What a restore did, step by step.
#[derive(Debug, Serialize)]
pub(super) struct RestoreReport {
    pub backup: String,
    pub origin: String,
    pub target: String,
    /// The database holding the previous contents (`null` when the target did not exist); with `--drop-previous`
    /// it names the database that was dropped (`previous_dropped` is then true).
    pub previous_database: Option<String>,
    pub previous_dropped: bool,
    /// Whether the checksum was compared with a manifest.
    pub checksum_verified: bool,
    pub sha256: String,
    pub archive_bytes: u64,
    pub tables: usize,
    pub rows: u64,
    pub download_seconds: f64,
    pub restore_seconds: f64,
    pub verify_seconds: f64,
    pub analyze_seconds: Option<f64>,
    pub swap_seconds: f64,
    /// Sessions on the target that the swap ended.
    pub sessions_ended: u64,
    /// Wall time from the start of the download to the swapped-in database: the measured recovery time.
    pub recovery_seconds: f64,
}

impl Report for RestoreReport {
    fn tables(&self) -> Vec<Table> {
        let mut table = Table::new(
            format!("Restored `{}` into `{}`", self.backup, self.target),
            &["step", "value"],
        );
        let mut row = |name: &'static str, value: Cell| table.row(vec![name.into(), value]);
        row("origin", self.origin.as_str().into());
        row(
            "checksum",
            if self.checksum_verified {
                Cell::Text(format!("SHA-256 {} matches the manifest", &self.sha256[..12]))
            } else {
                "not verified (no manifest)".into()
            },
        );
        row("archive", Cell::Bytes(self.archive_bytes as i64));
        row(
            "verified",
            Cell::Text(format!("{} tables, {} rows match the backup", self.tables, self.rows)),
        );
        row("download", Cell::Seconds(self.download_seconds));
        row("pg_restore", Cell::Seconds(self.restore_seconds));
        row("row counts", Cell::Seconds(self.verify_seconds));
        row(
            "analyze",
            self.analyze_seconds.map_or(Cell::Text("skipped".into()), Cell::Seconds),
        );
        row("swap", Cell::Seconds(self.swap_seconds));
        row("sessions ended", Cell::Int(self.sessions_ended as i64));
        row(
            "previous database",
            match (&self.previous_database, self.previous_dropped) {
                (Some(name), false) => Cell::Text(format!("kept as `{name}`")),
                (Some(name), true) => Cell::Text(format!("`{name}` dropped")),
                (None, _) => Cell::Text("none (the target did not exist)".into()),
            },
        );
        row("recovery time", Cell::Seconds(self.recovery_seconds));
        vec![table]
    }
}

/// What `restore --dry-run` would do: the JSON of [`Printer::plan`] (docs/output.md, "Dry-run plans").
#[derive(Debug, Serialize)]
pub(super) struct RestorePlan {
    pub backup: String,
    pub origin: String,
    pub object: String,
    /// Whether a manifest is there to check the download's SHA-256 and size against.
    pub checksum_verified: bool,
    /// The database replaced or created.
    pub target: String,
    /// `host:port` of the server restored on.
    pub server: String,
    /// The new copy, restored aside before the swap.
    pub restore_database: String,
    /// What the target's current contents would be renamed to (`null` when the target does not exist yet).
    pub previous_database: Option<String>,
    pub drop_previous: bool,
    pub jobs: u32,
    pub verify_first: bool,
    /// The spool file's directory (`null` with one job: nothing is spooled).
    pub spool_dir: Option<String>,
    pub no_owner: bool,
    pub no_acl: bool,
    pub no_tablespaces: bool,
}

/// The step-by-step plan of a restore: `--dry-run` shows it and changes nothing.
pub(super) struct PlanInput<'a> {
    pub selected: &'a Selected,
    pub server: String,
    pub target: &'a str,
    pub aside: &'a str,
    pub previous: Option<&'a str>,
    pub options: &'a RestoreOptions,
    pub drop_previous: bool,
}

/// `--dry-run`: the steps a restore would take (on stderr, or the JSON plan on stdout); nothing is changed.
///
/// # Errors
/// Writing the JSON plan to stdout failed.
pub(super) fn print_plan(printer: &Printer, input: &PlanInput<'_>) -> anyhow::Result<()> {
    let PlanInput {
        selected,
        target,
        aside,
        previous,
        options,
        drop_previous,
        ..
    } = input;
    let mode = if options.jobs > 1 {
        format!(
            "pg_restore --jobs={} from the verified spool file in `{}`",
            options.jobs,
            options.spool_dir.display()
        )
    } else if options.verify_first {
        "download again and stream it into pg_restore (verified again as it streams)".to_string()
    } else {
        "stream into pg_restore while verifying (`--no-verify-first`: the checksum is known at the end)".to_string()
    };
    let verify = if options.jobs > 1 {
        format!("spool it to `{}` and verify", options.spool_dir.display())
    } else if options.verify_first {
        "verify it (`--verify-first`)".to_string()
    } else {
        "stream it".to_string()
    };
    let mut steps = vec![
        download_step(
            selected,
            &format!("{verify}: {{}}, archive complete, pg_restore can read its version"),
        ),
        format!("CREATE DATABASE {}; {mode}", quote_ident(aside)),
        "compare every table's exact row count with the backup; ANALYZE".to_string(),
    ];
    match previous {
        Some(previous) => {
            steps.push(format!(
                "close `{target}` to new connections, end its sessions, rename it to `{previous}` and `{aside}` to \
                 `{target}`"
            ));
            if *drop_previous {
                steps.push(format!("DROP DATABASE {}", quote_ident(previous)));
            }
        }
        None => steps.push(format!("rename `{aside}` to `{target}` (it does not exist yet)")),
    }
    let details = RestorePlan {
        backup: selected.name.clone(),
        origin: selected.origin.clone(),
        object: selected.object.clone(),
        checksum_verified: selected.manifest.is_some(),
        target: (*target).to_string(),
        server: input.server.clone(),
        restore_database: (*aside).to_string(),
        previous_database: previous.map(str::to_string),
        drop_previous: *drop_previous,
        jobs: options.jobs,
        verify_first: options.verify_first,
        spool_dir: (options.jobs > 1).then(|| options.spool_dir.display().to_string()),
        no_owner: options.no_owner,
        no_acl: options.no_acl,
        no_tablespaces: options.no_tablespaces,
    };
    printer.plan(&Plan::new("restore", details, steps))
}

/// The first step of a restore's and a test-restore's plan: where the backup comes from and how it is checked.
/// `how` holds one `{}`, replaced by what the manifest allows checking.
pub(super) fn download_step(selected: &Selected, how: &str) -> String {
    let checksum = if selected.manifest.is_some() {
        "SHA-256 and size against the manifest"
    } else {
        "no manifest, so no checksum"
    };
    format!(
        "download `{}` from {} and {}",
        selected.object,
        selected.origin,
        how.replacen("{}", checksum, 1)
    )
}
