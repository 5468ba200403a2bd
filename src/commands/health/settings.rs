//! [`HealthSettings`]: `campctl health`'s flags and `[health]` resolved before any check runs: which checks run,
//! their thresholds (runbook section 5 unless configured), timeouts and where the state file is.

use std::path::PathBuf;
use std::time::Duration;

use clap::ValueEnum;

use super::HealthArgs;
pub(crate) mod api;
pub(crate) mod azure;
pub(crate) mod backups;
pub(crate) mod logs;
pub(crate) mod redis;

use self::api::ApiSettings;
use self::azure::AzureHealthSettings;
use self::backups::BackupHealthSettings;
use self::logs::LogsHealthSettings;
use self::redis::RedisSettings;
use super::check::{Level, Thresholds};
use super::database::settings::DatabaseHealthSettings;
use super::limits::CheckName;
use super::limits::{known_checks, own_timeout, positive, thresholds};
use crate::commands::Ctx;
use crate::config_file::{HealthConfig, TimeoutStatus};
use crate::env_vars::EnvVars;
use crate::exit::UserError;
use crate::units::HumanDuration;

/// `[health.disk]`.
#[derive(Debug, Clone)]
pub(crate) struct DiskSettings {
    pub paths: Vec<PathBuf>,
    pub thresholds: Thresholds,
}

/// `[health.cpu]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuSettings {
    pub thresholds: Thresholds,
    pub interval: Duration,
}

/// Everything `campctl health` needs, resolved.
#[derive(Debug, Clone)]
pub(crate) struct HealthSettings {
    /// The checks to run, in report order.
    pub checks: Vec<CheckName>,
    /// Checks of the default list left out because nothing configures them, with what would.
    pub not_configured: Vec<(CheckName, &'static str)>,
    /// The default timeout of one check (`--timeout`, `[health] timeout`, 5 s).
    pub timeout: Duration,
    /// Per-check timeouts from `[health.CHECK] timeout`.
    pub timeouts: Vec<(CheckName, Duration)>,
    /// What a timeout is: UNKNOWN, or CRITICAL with `timeout_status = "critical"`.
    pub timeout_status: Level,
    pub state_file: PathBuf,
    pub watch: Option<Duration>,
    pub output: Option<PathBuf>,
    pub disk: DiskSettings,
    pub memory: Thresholds,
    pub cpu: CpuSettings,
    pub load: Thresholds,
    pub database: DatabaseHealthSettings,
    /// `[health.redis]`; `None` without a URL.
    pub redis: Option<RedisSettings>,
    /// `[[health.api]]`.
    pub api: Vec<ApiSettings>,
    pub backups: BackupHealthSettings,
    /// `[health.azure_metrics]`, `[health.app_service]` and, for those checks, `[azure]`.
    pub azure: AzureHealthSettings,
    /// `[health.error_rate]`, `[health.latency_p95]` and their logs source.
    pub logs: LogsHealthSettings,
}

/// Runbook 5.1.1 and 5.1.3, and campctl's own where the runbook has none.
mod defaults {
    use super::Thresholds;

