//! Hardening 2 regressions (connections, transport): items 7 and 8 of issue 16, each against a PostgreSQL cluster
//! of its own (a self-signed server certificate; connection logging), compared with psql where libpq decides.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common::postgres::{ClusterOptions, PgCluster};
use crate::common::{SelfSigned, TestContext, self_signed_server_cert, unique_suffix};

/// The libpq variables of a TLS connection to `cluster` as the superuser, for psql and campctl alike.
fn libpq_env(cluster: &PgCluster, host: &str, mode: &str) -> Vec<(&'static str, String)> {
    vec![
        ("PGHOST", host.to_owned()),
        ("PGPORT", cluster.port().to_string()),
        ("PGUSER", cluster.superuser().to_owned()),
        ("PGPASSWORD", cluster.password().to_owned()),
        ("PGDATABASE", "postgres".to_owned()),
        ("PGSSLMODE", mode.to_owned()),
        ("PGCONNECT_TIMEOUT", "10".to_owned()),
    ]
}

/// psql with only `env` and HOME (so `~/.postgresql/root.crt` is the test's).
fn psql(cluster: &PgCluster, home: &Path, env: &[(&str, String)]) -> Output {
    Command::new(cluster.bin_dir().join("psql"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home)
        .envs(env.iter().map(|(name, value)| (*name, value)))
        .args(["-X", "-w", "-A", "-t", "-c", "SELECT 1"])
        .output()
        .expect("run psql")
}

fn campctl_check(ctx: &TestContext, env: &[(&str, String)]) -> Output {
    ctx.cmd()
        .envs(env.iter().map(|(name, value)| (*name, value)))
        .args(["config", "check"])
        .output()
        .expect("run campctl")
}

/// The first line of a failed run's stderr (psql's or campctl's error), for the failure message.
fn first_error(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or_default()
        .to_owned()
}

/// `(sslmode, host, whether psql connects)`.
type Case = (&'static str, &'static str, bool);

/// A self-signed server certificate for `localhost` (the common name) and the cases run against it.
struct Variant<'a> {
    kind: SelfSigned,
    dns_names: &'a [&'a str],
    ips: &'a [IpAddr],
    cases: &'a [Case],
}

#[test]
fn item_07_a_self_signed_server_certificate_as_root_crt_is_accepted_as_psql_accepts_it() {
    let loopback = [IpAddr::V4(Ipv4Addr::LOCALHOST)];
    let variants = [
        // `openssl req -new -x509 -subj /CN=localhost`: CA:TRUE and the common name alone.
        Variant {
            kind: SelfSigned::Ca,
            dns_names: &[],
            ips: &[],
            cases: &[
                ("require", "127.0.0.1", true),
                ("verify-ca", "127.0.0.1", true),
                ("verify-full", "localhost", true),
                ("verify-full", "127.0.0.1", false),
            ],
        },
        Variant {
            kind: SelfSigned::NotCa,
            dns_names: &["localhost"],
            ips: &loopback,
            cases: &[
                ("require", "localhost", true),
                ("verify-ca", "localhost", true),
                ("verify-full", "localhost", true),
                ("verify-full", "127.0.0.1", true),
            ],
        },
        // CA:FALSE and the common name alone: WebPKI's chain holds, its name rule (alternative names only) did not.
        Variant {
            kind: SelfSigned::NotCa,
            dns_names: &[],
            ips: &[],
            cases: &[
                ("verify-ca", "127.0.0.1", true),
                ("verify-full", "localhost", true),
                ("verify-full", "127.0.0.1", false),
            ],
        },
        // No IP address among the alternative names: libpq then compares an IP host with the common name.
        Variant {
            kind: SelfSigned::NoConstraints,
            dns_names: &["localhost"],
            ips: &[],
            cases: &[
                ("require", "127.0.0.1", true),
                ("verify-ca", "127.0.0.1", true),
                ("verify-full", "localhost", true),
                ("verify-full", "127.0.0.1", false),
            ],
        },
    ];
    let mut differences = String::new();
    for Variant {
        kind,
        dns_names,
        ips,
        cases,
    } in variants
    {
        let server = self_signed_server_cert(kind, "localhost", dns_names, ips);
        let cert_pem = server.cert_pem.clone();
        let cluster = PgCluster::start_own(ClusterOptions {
            server_cert: Some(server),
            ..ClusterOptions::default()
        });
        let ctx = TestContext::new();
        ctx.write_file(".postgresql/root.crt", &cert_pem);
        // Another self-signed certificate for the same name in root.crt: both refuse the server's.
        let impostor = TestContext::new();
        let other = self_signed_server_cert(kind, "localhost", dns_names, ips);
        impostor.write_file(".postgresql/root.crt", &other.cert_pem);
        let impostor_cases = [("verify-ca", "localhost", false), ("verify-full", "localhost", false)];
        let runs = cases
            .iter()
            .map(|case| (&ctx, "server's own", *case))
            .chain(impostor_cases.iter().map(|case| (&impostor, "another", *case)));
        for (ctx, root, (mode, host, expected)) in runs {
            let env = libpq_env(cluster, host, mode);
            let psql = psql(cluster, ctx.home(), &env);
            let campctl = campctl_check(ctx, &env);
            let (psql_ok, campctl_ok) = (psql.status.success(), campctl.status.success());
            if psql_ok != expected || campctl_ok != psql_ok {
                let _ = writeln!(
                    differences,
                    "{kind:?} certificate, {root} certificate in root.crt, sslmode={mode} host={host}: psql {} ({}), \
                     campctl {} ({})",
                    if psql_ok { "connects" } else { "refuses" },
                    first_error(&psql),
                    if campctl_ok { "connects" } else { "refuses" },
                    first_error(&campctl),
                );
            }
        }
        cluster.stop();
    }
    assert!(
        differences.is_empty(),
        "campctl differs from psql (or psql from the expectation):\n{differences}"
    );
}

