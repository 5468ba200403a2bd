//! The resolved settings of `campctl restore` ([`RestoreSettings`]) and `campctl test-restore`
//! ([`TestRestoreSettings`]), and the pg_restore options both resolve the same way ([`RestoreOptions::resolve`]):
//! flag > `campctl.toml` > default, before any connection (STYLE.md rule 1).
//!
//! This is the shared home of the pair's settings: `test-restore` no longer borrows `restore`'s resolution; each
//! command names its own keys (`[test_restore] jobs` before `[restore] jobs`). A bad value is refused here naming
//! its key and file. Nothing here connects or writes; the checks that need the server (free connection slots,
//! templates) run after it.

use std::path::PathBuf;
use std::time::Duration;

use super::SourceArgs;
use super::args::{RestoreArgs, TestRestoreArgs};
use super::preflight;
use super::run::RestoreOptions;
use crate::config_file::{ConfigError, FileValue, LoadedConfig, SqlCheck};
use crate::dump_options::Jobs;
use crate::units::HumanDuration;

/// `[restore] maintenance_db`, default `postgres`: where CREATE / ALTER / DROP DATABASE are sent from.
pub(super) fn maintenance_db(loaded: &LoadedConfig) -> String {
    loaded
        .sections
        .restore
        .maintenance_db
        .clone()
        .unwrap_or_else(|| "postgres".into())
}

impl RestoreOptions {
    /// pg_restore options from flags, then the file's `jobs` keys in order (each validated), then `[restore]`, then
    /// defaults.
    ///
    /// # Errors
    /// A `jobs` key out of range, naming the file, line and key (exit 2; `--jobs` is checked by clap).
    pub(super) fn resolve(
        source: &SourceArgs,
        loaded: &LoadedConfig,
        jobs_keys: &[(Option<&FileValue<Jobs>>, &str)],
        progress: bool,
        verify_first_default: bool,
    ) -> Result<Self, ConfigError> {
        let config = &loaded.sections;
        let verify_first = match (source.verify_first, source.no_verify_first) {
            (true, _) => true,
            (_, true) => false,
            _ => verify_first_default,
        };
        let mut configured = None;
        for (value, key) in jobs_keys {
            let jobs = loaded.value(key, *value)?;
            configured = configured.or(jobs.map(|jobs| jobs.0));
        }
        Ok(Self {
            verify_first,
            jobs: source.jobs.or(configured).unwrap_or(1).max(1),
            spool_dir: source
                .spool_dir
                .clone()
                .or_else(|| config.restore.spool_dir.clone())
                .unwrap_or_else(std::env::temp_dir),
            no_owner: !source.keep_owner && config.restore.no_owner.unwrap_or(true),
            no_acl: !source.keep_acl && config.restore.no_acl.unwrap_or(true),
            no_tablespaces: source.no_tablespaces,
            progress,
        })
    }
}

/// `[restore]`'s and `[test_restore]`'s defaults as `config show` prints them: resolved with no flags and an empty
/// file, so that they are these resolvers' own and cannot drift from what a run uses.
pub(crate) fn file_defaults() -> Vec<(&'static str, serde_json::Value)> {
    use clap::{Args as _, FromArgMatches as _};
    let empty = LoadedConfig::default();
    let command = RestoreArgs::augment_args(clap::Command::new("restore"));
    let Ok(args) = command
        .try_get_matches_from(["restore"])
        .map_err(anyhow::Error::from)
        .and_then(|matches| Ok(RestoreArgs::from_arg_matches(&matches)?))
    else {
        return Vec::new();
    };
    let Ok(defaults) = RestoreSettings::resolve(&args, "db", &empty, false) else {
        return Vec::new();
    };
    let options = &defaults.options;
    vec![
        ("restore.jobs", options.jobs.into()),
        ("restore.spool_dir", "(the system temp directory)".into()),
        ("restore.maintenance_db", defaults.maintenance_db.clone().into()),
        ("restore.analyze", defaults.analyze.into()),
        ("restore.no_owner", options.no_owner.into()),
        ("restore.no_acl", options.no_acl.into()),
        ("restore.verify_first", options.verify_first.into()),
        (
            "restore.swap_timeout",
            HumanDuration(defaults.swap_timeout).to_string().into(),
        ),
        (
            "restore.wait_lock",
            HumanDuration(defaults.wait_lock).to_string().into(),
        ),
        ("test_restore.target_url", "(the configured database's server)".into()),
        ("test_restore.jobs", "([restore] jobs)".into()),
    ]
}

