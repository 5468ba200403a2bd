//! `campctl logs`: the runbook's log queries (4.3: errors per hour, authentication failures per user and IP,
//! latency percentiles per hour and path) and a `tail`, on JSON-lines files (structlog, runbook 4.2.1; rotated and
//! gzipped by logrotate, 4.4).
//!
//! `LogsArgs` (clap) is resolved into [`settings::LogsSettings`] before anything is read. The reports
//! (`model.rs`) do not depend on the source: `files.rs` reads files (streamed, a file per worker over every core,
//! gzip through zlib-rs) and fills them.

pub(crate) mod settings;
mod tail;
pub(crate) mod workspace;

use clap::{Args, Subcommand, ValueEnum};

use crate::commands::Ctx;
use crate::exit::{ExitStatus, UserError};
use crate::logs::fields::LogsSettings;
use crate::logs::{files, model, reports};
use crate::printer::{OutputFormat, Printer};
use crate::units::HumanDuration;

/// Error rates, authentication failures, latency percentiles and the newest lines of JSON-lines log files
///
/// The runbook's log queries (4.3) on the application's structlog files: plain or gzipped, globs and directories,
/// `-` for stdin. Field names and the timestamp format come from `[logs.fields]`; lines that do not parse are
/// counted and reported, never fatal. Or on a Log Analytics workspace (`--workspace ID`, `[logs] workspace_id`):
/// the runbook's KQL on the tables of `[logs.workspace]` (`--show-kql` prints it). The same JSON whichever the
/// source.
#[derive(Debug, Args)]
pub struct LogsArgs {
    #[command(subcommand)]
    pub command: LogsCommand,
}

#[derive(Debug, Subcommand)]
pub enum LogsCommand {
    /// Errors per bin (levels of `[logs] error_levels`), the error rate against requests, the top messages
    Errors(ErrorsArgs),
    /// Authentication failures per user and IP at or over a threshold (runbook 4.3.2)
    AuthFailures(AuthFailuresArgs),
    /// P50/P95/P99, mean and count of request durations per bin (and per path)
    Latency(LatencyArgs),
    /// The newest lines, filtered by level and text; `--follow` follows appends and rotation like `tail -F`
    Tail(TailArgs),
    /// Run any KQL on the Log Analytics workspace; the result as a table, JSON or CSV (columns in order, typed)
    Query(workspace::QueryArgs),
}

/// Where the records come from.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// JSON-lines files, globs (`'app.log*'`) or directories (their files); `-` reads stdin; `.gz` is decompressed
    /// [default: `[logs] files` in campctl.toml]
    #[arg(long = "file", value_name = "PATH", num_args = 1..)]
    pub files: Vec<String>,

    /// Query this Log Analytics workspace (its ID, a GUID) instead of files [default: `[logs] workspace_id` when
    /// `[logs] files` is not set]
    #[arg(long, value_name = "ID", conflicts_with = "files")]
    pub workspace: Option<String>,

    /// Print the KQL a workspace report would send, and send nothing
    #[arg(long)]
    pub show_kql: bool,
}

/// The time window and the bin size.
#[derive(Debug, Clone, Args)]
pub struct WindowArgs {
    /// Records of the last DUR [default: `[logs] since`, else 24h]
    #[arg(long, value_name = "DUR", conflicts_with = "from")]
    pub since: Option<HumanDuration>,

    /// Records from this time on (RFC 3339, e.g. `2026-03-01T00:00:00Z`)
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,

    /// Records before this time (RFC 3339) [default: now]
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// Bin size [default: `[logs] bin`, else 1h]
    #[arg(long, value_name = "DUR")]
    pub bin: Option<HumanDuration>,
}

#[derive(Debug, Clone, Args)]
pub struct ErrorsArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub window: WindowArgs,
    /// How many of the most frequent error messages to list
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,
}

#[derive(Debug, Clone, Args)]
pub struct AuthFailuresArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub window: WindowArgs,
    /// List a user and IP with at least N failures in the window [default: `[logs] threshold`, else 5]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub threshold: Option<u64>,
}

#[derive(Debug, Clone, Args)]
pub struct LatencyArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub window: WindowArgs,
    /// One row per bin and path instead of per bin
    #[arg(long, value_enum, value_name = "FIELD")]
    pub by: Option<LatencyBy>,
}

/// What `logs latency --by` groups on besides the bin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LatencyBy {
    /// The request path (`[logs.fields] path`)
    Path,
}

