//! `campctl reindex` against a real PostgreSQL: bloated indexes shrink (measured by pgstatindex and by the
//! statistics estimate), invalid indexes and real `_ccnew` leftovers are repaired, identifiers are quoted, a held lock
//! ends in exit 3 instead of a hang, and `--dry-run` changes nothing.

use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{TestContext, TestDb, assert_exit};

/// A database and a campctl.toml pointing at it.
struct Env {
    ctx: TestContext,
    db: TestDb,
}

impl Env {
    fn new() -> Self {
        Self::with_database_config("")
    }

    /// `extra` goes into `[database]`, e.g. `lock_timeout = "1s"`.
    fn with_database_config(extra: &str) -> Self {
        let ctx = TestContext::new();
        let db = ctx.db();
        ctx.write_file("campctl.toml", format!("[database]\nurl = \"{}\"\n{extra}", db.url()));
        Self { ctx, db }
    }

    /// `campctl reindex ARGS`, never longer than a minute.
    fn run(&self, args: &[&str]) -> Output {
        self.ctx
            .cmd()
            .arg("reindex")
            .args(args)
            .timeout(Duration::from_secs(60))
            .output()
            .expect("run campctl")
    }

    /// `campctl --format json reindex ARGS`: checks the exit code and returns the report.
    fn json(&self, args: &[&str], code: i32) -> Value {
        let output = self
            .ctx
            .cmd()
            .args(["--format", "json", "reindex"])
            .args(args)
            .timeout(Duration::from_secs(60))
            .output()
            .expect("run campctl");
        assert_exit(&output, code);
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "the report is not JSON ({e}): {}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }

    /// `(oid, size, valid)` of the index `name` in `public`, if it exists.
    fn index(&self, name: &str) -> Option<(u32, i64, bool)> {
        self.db
            .client()
            .query_opt(
                "SELECT c.oid, pg_relation_size(c.oid), i.indisvalid FROM pg_class c \
                 JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relname = $1 AND c.relnamespace = 'public'::regnamespace",
                &[&name],
            )
            .expect("look up the index")
            .map(|row| (row.get(0), row.get(1), row.get(2)))
    }
}

fn rows(report: &Value) -> &Vec<Value> {
    report["indexes"].as_array().expect("indexes is an array")
}

fn names(report: &Value) -> Vec<&str> {
    rows(report)
        .iter()
        .map(|row| row["index"].as_str().expect("index name"))
        .collect()
}

fn row<'a>(report: &'a Value, index: &str) -> &'a Value {
    rows(report)
        .iter()
        .find(|row| row["index"] == index)
        .unwrap_or_else(|| panic!("`{index}` is not in the report: {report:#}"))
}

fn int(value: &Value) -> i64 {
    value.as_i64().unwrap_or_else(|| panic!("not an integer: {value}"))
}

/// `bloated`: 100,000 rows, 9 in 10 deleted from every leaf page and vacuumed, so its primary key is ~90% empty
/// space. `fresh`: 20,000 rows, its primary key as built. Without autovacuum, so that only the test analyzes them.
fn seed_bloated(env: &Env) {
    env.db.execute(
        "CREATE TABLE bloated (id int PRIMARY KEY, payload int) WITH (autovacuum_enabled = false);
         INSERT INTO bloated SELECT g, g FROM generate_series(1, 100000) g;
         DELETE FROM bloated WHERE id % 10 <> 0;
         CREATE TABLE fresh (id int PRIMARY KEY) WITH (autovacuum_enabled = false);
         INSERT INTO fresh SELECT g FROM generate_series(1, 20000) g;",
    );
    env.db.execute("VACUUM bloated");
}

/// Reindexing `bloated` gives the space back, and the report says how much.
fn assert_shrinks(env: &Env) {
    let report = env.json(&["--table", "bloated"], 0);
    assert_eq!(names(&report), ["bloated_pkey"], "{report:#}");
    let pkey = row(&report, "bloated_pkey");
    assert_eq!(pkey["status"], "done", "{report:#}");
    let (before, after) = (int(&pkey["size_before_bytes"]), int(&pkey["size_after_bytes"]));
    assert!(after < before / 4, "{before} → {after}: {report:#}");
    assert_eq!(int(&pkey["reclaimed_bytes"]), before - after);
    assert_eq!(int(&report["reclaimed_bytes"]), before - after);
    assert_eq!(report["done"], 1);
    assert_eq!(report["failed"], 0);
    let (_, size, valid) = env.index("bloated_pkey").expect("the rebuilt index keeps its name");
    assert!(valid);
    assert_eq!(size, after);
}

