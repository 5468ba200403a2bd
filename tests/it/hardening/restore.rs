//! Hardening regressions (restore): see `mod.rs`. Items 1, 7, 8, 11, 15 (restore half) and 19 (restore parts) of
//! the hardening issue, against the real PostgreSQL, pg_dump and pg_restore of the harness, with the seeding,
//! backup and fingerprint helpers of the restore safety tests.

use std::time::{Duration, Instant};

use crate::backup::{BackupEnv, store_config};
use crate::common::{assert_exit, pg, unique_suffix};
use crate::restore_safety::{
    Env, SEED, assert_nothing_created, backed_up, check_outcome, databases_starting_with, error_line, fingerprint,
    local_manifest, path_str, scratch_databases, stand_in_pid, stand_in_pidfile, start_in_pg_restore, stderr,
    test_restore_json,
};

/// Rewrites the environment's campctl.toml with `extra` appended to its store configuration.
fn configure(env: &BackupEnv, extra: &str) {
    env.ctx.write_file(
        "campctl.toml",
        store_config(&env.db.url(), &env.local, env.container.as_deref(), extra),
    );
}

/// `datistemplate` and the oid of a database.
fn template_state(database: &str) -> (bool, u32) {
    let row = pg()
        .client("postgres")
        .query_one(
            "SELECT datistemplate, oid FROM pg_database WHERE datname = $1",
            &[&database],
        )
        .expect("look up the database");
    (row.get(0), row.get(1))
}

/// The `test_restore` result recorded in a backup's local manifest (`null` when none).
fn recorded_result(env: &BackupEnv, report: &serde_json::Value) -> serde_json::Value {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(local_manifest(env, report)).expect("read the manifest"))
            .expect("the manifest is JSON");
    manifest["test_restore"].clone()
}

/// Marks a template database as an ordinary one again when the test ends, so that it can be dropped.
struct Untemplate(String);

impl Drop for Untemplate {
    fn drop(&mut self) {
        // No panic here: this may run while a failed test unwinds.
        if let Ok(mut client) = pg().config("postgres").connect(postgres::NoTls) {
            let _ = client.batch_execute(&format!("ALTER DATABASE \"{}\" IS_TEMPLATE false", self.0));
        }
    }
}

#[test]
fn item_01_templates_and_the_maintenance_database_are_never_restore_targets() {
    let env = Env::local();
    backed_up(&env);
    let template = format!("{}_tpl", env.db.name());
    pg().execute("postgres", &format!("CREATE DATABASE \"{template}\" IS_TEMPLATE true"));
    let _untemplate = Untemplate(template.clone());
    let before: Vec<_> = ["template0", "template1", "postgres", template.as_str()]
        .iter()
        .map(|name| template_state(name))
        .collect();

    for args in [
        vec!["restore", "--to", "template1", "--yes"],
        vec!["restore", "--to", "template1", "--replace", "--yes"],
        vec!["restore", "--to", "template0", "--replace", "--yes"],
        vec!["restore", "--to", "postgres", "--replace", "--yes"],
        vec!["restore", "--to", template.as_str(), "--replace", "--yes"],
        vec!["restore", "--db", "template1", "--yes"],
    ] {
        let output = env.run(&args);
        assert_exit(&output, 2);
        let text = stderr(&output);
        assert!(
            text.contains("template") || text.contains("maintenance database"),
            "{args:?}: {text}"
        );
        assert!(
            !text.contains("ALLOW_CONNECTIONS"),
            "never advise opening a template: {args:?}: {text}"
        );
        assert!(!text.contains("created database"), "{args:?}: {text}");
    }
    // A dry run is refused too: the plan of replacing template1 is no plan.
    let output = env.run(&["--dry-run", "restore", "--to", "template1"]);
    assert_exit(&output, 2);

    let after: Vec<_> = ["template0", "template1", "postgres", template.as_str()]
        .iter()
        .map(|name| template_state(name))
        .collect();
    assert_eq!(
        after, before,
        "every template and the maintenance database are untouched"
    );
    assert!(
        scratch_databases(env.db.name()).is_empty(),
        "{:?}",
        scratch_databases(env.db.name())
    );
    assert!(databases_starting_with("template1_").is_empty());
    assert!(databases_starting_with("template1__").is_empty());

    // A maintenance database of the operator's choosing is protected the same way.
    let maintenance = format!("{}_m", env.db.name());
    pg().execute("postgres", &format!("CREATE DATABASE \"{maintenance}\""));
    configure(&env, &format!("[restore]\nmaintenance_db = \"{maintenance}\"\n"));
    let output = env.run(&["restore", "--to", &maintenance, "--replace", "--yes"]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("maintenance database"), "{}", stderr(&output));
}

