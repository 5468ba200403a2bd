//! `campctl stats` against the harness's real PostgreSQL: every section's figures checked against what the server
//! says, the session sections with sessions the tests hold open, and the privileges of `pg_monitor` and of a role
//! without it. Each test has its own database (and roles with unique names, dropped at the end).
//!
//! - [`relations`]: tables, indexes, vacuum, CSV and the `[stats]` defaults of campctl.toml;
//! - [`server`]: database, replication, settings, the summary and usage errors;
//! - [`sessions`]: connections, queries, `--terminate` and `--terminate-idle`;
//! - [`privileges`]: a `pg_monitor` role and a role without it.

mod privileges;
mod relations;
mod server;
mod sessions;

use std::process::Output;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{TestContext, TestDb, describe, pg, unique_suffix};

/// The seed of the table, index and vacuum tests.
const SEED: &str = include_str!("../fixtures/stats_seed.sql");

/// How long to wait for the server to catch up (statistics flushed, a session waiting) before failing.
const PATIENCE: Duration = Duration::from_secs(20);

/// Runs `campctl --db-url URL --format json stats ARGS...` with an empty stdin (never a terminal).
fn stats(ctx: &TestContext, url: &str, args: &[&str]) -> Output {
    ctx.cmd()
        .args(["--db-url", url, "--format", "json", "stats"])
        .args(args)
        .write_stdin("")
        .output()
        .expect("run campctl")
}

/// The JSON of a successful run; fails with stderr otherwise.
fn json(output: &Output) -> Value {
    assert_eq!(
        output.status.code(),
        Some(0),
        "campctl failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", String::from_utf8_lossy(&output.stdout)))
}

/// `campctl stats ARGS` as JSON, as the superuser.
fn stats_json(ctx: &TestContext, db: &TestDb, args: &[&str]) -> Value {
    json(&stats(ctx, &db.url(), args))
}

/// The element of `array` whose `key` is `value`.
fn find<'a>(array: &'a Value, key: &str, value: impl Into<Value>) -> &'a Value {
    let value = value.into();
    array
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {array}"))
        .iter()
        .find(|item| item[key] == value)
        .unwrap_or_else(|| panic!("no element with {key} = {value} in {array:#}"))
}

/// Polls `probe` until it returns `Some`, or fails after [`PATIENCE`].
pub(crate) fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(start.elapsed() < PATIENCE, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(50));
    }
}

/// Seeds `db` with the fixture and waits until the server's statistics show it (they are flushed when the
/// seeding session ends, asynchronously).
fn seed(db: &TestDb) {
    db.execute(SEED);
    let mut client = db.client();
    wait_for("the seed's statistics", || {
        let row = client
            .query_one(
                "SELECT coalesce(sum(n_live_tup), 0)::int8, coalesce(sum(n_dead_tup), 0)::int8
                 FROM pg_stat_user_tables",
                &[],
            )
            .expect("read pg_stat_user_tables");
        let counts: (i64, i64) = (row.get(0), row.get(1));
        (counts == (750 + 750 + 600 + 2 + 2, 500)).then_some(())
    });
}

/// One `bigint` from a query.
fn scalar(client: &mut postgres::Client, sql: &str) -> i64 {
    client
        .query_one(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

/// An `i64` field of a JSON object.
fn int(value: &Value, key: &str) -> i64 {
    value[key]
        .as_i64()
        .unwrap_or_else(|| panic!("`{key}` is not an integer in {value:#}"))
}

/// A number field of a JSON object.
fn float(value: &Value, key: &str) -> f64 {
    value[key]
        .as_f64()
        .unwrap_or_else(|| panic!("`{key}` is not a number in {value:#}"))
}

/// The backend PID of a client.
fn pid_of(client: &mut postgres::Client) -> i32 {
    client
        .query_one("SELECT pg_backend_pid()", &[])
        .expect("pg_backend_pid()")
        .get(0)
}

/// Runs `sql` on its own connection to `db` in a thread; returns the session's PID and the thread.
pub(crate) fn in_background(db: &TestDb, sql: &'static str) -> (i32, JoinHandle<Result<(), postgres::Error>>) {
    let mut client = db.client();
    let pid = pid_of(&mut client);
    (pid, thread::spawn(move || client.batch_execute(sql)))
}

/// Waits until session `pid` is in `state` (and, if given, waits for `wait_event_type`); a superuser connection
/// to `postgres` looks, so that the test database has no session of its own.
fn wait_for_state(pid: i32, state: &str, wait_event_type: Option<&str>) {
    let mut client = pg().client("postgres");
    wait_for(&format!("PID {pid} to be {state}"), || {
        let row = client
            .query_opt(
                "SELECT state, wait_event_type FROM pg_stat_activity WHERE pid = $1",
                &[&pid],
            )
            .expect("read pg_stat_activity")?;
        let matches = row.get::<_, Option<String>>(0).as_deref() == Some(state)
            && wait_event_type.is_none_or(|wanted| row.get::<_, Option<String>>(1).as_deref() == Some(wanted));
        matches.then_some(())
    });
}

/// Whether a session (or background process) with this PID is in `pg_stat_activity`, as the superuser sees it.
pub(crate) fn session_exists(pid: i32) -> bool {
    pg().client("postgres")
        .query_opt("SELECT 1 FROM pg_stat_activity WHERE pid = $1", &[&pid])
        .expect("read pg_stat_activity")
        .is_some()
}

/// A login role with a unique name, dropped with the guard; with no group it has no privilege beyond CONNECT
/// (no `pg_monitor`, no `pg_read_all_stats`).
pub(crate) struct Role {
    name: String,
    password: String,
}

impl Role {
    /// A new role, a member of `member_of` (e.g. `pg_monitor`) if given.
    pub(crate) fn create(member_of: Option<&str>) -> Self {
        let suffix = unique_suffix('_');
        let role = Self {
            name: format!("stats_role_{suffix}"),
            password: format!("pw{suffix}"),
        };
        let membership = member_of.map(|group| format!(" IN ROLE {group}")).unwrap_or_default();
        pg().execute(
            "postgres",
            &format!(
                "CREATE ROLE {} LOGIN PASSWORD '{}'{membership}",
                role.name, role.password
            ),
        );
        role
    }

    /// A URL to `db` as this role.
    pub(crate) fn url(&self, db: &TestDb) -> String {
        let pg = pg();
        format!(
            "postgres://{}:{}@{}:{}/{}?sslmode=disable",
            self.name,
            self.password,
            pg.host(),
            pg.port(),
            db.name()
        )
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        // No panic: this may run while a failed test unwinds.
        let sql = format!("DROP ROLE IF EXISTS {}", self.name);
        if let Err(e) = pg()
            .config("postgres")
            .connect(postgres::NoTls)
            .and_then(|mut c| c.batch_execute(&sql))
        {
            eprintln!("{sql} failed: {}", describe(&e));
        }
    }
}
