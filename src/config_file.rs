//! The serde schema of `campctl.toml`, its discovery and named profiles (merged in `config_file/overlay.rs`).
//!
//! Every section is `deny_unknown_fields`, so a typo is an error that names the file and the key. A profile
//! (`[profiles.prod.database]`) has the same sections as the top level and overrides them field by field.
//!
//! Values with a type of their own are typed here (durations and sizes from `units`; `compression`,
//! `row_counts` and `jobs` from `dump_options`, `[backup] stores` from `storage`, `[database] sslmode` from `pg` as [`FileValue`]s, which keep where they were written so that a bad one is
//! refused naming the file, line and key: see `config_file/value.rs`).
//!
//! It is a pure schema on the settings floor (see `lib.rs`): it imports only the leaves, the output enums and the
//! value types of the services (`storage::StoreKind`, `pg::SslMode`, `notify::{Format, Event}`), and
//! `pg`, `storage` and the other layers below never import it; `settings/inputs.rs` converts its sections into the
//! input types they own. It must never resolve a value or decide a default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::dump_options::{Compression, Jobs, RowCounts};
use crate::exit::{Classify, ExitStatus};
use crate::pg::SslMode;
use crate::storage::StoreKind;
use crate::units::{ByteSize, HumanDuration};

mod azure;
mod health;
mod logs;
mod overlay;
mod retention;
mod schedule;
mod value;
pub use azure::AzureConfig;
pub use health::{
    ApiHealthConfig, AppServiceHealthConfig, AzureMetricsHealthConfig, BackupAgeHealthConfig, CacheHitHealthConfig,
    CpuHealthConfig, DiskHealthConfig, DurationHealthConfig, HealthConfig, MetricThresholdConfig, PercentHealthConfig,
    RatioHealthConfig, RedisHealthConfig, TimeoutStatus,
};
pub use health::{LogLatencyHealthConfig, LogRateHealthConfig};
pub use logs::{LogFieldsConfig, LogWorkspaceConfig, LogsConfig};
pub use retention::{CleanupConfig, DatabasesCleanupConfig, LogsCleanupConfig, RetentionConfig, RetentionRules};
pub use schedule::{FilesJobConfig, HealthJobConfig, JobConfig, ScheduleConfig};
pub use value::{BadValue, FileValue};

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    pub database: DatabaseConfig,
    pub output: OutputConfig,
    pub stats: StatsConfig,
    pub backup: BackupConfig,
    pub storage: StorageConfig,
    pub restore: RestoreConfig,
    pub test_restore: TestRestoreConfig,
    pub health: HealthConfig,
    pub notify: NotifyConfig,
    pub schedule: ScheduleConfig,
    pub retention: RetentionConfig,
    pub cleanup: CleanupConfig,
    pub azure: AzureConfig,
    pub logs: LogsConfig,
    /// Named environments: `[profiles.NAME.SECTION]`.
    pub profiles: BTreeMap<String, Sections>,
}

impl FileConfig {
    fn into_parts(self) -> (Sections, BTreeMap<String, Sections>) {
        let base = Sections {
            database: self.database,
            output: self.output,
            stats: self.stats,
            backup: self.backup,
            storage: self.storage,
            restore: self.restore,
            test_restore: self.test_restore,
            health: self.health,
            notify: self.notify,
            schedule: self.schedule,
            retention: self.retention,
            cleanup: self.cleanup,
            azure: self.azure,
            logs: self.logs,
        };
        (base, self.profiles)
    }
}

/// The sections that may appear at the top level and inside a profile.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sections {
    pub database: DatabaseConfig,
    pub output: OutputConfig,
    pub stats: StatsConfig,
    pub backup: BackupConfig,
    pub storage: StorageConfig,
    pub restore: RestoreConfig,
    pub test_restore: TestRestoreConfig,
    pub health: HealthConfig,
    pub notify: NotifyConfig,
    pub schedule: ScheduleConfig,
    pub retention: RetentionConfig,
    pub cleanup: CleanupConfig,
    pub azure: AzureConfig,
    pub logs: LogsConfig,
}

