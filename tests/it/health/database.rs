//! The database checks against real PostgreSQL: thresholds set around values produced for real (a statement
//! sleeping in a background session, a transaction left idle, deadlocks between two sessions, a streaming standby
//! whose replay is paused), no connection, and a role without `pg_monitor`.

use std::sync::OnceLock;
use std::thread;
use std::time::Duration;

use serde_json::Value;

use super::{HealthEnv, results, status};
use crate::common::postgres::{ClusterOptions, PgCluster};
use crate::common::{assert_exit, pg, unique_suffix};

const ALL: &str = "database,connections,replication,deadlocks,long-queries,idle-in-transaction,wraparound,cache-hit";

/// A cluster of this file's own, so that sessions, deadlocks and replicas of other test files do not move its
/// values; deadlocks are detected after 100 ms instead of 1 s.
fn own() -> &'static PgCluster {
    static OWN: OnceLock<&'static PgCluster> = OnceLock::new();
    OWN.get_or_init(|| {
        PgCluster::start_own(ClusterOptions {
            extra_conf: "deadlock_timeout = 100ms\n".to_string(),
            ..ClusterOptions::default()
        })
    })
}

/// A sandbox whose campctl.toml has `toml` (health tables) and `[database] url = URL`.
fn env(url: &str, toml: &str) -> HealthEnv {
    HealthEnv::new(&format!("{toml}\n[database]\nurl = \"{url}\"\n"))
}

/// A superuser session of `db`'s cluster and its backend pid.
fn session(cluster: &PgCluster, db: &str) -> (postgres::Client, i32) {
    let mut client = cluster.client(db);
    let pid: i32 = client.query_one("SELECT pg_backend_pid()", &[]).expect("pid").get(0);
    (client, pid)
}

fn message<'a>(report: &'a Value, check: &str) -> &'a str {
    results(report, check)[0]["message"].as_str().expect("message")
}

fn value(report: &Value, check: &str) -> f64 {
    results(report, check)[0]["value"]
        .as_f64()
        .unwrap_or_else(|| panic!("a value for {check}: {report:#}"))
}

#[test]
fn database_connections_wraparound_and_cache_hit_reach_each_level_with_the_exit_code_of_the_worst() {
    let db = pg().create_database();
    db.execute("CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g; SELECT count(*) FROM t;");
    let mut client = db.client();
    let age: i64 = client
        .query_one(
            "SELECT max(age(datfrozenxid))::int8 FROM pg_database WHERE datname = current_database()",
            &[],
        )
        .expect("age")
        .get(0);
    for (level, code, seconds, percent, below) in [
        ("OK", 0, ("1h", "1h"), (1000.0, 1000.0), (-1.0, -1.0)),
        ("WARNING", 1, ("0", "1h"), (0.0, 1000.0), (101.0, -1.0)),
        ("CRITICAL", 2, ("0", "0"), (0.0, 0.0), (101.0, 101.0)),
    ] {
        let (w, c) = percent;
        let env = env(
            &db.url(),
            &format!(
                "[health.database]\nwarning = \"{}\"\ncritical = \"{}\"\n\
                 [health.connections]\nwarning = {w:?}\ncritical = {c:?}\n\
                 [health.wraparound]\nwarning = {w:?}\ncritical = {c:?}\n\
                 [health.cache_hit]\nmin_blocks = 0\nwarning = {:?}\ncritical = {:?}\n",
                seconds.0, seconds.1, below.0, below.1
            ),
        );
        let (report, output) = env.json(&["--check", "database,connections,wraparound,cache-hit"]);
        assert_exit(&output, code);
        for check in ["database", "connections", "wraparound", "cache-hit"] {
            assert_eq!(status(&report, check), level, "{check}: {report:#}");
        }
        assert!(value(&report, "database") > 0.0);
        assert!(message(&report, "database").contains("PostgreSQL 15"), "{report:#}");
        // This session and campctl's own at least, of 60 − 3 reserved.
        assert!(value(&report, "connections") >= 2.0 * 100.0 / 57.0, "{report:#}");
        assert!(message(&report, "connections").contains("max_connections 60, 3 reserved"));
        // The oldest database is at least as old as this one, in % of the default 200 million.
        assert!(
            value(&report, "wraparound") >= age as f64 * 100.0 / 200_000_000.0,
            "{report:#}"
        );
        let hit = value(&report, "cache-hit");
        assert!(hit > 0.0 && hit <= 100.0, "{report:#}");
    }

    // Defaults, and a primary without replicas: OK with a note.
    let env = env(&db.url(), "");
    let (report, output) = env.json(&["--check", "database,replication"]);
    assert_exit(&output, 0);
    assert!(message(&report, "replication").contains("no replica"), "{report:#}");
    assert_eq!(results(&report, "database")[0]["warning"], 1.0);
    assert_eq!(results(&report, "database")[0]["critical"], 3.0);
}

