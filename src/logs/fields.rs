//! The shape of the JSON log lines (`[logs.fields]`) and what every file report needs, as resolved from `[logs]` by
//! `settings/logs.rs`.

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
