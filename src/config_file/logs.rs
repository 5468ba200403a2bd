//! `[logs]` and `[logs.fields]`: the schema only; `commands/logs/settings.rs` applies the defaults (docs/logs.md).

use serde::{Deserialize, Serialize};

use crate::units::HumanDuration;

/// `[logs]`: defaults of `campctl logs`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogsConfig {
    /// JSON-lines files, globs or directories read when `--file` is not given.
    pub files: Option<Vec<String>>,
    /// Levels counted as errors, case-insensitive (default `error`, `critical`, `fatal`, `exception`).
    pub error_levels: Option<Vec<String>>,
    /// The text in the message (or event) that marks an authentication failure (default `authentication_failed`).
    pub auth_failure_match: Option<String>,
    /// `--since` when neither it nor `--from` is given (default `24h`).
    pub since: Option<HumanDuration>,
    /// `--bin` (default `1h`).
    pub bin: Option<HumanDuration>,
    /// `--threshold` of `auth-failures` (default 5).
    pub threshold: Option<u64>,
    /// Durations kept per bin (and path) for exact percentiles before a 1 %-error sketch takes over (default
    /// 1000000).
    pub exact_percentiles_limit: Option<u64>,
    pub fields: Option<LogFieldsConfig>,
    /// The Log Analytics workspace ID (a GUID) queried when neither `--file` nor `[logs] files` is given.
    pub workspace_id: Option<String>,
    pub workspace: Option<LogWorkspaceConfig>,
}

/// `[logs.workspace]`: the tables and columns the reports read in a Log Analytics workspace, and how long a query
/// may run (docs/logs.md).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogWorkspaceConfig {
    /// Default `AppServiceConsoleLogs` (`errors`, `tail`).
    pub console_table: Option<String>,
    /// Default `AppServiceAppLogs` (`auth-failures`).
    pub app_table: Option<String>,
    /// Default `AppServiceHTTPLogs` (`latency`, requests of `errors`).
    pub http_table: Option<String>,
    /// Default `TimeGenerated`.
    pub time_column: Option<String>,
    /// Default `ResultDescription`.
    pub console_message: Option<String>,
    /// Default `Message`.
    pub app_message: Option<String>,
    /// Default `Properties` (JSON).
    pub app_properties: Option<String>,
    /// Keys in the properties: default `user_email` and `ip_address`.
    pub user_key: Option<String>,
    pub ip_key: Option<String>,
    /// Default `TimeTaken` (milliseconds).
    pub http_duration: Option<String>,
    /// Default `UriStem`.
    pub http_path: Option<String>,
    /// Default `ScStatus`.
    pub http_status: Option<String>,
    /// `Prefer: wait=` (default `3m`, at most `10m`).
    pub wait: Option<HumanDuration>,
}

/// `[logs.fields]`: field names of the JSON lines and how to read the time and the duration.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogFieldsConfig {
    /// Default `timestamp`.
    pub timestamp: Option<String>,
    /// `rfc3339` (default: any offset), `epoch_seconds` or `epoch_millis`.
    pub timestamp_format: Option<String>,
    /// Default `level`.
    pub level: Option<String>,
    /// Default `event`, then `message` when the line has no `event`.
    pub message: Option<String>,
    /// Default `user_email`.
    pub user: Option<String>,
    /// Default `ip_address`.
    pub ip: Option<String>,
    /// Default `path`.
    pub path: Option<String>,
    /// Default `status`.
    pub status: Option<String>,
    /// Default `duration`.
    pub duration: Option<String>,
    /// `ms` (default) or `s`.
    pub duration_unit: Option<String>,
}
