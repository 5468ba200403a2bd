//! `campctl vacuum` against the harness's real PostgreSQL: dead tuples removed by VACUUM, VACUUM FULL giving space
//! back (and its confirmation), selection by dead tuples, dead ratio, missing statistics and transaction-id age, a
//! table locked by another session (`--skip-locked`, `lock_timeout`), awkward identifiers, parallel sessions and
//! Ctrl-C cancelling the statement on the server. Every report is read as JSON and checked against what the server
//! itself says (pg_stat_user_tables, pg_class, pg_stats, pg_stat_activity).
//!
//! Every table is created with autovacuum off, so that only campctl vacuums or analyzes it during a test.

use std::process::{Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{TestContext, TestDb, assert_exit, describe};

/// Storage parameters of every test table: no autovacuum or autoanalyze behind the test's back.
const NO_AUTOVACUUM: &str = "WITH (autovacuum_enabled = false)";

/// A test's database and a `campctl.toml` that points at it.
struct Env {
    ctx: TestContext,
    db: TestDb,
}

impl Env {
    /// A fresh database seeded with `seed` (statistics flushed), and a config with just its URL.
    fn new(seed: &str) -> Self {
        Self::with_config(seed, "")
    }

    /// [`Self::new`] with more lines for the `[database]` table of campctl.toml.
    fn with_config(seed: &str, database: &str) -> Self {
        let ctx = TestContext::new();
        let db = ctx.db();
        ctx.write_file(
            "campctl.toml",
            format!("[database]\nurl = \"{}\"\n{database}", db.url()),
        );
        let env = Self { ctx, db };
        env.sql(seed);
        env
    }

    /// Runs `sql` in one session, then makes that session flush its statistics before it answers, so that
    /// pg_stat_user_tables shows the changes when campctl starts; then waits until every transaction older than
    /// `sql` has ended, in any database of the shared cluster.
    ///
    /// The wait matters because the cluster is shared: another test's `LOCK TABLE … IN ACCESS EXCLUSIVE MODE` holds
    /// a transaction id for seconds, and while it runs, VACUUM FULL (whose own snapshot counts) and any session
    /// still authenticating (whose snapshot is not tied to a database yet) keep every database's rows deleted after
    /// it: VACUUM would leave them as "recently dead", and FREEZE could not move relfrozenxid past it.
    fn sql(&self, sql: &str) {
        let mut client = self.db.client();
        if let Err(e) = client.batch_execute(sql) {
            panic!("SQL failed: {}\n--- SQL ---\n{sql}", describe(&e));
        }
        client
            .batch_execute("SELECT pg_stat_force_next_flush()")
            .expect("flush statistics");
        let after: String = client
            .query_one("SELECT pg_current_xact_id()::text", &[])
            .expect("a transaction id")
            .get(0);
        let settled = poll(Duration::from_secs(15), || {
            client
                .query_one(
                    "SELECT pg_snapshot_xmin(pg_current_snapshot()) > $1::text::xid8",
                    &[&after],
                )
                .expect("the oldest running transaction")
                .get::<_, bool>(0)
                .then_some(())
        });
        assert!(
            settled.is_some(),
            "transactions older than xid {after} still run after 15 s"
        );
    }

    /// `campctl --format json vacuum ARGS...` with an empty stdin (never a terminal).
    fn run(&self, args: &[&str]) -> Output {
        self.ctx
            .cmd()
            .args(["--format", "json", "vacuum"])
            .args(args)
            .write_stdin("")
            .output()
            .expect("run campctl")
    }

    /// [`Self::run`], expecting exit `code`; returns the JSON report.
    fn vacuum(&self, args: &[&str], code: i32) -> Value {
        let output = self.run(args);
        assert_exit(&output, code);
        json_report(&output)
    }

    /// What the server's statistics say about `schema.table`.
    fn stat(&self, schema: &str, table: &str) -> Stat {
        let row = self
            .db
            .client()
            .query_one(
                "SELECT n_live_tup, n_dead_tup, last_vacuum IS NOT NULL, last_analyze IS NOT NULL \
                 FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = $2",
                &[&schema, &table],
            )
            .unwrap_or_else(|e| panic!("statistics of {schema}.{table}: {}", describe(&e)));
        Stat {
            live: row.get(0),
            dead: row.get(1),
            vacuumed: row.get(2),
            analyzed: row.get(3),
        }
    }

    /// `pg_table_size` and the relfilenode of `public.table` (a rewrite changes the latter).
    fn storage(&self, table: &str) -> (i64, u32) {
        let row = self
            .db
            .client()
            .query_one(
                "SELECT pg_table_size(c.oid), c.relfilenode FROM pg_class c \
                 WHERE c.oid = format('public.%I', $1::text)::regclass",
                &[&table],
            )
            .unwrap_or_else(|e| panic!("size of {table}: {}", describe(&e)));
        (row.get(0), row.get(1))
    }

    /// `age(relfrozenxid)` of `public.table`.
    fn xid_age(&self, table: &str) -> i64 {
        self.db
            .client()
            .query_one(
                "SELECT age(relfrozenxid)::int8 FROM pg_class WHERE oid = format('public.%I', $1::text)::regclass",
                &[&table],
            )
            .unwrap_or_else(|e| panic!("xid age of {table}: {}", describe(&e)))
            .get(0)
    }

    /// Uses up `count` transaction ids, each in a transaction of its own (one round trip).
    fn burn_xids(&self, count: usize) {
        self.sql(&"BEGIN; SELECT txid_current(); COMMIT;".repeat(count));
    }
}

#[derive(Debug, Clone, Copy)]
struct Stat {
    live: i64,
    dead: i64,
    vacuumed: bool,
    analyzed: bool,
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json_report(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not a JSON report ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            stderr(output)
        )
    })
}

