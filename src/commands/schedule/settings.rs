//! [`ScheduleSettings`]: `[schedule]` resolved into the list of jobs `campctl schedule` writes, each with its
//! calendar and its campctl command line, before anything is rendered. The defaults are the runbook's calendar
//! (2.1.2, 7.1–7.3, 9.1); docs/schedule.md has the table.

use std::path::{Path, PathBuf};

use crate::commands::Ctx;
use crate::config_file::{JobConfig, LoadedConfig};
use crate::exit::UserError;
use crate::units::{TimeOfDay, TimeZoneName};

/// What the schedule is written for: the defaults of the binary and config paths differ (a container has
/// neither the path of this campctl nor this file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Cron,
    Systemd,
    Kubernetes,
}

/// A day of the week, as each output spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Weekday {
    Wednesday,
    Saturday,
    Sunday,
}

impl Weekday {
    /// cron's day-of-week field (0 = Sunday).
    pub(crate) fn cron(self) -> u8 {
        match self {
            Self::Wednesday => 3,
            Self::Saturday => 6,
            Self::Sunday => 0,
        }
    }

    /// `date +%u` (1 = Monday … 7 = Sunday).
    pub(crate) fn iso(self) -> u8 {
        match self {
            Self::Wednesday => 3,
            Self::Saturday => 6,
            Self::Sunday => 7,
        }
    }

    /// systemd's `OnCalendar=` abbreviation.
    pub(crate) fn systemd(self) -> &'static str {
        match self {
            Self::Wednesday => "Wed",
            Self::Saturday => "Sat",
            Self::Sunday => "Sun",
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Wednesday => "Wednesday",
            Self::Saturday => "Saturday",
            Self::Sunday => "Sunday",
        }
    }
}

/// When a job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum When {
    Daily(TimeOfDay),
    Weekly(Weekday, TimeOfDay),
    /// The first such weekday of the month: days 1–7 of the month that fall on it.
    FirstOfMonth(Weekday, TimeOfDay),
    /// Every N minutes from the hour (N divides 60).
    EveryMinutes(u8),
}

impl When {
    /// "daily 03:00", "first Saturday of the month 02:00", for comments and descriptions.
    pub(crate) fn describe(self) -> String {
        match self {
            Self::Daily(at) => format!("daily {at}"),
            Self::Weekly(day, at) => format!("weekly on {} {at}", day.name()),
            Self::FirstOfMonth(day, at) => format!("first {} of the month {at}", day.name()),
            Self::EveryMinutes(minutes) => format!("every {minutes} minutes"),
        }
    }
}

/// One job: a name that is also the unit / CronJob name, its calendar and its campctl arguments.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    /// `backup`, `backup-app`, `vacuum-full`: lowercase letters, digits and `-`.
    pub id: String,
    /// "backup of app".
    pub title: String,
    /// The runbook sections the job comes from.
    pub runbook: &'static str,
    pub when: When,
    /// The arguments after the binary.
    pub args: Vec<String>,
    /// Whether the job's exit codes 1–3 are a report rather than a failure (health writing a textfile).
    pub status_is_report: bool,
}

/// Everything `campctl schedule` writes, resolved.
#[derive(Debug, Clone)]
pub(crate) struct ScheduleSettings {
    pub time_zone: Option<TimeZoneName>,
    /// The campctl the jobs run.
    pub binary: String,
    pub jobs: Vec<Job>,
    /// Jobs of the runbook's calendar left out, with why and what would add them.
    pub left_out: Vec<String>,
}

/// The runbook's calendar.
mod defaults {
    use super::TimeOfDay;

    /// 2.1.2 / 2.2.1: "毎日 3:00 AM".
    pub(super) const BACKUP: TimeOfDay = TimeOfDay::new(3, 0);
    /// 2.1.2 / 2.4.2: "毎日 4:00 AM".
    pub(super) const FILES_BACKUP: TimeOfDay = TimeOfDay::new(4, 0);
    /// 9.1.2 names no time: after both backups, so that retention sees the day's new ones.
    pub(super) const CLEANUP: TimeOfDay = TimeOfDay::new(5, 0);
    /// 7.2 names Wednesday, no time: after the day's backups and cleanup.
    pub(super) const TEST_RESTORE: TimeOfDay = TimeOfDay::new(6, 0);
    /// 7.3 names the first Saturday, no time: the quietest hour before the day's backup.
    pub(super) const VACUUM_FULL: TimeOfDay = TimeOfDay::new(2, 0);
    /// 3.3 names no day: the first Sunday, the day after VACUUM FULL, so the two never overlap.
    pub(super) const REINDEX: TimeOfDay = TimeOfDay::new(2, 0);
    /// 5.1 / 9.1.1: the alert rules' 5-minute window.
    pub(super) const HEALTH_MINUTES: u8 = 5;
}