#[test]
fn long_queries_and_idle_in_transaction_are_measured_from_real_sessions() {
    let db = own().create_database();
    let (mut sleeper, sleeping) = session(own(), db.name());
    let sleep = thread::spawn(move || {
        let _ = sleeper.batch_execute("SELECT pg_sleep(60)");
    });
    let (mut idle, idling) = session(own(), db.name());
    idle.batch_execute("BEGIN; SELECT 1;").expect("begin");
    thread::sleep(Duration::from_millis(1300));

    for (level, code, warning, critical) in [
        ("OK", 0, "5m", "15m"),
        ("WARNING", 1, "1s", "1h"),
        ("CRITICAL", 2, "500ms", "1s"),
    ] {
        let tables = format!(
            "[health.long_queries]\nwarning = \"{warning}\"\ncritical = \"{critical}\"\n\
             [health.idle_in_transaction]\nwarning = \"{warning}\"\ncritical = \"{critical}\"\n"
        );
        let (report, output) = env(&db.url(), &tables).json(&["--check", "long-queries,idle-in-transaction"]);
        assert_exit(&output, code);
        assert_eq!(status(&report, "long-queries"), level, "{report:#}");
        assert_eq!(status(&report, "idle-in-transaction"), level, "{report:#}");
        assert!(value(&report, "long-queries") >= 1.3, "{report:#}");
        assert!(value(&report, "idle-in-transaction") >= 1.3, "{report:#}");
        assert!(
            message(&report, "long-queries").starts_with(&format!("pid {sleeping} (`postgres` in `{}`", db.name())),
            "{report:#}"
        );
        assert!(
            message(&report, "idle-in-transaction").starts_with(&format!("pid {idling} ")),
            "{report:#}"
        );
    }

    own().execute(
        "postgres",
        &format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid IN ({sleeping}, {idling})"),
    );
    sleep.join().expect("sleeper");
    drop(idle);
}

/// Two sessions that update the same two rows in opposite order: the server ends one of them (after
/// `deadlock_timeout`, 100 ms here).
fn deadlock(cluster: &'static PgCluster, db: &str) {
    let (mut first, _) = session(cluster, db);
    let (mut second, _) = session(cluster, db);
    first
        .batch_execute("BEGIN; UPDATE d SET n = n + 1 WHERE id = 1;")
        .expect("first");
    second
        .batch_execute("BEGIN; UPDATE d SET n = n + 1 WHERE id = 2;")
        .expect("second");
    let other = thread::spawn(move || {
        let result = second.batch_execute("UPDATE d SET n = n + 1 WHERE id = 1; COMMIT;");
        (second, result)
    });
    thread::sleep(Duration::from_millis(50));
    let mine = first.batch_execute("UPDATE d SET n = n + 1 WHERE id = 2; COMMIT;");
    let (_, theirs) = other.join().expect("second session");
    assert!(
        mine.is_err() != theirs.is_err(),
        "one of the two must be the deadlock victim: {mine:?} {theirs:?}"
    );
}

#[test]
fn deadlocks_are_a_rate_between_two_runs_and_the_first_run_says_so() {
    let db = own().create_database();
    db.execute("CREATE TABLE d (id int PRIMARY KEY, n int); INSERT INTO d VALUES (1, 0), (2, 0);");
    let env = env(&db.url(), "[health.deadlocks]\nwarning = 1.0\ncritical = 100000.0\n");
    let (report, output) = env.json(&["--check", "deadlocks"]);
    assert_exit(&output, 0);
    assert!(message(&report, "deadlocks").starts_with("first run: "), "{report:#}");

    deadlock(own(), db.name());
    let (report, output) = env.json(&["--check", "deadlocks"]);
    assert_exit(&output, 1);
    assert_eq!(status(&report, "deadlocks"), "WARNING", "{report:#}");
    assert!(
        message(&report, "deadlocks").starts_with("1 deadlocks in the "),
        "{report:#}"
    );
    assert!(value(&report, "deadlocks") >= 1.0, "{report:#}");

    // The defaults (1 and 5 per minute): one deadlock within a few seconds is far past 5 per minute.
    std::fs::write(
        &env.config,
        std::fs::read_to_string(&env.config)
            .expect("config")
            .replace("[health.deadlocks]\nwarning = 1.0\ncritical = 100000.0\n", ""),
    )
    .expect("rewrite the config");
    deadlock(own(), db.name());
    let (report, output) = env.json(&["--check", "deadlocks"]);
    assert_exit(&output, 2);
    assert_eq!(status(&report, "deadlocks"), "CRITICAL", "{report:#}");
    assert_eq!(results(&report, "deadlocks")[0]["critical"], 5.0);

    let (report, output) = env.json(&["--check", "deadlocks"]);
    assert_exit(&output, 0);
    assert_eq!(results(&report, "deadlocks")[0]["value"], 0.0, "{report:#}");
}

