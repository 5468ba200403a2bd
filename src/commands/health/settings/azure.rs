//! `[health.azure_metrics]` and `[health.app_service]` resolved with `[azure]`: which metrics of which resource,
//! over which window, judged against which thresholds (runbook 5.1 unless configured), and the client that reads
//! them.
//!
//! The table is validated whenever health runs (exit 2 naming the key); `[azure]` itself (cloud, credential,
//! resource ids) only when an Azure check is selected ([`AzureHealthSettings::prepare`]), so that a plain
//! `campctl health` on a host without Azure never reads it.

use std::collections::BTreeMap;
use std::time::Duration;

use super::super::check::Thresholds;
use super::super::limits::{CheckName, own_timeout, positive, thresholds};
use crate::azure::arm::ResourceId;
use crate::azure::rest::RestClient;
use crate::commands::Ctx;
use crate::config_file::{HealthConfig, MetricThresholdConfig};
use crate::exit::UserError;
use crate::settings::azure::AzureSettings;

/// Runbook 5.1 (and 5.2.2's Azure alerts, which fire at the critical values).
mod defaults {
    use super::Thresholds;

    pub(super) const WINDOW_SECS: u64 = 15 * 60;
    pub(super) const INTERVAL_SECS: u64 = 60;
    pub(super) const SERVER_METRICS: &[&str] =
        &["cpu_percent", "memory_percent", "storage_percent", "active_connections"];
    pub(super) const PLAN_METRICS: &[&str] = &["CpuPercentage", "MemoryPercentage"];

    /// The default thresholds by metric name (compared without case, as Azure names them).
    pub(super) fn thresholds(metric: &str) -> Option<Thresholds> {
        Some(match metric.to_ascii_lowercase().as_str() {
            // 5.1.1 CPU.
            "cpu_percent" | "cpupercentage" => Thresholds::above(70.0, 90.0),
            // 5.1.1 memory; 5.1.3 connections (80 / 95 connections).
            "memory_percent" | "memorypercentage" | "active_connections" => Thresholds::above(80.0, 95.0),
            // 5.1.1 disk.
            "storage_percent" => Thresholds::above(80.0, 90.0),
            _ => return None,
        })
    }
}

/// One metric to read and how to judge it (`None`: reported without thresholds).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MetricSettings {
    pub name: String,
    pub thresholds: Option<Thresholds>,
}

/// What the Azure checks need; see the module docs.
#[derive(Debug, Clone)]
pub(crate) struct AzureHealthSettings {
    pub window: Duration,
    pub interval: Duration,
    pub server_metrics: Vec<MetricSettings>,
    pub plan_metrics: Vec<MetricSettings>,
    /// Whether `[azure]` names each resource (decides whether the check is configured).
    names_server: bool,
    names_plan: bool,
    names_site: bool,
    /// Filled by [`Self::prepare`] when an Azure check runs.
    pub client: Option<RestClient>,
    pub server: Option<ResourceId>,
    pub plan: Option<ResourceId>,
    pub site: Option<ResourceId>,
}

