//! `error-rate` and `latency-p95` (runbook 5.1.2): the share of requests answered 5xx and the 95th percentile of
//! response times over the check's window, from the Log Analytics workspace of `[logs] workspace_id` (the HTTP table
//! of `[logs.workspace]`). A window without requests is UNKNOWN (nothing to judge), never OK; partial results are
//! judged and say so.

use anyhow::Context as _;
use chrono::Utc;

use super::check::{CheckResult, Unit};
use super::probe::Probe;
use crate::azure::loganalytics::{self, QueryRequest, QueryResult, kql};
use crate::exit::UserError;
use crate::units::HumanDuration;

const ERROR_RATE: &str = "error-rate";
const LATENCY_P95: &str = "latency-p95";

/// Runs `query` over the last `window`; `Err` is the UNKNOWN result.
async fn ask(
    probe: &Probe<'_>,
    check: &'static str,
    query: anyhow::Result<String>,
    window: std::time::Duration,
) -> Result<(QueryResult, String), CheckResult> {
    let settings = &probe.settings.logs;
    let run = async {
        let workspace = settings.workspace.as_ref().context("no `[logs] workspace_id`")?;
        let client = settings
            .client
            .as_ref()
            .context("the Log Analytics client was not set up")?;
        let until = Utc::now();
        let request = QueryRequest {
            query: query?,
            from: until - chrono::Duration::from_std(window).context("the window is too long for a date")?,
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
            Ok((result, note))
        }
        Err(err) => Err(CheckResult::unknown(check, None, UserError::one_line(&err))),
    }
}

/// `error-rate`.
pub(crate) async fn error_rate(probe: &Probe<'_>) -> anyhow::Result<Vec<CheckResult>> {
    let settings = &probe.settings.logs;
    let window = settings.error_rate_window;
    let query = settings
        .workspace
        .as_ref()
        .context("no `[logs] workspace_id`")
        .and_then(|workspace| kql::error_rate(&workspace.schema));
    let (result, note) = match ask(probe, ERROR_RATE, query, window).await {
        Ok(answer) => answer,
        Err(unknown) => return Ok(vec![unknown]),
    };
    let table = result.primary();
    let (requests, errors) = (table.require("requests")?, table.require("server_errors")?);
    let row = table.rows.first();
    let requests = row.and_then(|row| row[requests].as_i64()).unwrap_or(0);
    let errors = row.and_then(|row| row[errors].as_i64()).unwrap_or(0);
    if requests <= 0 {
        return Ok(vec![CheckResult::unknown(
            ERROR_RATE,
            None,
            format!("no requests in the last {}{note}", HumanDuration(window)),
        )]);
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
    let query = settings
        .workspace
        .as_ref()
        .context("no `[logs] workspace_id`")
        .and_then(|workspace| kql::latency_p95(&workspace.schema));
    let (result, note) = match ask(probe, LATENCY_P95, query, window).await {
        Ok(answer) => answer,
        Err(unknown) => return Ok(vec![unknown]),
    };
    let table = result.primary();
    let (count, p95) = (table.require("count")?, table.require("p95")?);
    let row = table.rows.first();
    let count = row.and_then(|row| row[count].as_i64()).unwrap_or(0);
    let p95 = row.and_then(|row| row[p95].as_f64()).filter(|value| value.is_finite());
    let Some(p95) = p95.filter(|_| count > 0) else {
        return Ok(vec![CheckResult::unknown(
            LATENCY_P95,
            None,
            format!(
                "no requests with a response time in the last {}{note}",
                HumanDuration(window)
            ),
        )]);
    };
    Ok(vec![CheckResult::measured(
        LATENCY_P95,
        None,
        p95 / 1000.0,
        Unit::Seconds,
        settings.latency_p95,
        format!(
            "P95 of {count} requests in the last {} (`percentile()`, an estimate){note}",
            HumanDuration(window)
        ),
    )])
}