/// Polls `sql` (a boolean) on `cluster` until it is true.
fn wait_for(cluster: &PgCluster, sql: &str) {
    let mut client = cluster.client("postgres");
    for _ in 0..100 {
        if client.query_one(sql, &[]).expect("poll").get::<_, bool>(0) {
            return;
        }
        thread::sleep(Duration::from_millis(50));
    }
    panic!("not true within 5 s: {sql}");
}

/// The standby's report once it shows no lag: OK with 0 s. A WAL record the server writes on its own (a
/// checkpoint, running transactions) may be received a moment before it is replayed, so up to three runs.
fn caught_up(on_standby: &dyn Fn(&str, &str) -> (Value, std::process::Output)) -> Value {
    let mut last = Value::Null;
    for _ in 0..3 {
        let (report, output) = on_standby("1s", "1h");
        if output.status.code() == Some(0) && results(&report, "replication")[0]["value"] == 0.0 {
            return report;
        }
        last = report;
        thread::sleep(Duration::from_millis(200));
    }
    panic!("the standby does not report 0 s of lag: {last:#}");
}

#[test]
fn replication_lag_is_measured_on_a_paused_standby_and_from_the_primary() {
    let primary = own();
    let standby = primary.start_standby();
    let db = primary.create_database();
    let commit = |value: i32| {
        db.execute(&format!(
            "CREATE TABLE IF NOT EXISTS r (n int); INSERT INTO r VALUES ({value});"
        ));
        let lsn: String = db
            .client()
            .query_one("SELECT pg_current_wal_lsn()::text", &[])
            .expect("lsn")
            .get(0);
        lsn
    };
    let lsn = commit(1);
    wait_for(standby, &format!("SELECT pg_last_wal_replay_lsn() >= '{lsn}'"));
    let on_standby = |warning: &str, critical: &str| {
        env(
            &standby.url("postgres"),
            &format!("[health.replication]\nwarning = \"{warning}\"\ncritical = \"{critical}\"\n"),
        )
        .json(&["--check", "replication"])
    };
    let report = caught_up(&on_standby);
    assert!(
        message(&report, "replication").contains("replayed all WAL received"),
        "{report:#}"
    );

    // Replay stops; the primary commits more, which the standby receives but does not replay.
    standby.execute("postgres", "SELECT pg_wal_replay_pause()");
    // The pause takes effect when the startup process next looks for it, between records: a record in flight may
    // still be replayed. Write one and wait until replay has really stopped, so that the next commit stays behind.
    commit(0);
    wait_for(standby, "SELECT pg_get_wal_replay_pause_state() = 'paused'");
    thread::sleep(Duration::from_millis(1100));
    let lsn = commit(2);
    wait_for(standby, &format!("SELECT pg_last_wal_receive_lsn() >= '{lsn}'"));
    let (report, output) = on_standby("1s", "1h");
    assert_exit(&output, 1);
    assert_eq!(results(&report, "replication")[0]["target"], "standby");
    assert!(value(&report, "replication") >= 1.1, "{report:#}");
    assert!(
        message(&report, "replication").contains("(replay is paused)"),
        "{report:#}"
    );
    let (_, output) = on_standby("500ms", "1s");
    assert_exit(&output, 2);

    // The primary's view: the replica's replay position stands still while it is behind.
    let primary_env = env(&db.url(), "[health.replication]\nwarning = \"1s\"\ncritical = \"1h\"\n");
    let (report, _) = primary_env.json(&["--check", "replication"]);
    assert_eq!(results(&report, "replication").len(), 1, "{report:#}");
    thread::sleep(Duration::from_millis(1100));
    let (report, output) = primary_env.json(&["--check", "replication"]);
    assert_exit(&output, 1);
    assert!(value(&report, "replication") >= 1.1, "{report:#}");
    assert!(message(&report, "replication").contains(" behind"), "{report:#}");

    // A role without pg_monitor cannot see the replica's positions.
    let role = format!("h_low_{}", unique_suffix('_'));
    primary.execute("postgres", &format!("CREATE ROLE {role} LOGIN PASSWORD 'low'"));
    let low_url = format!(
        "postgres://{role}:low@127.0.0.1:{}/{}?sslmode=disable",
        primary.port(),
        db.name()
    );
    let (report, output) = env(&low_url, "").json(&["--check", "replication"]);
    assert_exit(&output, 3);
    assert!(
        message(&report, "replication").contains("grant it `pg_monitor`"),
        "{report:#}"
    );

    // Replay resumes and catches up: no lag on either side.
    standby.execute("postgres", "SELECT pg_wal_replay_resume()");
    wait_for(standby, &format!("SELECT pg_last_wal_replay_lsn() >= '{lsn}'"));
    caught_up(&on_standby);
    standby.stop();
    primary.execute("postgres", &format!("DROP ROLE {role}"));
}

