//! The resolved settings of `campctl backup [DB]` ([`DumpSettings`]) and `backup files` ([`FilesSettings`]):
//! flag > environment > `campctl.toml` > default, resolved before any connection (STYLE.md rule 1).
//!
//! A bad value is refused here, naming where it came from: a flag by clap, a file value by
//! [`LoadedConfig::value`] with the file, line and key. `config check` validates `[backup]` with the same
//! functions (`settings::stores::file_stores`, [`row_counting`]), so it and a real run cannot disagree. Nothing here connects,
//! reads a store or writes.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use super::FilesArgs;
use super::{Compression, DumpArgs};
use crate::catalog::select_stores;
use crate::config_file::LoadedConfig;
use crate::dump_options::RowCounts;
use crate::exit::{ExitStatus, UserError};
use crate::pg::archive::RowCounting;
use crate::settings::stores::file_stores;
use crate::storage::{Store, StoreKind};
use crate::units::HumanDuration;

/// `campctl backup [DB]`, resolved.
#[derive(Debug)]
pub(crate) struct DumpSettings {
    pub database: String,
    pub compression: Compression,
    pub row_counts: RowCounting,
    pub row_counts_label: &'static str,
    pub stores: Vec<Store>,
    pub wait_lock: Duration,
    pub expected_size: Option<u64>,
    pub pg_dump: Option<PathBuf>,
    /// zstd's worker threads (`[backup] compression_threads`); 0 compresses on the pipeline's own thread.
    pub threads: u32,
    /// `--prune`: run retention on this database's backups after a successful backup.
    pub prune: bool,
}

impl DumpSettings {
    /// Flags > file > defaults; `stores` are the configured stores (resolved with the environment's overrides),
    /// `default_db` the configured database.
    ///
    /// # Errors
    /// A bad value in the flags or the file, or a store that is not configured (exit 2).
    pub(crate) fn resolve(
        args: DumpArgs,
        stores: Vec<Store>,
        default_db: &str,
        loaded: &LoadedConfig,
    ) -> anyhow::Result<Self> {
        if args.prune {
            // A bad `[retention]` is refused before the backup runs, not after.
            crate::commands::retention::settings::policies(&loaded.sections.retention)?;
        }
        let file = &loaded.sections.backup;
        let wanted = if args.stores.is_empty() {
            file_stores(loaded)?
        } else {
            StoreKind::parse_all(&args.stores)?
        };
        let compression = match args.compression {
            Some(compression) => compression,
            None => loaded
                .value("[backup] compression", file.compression.as_ref())?
                .unwrap_or(Compression::DEFAULT),
        };
        let which = match args.row_counts {
            Some(which) => Some(which),
            None => loaded.value("[backup] row_counts", file.row_counts.as_ref())?,
        };
        let (row_counts, row_counts_label) = row_counting(which, file.row_count_tables.as_deref().unwrap_or_default())?;
        let database = args.database.unwrap_or_else(|| default_db.to_string());
        // The database name is the folder and the stem of every object name: never `/_20250101_….dump`.
        if database.is_empty() {
            return Err(UserError::usage("The database to back up has an empty name")
                .with_hint("Name it: `campctl backup DB`, `dbname` in the URL or `[database]`, or PGDATABASE")
                .into());
        }
        Ok(Self {
            database,
            compression,
            row_counts,
            row_counts_label,
            stores: select_stores(stores, &wanted)?,
            wait_lock: args.wait_lock.or(file.wait_lock).map_or(Duration::ZERO, |d| d.0),
            expected_size: args.expected_size.or(file.expected_size).map(|s| s.0),
            pg_dump: args.pg_dump,
            threads: compression_threads(file.compression_threads)?,
            prune: args.prune,
        })
    }
}

/// `[backup]`'s defaults as `config show` prints them: resolved with no flags and an empty file, so that they are
/// this resolver's own and cannot drift from what a run uses.
pub(crate) fn file_defaults() -> Vec<(&'static str, serde_json::Value)> {
    let args = DumpArgs {
        database: None,
        compression: None,
        row_counts: None,
        stores: Vec::new(),
        wait_lock: None,
        expected_size: None,
        pg_dump: None,
        prune: false,
    };
    let Ok(defaults) = DumpSettings::resolve(args, Vec::new(), "db", &LoadedConfig::default()) else {
        return Vec::new();
    };
    vec![
        ("backup.compression", defaults.compression.to_string().into()),
        ("backup.row_counts", defaults.row_counts_label.into()),
        ("backup.stores", "(every configured store)".into()),
        ("backup.wait_lock", HumanDuration(defaults.wait_lock).to_string().into()),
        ("backup.expected_size", "(the database size)".into()),
        ("backup.compression_threads", "(one per core)".into()),
    ]
}

