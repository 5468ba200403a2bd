//! The Azure checks (runbook 5.1, 5.2.2 and 6.3.2's `az webapp show --query state`):
//!
//! - `azure-metrics`: Azure Monitor metrics of `[azure] postgres_server` (`cpu_percent`, `memory_percent`,
//!   `storage_percent`, `active_connections`) and `app_service_plan` (`CpuPercentage`, `MemoryPercentage`), one
//!   request per resource, each metric's points averaged over `[health.azure_metrics] window` (ending at the last
//!   complete minute) and judged against its thresholds; one result per metric, named `RESOURCE/METRIC`. A metric
//!   without a data point in the window is UNKNOWN, never OK.
//! - `app-service`: the web app of `[azure] app_service`: `state` (`Running` OK, `Stopped` CRITICAL, anything else
//!   WARNING) and `availabilityState` (`Normal` OK, `Limited` WARNING, `DisasterRecoveryMode` CRITICAL).
//!
//! A request Azure refuses (401/403) makes the resource's results UNKNOWN with the RBAC role the read needs, as any
//! check that cannot tell.

use anyhow::Context as _;
use chrono::{DateTime, Utc};

use super::check::{CheckResult, Level, Unit};
use super::probe::Probe;
use super::settings::azure::{AzureHealthSettings, MetricSettings};
use crate::azure::arm::ResourceId;
use crate::azure::arm::metrics::{Metric, Metrics, MetricsQuery, MetricsResponse};
use crate::azure::arm::web::get_site;
use crate::azure::rest::RestClient;
use crate::exit::UserError;
use crate::units::HumanDuration;

const METRICS: &str = "azure-metrics";
const APP_SERVICE: &str = "app-service";

fn client(settings: &AzureHealthSettings) -> anyhow::Result<&RestClient> {
    settings
        .client
        .as_ref()
        .context("the Azure client was not set up (`[azure]` is not resolved)")
}

/// `azure-metrics`: the server's and the plan's metrics at once.
pub(crate) async fn azure_metrics(probe: &Probe<'_>) -> anyhow::Result<Vec<CheckResult>> {
    let settings = &probe.settings.azure;
    let client = client(settings)?;
    let end = last_complete_minute(Utc::now());
    let start =
        end - chrono::Duration::from_std(settings.window).context("the metrics window is too long for a date")?;
    let server = async {
        match &settings.server {
            Some(id) => resource(client, id, &settings.server_metrics, settings, start, end).await,
            None => Vec::new(),
        }
    };
    let plan = async {
        match &settings.plan {
            Some(id) => resource(client, id, &settings.plan_metrics, settings, start, end).await,
            None => Vec::new(),
        }
    };
    let (mut results, plan) = futures::future::join(server, plan).await;
    results.extend(plan);
    Ok(results)
}

/// `now` rounded down to the minute: the minute under way has no complete point yet.
fn last_complete_minute(now: DateTime<Utc>) -> DateTime<Utc> {
    let seconds = now.timestamp();
    DateTime::from_timestamp(seconds - seconds.rem_euclid(60), 0).unwrap_or(now)
}