#[test]
fn without_a_connection_database_is_critical_and_the_others_unknown_without_the_password() {
    let port = crate::common::process::free_port();
    let env = env(
        &format!("postgres://postgres:s3cretpassw0rd@127.0.0.1:{port}/postgres?sslmode=disable"),
        "",
    );
    let (report, output) = env.json(&["--check", ALL]);
    assert_exit(&output, 2);
    assert_eq!(status(&report, "database"), "CRITICAL", "{report:#}");
    assert!(
        message(&report, "database").starts_with("cannot connect: "),
        "{report:#}"
    );
    assert!(message(&report, "database").contains(&port.to_string()), "{report:#}");
    for check in ALL.split(',').skip(1) {
        assert_eq!(status(&report, check), "UNKNOWN", "{check}: {report:#}");
        assert!(message(&report, check).starts_with("no connection: "), "{report:#}");
    }
    for text in [&output.stdout, &output.stderr] {
        assert!(!String::from_utf8_lossy(text).contains("s3cretpassw0rd"));
    }
    let output = env.run(&["--format", "nagios", "health", "--check", ALL]);
    assert_exit(&output, 2);
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("CAMPCTL HEALTH CRITICAL - 1 critical, 7 unknown"));
}

#[test]
fn a_role_without_pg_monitor_gets_unknown_where_it_cannot_see() {
    let db = pg().create_database();
    let role = format!("h_low_{}", unique_suffix('_'));
    db.execute(&format!("CREATE ROLE {role} LOGIN PASSWORD 'low'"));
    // Another role's session, whose state this role cannot see.
    let (mut hidden, _) = session(pg(), db.name());
    hidden.batch_execute("BEGIN; SELECT 1;").expect("begin");
    let url = format!(
        "postgres://{role}:low@127.0.0.1:{}/{}?sslmode=disable",
        pg().port(),
        db.name()
    );
    let env = env(
        &url,
        "[health.connections]\nwarning = 1000.0\ncritical = 1000.0\n[health.wraparound]\nwarning = 1000.0\ncritical = 1000.0\n[health.cache_hit]\nmin_blocks = 1000000000\n",
    );
    let (report, output) = env.json(&["--check", ALL]);
    assert_exit(&output, 3);
    for check in ["long-queries", "idle-in-transaction"] {
        assert_eq!(status(&report, check), "UNKNOWN", "{check}: {report:#}");
        assert!(
            message(&report, check).contains("not visible to this role"),
            "{report:#}"
        );
    }
    for check in [
        "database",
        "connections",
        "replication",
        "deadlocks",
        "wraparound",
        "cache-hit",
    ] {
        assert_eq!(status(&report, check), "OK", "{check}: {report:#}");
    }
    drop(hidden);
    pg().execute("postgres", &format!("DROP ROLE {role}"));
}

#[test]
fn thresholds_in_the_wrong_order_name_the_table_with_its_underscore() {
    let env = env(
        &pg().url("postgres"),
        "[health.long_queries]\nwarning = \"20m\"\ncritical = \"5m\"\n",
    );
    let output = env.run(&["health", "--check", "database"]);
    assert_exit(&output, 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`[health.long_queries]` in") && stderr.contains("warning = 1200 is above critical = 300"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn every_database_check_runs_on_one_session() {
    let db = pg().create_database();
    // A role that may open one connection only: a second session of the run would be refused.
    let role = format!("h_one_{}", unique_suffix('_'));
    db.execute(&format!(
        "CREATE ROLE {role} LOGIN PASSWORD 'one' CONNECTION LIMIT 1; GRANT pg_monitor TO {role};"
    ));
    let url = format!(
        "postgres://{role}:one@127.0.0.1:{}/{}?sslmode=disable",
        pg().port(),
        db.name()
    );
    let env = env(
        &url,
        "[health.connections]\nwarning = 1000.0\ncritical = 1000.0\n[health.cache_hit]\nmin_blocks = 1000000000\n",
    );
    let (report, output) = env.json(&["--check", ALL]);
    assert_exit(&output, 0);
    assert_eq!(report["checks"].as_array().expect("checks").len(), 8, "{report:#}");
    pg().execute("postgres", &format!("DROP ROLE {role}"));
}
