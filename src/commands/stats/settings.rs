//! `campctl stats settings`: the settings that decide how well autovacuum and connections behave, against the
//! runbook's recommendations (3.1.3) and common practice.
//!
//! Values are compared in the server's base unit (`pg_settings.setting`), so `1min` and `60s` are the same.
//! The status is `ok`, `differs` (from the recommendation), `off` (autovacuum cannot work: `autovacuum` or
//! `track_counts` is off, also warned about on stderr), or `info` (no recommendation; shown for context).
//! The values are those of campctl's session, so `ALTER DATABASE … SET` and `ALTER ROLE … SET` count.

use serde::Serialize;
use tokio_postgres::Client;

use crate::printer::{Cell, Printer, Report, Table};

/// How a value is judged, in the setting's base unit.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// A boolean that must be on; off is [`Status::Off`].
    On,
    Equals(f64),
    AtLeast(f64),
    /// Above zero (zero or below disables the feature).
    Positive,
    /// Enabled (≥ 0) and at most this much.
    AtMost(f64),
    /// No recommendation.
    Info,
}

/// One setting campctl looks at.
struct Check {
    name: &'static str,
    recommended: Option<&'static str>,
    rule: Rule,
    reason: &'static str,
}

const CHECKS: &[Check] = &[
    Check {
        name: "autovacuum",
        recommended: Some("on"),
        rule: Rule::On,
        reason: "runbook 3.1.3; without it dead tuples pile up and nothing prevents transaction ID wraparound",
    },
    Check {
        name: "track_counts",
        recommended: Some("on"),
        rule: Rule::On,
        reason: "autovacuum decides from these counts; off, it never runs",
    },
    Check {
        name: "autovacuum_naptime",
        recommended: Some("1min"),
        rule: Rule::Equals(60.0),
        reason: "runbook 3.1.3",
    },
    Check {
        name: "autovacuum_vacuum_scale_factor",
        recommended: Some("0.2"),
        rule: Rule::Equals(0.2),
        reason: "runbook 3.1.3: vacuum when 20% of a table changed",
    },
    Check {
        name: "autovacuum_analyze_scale_factor",
        recommended: Some("0.1"),
        rule: Rule::Equals(0.1),
        reason: "runbook 3.1.3: analyze when 10% of a table changed",
    },
    Check {
        name: "autovacuum_max_workers",
        recommended: Some(">= 3"),
        rule: Rule::AtLeast(3.0),
        reason: "PostgreSQL's default; fewer workers fall behind on many tables",
    },
    Check {
        name: "maintenance_work_mem",
        recommended: Some(">= 64MB"),
        rule: Rule::AtLeast(65_536.0),
        reason: "PostgreSQL's default; less makes VACUUM scan indexes more than once",
    },
    Check {
        name: "max_connections",
        recommended: None,
        rule: Rule::Info,
        reason: "see `campctl stats connections` for the use",
    },
    Check {
        name: "statement_timeout",
        recommended: None,
        rule: Rule::Info,
        reason: "usually set per role or application rather than server-wide",
    },
    Check {
        name: "idle_in_transaction_session_timeout",
        recommended: Some("> 0 (e.g. 10min)"),
        rule: Rule::Positive,
        reason: "runbook 8.1.1 ends sessions idle for 10 minutes; idle transactions hold locks and stop vacuum",
    },
    Check {
        name: "log_min_duration_statement",
        recommended: Some("0 to 5min"),
        rule: Rule::AtMost(300_000.0),
        reason: "runbook 3.4.3 looks for statements running over 5 minutes; log them too",
    },
];

const SETTINGS_SQL: &str = "
    SELECT name, setting, unit, current_setting(name), source, pending_restart
    FROM pg_settings WHERE name = ANY ($1)";

/// The verdict on one setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    Ok,
    Differs,
    Off,
    Info,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Differs => "differs",
            Self::Off => "OFF",
            Self::Info => "info",
        }
    }
}

/// The report of `campctl stats settings`.
#[derive(Debug, Serialize)]
pub(crate) struct SettingsReport {
    /// In the order campctl checks them; a setting the server does not have is left out.
    pub settings: Vec<SettingRow>,
}

