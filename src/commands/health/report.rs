//! The health report in its four forms: a table and JSON through the printer, and the two monitoring formats
//! written here: Nagios (the plugin guidelines: one status line with perfdata, then one line per check) and
//! Prometheus (the text exposition format, for node_exporter's textfile collector).

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::check::{CheckResult, Level};
use crate::printer::{Cell, Report, Table, Tone};

/// One run of `campctl health`.
#[derive(Debug, Serialize)]
pub(crate) struct HealthReport {
    /// The worst status of all checks.
    pub status: Level,
    /// The exit code of the run: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    pub exit_code: u8,
    pub checked_at: DateTime<Utc>,
    /// Wall time of the whole run, in seconds (about the slowest check's).
    pub duration_seconds: f64,
    pub checks: Vec<CheckResult>,
    /// Checks left out because nothing configures them, and other remarks.
    pub notes: Vec<String>,
}

impl HealthReport {
    pub(crate) fn new(checks: Vec<CheckResult>, notes: Vec<String>, checked_at: DateTime<Utc>, seconds: f64) -> Self {
        let status = Level::worst(checks.iter().map(|check| check.status));
        Self {
            status,
            exit_code: status.code(),
            checked_at,
            duration_seconds: seconds,
            checks,
            notes,
        }
    }

    fn count(&self, level: Level) -> usize {
        self.checks.iter().filter(|check| check.status == level).count()
    }

    /// `1 critical, 2 warning` (only the levels that occur), or `all 7 checks OK`.
    fn summary(&self) -> String {
        let parts: Vec<String> = [Level::Critical, Level::Unknown, Level::Warning]
            .into_iter()
            .filter_map(|level| {
                let count = self.count(level);
                (count > 0).then(|| format!("{count} {}", level.name().to_lowercase()))
            })
            .collect();
        if parts.is_empty() {
            format!("all {} checks OK", self.checks.len())
        } else {
            format!("{} of {} checks", parts.join(", "), self.checks.len())
        }
    }

    /// The Nagios plugin output: `CAMPCTL HEALTH STATUS - summary; the worst problems | perfdata`, then one line
    /// per check (the long text), the problems first.
    pub(crate) fn nagios(&self) -> String {
        let mut problems: Vec<&CheckResult> = self.checks.iter().filter(|check| check.status != Level::Ok).collect();
        problems.sort_by_key(|check| std::cmp::Reverse(check.status.severity()));
        let headline = problems
            .iter()
            .take(3)
            .map(|check| format!("{} {}", check.label(), one_line(&check.message)))
            .collect::<Vec<_>>()
            .join("; ");
        let mut out = format!("CAMPCTL HEALTH {} - {}", self.status.name(), self.summary());
        if !headline.is_empty() {
            let _ = write!(out, ": {headline}");
        }
        let perfdata: Vec<String> = self.checks.iter().filter_map(perfdata).collect();
        if !perfdata.is_empty() {
            let _ = write!(out, " | {}", perfdata.join(" "));
        }
        out.push('\n');
        let mut ordered: Vec<&CheckResult> = problems;
        ordered.extend(self.checks.iter().filter(|check| check.status == Level::Ok));
        for check in ordered {
            let _ = writeln!(
                out,
                "[{}] {}: {}",
                check.status.name(),
                check.label(),
                one_line(&check.message)
            );
        }
        out
    }

    /// The Prometheus text exposition format: status, value and thresholds of each check as gauges, and the run's
    /// own time and duration.
    pub(crate) fn prometheus(&self) -> String {
        let mut out = String::new();
        let mut family = |name: &str, help: &str, rows: Vec<(String, f64)>| {
            if rows.is_empty() {
                return;
            }
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            for (labels, value) in rows {
                let _ = writeln!(out, "{name}{labels} {}", prometheus_number(value));
            }
        };
        let labelled = |pick: &dyn Fn(&CheckResult) -> Option<f64>| -> Vec<(String, f64)> {
            self.checks
                .iter()
                .filter_map(|check| pick(check).map(|value| (labels(check), value)))
                .collect()
        };
        family(
            "campctl_health_status",
            "Status of a check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
            labelled(&|check| Some(f64::from(check.status.code()))),
        );
        family(
            "campctl_health_value",
            "The value a check measured, in the unit of its label.",
            labelled(&|check| check.value),
        );
        family(
            "campctl_health_warning_threshold",
            "The warning threshold of a check, in the unit of its label.",
            labelled(&|check| check.thresholds.map(|t| t.warning)),
        );
        family(
            "campctl_health_critical_threshold",
            "The critical threshold of a check, in the unit of its label.",
            labelled(&|check| check.thresholds.map(|t| t.critical)),
        );
        family(
            "campctl_health_check_duration_seconds",
            "How long a check took.",
            labelled(&|check| Some(check.duration_seconds)),
        );
        family(
            "campctl_health_worst_status",
            "The worst status of the run (its exit code): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
            vec![(String::new(), f64::from(self.status.code()))],
        );
        family(
            "campctl_health_last_run_timestamp_seconds",
            "When the run started, in seconds since the Unix epoch.",
            vec![(String::new(), self.checked_at.timestamp_millis() as f64 / 1000.0)],
        );
        family(
            "campctl_health_run_duration_seconds",
            "Wall time of the whole run.",
            vec![(String::new(), self.duration_seconds)],
        );
        out
    }
}

