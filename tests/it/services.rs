//! Smoke tests of the harness's services: if one of these fails, the service tests after it cannot be trusted.
//! They talk to each service with independent clients (not campctl's code).

use std::sync::Arc;

use ::redis::Commands as _;

use crate::common::{azurite, pg, redis, unique_container};

/// A TLS connection to the cluster as the superuser, trusting only the CA at `ca_path`.
fn connect_tls(ca_path: &std::path::Path, host: &str) -> Result<postgres::Client, postgres::Error> {
    let pem = std::fs::read(ca_path).expect("read the CA file");
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert.expect("parse the CA PEM")).expect("add the CA");
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut config = pg().config("postgres");
    config.host(host).ssl_mode(postgres::config::SslMode::Require);
    config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls))
}

#[test]
fn postgres_15_runs_with_ssl_on() {
    let db = pg().create_database();
    let mut client = db.client();
    let version: String = client
        .query_one("SELECT version()", &[])
        .expect("SELECT version()")
        .get(0);
    assert!(version.starts_with("PostgreSQL 15."), "{version}");
    let ssl: String = client.query_one("SHOW ssl", &[]).expect("SHOW ssl").get(0);
    assert_eq!(ssl, "on");
    let current: String = client
        .query_one("SELECT current_database()", &[])
        .expect("current_database()")
        .get(0);
    assert_eq!(current, db.name());
}

#[test]
fn postgres_tls_verifies_against_the_run_ca_only() {
    let cluster = pg();
    for host in ["127.0.0.1", "localhost"] {
        let mut client =
            connect_tls(cluster.ca_path(), host).unwrap_or_else(|e| panic!("TLS to {host} with the run's CA: {e}"));
        let encrypted: bool = client
            .query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
            .expect("query pg_stat_ssl")
            .get(0);
        assert!(encrypted, "the session to {host} is not encrypted");
    }
    let error = connect_tls(cluster.other_ca_path(), "127.0.0.1")
        .err()
        .expect("an unrelated CA must not verify the server");
    let cause = std::error::Error::source(&error)
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(cause.contains("UnknownIssuer"), "{error}: {cause}");
}

#[test]
fn test_databases_are_unique_and_dropped() {
    let first = pg().create_database();
    let second = pg().create_database();
    assert_ne!(first.name(), second.name());
    first.execute("CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2)");
    let count: i64 = first
        .client()
        .query_one("SELECT count(*) FROM t", &[])
        .expect("count rows")
        .get(0);
    assert_eq!(count, 2);
    let name = first.name().to_owned();
    // Hold a session open: the drop must still succeed (WITH (FORCE)).
    let _session = first.client();
    drop(first);
    let exists: bool = pg()
        .client("postgres")
        .query_one("SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", &[&name])
        .expect("look the database up")
        .get(0);
    assert!(!exists, "{name} was not dropped");
}

#[test]
fn redis_set_get() {
    let mut connection = redis().connection();
    let key = format!("smoke:{}", crate::common::unique_suffix(':'));
    let () = connection.set(&key, "value").expect("SET");
    let value: String = connection.get(&key).expect("GET");
    assert_eq!(value, "value");
}

#[test]
fn azurite_block_blob_round_trip() {
    let azurite = azurite();
    let container = unique_container();
    azurite.create_container(&container);
    let data: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    azurite.put_blob(&container, "dir/smoke test.bin", &data);
    assert_eq!(azurite.get_blob(&container, "dir/smoke test.bin"), data);
    assert_eq!(azurite.list_blobs(&container), ["dir/smoke test.bin"]);
    let missing = azurite.request("GET", &format!("{container}/missing"), &[], &[], &[]);
    assert_eq!(missing.status, 404, "{}", missing.text());
    azurite.delete_container(&container);
}

#[test]
fn azurite_rejects_a_wrong_key() {
    // Proves that Azurite checks SharedKey signatures at all, so the round trip above means something.
    let response = azurite().request_signed_with(
        "d3Jvbmcga2V5",
        "PUT",
        &unique_container(),
        &[("restype", "container")],
        &[],
        &[],
    );
    assert_eq!(response.status, 403, "{}", response.text());
}
