//! `[logs]` and `[logs.fields]` resolved into the file source's [`LogsSettings`] (`campctl logs` and health's
//! `error-rate` / `latency-p95`): flags > campctl.toml > built-in defaults, each bad value a usage error (exit 2)
//! naming the key.

use crate::config_file::{LogFieldsConfig, LogsConfig};
use crate::exit::UserError;
use crate::logs::fields::{
    DEFAULT_AUTH_MATCH, DEFAULT_ERROR_LEVELS, DEFAULT_EXACT_LIMIT, Fields, LogsSettings, TimeFormat,
};

fn usage(message: String, hint: &str) -> anyhow::Error {
    UserError::usage(message).with_hint(hint).into()
}

impl Fields {
    pub(crate) fn resolve(file: Option<&LogFieldsConfig>) -> anyhow::Result<Self> {
        let file = file.cloned().unwrap_or_default();
        let time_format = match file.timestamp_format.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("rfc3339") => TimeFormat::Rfc3339,
            Some("epoch_seconds") => TimeFormat::EpochSeconds,
            Some("epoch_millis") => TimeFormat::EpochMillis,
            Some(other) => {
                return Err(usage(
                    format!("`[logs.fields] timestamp_format = \"{other}\"` is not a known format"),
                    "Use `rfc3339`, `epoch_seconds` or `epoch_millis`",
                ));
            }
        };
        let duration_to_ms = match file.duration_unit.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("ms") => 1.0,
            Some("s") => 1000.0,
            Some(other) => {
                return Err(usage(
                    format!("`[logs.fields] duration_unit = \"{other}\"` is not a known unit"),
                    "Use `ms` or `s`",
                ));
            }
        };
        Ok(Self {
            timestamp: file.timestamp.unwrap_or_else(|| "timestamp".into()),
            time_format,
            level: file.level.unwrap_or_else(|| "level".into()),
            message: file.message,
            user: file.user.unwrap_or_else(|| "user_email".into()),
            ip: file.ip.unwrap_or_else(|| "ip_address".into()),
            path: file.path.unwrap_or_else(|| "path".into()),
            status: file.status.unwrap_or_else(|| "status".into()),
            duration: file.duration.unwrap_or_else(|| "duration".into()),
            duration_to_ms,
        })
    }
}

impl LogsSettings {
    /// Merges `--file` (`files`, empty when not given) with `[logs]`.
    ///
    /// # Errors
    /// A usage error (exit 2): no source at all, a bad `[logs.fields]` value, an empty error level list.
    pub(crate) fn resolve(files: &[String], file: &LogsConfig) -> anyhow::Result<Self> {
        let inputs = if files.is_empty() {
            file.files.clone().unwrap_or_default()
        } else {
            files.to_vec()
        };
        if inputs.is_empty() {
            return Err(usage(
                "no log source: give `--file PATH` or set `[logs] files` in campctl.toml".into(),
                "e.g. `campctl logs errors --file /var/log/app/app.log*`, or `[logs] files = [\"/var/log/app\"]`",
            ));
        }
        let error_levels: Vec<String> = file
            .error_levels
            .clone()
            .unwrap_or_else(|| DEFAULT_ERROR_LEVELS.iter().map(ToString::to_string).collect())
            .into_iter()
            .map(|level| level.to_lowercase())
            .collect();
        if error_levels.is_empty() {
            return Err(usage(
                "`[logs] error_levels` is empty: no record would count as an error".into(),
                "List the levels, e.g. `error_levels = [\"error\", \"critical\"]`, or remove the key",
            ));
        }
        let auth_match = file
            .auth_failure_match
            .clone()
            .unwrap_or_else(|| DEFAULT_AUTH_MATCH.into());
        if auth_match.is_empty() {
            return Err(usage(
                "`[logs] auth_failure_match` is empty: every record would be a failure".into(),
                "Give the text of a failure event, e.g. `authentication_failed`, or remove the key",
            ));
        }
        let exact_limit =
            usize::try_from(file.exact_percentiles_limit.unwrap_or(DEFAULT_EXACT_LIMIT)).unwrap_or(usize::MAX);
        Ok(Self {
            inputs,
            fields: Fields::resolve(file.fields.as_ref())?,
            error_levels,
            auth_match,
            exact_limit,
        })
    }
}