impl Report for HealthReport {
    fn tables(&self) -> Vec<Table> {
        let mut table = Table::new(
            format!("Health: {} ({})", self.status.name(), self.summary()),
            &["check", "target", "status", "value", "warning", "critical", "message"],
        );
        for check in &self.checks {
            let show = |value: Option<f64>| value.map_or(Cell::Null, |value| Cell::Text(check.unit.show(value)));
            table.row(vec![
                Cell::Text(check.check.to_string()),
                Cell::opt(check.target.clone()),
                Cell::Verdict(check.status.name().to_string(), tone(check.status)),
                show(check.value),
                show(check.thresholds.map(|t| t.warning)),
                show(check.thresholds.map(|t| t.critical)),
                Cell::LongText(check.message.clone()),
            ]);
        }
        table.notes.clone_from(&self.notes);
        vec![table]
    }
}

fn tone(level: Level) -> Tone {
    match level {
        Level::Ok => Tone::Good,
        Level::Warning => Tone::Warn,
        Level::Critical => Tone::Bad,
        Level::Unknown => Tone::Unknown,
    }
}

fn one_line(text: &str) -> String {
    // `|` starts perfdata in the plugin output; it may not appear in the text.
    text.split_whitespace().collect::<Vec<_>>().join(" ").replace('|', "/")
}

/// `'label'=value[UOM];warn;crit;min;max` for a check with a value (plugin guidelines, "Performance data").
fn perfdata(check: &CheckResult) -> Option<String> {
    let value = check.value?;
    let label = check.label().replace('\'', "\"").replace('=', ":");
    let (warning, critical) = match check.thresholds {
        // Nagios ranges alert outside `start:end`; `~:` is minus infinity, `N:` alerts below N.
        Some(t) if t.direction == super::check::Direction::Below => (
            format!("{}:", nagios_number(t.warning)),
            format!("{}:", nagios_number(t.critical)),
        ),
        Some(t) => (nagios_number(t.warning), nagios_number(t.critical)),
        None => (String::new(), String::new()),
    };
    // A share of a whole runs 0–100; a percentage that may pass 100 (`wraparound`: of autovacuum_freeze_max_age)
    // has no maximum.
    let bounded = check
        .value
        .into_iter()
        .chain(check.thresholds.iter().flat_map(|t| [t.warning, t.critical]));
    let (min, max) = match check.unit {
        super::check::Unit::Percent if bounded.clone().all(|v| v <= 100.0) => ("0", "100"),
        super::check::Unit::Percent => ("0", ""),
        _ => ("", ""),
    };
    let mut field = format!(
        "'{label}'={}{};{warning};{critical};{min};{max}",
        nagios_number(value),
        check.unit.perfdata()
    );
    while field.ends_with(';') {
        field.pop();
    }
    Some(field)
}

fn nagios_number(value: f64) -> String {
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() || text == "-" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

fn prometheus_number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_string()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{value}")
    }
}

/// `{check="disk",target="/var",unit="percent"}`, with label values escaped as the exposition format says
/// (backslash, double quote, newline).
fn labels(check: &CheckResult) -> String {
    let escape = |value: &str| value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
    let unit = serde_json::to_value(check.unit)
        .ok()
        .and_then(|value| value.as_str().map(str::to_string))
        .unwrap_or_default();
    format!(
        "{{check=\"{}\",target=\"{}\",unit=\"{}\"}}",
        escape(check.check),
        escape(check.target.as_deref().unwrap_or("")),
        escape(&unit)
    )
}

#[cfg(test)]
mod tests {
    use super::super::check::{Thresholds, Unit};
    use super::*;

    fn sample() -> HealthReport {
        let disk = CheckResult::measured(
            "disk",
            Some("/var/lib/it's".to_string()),
            85.0,
            Unit::Percent,
            Thresholds::above(80.0, 90.0),
            "85 GiB used | a pipe",
        );
        let hit = CheckResult::measured(
            "cache-hit",
            None,
            99.5,
            Unit::Percent,
            Thresholds::below(99.0, 95.0),
            "ok",
        );
        let redis = CheckResult::unknown("redis", None, "no answer within 5s");
        HealthReport::new(vec![disk, hit, redis], vec![], Utc::now(), 0.2)
    }

    #[test]
    fn nagios_output_follows_the_plugin_guidelines() {
        let report = sample();
        assert_eq!(report.status, Level::Unknown);
        let text = report.nagios();
        let first = text.lines().next().expect("a status line");
        assert!(
            first.starts_with("CAMPCTL HEALTH UNKNOWN - 1 unknown, 1 warning of 3 checks: "),
            "{first}"
        );
        let (_, perf) = first.split_once(" | ").expect("perfdata after one pipe");
        assert_eq!(first.matches('|').count(), 1, "{first}");
        assert_eq!(
            perf,
            "'disk /var/lib/it\"s'=85%;80;90;0;100 'cache-hit'=99.5%;99:;95:;0;100"
        );
        assert_eq!(text.lines().count(), 4, "{text}");
    }

    #[test]
    fn a_percentage_past_100_has_no_maximum_in_perfdata() {
        let wraparound = CheckResult::measured(
            "wraparound",
            None,
            150.0,
            Unit::Percent,
            Thresholds::above(100.0, 200.0),
            "age",
        );
        assert_eq!(perfdata(&wraparound).as_deref(), Some("'wraparound'=150%;100;200;0"));
    }

    #[test]
    fn prometheus_output_escapes_labels_and_has_one_type_per_family() {
        let text = sample().prometheus();
        assert!(
            text.contains("campctl_health_status{check=\"redis\",target=\"\",unit=\"count\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("campctl_health_value{check=\"disk\",target=\"/var/lib/it's\",unit=\"percent\"} 85\n"));
        assert_eq!(text.matches("# TYPE campctl_health_status gauge").count(), 1);
        assert!(
            !text.contains("campctl_health_value{check=\"redis\""),
            "no value, no sample"
        );
    }
}