/// One setting.
#[derive(Debug, Serialize)]
pub(crate) struct SettingRow {
    pub name: String,
    /// As `SHOW` prints it (`1min`, `64MB`).
    pub value: String,
    /// `pg_settings.setting`: the value in `unit`.
    pub setting: String,
    pub unit: Option<String>,
    pub recommended: Option<&'static str>,
    pub status: Status,
    /// Why the recommendation.
    pub reason: &'static str,
    /// Where the value comes from (`default`, `configuration file`, `database`, `user`, ...).
    pub source: Option<String>,
    /// Changed in the configuration, waiting for a restart.
    pub pending_restart: Option<bool>,
}

fn judge(rule: Rule, setting: &str) -> Status {
    let number = setting.parse::<f64>().ok();
    match (rule, number) {
        (Rule::Info, _) => Status::Info,
        (Rule::On, _) => {
            if setting == "on" {
                Status::Ok
            } else {
                Status::Off
            }
        }
        (Rule::Equals(want), Some(value)) if (value - want).abs() < 1e-9 => Status::Ok,
        (Rule::AtLeast(want), Some(value)) if value >= want => Status::Ok,
        (Rule::Positive, Some(value)) if value > 0.0 => Status::Ok,
        (Rule::AtMost(limit), Some(value)) if (0.0..=limit).contains(&value) => Status::Ok,
        _ => Status::Differs,
    }
}

/// Reads and judges the settings.
///
/// # Errors
/// The query failed.
pub(crate) async fn collect(client: &Client) -> anyhow::Result<SettingsReport> {
    let names: Vec<&str> = CHECKS.iter().map(|check| check.name).collect();
    let rows = super::visible("pg_settings", client.query(SETTINGS_SQL, &[&names]))
        .await?
        .unwrap_or_default();
    let settings = CHECKS
        .iter()
        .filter_map(|check| {
            let row = rows.iter().find(|row| row.get::<_, &str>(0) == check.name)?;
            let setting: String = row.get(1);
            Some(SettingRow {
                name: check.name.to_string(),
                value: row.get(3),
                status: judge(check.rule, &setting),
                setting,
                unit: row.get(2),
                recommended: check.recommended,
                reason: check.reason,
                source: row.get(4),
                pending_restart: row.get(5),
            })
        })
        .collect();
    Ok(SettingsReport { settings })
}

/// Warns on stderr about every setting that stops autovacuum.
pub(crate) fn warn_loudly(report: &SettingsReport, printer: &Printer) {
    for row in report.settings.iter().filter(|row| row.status == Status::Off) {
        printer.warn(&format!("`{}` is off: {}", row.name, row.reason));
    }
}

impl SettingsReport {
    /// The names of the settings that are not as recommended.
    pub(crate) fn differing(&self) -> Vec<String> {
        self.settings
            .iter()
            .filter(|row| matches!(row.status, Status::Differs | Status::Off))
            .map(|row| row.name.clone())
            .collect()
    }
}

impl Report for SettingsReport {
    fn tables(&self) -> Vec<Table> {
        let mut table = Table::new("Settings", &["name", "value", "recommended", "status", "source"]);
        for row in &self.settings {
            table.row(vec![
                row.name.clone().into(),
                row.value.clone().into(),
                Cell::opt(row.recommended),
                row.status.name().into(),
                Cell::opt(row.source.clone()),
            ]);
        }
        for row in self
            .settings
            .iter()
            .filter(|row| matches!(row.status, Status::Differs | Status::Off))
        {
            table.notes.push(format!("{}: {}", row.name, row.reason));
        }
        if self.settings.iter().any(|row| row.pending_restart == Some(true)) {
            table
                .notes
                .push("Some settings were changed and wait for a server restart".to_string());
        }
        vec![table]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert_eq!(judge(Rule::On, "on"), Status::Ok);
        assert_eq!(judge(Rule::On, "off"), Status::Off);
        assert_eq!(judge(Rule::Equals(60.0), "60"), Status::Ok);
        assert_eq!(judge(Rule::Equals(0.2), "0.05"), Status::Differs);
        assert_eq!(judge(Rule::AtLeast(65_536.0), "262144"), Status::Ok);
        assert_eq!(judge(Rule::Positive, "0"), Status::Differs);
        assert_eq!(judge(Rule::AtMost(300_000.0), "-1"), Status::Differs);
        assert_eq!(judge(Rule::AtMost(300_000.0), "1000"), Status::Ok);
        assert_eq!(judge(Rule::Info, "100"), Status::Info);
    }
}