#[test]
fn pgstatindex_measures_bloat_and_a_dry_run_changes_nothing() {
    let env = Env::new();
    seed_bloated(&env);
    env.db.execute("CREATE EXTENSION pgstattuple");
    let before = (env.index("bloated_pkey"), env.index("fresh_pkey"));

    let plan = env.json(&["--dry-run", "--min-bloat-ratio", "0.3"], 0);
    assert_eq!(names(&plan), ["bloated_pkey"], "{plan:#}");
    let pkey = row(&plan, "bloated_pkey");
    assert_eq!(pkey["bloat_before"]["source"], "pgstatindex", "{plan:#}");
    let ratio = pkey["bloat_before"]["ratio"].as_f64().expect("a measured ratio");
    assert!(ratio > 0.8, "{plan:#}");
    assert_eq!(pkey["status"], "planned");
    assert_eq!(
        pkey["statement"],
        "REINDEX INDEX CONCURRENTLY \"public\".\"bloated_pkey\""
    );
    assert_eq!(plan["not_selected"], 1, "fresh_pkey is below the threshold: {plan:#}");
    assert!(
        plan["notes"][0]
            .as_str()
            .expect("a note")
            .contains("below the thresholds")
    );

    // Every index, as a table for people: the plan names both, with their statements, and nothing changes.
    // (pgstatindex reads whole indexes, so it is used only when a bloat threshold decides: here 0.)
    let output = env.run(&["--dry-run", "--min-bloat-ratio", "0"]);
    assert_exit(&output, 0);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("(dry run)") && text.contains("fresh_pkey") && text.contains("pgstatindex"),
        "{text}"
    );
    assert!(text.contains("REINDEX INDEX CONCURRENTLY"), "{text}");
    assert_eq!(
        (env.index("bloated_pkey"), env.index("fresh_pkey")),
        before,
        "a dry run changes nothing"
    );

    assert_shrinks(&env);
}

#[test]
fn the_statistics_estimate_measures_bloat_without_pgstattuple() {
    let env = Env::new();
    seed_bloated(&env);

    // Never analyzed: no statistics, so the bloat is unknown and --min-bloat-ratio leaves both out.
    let plan = env.json(&["--dry-run", "--min-bloat-ratio", "0.3"], 0);
    assert_eq!(names(&plan), Vec::<&str>::new(), "{plan:#}");
    assert_eq!(plan["not_selected"], 2, "{plan:#}");
    assert!(
        plan["notes"][0].as_str().expect("a note").contains("unknown bloat"),
        "{plan:#}"
    );
    let all = env.json(&["--dry-run", "--table", "fresh"], 0);
    assert_eq!(row(&all, "fresh_pkey")["bloat_before"]["source"], "unknown", "{all:#}");

    env.db.execute("ANALYZE bloated, fresh");
    let plan = env.json(&["--dry-run", "--min-bloat-ratio", "0.3"], 0);
    assert_eq!(names(&plan), ["bloated_pkey"], "{plan:#}");
    let bloat = &row(&plan, "bloated_pkey")["bloat_before"];
    assert_eq!(bloat["source"], "estimate", "{plan:#}");
    assert!(bloat["ratio"].as_f64().expect("an estimate") > 0.8, "{plan:#}");
    let fresh = env.json(&["--dry-run", "--table", "fresh"], 0);
    let fresh_bloat = &row(&fresh, "fresh_pkey")["bloat_before"];
    assert_eq!(fresh_bloat["source"], "estimate");
    assert!(fresh_bloat["ratio"].as_f64().expect("an estimate") < 0.1, "{fresh:#}");

    // --min-size: the bloated index is over 1 MiB, the fresh one under.
    let big = env.json(&["--dry-run", "--min-size", "1MiB"], 0);
    assert_eq!(names(&big), ["bloated_pkey"], "{big:#}");

    assert_shrinks(&env);
}

