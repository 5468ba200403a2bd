//! `[schedule]` and its per-job tables (`[schedule.backup]`, `[schedule.vacuum_full]`, ...): the schema of what
//! `campctl schedule` writes. `commands/schedule/settings.rs` applies the runbook's calendar as defaults.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::FileValue;
use crate::units::{TimeOfDay, TimeZoneName};

/// `[schedule]`: the calendar `campctl schedule` prints.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleConfig {
    /// IANA zone of every time below (default: the zone of the machine or cluster that runs the jobs).
    pub time_zone: Option<FileValue<TimeZoneName>>,
    /// The campctl the jobs run (default: the path of the campctl that writes the schedule; `campctl` for
    /// Kubernetes).
    pub binary: Option<PathBuf>,
    /// The configuration file the jobs read, passed as `--config` (default: the file this run read; none for
    /// Kubernetes).
    pub config: Option<PathBuf>,
    /// The databases backed up and test-restored, one job each (default: the configured database).
    pub databases: Option<Vec<String>>,
    /// Where the health job writes Prometheus gauges for node_exporter's textfile collector (default: no file,
    /// a plain `campctl health`).
    pub health_textfile: Option<PathBuf>,
    pub backup: Option<JobConfig>,
    pub files_backup: Option<FilesJobConfig>,
    pub cleanup: Option<JobConfig>,
    pub health: Option<HealthJobConfig>,
    pub test_restore: Option<JobConfig>,
    pub vacuum_full: Option<JobConfig>,
    pub reindex: Option<JobConfig>,
}

/// `[schedule.JOB]`: when a job runs and whether it is written at all.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobConfig {
    /// `HH:MM` (the day is the runbook's: daily, Wednesday, first Saturday ...).
    pub at: Option<FileValue<TimeOfDay>>,
    pub enabled: Option<bool>,
}

/// `[schedule.files_backup]`: `campctl backup files` of a directory (runbook 2.4.2).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesJobConfig {
    pub at: Option<FileValue<TimeOfDay>>,
    pub enabled: Option<bool>,
    /// The directory archived (`backup files --source`); without it the job is left out.
    pub source: Option<PathBuf>,
    /// The backup's name (`backup files --name`; default: the directory's name).
    pub name: Option<String>,
}

/// `[schedule.health]`: the health check runs every 5 minutes.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthJobConfig {
    pub enabled: Option<bool>,
}
