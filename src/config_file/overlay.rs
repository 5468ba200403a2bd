//! Named profiles: `[profiles.NAME]` has the same sections as the top level and overrides them field by field
//! ("prefer self", as uv's `Combine`). This file only merges two parsed files' worth of sections; it never reads a
//! file, resolves a value or decides a default.

use super::AzureConfig;
use super::{AppServiceHealthConfig, AzureMetricsHealthConfig, MetricThresholdConfig};
use super::{
    AzureStoreConfig, BackupConfig, DatabaseConfig, LocalStoreConfig, NotifyConfig, OutputConfig, RestoreConfig,
    Sections, StatsConfig, StorageConfig, TestRestoreConfig,
};
use super::{
    BackupAgeHealthConfig, CacheHitHealthConfig, CpuHealthConfig, DiskHealthConfig, DurationHealthConfig, HealthConfig,
    PercentHealthConfig, RatioHealthConfig, RedisHealthConfig,
};
use super::{CleanupConfig, DatabasesCleanupConfig, LogsCleanupConfig, RetentionConfig, RetentionRules};
use super::{FilesJobConfig, HealthJobConfig, JobConfig, ScheduleConfig};
use super::{LogFieldsConfig, LogWorkspaceConfig, LogsConfig};
use super::{LogLatencyHealthConfig, LogRateHealthConfig};

/// Field-by-field "prefer self" merge, as uv's `Combine`.
trait Over {
    fn over(self, base: Self) -> Self;
}

macro_rules! impl_over {
    ($ty:ty { $($field:ident),* $(,)? }) => {
        impl Over for $ty {
            fn over(self, base: Self) -> Self {
                Self { $($field: self.$field.or(base.$field)),* }
            }
        }
    };
}

impl_over!(DatabaseConfig {
    url,
    host,
    port,
    user,
    password,
    dbname,
    sslmode,
    sslrootcert,
    passfile,
    connect_timeout,
    application_name,
    statement_timeout,
    lock_timeout,
    auth,
});
impl_over!(OutputConfig {
    format,
    log_format,
    color,
    progress
});
impl_over!(StatsConfig { limit, min_duration });
impl_over!(LogFieldsConfig {
    timestamp,
    timestamp_format,
    level,
    message,
    user,
    ip,
    path,
    status,
    duration,
    duration_unit,
});
impl_over!(LogWorkspaceConfig {
    console_table,
    app_table,
    http_table,
    time_column,
    console_message,
    app_message,
    app_properties,
    user_key,
    ip_key,
    http_duration,
    http_path,
    http_status,
    wait,
});
impl Over for LogsConfig {
    fn over(self, base: Self) -> Self {
        Self {
            files: self.files.or(base.files),
            error_levels: self.error_levels.or(base.error_levels),
            auth_failure_match: self.auth_failure_match.or(base.auth_failure_match),
            since: self.since.or(base.since),
            bin: self.bin.or(base.bin),
            threshold: self.threshold.or(base.threshold),
            exact_percentiles_limit: self.exact_percentiles_limit.or(base.exact_percentiles_limit),
            fields: self.fields.over(base.fields),
            workspace_id: self.workspace_id.or(base.workspace_id),
            workspace: self.workspace.over(base.workspace),
        }
    }
}
impl_over!(BackupConfig {
    stores,
    compression,
    row_counts,
    row_count_tables,
    wait_lock,
    expected_size,
    compression_threads
});
impl_over!(RestoreConfig {
    jobs,
    spool_dir,
    maintenance_db,
    analyze,
    no_owner,
    no_acl,
    verify_first,
    swap_timeout,
    wait_lock
});
impl_over!(TestRestoreConfig {
    target_url,
    jobs,
    checks
});
impl_over!(LocalStoreConfig { path, enabled });
impl_over!(NotifyConfig {
    webhook_url,
    format,
    on,
    timeout
});
impl_over!(AzureStoreConfig {
    account_url,
    account,
    container,
    prefix,
    credential,
    connection_string,
    sas_token,
    managed_identity_client_id,
    block_size,
    concurrency,
    block_checksum,
    max_retries,
    timeout,
});

