//! Property tests of the configuration file (hardening issue, "Fuzzing and property tests"): any text given as
//! `campctl.toml`, through the serde schema, profile overlays and the pure part of settings resolution (the
//! database connection, the stores, the compression), is used or refused with a usage error; never a panic.

use proptest::prelude::*;

use super::FileConfig;
use crate::dump_options::Compression;
use crate::exit::{Classify, ExitStatus, UserError};
use crate::pg::ConnParams;
use crate::pg::conninfo::fuzz::PARAMETERS;
use crate::pg::conninfo::{ConnSources, FileKeys};
use crate::storage::{Store, StoreError, StoreKeys};
use crate::units::fuzz::{config, unit_like};

const TABLES: &[&str] = &[
    "[database]",
    "[output]",
    "[stats]",
    "[backup]",
    "[storage]",
    "[storage.local]",
    "[storage.azure]",
    "[restore]",
    "[test_restore]",
    "[[test_restore.checks]]",
    "[profiles.prod.database]",
    "[profiles.prod.storage.azure]",
    "[profiles.prod.storage.local]",
    "[profiles.prod.backup]",
    "[profiles.prod]",
    "[databse]",
];

/// The keys after `url` and the connection parameters ([`any_keys`] puts those first).
const OTHER_KEYS: &[&str] = &[
    "statement_timeout",
    "lock_timeout",
    "format",
    "log_format",
    "color",
    "progress",
    "limit",
    "min_duration",
    "stores",
    "compression",
    "row_counts",
    "row_count_tables",
    "wait_lock",
    "expected_size",
    "jobs",
    "spool_dir",
    "maintenance_db",
    "analyze",
    "no_owner",
    "no_acl",
    "verify_first",
    "swap_timeout",
    "target_url",
    "checks",
    "name",
    "sql",
    "expect",
    "local",
    "azure",
    "path",
    "enabled",
    "account_url",
    "account",
    "container",
    "prefix",
    "credential",
    "connection_string",
    "sas_token",
    "managed_identity_client_id",
    "block_size",
    "concurrency",
    "block_checksum",
    "max_retries",
    "timeout",
    "hots",
];

/// Every key the schema knows, and a few it does not: `url`, the connection parameters, then [`OTHER_KEYS`].
fn any_keys() -> Vec<&'static str> {
    [&["url"], PARAMETERS, OTHER_KEYS].concat()
}

/// Strings that reach the interesting branches of the parsers behind the schema.
const STRINGS: &[&str] = &[
    "",
    " ",
    "zstd",
    "zstd:99",
    "gzip:0",
    "pgdump:9",
    "none",
    "30d",
    "0",
    "8MiB",
    "4001MiB",
    "local",
    "azure",
    "s3",
    "json",
    "all",
    "/var/backups/campctl",
    "relative/dir",
    "backups",
    "BAD_NAME",
    "a--b",
    "UseDevelopmentStorage=true",
    "AccountName=acct;AccountKey=!!notbase64;EndpointSuffix=core.windows.net",
    "AccountKey=c2VjcmV0",
    "BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;SharedAccessSignature=sv=1&sig=x",
    "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0",
    "sv=2021-12-02&sig=abc",
    "?sig=",
    "https://acct.blob.core.windows.net",
    "http://127.0.0.1:10000/devstoreaccount1",
    "https://h/?sig=x",
    "postgres://u:p@h:5432/db?sslmode=verify-full",
    "postgresql://[::1",
    "host=h port=99999",
    "verify-full",
    "cli",
    "managed-identity",
    "connection-string",
    "sas",
    "crc64",
    "md5",
];

fn string_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(STRINGS).prop_map(str::to_owned),
        unit_like(),
        any::<String>(),
    ]
}