/// `[database]`: how to reach PostgreSQL; each key overrides the same part of `url`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// A `postgres://` URL or a libpq key/value string.
    pub url: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub dbname: Option<String>,
    pub sslmode: Option<FileValue<SslMode>>,
    pub sslrootcert: Option<PathBuf>,
    pub passfile: Option<PathBuf>,
    pub connect_timeout: Option<HumanDuration>,
    pub application_name: Option<String>,
    /// `statement_timeout` of campctl's own sessions (`0` disables it).
    pub statement_timeout: Option<HumanDuration>,
    /// `lock_timeout` of campctl's own sessions (`0` disables it).
    pub lock_timeout: Option<HumanDuration>,
    /// `password` (the default) or `entra`: an Entra ID token from `[azure] credential` is the password.
    pub auth: Option<String>,
}

/// `[output]`: defaults for the global output flags.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutputConfig {
    pub format: Option<crate::printer::OutputFormat>,
    pub log_format: Option<crate::logging::LogFormat>,
    pub color: Option<crate::printer::ColorChoice>,
    pub progress: Option<bool>,
}

/// `[stats]`: defaults of `campctl stats`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatsConfig {
    /// Rows per section (default 20).
    pub limit: Option<u32>,
    /// Queries running longer than this are reported (default `5m`).
    pub min_duration: Option<HumanDuration>,
}

/// `[backup]`: defaults of `campctl backup`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackupConfig {
    /// Which configured stores a backup writes to (`local`, `azure`); default: every configured store.
    pub stores: Option<Vec<FileValue<StoreKind>>>,
    /// `zstd[:LEVEL]`, `gzip[:LEVEL]`, `pgdump[:LEVEL]` or `none`.
    pub compression: Option<FileValue<Compression>>,
    /// `none`, `listed` or `all`.
    pub row_counts: Option<FileValue<RowCounts>>,
    /// Tables counted with `row_counts = "listed"` (`schema.table`).
    pub row_count_tables: Option<Vec<String>>,
    /// How long to wait for another run's lock (default `0`: fail at once with exit 11).
    pub wait_lock: Option<HumanDuration>,
    /// Expected size of a dump, to size Azure blocks (default: the database size).
    pub expected_size: Option<ByteSize>,
    /// zstd's worker threads (`0`: compress on the backup's own pipeline thread); default: see
    /// `commands/backup/settings.rs`.
    pub compression_threads: Option<u32>,
}

/// `[restore]`: defaults of `campctl restore` (and of `test-restore` where it has no own key).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RestoreConfig {
    /// Parallel pg_restore jobs (default 1: stream without a spool file).
    pub jobs: Option<FileValue<Jobs>>,
    /// Where the archive is spooled when `jobs` > 1 (default: the system temp directory).
    pub spool_dir: Option<PathBuf>,
    /// Database to connect to for CREATE / ALTER / DROP DATABASE (default `postgres`).
    pub maintenance_db: Option<String>,
    /// ANALYZE the restored database before it is swapped in (default true).
    pub analyze: Option<bool>,
    /// Pass `--no-owner` to pg_restore (default true, as in the runbook).
    pub no_owner: Option<bool>,
    /// Pass `--no-acl` to pg_restore (default true, as in the runbook).
    pub no_acl: Option<bool>,
    /// With one job, verify the whole backup before creating the new database, then stream it again (default true).
    pub verify_first: Option<bool>,
    /// How long the swap waits for the target's sessions to end (default `30s`).
    pub swap_timeout: Option<HumanDuration>,
    /// How long to wait for another run's lock on the database (default `0`: exit 11 at once).
    pub wait_lock: Option<HumanDuration>,
}

/// `[test_restore]`: defaults of `campctl test-restore`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TestRestoreConfig {
    /// A separate server for the scratch database (URL or key/value string; default: the configured server).
    pub target_url: Option<String>,
    /// Parallel pg_restore jobs (default: `[restore] jobs`).
    pub jobs: Option<FileValue<Jobs>>,
    /// SQL checks run in the restored scratch database: `[[test_restore.checks]]`.
    pub checks: Option<Vec<SqlCheck>>,
}