/// The most zstd workers `[backup] compression_threads` takes.
const MAX_COMPRESSION_THREADS: u32 = 64;

/// `[backup] compression_threads`, else one zstd worker per core.
fn compression_threads(file: Option<u32>) -> anyhow::Result<u32> {
    match file {
        Some(threads) if threads > MAX_COMPRESSION_THREADS => Err(UserError::usage(format!(
            "`[backup] compression_threads = {threads}` is more than {MAX_COMPRESSION_THREADS}"
        ))
        .with_hint("Give the number of zstd worker threads, e.g. the number of cores, or 0 to compress on the backup's own thread")
        .into()),
        Some(threads) => Ok(threads),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(1))),
    }
}

/// `campctl backup files`, resolved.
#[derive(Debug)]
pub(crate) struct FilesSettings {
    /// The directory, canonical.
    pub source: PathBuf,
    /// The backup's name (default: the directory's name).
    pub name: String,
    pub skip_unreadable: bool,
    pub stores: Vec<Store>,
}

impl FilesSettings {
    /// `--source`, `--name`, `[backup] stores`.
    ///
    /// # Errors
    /// The source is not a directory (exit 10 when it is missing), the name is not a file name, or a store is not
    /// configured (exit 2).
    pub(crate) fn resolve(args: FilesArgs, stores: Vec<Store>, loaded: &LoadedConfig) -> anyhow::Result<Self> {
        let stores = select_stores(stores, &file_stores(loaded)?)?;
        let source = fs_err::canonicalize(&args.source).map_err(|err| {
            UserError::new(
                ExitStatus::NotFound,
                format!("The source directory `{}` cannot be used: {err}", args.source.display()),
            )
            .with_hint("Pass an existing directory with `--source DIR`")
        })?;
        if !source.is_dir() {
            return Err(UserError::usage(format!("`{}` is not a directory", source.display())).into());
        }
        let name = match args.name {
            Some(name) => name,
            None => source
                .file_name()
                .map_or_else(|| "root".to_string(), |n| n.to_string_lossy().into_owned()),
        };
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(UserError::usage(format!("Invalid backup name `{name}`"))
                .with_hint("Use letters, digits, `-` and `_`, e.g. `--name uploads`")
                .into());
        }
        Ok(Self {
            source,
            name,
            skip_unreadable: args.skip_unreadable,
            stores,
        })
    }
}

/// `--row-counts` or `[backup] row_counts` (default `all`) with `[backup] row_count_tables`: what the manifest
/// counts, and its label. `config check` validates `[backup]` with this too.
///
/// # Errors
/// A listed table that is not `schema.table` (exit 2).
pub(crate) fn row_counting(which: Option<RowCounts>, tables: &[String]) -> anyhow::Result<(RowCounting, &'static str)> {
    let which = which.unwrap_or_default();
    let counting = match which {
        RowCounts::All => RowCounting::All,
        RowCounts::None => RowCounting::None,
        RowCounts::Listed => RowCounting::Listed(listed_tables(tables)?),
    };
    Ok((counting, which.as_str()))
}