#[derive(Debug, Clone, Args)]
pub struct TailArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// How many of the newest lines to show (`-n` is the global `--dry-run`: write `--lines N`)
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub lines: usize,
    /// Only records of this level (case-insensitive; repeatable)
    #[arg(long, value_name = "LEVEL")]
    pub level: Vec<String>,
    /// Only lines containing this text
    #[arg(long, value_name = "TEXT")]
    pub grep: Option<String>,
    /// Keep printing lines as they are appended; a rotated file is read to its end and the new one opened
    /// (`tail -F`); Ctrl-C ends it with exit 0
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// With `--follow` on a workspace: how often to ask for new rows (rows reach Log Analytics 2–5 minutes late)
    #[arg(long, value_name = "DUR", default_value = "30s")]
    pub interval: HumanDuration,
}

/// Runs `campctl logs …`.
pub(crate) async fn logs(args: LogsArgs, ctx: &Ctx, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let file = &ctx.settings.config.sections.logs;
    // The Log Analytics source (`--workspace`, `[logs] workspace_id`) and `logs query`: workspace.rs.
    let args = match workspace::run(args, ctx, printer).await? {
        workspace::Routed::Done(status) => return Ok(status),
        workspace::Routed::Files(args) => args,
    };
    let view = model::View {
        bars: ctx.settings.format == OutputFormat::Table,
        ascii: !settings::utf8_terminal(ctx.settings.color),
    };
    let now = chrono::Utc::now();
    match args.command {
        LogsCommand::Errors(args) => {
            let (settings, window, inputs) = prepare(&args.source, Some(&args.window), file, now)?;
            let top = args.top;
            let (errors, unparsed) =
                run_blocking(move || files::scan(&inputs, &settings, &|| reports::Errors::new(&window, &settings)))
                    .await?;
            printer.report(&errors.report(top, unparsed, view))?;
        }
        LogsCommand::AuthFailures(args) => {
            let (settings, window, inputs) = prepare(&args.source, Some(&args.window), file, now)?;
            let threshold = args.threshold.or(file.threshold).unwrap_or(settings::DEFAULT_THRESHOLD);
            if threshold == 0 {
                return Err(UserError::usage("`[logs] threshold` must be at least 1")
                    .with_hint("Give the number of failures that makes a user and IP worth listing, e.g. 5")
                    .into());
            }
            let (failures, unparsed) = run_blocking(move || {
                files::scan(&inputs, &settings, &|| reports::AuthFailures::new(&window, &settings))
            })
            .await?;
            printer.report(&failures.report(threshold, unparsed))?;
        }
        LogsCommand::Latency(args) => {
            let (settings, window, inputs) = prepare(&args.source, Some(&args.window), file, now)?;
            let by_path = args.by == Some(LatencyBy::Path);
            let (latency, unparsed) = run_blocking(move || {
                files::scan(&inputs, &settings, &|| {
                    reports::Latency::new(&window, &settings, by_path)
                })
            })
            .await?;
            printer.report(&latency.report(unparsed, view))?;
        }
        LogsCommand::Tail(args) => {
            let (settings, _, inputs) = prepare(&args.source, None, file, now)?;
            return tail::tail(args, settings, inputs, ctx.settings.format, printer).await;
        }
        // Handled by `workspace::run` above.
        LogsCommand::Query(_) => return Err(anyhow::anyhow!("`logs query` reached the file source")),
    }
    Ok(ExitStatus::Success)
}

/// Resolves the settings and the window, and expands the inputs (exit 10 for a missing file).
fn prepare(
    source: &SourceArgs,
    window: Option<&WindowArgs>,
    file: &crate::config_file::LogsConfig,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<(LogsSettings, model::Window, Vec<files::Input>)> {
    let settings = LogsSettings::resolve(&source.files, file)?;
    let resolved = match window {
        Some(window) => settings::WindowSettings::resolve(window, file, now)?,
        None => settings::WindowSettings {
            from: now,
            until: now,
            bin_seconds: 1,
        },
    };
    let inputs = files::expand(&settings.inputs)?;
    let window = model::Window {
        source: model::SourceInfo {
            kind: "files".into(),
            inputs: inputs.iter().map(files::Input::name).collect(),
        },
        from: resolved.from,
        until: resolved.until,
        bin_seconds: resolved.bin_seconds,
    };
    Ok((settings, window, inputs))
}

/// Runs the reading off the async runtime (it starts its own worker threads).
async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(work).await?
}
