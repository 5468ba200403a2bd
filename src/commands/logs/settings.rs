//! `campctl logs`, resolved: flags > `[logs]` in campctl.toml > built-in defaults (docs/logs.md).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{SourceArgs, WindowArgs};
use crate::config_file::{LogFieldsConfig, LogsConfig};
use crate::exit::UserError;

/// `--since` without `--since`, `--from` or `[logs] since`.
pub(crate) const DEFAULT_SINCE: Duration = Duration::from_secs(24 * 3600);
/// `--bin` without `--bin` or `[logs] bin`.
pub(crate) const DEFAULT_BIN: Duration = Duration::from_secs(3600);
/// `--threshold` of `auth-failures` (runbook 4.3.2).
pub(crate) const DEFAULT_THRESHOLD: u64 = 5;
/// Levels counted as errors.
pub(crate) const DEFAULT_ERROR_LEVELS: [&str; 4] = ["error", "critical", "fatal", "exception"];
/// The text that marks an authentication failure in the message or event.
pub(crate) const DEFAULT_AUTH_MATCH: &str = "authentication_failed";
/// Durations kept per group for exact percentiles before the sketch takes over.
pub(crate) const DEFAULT_EXACT_LIMIT: u64 = 1_000_000;

/// How the time field is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeFormat {
    /// RFC 3339 / ISO 8601 with any offset (`Z`, `+02:00`); a time without an offset is refused.
    Rfc3339,
    EpochSeconds,
    EpochMillis,
}

/// `[logs.fields]`, resolved.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fields {
    pub timestamp: String,
    pub time_format: TimeFormat,
    pub level: String,
    /// The message field; `None` (the default) means `event`, else `message`.
    pub message: Option<String>,
    pub user: String,
    pub ip: String,
    pub path: String,
    pub status: String,
    pub duration: String,
    /// Multiplier from the duration field's unit to milliseconds (1 for `ms`, 1000 for `s`).
    pub duration_to_ms: f64,
}

/// What every `logs` report needs, resolved.
#[derive(Debug, Clone)]
pub(crate) struct LogsSettings {
    /// Files, globs, directories or `-`, as given (expanded by `files.rs`).
    pub inputs: Vec<String>,
    pub fields: Fields,
    /// Lower case.
    pub error_levels: Vec<String>,
    pub auth_match: String,
    pub exact_limit: usize,
}

/// The window of a report, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WindowSettings {
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub bin_seconds: u64,
}

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
    /// Merges `--file` with `[logs]`.
    ///
    /// # Errors
    /// A usage error (exit 2): no source at all, a bad `[logs.fields]` value, an empty error level list.
    pub(crate) fn resolve(source: &SourceArgs, file: &LogsConfig) -> anyhow::Result<Self> {
        let inputs = if source.files.is_empty() {
            file.files.clone().unwrap_or_default()
        } else {
            source.files.clone()
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

fn parse_time(flag: &str, value: &str) -> anyhow::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|err| {
            usage(
                format!("`{flag} {value}` is not an RFC 3339 time: {err}"),
                "Write it as `2026-03-01T00:00:00Z` or with an offset, `2026-03-01T02:00:00+02:00`",
            )
        })
}

impl WindowSettings {
    /// `--since` / `--from` / `--until` / `--bin` over `[logs] since` / `bin`.
    ///
    /// # Errors
    /// A usage error (exit 2): a bad time, `--from` not before `--until`, a zero bin.
    pub(crate) fn resolve(args: &WindowArgs, file: &LogsConfig, now: DateTime<Utc>) -> anyhow::Result<Self> {
        let until = args
            .until
            .as_deref()
            .map(|value| parse_time("--until", value))
            .transpose()?
            .unwrap_or(now);
        let from = match (&args.from, args.since) {
            (Some(from), _) => parse_time("--from", from)?,
            (None, since) => {
                let since = since.or(file.since).map_or(DEFAULT_SINCE, |since| since.0);
                chrono::Duration::from_std(since)
                    .ok()
                    .and_then(|since| until.checked_sub_signed(since))
                    .unwrap_or(DateTime::<Utc>::MIN_UTC)
            }
        };
        if from >= until {
            return Err(usage(
                format!(
                    "the window is empty: from {} is not before until {}",
                    from.to_rfc3339(),
                    until.to_rfc3339()
                ),
                "Give `--from` earlier than `--until`, or a positive `--since`",
            ));
        }
        let bin = args.bin.or(file.bin).map_or(DEFAULT_BIN, |bin| bin.0);
        if bin.as_secs() == 0 {
            return Err(usage(
                "`--bin` (or `[logs] bin`) must be at least 1s".into(),
                "Give a bin of whole seconds or more, e.g. `--bin 1h` or `--bin 5m`",
            ));
        }
        let bins = (until - from).num_seconds() as u64 / bin.as_secs();
        if bins > 100_000 {
            return Err(usage(
                format!(
                    "{bins} bins of {} in the window is too many (at most 100000)",
                    crate::units::HumanDuration(bin)
                ),
                "Give a larger `--bin` or a shorter window",
            ));
        }
        Ok(Self {
            from,
            until,
            bin_seconds: bin.as_secs(),
        })
    }
}

/// Whether bars may use Unicode blocks: colour allowed (not `--color never`) and a UTF-8 locale.
pub(crate) fn utf8_terminal(color: bool) -> bool {
    let locale = ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
        .unwrap_or_default()
        .to_ascii_lowercase();
    color && (locale.contains("utf-8") || locale.contains("utf8"))
}

/// `config check`'s view of `[logs]`: the fields, levels and window defaults as a report would resolve them (no
/// files configured is fine until a report runs).
///
/// # Errors
/// The first problem, as a report would refuse it.
pub(crate) fn check(file: &LogsConfig) -> anyhow::Result<()> {
    let source = SourceArgs {
        files: vec!["-".into()],
        workspace: None,
        show_kql: false,
    };
    LogsSettings::resolve(&source, file)?;
    // `[logs] workspace_id` and `[logs.workspace]`, also when `[logs] files` is what the reports read.
    let workspace_only = LogsConfig {
        files: None,
        ..file.clone()
    };
    crate::settings::logs_workspace::LogsWorkspace::resolve(None, false, &workspace_only, DEFAULT_AUTH_MATCH)?;
    if file.threshold == Some(0) {
        return Err(usage(
            "`[logs] threshold` must be at least 1".into(),
            "Give the number of failures that makes a user and IP worth listing, e.g. 5",
        ));
    }
    let window = WindowArgs {
        since: None,
        from: None,
        until: None,
        bin: None,
    };
    WindowSettings::resolve(&window, file, Utc::now())?;
    Ok(())
}