/// Creates a role that may log in with a password, create databases and hold at most `limit` connections.
fn limited_role(env: &mut Env, limit: u32) -> (String, String) {
    let role = format!("r_{}", unique_suffix('_'));
    env.leftovers.roles.push(role.clone());
    let password = "item07-password";
    pg().execute(
        "postgres",
        &format!("CREATE ROLE \"{role}\" LOGIN CREATEDB CONNECTION LIMIT {limit} PASSWORD '{password}'"),
    );
    let url = format!(
        "postgres://{role}:{password}@{}:{}/{}?sslmode=disable",
        pg().host(),
        pg().port(),
        env.db.name()
    );
    (role, url)
}

#[test]
fn item_07_jobs_are_validated_and_capped_by_the_free_connections() {
    let mut env = Env::local();
    backed_up(&env);

    // Out of range on the command line and in the file: exit 2 before any work, naming the key and the file.
    let output = env.run(&["restore", "--jobs", "0", "--to", "x", "--yes"]);
    assert_exit(&output, 2);
    for (section, args) in [
        ("restore", vec!["restore", "--to", "nope", "--yes"]),
        ("restore", vec!["test-restore", "--no-record"]),
        ("test_restore", vec!["test-restore", "--no-record"]),
    ] {
        for jobs in [0, 65, 1000] {
            configure(&env, &format!("[{section}]\njobs = {jobs}\n"));
            let output = env.run(&args);
            assert_exit(&output, 2);
            let text = stderr(&output);
            assert!(text.contains(&format!("`[{section}] jobs = {jobs}`")), "{text}");
            assert!(text.contains("campctl.toml"), "names the file: {text}");
            assert_nothing_created(env.db.name());
        }
    }
    configure(&env, "");

    // A role limited to 6 connections asks for 8 jobs: pg_restore would need 9 (its leader too) besides campctl's
    // own session and fail with "too many connections for role"; campctl uses fewer and says so.
    let (_role, url) = limited_role(&mut env, 6);
    let target = format!("{}_jobs", env.db.name());
    let spool = env.ctx.home().join("spool");
    let output = env
        .ctx
        .cmd()
        .args(["--db-url", &url, "restore", "--to", &target, "--jobs", "8"])
        .args(["--spool-dir", path_str(&spool)])
        .output()
        .expect("run campctl");
    assert_exit(&output, 0);
    let text = stderr(&output);
    assert!(text.contains("8 pg_restore jobs asked for"), "{text}");
    assert!(text.contains("free connections"), "{text}");
    assert_eq!(
        fingerprint(&target).tables,
        fingerprint(env.db.name()).tables,
        "the capped restore is complete"
    );

    // test-restore the same way.
    let output = env
        .ctx
        .cmd()
        .args([
            "--db-url",
            &url,
            "--format",
            "json",
            "test-restore",
            "--no-record",
            "--jobs",
            "8",
        ])
        .args(["--spool-dir", path_str(&spool)])
        .output()
        .expect("run campctl");
    assert_exit(&output, 0);
    assert!(stderr(&output).contains("free connections"), "{}", stderr(&output));
}