/// A TOML value, written as TOML.
fn value() -> impl Strategy<Value = String> {
    let scalar = prop_oneof![
        string_value().prop_map(|text| toml::Value::String(text).to_string()),
        prop::sample::select(vec![0_i64, 1, -1, 64, 65, 65_535, 65_536, 1 << 31, i64::MAX, i64::MIN])
            .prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        Just("1.5".to_owned()),
        Just("1979-05-27T07:32:00Z".to_owned()),
    ];
    scalar.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec((prop::sample::select(any_keys()), inner), 0..3).prop_map(|pairs| {
                let pairs: Vec<String> = pairs
                    .into_iter()
                    .map(|(key, value)| format!("{key} = {value}"))
                    .collect();
                format!("{{ {} }}", pairs.join(", "))
            }),
        ]
    })
}

/// Each table of the schema and its keys, with the kind of value each takes.
const SCHEMA: &[(&str, &[(&str, Kind)])] = &[
    (
        "database",
        &[
            ("url", Kind::Text),
            ("host", Kind::Text),
            ("port", Kind::Int),
            ("user", Kind::Text),
            ("password", Kind::Text),
            ("dbname", Kind::Text),
            ("sslmode", Kind::Text),
            ("sslrootcert", Kind::Text),
            ("passfile", Kind::Text),
            ("connect_timeout", Kind::Unit),
            ("application_name", Kind::Text),
            ("statement_timeout", Kind::Unit),
            ("lock_timeout", Kind::Unit),
        ],
    ),
    (
        "output",
        &[
            ("format", Kind::Text),
            ("log_format", Kind::Text),
            ("color", Kind::Text),
            ("progress", Kind::Bool),
        ],
    ),
    ("stats", &[("limit", Kind::Int), ("min_duration", Kind::Unit)]),
    (
        "backup",
        &[
            ("stores", Kind::List),
            ("compression", Kind::Text),
            ("row_counts", Kind::Text),
            ("row_count_tables", Kind::List),
            ("wait_lock", Kind::Unit),
            ("expected_size", Kind::Unit),
        ],
    ),
    ("storage.local", &[("path", Kind::Text), ("enabled", Kind::Bool)]),
    (
        "storage.azure",
        &[
            ("account_url", Kind::Text),
            ("account", Kind::Text),
            ("container", Kind::Text),
            ("prefix", Kind::Text),
            ("credential", Kind::Text),
            ("connection_string", Kind::Text),
            ("sas_token", Kind::Text),
            ("managed_identity_client_id", Kind::Text),
            ("block_size", Kind::Unit),
            ("concurrency", Kind::Int),
            ("block_checksum", Kind::Text),
            ("max_retries", Kind::Int),
            ("timeout", Kind::Unit),
        ],
    ),
    (
        "restore",
        &[
            ("jobs", Kind::Int),
            ("spool_dir", Kind::Text),
            ("maintenance_db", Kind::Text),
            ("analyze", Kind::Bool),
            ("no_owner", Kind::Bool),
            ("no_acl", Kind::Bool),
            ("verify_first", Kind::Bool),
            ("swap_timeout", Kind::Unit),
            ("wait_lock", Kind::Unit),
        ],
    ),
    ("test_restore", &[("target_url", Kind::Text), ("jobs", Kind::Int)]),
];

#[derive(Debug, Clone, Copy)]
enum Kind {
    Text,
    Int,
    Bool,
    Unit,
    List,
}

/// A value of `kind`, or now and then of any kind.
fn value_of(kind: Kind) -> BoxedStrategy<String> {
    let typed = match kind {
        Kind::Text => string_value()
            .prop_map(|text| toml::Value::String(text).to_string())
            .boxed(),
        Kind::Int => prop_oneof![
            prop::sample::select(vec![0_i64, 1, -1, 64, 65, 65_535, 65_536, 1 << 31, i64::MAX, i64::MIN]),
            any::<i64>(),
        ]
        .prop_map(|n| n.to_string())
        .boxed(),
        Kind::Bool => any::<bool>().prop_map(|b| b.to_string()).boxed(),
        Kind::Unit => unit_like()
            .prop_map(|text| toml::Value::String(text).to_string())
            .boxed(),
        Kind::List => prop::collection::vec(string_value(), 0..4)
            .prop_map(|items| toml::Value::Array(items.into_iter().map(toml::Value::String).collect()).to_string())
            .boxed(),
    };
    prop_oneof![9 => typed, 1 => value()].boxed()
}

