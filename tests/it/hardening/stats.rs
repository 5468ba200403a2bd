//! Hardening regressions (stats, vacuum, reindex): see `mod.rs`.
//!
//! - item 2: every `stats` section, as a role without `pg_read_all_stats`, while another role's VACUUM and long
//!   query run; and `backup` as such a role while another role's run holds the lock (the search for other
//!   non-optional reads of hidden columns found the holder's `backend_start`);
//! - item 14: `stats queries --terminate` refuses background processes;
//! - item 16: `reindex --invalid` of a unique index whose table holds duplicates stops instead of looping;
//! - item 17: `vacuum --table` of a partitioned table reports its partitions;
//! - item 19: `vacuum --table a.b.c.d` and `stats --limit 0` are usage errors that say so.
//!
//! The role without privileges, the background session and the waits are the `stats` tests' helpers
//! (`crate::stats`), not copies of them.

use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use crate::common::{TestContext, TestDb, assert_exit, describe, pg};
use crate::stats::{Role, in_background, session_exists, wait_for};

/// `campctl --db-url URL [--format FORMAT] ARGS...`, stdin empty (never a terminal), at most a minute.
fn campctl(ctx: &TestContext, url: &str, format: &str, args: &[&str]) -> Output {
    ctx.cmd()
        .args(["--db-url", url, "--format", format])
        .args(args)
        .write_stdin("")
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run campctl")
}