/// The row of `table` in the report's `tables`.
fn row<'a>(report: &'a Value, table: &str) -> &'a Value {
    report["tables"]
        .as_array()
        .expect("tables is an array")
        .iter()
        .find(|row| row["table"] == table)
        .unwrap_or_else(|| panic!("no table {table:?} in the report:\n{report:#}"))
}

/// The table names of the report, in its order.
fn names(report: &Value) -> Vec<String> {
    report["tables"]
        .as_array()
        .expect("tables is an array")
        .iter()
        .map(|row| row["table"].as_str().expect("table").to_string())
        .collect()
}

fn int(value: &Value) -> i64 {
    value.as_i64().unwrap_or_else(|| panic!("not an integer: {value}"))
}

/// Asserts the report's done / skipped / failed counts.
#[track_caller]
fn assert_counts(report: &Value, done: i64, skipped: i64, failed: i64) {
    assert_eq!(
        (int(&report["done"]), int(&report["skipped"]), int(&report["failed"])),
        (done, skipped, failed),
        "done, skipped, failed:\n{report:#}"
    );
}

/// A table of `rows` rows `(id, v)` with autovacuum off.
fn table_sql(name: &str, rows: u32) -> String {
    format!(
        "CREATE TABLE {name} (id int PRIMARY KEY, v text) {NO_AUTOVACUUM};\n\
         INSERT INTO {name} SELECT g, md5(g::text) FROM generate_series(1, {rows}) g;\n"
    )
}

// 1. Dead tuples.