#[test]
fn invalid_unique_index_is_rebuilt_once_the_duplicates_are_gone() {
    let env = Env::new();
    env.db
        .execute("CREATE TABLE u (v int); INSERT INTO u VALUES (1), (1), (2);");
    let failed = env
        .db
        .client()
        .batch_execute("CREATE UNIQUE INDEX CONCURRENTLY u_v_key ON u (v)");
    assert!(failed.is_err(), "the duplicates make the build fail");
    assert_eq!(env.index("u_v_key").map(|(_, _, valid)| valid), Some(false));

    // Without --invalid, invalid indexes are left out and the plan says how to repair them.
    let plan = env.json(&["--dry-run"], 0);
    assert_eq!(names(&plan), Vec::<&str>::new(), "{plan:#}");
    assert!(
        plan["notes"][0].as_str().expect("a note").contains("--invalid"),
        "{plan:#}"
    );

    // With the duplicates still there the rebuild fails (exit 3); campctl drops the `_ccnew` copy it left and says
    // to remove the duplicates first (running `--invalid` again would only loop: hardening item 16).
    let output = env.run(&["--invalid"]);
    assert_exit(&output, 3);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("1 of 1 indexes failed: public.u_v_key"), "{stderr}");
    assert!(stderr.contains("remove the duplicates first"), "{stderr}");
    assert_eq!(env.index("u_v_key_ccnew"), None);

    env.db.execute("DELETE FROM u; INSERT INTO u VALUES (1), (2);");
    let plan = env.json(&["--dry-run", "--invalid"], 0);
    assert_eq!(names(&plan), ["u_v_key"], "{plan:#}");
    assert_eq!(row(&plan, "u_v_key")["action"], "reindex");
    let report = env.json(&["--invalid"], 0);
    assert_eq!(report["done"], 1, "{report:#}");
    assert_eq!(env.index("u_v_key").map(|(_, _, valid)| valid), Some(true));
    assert_eq!(env.index("u_v_key_ccnew"), None);
}