/// `campctl restore`, resolved.
#[derive(Debug)]
pub(crate) struct RestoreSettings {
    /// The database whose backups `latest` means.
    pub source_db: String,
    /// The database replaced (or created).
    pub target: String,
    pub options: RestoreOptions,
    pub maintenance_db: String,
    /// `--wait-lock`, `[restore] wait_lock`, default 0.
    pub wait_lock: Duration,
    /// `[restore] swap_timeout`, default 30 s.
    pub swap_timeout: Duration,
    /// `--no-analyze` unset and `[restore] analyze` (default true).
    pub analyze: bool,
}

impl RestoreSettings {
    /// # Errors
    /// A bad target name, `jobs` out of range (naming file, line and key), or a spool directory that is not one
    /// (exit 2).
    pub(crate) fn resolve(
        args: &RestoreArgs,
        default_db: &str,
        loaded: &LoadedConfig,
        progress: bool,
    ) -> anyhow::Result<Self> {
        let file = &loaded.sections.restore;
        let source_db = args.source.db.clone().unwrap_or_else(|| default_db.to_string());
        let target = args.to.clone().unwrap_or_else(|| source_db.clone());
        let maintenance_db = maintenance_db(loaded);
        preflight::check_target_name(&target, &maintenance_db)?;
        let options = RestoreOptions::resolve(
            &args.source,
            loaded,
            &[(file.jobs.as_ref(), "[restore] jobs")],
            progress,
            file.verify_first.unwrap_or(true),
        )?;
        if options.jobs > 1 {
            preflight::check_spool_dir(&options.spool_dir)?;
        }
        Ok(Self {
            source_db,
            target,
            options,
            maintenance_db,
            wait_lock: args.wait_lock.or(file.wait_lock).map_or(Duration::ZERO, |d| d.0),
            swap_timeout: file.swap_timeout.map_or(Duration::from_secs(30), |d| d.0),
            analyze: !args.no_analyze && file.analyze.unwrap_or(true),
        })
    }
}

/// `campctl test-restore`, resolved (the target server is resolved by the command, from `--target-url` or
/// `[test_restore] target_url`).
#[derive(Debug)]
pub(crate) struct TestRestoreSettings {
    pub source_db: String,
    pub options: RestoreOptions,
    pub maintenance_db: String,
    /// `[[test_restore.checks]]`.
    pub checks: Vec<SqlCheck>,
    pub junit: Option<PathBuf>,
    /// `--wait-lock`, `[restore] wait_lock`, default 0: how long to wait for the store lock of the backup's series.
    pub wait_lock: Duration,
}

