//! Privileges: a role with `pg_monitor` sees what the superuser sees; a role without it gets "unknown" (`null`)
//! for other roles' sessions, never an error, and cannot end them.

use serde_json::Value;

use super::{Role, find, in_background, int, json, pid_of, seed, stats, stats_json, wait_for, wait_for_state};
use crate::common::TestContext;

/// The fields of a `tables` row that autovacuum cannot change between two runs.
fn stable(table: &Value) -> Value {
    let mut table = table.clone();
    for key in ["last_vacuum", "last_autovacuum", "last_analyze", "last_autoanalyze"] {
        table.as_object_mut().expect("object").remove(key);
    }
    table
}

#[test]
fn a_pg_monitor_role_sees_the_same_figures() {
    let ctx = TestContext::new();
    let db = ctx.db();
    seed(&db);
    let role = Role::create(Some("pg_monitor"));
    let as_role = |args: &[&str]| json(&stats(&ctx, &role.url(&db), args));

    let (superuser, monitor) = (stats_json(&ctx, &db, &["tables"]), as_role(&["tables"]));
    let stable_rows = |report: &Value| {
        report["tables"]
            .as_array()
            .expect("array")
            .iter()
            .map(stable)
            .collect::<Vec<_>>()
    };
    assert_eq!(stable_rows(&monitor), stable_rows(&superuser));
    assert_eq!(as_role(&["indexes"]), stats_json(&ctx, &db, &["indexes"]));
    assert_eq!(
        as_role(&["vacuum"])["tables"],
        stats_json(&ctx, &db, &["vacuum"])["tables"]
    );
    let database = as_role(&["database"]);
    assert!(
        database["databases"]
            .as_array()
            .expect("array")
            .iter()
            .all(|d| d["size_bytes"].is_i64()),
        "{database:#}"
    );

    // A superuser's statement, with its text.
    let (pid, sleeper) = in_background(&db, "SELECT pg_sleep(60)");
    wait_for_state(pid, "active", None);
    let session = wait_for("the sleeper to be listed", || {
        let report = as_role(&["queries", "--min-duration", "0s"]);
        report["sessions"]
            .as_array()
            .expect("array")
            .iter()
            .find(|s| s["pid"] == pid)
            .cloned()
    });
    assert_eq!(
        (session["query"].as_str(), session["category"].as_str()),
        (Some("SELECT pg_sleep(60)"), Some("long_running"))
    );
    let connections = as_role(&["connections"]);
    assert_eq!(int(&connections, "unknown_state"), 0, "{connections:#}");
    // pg_monitor does not include pg_signal_backend: the superuser's session cannot be ended by this role.
    let denied = stats(
        &ctx,
        &role.url(&db),
        &["queries", "--terminate", &pid.to_string(), "--yes"],
    );
    assert_eq!(
        denied.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&denied.stderr)
    );
    let report: Value = serde_json::from_slice(&denied.stdout).expect("json");
    let row = find(&report["sessions"], "pid", pid);
    assert_eq!(row["outcome"], "denied");
    assert!(
        row["message"].as_str().is_some_and(|m| m.contains("superuser")),
        "{row:#}"
    );

    db.client()
        .execute("SELECT pg_cancel_backend($1)", &[&pid])
        .expect("cancel the sleeper");
    assert!(sleeper.join().expect("thread").is_err());
}

#[test]
fn a_role_without_pg_monitor_gets_unknown_not_errors() {
    let ctx = TestContext::new();
    let db = ctx.db();
    seed(&db);
    let role = Role::create(None);
    let url = role.url(&db);

    // Two superuser sessions, one waiting for the other's lock.
    let mut holder = db.client();
    holder
        .batch_execute("BEGIN; LOCK TABLE bloat IN ACCESS EXCLUSIVE MODE")
        .expect("lock");
    let holder_pid = pid_of(&mut holder);
    let (waiter_pid, waiter) = in_background(&db, "SELECT count(*) FROM bloat");
    wait_for_state(waiter_pid, "active", Some("Lock"));

    let report = json(&stats(&ctx, &url, &["queries"]));
    let waiting = find(&report["sessions"], "pid", waiter_pid);
    assert_eq!(waiting["category"], "waiting");
    assert_eq!(waiting["blocked_by"], serde_json::json!([holder_pid]));
    assert_eq!(
        (waiting["query"].clone(), waiting["state"].clone()),
        (Value::Null, Value::Null),
        "{waiting:#}"
    );
    let table = ctx
        .cmd()
        .args(["--db-url", &url, "stats", "queries"])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("unknown"), "{text}");

    let connections = json(&stats(&ctx, &url, &["connections"]));
    assert!(int(&connections, "unknown_state") >= 2, "{connections:#}");
    let mine = connections["by_database_state"]
        .as_array()
        .expect("array")
        .iter()
        .find(|row| row["database"] == db.name() && row["state"].is_null())
        .unwrap_or_else(|| panic!("{connections:#}"));
    assert!(int(mine, "count") >= 2);

    // Every section works; tables and indexes need no privilege on the tables.
    for section in ["", "tables", "indexes", "vacuum", "database", "replication", "settings"] {
        let args: Vec<&str> = if section.is_empty() { vec![] } else { vec![section] };
        let report = json(&stats(&ctx, &url, &args));
        assert!(report.is_object(), "{section}: {report:#}");
    }
    // The locked table's size is not read (that would wait for the lock), its counters are.
    let tables = json(&stats(&ctx, &url, &["tables"]));
    let bloat = find(&tables["tables"], "table", "bloat");
    assert_eq!(
        (int(bloat, "dead_tuples"), bloat["total_bytes"].clone()),
        (250, Value::Null),
        "{bloat:#}"
    );
    assert!(find(&tables["tables"], "table", "tuned")["total_bytes"].is_i64());

    holder.batch_execute("ROLLBACK").expect("release the lock");
    waiter.join().expect("the waiter thread").expect("the waiter's query");
}
