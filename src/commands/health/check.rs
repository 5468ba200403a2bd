//! What a health check says: a [`Level`] (the Nagios plugin states), the measured value with its unit, the
//! thresholds it was judged against and a one-line message ([`CheckResult`]); and how a value is judged
//! ([`Thresholds`]).
//!
//! Every check family (`system.rs`, ...) returns `CheckResult`s and never decides an exit code or an output format:
//! `report.rs` renders them and `mod.rs` turns the worst level into the exit status.

use std::fmt;

use serde::Serialize;

use crate::exit::ExitStatus;

/// The state of one check, as the Nagios plugin guidelines define them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Hash)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum Level {
    Ok,
    Warning,
    Critical,
    /// The check could not tell: a timeout, a missing privilege or file, no connection.
    Unknown,
}

impl Level {
    /// The plugin exit code: 0, 1, 2, 3.
    pub(crate) fn code(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Warning => 1,
            Self::Critical => 2,
            Self::Unknown => 3,
        }
    }

    /// How bad it is, for "the worst status": OK < WARNING < UNKNOWN < CRITICAL. A check that cannot tell is
    /// worse than one that warns (nobody knows how bad it is), and better than one that knows it is critical (the
    /// order of Icinga's state severity).
    pub(crate) fn severity(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Warning => 1,
            Self::Unknown => 2,
            Self::Critical => 3,
        }
    }

    /// The worst of `levels` (OK for none).
    pub(crate) fn worst(levels: impl IntoIterator<Item = Self>) -> Self {
        levels
            .into_iter()
            .max_by_key(|level| level.severity())
            .unwrap_or(Self::Ok)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Warning => "WARNING",
            Self::Critical => "CRITICAL",
            Self::Unknown => "UNKNOWN",
        }
    }

    /// The exit status of a run whose worst level is `self`.
    pub(crate) fn exit_status(self) -> ExitStatus {
        match self {
            Self::Ok => ExitStatus::Success,
            Self::Warning => ExitStatus::Warning,
            Self::Critical => ExitStatus::Critical,
            Self::Unknown => ExitStatus::Unknown,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The unit of a measured value. It decides how a value is shown (`85.0%`, `1.2 s`) and its Nagios perfdata unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Unit {
    /// 0–100.
    Percent,
    Seconds,
    Bytes,
    /// A count of things (clients, queries, keys).
    Count,
    /// Events per minute.
    PerMinute,
    /// A ratio without unit (load per core).
    Ratio,
}

impl Unit {
    /// The unit of Nagios perfdata (`%`, `s`, `B`, `c` for a counter; empty for none).
    pub(crate) fn perfdata(self) -> &'static str {
        match self {
            Self::Percent => "%",
            Self::Seconds => "s",
            Self::Bytes => "B",
            Self::Count | Self::PerMinute | Self::Ratio => "",
        }
    }

    /// The value for people: `85.0%`, `1.23 s`, `12 ms`, `1.5 MiB`, `3`, `0.4/min`.
    pub(crate) fn show(self, value: f64) -> String {
        match self {
            Self::Percent => format!("{value:.1}%"),
            Self::Seconds if value < 1.0 => format!("{:.0} ms", value * 1000.0),
            Self::Seconds if value < 120.0 => format!("{value:.2} s"),
            Self::Seconds => crate::units::format_seconds(value),
            #[expect(clippy::cast_possible_truncation, reason = "byte counts of a check fit an i64")]
            Self::Bytes => crate::units::format_bytes(value as i64),
            Self::Count => format!("{value:.0}"),
            Self::PerMinute => format!("{value:.1}/min"),
            Self::Ratio => format!("{value:.2}"),
        }
    }
}

/// Which side of the thresholds is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Direction {
    /// At or above a threshold is bad (disk use, latency).
    Above,
    /// At or below a threshold is bad (cache hit ratio).
    Below,
}

/// A warning and a critical threshold in the check's [`Unit`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct Thresholds {
    pub warning: f64,
    pub critical: f64,
    pub direction: Direction,
}

impl Thresholds {
    pub(crate) const fn above(warning: f64, critical: f64) -> Self {
        Self {
            warning,
            critical,
            direction: Direction::Above,
        }
    }

    pub(crate) const fn below(warning: f64, critical: f64) -> Self {
        Self {
            warning,
            critical,
            direction: Direction::Below,
        }
    }

