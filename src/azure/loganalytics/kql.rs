//! The KQL campctl sends: the runbook's three queries (4.3.1 errors per bin, 4.3.2 authentication failures per user
//! and IP, 4.3.3 latency percentiles per bin and path) and the two health figures (error rate, P95), built on
//! configurable table and column names ([`Schema`]).
//!
//! Nothing the user gives is pasted raw: text goes in as a KQL string literal ([`string_literal`]: `"` and `\`
//! escaped, control characters as escapes), table and column names must match `^[A-Za-z_][A-Za-z0-9_]*$`
//! ([`identifier`]), numbers are formatted by campctl. The time window is not in the KQL: it is the request's
//! `timespan`, which Log Analytics applies to every table the query reads.

use std::fmt::Write as _;
use std::time::Duration;

use crate::exit::UserError;

/// The tables and columns the reports read (`[logs.workspace]`); the defaults are App Service's diagnostic tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    /// Console output (stdout/stderr): `errors`.
    pub console_table: String,
    /// Application logs: `auth-failures`.
    pub app_table: String,
    /// HTTP access logs: `latency`, the error rate's denominator.
    pub http_table: String,
    /// The time column of every table.
    pub time_column: String,
    /// The console line (`ResultDescription`).
    pub console_message: String,
    /// The application log message (`Message`).
    pub app_message: String,
    /// The application log's JSON properties (`Properties`).
    pub app_properties: String,
    /// The keys of the user and the client IP in those properties (any text: they go in as string literals).
    pub user_key: String,
    pub ip_key: String,
    /// What an authentication failure's message contains.
    pub auth_failure_marker: String,
    /// The response time in milliseconds (`TimeTaken`), the path (`UriStem`) and the status (`ScStatus`).
    pub http_duration: String,
    pub http_path: String,
    pub http_status: String,
}

impl Default for Schema {
    fn default() -> Self {
        Self {
            console_table: "AppServiceConsoleLogs".into(),
            app_table: "AppServiceAppLogs".into(),
            http_table: "AppServiceHTTPLogs".into(),
            time_column: "TimeGenerated".into(),
            console_message: "ResultDescription".into(),
            app_message: "Message".into(),
            app_properties: "Properties".into(),
            user_key: "user_email".into(),
            ip_key: "ip_address".into(),
            auth_failure_marker: "authentication_failed".into(),
            http_duration: "TimeTaken".into(),
            http_path: "UriStem".into(),
            http_status: "ScStatus".into(),
        }
    }
}

impl Schema {
    /// Every name checked ([`identifier`]); `key` is the `[logs.workspace]` key of the first bad one.
    ///
    /// # Errors
    /// A name that is not a KQL identifier (exit 2), naming its key.
    pub fn check(&self) -> anyhow::Result<()> {
        for (key, value) in [
            ("console_table", &self.console_table),
            ("app_table", &self.app_table),
            ("http_table", &self.http_table),
            ("time_column", &self.time_column),
            ("console_message", &self.console_message),
            ("app_message", &self.app_message),
            ("app_properties", &self.app_properties),
            ("http_duration", &self.http_duration),
            ("http_path", &self.http_path),
            ("http_status", &self.http_status),
        ] {
            identifier(key, value)?;
        }
        Ok(())
    }
}

/// `name` if it is a plain KQL identifier (`^[A-Za-z_][A-Za-z0-9_]*$`).
///
/// # Errors
/// Anything else (exit 2), naming `key`.
pub fn identifier<'a>(key: &str, name: &'a str) -> anyhow::Result<&'a str> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(name)
    } else {
        Err(UserError::usage(format!(
            "`[logs.workspace] {key}` = {name:?} is not a table or column name campctl puts into KQL"
        ))
        .with_hint("Use letters, digits and `_` only, not starting with a digit (e.g. `AppServiceHTTPLogs`)")
        .into())
    }
}

