//! The server-wide sections (`database`, `replication`, `settings`), the summary, and usage errors.

use super::{find, float, int, scalar, seed, stats, stats_json};
use crate::common::{TestContext, campctl_snapshot};

#[test]
fn database_reports_size_and_counters_of_the_current_database_first() {
    let ctx = TestContext::new();
    let db = ctx.db();
    db.execute("CREATE TABLE t AS SELECT generate_series(1, 100) AS id");
    let report = stats_json(&ctx, &db, &["database"]);
    assert_eq!(report["current"], db.name());
    let first = &report["databases"][0];
    assert_eq!(
        (first["database"].as_str(), first["current"].as_bool()),
        (Some(db.name()), Some(true))
    );
    let size = scalar(&mut db.client(), "SELECT pg_database_size(current_database())");
    assert_eq!(int(first, "size_bytes"), size);
    assert!(int(first, "commits") > 0, "{first:#}");
    let hit = float(first, "cache_hit_percent");
    assert!((0.0..=100.0).contains(&hit), "{hit}");
    let (commits, rollbacks) = (int(first, "commits"), int(first, "rollbacks"));
    let expected = rollbacks as f64 * 100.0 / (commits + rollbacks) as f64;
    assert!((float(first, "rollback_percent") - expected).abs() < 1e-9);
    assert_eq!(int(first, "deadlocks"), 0);
    let others = report["databases"].as_array().expect("array");
    assert!(
        others.iter().any(|d| d["database"] == "postgres"),
        "every database: {others:#?}"
    );
    assert!(!others.iter().any(|d| d["database"] == "template1"), "no templates");

    let csv = ctx
        .cmd()
        .args(["--db-url", &db.url(), "--format", "csv", "stats", "database"])
        .output()
        .expect("run");
    let csv = String::from_utf8_lossy(&csv.stdout);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "database,size_bytes,cache_hit_percent,commits,rollbacks,rollback_percent,deadlocks,conflicts,temp_files,\
             temp_bytes,stats_reset"
        )
    );
    assert!(
        lines
            .next()
            .is_some_and(|line| line.starts_with(&format!("{},{size},", db.name()))),
        "{csv}"
    );
}

#[test]
fn replication_is_empty_on_a_standalone_server_and_lists_slots() {
    let ctx = TestContext::new();
    let db = ctx.db();
    let report = stats_json(&ctx, &db, &["replication"]);
    assert_eq!(report["is_standby"], false);
    assert_eq!(report["replicas"], serde_json::json!([]));
    assert_eq!(report["standby"], serde_json::Value::Null);
    assert!(report["slots"].is_array(), "{report:#}");
    let table = ctx
        .cmd()
        .args(["--db-url", &db.url(), "stats", "replication"])
        .output()
        .expect("run");
    assert_eq!(table.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&table.stdout).contains("No replica is connected"));

    let slot = format!("stats_slot_{}", crate::common::unique_suffix('_'));
    let mut client = db.client();
    client
        .execute("SELECT pg_create_physical_replication_slot($1, true)", &[&slot])
        .expect("create a slot");
    let report = stats_json(&ctx, &db, &["replication"]);
    let retained_now = scalar(
        &mut client,
        &format!(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::int8
             FROM pg_replication_slots WHERE slot_name = '{slot}'"
        ),
    );
    client
        .execute("SELECT pg_drop_replication_slot($1)", &[&slot])
        .expect("drop the slot");
    let listed = find(&report["slots"], "slot", slot.as_str());
    assert_eq!(
        (listed["slot_type"].as_str(), listed["active"].as_bool()),
        (Some("physical"), Some(false))
    );
    let retained = int(listed, "retained_bytes");
    assert!(
        (0..=retained_now).contains(&retained),
        "0 <= {retained} <= {retained_now}"
    );
    assert_eq!(listed["wal_status"], "reserved");
}

#[test]
fn settings_are_judged_in_this_sessions_values() {
    let ctx = TestContext::new();
    let db = ctx.db();
    let report = stats_json(&ctx, &db, &["settings"]);
    let timeout = find(&report["settings"], "name", "idle_in_transaction_session_timeout");
    assert_eq!(
        (timeout["value"].as_str(), timeout["status"].as_str()),
        (Some("0"), Some("differs"))
    );
    let autovacuum = find(&report["settings"], "name", "autovacuum");
    assert_eq!(
        (autovacuum["value"].as_str(), autovacuum["status"].as_str()),
        (Some("on"), Some("ok"))
    );
    let naptime = find(&report["settings"], "name", "autovacuum_naptime");
    assert_eq!(
        (naptime["setting"].as_str(), naptime["unit"].as_str()),
        (Some("60"), Some("s"))
    );

    // Database-level values count: they are what this database's sessions get.
    db.execute(&format!(
        "ALTER DATABASE \"{0}\" SET idle_in_transaction_session_timeout = '10min';
         ALTER DATABASE \"{0}\" SET log_min_duration_statement = '1s'",
        db.name()
    ));
    let report = stats_json(&ctx, &db, &["settings"]);
    for name in ["idle_in_transaction_session_timeout", "log_min_duration_statement"] {
        let row = find(&report["settings"], "name", name);
        assert_eq!(
            (row["status"].as_str(), row["source"].as_str()),
            (Some("ok"), Some("database")),
            "{row:#}"
        );
    }
}

