//! The database primitives (`campctl::pg::database`) and the quoting (`campctl::pg::quote`) against the harness's
//! PostgreSQL 15: the version is read, a database is created, described, closed, emptied of sessions, renamed and
//! dropped; a read-only session refuses writes and a broken one is reported; hostile names and values survive
//! quoting unchanged, also with `standard_conforming_strings` off.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use campctl::pg::conninfo::ConnSources;
use campctl::pg::database::{self, DatabaseInfo, ServerVersion};
use campctl::pg::quote::{quote_ident, quote_literal};
use campctl::pg::{ConnParams, SessionOptions};

use crate::common::{pg, unique_suffix};

/// Hostile identifiers and values: quotes of both kinds, backslashes, statement breaks, comments, non-ASCII.
const HOSTILE: [&str; 7] = [
    "plain",
    "Mixed Case",
    "x\"; DROP DATABASE postgres; --",
    "it's",
    "\\'; SELECT 1; --",
    "back\\slash\\",
    "ü ☃ \"\" ''",
];

/// Connection parameters for `db` on the harness's cluster.
fn params(db: &str) -> ConnParams {
    let url = pg().url(db);
    ConnParams::resolve(&ConnSources {
        file: None,
        env: BTreeMap::new(),
        url: Some((url.as_str(), "--db-url")),
        os_user: None,
        home: None,
        ..ConnSources::default()
    })
    .expect("the harness URL resolves")
}

/// Runs `test` on a runtime of its own, after the cluster is up (the harness starts it with a blocking client, which
/// cannot run inside a runtime).
fn run<F: Future<Output = ()>>(test: impl FnOnce(ConnParams) -> F) {
    let server = params("postgres");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(test(server));
}

/// A session on the database of `params`, with campctl's default session options.
async fn connect(params: &ConnParams) -> tokio_postgres::Client {
    campctl::pg::connect(params, SessionOptions::default())
        .await
        .expect("connect")
}

/// What [`database::describe`] says of `name`, which must exist.
async fn describe(client: &tokio_postgres::Client, name: &str, version: &ServerVersion) -> DatabaseInfo {
    database::describe(client, name, version)
        .await
        .expect("describe")
        .unwrap_or_else(|| panic!("{name} exists"))
}

#[test]
fn server_version_is_read_once_and_never_zero() {
    run(server_version);
}

async fn server_version(server: ConnParams) {
    let client = connect(&server).await;
    let version = database::server_version(&client).await.expect("the version");
    assert_eq!(version.major(), 15, "{version:?}");
    assert!(version.text.starts_with("15."), "{version:?}");
    assert!(version.num >= 150_000 && version.num < 160_000, "{version:?}");
}

#[test]
fn a_database_is_created_closed_renamed_and_dropped() {
    run(lifecycle);
}

async fn lifecycle(server: ConnParams) {
    let client = connect(&server).await;
    let version = database::server_version(&client).await.expect("the version");
    // A hostile name: each statement must quote it.
    let name = format!("db \"{}\" it's", unique_suffix('_'));
    let renamed = format!("{name} renamed");
    assert!(!database::exists(&client, &name).await.expect("exists"));
    database::create(&client, &name, "TEMPLATE template0")
        .await
        .expect("create");
    let info = describe(&client, &name, &version).await;
    assert!(info.allow_connections);
    assert!(
        info.create_options.starts_with("TEMPLATE template0 ENCODING 'UTF8'"),
        "{}",
        info.create_options
    );
    // The options describe re-creates a database like it.
    let copy = format!("{name} copy");
    database::create(&client, &copy, &info.create_options)
        .await
        .expect("create a copy");
    database::drop_database(&server, &copy).await.expect("drop the copy");

    // A session on it, then close it: no new session, and end_sessions ends the one there.
    let session = connect(&server.with_dbname(&name)).await;
    database::set_allow_connections(&client, &name, false)
        .await
        .expect("close");
    let closed = describe(&client, &name, &version).await;
    assert!(!closed.allow_connections);
    let ended = database::end_sessions(&client, &name, Instant::now() + Duration::from_secs(10), 0)
        .await
        .expect("end sessions");
    assert_eq!(ended, database::SessionsEnded { ended: 1, remaining: 0 });
    assert!(session.simple_query("SELECT 1").await.is_err(), "the session was ended");
    database::set_allow_connections(&client, &name, true)
        .await
        .expect("open");

    database::rename(&client, &name, &renamed).await.expect("rename");
    assert!(!database::exists(&client, &name).await.expect("exists"));
    assert!(database::exists(&client, &renamed).await.expect("exists"));
    // Dropping ends the sessions on it first.
    let _lingering = connect(&server.with_dbname(&renamed)).await;
    database::drop_database(&server, &renamed).await.expect("drop");
    assert!(!database::exists(&client, &renamed).await.expect("exists"));
    // A database that is not there is not an error.
    database::drop_database(&server, &renamed).await.expect("drop again");
}

#[test]
fn a_read_only_session_refuses_writes_and_a_broken_one_is_an_error() {
    run(read_only);
}

async fn read_only(server: ConnParams) {
    let client = connect(&server).await;
    database::make_read_only(&client).await.expect("read-only");
    let err = client
        .batch_execute("CREATE TEMP TABLE t (a int)")
        .await
        .expect_err("a write in a read-only session");
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION),
        "{err}"
    );

    // A session the server has ended cannot be made read-only: that is an error, never ignored.
    let pid: i32 = client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    let other = connect(&server).await;
    other
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .expect("terminate");
    let err = database::make_read_only(&client).await.expect_err("a dead session");
    assert!(format!("{err:#}").contains("read-only"), "{err:#}");
}

#[test]
fn hostile_names_and_values_survive_quoting() {
    run(hostile);
}

async fn hostile(server: ConnParams) {
    let client = connect(&server).await;
    for standard_conforming_strings in ["on", "off"] {
        client
            .batch_execute(&format!(
                "SET standard_conforming_strings = {standard_conforming_strings}; SET escape_string_warning = off"
            ))
            .await
            .expect("set");
        for text in HOSTILE {
            let row = client
                .query_one(&format!("SELECT {}::text", quote_literal(text)), &[])
                .await
                .unwrap_or_else(|err| panic!("literal of {text:?} ({standard_conforming_strings}): {err}"));
            assert_eq!(
                row.get::<_, String>(0),
                text,
                "standard_conforming_strings = {standard_conforming_strings}"
            );
            let row = client
                .query_one(&format!("SELECT 1 AS {}", quote_ident(text)), &[])
                .await
                .unwrap_or_else(|err| panic!("identifier {text:?}: {err}"));
            assert_eq!(row.columns()[0].name(), text);
        }
    }
}
