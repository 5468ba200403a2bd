//! The Log Analytics source of `campctl logs` (`--workspace ID`, `[logs] workspace_id`) and `logs query`.
//!
//! Each report is KQL built by [`crate::azure::loganalytics::kql`] from the runbook's queries on the tables and
//! columns of `[logs.workspace]`, sent with the report's window as `timespan`, and its typed result filled into the
//! same report structs as the file source ([`crate::logs::model`]), so the JSON is the same whichever the source
//! (`source.kind` says which). `--show-kql` prints the KQL and sends nothing. A 200 with `error` (partial results)
//! prints the report, then a warning, and exits 3.
//!
//! Which source: `--file` or `--workspace` when given; else `[logs] files` when set; else `[logs] workspace_id`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Args;
use serde::Serialize;

use super::settings::{DEFAULT_THRESHOLD, WindowSettings};
use super::{LogsArgs, LogsCommand, WindowArgs};
use crate::azure::loganalytics::kql::{self, Schema};
use crate::azure::loganalytics::{self, QueryRequest, QueryResult, Table as ResultTable};
use crate::commands::Ctx;
use crate::config_file::LogsConfig;
use crate::exit::{ExitStatus, UserError};
use crate::logs::fields::{DEFAULT_AUTH_MATCH, DEFAULT_ERROR_LEVELS};
use crate::logs::model::{
    AuthFailureGroup, AuthFailuresReport, ErrorBin, ErrorsReport, LatencyReport, LatencyRow, MessageCount, Record,
    SourceInfo, TailLine, TailReport, Unparsed, View, Window,
};
use crate::printer::{Cell, Printer, Report, Table};
use crate::settings::azure::AzureSettings;
use crate::settings::logs_workspace::LogsWorkspace;

/// `campctl logs query`.
#[derive(Debug, Clone, Args)]
pub struct QueryArgs {
    /// The KQL, e.g. `AppServiceHTTPLogs | summarize count() by ScStatus`
    #[arg(value_name = "KQL")]
    pub kql: String,

    /// The workspace ID (a GUID) [default: `[logs] workspace_id`]
    #[arg(long, value_name = "ID")]
    pub workspace: Option<String>,

    /// Print the KQL and the timespan, and send nothing
    #[arg(long)]
    pub show_kql: bool,

    #[command(flatten)]
    pub window: WindowArgs,
}

/// What [`run`] did with the arguments.
pub(crate) enum Routed {
    /// A workspace report (or `logs query`) ran.
    Done(ExitStatus),
    /// The arguments are for the file source.
    Files(LogsArgs),
}

/// `[logs.workspace]` and the workspace ID, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WorkspaceSettings {
    pub id: String,
    pub schema: Schema,
    pub wait_secs: u32,
    pub error_levels: Vec<String>,
}

impl WorkspaceSettings {
    /// See [`LogsWorkspace::resolve`]; with the error levels of `[logs]`.
    ///
    /// # Errors
    /// See [`LogsWorkspace::resolve`].
    pub(crate) fn resolve(flag: Option<&str>, files_given: bool, file: &LogsConfig) -> anyhow::Result<Option<Self>> {
        let Some(workspace) = LogsWorkspace::resolve(flag, files_given, file, DEFAULT_AUTH_MATCH)? else {
            return Ok(None);
        };
        let error_levels = file
            .error_levels
            .clone()
            .unwrap_or_else(|| DEFAULT_ERROR_LEVELS.iter().map(ToString::to_string).collect());
        Ok(Some(Self {
            id: workspace.id,
            schema: workspace.schema,
            wait_secs: workspace.wait_secs,
            error_levels,
        }))
    }
}

/// The error of `logs query` (or `--show-kql`) without a workspace.
fn no_workspace() -> anyhow::Error {
    UserError::usage("no Log Analytics workspace: give `--workspace ID` or set `[logs] workspace_id` in campctl.toml")
        .with_hint(
            "The ID is the workspace's GUID (`az monitor log-analytics workspace show -g RG -n NAME --query \
             customerId`)",
        )
        .into()
}

