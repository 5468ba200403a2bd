//! `error-rate` and `latency-p95` (runbook 5.1.2): the share of requests answered 5xx and the 95th percentile of
//! response times over the check's window, from the source `campctl logs` reads without flags: the application's
//! JSON log files of `[logs] files` (read as `campctl logs` reads them, `crate::logs`), else the Log Analytics
//! workspace of `[logs] workspace_id` (the HTTP table of `[logs.workspace]`). The files are read once for both
//! checks (`log_files.rs`). A window without requests is UNKNOWN (nothing to judge), never OK; partial results and
//! unreadable lines are judged and said.

use std::time::Duration;

use anyhow::Context as _;

use super::check::{CheckResult, Unit};
use super::log_files::window_from_now;
use super::probe::Probe;
use crate::azure::loganalytics::kql::{self, Schema};
use crate::azure::loganalytics::{self, Cell, QueryRequest, Table};
use crate::exit::UserError;
use crate::units::HumanDuration;

const ERROR_RATE: &str = "error-rate";
const LATENCY_P95: &str = "latency-p95";

/// Runs the KQL `build` makes of the workspace's schema over the last `window`: the first table's first row, and a
/// note on partial results; `Err` is the UNKNOWN result.
async fn ask(
    probe: &Probe<'_>,
    check: &'static str,
    build: fn(&Schema) -> anyhow::Result<String>,
    window: Duration,
) -> Result<(FirstRow, String), CheckResult> {
    let settings = &probe.settings.logs;
    let run = async {
        let workspace = settings.workspace.as_ref().context("no `[logs] workspace_id`")?;
        let client = settings
            .client
            .as_ref()
            .context("the Log Analytics client was not set up")?;
        let (from, until) = window_from_now(window)?;
        let request = QueryRequest {
            query: build(&workspace.schema)?,
            from,
            until,
            wait_secs: workspace.wait_secs,
        };
        loganalytics::query(client, &workspace.id, &request).await
    };
    match run.await {
        Ok(result) => {
            let note = result
                .partial
                .as_ref()
                .map(|partial| format!(" (partial results: {partial})"))
                .unwrap_or_default();
            Ok((FirstRow(result.primary()), note))
        }
        Err(err) => Err(CheckResult::unknown(check, None, UserError::one_line(&err))),
    }
}

/// The first row of a query's primary table, read by column name.
struct FirstRow(Table);

impl FirstRow {
    /// The value of `column` (which the table must have); `None` without rows or for a null.
    fn get(&self, column: &str) -> anyhow::Result<Option<&Cell>> {
        let index = self.0.require(column)?;
        Ok(self.0.rows.first().and_then(|row| row.get(index)))
    }

    /// A count column; 0 without rows.
    fn count(&self, column: &str) -> anyhow::Result<u64> {
        Ok(self
            .get(column)?
            .and_then(Cell::as_i64)
            .map_or(0, |value| u64::try_from(value).unwrap_or(0)))
    }
}

fn no_requests(check: &'static str, what: &str, window: Duration, note: &str) -> CheckResult {
    CheckResult::unknown(
        check,
        None,
        format!("no requests{what} in the last {}{note}", HumanDuration(window)),
    )
}

/// `error-rate`.
pub(crate) async fn error_rate(probe: &Probe<'_>) -> anyhow::Result<Vec<CheckResult>> {
    let settings = &probe.settings.logs;
    let window = settings.error_rate_window;
    let (requests, errors, note) = if settings.files.is_some() {
        match probe.requests.get(settings).await {
            Ok((summary, note)) => (summary.requests, summary.server_errors, note.clone()),
            Err(err) => return Ok(vec![CheckResult::unknown(ERROR_RATE, None, err.clone())]),
        }
    } else {
        match ask(probe, ERROR_RATE, kql::error_rate, window).await {
            Ok((row, note)) => (row.count("requests")?, row.count("server_errors")?, note),
            Err(unknown) => return Ok(vec![unknown]),
        }
    };
    if requests == 0 {
        return Ok(vec![no_requests(ERROR_RATE, "", window, &note)]);
    }
    let rate = errors as f64 * 100.0 / requests as f64;
    Ok(vec![CheckResult::measured(
        ERROR_RATE,
        None,
        rate,
        Unit::Percent,
        settings.error_rate,
        format!(
            "{errors} of {requests} requests answered 5xx in the last {}{note}",
            HumanDuration(window)
        ),
    )])
}

/// `latency-p95`.
pub(crate) async fn latency_p95(probe: &Probe<'_>) -> anyhow::Result<Vec<CheckResult>> {
    let settings = &probe.settings.logs;
    let window = settings.latency_p95_window;
    let (count, p95, how, note) = if settings.files.is_some() {
        match probe.requests.get(settings).await {
            Ok((summary, note)) => {
                let latency = summary.latency;
                let how = if latency.exact {
                    "exact, from the log files"
                } else {
                    "estimated within 1 %, from the log files"
                };
                (latency.count, Some(latency.p95), how, note.clone())
            }
            Err(err) => return Ok(vec![CheckResult::unknown(LATENCY_P95, None, err.clone())]),
        }
    } else {
        match ask(probe, LATENCY_P95, kql::latency_p95, window).await {
            Ok((row, note)) => (
                row.count("count")?,
                row.get("p95")?.and_then(Cell::as_f64),
                "`percentile()`, an estimate",
                note,
            ),
            Err(unknown) => return Ok(vec![unknown]),
        }
    };
    let Some(p95) = p95.filter(|value| value.is_finite() && count > 0) else {
        return Ok(vec![no_requests(LATENCY_P95, " with a response time", window, &note)]);
    };
    Ok(vec![CheckResult::measured(
        LATENCY_P95,
        None,
        p95 / 1000.0,
        Unit::Seconds,
        settings.latency_p95,
        format!(
            "P95 of {count} requests in the last {} ({how}){note}",
            HumanDuration(window)
        ),
    )])
}