    pub(super) const DISK: Thresholds = Thresholds::above(80.0, 90.0);
    pub(super) const MEMORY: Thresholds = Thresholds::above(80.0, 95.0);
    pub(super) const CPU: Thresholds = Thresholds::above(70.0, 90.0);
    /// Not in the runbook: a run queue as long as the cores are many is full, twice that is overloaded.
    pub(super) const LOAD: Thresholds = Thresholds::above(1.0, 2.0);
    pub(super) const TIMEOUT_SECS: u64 = 5;
    pub(super) const CPU_INTERVAL_MILLIS: u64 = 1000;
}

impl HealthSettings {
    /// Merges the flags with `[health]`.
    ///
    /// # Errors
    /// A usage error (exit 2): an unknown check name in `[health] checks`, a `--check` that nothing configures,
    /// thresholds in the wrong order, a zero timeout or interval, no place for the state file.
    pub(crate) fn resolve(args: HealthArgs, ctx: &Ctx) -> anyhow::Result<Self> {
        let file = &ctx.settings.config.sections.health;
        let where_ = |table: &str| match &ctx.settings.config.path {
            Some(path) => format!("`[health{table}]` in `{}`", path.display()),
            None => format!("`[health{table}]`"),
        };

        let timeout = positive(args.timeout.or(file.timeout), defaults::TIMEOUT_SECS * 1000, || {
            if args.timeout.is_some() {
                "`--timeout`".to_string()
            } else {
                format!("`timeout` of {}", where_(""))
            }
        })?;
        let mut timeouts = Vec::new();
        for (check, timeout) in [
            (CheckName::Disk, file.disk.as_ref().and_then(|t| t.timeout)),
            (CheckName::Memory, file.memory.as_ref().and_then(|t| t.timeout)),
            (CheckName::Cpu, file.cpu.as_ref().and_then(|t| t.timeout)),
            (CheckName::Load, file.load.as_ref().and_then(|t| t.timeout)),
            (CheckName::Redis, file.redis.as_ref().and_then(|t| t.timeout)),
        ] {
            own_timeout(&mut timeouts, check, timeout, &where_)?;
        }
        let database = DatabaseHealthSettings::resolve(file, &where_, &mut timeouts)?;

        let pick = |table: &str, warning: Option<f64>, critical: Option<f64>, default: Thresholds| {
            thresholds(warning, critical, default, || where_(table))
        };
        let disk = DiskSettings {
            paths: disk_paths(file, ctx),
            thresholds: pick(
                ".disk",
                file.disk.as_ref().and_then(|t| t.warning),
                file.disk.as_ref().and_then(|t| t.critical),
                defaults::DISK,
            )?,
        };
        let memory = pick(
            ".memory",
            file.memory.as_ref().and_then(|t| t.warning),
            file.memory.as_ref().and_then(|t| t.critical),
            defaults::MEMORY,
        )?;
        let cpu = CpuSettings {
            thresholds: pick(
                ".cpu",
                file.cpu.as_ref().and_then(|t| t.warning),
                file.cpu.as_ref().and_then(|t| t.critical),
                defaults::CPU,
            )?,
            interval: positive(
                file.cpu.as_ref().and_then(|t| t.interval),
                defaults::CPU_INTERVAL_MILLIS,
                || format!("`interval` of {}", where_(".cpu")),
            )?,
        };
        let load = pick(
            ".load",
            file.load.as_ref().and_then(|t| t.warning),
            file.load.as_ref().and_then(|t| t.critical),
            defaults::LOAD,
        )?;

        let redis = RedisSettings::resolve(file, &where_)?;
        let api = self::api::resolve(file, &where_, timeout)?;
        if let Some(longest) = api.iter().map(|entry| entry.timeout).max() {
            // Each URL times out on its own and says so; the check's own timeout only catches what is left.
            timeouts.push((CheckName::Api, longest + Duration::from_secs(1)));
        }
        let backups = BackupHealthSettings::resolve(file, ctx, &where_, &mut timeouts)?;
        let azure = AzureHealthSettings::resolve(file, ctx, &where_, &mut timeouts)?;
        let logs = LogsHealthSettings::resolve(file, ctx, &where_, &mut timeouts)?;

        let mut settings = Self {
            checks: Vec::new(),
            not_configured: Vec::new(),
            timeout,
            timeouts,
            timeout_status: match file.timeout_status {
                Some(TimeoutStatus::Critical) => Level::Critical,
                Some(TimeoutStatus::Unknown) | None => Level::Unknown,
            },
            state_file: state_file(file, ctx)?,
            watch: watch(args.watch)?,
            output: args.output,
            disk,
            memory,
            cpu,
            load,
            database,
            redis,
            api,
            backups,
            azure,
            logs,
        };
        settings.select(&args.checks, &args.skip, file, &where_(""))?;
        settings.backups.usable_for(&settings.checks)?;
        settings.azure.prepare(&settings.checks, ctx)?;
        settings.logs.prepare(&settings.checks, ctx)?;
        Ok(settings)
    }