/// Runs a workspace report or `logs query`, or hands the arguments back for the file source.
///
/// # Errors
/// Settings errors (exit 2), and the query's errors (see [`crate::azure::loganalytics`]).
pub(crate) async fn run(args: LogsArgs, ctx: &Ctx, printer: &Printer) -> anyhow::Result<Routed> {
    let file = &ctx.settings.config.sections.logs;
    if let LogsCommand::Query(query) = &args.command {
        let settings = WorkspaceSettings::resolve(
            query.workspace.as_deref(),
            false,
            &LogsConfig {
                files: None,
                ..file.clone()
            },
        )?
        .ok_or_else(no_workspace)?;
        return Ok(Routed::Done(run_query(query, &settings, ctx, printer).await?));
    }
    let source = match &args.command {
        LogsCommand::Errors(a) => &a.source,
        LogsCommand::AuthFailures(a) => &a.source,
        LogsCommand::Latency(a) => &a.source,
        LogsCommand::Tail(a) => &a.source,
        LogsCommand::Query(_) => return Ok(Routed::Files(args)),
    };
    let Some(settings) = WorkspaceSettings::resolve(source.workspace.as_deref(), !source.files.is_empty(), file)?
    else {
        if source.show_kql {
            return Err(no_workspace());
        }
        return Ok(Routed::Files(args));
    };
    let show_kql = source.show_kql;
    let view = View {
        bars: ctx.settings.format == crate::printer::OutputFormat::Table,
        ascii: !super::settings::utf8_terminal(ctx.settings.color),
    };
    let runner = Runner {
        settings: &settings,
        ctx,
        printer,
        show_kql,
    };
    let status = match &args.command {
        LogsCommand::Errors(a) => runner.errors(&a.window, a.top, view, file).await?,
        LogsCommand::AuthFailures(a) => {
            let threshold = a.threshold.or(file.threshold).unwrap_or(DEFAULT_THRESHOLD);
            runner.auth_failures(&a.window, threshold, file).await?
        }
        LogsCommand::Latency(a) => runner.latency(&a.window, a.by.is_some(), view, file).await?,
        LogsCommand::Tail(a) => runner.tail(a, file).await?,
        LogsCommand::Query(_) => return Ok(Routed::Files(args)),
    };
    Ok(Routed::Done(status))
}

struct Runner<'a> {
    settings: &'a WorkspaceSettings,
    ctx: &'a Ctx,
    printer: &'a Printer,
    show_kql: bool,
}

/// The queries of one report, their results, and the warning of any partial one.
struct Answers {
    results: Vec<QueryResult>,
    partial: Vec<String>,
}