impl ScheduleSettings {
    /// `[schedule]` as jobs for `target`.
    ///
    /// # Errors
    /// A usage error (exit 2) naming the key: a time that is not `HH:MM`, a bad zone name, a database name that
    /// is empty or gives no job name, two databases that give the same job name.
    pub(crate) fn resolve(ctx: &Ctx, target: Target) -> anyhow::Result<Self> {
        let loaded = &ctx.settings.config;
        let file = &loaded.sections.schedule;
        let time_zone = loaded.value("[schedule] time_zone", file.time_zone.as_ref())?;

        let binary = match (&file.binary, target) {
            (Some(binary), _) => binary.display().to_string(),
            (None, Target::Kubernetes) => "campctl".to_string(),
            (None, Target::Cron | Target::Systemd) => std::env::current_exe()
                .ok()
                .filter(|path| path.is_absolute())
                .map_or_else(|| "campctl".to_string(), |path| path.display().to_string()),
        };

        // What every job passes first: the same file and profile as this run, JSON logs.
        let mut global = Vec::new();
        let config = match (&file.config, target) {
            (Some(config), _) => Some(config.clone()),
            (None, Target::Kubernetes) => None,
            (None, Target::Cron | Target::Systemd) => loaded.path.as_deref().map(absolute),
        };
        if let Some(config) = config {
            global.extend(["--config".to_string(), config.display().to_string()]);
        }
        if let Some(profile) = &loaded.profile {
            global.extend(["--profile".to_string(), profile.clone()]);
        }
        global.extend(["--log-format".to_string(), "json".to_string()]);
        let command = |args: &[&str]| -> Vec<String> {
            global
                .iter()
                .cloned()
                .chain(args.iter().map(|arg| (*arg).to_string()))
                .collect()
        };

        let databases = match &file.databases {
            None => vec![None],
            Some(names) => {
                let mut seen: Vec<(String, &str)> = Vec::new();
                for name in names {
                    let id = job_id(name).ok_or_else(|| {
                        UserError::usage(format!(
                            "`[schedule] databases` has `{name}`, which is not a database name{}",
                            in_file(loaded)
                        ))
                        .with_hint("List database names, e.g. databases = [\"app\", \"analytics\"]")
                    })?;
                    if let Some((_, other)) = seen.iter().find(|(seen_id, _)| *seen_id == id) {
                        return Err(UserError::usage(format!(
                            "`[schedule] databases`: `{other}` and `{name}` give the same job name `backup-{id}`{}",
                            in_file(loaded)
                        ))
                        .with_hint("Job names keep letters, digits and `-` of a database's name in lowercase")
                        .into());
                    }
                    seen.push((id, name));
                }
                seen.into_iter()
                    .map(|(id, name)| Some((id, name.to_string())))
                    .collect()
            }
        };
        if databases.is_empty() {
            return Err(
                UserError::usage(format!("`[schedule] databases` is empty{}", in_file(loaded)))
                    .with_hint("Leave it out for the configured database, or list the databases to back up")
                    .into(),
            );
        }

        let mut jobs = Vec::new();
        let mut left_out = Vec::new();
        let at = |key: &str, job: Option<&JobConfig>, default: TimeOfDay| -> anyhow::Result<TimeOfDay> {
            Ok(loaded
                .value(&format!("[schedule.{key}] at"), job.and_then(|job| job.at.as_ref()))?
                .unwrap_or(default))
        };
        let enabled = |job: Option<&JobConfig>| job.and_then(|job| job.enabled).unwrap_or(true);

        let backup_at = at("backup", file.backup.as_ref(), defaults::BACKUP)?;
        if enabled(file.backup.as_ref()) {
            for database in &databases {
                let (id, title, args) = match database {
                    None => (
                        "backup".to_string(),
                        format!("backup of the configured database ({})", ctx.settings.db.dbname),
                        command(&["backup"]),
                    ),
                    Some((id, name)) => (
                        format!("backup-{id}"),
                        format!("backup of {name}"),
                        command(&["backup", name]),
                    ),
                };
                jobs.push(Job {
                    id,
                    title,
                    runbook: "2.1.2, 2.2.1",
                    when: When::Daily(backup_at),
                    args,
                    status_is_report: false,
                });
            }
        }

        let files = file.files_backup.as_ref();
        let files_at = loaded
            .value("[schedule.files_backup] at", files.and_then(|job| job.at.as_ref()))?
            .unwrap_or(defaults::FILES_BACKUP);
        if files.and_then(|job| job.enabled).unwrap_or(true) {
            match files.and_then(|job| job.source.as_ref()) {
                None => left_out.push(
                    "files-backup (runbook 2.4.2, daily 04:00): set `[schedule.files_backup] source` to the \
                     directory to archive"
                        .to_string(),
                ),
                Some(source) => {
                    let source = source.display().to_string();
                    let mut args = vec!["backup", "files", "--source", source.as_str()];
                    if let Some(name) = files.and_then(|job| job.name.as_deref()) {
                        args.extend(["--name", name]);
                    }
                    jobs.push(Job {
                        id: "files-backup".to_string(),
                        title: format!("files backup of {source}"),
                        runbook: "2.1.2, 2.4.2",
                        when: When::Daily(files_at),
                        args: command(&args),
                        status_is_report: false,
                    });
                }
            }
        }

        let cleanup_at = at("cleanup", file.cleanup.as_ref(), defaults::CLEANUP)?;
        if enabled(file.cleanup.as_ref()) {
            jobs.push(Job {
                id: "cleanup".to_string(),
                title: "cleanup: backup retention, old logs, leftover databases".to_string(),
                runbook: "9.1.2, 2.2.1, 2.4.2",
                when: When::Daily(cleanup_at),
                args: command(&["cleanup"]),
                status_is_report: false,
            });
        }

        if file.health.as_ref().and_then(|job| job.enabled).unwrap_or(true) {
            let (args, status_is_report) = match &file.health_textfile {
                Some(path) => {
                    let path = path.display().to_string();
                    (
                        command(&["health", "--format", "prometheus", "--output", path.as_str()]),
                        true,
                    )
                }
                None => (command(&["health"]), false),
            };
            jobs.push(Job {
                id: "health".to_string(),
                title: "health checks".to_string(),
                runbook: "5.1, 7.1, 9.1.1",
                when: When::EveryMinutes(defaults::HEALTH_MINUTES),
                args,
                status_is_report,
            });
        }

        let test_restore_at = at("test_restore", file.test_restore.as_ref(), defaults::TEST_RESTORE)?;
        if enabled(file.test_restore.as_ref()) {
            for database in &databases {
                let (id, title, args) = match database {
                    None => (
                        "test-restore".to_string(),
                        format!(
                            "restore test of the newest backup of the configured database ({})",
                            ctx.settings.db.dbname
                        ),
                        command(&["test-restore"]),
                    ),
                    Some((id, name)) => (
                        format!("test-restore-{id}"),
                        format!("restore test of the newest backup of {name}"),
                        command(&["test-restore", "--db", name]),
                    ),
                };
                jobs.push(Job {
                    id,
                    title,
                    runbook: "7.2, 2.5.1",
                    when: When::Weekly(Weekday::Wednesday, test_restore_at),
                    args,
                    status_is_report: false,
                });
            }
        }

        let vacuum_at = at("vacuum_full", file.vacuum_full.as_ref(), defaults::VACUUM_FULL)?;
        if enabled(file.vacuum_full.as_ref()) {
            jobs.push(Job {
                id: "vacuum-full".to_string(),
                title: "VACUUM FULL".to_string(),
                runbook: "7.3, 3.1.2",
                when: When::FirstOfMonth(Weekday::Saturday, vacuum_at),
                args: command(&["--yes", "vacuum", "--full"]),
                status_is_report: false,
            });
        }

        let reindex_at = at("reindex", file.reindex.as_ref(), defaults::REINDEX)?;
        if enabled(file.reindex.as_ref()) {
            jobs.push(Job {
                id: "reindex".to_string(),
                title: "REINDEX CONCURRENTLY of bloated indexes".to_string(),
                runbook: "3.3.3",
                when: When::FirstOfMonth(Weekday::Sunday, reindex_at),
                args: command(&["reindex", "--min-bloat-ratio", "0.3", "--min-size", "10MiB"]),
                status_is_report: false,
            });
        }

        Ok(Self {
            time_zone,
            binary,
            jobs,
            left_out,
        })
    }
}

/// A database name as part of a job name: lowercase letters, digits and `-` (systemd unit names and Kubernetes
/// object names both take these); `None` when nothing is left.
fn job_id(name: &str) -> Option<String> {
    let mut id = String::new();
    for character in name.chars() {
        if character.is_ascii_alphanumeric() {
            id.push(character.to_ascii_lowercase());
        } else if !id.ends_with('-') {
            id.push('-');
        }
    }
    let id = id.trim_matches('-').to_string();
    (!id.is_empty()).then_some(id)
}

/// The configuration file's path made absolute, for jobs that start in another directory.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// " in `/etc/campctl/config.toml`", when there is a file.
fn in_file(loaded: &LoadedConfig) -> String {
    loaded
        .path
        .as_ref()
        .map(|path| format!(" in `{}`", path.display()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::job_id;

    #[test]
    fn job_ids() {
        assert_eq!(job_id("app").as_deref(), Some("app"));
        assert_eq!(job_id("Camp_Backend_DB").as_deref(), Some("camp-backend-db"));
        assert_eq!(job_id("__x__").as_deref(), Some("x"));
        assert_eq!(job_id("日本").as_deref(), None);
        assert_eq!(job_id("").as_deref(), None);
    }
}