#[test]
fn a_cancelled_reindex_concurrently_leaves_a_ccnew_that_invalid_drops() {
    let env = Env::new();
    env.db
        .execute("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 1000);");
    // An open snapshot makes REINDEX CONCURRENTLY wait ("waiting for old snapshots") after it created `t_pkey_ccnew`.
    let mut holder = env.db.client();
    holder
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1")
        .expect("hold a snapshot");
    let mut reindexer = env.db.client();
    let pid: i32 = reindexer.query_one("SELECT pg_backend_pid()", &[]).expect("pid").get(0);
    let reindex = std::thread::spawn(move || reindexer.batch_execute("REINDEX INDEX CONCURRENTLY t_pkey"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while env.index("t_pkey_ccnew").is_none() {
        assert!(Instant::now() < deadline, "no `t_pkey_ccnew` appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut observer = env.db.client();
    observer
        .execute("SELECT pg_cancel_backend($1)", &[&pid])
        .expect("cancel the reindex");
    assert!(
        reindex.join().expect("the thread ends").is_err(),
        "the REINDEX was cancelled"
    );
    holder.batch_execute("COMMIT").expect("end the snapshot");
    assert_eq!(env.index("t_pkey_ccnew").map(|(_, _, valid)| valid), Some(false));

    let plan = env.json(&["--dry-run", "--invalid"], 0);
    assert_eq!(names(&plan), ["t_pkey_ccnew"], "{plan:#}");
    let leftover = row(&plan, "t_pkey_ccnew");
    assert_eq!(
        leftover["statement"],
        "DROP INDEX CONCURRENTLY \"public\".\"t_pkey_ccnew\""
    );
    assert!(
        leftover["reason"].as_str().expect("a reason").contains("_ccnew"),
        "{plan:#}"
    );
    let output = env.run(&["--dry-run", "--invalid"]);
    assert_exit(&output, 0);
    assert!(String::from_utf8_lossy(&output.stdout).contains("DROP INDEX CONCURRENTLY"));

    let report = env.json(&["--invalid"], 0);
    assert_eq!(row(&report, "t_pkey_ccnew")["status"], "done", "{report:#}");
    assert_eq!(env.index("t_pkey_ccnew"), None);
    assert_eq!(env.index("t_pkey").map(|(_, _, valid)| valid), Some(true));
}

#[test]
fn quoted_non_ascii_and_injection_shaped_names() {
    let env = Env::new();
    env.db.execute(
        "CREATE TABLE x (id int);
         CREATE TABLE \"a\"\"; DROP TABLE x; --\" (id int);
         CREATE INDEX \"a\"\"; DROP TABLE x; --_idx\" ON \"a\"\"; DROP TABLE x; --\" (id);
         CREATE TABLE données_été (id int);
         CREATE INDEX données_été_idx ON données_été (id);
         CREATE TABLE \"Order Lines\" (id int, note text);
         CREATE INDEX \"Order Lines_id\" ON \"Order Lines\" (id);
         CREATE INDEX \"Order Lines_note\" ON \"Order Lines\" (note);",
    );
    let report = env.json(
        &[
            "--jobs",
            "2",
            "--table",
            "public.\"a\"\"; DROP TABLE x; --\"",
            "--table",
            "données_été",
            "--index",
            "\"Order Lines_note\"",
        ],
        0,
    );
    let mut got = names(&report);
    got.sort_unstable();
    assert_eq!(
        got,
        ["Order Lines_note", "a\"; DROP TABLE x; --_idx", "données_été_idx"],
        "{report:#}"
    );
    assert_eq!(report["done"], 3, "{report:#}");
    assert_eq!(
        row(&report, "a\"; DROP TABLE x; --_idx")["statement"],
        "REINDEX INDEX CONCURRENTLY \"public\".\"a\"\"; DROP TABLE x; --_idx\""
    );
    assert!(table_exists(&env, "x"), "the table `x` survives");

    let by_table = env.json(&["--dry-run", "--table", "\"Order Lines\""], 0);
    assert_eq!(names(&by_table), ["Order Lines_id", "Order Lines_note"], "{by_table:#}");

    for (args, code) in [
        (&["--table", "nope"][..], 10),
        (&["--table", "\"order lines\""][..], 10),
        (&["--index", "nope_idx"][..], 10),
        (&["--schema", "nope"][..], 10),
        (&["--index", "x"][..], 2),
        (&["--table", "données_été(id)"][..], 2),
        (&["--database", "--table", "x"][..], 2),
        (&["--min-bloat-ratio", "30"][..], 2),
    ] {
        assert_exit(&env.run(args), code);
    }

    // Plain REINDEX blocks the table: it needs a confirmation, which a test (no terminal) can only give with --yes.
    let refused = env.run(&["--no-concurrently", "--table", "données_été"]);
    assert_exit(&refused, 2);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--yes"));
    let report = env.json(&["--yes", "--no-concurrently", "--table", "données_été"], 0);
    assert_eq!(
        row(&report, "données_été_idx")["statement"],
        "REINDEX INDEX \"public\".\"données_été_idx\""
    );
    assert_eq!(report["done"], 1);
}

fn table_exists(env: &Env, name: &str) -> bool {
    env.db
        .client()
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
        .expect("look up the table")
        .get(0)
}

#[test]
fn a_held_lock_times_out_with_exit_3_and_a_report() {
    let env = Env::with_database_config("lock_timeout = \"1s\"\n");
    env.db
        .execute("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 1000);");
    let mut holder = env.db.client();
    holder
        .batch_execute("BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        .expect("hold the lock");

    let started = Instant::now();
    let output = env
        .ctx
        .cmd()
        .args(["--format", "json", "reindex", "--table", "t"])
        .timeout(Duration::from_secs(30))
        .output()
        .expect("run campctl");
    assert_exit(&output, 3);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "no hang: {:?}",
        started.elapsed()
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("1 of 1 indexes failed: public.t_pkey (lock timeout"),
        "{stderr}"
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("the report is JSON");
    let pkey = row(&report, "t_pkey");
    assert_eq!(pkey["status"], "failed", "{report:#}");
    assert!(
        pkey["detail"].as_str().expect("a detail").contains("lock timeout"),
        "{report:#}"
    );
    assert!(
        pkey["size_before_bytes"].is_null(),
        "measuring does not wait for the lock: {report:#}"
    );
    assert_eq!(report["failed"], 1);
    holder.batch_execute("ROLLBACK").expect("release the lock");
}
