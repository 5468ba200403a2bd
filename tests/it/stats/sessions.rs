//! The session sections with sessions the tests hold open: `connections`, `queries`, and ending sessions with
//! `--terminate` / `--terminate-idle` (confirmation, `--dry-run`, and what must never be ended).

use super::{
    find, float, in_background, int, json, pid_of, session_exists, stats, stats_json, wait_for, wait_for_state,
};
use crate::common::{TestContext, assert_exit, pg};

#[test]
fn connections_count_this_databases_sessions_by_state() {
    let ctx = TestContext::new();
    let db = ctx.db();
    let (mut idle_one, mut idle_two, mut in_transaction) = (db.client(), db.client(), db.client());
    idle_one.batch_execute("SELECT 1").expect("idle");
    idle_two.batch_execute("SELECT 1").expect("idle");
    in_transaction
        .batch_execute("BEGIN; SELECT 1")
        .expect("idle in transaction");
    let pid = pid_of(&mut in_transaction);
    wait_for_state(pid, "idle in transaction", None);

    let report = stats_json(&ctx, &db, &["connections"]);
    let mine: Vec<(String, i64)> = report["by_database_state"]
        .as_array()
        .expect("array")
        .iter()
        .filter(|row| row["database"] == db.name())
        .map(|row| (row["state"].as_str().expect("visible").to_string(), int(row, "count")))
        .collect();
    let mut mine = mine;
    mine.sort();
    // campctl's own session is the active one.
    assert_eq!(
        mine,
        vec![
            ("active".into(), 1),
            ("idle".into(), 2),
            ("idle in transaction".into(), 1)
        ],
        "{report:#}"
    );
    let max: i64 = pg()
        .client("postgres")
        .query_one("SELECT current_setting('max_connections')::int8", &[])
        .expect("max")
        .get(0);
    assert_eq!(int(&report, "max_connections"), max);
    assert_eq!(int(&report, "reserved"), 3, "superuser_reserved_connections' default");
    let total = int(&report, "total");
    assert!(total >= 4, "{report:#}");
    assert!((float(&report, "percent") - total as f64 * 100.0 / max as f64).abs() < 1e-9);
    assert_eq!(int(&report, "available"), max - 3 - total);
    assert_eq!(int(&report, "unknown_state"), 0, "the superuser sees every state");
    assert!(int(find(&report["by_application"], "name", "campctl"), "count") >= 1);
    assert!(
        int(find(&report["background"], "name", "checkpointer"), "count") == 1,
        "{report:#}"
    );
    drop((idle_one, idle_two, in_transaction));
}

#[test]
fn a_long_query_is_listed_then_terminated() {
    let ctx = TestContext::new();
    let db = ctx.db();
    let (pid, sleeper) = in_background(&db, "SELECT pg_sleep(60)");
    let row = wait_for("the sleeper to run for a second", || {
        let report = stats_json(&ctx, &db, &["queries", "--min-duration", "1s"]);
        report["sessions"]
            .as_array()
            .expect("array")
            .iter()
            .find(|s| s["pid"] == pid)
            .cloned()
    });
    assert_eq!(row["category"], "long_running");
    assert_eq!(row["query"], "SELECT pg_sleep(60)");
    assert_eq!(row["state"], "active");
    assert_eq!(row["database"], db.name());
    assert!(float(&row, "duration_seconds") >= 1.0, "{row:#}");

    // A PID that does not exist, next to one that does.
    let missing = i32::MAX.to_string();
    let report = json(&stats(
        &ctx,
        &db.url(),
        &["queries", "--terminate", &pid.to_string(), &missing, "--yes"],
    ));
    assert_eq!(int(&report, "terminated"), 1, "{report:#}");
    assert_eq!(find(&report["sessions"], "pid", pid)["outcome"], "terminated");
    assert_eq!(find(&report["sessions"], "pid", i32::MAX)["outcome"], "not_found");
    let ended = sleeper.join().expect("the sleeper thread");
    assert!(ended.is_err(), "the sleeping query must have been cancelled");
    wait_for("the session to go", || (!session_exists(pid)).then_some(()));

    // Only PIDs that do not exist: exit 10.
    let output = stats(&ctx, &db.url(), &["queries", "--terminate", &missing, "--yes"]);
    assert_exit(&output, 10);
}