/// One table of the schema (at the top level or in a profile) with some of its keys, now and then a wrong one.
fn table() -> impl Strategy<Value = String> {
    (
        0..SCHEMA.len(),
        any::<bool>(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
    )
        .prop_flat_map(|(table, in_profile, picks)| {
            let (name, keys) = SCHEMA[table];
            let lines: Vec<BoxedStrategy<String>> = picks
                .into_iter()
                .map(|(key, odd)| {
                    if odd < 10 {
                        (prop::sample::select(any_keys()), value())
                            .prop_map(|(k, v)| format!("{k} = {v}"))
                            .boxed()
                    } else {
                        let (key, kind) = keys[key.index(keys.len())];
                        value_of(kind).prop_map(move |v| format!("{key} = {v}")).boxed()
                    }
                })
                .collect();
            let header = if in_profile {
                format!("[profiles.prod.{name}]")
            } else {
                format!("[{name}]")
            };
            lines.prop_map(move |lines| format!("{header}\n{}", lines.join("\n")))
        })
}

/// A `[[test_restore.checks]]` entry.
fn check_entry() -> impl Strategy<Value = String> {
    (string_value(), string_value(), value()).prop_map(|(name, sql, expect)| {
        format!(
            "[[test_restore.checks]]\nname = {}\nsql = {}\nexpect = {expect}",
            toml::Value::String(name),
            toml::Value::String(sql)
        )
    })
}

/// A configuration file: tables of the schema, now and then a line of anything.
fn config_text() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        8 => table(),
        1 => check_entry(),
        1 => prop::sample::select(TABLES).prop_map(str::to_owned),
        1 => any::<String>(),
    ];
    prop::collection::vec(part, 0..6).prop_map(|parts| parts.join("\n"))
}

fn no_env(_: &str) -> Option<String> {
    None
}

/// The status of the first classified error in a store's error chain (the store errors are the two types
/// `storage` itself raises; `diagnostics` knows the whole list but sits above this module).
fn store_status(error: &anyhow::Error) -> Option<ExitStatus> {
    error.chain().find_map(|cause| {
        cause
            .downcast_ref::<UserError>()
            .map(Classify::exit_status)
            .or_else(|| cause.downcast_ref::<StoreError>().map(Classify::exit_status))
    })
}

/// Parses `text` as the file and resolves what can be resolved without I/O, for the base sections and each profile.
fn check(text: &str) -> Result<(), TestCaseError> {
    let file: FileConfig = match toml::from_str(text) {
        Ok(file) => file,
        Err(error) => {
            prop_assert!(!error.to_string().is_empty());
            return Ok(());
        }
    };
    let (base, profiles) = file.into_parts();
    let mut all = vec![base.clone()];
    all.extend(profiles.into_values().map(|overlay| overlay.over(base.clone())));
    for sections in all {
        let sources = ConnSources {
            file: Some(&FileKeys::from(&sections.database)),
            ..ConnSources::default()
        };
        if let Err(error) = ConnParams::resolve(&sources) {
            prop_assert_eq!(error.status, ExitStatus::Usage, "{}", error.message);
        }
        if let Err(error) = Store::from_config_with_env(&StoreKeys::from(&sections.storage), &no_env) {
            prop_assert_eq!(store_status(&error), Some(ExitStatus::Usage), "{:#}", error);
        }
        if let Some(value) = &sections.backup.compression
            && let Err(error) = value.parsed()
        {
            prop_assert_eq!(error.status, ExitStatus::Usage);
            prop_assert!(value.text().parse::<Compression>().is_err());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn fuzz_config_file(text in config_text()) {
        check(&text)?;
    }

    #[test]
    fn fuzz_config_file_bytes(text in any::<String>()) {
        check(&text)?;
    }
}