/// The JSON report on stdout.
fn report(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Waits until every transaction of the cluster older than now has ended, so that VACUUM sees the rows written so
/// far as old (the cluster is shared with other tests, whose transactions hold the horizon back).
fn wait_for_older_transactions(db: &TestDb) {
    let mut client = db.client();
    let now: String = client
        .query_one("SELECT pg_current_xact_id()::text", &[])
        .expect("a transaction id")
        .get(0);
    wait_for("older transactions to end", || {
        client
            .query_one(
                "SELECT pg_snapshot_xmin(pg_current_snapshot()) > $1::text::xid8",
                &[&now],
            )
            .expect("the oldest running transaction")
            .get::<_, bool>(0)
            .then_some(())
    });
}

#[test]
fn item_02_every_stats_section_works_without_pg_read_all_stats_while_a_vacuum_and_a_long_query_run() {
    let ctx = TestContext::new();
    let db = ctx.db();
    db.execute(
        "CREATE TABLE pinned (id int PRIMARY KEY, pad text) WITH (autovacuum_enabled = false);
         INSERT INTO pinned SELECT g, repeat('x', 100) FROM generate_series(1, 2000) g;",
    );
    wait_for_older_transactions(&db);
    let role = Role::create(None);
    let url = role.url(&db);

    // A superuser's open cursor keeps a pin on the table's first page. VACUUM (FREEZE) must freeze the rows there,
    // so it waits for that pin (wait event BufferPin) while pg_stat_progress_vacuum lists it: another role's
    // running VACUUM, as an autovacuum worker would be, for as long as the cursor stays open.
    let mut pin = db.client();
    pin.batch_execute("BEGIN; DECLARE c CURSOR FOR SELECT * FROM pinned; FETCH 1 FROM c;")
        .expect("pin the first page");
    let (vacuum_pid, vacuum) = in_background(&db, "VACUUM (FREEZE) pinned");
    let mut watcher = pg().client("postgres");
    wait_for("the VACUUM to wait for the buffer pin", || {
        watcher
            .query_opt(
                "SELECT 1 FROM pg_stat_progress_vacuum p JOIN pg_stat_activity a ON a.pid = p.pid \
                 WHERE p.pid = $1 AND a.wait_event_type = 'BufferPin'",
                &[&vacuum_pid],
            )
            .expect("read pg_stat_progress_vacuum")
    });
    let (sleeper_pid, sleeper) = in_background(&db, "SELECT pg_sleep(60)");
    wait_for("the long query to run", || {
        watcher
            .query_opt(
                "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'",
                &[&sleeper_pid],
            )
            .expect("read pg_stat_activity")
    });

    let sections = [
        "",
        "tables",
        "indexes",
        "connections",
        "queries",
        "vacuum",
        "database",
        "replication",
        "settings",
    ];
    for section in sections {
        for format in ["table", "json", "csv"] {
            let mut args = vec!["stats"];
            if !section.is_empty() {
                args.push(section);
            }
            if section == "queries" {
                args.extend(["--min-duration", "0s"]);
            }
            let output = campctl(&ctx, &url, format, &args);
            assert!(
                output.status.code() == Some(0) && !stderr(&output).contains("panicked"),
                "`stats {section}` --format {format} as a role without pg_read_all_stats: {:?}\n{}",
                output.status.code(),
                stderr(&output)
            );
            if format == "json" {
                assert!(report(&output).is_object(), "stats {section}");
            }
        }
    }

    // The running VACUUM is listed, with what the server hides from this role as unknown.
    let vacuum_report = report(&campctl(&ctx, &url, "json", &["stats", "vacuum"]));
    let worker = vacuum_report["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .find(|worker| worker["pid"] == vacuum_pid)
        .unwrap_or_else(|| panic!("the VACUUM is not listed: {vacuum_report:#}"));
    assert_eq!(worker["database"], db.name(), "{worker:#}");
    assert_eq!(
        worker["autovacuum"], false,
        "a VACUUM in a role's session is manual: {worker:#}"
    );
    for hidden in ["relation", "phase", "query", "duration_seconds", "heap_blks_total"] {
        assert!(
            worker[hidden].is_null(),
            "{hidden} is hidden from this role: {worker:#}"
        );
    }
    let table = String::from_utf8_lossy(&campctl(&ctx, &url, "table", &["stats", "vacuum"]).stdout).into_owned();
    let line = table
        .lines()
        .find(|line| line.contains(&vacuum_pid.to_string()))
        .unwrap_or_else(|| panic!("no row of PID {vacuum_pid}:\n{table}"));
    assert!(line.contains("unknown"), "{line}");
    // The superuser sees the same VACUUM in full.
    let full = report(&campctl(&ctx, &db.url(), "json", &["stats", "vacuum"]));
    let seen = full["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .find(|worker| worker["pid"] == vacuum_pid)
        .unwrap_or_else(|| panic!("{full:#}"));
    assert_eq!(
        (
            seen["autovacuum"].clone(),
            seen["relation"].clone(),
            seen["phase"].clone()
        ),
        (Value::Bool(false), Value::from("pinned"), Value::from("scanning heap")),
        "{seen:#}"
    );

    // The long query of the other role is counted as not visible, not listed with made-up figures.
    let queries = report(&campctl(
        &ctx,
        &url,
        "json",
        &["stats", "queries", "--min-duration", "0s"],
    ));
    assert!(
        queries["invisible_sessions"].as_i64().is_some_and(|count| count >= 3),
        "{queries:#}"
    );

    // Release everything: the VACUUM finishes once the pin is gone.
    pin.batch_execute("COMMIT").expect("close the cursor");
    vacuum.join().expect("the VACUUM thread").expect("the VACUUM");
    pg().client("postgres")
        .execute("SELECT pg_cancel_backend($1)", &[&sleeper_pid])
        .expect("cancel the long query");
    assert!(sleeper.join().expect("the sleeper thread").is_err());
}

/// The search for other non-optional reads of hidden columns (item 2) found the lock holder's `backend_start`:
/// a backup by a role without `pg_read_all_stats`, while another role's run held the lock, panicked.
#[test]
fn item_02_backup_names_a_lock_holder_hidden_from_a_low_privilege_role() {
    let env = crate::backup::BackupEnv::local();
    let role = Role::create(None);
    let mut holder = env.db.client();
    holder
        .query_one("SELECT pg_advisory_lock(1667329392, hashtext($1))", &[&env.db.name()])
        .expect("take the lock");
    let pg_dump = crate::backup::real_pg_dump();
    let output = env
        .ctx
        .cmd()
        .args([
            "--db-url",
            &role.url(&env.db),
            "backup",
            "--wait-lock",
            "1s",
            "--pg-dump",
        ])
        .arg(&pg_dump)
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run campctl");
    assert_exit(&output, 11);
    let stderr = stderr(&output);
    assert!(stderr.contains("from a host hidden from this role"), "{stderr}");
    assert!(
        stderr.contains("connected since a time hidden from this role"),
        "{stderr}"
    );
}

#[test]
fn item_14_terminate_refuses_background_processes() {
    let ctx = TestContext::new();
    let db = ctx.db();
    let launcher: i32 = pg()
        .client("postgres")
        .query_one(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'autovacuum launcher'",
            &[],
        )
        .expect("the autovacuum launcher")
        .get(0);
    let mut victim = db.client();
    let victim_pid: i32 = victim.query_one("SELECT pg_backend_pid()", &[]).expect("pid").get(0);

    let output = campctl(
        &ctx,
        &db.url(),
        "json",
        &["stats", "queries", "--terminate", &launcher.to_string(), "--yes"],
    );
    assert_exit(&output, 2);
    assert!(
        stderr(&output).contains(&format!(
            "PID {launcher} is not a client session but the server's `autovacuum launcher` process"
        )),
        "{}",
        stderr(&output)
    );
    assert!(session_exists(launcher), "the autovacuum launcher was ended");

    // A client session named with it is not ended either: the whole command is refused before anything runs.
    let output = campctl(
        &ctx,
        &db.url(),
        "json",
        &[
            "stats",
            "queries",
            "--terminate",
            &victim_pid.to_string(),
            &launcher.to_string(),
            "--yes",
        ],
    );
    assert_exit(&output, 2);
    victim.batch_execute("SELECT 1").expect("the client session is alive");
    assert!(session_exists(launcher));

    // Without pg_read_all_stats the type of another role's process is hidden: refused too, with the grant to ask for.
    let role = Role::create(None);
    let output = campctl(
        &ctx,
        &role.url(&db),
        "json",
        &["stats", "queries", "--terminate", &launcher.to_string(), "--yes"],
    );
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("pg_read_all_stats"), "{}", stderr(&output));
    assert!(session_exists(launcher));

    // `--terminate-idle` only ever plans client sessions.
    victim.batch_execute("BEGIN; SELECT 1").expect("idle in transaction");
    let plan = report(&campctl(
        &ctx,
        &db.url(),
        "json",
        &["stats", "queries", "--terminate-idle", "0s", "--dry-run"],
    ));
    let sessions = plan["sessions"].as_array().expect("sessions");
    assert!(sessions.iter().any(|s| s["pid"] == victim_pid), "{plan:#}");
    assert!(
        sessions.iter().all(|s| s["backend_type"] == "client backend"),
        "{plan:#}"
    );
    victim.batch_execute("ROLLBACK").expect("the client session is alive");
}

/// The indexes of `db` whose name contains `_ccnew`.
fn ccnew_indexes(db: &TestDb) -> Vec<String> {
    db.client()
        .query(
            "SELECT relname::text FROM pg_class WHERE relkind = 'i' AND relname LIKE '%\\_ccnew%'",
            &[],
        )
        .expect("list indexes")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[test]
fn item_16_reindex_invalid_stops_at_duplicate_keys_instead_of_looping() {
    let ctx = TestContext::new();
    let db = ctx.db();
    db.execute(
        r#"CREATE TABLE "Order Lines" ("Sku" int, note text);
           INSERT INTO "Order Lines" VALUES (1, 'a'), (1, 'b'), (2, 'c'), (NULL, 'd'), (NULL, 'e');"#,
    );
    let failed = db
        .client()
        .batch_execute(r#"CREATE UNIQUE INDEX CONCURRENTLY "Lines Sku" ON "Order Lines" ("Sku")"#);
    assert!(failed.is_err(), "the duplicates make the build fail");

    // Twice: the second run must not find a `_ccnew` of the first one to drop and recreate.
    for run in 1..=2 {
        let output = campctl(&ctx, &db.url(), "json", &["reindex", "--invalid"]);
        assert_exit(&output, 3);
        let report = report(&output);
        let rows = report["indexes"].as_array().expect("indexes");
        assert_eq!(
            rows.len(),
            1,
            "run {run}: only the index itself, no leftover to drop: {report:#}"
        );
        let row = &rows[0];
        assert_eq!(
            (row["index"].as_str(), row["status"].as_str()),
            (Some("Lines Sku"), Some("failed"))
        );
        let detail = row["detail"].as_str().expect("detail");
        assert!(detail.contains("duplicate keys"), "{detail}");
        assert!(detail.contains("`Lines Sku_ccnew` was dropped"), "{detail}");
        assert_eq!(report["leftovers"], serde_json::json!([]), "{report:#}");
        assert_eq!(ccnew_indexes(&db), Vec::<String>::new(), "run {run}");
        let stderr = stderr(&output);
        assert!(stderr.contains("remove the duplicates first"), "{stderr}");
        assert!(
            !stderr.contains("campctl reindex --invalid"),
            "no advice to loop: {stderr}"
        );

        // The query finds the duplicates, and only them (NULLs are not duplicates in a unique index).
        let query = row["duplicates_query"].as_str().expect("a query");
        let found: Vec<(i32, i64)> = db
            .client()
            .query(query, &[])
            .unwrap_or_else(|e| panic!("{query}: {}", describe(&e)))
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        assert_eq!(found, vec![(1, 2)], "{query}");
    }

    db.execute(r#"DELETE FROM "Order Lines" WHERE note = 'b'"#);
    let output = campctl(&ctx, &db.url(), "json", &["reindex", "--invalid"]);
    assert_exit(&output, 0);
    let valid: bool = db
        .client()
        .query_one(
            r#"SELECT indisvalid FROM pg_index WHERE indexrelid = '"Lines Sku"'::regclass"#,
            &[],
        )
        .expect("the index")
        .get(0);
    assert!(valid);
}

#[test]
fn item_17_vacuum_of_a_partitioned_table_reports_its_partitions() {
    let ctx = TestContext::new();
    let db = ctx.db();
    let mut client = db.client();
    client
        .batch_execute(
            "CREATE TABLE events (id int, pad text) PARTITION BY RANGE (id);
             CREATE TABLE events_a PARTITION OF events FOR VALUES FROM (0) TO (1000)
                 WITH (autovacuum_enabled = false);
             CREATE TABLE events_b PARTITION OF events FOR VALUES FROM (1000) TO (2000) PARTITION BY RANGE (id);
             CREATE TABLE events_b1 PARTITION OF events_b FOR VALUES FROM (1000) TO (2000)
                 WITH (autovacuum_enabled = false);
             INSERT INTO events SELECT g, repeat('x', 200) FROM generate_series(0, 1999) g;
             DELETE FROM events WHERE id % 4 = 0;
             SELECT pg_stat_force_next_flush();",
        )
        .expect("seed");
    drop(client);
    let dead_of_partitions = |db: &TestDb| -> i64 {
        db.client()
            .query_one(
                "SELECT coalesce(sum(n_dead_tup), 0)::int8 FROM pg_stat_user_tables \
                 WHERE relname IN ('events_a', 'events_b1')",
                &[],
            )
            .expect("statistics")
            .get(0)
    };
    wait_for("the statistics of the delete", || {
        (dead_of_partitions(&db) == 500).then_some(())
    });
    wait_for_older_transactions(&db);

    let output = campctl(&ctx, &db.url(), "json", &["vacuum", "--table", "events"]);
    assert_exit(&output, 0);
    let report = report(&output);
    let table = &report["tables"][0];
    assert_eq!(table["table"], "events", "{report:#}");
    let before = &table["before"];
    assert_eq!(
        (
            before["dead_tuples"].as_i64(),
            before["live_tuples"].as_i64(),
            before["partitions"].as_i64()
        ),
        (Some(500), Some(1500), Some(2)),
        "{report:#}"
    );
    assert!(before["size_bytes"].as_i64().is_some_and(|size| size > 0), "{report:#}");
    assert!(before["xid_age"].as_i64().is_some(), "{report:#}");
    let after = &table["after"];
    assert_eq!(
        after["dead_tuples"].as_i64(),
        Some(dead_of_partitions(&db)),
        "{report:#}"
    );
    assert!(after["size_bytes"].as_i64().is_some_and(|size| size > 0), "{report:#}");
    assert_eq!(report["dead_tuples_before"], 500, "{report:#}");
    assert!(
        report["size_bytes_before"].as_i64().is_some_and(|size| size > 0),
        "{report:#}"
    );
    assert!(
        report["size_bytes_after"].as_i64().is_some_and(|size| size > 0),
        "{report:#}"
    );
}

#[test]
fn item_19_vacuum_table_with_a_malformed_name_is_a_usage_error() {
    let ctx = TestContext::new();
    let db = ctx.db();
    db.execute("CREATE TABLE t (id int)");
    for name in ["a.b.c.d", "otherdb.public.t"] {
        let output = campctl(&ctx, &db.url(), "table", &["vacuum", "--table", name]);
        assert_exit(&output, 2);
        let stderr = stderr(&output);
        assert!(stderr.contains(&format!("`{name}` is not a valid name")), "{stderr}");
        assert!(stderr.contains("schema.name"), "{stderr}");
    }
    // The current database's name in front is SQL too.
    let qualified = format!("{}.public.t", db.name());
    let output = campctl(&ctx, &db.url(), "json", &["vacuum", "--table", &qualified, "--dry-run"]);
    assert_exit(&output, 0);
}

#[test]
fn item_19_stats_limit_zero_is_refused_with_the_range_that_is_accepted() {
    let ctx = TestContext::new();
    // No server is needed: both are refused before connecting.
    let unreachable = "postgres://127.0.0.1:1/db";
    let output = campctl(&ctx, unreachable, "table", &["stats", "tables", "--limit", "0"]);
    assert_exit(&output, 2);
    let stderr_text = stderr(&output);
    assert!(stderr_text.contains("1..="), "{stderr_text}");
    assert!(!stderr_text.contains("0.."), "{stderr_text}");

    ctx.write_file("campctl.toml", "[stats]\nlimit = 0\n");
    let output = campctl(&ctx, unreachable, "table", &["stats", "tables"]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("must be at least 1"), "{}", stderr(&output));
}