#[test]
fn settings_table_view() {
    let ctx = TestContext::new();
    let db = ctx.db();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["--db-url", &db.url(), "stats", "settings"]), @r"
    success: true
    exit_code: 0
    ----- stdout -----
    Settings
    ┌─────────────────────────────────────┬───────┬──────────────────┬─────────┬────────────────────┐
    │ name                                ┆ value ┆ recommended      ┆ status  ┆ source             │
    ╞═════════════════════════════════════╪═══════╪══════════════════╪═════════╪════════════════════╡
    │ autovacuum                          ┆ on    ┆ on               ┆ ok      ┆ default            │
    │ track_counts                        ┆ on    ┆ on               ┆ ok      ┆ default            │
    │ autovacuum_naptime                  ┆ 1min  ┆ 1min             ┆ ok      ┆ default            │
    │ autovacuum_vacuum_scale_factor      ┆ 0.2   ┆ 0.2              ┆ ok      ┆ default            │
    │ autovacuum_analyze_scale_factor     ┆ 0.1   ┆ 0.1              ┆ ok      ┆ default            │
    │ autovacuum_max_workers              ┆ 3     ┆ >= 3             ┆ ok      ┆ default            │
    │ maintenance_work_mem                ┆ 64MB  ┆ >= 64MB          ┆ ok      ┆ default            │
    │ max_connections                     ┆ 60    ┆ -                ┆ info    ┆ configuration file │
    │ statement_timeout                   ┆ 0     ┆ -                ┆ info    ┆ default            │
    │ idle_in_transaction_session_timeout ┆ 0     ┆ > 0 (e.g. 10min) ┆ differs ┆ default            │
    │ log_min_duration_statement          ┆ -1    ┆ 0 to 5min        ┆ differs ┆ default            │
    └─────────────────────────────────────┴───────┴──────────────────┴─────────┴────────────────────┘
    idle_in_transaction_session_timeout: runbook 8.1.1 ends sessions idle for 10 minutes; idle transactions hold locks and stop vacuum
    log_min_duration_statement: runbook 3.4.3 looks for statements running over 5 minutes; log them too

    ----- stderr -----
    ");
}

#[test]
fn summary_has_every_part() {
    let ctx = TestContext::new();
    let db = ctx.db();
    seed(&db);
    db.client()
        .batch_execute("CREATE UNIQUE INDEX CONCURRENTLY dupes_x ON dupes (x)")
        .expect_err("duplicates");
    let report = stats_json(&ctx, &db, &[]);
    assert_eq!(report["database"], db.name());
    assert_eq!(
        int(&report, "size_bytes"),
        scalar(&mut db.client(), "SELECT pg_database_size(current_database())")
    );
    assert!(
        report["server_version"].as_str().is_some_and(|v| v.starts_with("15.")),
        "{report:#}"
    );
    assert_eq!(report["is_standby"], false);
    let connections = &report["connections"];
    assert!(int(connections, "total") >= 1);
    let percent = int(connections, "total") as f64 * 100.0 / int(connections, "max_connections") as f64;
    assert!((float(connections, "percent") - percent).abs() < 1e-9);
    let top: Vec<(&str, i64)> = report["top_dead_tuples"]
        .as_array()
        .expect("array")
        .iter()
        .map(|t| (t["table"].as_str().expect("name"), int(t, "dead_tuples")))
        .collect();
    assert_eq!(top, vec![("bloat", 250), ("tuned", 250)]);
    let indexes = &report["indexes"];
    assert_eq!(
        (
            int(indexes, "unused"),
            int(indexes, "invalid"),
            int(indexes, "duplicate")
        ),
        (4, 1, 1)
    );
    assert_eq!(int(&report, "replicas"), 0);
    assert!(
        report["settings_differ"]
            .as_array()
            .expect("array")
            .contains(&"idle_in_transaction_session_timeout".into())
    );
    let oldest = &report["oldest_xid"];
    assert_eq!(int(oldest, "wraparound_margin"), 2_147_483_647 - int(oldest, "xid_age"));
    assert!(report["idle_in_transaction"].is_i64());

    let table = ctx.cmd().args(["--db-url", &db.url(), "stats"]).output().expect("run");
    let text = String::from_utf8_lossy(&table.stdout);
    assert_eq!(
        table.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&table.stderr)
    );
    assert!(text.contains(&format!("Summary of `{}`", db.name())), "{text}");
    assert!(text.contains("Top 5 tables by dead tuples"), "{text}");
}

#[test]
fn terminate_outside_queries_is_a_usage_error() {
    let ctx = TestContext::new();
    // Checked before connecting: no server needed.
    let unreachable = "postgres://127.0.0.1:1/db";
    let mut command = ctx.cmd();
    command.args(["--db-url", unreachable, "stats", "tables", "--terminate", "123"]);
    campctl_snapshot!(ctx.filters(), command, @r"
    success: false
    exit_code: 2
    ----- stdout -----

    ----- stderr -----
    error: `--terminate` only works with the `queries` section

    hint: Run `campctl stats queries --terminate ...`
    ");
    let output = stats(&ctx, "postgres://127.0.0.1:1/db", &["--limit", "0"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("0 is not in 1..="));
    let output = stats(&ctx, "postgres://127.0.0.1:1/db", &["queries", "--terminate", "0"]);
    assert_eq!(output.status.code(), Some(2));
}