/// `text` as a KQL string literal: `"…"` with `\` and `"` escaped and control characters written as escapes.
pub fn string_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `duration` as a KQL timespan literal in its largest whole unit (`1h`, `15m`, `90s`, `250ms`).
pub fn timespan_literal(duration: Duration) -> String {
    let millis = duration.as_millis();
    let seconds = duration.as_secs();
    if !millis.is_multiple_of(1000) || seconds == 0 {
        format!("{}ms", millis.max(1))
    } else if seconds.is_multiple_of(86_400) {
        format!("{}d", seconds / 86_400)
    } else if seconds.is_multiple_of(3600) {
        format!("{}h", seconds / 3600)
    } else if seconds.is_multiple_of(60) {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}

/// `where` clause matching lines of `column` that contain any of `levels` (ERROR and above).
fn level_filter(column: &str, levels: &[String]) -> String {
    if levels.is_empty() {
        return "true".to_string();
    }
    levels
        .iter()
        .map(|level| format!("{column} contains {}", string_literal(level)))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// 4.3.1: console lines of `levels` per `bin` (`TimeGenerated`, `errors`).
///
/// # Errors
/// A bad name in `schema`.
pub fn errors_per_bin(schema: &Schema, levels: &[String], bin: Duration) -> anyhow::Result<String> {
    schema.check()?;
    Ok(format!(
        "{table}\n| where {filter}\n| summarize errors = count() by {time} = bin({time}, {bin})\n| order by {time} asc",
        table = schema.console_table,
        filter = level_filter(&schema.console_message, levels),
        time = schema.time_column,
        bin = timespan_literal(bin),
    ))
}

/// The `top` most frequent messages of `levels` (`message`, `count`).
///
/// # Errors
/// A bad name in `schema`.
pub fn top_error_messages(schema: &Schema, levels: &[String], top: usize) -> anyhow::Result<String> {
    schema.check()?;
    Ok(format!(
        "{table}\n| where {filter}\n| summarize count = count() by message = tostring({message})\n| top {top} by count desc",
        table = schema.console_table,
        filter = level_filter(&schema.console_message, levels),
        message = schema.console_message,
        top = top.max(1),
    ))
}

/// Requests per `bin` (`TimeGenerated`, `requests`, `server_errors`: status ≥ 500), the error rate's denominator.
///
/// # Errors
/// A bad name in `schema`.
pub fn requests_per_bin(schema: &Schema, bin: Duration) -> anyhow::Result<String> {
    schema.check()?;
    Ok(format!(
        "{table}\n| summarize requests = count(), server_errors = countif(toint({status}) >= 500) by {time} = \
         bin({time}, {bin})\n| order by {time} asc",
        table = schema.http_table,
        status = schema.http_status,
        time = schema.time_column,
        bin = timespan_literal(bin),
    ))
}

/// 4.3.2: authentication failures by user and IP with at least `threshold` (`User`, `IPAddress`, `FailureCount`,
/// `FirstSeen`, `LastSeen`), most first.
///
/// # Errors
/// A bad name in `schema`.
pub fn auth_failures(schema: &Schema, threshold: u64) -> anyhow::Result<String> {
    schema.check()?;
    Ok(format!(
        "{table}\n| where {message} contains {marker}\n| extend User = tostring(parse_json({props})[{user}])\n| \
         extend IPAddress = tostring(parse_json({props})[{ip}])\n| summarize FailureCount = count(), FirstSeen = \
         min({time}), LastSeen = max({time}) by User, IPAddress\n| where FailureCount >= {threshold}\n| order by \
         FailureCount desc, User asc, IPAddress asc",
        table = schema.app_table,
        message = schema.app_message,
        marker = string_literal(&schema.auth_failure_marker),
        props = schema.app_properties,
        user = string_literal(&schema.user_key),
        ip = string_literal(&schema.ip_key),
        time = schema.time_column,
    ))
}

/// 4.3.3: latency per `bin` (and per path with `by_path`): `count`, `mean`, `p50`, `p95`, `p99` in milliseconds.
/// `percentiles()` is an estimate (T-Digest), not the exact value the file source computes.
///
/// # Errors
/// A bad name in `schema`.
pub fn latency(schema: &Schema, bin: Duration, by_path: bool) -> anyhow::Result<String> {
    schema.check()?;
    let path = if by_path {
        format!(", path = tostring({})", schema.http_path)
    } else {
        String::new()
    };
    Ok(format!(
        "{table}\n| extend ResponseTime = todouble({duration})\n| summarize count = count(), mean = \
         avg(ResponseTime), (p50, p95, p99) = percentiles(ResponseTime, 50, 95, 99) by {time} = bin({time}, \
         {bin}){path}\n| order by {time} asc{order_path}",
        table = schema.http_table,
        duration = schema.http_duration,
        time = schema.time_column,
        bin = timespan_literal(bin),
        order_path = if by_path { ", path asc" } else { "" },
    ))
}

/// Health: requests and server errors (status ≥ 500) over the whole `timespan` (`requests`, `server_errors`).
///
/// # Errors
/// A bad name in `schema`.
pub fn error_rate(schema: &Schema) -> anyhow::Result<String> {
    schema.check()?;
    Ok(format!(
        "{table}\n| summarize requests = count(), server_errors = countif(toint({status}) >= 500)",
        table = schema.http_table,
        status = schema.http_status,
    ))
}

/// Health: the P95 response time in milliseconds over the whole `timespan` (`count`, `p95`).
///
/// # Errors
/// A bad name in `schema`.
pub fn latency_p95(schema: &Schema) -> anyhow::Result<String> {
    schema.check()?;
    Ok(format!(
        "{table}\n| summarize count = count(), p95 = percentile(todouble({duration}), 95)",
        table = schema.http_table,
        duration = schema.http_duration,
    ))
}

/// `logs tail`: the newest `limit` console lines of the `timespan` matching `levels` and `grep` (both as
/// `contains`, which ignores case), oldest first (`TimeGenerated`, `line`).
///
/// # Errors
/// A bad name in `schema`.
pub fn tail(schema: &Schema, levels: &[String], grep: Option<&str>, limit: usize) -> anyhow::Result<String> {
    schema.check()?;
    let mut kql = schema.console_table.clone();
    if !levels.is_empty() {
        let _ = write!(kql, "\n| where {}", level_filter(&schema.console_message, levels));
    }
    if let Some(grep) = grep {
        let _ = write!(
            kql,
            "\n| where {} contains {}",
            schema.console_message,
            string_literal(grep)
        );
    }
    let _ = write!(
        kql,
        "\n| top {limit} by {time} desc\n| project {time}, line = tostring({message})\n| order by {time} asc",
        limit = limit.max(1),
        time = schema.time_column,
        message = schema.console_message,
    );
    Ok(kql)
}