#[test]
fn item_08_usage_errors_are_found_before_any_work_and_never_recorded() {
    let env = Env::local();
    let report = backed_up(&env);
    let not_a_dir = env.ctx.write_file("spool-is-a-file", "x");
    let missing_dir = env.ctx.home().join("no/such/dir/report.xml");
    let is_a_dir = env.ctx.home().join("backups");

    let cases: Vec<Vec<&str>> = vec![
        vec!["test-restore", "--jobs", "2", "--spool-dir", path_str(&not_a_dir)],
        vec!["test-restore", "--junit", path_str(&missing_dir)],
        vec!["test-restore", "--junit", path_str(&is_a_dir)],
        vec![
            "restore",
            "--to",
            "never_created",
            "--jobs",
            "2",
            "--spool-dir",
            path_str(&not_a_dir),
        ],
    ];
    for args in cases {
        let started = Instant::now();
        let output = env.run(&args);
        assert_exit(&output, 2);
        let text = stderr(&output);
        assert!(
            !text.contains("Test-restoring") && !text.contains("Restoring"),
            "found before any work: {args:?}: {text}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{args:?} took {:?}",
            started.elapsed()
        );
        assert_eq!(
            recorded_result(&env, &report),
            serde_json::Value::Null,
            "a usage error records nothing: {args:?}"
        );
        assert_nothing_created(env.db.name());
    }
    assert!(!missing_dir.exists());

    // `backup list` still shows the backup as untested, not FAILED.
    let output = env.run(&["backup", "list"]);
    assert_exit(&output, 0);
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("FAILED"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );

    // A test that runs is recorded.
    let (output, _) = test_restore_json(&env, &["--junit", path_str(&env.ctx.home().join("report.xml"))]);
    assert_exit(&output, 0);
    assert_eq!(recorded_result(&env, &report)["passed"], true);
}

#[test]
fn item_11_a_failing_sql_check_shows_the_servers_message_everywhere() {
    let env = Env::local();
    env.db.execute(SEED);
    configure(
        &env,
        "[[test_restore.checks]]\nname = \"broken\"\nsql = \"SELECT nope FROM missing_table\"\nexpect = 1\n",
    );
    env.backup(&[]);
    let junit = env.ctx.home().join("report.xml");

    let (output, report) = test_restore_json(&env, &["--no-record", "--junit", path_str(&junit)]);
    assert_exit(&output, 1);
    assert_eq!(check_outcome(&report, "sql broken"), "fail", "{report:#}");
    let detail = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|check| check["name"] == "sql broken")
        .expect("the check")["detail"]
        .as_str()
        .expect("detail")
        .to_string();
    assert!(detail.contains("relation \"missing_table\" does not exist"), "{detail}");
    assert!(detail.contains("42P01"), "{detail}");
    assert!(detail.contains("at character 18"), "the position: {detail}");
    assert!(!detail.contains("db error"), "{detail}");

    let xml = std::fs::read_to_string(&junit).expect("read the JUnit report");
    assert!(
        xml.contains("relation &quot;missing_table&quot; does not exist"),
        "{xml}"
    );
    assert!(!xml.contains("db error"), "{xml}");

    let output = env.run(&["test-restore", "--no-record"]);
    assert_exit(&output, 1);
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("42P01"), "{table}");
    assert!(table.contains("missing_table"), "{table}");
    assert!(!table.contains("db error"), "{table}");
}

/// Starts `args` with a stand-in pg_restore that sleeps, waits until it runs (the new database exists), and kills
/// campctl and the stand-in with SIGKILL: nothing of campctl's cleanup runs.
fn kill_9_during_pg_restore(env: &BackupEnv, args: &[&str]) {
    let mut child = start_in_pg_restore(env, args);
    child.kill().expect("SIGKILL campctl");
    child.wait().expect("reap campctl");
    let stand_in_pid = stand_in_pid(env);
    // SAFETY: the stand-in's pid, which it wrote itself; it sleeps until killed.
    unsafe { libc::kill(stand_in_pid, libc::SIGKILL) };
    let _ = std::fs::remove_file(stand_in_pidfile(env));
}