impl TestRestoreSettings {
    /// The scratch database is throwaway: stream and verify in one read unless asked otherwise.
    ///
    /// # Errors
    /// `jobs` out of range, a spool directory that is not one, or a JUnit path that cannot be written (exit 2).
    pub(crate) fn resolve(
        args: &TestRestoreArgs,
        default_db: &str,
        loaded: &LoadedConfig,
        progress: bool,
    ) -> anyhow::Result<Self> {
        let file = &loaded.sections;
        let options = RestoreOptions::resolve(
            &args.source,
            loaded,
            &[
                (file.test_restore.jobs.as_ref(), "[test_restore] jobs"),
                (file.restore.jobs.as_ref(), "[restore] jobs"),
            ],
            progress,
            false,
        )?;
        if options.jobs > 1 {
            preflight::check_spool_dir(&options.spool_dir)?;
        }
        if let Some(path) = &args.junit {
            preflight::check_junit_path(path)?;
        }
        Ok(Self {
            source_db: args.source.db.clone().unwrap_or_else(|| default_db.to_string()),
            options,
            maintenance_db: maintenance_db(loaded),
            checks: file.test_restore.checks.clone().unwrap_or_default(),
            junit: args.junit.clone(),
            wait_lock: args
                .wait_lock
                .or(file.restore.wait_lock)
                .map_or(Duration::ZERO, |d| d.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::config_file::load;

    #[derive(clap::Parser)]
    struct Restore {
        #[command(flatten)]
        args: RestoreArgs,
    }

    #[derive(clap::Parser)]
    struct TestRestore {
        #[command(flatten)]
        args: TestRestoreArgs,
    }

    fn loaded(toml: &str) -> (tempfile::TempDir, LoadedConfig) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("campctl.toml");
        fs_err::write(&path, toml).expect("write");
        let loaded = load(Some(&path), &[], None).expect("the file loads");
        (dir, loaded)
    }

    fn restore(flags: &[&str], toml: &str) -> anyhow::Result<RestoreSettings> {
        let (_dir, loaded) = loaded(toml);
        let args = Restore::try_parse_from(std::iter::once("restore").chain(flags.iter().copied()))
            .expect("flags")
            .args;
        RestoreSettings::resolve(&args, "configured_db", &loaded, false)
    }

    fn test_restore(flags: &[&str], toml: &str) -> anyhow::Result<TestRestoreSettings> {
        let (_dir, loaded) = loaded(toml);
        let args = TestRestore::try_parse_from(std::iter::once("test-restore").chain(flags.iter().copied()))
            .expect("flags")
            .args;
        TestRestoreSettings::resolve(&args, "configured_db", &loaded, false)
    }

    #[test]
    fn restore_keys_from_flag_file_and_default() {
        // (flags, file, jobs, verify_first, wait_lock s, swap_timeout s, analyze, no_owner, target)
        type Case = (
            &'static [&'static str],
            &'static str,
            u32,
            bool,
            u64,
            u64,
            bool,
            bool,
            &'static str,
        );
        let file = "[restore]\njobs = 2\nverify_first = false\nwait_lock = \"5s\"\nswap_timeout = \"1m\"\n\
                    analyze = false\nno_owner = false\n";
        let cases: &[Case] = &[
            (&[], "", 1, true, 0, 30, true, true, "configured_db"),
            (&[], file, 2, false, 5, 60, false, false, "configured_db"),
            (
                &[
                    "--jobs",
                    "3",
                    "--verify-first",
                    "--wait-lock",
                    "9s",
                    "--keep-owner",
                    "--to",
                    "other",
                ],
                file,
                3,
                true,
                9,
                60,
                false,
                false,
                "other",
            ),
            (&["--no-analyze", "--db", "app"], "", 1, true, 0, 30, false, true, "app"),
        ];
        for (flags, toml, jobs, verify_first, wait, swap, analyze, no_owner, target) in cases {
            let settings = restore(flags, toml).unwrap_or_else(|err| panic!("{flags:?} {toml}: {err:#}"));
            let context = format!("{flags:?} {toml}");
            assert_eq!(settings.options.jobs, *jobs, "{context}");
            assert_eq!(settings.options.verify_first, *verify_first, "{context}");
            assert_eq!(settings.wait_lock, Duration::from_secs(*wait), "{context}");
            assert_eq!(settings.swap_timeout, Duration::from_secs(*swap), "{context}");
            assert_eq!(settings.analyze, *analyze, "{context}");
            assert_eq!(settings.options.no_owner, *no_owner, "{context}");
            assert_eq!(settings.target, *target, "{context}");
        }
    }

    #[test]
    fn test_restore_jobs_prefer_its_own_key_then_restores() {
        for (flags, toml, jobs) in [
            (&[][..], "", 1),
            (&[][..], "[restore]\njobs = 2\n", 2),
            (&[][..], "[restore]\njobs = 2\n[test_restore]\njobs = 4\n", 4),
            (
                &["--jobs", "3"][..],
                "[restore]\njobs = 2\n[test_restore]\njobs = 4\n",
                3,
            ),
        ] {
            let settings = test_restore(flags, toml).unwrap_or_else(|err| panic!("{flags:?} {toml}: {err:#}"));
            assert_eq!(settings.options.jobs, jobs, "{flags:?} {toml}");
            // The scratch database is throwaway: one read unless asked otherwise.
            assert!(!settings.options.verify_first);
        }
    }

    #[test]
    fn a_bad_jobs_value_names_the_file_line_and_key() {
        for (section, jobs) in [("restore", 0), ("restore", 65), ("test_restore", 1000)] {
            let toml = format!("[{section}]\njobs = {jobs}\n");
            let err = test_restore(&[], &toml).expect_err("out of range").to_string();
            assert!(err.contains(&format!("`[{section}] jobs = {jobs}`")), "{err}");
            assert!(err.contains("campctl.toml") && err.contains("line 2"), "{err}");
        }
        assert!(restore(&[], "[restore]\njobs = 0\n").is_err());
    }
}
