//! `[health.error_rate]` and `[health.latency_p95]` (runbook 5.1.2) with the logs source they read: thresholds,
//! windows, and the source `campctl logs` reads without flags: the files of `[logs] files` when set, else the Log
//! Analytics workspace of `[logs] workspace_id` (its client is made only when one of the two checks runs,
//! [`LogsHealthSettings::prepare`]).

use std::time::Duration;

use super::super::check::Thresholds;
use super::super::limits::{CheckName, duration_seconds, own_timeout, positive, thresholds};
use crate::azure::rest::RestClient;
use crate::commands::Ctx;
use crate::config_file::HealthConfig;
use crate::logs::fields::{DEFAULT_AUTH_MATCH, LogsSettings};
use crate::settings::azure::AzureSettings;
use crate::settings::logs_workspace::LogsWorkspace;

/// Runbook 5.1.2.
mod defaults {
    use super::Thresholds;

    /// Error rate in % of requests.
    pub(super) const ERROR_RATE: Thresholds = Thresholds::above(1.0, 5.0);
    /// P95 in seconds.
    pub(super) const LATENCY_P95: Thresholds = Thresholds::above(1.0, 3.0);
    pub(super) const WINDOW_SECS: u64 = 15 * 60;
}

/// What the two checks need; see the module docs.
#[derive(Debug, Clone)]
pub(crate) struct LogsHealthSettings {
    /// `[logs] files`, resolved; when set, the workspace is not asked.
    pub files: Option<LogsSettings>,
    pub workspace: Option<LogsWorkspace>,
    pub error_rate: Thresholds,
    pub error_rate_window: Duration,
    pub latency_p95: Thresholds,
    pub latency_p95_window: Duration,
    /// Filled by [`Self::prepare`].
    pub client: Option<RestClient>,
}

impl LogsHealthSettings {
    /// The two tables and `[logs]`; their timeouts go into `timeouts`.
    ///
    /// # Errors
    /// A usage error (exit 2) naming the table or key: thresholds out of order, a zero window, a bad `[logs.fields]`
    /// value, a bad `[logs] workspace_id` or `[logs.workspace]` name.
    pub(crate) fn resolve(
        file: &HealthConfig,
        ctx: &Ctx,
        where_: &dyn Fn(&str) -> String,
        timeouts: &mut Vec<(CheckName, Duration)>,
    ) -> anyhow::Result<Self> {
        let rate = file.error_rate.clone().unwrap_or_default();
        let latency = file.latency_p95.clone().unwrap_or_default();
        let error_rate = thresholds(rate.warning, rate.critical, defaults::ERROR_RATE, || {
            where_(".error_rate")
        })?;
        let latency_p95 = thresholds(
            duration_seconds(latency.warning),
            duration_seconds(latency.critical),
            defaults::LATENCY_P95,
            || where_(".latency_p95"),
        )?;
        let error_rate_window = positive(rate.window, defaults::WINDOW_SECS * 1000, || {
            format!("`window` of {}", where_(".error_rate"))
        })?;
        let latency_p95_window = positive(latency.window, defaults::WINDOW_SECS * 1000, || {
            format!("`window` of {}", where_(".latency_p95"))
        })?;
        own_timeout(timeouts, CheckName::ErrorRate, rate.timeout, where_)?;
        own_timeout(timeouts, CheckName::LatencyP95, latency.timeout, where_)?;
        // The source `campctl logs` reads without `--file` or `--workspace`: `[logs] files`, else the workspace.
        let logs = &ctx.settings.config.sections.logs;
        let files = match &logs.files {
            Some(files) if !files.is_empty() => Some(LogsSettings::resolve(&[], logs)?),
            _ => None,
        };
        let workspace = LogsWorkspace::resolve(None, false, logs, DEFAULT_AUTH_MATCH)?;
        Ok(Self {
            files,
            workspace,
            error_rate,
            error_rate_window,
            latency_p95,
            latency_p95_window,
            client: None,
        })
    }

    /// What `check` needs configured that is not.
    pub(crate) fn missing(&self, check: CheckName) -> Option<&'static str> {
        match check {
            CheckName::ErrorRate | CheckName::LatencyP95 => (self.files.is_none() && self.workspace.is_none())
                .then_some("`[logs] files` (the application's JSON log files) or `[logs] workspace_id` (a Log Analytics workspace)"),
            _ => None,
        }
    }

    /// The Log Analytics client, when one of the two checks runs.
    ///
    /// # Errors
    /// `[azure]` cannot be resolved (exit 2), or its credential cannot be set up.
    pub(crate) fn prepare(&mut self, checks: &[CheckName], ctx: &Ctx) -> anyhow::Result<()> {
        if self.workspace.is_some()
            && (checks.contains(&CheckName::ErrorRate) || checks.contains(&CheckName::LatencyP95))
        {
            self.client = Some(AzureSettings::resolve(&ctx.settings.config)?.loganalytics_client()?);
        }
        Ok(())
    }
}