/// Server log lines of a session that ended without the protocol's Terminate message.
const ABRUPT_ENDS: [&str; 6] = [
    "connection to client lost",
    "connection reset by peer",
    "unexpected eof",
    "could not receive data from client",
    "could not send data to client",
    "ssl error",
];

/// The backend PIDs (`[pid]` of the default `log_line_prefix`) of the log lines that contain `text`.
fn backend_pids(log: &str, text: &str) -> Vec<String> {
    log.lines()
        .filter(|line| line.contains(text))
        .filter_map(|line| Some(line.split_once(" [")?.1.split_once(']')?.0.to_owned()))
        .collect()
}

/// Sessions that started in `log` and have not ended (no `disconnection` line yet).
fn unended_sessions(log: &str) -> Vec<String> {
    let ended = backend_pids(log, "disconnection: session time");
    backend_pids(log, "connection authorized")
        .into_iter()
        .filter(|pid| !ended.contains(pid))
        .collect()
}

#[test]
fn item_08_every_command_ends_its_sessions_with_a_terminate_message() {
    let cluster = PgCluster::start_own(ClusterOptions {
        extra_conf: "log_connections = on\nlog_disconnections = on\n".to_owned(),
        ..ClusterOptions::default()
    });
    let db = cluster.create_database();
    db.execute(
        "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 500) g;",
    );
    let ctx = TestContext::new();
    let store = ctx.home().join("store");
    std::fs::create_dir(&store).expect("create the store directory");
    ctx.write_file(
        "campctl.toml",
        format!(
            "[database]\nurl = \"{}\"\n\n[storage.local]\npath = \"{}\"\n",
            db.url(),
            store.display()
        ),
    );
    let tls_url = format!(
        "postgres://{}:{}@127.0.0.1:{}/{}?sslmode=require",
        cluster.superuser(),
        cluster.password(),
        cluster.port(),
        db.name()
    );
    let log_start = std::fs::read(cluster.log_path()).expect("read the server log").len();

    let mut runs: Vec<(Vec<String>, i32)> = Vec::new();
    // Before the fix one session in about 50 was cut off here (one in two on the machine), whenever the
    // server was still answering (e.g. a dropped statement's Close) as the process exited. 200 runs leave that
    // unseen about once in 100.
    for _ in 0..200 {
        runs.push((vec!["config".into(), "check".into()], 0));
    }
    for _ in 0..10 {
        runs.push((
            vec!["--db-url".into(), tls_url.clone(), "config".into(), "check".into()],
            0,
        ));
    }
    let scratch = format!("h2_{}", unique_suffix('_'));
    for (args, code) in [
        (vec!["stats"], 0),
        (vec!["stats", "connections"], 0),
        (vec!["vacuum", "--yes"], 0),
        (vec!["reindex", "--table", "t", "--yes"], 0),
        (vec!["backup"], 0),
        (vec!["test-restore", "--no-record"], 0),
        (vec!["restore", "--yes", "--to", scratch.as_str()], 0),
        // An error after connecting ends its session cleanly too.
        (vec!["vacuum", "--table", "no_such_table", "--yes"], 10),
    ] {
        runs.push((args.into_iter().map(str::to_owned).collect(), code));
    }
    for (args, code) in &runs {
        let output = ctx.cmd().args(args).output().expect("run campctl");
        assert_eq!(
            output.status.code(),
            Some(*code),
            "campctl {args:?}\nstderr: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    // The server writes a session's `disconnection` line as its backend exits, a moment after campctl does.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (log, unended) = loop {
        let log = std::fs::read(cluster.log_path()).expect("read the server log");
        let log = String::from_utf8_lossy(&log[log_start..]).into_owned();
        let unended = unended_sessions(&log);
        if unended.is_empty() || Instant::now() > deadline {
            break (log, unended);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    cluster.execute(
        "postgres",
        &format!("DROP DATABASE IF EXISTS \"{scratch}\" WITH (FORCE)"),
    );
    drop(db);
    cluster.stop();
    let sessions = backend_pids(&log, "connection authorized").len();
    assert!(
        sessions >= runs.len(),
        "{sessions} sessions for {} runs:\n{log}",
        runs.len()
    );
    assert!(
        unended.is_empty(),
        "sessions {unended:?} have no `disconnection` line:\n{log}"
    );
    let abrupt: Vec<&str> = log
        .lines()
        .filter(|line| {
            let line = line.to_lowercase();
            ABRUPT_ENDS.iter().any(|pattern| line.contains(pattern))
        })
        .collect();
    let mut cut_off = backend_pids(&abrupt.join("\n"), "");
    cut_off.sort();
    cut_off.dedup();
    assert!(
        abrupt.is_empty(),
        "{} of {sessions} sessions ended without Terminate:\n{}",
        cut_off.len(),
        abrupt.join("\n")
    );
}
