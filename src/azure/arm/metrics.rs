//! Azure Monitor metrics of any resource (`{resourceId}/providers/Microsoft.Insights/metrics`, api-version
//! [`api_version::MONITOR_METRICS`]): one GET for several metrics (`metricnames` comma-separated) over a timespan,
//! one aggregation per point. campctl asks for `Average` only.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::ResourceId;
use crate::azure::rest::error::Operation;
use crate::azure::rest::{RestClient, api_version};

/// The RBAC a read of metrics needs.
pub const READ_ROLE: &str = "`Monitoring Reader` (or any role with `Microsoft.Insights/metrics/read`) on the \
                             resource or its resource group";

/// What to ask for: metric names, the timespan `[start, end)` and the grain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsQuery {
    pub names: Vec<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub interval: Duration,
}

impl MetricsQuery {
    /// `START/END` in ISO 8601, as `timespan` takes it.
    pub fn timespan(&self) -> String {
        format!(
            "{}/{}",
            self.start.to_rfc3339_opts(SecondsFormat::Secs, true),
            self.end.to_rfc3339_opts(SecondsFormat::Secs, true)
        )
    }
}

/// An ISO 8601 duration (`PT1M`, `PT1H`, `P1D`) of whole minutes, as `interval` takes it.
pub fn iso_duration(duration: Duration) -> String {
    let minutes = (duration.as_secs() / 60).max(1);
    if minutes.is_multiple_of(24 * 60) {
        format!("P{}D", minutes / (24 * 60))
    } else if minutes.is_multiple_of(60) {
        format!("PT{}H", minutes / 60)
    } else {
        format!("PT{minutes}M")
    }
}

/// The response (`Response`): one entry per metric asked for.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct MetricsResponse {
    pub timespan: Option<String>,
    pub interval: Option<String>,
    pub value: Vec<Metric>,
}

/// One metric (`Metric`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct Metric {
    pub name: LocalizableString,
    /// `Percent`, `Count`, `Bytes`, `Seconds`, `CountPerSecond`, …
    pub unit: String,
    /// `Success`, or why there is no data.
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub timeseries: Vec<TimeSeries>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct LocalizableString {
    pub value: String,
    pub localized_value: Option<String>,
}

/// One series (one per dimension value; one in all without a `$filter`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct TimeSeries {
    pub data: Vec<MetricValue>,
}

/// One point; a point without data has only its `timeStamp`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct MetricValue {
    pub time_stamp: String,
    pub average: Option<f64>,
}

impl Metric {
    /// The mean of the points' averages and how many points had one (`None` for no data at all).
    pub fn mean_of_averages(&self) -> Option<(f64, usize)> {
        let values: Vec<f64> = self
            .timeseries
            .iter()
            .flat_map(|series| &series.data)
            .filter_map(|point| point.average)
            .filter(|value| value.is_finite())
            .collect();
        if values.is_empty() {
            return None;
        }
        #[expect(clippy::cast_precision_loss, reason = "a window has far fewer than 2^52 points")]
        let count = values.len() as f64;
        Some((values.iter().sum::<f64>() / count, values.len()))
    }
}

/// The metrics of one resource.
pub struct Metrics<'a> {
    pub client: &'a RestClient,
    pub id: &'a ResourceId,
}

impl Metrics<'_> {
    /// The operation "read the metrics of …", for errors.
    pub fn operation(&self) -> Operation {
        Operation::new(
            format!("read the metrics of `{}`", self.id.name),
            format!(
                "`{}` ({}, resource group `{}`, subscription `{}`)",
                self.id.name, self.id.resource_type, self.id.resource_group, self.id.subscription_id
            ),
            READ_ROLE,
        )
    }

    /// GET the `Average` of `query`'s metrics: one request for all of them.
    ///
    /// # Errors
    /// See [`RestClient::send`].
    pub async fn average(&self, query: &MetricsQuery) -> anyhow::Result<MetricsResponse> {
        let mut url = self.client.url(
            &format!("{}/providers/Microsoft.Insights/metrics", self.id),
            api_version::MONITOR_METRICS,
        )?;
        url.query_pairs_mut()
            .append_pair("metricnames", &query.names.join(","))
            .append_pair("timespan", &query.timespan())
            .append_pair("interval", &iso_duration(query.interval))
            .append_pair("aggregation", "Average");
        self.client.get(url, &self.operation()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_and_timespans_are_iso_8601() {
        assert_eq!(iso_duration(Duration::from_secs(60)), "PT1M");
        assert_eq!(iso_duration(Duration::from_secs(300)), "PT5M");
        assert_eq!(iso_duration(Duration::from_secs(3600)), "PT1H");
        assert_eq!(iso_duration(Duration::from_secs(86400)), "P1D");
        let end = DateTime::parse_from_rfc3339("2026-12-05T04:15:00Z")
            .expect("a date")
            .with_timezone(&Utc);
        let query = MetricsQuery {
            names: vec!["cpu_percent".into()],
            start: end - chrono::Duration::minutes(15),
            end,
            interval: Duration::from_secs(60),
        };
        assert_eq!(query.timespan(), "2026-12-05T04:00:00Z/2026-12-05T04:15:00Z");
    }

    #[test]
    fn the_mean_skips_points_without_data() {
        let metric: Metric = serde_json::from_value(serde_json::json!({
            "name": { "value": "cpu_percent" }, "unit": "Percent",
            "timeseries": [ { "data": [ { "timeStamp": "t1", "average": 10.0 }, { "timeStamp": "t2" },
                                        { "timeStamp": "t3", "average": 20.0 } ] } ]
        }))
        .expect("a metric");
        assert_eq!(metric.mean_of_averages(), Some((15.0, 2)));
        let empty: Metric = serde_json::from_value(serde_json::json!({
            "name": { "value": "cpu_percent" }, "unit": "Percent", "timeseries": [ { "data": [ { "timeStamp": "t1" } ] } ]
        }))
        .expect("a metric");
        assert_eq!(empty.mean_of_averages(), None);
    }
}