/// Waits until nothing is connected to `database` (the killed run's sessions end when the server notices).
fn wait_until_unused(database: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let sessions: i64 = pg()
            .client("postgres")
            .query_one("SELECT count(*) FROM pg_stat_activity WHERE datname = $1", &[&database])
            .expect("count sessions")
            .get(0);
        if sessions == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "sessions on {database} did not end");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn item_15_databases_left_by_a_killed_restore_are_named_with_the_statement_that_drops_them() {
    let env = Env::local();
    backed_up(&env);
    let target = format!("{}_k", env.db.name());

    kill_9_during_pg_restore(&env, &["restore", "--to", &target, "--yes"]);
    kill_9_during_pg_restore(&env, &["test-restore", "--no-record"]);
    let left = scratch_databases(env.db.name());
    let restore_copy = databases_starting_with(&format!("{target}__restore_"));
    assert_eq!(restore_copy.len(), 1, "kill -9 leaves the restore copy: {left:?}");
    let scratch = databases_starting_with(&format!("{}__test_restore_", env.db.name()));
    assert_eq!(scratch.len(), 1, "kill -9 leaves the scratch database: {left:?}");
    for database in restore_copy.iter().chain(&scratch) {
        wait_until_unused(database);
    }
    // The next run starts in a later second than the killed ones.
    std::thread::sleep(Duration::from_millis(1100));

    for args in [
        vec!["--dry-run", "restore", "--to", target.as_str()],
        vec!["--dry-run", "test-restore"],
    ] {
        let output = env.run(&args);
        assert_exit(&output, 0);
        let text = stderr(&output);
        for database in restore_copy.iter().chain(&scratch) {
            assert!(
                text.contains(&format!("`DROP DATABASE \"{database}\";`")),
                "{args:?} names `{database}` with the statement that drops it: {text}"
            );
        }
        assert!(text.contains("did not finish"), "{text}");
    }

    // A run in progress is not a leftover: a database with a session is not named.
    let mut session = pg().client(&scratch[0]);
    session.batch_execute("SELECT 1").expect("a session");
    let output = env.run(&["--dry-run", "test-restore"]);
    assert_exit(&output, 0);
    let text = stderr(&output);
    assert!(!text.contains(&format!("\"{}\"", scratch[0])), "{text}");
    assert!(text.contains(&format!("\"{}\"", restore_copy[0])), "{text}");
}

#[test]
fn item_19_long_target_names_and_a_missing_maintenance_database_are_usage_errors() {
    let env = Env::local();
    backed_up(&env);
    let long = format!("{}_{}", env.db.name(), "x".repeat(64));

    let output = env.run(&["restore", "--to", &long, "--yes"]);
    assert_exit(&output, 2);
    let error = error_line(&output);
    assert!(error.contains("63 bytes"), "{}", stderr(&output));
    assert!(!stderr(&output).contains("db error"), "{}", stderr(&output));
    assert!(
        !stderr(&output).contains("Restoring"),
        "before any work: {}",
        stderr(&output)
    );
    assert_nothing_created(env.db.name());

    let missing = format!("{}_nope", env.db.name());
    configure(&env, &format!("[restore]\nmaintenance_db = \"{missing}\"\n"));
    for args in [
        vec!["restore", "--to", "x", "--yes"],
        vec!["test-restore", "--no-record"],
    ] {
        let output = env.run(&args);
        let text = stderr(&output);
        assert!(text.contains(&format!("`{missing}` does not exist")), "{text}");
        let hint = text.lines().find(|line| line.starts_with("hint: ")).unwrap_or_default();
        assert!(hint.contains("[restore] maintenance_db"), "{text}");
        assert!(!hint.contains("url"), "the URL is not to blame: {text}");
        assert_nothing_created(env.db.name());
    }
}
