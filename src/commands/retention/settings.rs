//! The settings of a retention run (`campctl cleanup`, `backup --prune`), resolved before anything runs: the retention policy of each series (built-in
//! defaults < `[retention]` < `[retention.files]` or `[retention.databases.NAME]`, field by field), `[cleanup]`'s
//! guard and grace, and the flags. A bad value is refused here naming its table and key (exit 2).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::catalog::retention::{DEFAULT_KEEP_WITHIN, DEFAULT_MIN_KEEP, Policy, Within, Zone};
use crate::config_file::{CleanupConfig, LoadedConfig, RetentionConfig, RetentionRules};
use crate::exit::UserError;
use crate::storage::Store;

/// The default of `[cleanup] max_delete_fraction`.
const DEFAULT_MAX_DELETE_FRACTION: f64 = 0.5;
/// The default of `[retention] snapshot_max_age` (`cleanup --snapshots`): the runbook's other ages.
pub(crate) const DEFAULT_SNAPSHOT_MAX_AGE: Duration = Duration::from_secs(30 * 86_400);
/// The default of `[cleanup] incomplete_grace`.
const DEFAULT_INCOMPLETE_GRACE: Duration = Duration::from_secs(24 * 3600);

/// The policies of every series.
#[derive(Debug, Clone)]
pub(crate) struct Policies {
    base: Policy,
    files: Policy,
    databases: BTreeMap<String, Policy>,
}

impl Policies {
    /// The policy of a series: a database's dumps (with its legacy archives) or a files backup's archives.
    pub(crate) fn of(&self, files: bool, name: &str) -> &Policy {
        if files {
            return &self.files;
        }
        self.databases.get(name).unwrap_or(&self.base)
    }
}

/// Everything a retention run (`cleanup --backups`, `backup --prune`) needs.
#[derive(Debug)]
pub(crate) struct RetentionSettings {
    pub stores: Vec<Store>,
    pub policies: Policies,
    /// Only this database's (or files backup's) series.
    pub db: Option<String>,
    /// Only database dumps (with legacy archives), no files backups: `backup --prune` holds only the dump's lock.
    pub only_dumps: bool,
    pub max_delete_fraction: f64,
    pub incomplete_grace: Duration,
    pub dry_run: bool,
    pub yes: bool,
    pub now: DateTime<Utc>,
}

impl RetentionSettings {
    /// Resolves the flags and the file.
    ///
    /// # Errors
    /// A bad `[retention]` or `[cleanup]` value (exit 2), naming its table and key.
    pub(crate) fn resolve(
        db: Option<String>,
        stores: Vec<Store>,
        config: &LoadedConfig,
        dry_run: bool,
        yes: bool,
    ) -> anyhow::Result<Self> {
        let policies = policies(&config.sections.retention)?;
        let cleanup = &config.sections.cleanup;
        Ok(Self {
            stores,
            policies,
            db,
            only_dumps: false,
            max_delete_fraction: max_delete_fraction(cleanup)?,
            incomplete_grace: cleanup.incomplete_grace.map_or(DEFAULT_INCOMPLETE_GRACE, |d| d.0),
            dry_run,
            yes,
            now: Utc::now(),
        })
    }
}

pub(crate) fn max_delete_fraction(cleanup: &CleanupConfig) -> anyhow::Result<f64> {
    match cleanup.max_delete_fraction {
        None => Ok(DEFAULT_MAX_DELETE_FRACTION),
        Some(fraction) if (0.0..=1.0).contains(&fraction) => Ok(fraction),
        Some(fraction) => Err(UserError::usage(format!(
            "`[cleanup] max_delete_fraction` is {fraction}: it must be between 0 and 1"
        ))
        .with_hint("Write a fraction of a store's backups, such as `0.5` (deleting more needs `--yes`)")
        .into()),
    }
}

/// Resolves every policy of `[retention]`.
///
/// # Errors
/// A bad duration, zone or `min_keep`, naming its table and key.
pub(crate) fn policies(retention: &RetentionConfig) -> anyhow::Result<Policies> {
    let zone = match retention.time_zone.as_deref() {
        None => Zone::Local,
        Some(text) => text.parse().map_err(|err: String| {
            UserError::usage(format!("`[retention] time_zone`: {err}"))
                .with_hint("IANA names such as `Europe/Paris` are not supported: write `local` or the offset")
        })?,
    };
    let defaults = Policy {
        zone,
        ..Policy::default()
    };
    let base = layer(defaults, &retention.rules(), "[retention]")?;
    let files = match &retention.files {
        Some(rules) => layer(base, rules, "[retention.files]")?,
        None => base,
    };
    let mut databases = BTreeMap::new();
    for (name, rules) in retention.databases.iter().flatten() {
        databases.insert(
            name.clone(),
            layer(base, rules, &format!("[retention.databases.{name}]"))?,
        );
    }
    Ok(Policies { base, files, databases })
}