    /// The level of `value`: CRITICAL at or past the critical threshold, WARNING at or past the warning one.
    pub(crate) fn judge(&self, value: f64) -> Level {
        let past = |threshold: f64| match self.direction {
            Direction::Above => value >= threshold,
            Direction::Below => value <= threshold,
        };
        if value.is_nan() {
            Level::Unknown
        } else if past(self.critical) {
            Level::Critical
        } else if past(self.warning) {
            Level::Warning
        } else {
            Level::Ok
        }
    }

    /// Whether the critical threshold is at least as far from OK as the warning one.
    pub(crate) fn is_ordered(&self) -> bool {
        match self.direction {
            Direction::Above => self.warning <= self.critical,
            Direction::Below => self.warning >= self.critical,
        }
    }
}

/// One measured result. A check family may return several (one per disk path, per store, per Redis measure).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CheckResult {
    /// The check's name, as `--check` takes it (`disk`, `redis`).
    pub check: &'static str,
    /// What was measured when a check measures several things: a path, a URL, `database@store`, `memory`.
    pub target: Option<String>,
    pub status: Level,
    /// `None` when nothing could be measured (UNKNOWN, or a state that has no number).
    pub value: Option<f64>,
    pub unit: Unit,
    /// `None` for a check without thresholds (a state that is OK or not).
    #[serde(flatten)]
    pub thresholds: Option<Thresholds>,
    pub message: String,
    /// How long the check took, in seconds.
    pub duration_seconds: f64,
}

impl CheckResult {
    /// A measured value judged against `thresholds`; `message` describes it (the level is added by the outputs).
    pub(crate) fn measured(
        check: &'static str,
        target: Option<String>,
        value: f64,
        unit: Unit,
        thresholds: Thresholds,
        message: impl Into<String>,
    ) -> Self {
        Self {
            check,
            target,
            status: thresholds.judge(value),
            value: Some(value),
            unit,
            thresholds: Some(thresholds),
            message: message.into(),
            duration_seconds: 0.0,
        }
    }

    /// A result with a fixed level and no thresholds.
    pub(crate) fn state(
        check: &'static str,
        target: Option<String>,
        status: Level,
        message: impl Into<String>,
    ) -> Self {
        Self {
            check,
            target,
            status,
            value: None,
            unit: Unit::Count,
            thresholds: None,
            message: message.into(),
            duration_seconds: 0.0,
        }
    }

    /// UNKNOWN: the check could not tell, and `reason` says why.
    pub(crate) fn unknown(check: &'static str, target: Option<String>, reason: impl Into<String>) -> Self {
        Self::state(check, target, Level::Unknown, reason)
    }

    /// The same result with a value (for a state that also has a number, e.g. a latency of a failed PING).
    #[must_use]
    pub(crate) fn with_value(mut self, value: f64, unit: Unit) -> Self {
        self.value = Some(value);
        self.unit = unit;
        self
    }

    /// `check` or `check target`, as the outputs name a result.
    pub(crate) fn label(&self) -> String {
        match &self.target {
            Some(target) => format!("{} {target}", self.check),
            None => self.check.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_judge_both_directions_at_the_boundary() {
        let disk = Thresholds::above(80.0, 90.0);
        assert_eq!(disk.judge(79.9), Level::Ok);
        assert_eq!(disk.judge(80.0), Level::Warning);
        assert_eq!(disk.judge(90.0), Level::Critical);
        assert_eq!(disk.judge(f64::NAN), Level::Unknown);
        let hit = Thresholds::below(99.0, 95.0);
        assert_eq!(hit.judge(99.5), Level::Ok);
        assert_eq!(hit.judge(99.0), Level::Warning);
        assert_eq!(hit.judge(90.0), Level::Critical);
        assert!(disk.is_ordered() && hit.is_ordered());
        assert!(!Thresholds::above(90.0, 80.0).is_ordered());
        assert!(!Thresholds::below(95.0, 99.0).is_ordered());
    }

    #[test]
    fn the_worst_level_puts_unknown_between_warning_and_critical() {
        use Level::{Critical, Ok, Unknown, Warning};
        assert_eq!(Level::worst([]), Ok);
        assert_eq!(Level::worst([Ok, Warning]), Warning);
        assert_eq!(Level::worst([Warning, Unknown, Ok]), Unknown);
        assert_eq!(Level::worst([Unknown, Critical, Warning]), Critical);
        assert_eq!(
            [Ok, Warning, Critical, Unknown].map(Level::code),
            [0, 1, 2, 3],
            "the Nagios plugin codes"
        );
    }
}