impl Runner<'_> {
    fn window(&self, args: &WindowArgs, file: &LogsConfig) -> anyhow::Result<(WindowSettings, Window)> {
        let resolved = WindowSettings::resolve(args, file, Utc::now())?;
        let window = Window {
            source: SourceInfo {
                kind: "workspace".into(),
                inputs: vec![self.settings.id.clone()],
            },
            from: resolved.from,
            until: resolved.until,
            bin_seconds: resolved.bin_seconds,
        };
        Ok((resolved, window))
    }

    /// Sends `queries` (or prints them with `--show-kql`: `None`).
    async fn ask(&self, window: &WindowSettings, queries: &[String]) -> anyhow::Result<Option<Answers>> {
        let request = |query: &String| QueryRequest {
            query: query.clone(),
            from: window.from,
            until: window.until,
            wait_secs: self.settings.wait_secs,
        };
        if self.show_kql {
            print_kql(&queries.iter().map(request).collect::<Vec<_>>());
            return Ok(None);
        }
        let client = AzureSettings::resolve(&self.ctx.settings.config)?.loganalytics_client()?;
        let mut answers = Answers {
            results: Vec::new(),
            partial: Vec::new(),
        };
        for query in queries {
            let result = loganalytics::query(&client, &self.settings.id, &request(query)).await?;
            answers.partial.extend(result.partial.clone());
            answers.results.push(result);
        }
        Ok(Some(answers))
    }

    fn finish<R: Report>(&self, report: &R, partial: &[String]) -> anyhow::Result<ExitStatus> {
        self.printer.report(report)?;
        Ok(partial_status(self.printer, &self.settings.id, partial))
    }

    async fn errors(&self, args: &WindowArgs, top: usize, view: View, file: &LogsConfig) -> anyhow::Result<ExitStatus> {
        let (resolved, window) = self.window(args, file)?;
        let bin = Duration::from_secs(resolved.bin_seconds);
        let schema = &self.settings.schema;
        let levels = &self.settings.error_levels;
        let queries = [
            kql::errors_per_bin(schema, levels, bin)?,
            kql::requests_per_bin(schema, bin)?,
            kql::top_error_messages(schema, levels, top)?,
        ];
        let Some(answers) = self.ask(&resolved, &queries).await? else {
            return Ok(ExitStatus::Success);
        };
        let [errors, requests, messages] = primaries(&answers)?;
        let time = &schema.time_column;
        let error_counts = counts_by_bin(&errors, time, "errors")?;
        let request_counts = counts_by_bin(&requests, time, "requests")?;
        let any_requests = !requests.rows.is_empty();
        let bins: Vec<ErrorBin> = bin_starts(&window)
            .into_iter()
            .map(|start| {
                let errors = error_counts.get(&start).copied().unwrap_or(0);
                let requests = any_requests.then(|| request_counts.get(&start).copied().unwrap_or(0));
                ErrorBin {
                    start,
                    errors,
                    requests,
                    rate: requests
                        .filter(|&count| count > 0)
                        .map(|count| errors as f64 / count as f64),
                }
            })
            .collect();
        let message_column = messages.require("message")?;
        let count_column = messages.require("count")?;
        let mut top_messages: Vec<MessageCount> = messages
            .rows
            .iter()
            .map(|row| MessageCount {
                message: row[message_column].to_text(),
                count: row[count_column].as_i64().unwrap_or(0).max(0) as u64,
            })
            .collect();
        top_messages.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.message.cmp(&b.message)));
        let report = ErrorsReport {
            total_errors: bins.iter().map(|bin| bin.errors).sum(),
            window,
            bins,
            top_messages,
            unparsed: Unparsed::default(),
            view,
        };
        self.finish(&report, &answers.partial)
    }

    async fn auth_failures(&self, args: &WindowArgs, threshold: u64, file: &LogsConfig) -> anyhow::Result<ExitStatus> {
        let (resolved, window) = self.window(args, file)?;
        let queries = [kql::auth_failures(&self.settings.schema, threshold)?];
        let Some(answers) = self.ask(&resolved, &queries).await? else {
            return Ok(ExitStatus::Success);
        };
        let [table] = primaries(&answers)?;
        let (user, ip, count) = (
            table.require("User")?,
            table.require("IPAddress")?,
            table.require("FailureCount")?,
        );
        let text = |cell: &loganalytics::Cell| Some(cell.to_text()).filter(|text| !text.is_empty());
        let groups = table
            .rows
            .iter()
            .map(|row| AuthFailureGroup {
                user: text(&row[user]),
                ip: text(&row[ip]),
                failures: row[count].as_i64().unwrap_or(0).max(0) as u64,
            })
            .collect();
        let report = AuthFailuresReport::new(window, threshold, groups, Unparsed::default());
        self.finish(&report, &answers.partial)
    }

    async fn latency(
        &self,
        args: &WindowArgs,
        by_path: bool,
        view: View,
        file: &LogsConfig,
    ) -> anyhow::Result<ExitStatus> {
        let (resolved, window) = self.window(args, file)?;
        let bin = Duration::from_secs(resolved.bin_seconds);
        let queries = [kql::latency(&self.settings.schema, bin, by_path)?];
        let Some(answers) = self.ask(&resolved, &queries).await? else {
            return Ok(ExitStatus::Success);
        };
        let [table] = primaries(&answers)?;
        let time = table.require(&self.settings.schema.time_column)?;
        let path = if by_path { Some(table.require("path")?) } else { None };
        let [count, mean, p50, p95, p99] = ["count", "mean", "p50", "p95", "p99"].map(|name| table.require(name));
        let (count, mean, p50, p95, p99) = (count?, mean?, p50?, p95?, p99?);
        let number = |cell: &loganalytics::Cell| cell.as_f64().unwrap_or(f64::NAN);
        let mut rows = Vec::with_capacity(table.rows.len());
        for row in &table.rows {
            let Some(start) = row[time].as_datetime() else {
                continue;
            };
            rows.push(LatencyRow {
                start,
                path: path.map(|column| row[column].to_text()),
                count: row[count].as_i64().unwrap_or(0).max(0) as u64,
                mean_ms: number(&row[mean]),
                p50_ms: number(&row[p50]),
                p95_ms: number(&row[p95]),
                p99_ms: number(&row[p99]),
            });
        }
        rows.retain(|row| row.count > 0);
        rows.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.path.cmp(&b.path)));
        let report = LatencyReport {
            window,
            by: by_path.then(|| "path".to_string()),
            exact: false,
            rows,
            unparsed: Unparsed::default(),
            view,
        };
        self.finish(&report, &answers.partial)
    }
}

/// How far back a `--follow` poll looks again for rows that reached the workspace late.
const LATE_ROWS: Duration = Duration::from_secs(600);

