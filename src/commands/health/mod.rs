//! `campctl health`: the runbook's health script (9.1.1) and its thresholds (section 5) as one command that cron,
//! a monitoring system and a person at 3 a.m. can all use.
//!
//! [`HealthArgs`] is resolved into [`settings::HealthSettings`] before anything runs; `run.rs` runs the selected
//! checks at once, each under its own timeout; `report.rs` renders the results as a table, JSON, a Nagios status
//! line or Prometheus gauges. The exit code is the worst status in every format (0 OK, 1 WARNING, 2 CRITICAL,
//! 3 UNKNOWN). Nothing here writes anything but the state file (`state.rs`) and `--output`.

mod api;
mod azure;
mod backups;
mod catalogs;
mod check;
mod database;
mod limits;
mod log_files;
mod logs;
mod probe;
mod redis;
mod report;
mod run;
mod settings;
mod state;
mod system;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;

use self::limits::CheckName;
use self::probe::Probe;
use self::report::HealthReport;
pub(crate) use self::settings::HealthSettings;
use self::state::State;
use crate::commands::Ctx;
use crate::exit::ExitStatus;
use crate::printer::{OutputFormat, Printer};
use crate::units::HumanDuration;

/// Check the host, the database, Redis, the API and the backups against the runbook's thresholds
///
/// Every check reports OK, WARNING, CRITICAL or UNKNOWN with its value and thresholds (runbook section 5 unless
/// `[health]` says otherwise). All checks run at once, each with its own timeout. The exit code is the worst status:
/// 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, in every format: `--format nagios` for Nagios / Icinga,
/// `--format prometheus --output FILE` for node_exporter's textfile collector. docs/health.md lists every check.
#[derive(Debug, Args)]
pub struct HealthArgs {
    /// Run only these checks (comma-separated or repeated) [default: `[health] checks`, else every configured check]
    #[arg(long = "check", value_name = "CHECK", value_delimiter = ',', value_enum)]
    pub(crate) checks: Vec<CheckName>,

    /// Leave these checks out (comma-separated or repeated; the names `--check` takes)
    #[arg(
        long = "skip",
        value_name = "CHECK",
        value_delimiter = ',',
        value_enum,
        hide_possible_values = true
    )]
    pub(crate) skip: Vec<CheckName>,

    /// Timeout of each check [default: `[health] timeout`, else 5s]
    #[arg(long, value_name = "DUR")]
    pub(crate) timeout: Option<HumanDuration>,

    /// Run again every DUR and redraw in place, until Ctrl-C (which exits with the last run's status)
    #[arg(long, value_name = "DUR")]
    pub(crate) watch: Option<HumanDuration>,

    /// Write the report to FILE instead of stdout, atomically (for node_exporter's textfile collector)
    #[arg(long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}

/// Runs `campctl health`.
///
/// # Errors
/// Only settings errors (exit 2) and an `--output` file that cannot be written: a check that fails is UNKNOWN in
/// the report, never an error of the command.
pub(crate) async fn health(args: HealthArgs, ctx: &Ctx, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let settings = HealthSettings::resolve(args, ctx)?;
    let Some(every) = settings.watch else {
        let report = check_once(&settings, ctx).await;
        emit(&report, &settings, printer, false)?;
        return Ok(report.status.exit_status());
    };
    loop {
        let started = Instant::now();
        let report = check_once(&settings, ctx).await;
        emit(&report, &settings, printer, true)?;
        // Ctrl-C ends the watch with the status the screen shows, not 130.
        crate::interrupt::set_status_on_interrupt(report.status.exit_status());
        tokio::time::sleep(every.saturating_sub(started.elapsed()).max(Duration::from_millis(100))).await;
    }
}

/// One run of every selected check.
async fn check_once(settings: &HealthSettings, ctx: &Ctx) -> HealthReport {
    let checked_at = chrono::Utc::now();
    let started = Instant::now();
    let state = State::load(&settings.state_file);
    let probe = Probe {
        settings,
        ctx,
        state: &state,
        db: database::session::SharedSession::default(),
        catalogs: catalogs::SharedCatalogs::default(),
        requests: log_files::SharedRequests::default(),
    };
    let results = run::run_all(&probe).await;
    if let Err(err) = state.save(&settings.state_file) {
        tracing::warn!("{err:#}; rates are measured from the older sample next time");
    }
    let mut notes = Vec::new();
    if !settings.not_configured.is_empty() {
        let left_out: Vec<String> = settings
            .not_configured
            .iter()
            .map(|(check, what)| format!("`{}` (configure {what})", check.name()))
            .collect();
        notes.push(format!("Not configured, so not checked: {}", left_out.join(", ")));
    }
    HealthReport::new(results, notes, checked_at, started.elapsed().as_secs_f64())
}

/// Writes the report in the chosen format to stdout or `--output`.
fn emit(report: &HealthReport, settings: &HealthSettings, printer: &Printer, redraw: bool) -> anyhow::Result<()> {
    let text = match printer.format {
        OutputFormat::Nagios => Some(report.nagios()),
        OutputFormat::Prometheus => Some(report.prometheus()),
        OutputFormat::Table | OutputFormat::Json | OutputFormat::Csv => None,
    };
    if let Some(path) = &settings.output {
        let text = match text {
            Some(text) => text,
            None => printer.render(report)?,
        };
        return write_atomically(path, &text);
    }
    if redraw && printer.format == OutputFormat::Table && printer.is_terminal() {
        // Home and clear: the new table replaces the old one in place.
        print!("\x1b[H\x1b[2J");
    }
    match text {
        Some(text) => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
        None => printer.report(report)?,
    }
    Ok(())
}

/// Writes `text` to a temporary file beside `path` and renames it over `path`, so that a reader (node_exporter)
/// never sees half a file.
fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file = tempfile::Builder::new()
        .prefix(".campctl-health-")
        .tempfile_in(dir)
        .with_context(|| {
            format!(
                "Failed to write `{}`: its directory cannot take a new file",
                path.display()
            )
        })?;
    file.write_all(text.as_bytes())?;
    file.as_file().sync_all()?;
    // node_exporter runs as another user: the report is world-readable, as a file written by `>` would be.
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.as_file().set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    file.persist(path)
        .with_context(|| format!("Failed to write `{}`", path.display()))?;
    Ok(())
}