impl_over!(AzureConfig {
    subscription_id,
    resource_group,
    postgres_server,
    app_service,
    app_service_plan,
    credential,
    managed_identity_client_id,
    cloud,
    management_endpoint,
    management_scope,
    loganalytics_endpoint,
    loganalytics_scope,
    timeout,
    max_retries,
    max_retry_wait,
    poll_interval,
});

impl_over!(PercentHealthConfig {
    warning,
    critical,
    timeout
});
impl_over!(RatioHealthConfig {
    warning,
    critical,
    timeout
});
impl_over!(DiskHealthConfig {
    paths,
    warning,
    critical,
    timeout
});
impl_over!(CpuHealthConfig {
    warning,
    critical,
    interval,
    timeout
});
impl_over!(DurationHealthConfig {
    warning,
    critical,
    timeout
});
impl_over!(CacheHitHealthConfig {
    warning,
    critical,
    min_blocks,
    timeout
});

impl_over!(RedisHealthConfig {
    url,
    password,
    ca_file,
    latency_warning,
    latency_critical,
    memory_warning,
    memory_critical,
    evicted_warning,
    evicted_critical,
    clients_warning,
    clients_critical,
    timeout
});

impl_over!(BackupAgeHealthConfig {
    databases,
    warning,
    critical,
    timeout
});

impl_over!(MetricThresholdConfig { warning, critical });
impl_over!(AppServiceHealthConfig { timeout });
impl_over!(LogRateHealthConfig {
    warning,
    critical,
    window,
    timeout
});
impl_over!(LogLatencyHealthConfig {
    warning,
    critical,
    window,
    timeout
});

impl Over for AzureMetricsHealthConfig {
    fn over(self, base: Self) -> Self {
        // Thresholds merge by metric name, each field preferring the profile's.
        let thresholds = match (self.thresholds, base.thresholds) {
            (Some(mine), Some(mut merged)) => {
                for (name, value) in mine {
                    let entry = match merged.remove(&name) {
                        Some(base) => value.over(base),
                        None => value,
                    };
                    merged.insert(name, entry);
                }
                Some(merged)
            }
            (mine, base) => mine.or(base),
        };
        Self {
            window: self.window.or(base.window),
            interval: self.interval.or(base.interval),
            server_metrics: self.server_metrics.or(base.server_metrics),
            plan_metrics: self.plan_metrics.or(base.plan_metrics),
            thresholds,
            timeout: self.timeout.or(base.timeout),
        }
    }
}

impl_over!(JobConfig { at, enabled });
impl_over!(FilesJobConfig {
    at,
    enabled,
    source,
    name
});
impl_over!(HealthJobConfig { enabled });

impl Over for ScheduleConfig {
    fn over(self, base: Self) -> Self {
        Self {
            time_zone: self.time_zone.or(base.time_zone),
            binary: self.binary.or(base.binary),
            config: self.config.or(base.config),
            databases: self.databases.or(base.databases),
            health_textfile: self.health_textfile.or(base.health_textfile),
            backup: self.backup.over(base.backup),
            files_backup: self.files_backup.over(base.files_backup),
            cleanup: self.cleanup.over(base.cleanup),
            health: self.health.over(base.health),
            test_restore: self.test_restore.over(base.test_restore),
            vacuum_full: self.vacuum_full.over(base.vacuum_full),
            reindex: self.reindex.over(base.reindex),
        }
    }
}

impl Over for HealthConfig {
    fn over(self, base: Self) -> Self {
        Self {
            checks: self.checks.or(base.checks),
            timeout: self.timeout.or(base.timeout),
            timeout_status: self.timeout_status.or(base.timeout_status),
            state_file: self.state_file.or(base.state_file),
            disk: self.disk.over(base.disk),
            memory: self.memory.over(base.memory),
            cpu: self.cpu.over(base.cpu),
            load: self.load.over(base.load),
            database: self.database.over(base.database),
            connections: self.connections.over(base.connections),
            replication: self.replication.over(base.replication),
            deadlocks: self.deadlocks.over(base.deadlocks),
            long_queries: self.long_queries.over(base.long_queries),
            idle_in_transaction: self.idle_in_transaction.over(base.idle_in_transaction),
            wraparound: self.wraparound.over(base.wraparound),
            cache_hit: self.cache_hit.over(base.cache_hit),
            redis: self.redis.over(base.redis),
            // A profile's URL list replaces the base list: entries have no name to merge by.
            api: self.api.or(base.api),
            backup_age: self.backup_age.over(base.backup_age),
            verify_age: self.verify_age.over(base.verify_age),
            azure_metrics: self.azure_metrics.over(base.azure_metrics),
            app_service: self.app_service.over(base.app_service),
            error_rate: self.error_rate.over(base.error_rate),
            latency_p95: self.latency_p95.over(base.latency_p95),
        }
    }
}

