//! `campctl logs`, resolved: flags > `[logs]` in campctl.toml > built-in defaults (docs/logs.md).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::WindowArgs;
use crate::config_file::LogsConfig;
use crate::exit::UserError;
use crate::logs::fields::{DEFAULT_AUTH_MATCH, LogsSettings};

/// `--since` without `--since`, `--from` or `[logs] since`.
pub(crate) const DEFAULT_SINCE: Duration = Duration::from_secs(24 * 3600);
/// `--bin` without `--bin` or `[logs] bin`.
pub(crate) const DEFAULT_BIN: Duration = Duration::from_secs(3600);
/// `--threshold` of `auth-failures` (runbook 4.3.2).
pub(crate) const DEFAULT_THRESHOLD: u64 = 5;
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
    LogsSettings::resolve(&["-".to_string()], file)?;
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