/// `rules` over `below`, field by field.
fn layer(below: Policy, rules: &RetentionRules, table: &str) -> anyhow::Result<Policy> {
    let keep_within = match rules.keep_within.as_deref() {
        None => below.keep_within,
        Some(text) => text.parse::<Within>().map_err(|err| {
            UserError::usage(format!("`{table} keep_within`: {err}"))
                .with_hint("Durations count back from the newest backup, as restic's `--keep-within`")
        })?,
    };
    let min_keep = rules.min_keep.unwrap_or(below.min_keep);
    if min_keep == 0 {
        return Err(UserError::usage(format!(
            "`{table} min_keep` is 0: the floor must keep at least one backup"
        ))
        .with_hint(format!(
            "Set `min_keep` to 1 or more (the default is {DEFAULT_MIN_KEEP}); docs/retention.md"
        ))
        .into());
    }
    Ok(Policy {
        keep_last: rules.keep_last.unwrap_or(below.keep_last),
        keep_hourly: rules.keep_hourly.unwrap_or(below.keep_hourly),
        keep_daily: rules.keep_daily.unwrap_or(below.keep_daily),
        keep_weekly: rules.keep_weekly.unwrap_or(below.keep_weekly),
        keep_monthly: rules.keep_monthly.unwrap_or(below.keep_monthly),
        keep_yearly: rules.keep_yearly.unwrap_or(below.keep_yearly),
        keep_within,
        min_keep,
        require_verified: rules.require_verified.unwrap_or(below.require_verified),
        zone: below.zone,
    })
}

/// A duration as the runbook writes ages: whole days as `30d` (not `4w2d`), anything else as [`HumanDuration`].
///
/// [`HumanDuration`]: crate::units::HumanDuration
pub(crate) fn days(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs > 0 && secs.is_multiple_of(86_400) && duration.subsec_nanos() == 0 {
        format!("{}d", secs / 86_400)
    } else {
        crate::units::HumanDuration(duration).to_string()
    }
}

/// The defaults `config show` prints beside unset `[retention]` and `[cleanup]` keys.
pub(crate) fn file_defaults() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        ("retention.keep_within", DEFAULT_KEEP_WITHIN.to_string().into()),
        ("retention.min_keep", DEFAULT_MIN_KEEP.into()),
        ("retention.require_verified", false.into()),
        ("retention.time_zone", "local".into()),
        ("retention.snapshot_max_age", days(DEFAULT_SNAPSHOT_MAX_AGE).into()),
        ("cleanup.max_delete_fraction", DEFAULT_MAX_DELETE_FRACTION.into()),
        (
            "cleanup.incomplete_grace",
            crate::units::HumanDuration(DEFAULT_INCOMPLETE_GRACE).to_string().into(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::policies;
    use crate::config_file::RetentionConfig;

    fn parse(text: &str) -> RetentionConfig {
        toml::from_str(text).expect("a [retention] table")
    }

    #[test]
    fn overrides_layer_field_by_field() {
        let config = parse(
            "keep_daily = 7\nmin_keep = 5\ntime_zone = \"UTC\"\n[files]\nkeep_within = \"14d\"\n\
             [databases.appdb]\nkeep_daily = 30\nrequire_verified = true\n",
        );
        let all = policies(&config).expect("valid");
        let base = all.of(false, "other");
        assert_eq!(
            (base.keep_daily, base.min_keep, base.keep_within.to_string()),
            (7, 5, "30d".into())
        );
        let files = all.of(true, "appdb");
        assert_eq!((files.keep_daily, files.keep_within.to_string()), (7, "14d".into()));
        let appdb = all.of(false, "appdb");
        assert_eq!(
            (appdb.keep_daily, appdb.min_keep, appdb.require_verified),
            (30, 5, true)
        );
        assert_eq!(appdb.zone.to_string(), "UTC");
    }

    #[test]
    fn bad_values_name_their_table_and_key() {
        for (text, named) in [
            ("min_keep = 0", "`[retention] min_keep` is 0"),
            (
                "[databases.appdb]\nkeep_within = \"30x\"",
                "`[retention.databases.appdb] keep_within`",
            ),
            ("time_zone = \"Europe/Paris\"", "`[retention] time_zone`"),
        ] {
            let err = policies(&parse(text)).expect_err(text);
            assert!(err.to_string().contains(named), "{text}: {err}");
        }
    }
}