fn listed_tables(names: &[String]) -> anyhow::Result<HashSet<(String, String)>> {
    names
        .iter()
        .map(|name| {
            let (schema, table) = name.split_once('.').unwrap_or(("public", name.as_str()));
            if table.is_empty() || schema.is_empty() {
                return Err(
                    UserError::usage(format!("Invalid table `{name}` in `[backup] row_count_tables`"))
                        .with_hint("Write `schema.table`, e.g. `public.users`")
                        .into(),
                );
            }
            Ok((schema.to_string(), table.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::config_file::load;
    use crate::storage::{LocalKeys, StoreKeys};

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        dump: DumpArgs,
    }

    /// Resolves `backup` with `flags` and the file `toml`, with one local store configured.
    fn resolve(flags: &[&str], toml: &str) -> anyhow::Result<DumpSettings> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("campctl.toml");
        fs_err::write(&path, toml).expect("write");
        let loaded = load(Some(&path), &[], None).expect("the file loads");
        let keys = StoreKeys {
            local: Some(LocalKeys {
                path: Some(dir.path().join("backups")),
                path_origin: None,
                enabled: None,
            }),
            azure: None,
        };
        let stores = Store::from_config_with_env(&keys, &|_| None).expect("local store");
        let args = Cli::try_parse_from(std::iter::once("backup").chain(flags.iter().copied()))
            .expect("flags")
            .dump;
        DumpSettings::resolve(args, stores, "configured_db", &loaded)
    }

    #[test]
    fn each_key_from_flag_file_and_default() {
        // (flags, file, compression, row counts, database, wait_lock seconds)
        type Case = (
            &'static [&'static str],
            &'static str,
            Compression,
            &'static str,
            &'static str,
            u64,
        );
        let cases: &[Case] = &[
            (&[], "", Compression::Zstd(1), "all", "configured_db", 0),
            (
                &[],
                "[backup]\ncompression = \"gzip:3\"\nrow_counts = \"none\"\nwait_lock = \"5s\"\n",
                Compression::Gzip(3),
                "none",
                "configured_db",
                5,
            ),
            (
                &[
                    "--compression",
                    "none",
                    "--row-counts",
                    "all",
                    "--wait-lock",
                    "7s",
                    "app",
                ],
                "[backup]\ncompression = \"gzip:3\"\nrow_counts = \"none\"\nwait_lock = \"5s\"\n",
                Compression::None,
                "all",
                "app",
                7,
            ),
            (
                &[],
                "[backup]\nrow_counts = \"listed\"\nrow_count_tables = [\"public.users\"]\n",
                Compression::Zstd(1),
                "listed",
                "configured_db",
                0,
            ),
        ];
        for (flags, toml, compression, row_counts, database, wait) in cases {
            let settings = resolve(flags, toml).unwrap_or_else(|err| panic!("{flags:?} {toml}: {err:#}"));
            assert_eq!(settings.compression, *compression, "{flags:?} {toml}");
            assert_eq!(settings.row_counts_label, *row_counts, "{flags:?} {toml}");
            assert_eq!(settings.database, *database, "{flags:?} {toml}");
            assert_eq!(settings.wait_lock, Duration::from_secs(*wait), "{flags:?} {toml}");
            assert_eq!(settings.stores.len(), 1);
        }
    }

    #[test]
    fn a_bad_file_value_names_the_file_line_and_key() {
        for (toml, key, line) in [
            (
                "[backup]\ncompression = \"lz4\"\n",
                "`[backup] compression = \"lz4\"`",
                "line 2",
            ),
            (
                "[backup]\n\nrow_counts = \"some\"\n",
                "`[backup] row_counts = \"some\"`",
                "line 3",
            ),
            (
                "[backup]\nstores = [\"local\", \"s3\"]\n",
                "`[backup] stores = \"s3\"`",
                "line 2",
            ),
        ] {
            let err = resolve(&[], toml).expect_err(toml);
            let text = format!("{err:#}");
            for needle in ["campctl.toml", key, line] {
                assert!(text.contains(needle), "`{needle}` missing from {text}");
            }
        }
        // A flag wins over a bad file value only for its own key.
        assert!(resolve(&["--compression", "zstd"], "[backup]\ncompression = \"lz4\"\n").is_ok());
        assert!(resolve(&["--store", "azure"], "").is_err(), "azure is not configured");
    }

    #[test]
    fn files_source_and_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let uploads = dir.path().join("uploads");
        fs_err::create_dir(&uploads).expect("mkdir");
        let files = |source: &std::path::Path, name: Option<&str>| {
            let args = FilesArgs {
                source: source.to_path_buf(),
                name: name.map(str::to_string),
                skip_unreadable: false,
            };
            FilesSettings::resolve(args, Vec::new(), &LoadedConfig::default())
        };
        let settings = files(&uploads, None).expect("valid");
        assert_eq!(settings.name, "uploads");
        assert_eq!(files(&uploads, Some("site")).expect("valid").name, "site");
        let missing = files(&dir.path().join("nope"), None).expect_err("missing");
        assert_eq!(crate::diagnostics::status_of(&missing), ExitStatus::NotFound);
        for bad in ["", "a/b", ".hidden"] {
            let err = files(&uploads, Some(bad)).expect_err(bad);
            assert_eq!(crate::diagnostics::status_of(&err), ExitStatus::Usage, "{bad}");
        }
    }
}