/// One user-defined check: the first column of the first row of `sql` must equal `expect`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SqlCheck {
    pub name: String,
    pub sql: String,
    /// `true`/`false`, a number, or a string compared with the value's text.
    pub expect: toml::Value,
}

/// `[storage]`: where backups go.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    pub local: Option<LocalStoreConfig>,
    pub azure: Option<AzureStoreConfig>,
}

/// `[storage.local]`: a directory.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalStoreConfig {
    /// Default: `/var/backups/campctl` as root, else `$XDG_DATA_HOME/campctl/backups`.
    pub path: Option<PathBuf>,
    /// `false` leaves the local store out when other stores are configured.
    pub enabled: Option<bool>,
}

/// `[storage.azure]`: a Blob container with an optional prefix.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AzureStoreConfig {
    /// `https://ACCOUNT.blob.core.windows.net` (or an Azurite endpoint `http://127.0.0.1:10000/devstoreaccount1`).
    pub account_url: Option<String>,
    /// Account name, when `account_url` is not given.
    pub account: Option<String>,
    pub container: Option<String>,
    /// Folder inside the container, e.g. `prod/`.
    pub prefix: Option<String>,
    /// `auto` (default), `connection-string`, `sas`, `environment`, `workload-identity`, `managed-identity`, `cli`.
    pub credential: Option<String>,
    /// Secret: `AccountName=…;AccountKey=…` or `UseDevelopmentStorage=true`.
    pub connection_string: Option<String>,
    /// Secret: a SAS token (`sv=…&sig=…`).
    pub sas_token: Option<String>,
    /// Client id of a user-assigned managed identity.
    pub managed_identity_client_id: Option<String>,
    /// Size of staged blocks (default: chosen so 50,000 blocks cover the expected size, at least 8MiB).
    pub block_size: Option<ByteSize>,
    /// Blocks in flight per upload (default 4).
    pub concurrency: Option<u32>,
    /// The check the service verifies on each staged block: `auto` (default: `crc64`, `md5` against the storage
    /// emulator), `crc64`, `md5` or `none`.
    pub block_checksum: Option<String>,
    /// Retries of one request (default 3).
    pub max_retries: Option<u32>,
    /// Timeout of one request (default `60s`).
    pub timeout: Option<HumanDuration>,
}

/// `[notify]`: a webhook told when a command ends (docs/notify.md).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// Secret: the webhook URL (`CAMPCTL_NOTIFY_WEBHOOK_URL` overrides it); no URL, no notification.
    pub webhook_url: Option<String>,
    /// `slack` (default), `teams` or `json`.
    pub format: Option<crate::notify::Format>,
    /// Which outcomes are sent: `failure` (default), `warning`, `success`.
    pub on: Option<Vec<crate::notify::Event>>,
    /// How long one attempt may take (default `10s`).
    pub timeout: Option<HumanDuration>,
}

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("Failed to read the configuration file `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Invalid configuration file `{}`", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: Box<toml::de::Error>,
    },
    #[error("Profile `{profile}` is not defined in `{}`", path.display())]
    UnknownProfile {
        path: PathBuf,
        profile: String,
        known: Vec<String>,
    },
    #[error("Profile `{profile}` was requested but no configuration file was found")]
    ProfileWithoutFile { profile: String },
    /// A value of the right TOML type that does not parse, found when it is first used.
    #[error("`{} = {}` in `{}` line {}: {}", .0.key, .0.text, .0.path.display(), .0.line, .0.message)]
    Value(Box<BadValue>),
}

impl Classify for ConfigError {
    fn exit_status(&self) -> ExitStatus {
        ExitStatus::Usage
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            Self::Read { .. } => "Check the path given with `--config` or `CAMPCTL_CONFIG`".to_string(),
            Self::Parse { .. } => "Fix the key or value named above; docs/configuration.md lists every key".to_string(),
            Self::UnknownProfile { known, .. } if known.is_empty() => {
                "The file defines no `[profiles.NAME]` tables".to_string()
            }
            Self::UnknownProfile { known, .. } => format!("Defined profiles: {}", known.join(", ")),
            Self::ProfileWithoutFile { .. } => {
                "Create `campctl.toml` with a `[profiles.NAME]` table or pass `--config PATH`".to_string()
            }
            Self::Value(bad) if bad.hint.is_some() => bad.hint.clone().unwrap_or_default(),
            Self::Value(_) => "Fix the value named above; docs/configuration.md lists every key".to_string(),
        })
    }
}

