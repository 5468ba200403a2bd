//! Property tests of the connection parsers (hardening issue, "Fuzzing and property tests"): any `--db-url`,
//! `DATABASE_URL` or `[database] url` text, URL or libpq `key=value`, resolves or fails with a usage error; never a
//! panic. Values written the documented way (percent-encoded in a URL, quoted in a key/value string) come back
//! unchanged. A `.pgpass` line splits into its fields whatever it holds.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::pgpass::split_pgpass_line;
use super::{ConnParams, ConnSources, FileKeys, parse_conninfo};
use crate::exit::ExitStatus;
use crate::units::fuzz::config;

/// The connection parameters campctl accepts (libpq's names, in its order): the key names these properties and those
/// of campctl.toml (`config_file::fuzz`) mix into their input.
pub(crate) const PARAMETERS: &[&str] = &[
    "host",
    "port",
    "user",
    "password",
    "dbname",
    "sslmode",
    "sslrootcert",
    "passfile",
    "connect_timeout",
    "application_name",
];

/// Text shaped like a connection string: schemes, separators and key names mixed with anything.
fn conninfo_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("postgres://".to_owned()),
        Just("postgresql://".to_owned()),
        prop::sample::select(vec![
            "@", ":", "/", "?", "&", "=", "[", "]", ",", "%", "%4", "%zz", "'", "\\", " ", "\t", "::1",
        ])
        .prop_map(str::to_owned),
        prop::sample::select([PARAMETERS, &["verify-full", "require", "65535", "65536", "-1", "0"]].concat())
            .prop_map(str::to_owned),
        "[a-z0-9.]{1,8}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..16).prop_map(|pieces| pieces.concat())
}

/// Resolves `text` as the URL of every layer, and checks that a failure is a usage error with a message.
fn resolve_everywhere(text: &str) -> Result<(), TestCaseError> {
    let _ = parse_conninfo(text);
    let from_flag = ConnParams::resolve(&ConnSources {
        url: Some((text, "--db-url")),
        ..ConnSources::default()
    });
    let file = FileKeys {
        url: Some(text.to_owned()),
        ..FileKeys::default()
    };
    let from_file = ConnParams::resolve(&ConnSources {
        file: Some(&file),
        ..ConnSources::default()
    });
    for result in [from_flag, from_file] {
        if let Err(error) = result {
            prop_assert_eq!(error.status, ExitStatus::Usage);
            prop_assert!(!error.message.is_empty());
        }
    }
    Ok(())
}

/// A value with characters that need encoding or quoting.
fn awkward() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            prop::sample::select(vec![
                '@', ':', '/', '?', '&', '=', '%', '\'', '\\', ' ', '#', '[', ']', 'é', '☃'
            ]),
            prop::char::range('a', 'z'),
        ],
        1..12,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn fuzz_connection_url(text in prop_oneof![conninfo_like(), any::<String>()]) {
        resolve_everywhere(&text)?;
    }

    #[test]
    fn fuzz_connection_key_values(
        pairs in prop::collection::vec((conninfo_like(), conninfo_like()), 0..5),
        equals in prop::sample::select(vec!["=", " = ", "= '", "='"]),
    ) {
        let text: Vec<String> = pairs.iter().map(|(key, value)| format!("{key}{equals}{value}")).collect();
        resolve_everywhere(&text.join(" "))?;
    }

    #[test]
    fn fuzz_connection_url_round_trip(user in awkward(), password in awkward(), dbname in awkward()) {
        let encode = |text: &str| {
            percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        let url = format!("postgres://{}:{}@db.example.com:6543/{}", encode(&user), encode(&password), encode(&dbname));
        let params = ConnParams::resolve(&ConnSources { url: Some((&url, "--db-url")), ..ConnSources::default() })
            .map_err(|error| TestCaseError::fail(format!("{url}: {error}")))?;
        prop_assert_eq!(&params.user, &user);
        prop_assert_eq!(params.password.as_ref().map(|p| p.expose().to_owned()), Some(password));
        prop_assert_eq!(&params.dbname, &dbname);
        prop_assert_eq!((params.host.as_str(), params.port), ("db.example.com", 6543));
    }

    #[test]
    fn fuzz_connection_key_value_round_trip(user in awkward(), password in awkward()) {
        let quote = |text: &str| format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"));
        let text = format!("host=db.example.com user={} password={}", quote(&user), quote(&password));
        let params = ConnParams::resolve(&ConnSources { url: Some((&text, "--db-url")), ..ConnSources::default() })
            .map_err(|error| TestCaseError::fail(format!("{text}: {error}")))?;
        prop_assert_eq!(&params.user, &user);
        prop_assert_eq!(params.password.as_ref().map(|p| p.expose().to_owned()), Some(password));
    }

    #[test]
    fn fuzz_connection_pgpass_line(
        line in prop_oneof![any::<String>(), "[a-z:*\\\\]{0,30}"],
        fields in prop::collection::vec(awkward(), 5),
    ) {
        prop_assert!(split_pgpass_line(&line).len() <= 5);
        let escaped: Vec<String> = fields.iter().map(|field| field.replace('\\', "\\\\").replace(':', "\\:")).collect();
        prop_assert_eq!(split_pgpass_line(&escaped.join(":")), fields);
    }

    #[test]
    fn fuzz_connection_environment(
        values in prop::collection::vec(prop_oneof![conninfo_like(), any::<String>()], 6),
    ) {
        let names = ["PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGSSLMODE", "PGCONNECT_TIMEOUT"];
        let env: BTreeMap<&'static str, String> = names.into_iter().zip(values).collect();
        if let Err(error) = ConnParams::resolve(&ConnSources { env, ..ConnSources::default() }) {
            prop_assert_eq!(error.status, ExitStatus::Usage);
        }
    }
}