#[test]
fn vacuum_removes_the_dead_tuples_of_updates_and_deletes() {
    let env = Env::new(&(table_sql("bloated", 10_000) + &table_sql("clean", 1_000)));
    // One transaction: 3000 old row versions of the UPDATE and 2000 deleted rows are dead after it.
    env.sql("UPDATE bloated SET v = v || 'x' WHERE id <= 3000; DELETE FROM bloated WHERE id > 8000;");
    let dead_before = env.stat("public", "bloated").dead;
    assert!(dead_before >= 4_000, "the server counts the dead tuples: {dead_before}");

    let report = env.vacuum(&[], 0);
    assert_eq!(report["mode"], "vacuum analyze", "{report:#}");
    assert_eq!(report["dry_run"], false);
    assert_counts(&report, 2, 0, 0);
    let bloated = row(&report, "bloated");
    assert_eq!(bloated["schema"], "public");
    assert_eq!(bloated["status"], "done", "{bloated:#}");
    assert_eq!(bloated["statement"], r#"VACUUM (ANALYZE) "public"."bloated""#);
    assert_eq!(int(&bloated["before"]["dead_tuples"]), dead_before, "{bloated:#}");
    assert_eq!(int(&bloated["before"]["live_tuples"]), 8_000, "{bloated:#}");
    let dead_after = int(&bloated["after"]["dead_tuples"]);
    assert!(dead_after <= 10, "dead tuples after VACUUM: {bloated:#}");
    assert_eq!(int(&bloated["after"]["live_tuples"]), 8_000, "{bloated:#}");
    let clean = row(&report, "clean");
    assert_eq!(clean["status"], "done", "{clean:#}");
    assert_eq!(int(&clean["before"]["dead_tuples"]), 0, "{clean:#}");
    assert_eq!(int(&clean["after"]["live_tuples"]), 1_000, "{clean:#}");
    assert_eq!(int(&report["dead_tuples_before"]), dead_before, "{report:#}");
    assert!(int(&report["dead_tuples_after"]) <= 10, "{report:#}");

    // The server agrees.
    let stat = env.stat("public", "bloated");
    assert!(stat.vacuumed && stat.analyzed, "{stat:?}");
    assert!(stat.dead <= 10, "{stat:?}");
    assert_eq!(stat.live, 8_000, "{stat:?}");
    assert!(env.stat("public", "clean").vacuumed);
}

// 2. VACUUM FULL.

#[test]
fn vacuum_full_shrinks_the_table_and_needs_yes_and_a_single_job() {
    let env = Env::new(&table_sql("big", 20_000));
    // Nine rows in ten, spread over every page: a plain VACUUM could not give the space back.
    env.sql("DELETE FROM big WHERE id % 10 <> 0");
    let (size, relfilenode) = env.storage("big");

    // No terminal and no --yes: refused before anything happens.
    let output = env.run(&["--full", "--table", "big"]);
    assert_exit(&output, 2);
    assert!(
        stderr(&output).contains("--yes"),
        "the error points at --yes:\n{}",
        stderr(&output)
    );
    assert_eq!(env.storage("big"), (size, relfilenode), "nothing was rewritten");
    assert!(!env.stat("public", "big").vacuumed);

    // --full never runs in parallel.
    let output = env.run(&["--full", "--yes", "--jobs", "2", "--table", "big"]);
    assert_exit(&output, 2);
    assert_eq!(env.storage("big"), (size, relfilenode), "nothing was rewritten");
    assert!(!env.stat("public", "big").vacuumed);

    let report = env.vacuum(&["--full", "--yes", "--table", "big"], 0);
    assert_eq!(report["mode"], "vacuum full", "{report:#}");
    assert_counts(&report, 1, 0, 0);
    let big = row(&report, "big");
    assert_eq!(big["status"], "done", "{big:#}");
    assert!(
        big["statement"].as_str().is_some_and(|s| s.starts_with("VACUUM (FULL")),
        "{big:#}"
    );
    let before = int(&big["before"]["size_bytes"]);
    let after = int(&big["after"]["size_bytes"]);
    assert_eq!(before, size, "{big:#}");
    assert!(
        after * 3 < before,
        "a tenth of the rows is left, so is about a tenth of the size: {big:#}"
    );
    assert_eq!(int(&big["after"]["live_tuples"]), 2_000, "{big:#}");
    assert_eq!(int(&big["after"]["dead_tuples"]), 0, "{big:#}");
    let (size_now, relfilenode_now) = env.storage("big");
    assert_eq!(size_now, after, "the report shows the server's size");
    assert_ne!(relfilenode_now, relfilenode, "VACUUM FULL rewrote the table");
    assert_eq!(int(&report["size_bytes_before"]), before);
    assert_eq!(int(&report["size_bytes_after"]), after);
}

/// PostgreSQL does not report a VACUUM FULL to the cumulative statistics (n_dead_tup and last_vacuum stay as they
/// were; only an ANALYZE refreshes them), so without ANALYZE the report must not show the old dead-tuple count as
/// the state after the rewrite.
#[test]
fn vacuum_full_without_analyze_does_not_report_the_old_dead_tuples_as_after() {
    let env = Env::new(&table_sql("big", 20_000));
    env.sql("DELETE FROM big WHERE id % 10 <> 0");
    let report = env.vacuum(&["--full", "--no-analyze", "--yes", "--table", "big"], 0);
    let big = row(&report, "big");
    assert_eq!(big["status"], "done", "{big:#}");
    assert_eq!(big["statement"], r#"VACUUM (FULL) "public"."big""#);
    assert!(
        int(&big["after"]["size_bytes"]) * 3 < int(&big["before"]["size_bytes"]),
        "rewritten: {big:#}"
    );
    let dead_after = &big["after"]["dead_tuples"];
    assert!(
        dead_after.is_null() || dead_after.as_i64().is_some_and(|dead| dead <= 10),
        "the table was rewritten without its 18000 dead tuples, but the report says: {big:#}"
    );
}

// 3. Selection by dead tuples, and the dry run.

#[test]
fn thresholds_select_the_bloated_tables_and_dry_run_changes_nothing() {
    let env = Env::new(&(table_sql("bloated", 2_000) + &table_sql("some_dead", 10_000) + &table_sql("clean", 1_000)));
    env.sql("DELETE FROM bloated WHERE id % 2 = 0; DELETE FROM some_dead WHERE id % 20 = 0;");
    let bloated_dead = env.stat("public", "bloated").dead;
    let some_dead = env.stat("public", "some_dead").dead;
    assert_eq!(
        (bloated_dead, some_dead),
        (1_000, 500),
        "the server counts the dead tuples"
    );

    // The plan: most dead tuples first; the clean table is left out; nothing runs.
    let plan = env.vacuum(&["--dry-run", "--min-dead-tuples", "100"], 0);
    assert_eq!(plan["dry_run"], true, "{plan:#}");
    assert_eq!(names(&plan), ["bloated", "some_dead"], "{plan:#}");
    assert_eq!(int(&plan["not_selected"]), 1, "{plan:#}");
    for (table, dead) in [("bloated", bloated_dead), ("some_dead", some_dead)] {
        let planned = row(&plan, table);
        assert_eq!(planned["status"], "planned", "{planned:#}");
        assert_eq!(planned["statement"], format!("VACUUM (ANALYZE) \"public\".\"{table}\""));
        assert_eq!(int(&planned["before"]["dead_tuples"]), dead, "{planned:#}");
        assert!(planned["after"].is_null(), "{planned:#}");
        assert!(
            planned["reason"].as_str().is_some_and(|r| r.contains("dead tuples")),
            "{planned:#}"
        );
    }
    assert_counts(&plan, 0, 0, 0);
    for table in ["bloated", "some_dead", "clean"] {
        let stat = env.stat("public", table);
        assert!(
            !stat.vacuumed && !stat.analyzed,
            "the dry run changed {table}: {stat:?}"
        );
    }
    assert_eq!(
        env.stat("public", "bloated").dead,
        bloated_dead,
        "dead tuples unchanged"
    );
    assert_eq!(env.stat("public", "some_dead").dead, some_dead, "dead tuples unchanged");

    // 50% and 5% dead, 0%: a 20% ratio takes only the bloated table.
    let report = env.vacuum(&["--min-dead-ratio", "0.2"], 0);
    assert_eq!(names(&report), ["bloated"], "{report:#}");
    assert_eq!(int(&report["not_selected"]), 2, "{report:#}");
    assert_counts(&report, 1, 0, 0);
    assert!(
        int(&row(&report, "bloated")["after"]["dead_tuples"]) <= 10,
        "{report:#}"
    );
    assert!(env.stat("public", "bloated").vacuumed);
    assert!(!env.stat("public", "some_dead").vacuumed);
    assert!(!env.stat("public", "clean").vacuumed);

    // Now only some_dead has 100 dead tuples.
    let report = env.vacuum(&["--min-dead-tuples", "100"], 0);
    assert_eq!(names(&report), ["some_dead"], "{report:#}");
    assert_eq!(int(&report["not_selected"]), 2, "{report:#}");
    assert_counts(&report, 1, 0, 0);
    assert!(env.stat("public", "some_dead").vacuumed);
    assert!(!env.stat("public", "clean").vacuumed);
}

// 4. A table locked by another session.

#[test]
fn a_locked_table_is_skipped_with_skip_locked_and_fails_on_lock_timeout() {
    let env = Env::with_config(
        &(table_sql("locked", 100) + &table_sql("free1", 100) + &table_sql("free2", 100)),
        "lock_timeout = \"1s\"\n",
    );
    let mut holder = env.db.client();
    holder
        .batch_execute("BEGIN; LOCK TABLE locked IN ACCESS EXCLUSIVE MODE")
        .expect("lock the table");

    let report = env.vacuum(&["--skip-locked"], 0);
    assert_counts(&report, 2, 1, 0);
    let locked = row(&report, "locked");
    assert_eq!(locked["status"], "skipped", "{locked:#}");
    assert!(
        locked["detail"]
            .as_str()
            .is_some_and(|d| d.contains("lock not available")),
        "the server's message: {locked:#}"
    );
    for table in ["free1", "free2"] {
        assert_eq!(row(&report, table)["status"], "done", "{report:#}");
        assert!(env.stat("public", table).vacuumed, "{table}");
    }
    assert!(!env.stat("public", "locked").vacuumed);

    let started = Instant::now();
    let output = env.run(&[]);
    let took = started.elapsed();
    assert_exit(&output, 3);
    assert!(
        took < Duration::from_secs(10),
        "lock_timeout 1s, but campctl took {took:?}"
    );
    assert!(
        stderr(&output).contains("public.locked"),
        "stderr names the table:\n{}",
        stderr(&output)
    );
    let report = json_report(&output);
    assert_counts(&report, 2, 0, 1);
    let locked = row(&report, "locked");
    assert_eq!(locked["status"], "failed", "{locked:#}");
    assert!(
        locked["detail"].as_str().is_some_and(|d| d.contains("lock timeout")),
        "{locked:#}"
    );
    for table in ["free1", "free2"] {
        assert_eq!(row(&report, table)["status"], "done", "{report:#}");
    }
    holder.batch_execute("ROLLBACK").expect("release the lock");
    assert!(!env.stat("public", "locked").vacuumed);
}

// 5. Identifiers.

const AWKWARD: &str = r#"
CREATE TABLE x (id int) WITH (autovacuum_enabled = false);
INSERT INTO x VALUES (1);
CREATE TABLE "a""; DROP TABLE x; --" (id int) WITH (autovacuum_enabled = false);
INSERT INTO "a""; DROP TABLE x; --" SELECT generate_series(1, 100);
CREATE TABLE données_été (id int) WITH (autovacuum_enabled = false);
INSERT INTO données_été SELECT generate_series(1, 100);
CREATE SCHEMA "Sales";
CREATE TABLE "Sales"."Order Lines" (id int) WITH (autovacuum_enabled = false);
INSERT INTO "Sales"."Order Lines" SELECT generate_series(1, 100);
CREATE TABLE users (id int, email text, "Display Name" text) WITH (autovacuum_enabled = false);
INSERT INTO users SELECT g, 'u' || g || '@example.com', 'User ' || g FROM generate_series(1, 100) g;
"#;

const INJECTION: &str = "a\"; DROP TABLE x; --";

#[test]
fn awkward_identifiers_are_quoted_and_never_spliced() {
    let env = Env::new(AWKWARD);

    let report = env.vacuum(
        &[
            "--table",
            r#""a""; DROP TABLE x; --""#,
            "--table",
            "données_été",
            "--table",
            r#""Sales"."Order Lines""#,
        ],
        0,
    );
    assert_counts(&report, 3, 0, 0);
    assert_eq!(names(&report), [INJECTION, "données_été", "Order Lines"], "{report:#}");
    assert_eq!(
        row(&report, INJECTION)["statement"],
        r#"VACUUM (ANALYZE) "public"."a""; DROP TABLE x; --""#
    );
    assert_eq!(row(&report, "Order Lines")["schema"], "Sales");
    assert_eq!(
        row(&report, "Order Lines")["statement"],
        r#"VACUUM (ANALYZE) "Sales"."Order Lines""#
    );
    for (schema, table) in [
        ("public", INJECTION),
        ("public", "données_été"),
        ("Sales", "Order Lines"),
    ] {
        assert_eq!(row(&report, table)["status"], "done", "{report:#}");
        assert!(env.stat(schema, table).vacuumed, "{schema}.{table} was vacuumed");
    }
    let x_rows: i64 = env
        .db
        .client()
        .query_one("SELECT count(*) FROM x", &[])
        .expect("table x still exists")
        .get(0);
    assert_eq!(x_rows, 1);
    assert!(!env.stat("public", "x").vacuumed, "only the named tables");
    assert!(!env.stat("public", "users").vacuumed, "only the named tables");

    // A column list, with a column that needs quotes: ANALYZE of just those columns.
    let report = env.vacuum(&["--analyze-only", "--table", r#"users(email, "Display Name")"#], 0);
    assert_counts(&report, 1, 0, 0);
    assert_eq!(
        row(&report, "users")["statement"],
        r#"ANALYZE "public"."users" ("email", "Display Name")"#
    );
    let analyzed: Vec<String> = env
        .db
        .client()
        .query(
            "SELECT attname::text FROM pg_stats WHERE schemaname = 'public' AND tablename = 'users' ORDER BY 1",
            &[],
        )
        .expect("pg_stats")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        analyzed,
        ["Display Name", "email"],
        "statistics of the named columns only"
    );
    assert!(!env.stat("public", "users").vacuumed);

    // Missing things: exit 10, naming what is missing; a name that is not valid SQL: exit 2.
    for (args, code, named) in [
        (&["--table", "nope"][..], 10, "nope"),
        (&["--table", "Sales.\"Order Lines\""][..], 10, "Sales"),
        (&["--schema", "nope"][..], 10, "nope"),
        (&["--table", "users(nope)"][..], 10, "nope"),
        (&["--table", "\"unterminated"][..], 2, "unterminated"),
    ] {
        let output = env.run(args);
        assert_exit(&output, code);
        assert!(
            stderr(&output).contains(named),
            "{args:?}: the error names `{named}`:\n{}",
            stderr(&output)
        );
        assert!(output.stdout.is_empty(), "{args:?}: no report");
    }
    assert!(!env.stat("public", "users").vacuumed);
}

#[test]
fn schema_names_follow_sql_rules() {
    let env = Env::new(&(AWKWARD.to_string() + "CREATE SCHEMA archive;\n" + &table_sql("archive.old", 10)));

    // Quoted as in SQL, the schema with capitals: only its table.
    let report = env.vacuum(&["--schema", r#""Sales""#], 0);
    assert_eq!(names(&report), ["Order Lines"], "{report:#}");
    assert_counts(&report, 1, 0, 0);
    assert!(env.stat("Sales", "Order Lines").vacuumed);

    // Unquoted, folded to lower case as in SQL (and vacuumdb --schema).
    let report = env.vacuum(&["--schema", "ARCHIVE", "--dry-run"], 0);
    assert_eq!(names(&report), ["old"], "{report:#}");

    // --exclude-schema follows the same rules.
    let report = env.vacuum(
        &[
            "--exclude-schema",
            r#""Sales""#,
            "--exclude-schema",
            "public",
            "--dry-run",
        ],
        0,
    );
    assert_eq!(names(&report), ["old"], "{report:#}");

    // `Sales` unquoted means `sales`, which does not exist.
    assert_exit(&env.run(&["--schema", "Sales"]), 10);
    // Not a schema name at all: usage errors.
    assert_exit(&env.run(&["--schema", r#""Sales"#]), 2);
    assert_exit(&env.run(&["--exclude-schema", "public.users"]), 2);
}

// 6. ANALYZE, statistics and transaction-id age.

#[test]
fn analyze_only_in_stages_and_missing_stats_only() {
    let env = Env::new(&(table_sql("t_analyze", 1_000) + &table_sql("t_stages", 1_000) + &table_sql("t_never", 1_000)));
    for table in ["t_analyze", "t_stages", "t_never"] {
        let stat = env.stat("public", table);
        assert!(!stat.vacuumed && !stat.analyzed, "{table}: {stat:?}");
    }

    let report = env.vacuum(&["--analyze-only", "--table", "t_analyze"], 0);
    assert_eq!(report["mode"], "analyze", "{report:#}");
    assert_counts(&report, 1, 0, 0);
    assert_eq!(
        row(&report, "t_analyze")["statement"],
        r#"ANALYZE "public"."t_analyze""#
    );
    let stat = env.stat("public", "t_analyze");
    assert!(stat.analyzed, "last_analyze is set: {stat:?}");
    assert!(!stat.vacuumed, "no VACUUM: {stat:?}");

    let report = env.vacuum(&["--analyze-in-stages", "--table", "t_stages"], 0);
    assert_eq!(report["mode"], "analyze in stages", "{report:#}");
    assert_counts(&report, 1, 0, 0);
    assert_eq!(row(&report, "t_stages")["status"], "done");
    let stat = env.stat("public", "t_stages");
    assert!(stat.analyzed && !stat.vacuumed, "{stat:?}");

    // --missing-stats-only needs an ANALYZE-only mode.
    assert_exit(&env.run(&["--missing-stats-only"]), 2);

    let report = env.vacuum(&["--missing-stats-only", "--analyze-only"], 0);
    assert_eq!(names(&report), ["t_never"], "{report:#}");
    assert_eq!(int(&report["not_selected"]), 2, "{report:#}");
    assert_eq!(row(&report, "t_never")["before"]["missing_stats"], true);
    assert!(
        row(&report, "t_never")["reason"]
            .as_str()
            .is_some_and(|r| r.contains("no statistics")),
        "{report:#}"
    );
    assert_counts(&report, 1, 0, 0);
    let stat = env.stat("public", "t_never");
    assert!(stat.analyzed && !stat.vacuumed, "{stat:?}");

    // Nothing is missing statistics now.
    let report = env.vacuum(&["--missing-stats-only", "--analyze-only"], 0);
    assert!(names(&report).is_empty(), "{report:#}");
    assert_eq!(int(&report["not_selected"]), 3, "{report:#}");
}

#[test]
fn freeze_lowers_the_xid_age_and_min_xid_age_takes_the_oldest_first() {
    // The ages are set by freezing each table at a known point (a new table's relfrozenxid may lag behind when other
    // tests hold transaction ids): z_oldest (one row, last by name and by size) is the oldest, then a_older; m_young
    // is frozen last. z_oldest also gets a row of its own after its freeze, so that only a FREEZE (not a plain
    // VACUUM, which leaves rows younger than vacuum_freeze_min_age alone) can move its relfrozenxid forward.
    let env = Env::new(&(table_sql("z_oldest", 1) + &table_sql("a_older", 1_000) + &table_sql("m_young", 1_000)));
    env.sql("VACUUM (FREEZE) z_oldest");
    env.sql("INSERT INTO z_oldest VALUES (2, 'unfrozen')");
    env.burn_xids(300);
    env.sql("VACUUM (FREEZE) a_older");
    env.burn_xids(300);
    env.sql("VACUUM (FREEZE) m_young");
    let oldest = env.xid_age("z_oldest");
    assert!(oldest >= 600, "xid age of z_oldest: {oldest}");
    assert!(
        env.xid_age("m_young") < 100,
        "xid age of m_young: {}",
        env.xid_age("m_young")
    );

    let plan = env.vacuum(&["--dry-run", "--min-xid-age", "200"], 0);
    assert_eq!(names(&plan), ["z_oldest", "a_older"], "oldest first:\n{plan:#}");
    assert_eq!(int(&plan["not_selected"]), 1, "{plan:#}");
    let z = row(&plan, "z_oldest");
    assert!(int(&z["before"]["xid_age"]) >= oldest, "{z:#}");
    assert!(z["reason"].as_str().is_some_and(|r| r.contains("xid age")), "{z:#}");
    assert!(int(&row(&plan, "a_older")["before"]["xid_age"]) >= 300, "{plan:#}");

    let report = env.vacuum(&["--freeze", "--table", "z_oldest"], 0);
    let z = row(&report, "z_oldest");
    assert_eq!(z["status"], "done", "{z:#}");
    assert!(z["statement"].as_str().is_some_and(|s| s.contains("FREEZE")), "{z:#}");
    let before = int(&z["before"]["xid_age"]);
    let after = int(&z["after"]["xid_age"]);
    assert!(after < before, "{z:#}");
    // A plain VACUUM would leave relfrozenxid at the rows' xmin (age ≥ 600); FREEZE moves it to now.
    assert!(after < 100, "rows frozen: {z:#}");
    assert!(env.xid_age("z_oldest") < 100, "the server agrees");

    let plan = env.vacuum(&["--dry-run", "--min-xid-age", "200"], 0);
    assert_eq!(names(&plan), ["a_older"], "z_oldest is young again:\n{plan:#}");
}

// 7. Parallel sessions.

#[test]
fn two_jobs_vacuum_every_table() {
    let seed: String = ["t1", "t2", "t3", "t4"].iter().map(|t| table_sql(t, 2_000)).collect();
    let env = Env::new(&seed);
    env.sql("DELETE FROM t1 WHERE id % 2 = 0; DELETE FROM t2 WHERE id % 2 = 0; DELETE FROM t3 WHERE id % 2 = 0; DELETE FROM t4 WHERE id % 2 = 0;");

    let report = env.vacuum(&["--jobs", "2"], 0);
    assert_eq!(int(&report["jobs"]), 2, "{report:#}");
    assert_counts(&report, 4, 0, 0);
    for table in ["t1", "t2", "t3", "t4"] {
        let result = row(&report, table);
        assert_eq!(result["status"], "done", "{result:#}");
        assert!(int(&result["after"]["dead_tuples"]) <= 10, "{result:#}");
        let stat = env.stat("public", table);
        assert!(stat.vacuumed && stat.dead <= 10, "{table}: {stat:?}");
    }
}

// 8. Ctrl-C.

/// Polls `probe` every 50 ms until it returns `Some`, for at most `patience`.
fn poll<T>(patience: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if start.elapsed() > patience {
            return None;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Kills the child if the test ends early, so that no campctl outlives it.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn ctrl_c_cancels_the_waiting_vacuum_on_the_server() {
    let env = Env::new(&table_sql("t", 100));
    let mut holder = env.db.client();
    holder
        .batch_execute("BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        .expect("lock the table");

    let log_path = env.ctx.home().join("campctl.stderr");
    let log = std::fs::File::create(&log_path).expect("create the stderr file");
    let mut child = Reaped(
        env.ctx
            .std_cmd()
            .args(["vacuum", "--table", "t"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn campctl"),
    );
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();

    let mut monitor = env.db.client();
    let waiting = poll(Duration::from_secs(15), || {
        monitor
            .query_opt(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
                 AND application_name = 'campctl' AND query LIKE 'VACUUM%' AND wait_event_type = 'Lock'",
                &[],
            )
            .expect("pg_stat_activity")
            .map(|row| row.get::<_, i32>(0))
    });
    let Some(backend) = waiting else {
        panic!("campctl's VACUUM never waited on the lock; stderr:\n{}", log());
    };

    // SAFETY: signalling our own child, which has not been reaped.
    unsafe { libc::kill(i32::try_from(child.0.id()).expect("pid"), libc::SIGINT) };
    let status = poll(Duration::from_secs(10), || child.0.try_wait().expect("wait"));
    let Some(status) = status else {
        panic!("campctl did not stop within 10 s of SIGINT; stderr:\n{}", log());
    };
    assert_eq!(status.code(), Some(130), "stderr:\n{}", log());

    // Cancelled on the server: the backend does not keep waiting for the lock (it would, for as long as the lock is
    // held, if campctl only closed its connection).
    let gone = poll(Duration::from_secs(5), || {
        let left = monitor
            .query_opt("SELECT state, query FROM pg_stat_activity WHERE pid = $1", &[&backend])
            .expect("pg_stat_activity");
        left.is_none().then_some(())
    });
    let still = monitor
        .query_opt(
            "SELECT state || ' / ' || coalesce(wait_event_type, '-') || ' / ' || query FROM pg_stat_activity \
             WHERE pid = $1",
            &[&backend],
        )
        .expect("pg_stat_activity")
        .map(|row| row.get::<_, String>(0));
    holder.batch_execute("ROLLBACK").expect("release the lock");
    assert!(
        gone.is_some(),
        "the VACUUM backend {backend} is still there after campctl exited: {still:?}; stderr:\n{}",
        log()
    );
    assert!(!env.stat("public", "t").vacuumed, "the VACUUM never ran");
}

// 9. Privileges.

#[test]
fn a_table_the_role_may_not_vacuum_fails_with_exit_3_instead_of_passing_as_done() {
    let env = Env::new(&format!(
        "{}{}",
        table_sql("theirs", 1000),
        "DELETE FROM theirs WHERE id % 2 = 0;"
    ));
    let role = format!("{}_visitor", env.db.name());
    let pg = crate::common::pg();
    pg.execute(
        "postgres",
        &format!(
            "CREATE ROLE \"{role}\" LOGIN PASSWORD 'visitor'; GRANT CONNECT ON DATABASE \"{}\" TO \"{role}\"",
            env.db.name()
        ),
    );
    let url = format!(
        "postgres://{role}:visitor@{}:{}/{}?sslmode=disable",
        pg.host(),
        pg.port(),
        env.db.name()
    );
    let output = env
        .ctx
        .cmd()
        .args(["--format", "json", "--db-url", &url, "vacuum", "--table", "theirs"])
        .write_stdin("")
        .output()
        .expect("run campctl");
    pg.execute("postgres", &format!("DROP OWNED BY \"{role}\"; DROP ROLE \"{role}\""));
    assert_exit(&output, 3);
    let report = json_report(&output);
    assert_counts(&report, 0, 0, 1);
    let detail = row(&report, "theirs")["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(detail.contains("skipping") && detail.contains("owner"), "{report:#}");
    assert!(stderr(&output).contains("public.theirs"), "{}", stderr(&output));
}