/// One request for `metrics` of `id`, one result per metric.
async fn resource(
    client: &RestClient,
    id: &ResourceId,
    metrics: &[MetricSettings],
    settings: &AzureHealthSettings,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<CheckResult> {
    let query = MetricsQuery {
        names: metrics.iter().map(|metric| metric.name.clone()).collect(),
        start,
        end,
        interval: settings.interval,
    };
    let response = match (Metrics { client, id }).average(&query).await {
        Ok(response) => response,
        Err(err) => {
            return vec![CheckResult::unknown(
                METRICS,
                Some(id.name.clone()),
                UserError::one_line(&err),
            )];
        }
    };
    metrics
        .iter()
        .map(|metric| judge(id, metric, &response, settings))
        .collect()
}

/// The result of one metric of `response`.
fn judge(
    id: &ResourceId,
    metric: &MetricSettings,
    response: &MetricsResponse,
    settings: &AzureHealthSettings,
) -> CheckResult {
    let target = Some(format!("{}/{}", id.name, metric.name));
    let window = HumanDuration(settings.window);
    let Some(found) = response
        .value
        .iter()
        .find(|found| found.name.value.eq_ignore_ascii_case(&metric.name))
    else {
        return CheckResult::unknown(
            METRICS,
            target,
            format!("Azure Monitor returned no metric `{}` for `{}`", metric.name, id.name),
        );
    };
    if let Some(code) = found
        .error_code
        .as_deref()
        .filter(|code| !code.eq_ignore_ascii_case("Success"))
    {
        return CheckResult::unknown(
            METRICS,
            target,
            format!(
                "Azure Monitor reported `{code}` for `{}`: {}",
                metric.name,
                found.error_message.as_deref().unwrap_or("no message")
            ),
        );
    }
    let Some((average, points)) = found.mean_of_averages() else {
        return CheckResult::unknown(
            METRICS,
            target,
            format!(
                "no data points for `{}` of `{}` in the last {window}: Azure Monitor has no values in the window \
                 (is the resource running, and does it emit this metric?)",
                metric.name, id.name
            ),
        );
    };
    let (value, unit) = unit_of(found, average);
    let message = format!(
        "average of {points} point(s) over the last {window} (Azure Monitor, {} grain)",
        HumanDuration(settings.interval)
    );
    match metric.thresholds {
        Some(thresholds) => CheckResult::measured(METRICS, target, value, unit, thresholds, message),
        None => CheckResult::state(
            METRICS,
            target,
            Level::Ok,
            format!("{message}; no thresholds, reported only"),
        )
        .with_value(value, unit),
    }
}

/// The value in the unit health shows (milliseconds as seconds).
fn unit_of(metric: &Metric, value: f64) -> (f64, Unit) {
    match metric.unit.to_ascii_lowercase().as_str() {
        "percent" => (value, Unit::Percent),
        "bytes" => (value, Unit::Bytes),
        "seconds" => (value, Unit::Seconds),
        "milliseconds" => (value / 1000.0, Unit::Seconds),
        "count" => (value, Unit::Count),
        _ => (value, Unit::Ratio),
    }
}

/// `app-service`: the web app's state and availability.
pub(crate) async fn app_service(probe: &Probe<'_>) -> anyhow::Result<Vec<CheckResult>> {
    let settings = &probe.settings.azure;
    let client = client(settings)?;
    let id = settings
        .site
        .as_ref()
        .context("`[azure] app_service` is not resolved")?;
    let site = match get_site(client, id).await {
        Ok(site) => site,
        Err(err) => {
            return Ok(vec![CheckResult::unknown(
                APP_SERVICE,
                Some(id.name.clone()),
                UserError::one_line(&err),
            )]);
        }
    };
    let target = |what: &str| Some(format!("{}/{what}", id.name));
    let state = match site.properties.state.as_deref() {
        None => CheckResult::unknown(APP_SERVICE, target("state"), "Azure gave no `state` for the web app"),
        Some(state) => {
            let (level, meaning) = if state.eq_ignore_ascii_case("Running") {
                (Level::Ok, "serving")
            } else if state.eq_ignore_ascii_case("Stopped") {
                (
                    Level::Critical,
                    "not serving: start it (`az webapp start`) or find who stopped it",
                )
            } else {
                (Level::Warning, "neither Running nor Stopped")
            };
            CheckResult::state(
                APP_SERVICE,
                target("state"),
                level,
                format!("state `{state}`: {meaning}"),
            )
        }
    };
    let availability = match site.properties.availability_state.as_deref() {
        None => CheckResult::unknown(
            APP_SERVICE,
            target("availability"),
            "Azure gave no `availabilityState` for the web app",
        ),
        Some(availability) => {
            let (level, meaning) = if availability.eq_ignore_ascii_case("Normal") {
                (Level::Ok, "normal")
            } else if availability.eq_ignore_ascii_case("Limited") {
                (
                    Level::Warning,
                    "limited: part of the app's infrastructure is unavailable",
                )
            } else if availability.eq_ignore_ascii_case("DisasterRecoveryMode") {
                (Level::Critical, "the app runs in disaster recovery mode")
            } else {
                (Level::Warning, "an availability state campctl does not know")
            };
            CheckResult::state(
                APP_SERVICE,
                target("availability"),
                level,
                format!("availabilityState `{availability}`: {meaning}"),
            )
        }
    };
    Ok(vec![state, availability])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_ends_at_the_last_complete_minute() {
        let now = DateTime::parse_from_rfc3339("2026-12-05T04:15:42Z")
            .expect("a date")
            .with_timezone(&Utc);
        assert_eq!(last_complete_minute(now).to_rfc3339(), "2026-12-05T04:15:00+00:00");
    }
}