impl AzureHealthSettings {
    /// `[health.azure_metrics]` and `[health.app_service]`; their timeouts go into `timeouts`.
    ///
    /// # Errors
    /// A usage error (exit 2) naming the table: a zero window, an interval that is not whole minutes or longer
    /// than the window, an empty metric list or name, thresholds out of order.
    pub(crate) fn resolve(
        file: &HealthConfig,
        ctx: &Ctx,
        where_: &dyn Fn(&str) -> String,
        timeouts: &mut Vec<(CheckName, Duration)>,
    ) -> anyhow::Result<Self> {
        let table = file.azure_metrics.clone().unwrap_or_default();
        let origin = || where_(".azure_metrics");
        let window = positive(table.window, defaults::WINDOW_SECS * 1000, || {
            format!("`window` of {}", origin())
        })?;
        let interval = positive(table.interval, defaults::INTERVAL_SECS * 1000, || {
            format!("`interval` of {}", origin())
        })?;
        if interval.as_secs() % 60 != 0 || interval.subsec_nanos() != 0 {
            return Err(UserError::usage(format!(
                "`interval` of {} is `{}`; Azure Monitor takes whole minutes",
                origin(),
                crate::units::HumanDuration(interval)
            ))
            .with_hint("Give `1m`, `5m`, `15m`, `30m`, `1h`, … (the grains the metric supports)")
            .into());
        }
        if interval > window {
            return Err(UserError::usage(format!(
                "`interval` of {} ({}) is longer than its `window` ({})",
                origin(),
                crate::units::HumanDuration(interval),
                crate::units::HumanDuration(window)
            ))
            .with_hint("The window holds whole intervals: make the window at least one interval long")
            .into());
        }
        let configured = table.thresholds.clone().unwrap_or_default();
        let metrics =
            |key: &str, given: Option<&Vec<String>>, default: &[&str]| -> anyhow::Result<Vec<MetricSettings>> {
                let names: Vec<String> = match given {
                    Some(names) => names.iter().map(|name| name.trim().to_string()).collect(),
                    None => default.iter().map(|name| (*name).to_string()).collect(),
                };
                if names.is_empty() || names.iter().any(|name| name.is_empty() || name.contains(',')) {
                    return Err(UserError::usage(format!(
                        "`{key}` of {} must list metric names (none empty, no commas)",
                        origin()
                    ))
                    .with_hint(format!("The default is [{}]", default.join(", ")))
                    .into());
                }
                names
                    .into_iter()
                    .map(|name| {
                        let thresholds = metric_thresholds(&name, &configured, &origin)?;
                        Ok(MetricSettings { name, thresholds })
                    })
                    .collect()
            };
        let server_metrics = metrics(
            "server_metrics",
            table.server_metrics.as_ref(),
            defaults::SERVER_METRICS,
        )?;
        let plan_metrics = metrics("plan_metrics", table.plan_metrics.as_ref(), defaults::PLAN_METRICS)?;
        let listed: Vec<&str> = server_metrics
            .iter()
            .chain(&plan_metrics)
            .map(|metric| metric.name.as_str())
            .collect();
        if let Some(stray) = configured
            .keys()
            .find(|name| !listed.iter().any(|listed| listed.eq_ignore_ascii_case(name)))
        {
            return Err(UserError::usage(format!(
                "`thresholds.{stray}` of {} names a metric that is not read",
                origin()
            ))
            .with_hint(format!(
                "Read metrics: {}; add it to `server_metrics` or `plan_metrics`, or fix the name",
                listed.join(", ")
            ))
            .into());
        }
        own_timeout(timeouts, CheckName::AzureMetrics, table.timeout, where_)?;
        let app_service_timeout = file.app_service.as_ref().and_then(|table| table.timeout);
        own_timeout(timeouts, CheckName::AppService, app_service_timeout, where_)?;
        let azure = &ctx.settings.config.sections.azure;
        let named = |value: &Option<String>| value.as_deref().is_some_and(|value| !value.trim().is_empty());
        Ok(Self {
            window,
            interval,
            server_metrics,
            plan_metrics,
            names_server: named(&azure.postgres_server),
            names_plan: named(&azure.app_service_plan),
            names_site: named(&azure.app_service),
            client: None,
            server: None,
            plan: None,
            site: None,
        })
    }