/// Where the configuration came from (the default: no file).
#[derive(Debug, Clone, Default)]
pub struct LoadedConfig {
    pub path: Option<PathBuf>,
    pub profile: Option<String>,
    pub sections: Sections,
    /// The file's text, to name the line of a bad value ([`FileValue`]).
    pub text: Option<String>,
    /// With a profile: the top level's `[database]` and the profile's own, before they were merged into
    /// `sections`. The connection takes them as two layers, so that a password stays with its user and host.
    pub database_layers: Option<(DatabaseConfig, DatabaseConfig)>,
}

/// Candidate locations in discovery order, after `--config` / `CAMPCTL_CONFIG`.
pub fn discovery_paths(cwd: &Path, xdg_config_home: Option<PathBuf>, home: Option<PathBuf>) -> Vec<PathBuf> {
    let mut paths = vec![cwd.join("campctl.toml")];
    if let Some(xdg) = xdg_config_home.or_else(|| home.map(|home| home.join(".config"))) {
        paths.push(xdg.join("campctl").join("config.toml"));
    }
    paths.push(PathBuf::from("/etc/campctl/config.toml"));
    paths
}

/// Loads the explicit file, or the first file found by discovery, and applies the profile.
pub fn load(
    explicit: Option<&Path>,
    candidates: &[PathBuf],
    profile: Option<&str>,
) -> Result<LoadedConfig, ConfigError> {
    let path = match explicit {
        Some(path) => Some(path.to_path_buf()),
        None => candidates.iter().find(|path| path.is_file()).cloned(),
    };
    let Some(path) = path else {
        if let Some(profile) = profile {
            return Err(ConfigError::ProfileWithoutFile {
                profile: profile.to_string(),
            });
        }
        return Ok(LoadedConfig {
            path: None,
            profile: None,
            sections: Sections::default(),
            text: None,
            database_layers: None,
        });
    };
    tracing::debug!("reading configuration from `{}`", path.display());
    let text = fs_err::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    let file: FileConfig = toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.clone(),
        source: Box::new(source),
    })?;
    let (base, mut profiles) = file.into_parts();
    let mut database_layers = None;
    let sections = match profile {
        None => base,
        Some(name) => {
            let Some(overlay) = profiles.remove(name) else {
                return Err(ConfigError::UnknownProfile {
                    path,
                    profile: name.to_string(),
                    known: profiles.keys().cloned().collect(),
                });
            };
            database_layers = Some((base.database.clone(), overlay.database.clone()));
            overlay.over(base)
        }
    };
    Ok(LoadedConfig {
        path: Some(path),
        profile: profile.map(str::to_string),
        sections,
        text: Some(text),
        database_layers,
    })
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<FileConfig, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn unknown_key_is_named() {
        let err = parse("[database]\nhots = \"x\"\n").expect_err("unknown key");
        assert!(err.to_string().contains("unknown field `hots`"), "{err}");
        let err = parse("[databse]\n").expect_err("unknown section");
        assert!(err.to_string().contains("databse"), "{err}");
    }

    #[test]
    fn profile_overrides_field_by_field() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        fs_err::write(
            &path,
            "[database]\nhost = \"base\"\nport = 5433\n[profiles.prod.database]\nhost = \"prod\"\n",
        )
        .expect("write");
        let loaded = load(Some(&path), &[], Some("prod")).expect("load");
        assert_eq!(loaded.sections.database.host.as_deref(), Some("prod"));
        assert_eq!(loaded.sections.database.port, Some(5433));
        assert!(matches!(
            load(Some(&path), &[], Some("nope")),
            Err(ConfigError::UnknownProfile { .. })
        ));
    }

    #[test]
    fn bad_duration_is_explained() {
        let err = parse("[database]\nlock_timeout = \"10 minutes\"\n").expect_err("bad duration");
        assert!(err.to_string().contains("invalid duration `10 minutes`"), "{err}");
    }
}
