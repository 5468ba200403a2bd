//! The Log Analytics workspace of `campctl logs` and of health's `error-rate` / `latency-p95`: `--workspace`,
//! `[logs] workspace_id` (used when `[logs] files` is not set) and `[logs.workspace]` (tables, columns, `wait`),
//! resolved and checked before anything is sent (exit 2 naming the key).

use std::time::Duration;

use crate::azure::loganalytics::{self, kql::Schema};
use crate::config_file::LogsConfig;
use crate::exit::UserError;

/// Default `Prefer: wait=`.
const DEFAULT_WAIT: Duration = Duration::from_secs(180);

/// A workspace, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogsWorkspace {
    /// The workspace ID (a GUID).
    pub id: String,
    pub schema: Schema,
    pub wait_secs: u32,
}

impl LogsWorkspace {
    /// The workspace `flag` names, else `[logs] workspace_id` (only when `files_given` is false and `[logs] files`
    /// is not set); `None` for the file source. `auth_failure_match` is the default of `[logs] auth_failure_match`.
    ///
    /// # Errors
    /// A usage error (exit 2): an ID that is not a GUID, a table or column name that is not an identifier, a wait
    /// outside 1s–10m.
    pub(crate) fn resolve(
        flag: Option<&str>,
        files_given: bool,
        file: &LogsConfig,
        auth_failure_match: &str,
    ) -> anyhow::Result<Option<Self>> {
        let id = match flag {
            Some(id) => id.trim().to_string(),
            None if files_given || file.files.as_ref().is_some_and(|files| !files.is_empty()) => return Ok(None),
            None => match file.workspace_id.as_deref().map(str::trim) {
                Some(id) if !id.is_empty() => id.to_string(),
                _ => return Ok(None),
            },
        };
        loganalytics::check_workspace_id(&id)?;
        let section = file.workspace.clone().unwrap_or_default();
        let defaults = Schema::default();
        let pick = |value: Option<String>, default: String| value.filter(|value| !value.is_empty()).unwrap_or(default);
        let schema = Schema {
            console_table: pick(section.console_table, defaults.console_table),
            app_table: pick(section.app_table, defaults.app_table),
            http_table: pick(section.http_table, defaults.http_table),
            time_column: pick(section.time_column, defaults.time_column),
            console_message: pick(section.console_message, defaults.console_message),
            app_message: pick(section.app_message, defaults.app_message),
            app_properties: pick(section.app_properties, defaults.app_properties),
            user_key: pick(section.user_key, defaults.user_key),
            ip_key: pick(section.ip_key, defaults.ip_key),
            auth_failure_marker: pick(file.auth_failure_match.clone(), auth_failure_match.to_string()),
            http_duration: pick(section.http_duration, defaults.http_duration),
            http_path: pick(section.http_path, defaults.http_path),
            http_status: pick(section.http_status, defaults.http_status),
        };
        schema.check()?;
        let wait = section.wait.map_or(DEFAULT_WAIT, |wait| wait.0);
        if wait.as_secs() == 0 || wait > Duration::from_secs(600) {
            return Err(UserError::usage(format!(
                "`[logs.workspace] wait = \"{}\"` is out of range",
                crate::units::HumanDuration(wait)
            ))
            .with_hint("Log Analytics waits 1s to 10m for a query: give e.g. `wait = \"3m\"`")
            .into());
        }
        Ok(Some(Self {
            id,
            schema,
            wait_secs: u32::try_from(wait.as_secs()).unwrap_or(600),
        }))
    }
}