    /// What `check` needs in `[azure]` that is not there, if anything.
    pub(crate) fn missing(&self, check: CheckName) -> Option<&'static str> {
        match check {
            CheckName::AzureMetrics => (!self.names_server && !self.names_plan).then_some(
                "`[azure] postgres_server` and/or `app_service_plan` (with `subscription_id` and `resource_group`)",
            ),
            CheckName::AppService => {
                (!self.names_site).then_some("`[azure] app_service` (with `subscription_id` and `resource_group`)")
            }
            _ => None,
        }
    }

    /// Resolves `[azure]`, the resources and the client when `checks` has an Azure check.
    ///
    /// # Errors
    /// `[azure]`'s own usage errors (exit 2), named with the check that needs it.
    pub(crate) fn prepare(&mut self, checks: &[CheckName], ctx: &Ctx) -> anyhow::Result<()> {
        let metrics = checks.contains(&CheckName::AzureMetrics);
        let site = checks.contains(&CheckName::AppService);
        if !metrics && !site {
            return Ok(());
        }
        let checks = match (metrics, site) {
            (true, true) => "`azure-metrics` and `app-service`",
            (true, false) => "`azure-metrics`",
            _ => "`app-service`",
        };
        self.resolve_azure(metrics, site, ctx)
            .map_err(|err| match err.downcast::<UserError>() {
                Ok(err) => {
                    let hint = err.hint.clone().unwrap_or_default();
                    UserError::new(err.status, format!("{checks} cannot use `[azure]`: {}", err.message))
                        .with_hint(format!(
                            "{hint}{}Or leave the Azure checks out: `--skip azure-metrics,app-service`",
                            if hint.is_empty() { "" } else { ". " }
                        ))
                        .into()
                }
                Err(err) => err,
            })
    }

    fn resolve_azure(&mut self, metrics: bool, site: bool, ctx: &Ctx) -> anyhow::Result<()> {
        let azure = AzureSettings::resolve(&ctx.settings.config)?;
        if metrics {
            if self.names_server {
                self.server = Some(azure.postgres_server()?);
            }
            if self.names_plan {
                self.plan = Some(azure.app_service_plan()?);
            }
        }
        if site {
            self.site = Some(azure.app_service()?);
        }
        self.client = Some(azure.management_client()?);
        Ok(())
    }
}

/// The thresholds of `metric`: `[health.azure_metrics.thresholds.NAME]` over the default, if either has any.
fn metric_thresholds(
    metric: &str,
    configured: &BTreeMap<String, MetricThresholdConfig>,
    origin: &dyn Fn() -> String,
) -> anyhow::Result<Option<Thresholds>> {
    let given = configured
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(metric))
        .map(|(_, value)| value);
    let default = defaults::thresholds(metric);
    let where_ = || format!("`thresholds.{metric}` of {}", origin());
    match (given, default) {
        (None, default) => Ok(default),
        (Some(given), Some(default)) => thresholds(given.warning, given.critical, default, where_).map(Some),
        (
            Some(MetricThresholdConfig {
                warning: Some(warning),
                critical: Some(critical),
            }),
            None,
        ) => thresholds(None, None, Thresholds::above(*warning, *critical), where_).map(Some),
        (Some(_), None) => Err(UserError::usage(format!(
            "{} sets one threshold of a metric that has no default",
            where_()
        ))
        .with_hint("Give both `warning` and `critical`")
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_merges_metric_thresholds_by_name_and_field() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("campctl.toml");
        fs_err::write(
            &path,
            "[health.azure_metrics.thresholds.cpu_percent]\nwarning = 50\ncritical = 60\n\
             [health.azure_metrics.thresholds.storage_percent]\nwarning = 70\n\
             [profiles.prod.health.azure_metrics.thresholds.cpu_percent]\ncritical = 85\n",
        )
        .expect("write config");
        let loaded = crate::config_file::load(Some(&path), &[], Some("prod")).expect("a valid file");
        let table = loaded.sections.health.azure_metrics.expect("the table");
        let thresholds = table.thresholds.expect("thresholds");
        let cpu = &thresholds["cpu_percent"];
        assert_eq!((cpu.warning, cpu.critical), (Some(50.0), Some(85.0)));
        assert_eq!(thresholds["storage_percent"].warning, Some(70.0));
        let origin = || "`[health.azure_metrics]`".to_string();
        assert_eq!(
            metric_thresholds("CPU_PERCENT", &thresholds, &origin).expect("ordered"),
            Some(Thresholds::above(50.0, 85.0)),
            "names compare without case"
        );
        assert_eq!(
            metric_thresholds("storage_percent", &thresholds, &origin).expect("ordered"),
            Some(Thresholds::above(70.0, 90.0)),
            "an unset field keeps the default"
        );
        assert_eq!(metric_thresholds("iops", &thresholds, &origin).expect("none"), None);
    }
}