impl Runner<'_> {
    /// `logs tail` on the workspace: the newest lines of the console table; with `--follow`, a poll every
    /// `--interval` over the last 10 minutes, printing the rows not printed yet (rows arrive 2–5 minutes late).
    async fn tail(&self, args: &super::TailArgs, file: &LogsConfig) -> anyhow::Result<ExitStatus> {
        let schema = &self.settings.schema;
        let interval = args.interval.0;
        if args.follow && interval < Duration::from_secs(1) {
            return Err(UserError::usage("`--interval` must be at least 1s")
                .with_hint("Rows reach Log Analytics minutes late: poll every `30s` or so")
                .into());
        }
        let since = file.since.map_or(super::settings::DEFAULT_SINCE, |since| since.0);
        let kql = kql::tail(schema, &args.level, args.grep.as_deref(), args.lines)?;
        let now = Utc::now();
        let first = WindowSettings {
            from: now - chrono::Duration::from_std(since).unwrap_or(chrono::Duration::MAX),
            until: now,
            bin_seconds: 3600,
        };
        let Some(answers) = self.ask(&first, std::slice::from_ref(&kql)).await? else {
            return Ok(ExitStatus::Success);
        };
        let [table] = primaries(&answers)?;
        let lines = self.tail_lines(&table)?;
        if !args.follow {
            let report = TailReport {
                source: SourceInfo {
                    kind: "workspace".into(),
                    inputs: vec![self.settings.id.clone()],
                },
                lines,
                unparsed: Unparsed::default(),
            };
            return self.finish(&report, &answers.partial);
        }
        let format = self.ctx.settings.format;
        let _ = partial_status(self.printer, &self.settings.id, &answers.partial);
        let mut seen: std::collections::BTreeSet<(DateTime<Utc>, String)> = std::collections::BTreeSet::new();
        for line in &lines {
            super::tail::write_line(format, line)?;
            if let Some(record) = &line.record {
                seen.insert((record.time, line.line.clone()));
            }
        }
        self.printer.note(&format!(
            "following workspace `{}` every {}: rows reach Log Analytics 2–5 minutes after they are written; Ctrl-C ends",
            self.settings.id,
            crate::units::HumanDuration(interval)
        ));
        crate::interrupt::set_status_on_interrupt(ExitStatus::Success);
        let late = chrono::Duration::from_std(LATE_ROWS).unwrap_or(chrono::Duration::MAX);
        loop {
            tokio::time::sleep(interval).await;
            let now = Utc::now();
            let window = WindowSettings {
                from: now - late,
                until: now,
                bin_seconds: 3600,
            };
            let Some(answers) = self.ask(&window, std::slice::from_ref(&kql)).await? else {
                return Ok(ExitStatus::Success);
            };
            let _ = partial_status(self.printer, &self.settings.id, &answers.partial);
            let [table] = primaries(&answers)?;
            for line in self.tail_lines(&table)? {
                let Some(record) = &line.record else { continue };
                if seen.insert((record.time, line.line.clone())) {
                    super::tail::write_line(format, &line)?;
                }
            }
            // What is older than the look-back cannot come again.
            seen.retain(|(time, _)| *time >= window.from);
        }
    }

    fn tail_lines(&self, table: &ResultTable) -> anyhow::Result<Vec<TailLine>> {
        let time = table.require(&self.settings.schema.time_column)?;
        let line = table.require("line")?;
        Ok(table
            .rows
            .iter()
            .filter_map(|row| {
                let at = row[time].as_datetime()?;
                let text = row[line].to_text();
                Some(TailLine {
                    file: self.settings.id.clone(),
                    record: Some(Record {
                        time: at,
                        level: None,
                        message: Some(text.clone()),
                        user: None,
                        ip: None,
                        path: None,
                        status: None,
                        duration_ms: None,
                    }),
                    line: text,
                })
            })
            .collect())
    }
}

/// The first table of each answer, in order.
fn primaries<const N: usize>(answers: &Answers) -> anyhow::Result<[ResultTable; N]> {
    let tables: Vec<ResultTable> = answers.results.iter().map(QueryResult::primary).collect();
    tables
        .try_into()
        .map_err(|_| anyhow::anyhow!("Log Analytics gave fewer answers than campctl asked for"))
}

/// `column` of each row by its bin start (`time`).
fn counts_by_bin(
    table: &ResultTable,
    time: &str,
    column: &str,
) -> anyhow::Result<std::collections::HashMap<DateTime<Utc>, u64>> {
    let (time, column) = (table.require(time)?, table.require(column)?);
    Ok(table
        .rows
        .iter()
        .filter_map(|row| {
            Some((
                row[time].as_datetime()?,
                row[column].as_i64().unwrap_or(0).max(0) as u64,
            ))
        })
        .collect())
}