#[test]
fn a_lock_wait_names_the_blocking_session() {
    let ctx = TestContext::new();
    let db = ctx.db();
    db.execute("CREATE TABLE locked (id int)");
    let mut holder = db.client();
    holder
        .batch_execute("BEGIN; LOCK TABLE locked IN ACCESS EXCLUSIVE MODE")
        .expect("lock");
    let holder_pid = pid_of(&mut holder);
    let (waiter_pid, waiter) = in_background(&db, "SELECT count(*) FROM locked");
    wait_for_state(waiter_pid, "active", Some("Lock"));

    // Lock waits are listed however short (the default --min-duration is 5m).
    let report = stats_json(&ctx, &db, &["queries"]);
    let waiting = find(&report["sessions"], "pid", waiter_pid);
    assert_eq!(waiting["category"], "waiting");
    assert_eq!(waiting["blocked_by"], serde_json::json!([holder_pid]));
    assert_eq!(waiting["wait_event_type"], "Lock");
    let blocking = find(&report["sessions"], "pid", holder_pid);
    assert_eq!(blocking["category"], "blocking");
    assert_eq!(blocking["blocking"], serde_json::json!([waiter_pid]));
    assert_eq!(blocking["state"], "idle in transaction");
    assert!(int(&report["counts"], "waiting") >= 1);

    let table = ctx
        .cmd()
        .args(["--db-url", &db.url(), "stats", "queries"])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&table.stdout);
    let line = text
        .lines()
        .find(|line| line.contains(&format!(" {waiter_pid} ")))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains("waiting") && line.contains(&holder_pid.to_string()),
        "{line}"
    );

    holder.batch_execute("ROLLBACK").expect("release the lock");
    waiter.join().expect("the waiter thread").expect("the waiter's query");
}

#[test]
fn terminate_idle_asks_first_and_spares_other_databases_and_campctl() {
    let ctx = TestContext::new();
    let db = ctx.db();
    let elsewhere = ctx.db();
    let mut in_transaction = db.client();
    in_transaction
        .batch_execute("BEGIN; SELECT 1")
        .expect("idle in transaction");
    let mut idle = db.client();
    let idle_pid = pid_of(&mut idle);
    let in_transaction_pid = pid_of(&mut in_transaction);
    // Another campctl (a backup holding its lock) and another database's session are never ended.
    let mut campctl = pg()
        .config(db.name())
        .application_name("campctl-backup")
        .connect(postgres::NoTls)
        .expect("connect");
    let campctl_pid = pid_of(&mut campctl);
    let mut other = elsewhere.client();
    let other_pid = pid_of(&mut other);

    // --dry-run lists the plan and ends nothing; poll until both sessions have been idle for a second.
    let plan = wait_for("both sessions to be idle for 1s", || {
        let report = stats_json(&ctx, &db, &["queries", "--terminate-idle", "1s", "--dry-run"]);
        let pids: Vec<i64> = report["sessions"]
            .as_array()
            .expect("array")
            .iter()
            .map(|s| int(s, "pid"))
            .collect();
        (pids.contains(&i64::from(idle_pid)) && pids.contains(&i64::from(in_transaction_pid))).then_some(report)
    });
    assert_eq!((plan["dry_run"].as_bool(), int(&plan, "terminated")), (Some(true), 0));
    assert_eq!(plan["sessions"].as_array().expect("array").len(), 2, "{plan:#}");
    assert!(
        plan["sessions"]
            .as_array()
            .expect("array")
            .iter()
            .all(|s| s["outcome"] == "would_terminate")
    );
    assert_eq!(
        find(&plan["sessions"], "pid", in_transaction_pid)["state"],
        "idle in transaction"
    );

    // `queries` lists the idle transaction (idle for over a second now), not the plain idle session.
    let queries = stats_json(&ctx, &db, &["queries", "--min-duration", "1s"]);
    let listed = find(&queries["sessions"], "pid", in_transaction_pid);
    assert_eq!(listed["category"], "idle_in_transaction");
    assert!(float(listed, "duration_seconds") >= 1.0, "{listed:#}");
    assert!(
        !queries["sessions"]
            .as_array()
            .expect("array")
            .iter()
            .any(|s| s["pid"] == idle_pid)
    );

    // Without --yes and without a terminal: refused, exit 2, nothing ended.
    let refused = stats(&ctx, &db.url(), &["queries", "--terminate-idle", "1s"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("Refusing to continue without confirmation"), "{stderr}");
    assert!(
        stderr.contains(&format!("PID {idle_pid}")),
        "the plan is shown first: {stderr}"
    );
    assert!(refused.stdout.is_empty());
    for pid in [idle_pid, in_transaction_pid, campctl_pid, other_pid] {
        assert!(session_exists(pid), "PID {pid} must still be there");
    }

    let report = json(&stats(&ctx, &db.url(), &["queries", "--terminate-idle", "1s", "--yes"]));
    assert_eq!(int(&report, "terminated"), 2, "{report:#}");
    assert_eq!(find(&report["sessions"], "pid", idle_pid)["outcome"], "terminated");
    assert!(
        in_transaction.batch_execute("SELECT 1").is_err(),
        "the idle transaction was ended"
    );
    assert!(idle.batch_execute("SELECT 1").is_err(), "the idle session was ended");
    campctl.batch_execute("SELECT 1").expect("campctl's session is spared");
    other
        .batch_execute("SELECT 1")
        .expect("another database's session is spared");
}