    /// Picks the checks: `--check` (each must be configured), else `[health] checks`, else every configured check;
    /// then `--skip`.
    fn select(
        &mut self,
        wanted: &[CheckName],
        skip: &[CheckName],
        file: &HealthConfig,
        where_: &str,
    ) -> anyhow::Result<()> {
        let mut checks: Vec<CheckName> = if wanted.is_empty() {
            match &file.checks {
                Some(names) => names
                    .iter()
                    .map(|name| {
                        CheckName::from_str(name, false).map_err(|_| {
                            UserError::usage(format!("Unknown check `{name}` in `checks` of {where_}"))
                                .with_hint(format!("Known checks: {}", known_checks()))
                        })
                    })
                    .collect::<Result<_, _>>()?,
                None => CheckName::all().to_vec(),
            }
        } else {
            wanted.to_vec()
        };
        checks.sort();
        checks.dedup();
        checks.retain(|check| !skip.contains(check));
        let explicit = !wanted.is_empty();
        let mut selected = Vec::new();
        for check in checks {
            match self.missing_configuration(check) {
                None => selected.push(check),
                Some(what) if explicit => {
                    return Err(
                        UserError::usage(format!("`--check {}` has nothing to check", check.name()))
                            .with_hint(format!("Configure {what} (docs/health.md)"))
                            .into(),
                    );
                }
                Some(what) => self.not_configured.push((check, what)),
            }
        }
        if selected.is_empty() {
            return Err(UserError::usage("No health check is left to run")
                .with_hint(format!(
                    "`--skip` or `[health] checks` left none out of: {}",
                    known_checks()
                ))
                .into());
        }
        self.checks = selected;
        Ok(())
    }

    /// What `check` needs configured that is not, if anything.
    fn missing_configuration(&self, check: CheckName) -> Option<&'static str> {
        match check {
            CheckName::Disk => self.disk.paths.is_empty().then_some("`[health.disk] paths`"),
            // The database checks too: the connection always has a value (libpq's defaults when nothing is set).
            CheckName::Memory
            | CheckName::Cpu
            | CheckName::Load
            | CheckName::Database
            | CheckName::Connections
            | CheckName::Replication
            | CheckName::Deadlocks
            | CheckName::LongQueries
            | CheckName::IdleInTransaction
            | CheckName::Wraparound
            | CheckName::CacheHit
            | CheckName::BackupAge
            | CheckName::VerifyAge => None,
            CheckName::Redis => self.redis.is_none().then_some("`[health.redis] url`"),
            CheckName::Api => self.api.is_empty().then_some("`[[health.api]]` with a `url`"),
            CheckName::AzureMetrics | CheckName::AppService => self.azure.missing(check),
            CheckName::ErrorRate | CheckName::LatencyP95 => self.logs.missing(check),
        }
    }

    /// The timeout of `check`.
    pub(crate) fn timeout_of(&self, check: CheckName) -> Duration {
        self.timeouts
            .iter()
            .find_map(|(name, timeout)| (*name == check).then_some(*timeout))
            .unwrap_or(self.timeout)
    }
}

/// `[health.disk] paths`, else `/` and the local backup store's directory when one is configured.
fn disk_paths(file: &HealthConfig, ctx: &Ctx) -> Vec<PathBuf> {
    if let Some(paths) = file.disk.as_ref().and_then(|disk| disk.paths.clone()) {
        return paths;
    }
    let mut paths = vec![PathBuf::from("/")];
    if let Some(path) = ctx
        .settings
        .config
        .sections
        .storage
        .local
        .as_ref()
        .and_then(|local| local.path.clone())
    {
        paths.push(path);
    }
    paths
}

/// `[health] state_file`, else `/var/lib/campctl/health-state.json` as root, else
/// `$XDG_STATE_HOME/campctl/health-state.json` (`~/.local/state/…`).
fn state_file(file: &HealthConfig, ctx: &Ctx) -> anyhow::Result<PathBuf> {
    if let Some(path) = &file.state_file {
        return Ok(path.clone());
    }
    if crate::os::is_root() {
        return Ok(PathBuf::from("/var/lib/campctl/health-state.json"));
    }
    let state_home = std::env::var_os(EnvVars::XDG_STATE_HOME)
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
        .or_else(|| ctx.settings.home.as_ref().map(|home| home.join(".local/state")));
    state_home
        .map(|dir| dir.join("campctl").join("health-state.json"))
        .ok_or_else(|| {
            UserError::usage("Cannot choose a health state file: neither `XDG_STATE_HOME` nor `HOME` is set")
                .with_hint("Set `[health] state_file` in campctl.toml")
                .into()
        })
}

fn watch(value: Option<HumanDuration>) -> anyhow::Result<Option<Duration>> {
    match value {
        Some(value) if value.0 < Duration::from_secs(1) => Err(UserError::usage(format!(
            "`--watch {value}` is too short: the checks themselves take up to the timeout"
        ))
        .with_hint("Give 1s or more, e.g. `--watch 10s`")
        .into()),
        other => Ok(other.map(|value| value.0)),
    }
}