/// Every bin start of `window`, oldest first (aligned to the epoch, as KQL's `bin()`).
fn bin_starts(window: &Window) -> Vec<DateTime<Utc>> {
    let step = chrono::Duration::seconds(i64::try_from(window.bin_seconds.max(1)).unwrap_or(i64::MAX));
    let mut start = window.bin_start(window.from);
    let mut starts = Vec::new();
    while start < window.until {
        starts.push(start);
        start += step;
    }
    starts
}

/// Exit 3 with a warning naming Azure's error when any answer was partial, else 0.
fn partial_status(printer: &Printer, workspace: &str, partial: &[String]) -> ExitStatus {
    if partial.is_empty() {
        return ExitStatus::Success;
    }
    printer.partial(
        &format!(
            "Log Analytics returned partial results from workspace `{workspace}`: {}",
            partial.join("; ")
        ),
        "The rows shown are incomplete (a limit was hit, or part of the workspace did not answer): narrow the window \
         or the query, and run it again",
    )
}

/// `--show-kql`: each query and its timespan on stdout.
fn print_kql(requests: &[QueryRequest]) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    for (index, request) in requests.iter().enumerate() {
        if index > 0 {
            let _ = writeln!(out);
        }
        let _ = writeln!(out, "// timespan: {}\n{}", request.timespan(), request.query);
    }
}

/// `logs query`'s report: every table, columns in order with their types, values typed.
#[derive(Debug, Serialize)]
struct QueryReport {
    workspace: String,
    timespan: String,
    tables: Vec<QueryTable>,
}

#[derive(Debug, Serialize)]
struct QueryTable {
    name: String,
    columns: Vec<QueryColumn>,
    /// One array per row, in the order of `columns`.
    rows: Vec<Vec<serde_json::Value>>,
    #[serde(skip)]
    cells: Vec<Vec<Cell>>,
}

#[derive(Debug, Serialize)]
struct QueryColumn {
    name: String,
    #[serde(rename = "type")]
    kind: &'static str,
}

impl QueryTable {
    fn new(table: &ResultTable) -> Self {
        let cells = table
            .rows
            .iter()
            .map(|row| {
                row.iter()
                    .map(|cell| match cell {
                        loganalytics::Cell::Null => Cell::Null,
                        loganalytics::Cell::Long(value) => Cell::Int(*value),
                        loganalytics::Cell::Bool(value) => Cell::Bool(*value),
                        other => Cell::LongText(other.to_text()),
                    })
                    .collect()
            })
            .collect();
        Self {
            name: table.name.clone(),
            columns: table
                .columns
                .iter()
                .map(|column| QueryColumn {
                    name: column.name.clone(),
                    kind: column.kind.name(),
                })
                .collect(),
            rows: table
                .rows
                .iter()
                .map(|row| row.iter().map(loganalytics::Cell::to_json).collect())
                .collect(),
            cells,
        }
    }
}

impl Report for QueryReport {
    fn tables(&self) -> Vec<Table> {
        self.tables
            .iter()
            .map(|result| {
                // The printer's column names are `'static`; a query's are known only now. A handful of short names,
                // leaked once per run of a process that ends after printing.
                let columns: Vec<&'static str> = result
                    .columns
                    .iter()
                    .map(|column| &*Box::leak(column.name.clone().into_boxed_str()))
                    .collect();
                let mut table =
                    Table::new(format!("{} ({})", result.name, self.timespan), &columns).empty_message("(no rows)");
                for row in &result.cells {
                    table.row(row.clone());
                }
                table
            })
            .collect()
    }
}

async fn run_query(
    args: &QueryArgs,
    settings: &WorkspaceSettings,
    ctx: &Ctx,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let window = WindowSettings::resolve(&args.window, &ctx.settings.config.sections.logs, Utc::now())?;
    if args.kql.trim().is_empty() {
        return Err(UserError::usage("the KQL is empty")
            .with_hint("Give a query, e.g. `campctl logs query 'AppServiceHTTPLogs | take 10'`")
            .into());
    }
    let request = QueryRequest {
        query: args.kql.clone(),
        from: window.from,
        until: window.until,
        wait_secs: settings.wait_secs,
    };
    if args.show_kql {
        print_kql(std::slice::from_ref(&request));
        return Ok(ExitStatus::Success);
    }
    let client = AzureSettings::resolve(&ctx.settings.config)?.loganalytics_client()?;
    let result = loganalytics::query(&client, &settings.id, &request).await?;
    let report = QueryReport {
        workspace: settings.id.clone(),
        timespan: request.timespan(),
        tables: result.tables.iter().map(QueryTable::new).collect(),
    };
    printer.report(&report)?;
    Ok(partial_status(printer, &settings.id, result.partial.as_slice()))
}