impl_over!(RetentionRules {
    keep_last,
    keep_hourly,
    keep_daily,
    keep_weekly,
    keep_monthly,
    keep_yearly,
    keep_within,
    min_keep,
    require_verified,
});
impl_over!(LogsCleanupConfig { roots, globs, max_age });
impl_over!(DatabasesCleanupConfig { max_age });

impl Over for CleanupConfig {
    fn over(self, base: Self) -> Self {
        Self {
            max_delete_fraction: self.max_delete_fraction.or(base.max_delete_fraction),
            incomplete_grace: self.incomplete_grace.or(base.incomplete_grace),
            logs: self.logs.over(base.logs),
            docker: self.docker.or(base.docker),
            vacuum: self.vacuum.or(base.vacuum),
            databases: self.databases.over(base.databases),
            // A profile's list replaces the base list, as `[health] api` does.
            snapshot_containers: self.snapshot_containers.or(base.snapshot_containers),
        }
    }
}

impl Over for RetentionConfig {
    fn over(self, base: Self) -> Self {
        // `[profiles.P.retention.databases.NAME]` overrides the same database's table field by field.
        let databases = match (self.databases, base.databases) {
            (Some(mine), Some(mut theirs)) => {
                for (name, rules) in mine {
                    let merged = match theirs.remove(&name) {
                        Some(base_rules) => rules.over(base_rules),
                        None => rules,
                    };
                    theirs.insert(name, merged);
                }
                Some(theirs)
            }
            (mine, theirs) => mine.or(theirs),
        };
        Self {
            keep_last: self.keep_last.or(base.keep_last),
            keep_hourly: self.keep_hourly.or(base.keep_hourly),
            keep_daily: self.keep_daily.or(base.keep_daily),
            keep_weekly: self.keep_weekly.or(base.keep_weekly),
            keep_monthly: self.keep_monthly.or(base.keep_monthly),
            keep_yearly: self.keep_yearly.or(base.keep_yearly),
            keep_within: self.keep_within.or(base.keep_within),
            min_keep: self.min_keep.or(base.min_keep),
            require_verified: self.require_verified.or(base.require_verified),
            time_zone: self.time_zone.or(base.time_zone),
            snapshot_max_age: self.snapshot_max_age.or(base.snapshot_max_age),
            files: self.files.over(base.files),
            databases,
        }
    }
}

impl<T: Over> Over for Option<T> {
    fn over(self, base: Self) -> Self {
        match (self, base) {
            (Some(top), Some(base)) => Some(top.over(base)),
            (top, base) => top.or(base),
        }
    }
}

impl Over for StorageConfig {
    fn over(self, base: Self) -> Self {
        Self {
            local: self.local.over(base.local),
            azure: self.azure.over(base.azure),
        }
    }
}

impl Sections {
    /// This profile's sections over the top level's, field by field.
    pub(super) fn over(self, base: Self) -> Self {
        Self {
            database: self.database.over(base.database),
            output: self.output.over(base.output),
            stats: self.stats.over(base.stats),
            backup: self.backup.over(base.backup),
            storage: self.storage.over(base.storage),
            restore: self.restore.over(base.restore),
            test_restore: self.test_restore.over(base.test_restore),
            health: self.health.over(base.health),
            notify: self.notify.over(base.notify),
            schedule: self.schedule.over(base.schedule),
            retention: self.retention.over(base.retention),
            cleanup: self.cleanup.over(base.cleanup),
            azure: self.azure.over(base.azure),
            logs: self.logs.over(base.logs),
        }
    }
}
