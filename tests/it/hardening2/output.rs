//! Hardening 2 regressions (test-restore and output): items 10 (a failed run never leaves a passing JUnit file),
//! 12 (`--no-tablespaces`, and a missing tablespace is a usage error naming it), 13 (`--dry-run` plans as JSON on
//! stdout) and 14 (the JSON of the backup commands as documented, the full SHA-256 in CSV, the container asked for,
//! `--limit 0`, control bytes in tables).

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::backup::{BackupEnv, store_config};
use crate::common::documented::assert_documented;
use crate::common::process::{OsUser, running_as_root, scratch_tempdir};
use crate::common::{assert_exit, azurite, pg, unique_container, unique_suffix};
use crate::restore::test_restore::parse_xml;
use crate::restore_safety::{Env, SEED, backed_up, local_manifest, path_str, start_in_pg_restore, stderr};

fn json_stdout(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "stdout is not one JSON document ({err}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            stderr(output)
        )
    })
}

// Item 10: a failed run never leaves a passing JUnit file behind.

/// The `<testcase>`s and `<error>`s of the JUnit file at `path`, which must be well-formed.
fn junit_errors(path: &Path) -> (usize, Vec<(String, String)>, String) {
    let xml = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let elements = parse_xml(&xml).unwrap_or_else(|e| panic!("not well-formed XML: {e}\n{xml}"));
    let cases = elements.iter().filter(|e| e.name == "testcase").count();
    let errors = elements
        .iter()
        .filter(|e| e.name == "error")
        .map(|e| {
            (
                e.attribute("type").unwrap_or_default().to_string(),
                e.attribute("message").unwrap_or_default().to_string(),
            )
        })
        .collect();
    (cases, errors, xml)
}

/// Asserts that the JUnit file at `path` is one error test case of exit `code` whose message holds `needle`.
#[track_caller]
fn assert_junit_error(path: &Path, code: i32, needle: &str) {
    let (cases, errors, xml) = junit_errors(path);
    assert_eq!(cases, 1, "{xml}");
    assert_eq!(errors.len(), 1, "{xml}");
    assert_eq!(errors[0].0, format!("exit {code}"), "{xml}");
    assert!(errors[0].1.contains(needle), "the error names `{needle}`: {xml}");
    assert!(xml.contains("errors=\"1\""), "{xml}");
    let dir = path.parent().expect("a directory");
    let left: Vec<_> = std::fs::read_dir(dir)
        .expect("read the directory")
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".partial"))
        .collect();
    assert!(left.is_empty(), "no temporary file is left: {left:?}");
}

#[test]
fn item_10_a_failed_test_restore_replaces_a_passing_junit_file() {
    let env = Env::local();
    backed_up(&env);
    let junit = env.ctx.home().join("reports").join("test-restore.xml");
    std::fs::create_dir_all(junit.parent().expect("parent")).expect("mkdir");
    let junit_arg = path_str(&junit).to_string();
    let output = env.run(&["test-restore", "--no-record", "--junit", &junit_arg]);
    assert_exit(&output, 0);
    let passing = std::fs::read(&junit).expect("the passing report");
    let (cases, errors, xml) = junit_errors(&junit);
    assert!(
        cases >= 5 && errors.is_empty() && xml.contains("failures=\"0\""),
        "{xml}"
    );
    let restore_passing = || std::fs::write(&junit, &passing).expect("put the passing report back");

    // A settings error found after the command line named the path: an unknown profile (exit 2) ...
    let output = env.run(&["--profile", "nope", "test-restore", "--junit", &junit_arg]);
    assert_exit(&output, 2);
    assert_junit_error(&junit, 2, "nope");

    // ... and a bad `[test_restore] jobs` (exit 2).
    restore_passing();
    env.ctx.write_file(
        "campctl.toml",
        store_config(&env.db.url(), &env.local, None, "[test_restore]\njobs = 0\n"),
    );
    let output = env.run(&["test-restore", "--junit", &junit_arg]);
    assert_exit(&output, 2);
    assert_junit_error(&junit, 2, "jobs");
    env.ctx
        .write_file("campctl.toml", store_config(&env.db.url(), &env.local, None, ""));

    // No such backup (exit 10).
    restore_passing();
    let missing = format!("{}_20000101_000000", env.db.name());
    let output = env.run(&["test-restore", &missing, "--junit", &junit_arg]);
    assert_exit(&output, 10);
    assert_junit_error(&junit, 10, &missing);

    // A refused password on the target server (exit 12).
    restore_passing();
    let wrong = format!(
        "postgres://{}:wrong@127.0.0.1:{}/postgres?sslmode=disable",
        pg().superuser(),
        pg().port()
    );
    let output = env.run(&["test-restore", "--target-url", &wrong, "--junit", &junit_arg]);
    assert_exit(&output, 12);
    assert_junit_error(&junit, 12, "uthentication");

    // Ctrl-C while pg_restore runs (exit 130).
    restore_passing();
    let mut child = start_in_pg_restore(&env, &["test-restore", "--no-record", "--junit", &junit_arg]);
    // SAFETY: signalling our own child, which has not been reaped.
    unsafe { libc::kill(i32::try_from(child.id()).expect("pid"), libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "campctl did not stop after SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));
    assert_junit_error(&junit, 130, "interrupted");
}

// Item 12: `--no-tablespaces`, and a tablespace the server lacks.

/// A tablespace in a directory the server's OS user owns, dropped (if still there) when the test ends.
struct Tablespace(String);

impl Tablespace {
    fn create(dir: &Path) -> Self {
        if running_as_root() {
            OsUser::lookup("postgres").expect("the postgres OS user").chown(dir);
        }
        let name = format!("ts_{}", unique_suffix('_'));
        pg().execute(
            "postgres",
            &format!("CREATE TABLESPACE {name} LOCATION '{}'", dir.display()),
        );
        Self(name)
    }
}

impl Drop for Tablespace {
    fn drop(&mut self) {
        if let Ok(mut client) = pg().config("postgres").connect(postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP TABLESPACE IF EXISTS {}", self.0));
        }
    }
}

#[test]
fn item_12_a_missing_tablespace_is_named_and_no_tablespaces_restores_without_it() {
    let env = Env::local();
    let dir = scratch_tempdir("tablespace");
    let tablespace = Tablespace::create(dir.path());
    env.db.execute(SEED);
    env.db.execute(&format!(
        "CREATE TABLE placed (id int PRIMARY KEY) TABLESPACE {0}; \
         INSERT INTO placed SELECT generate_series(1, 300); \
         CREATE INDEX placed_id ON users (email) TABLESPACE {0};",
        tablespace.0
    ));
    let report = env.backup(&[]);
    // The server restored on no longer has the tablespace.
    env.db
        .execute("ALTER TABLE placed SET TABLESPACE pg_default; ALTER INDEX placed_id SET TABLESPACE pg_default");
    pg().execute("postgres", &format!("DROP TABLESPACE {}", tablespace.0));

    let output = env.run(&["test-restore"]);
    assert_exit(&output, 2);
    let text = stderr(&output);
    assert!(
        text.contains(&format!("tablespace `{}`", tablespace.0)) && text.contains("--no-tablespaces"),
        "the error names the tablespace and the flag: {text}"
    );
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(local_manifest(&env, &report)).expect("read")).expect("json");
    assert!(
        manifest["test_restore"].is_null(),
        "a server without the tablespace does not mark the backup FAILED: {manifest:#}"
    );

    let output = env.run(&["--format", "json", "test-restore", "--no-tablespaces"]);
    assert_exit(&output, 0);
    let result = json_stdout(&output);
    let placed = result["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|check| check["name"] == "rows public.placed")
        .unwrap_or_else(|| panic!("no check of `placed`: {result:#}"));
    assert_eq!(placed["outcome"], "pass", "{result:#}");

    let target = format!("{}__copy_ts", env.db.name());
    let output = env.run(&["restore", "--to", &target, "--no-tablespaces", "--yes"]);
    assert_exit(&output, 0);
    let count: i64 = pg()
        .client(&target)
        .query_one("SELECT count(*) FROM placed", &[])
        .expect("count")
        .get(0);
    assert_eq!(count, 300);
}

// Item 13: dry-run plans are one JSON document on stdout.

#[test]
fn item_13_dry_run_plans_are_json_on_stdout() {
    let env = Env::local();
    backed_up(&env);
    let before = std::fs::read_dir(env.local.join(env.db.name())).expect("read").count();

    let output = env.run(&["--format", "json", "--dry-run", "backup"]);
    assert_exit(&output, 0);
    let plan = json_stdout(&output);
    assert_eq!(
        (plan["dry_run"].as_bool(), plan["command"].as_str()),
        (Some(true), Some("backup")),
        "{plan:#}"
    );
    assert_eq!(plan["database"], env.db.name());
    assert_documented("plan-backup", &plan);

    let source = env.ctx.home().join("uploads");
    std::fs::create_dir_all(&source).expect("mkdir");
    std::fs::write(source.join("a.txt"), b"a").expect("write");
    let output = env.run(&[
        "--format",
        "json",
        "--dry-run",
        "backup",
        "files",
        "--source",
        path_str(&source),
    ]);
    assert_exit(&output, 0);
    let plan = json_stdout(&output);
    assert_eq!(plan["command"], "backup files", "{plan:#}");
    assert_documented("plan-backup-files", &plan);

    let target = format!("{}__copy_plan", env.db.name());
    let output = env.run(&[
        "--format",
        "json",
        "--dry-run",
        "restore",
        "--to",
        &target,
        "--no-tablespaces",
    ]);
    assert_exit(&output, 0);
    let plan = json_stdout(&output);
    assert_eq!(
        (plan["command"].as_str(), plan["target"].as_str()),
        (Some("restore"), Some(target.as_str()))
    );
    assert_eq!(plan["no_tablespaces"], true, "{plan:#}");
    assert_documented("plan-restore", &plan);

    let output = env.run(&[
        "--format",
        "json",
        "--dry-run",
        "test-restore",
        "--junit",
        "/tmp/never-written.xml",
    ]);
    assert_exit(&output, 0);
    let plan = json_stdout(&output);
    assert_eq!(plan["command"], "test-restore", "{plan:#}");
    assert!(
        plan["steps"].as_array().is_some_and(|steps| !steps.is_empty()),
        "{plan:#}"
    );
    // The plan's keys are documented; the example also shows a SQL check, which this run has none of.
    let mut with_check = plan.clone();
    with_check["sql_checks"] = serde_json::json!([{ "name": "n", "sql": "SELECT 1", "expect": 1 }]);
    assert_documented("plan-test-restore", &with_check);

    // The text view keeps its plan on stderr and stdout empty; nothing was made.
    let output = env.run(&["--dry-run", "restore", "--to", &target]);
    assert_exit(&output, 0);
    assert!(output.stdout.is_empty(), "{}", String::from_utf8_lossy(&output.stdout));
    assert!(stderr(&output).contains("Dry run"), "{}", stderr(&output));
    assert_eq!(
        std::fs::read_dir(env.local.join(env.db.name())).expect("read").count(),
        before
    );
    assert!(!Path::new("/tmp/never-written.xml").exists());
}

// Item 14: the JSON of the backup commands, CSV, messages, control bytes.

#[test]
fn item_14_backup_json_matches_the_docs_and_csv_has_the_full_sha256() {
    let env = BackupEnv::local();
    env.seed_small_table();
    let backup = env.backup(&[]);
    let mut with_failure = backup.clone();
    with_failure["failed_stores"] = serde_json::json!(["azure:x"]);
    with_failure["failures"] = serde_json::json!([{ "store": "azure:x", "error": "e" }]);
    assert_documented("backup", &with_failure);

    let source = env.ctx.home().join("uploads");
    std::fs::create_dir_all(&source).expect("mkdir");
    std::fs::write(source.join("a.txt"), b"a").expect("write");
    let output = env.run(&["--format", "json", "backup", "files", "--source", path_str(&source)]);
    assert_exit(&output, 0);
    let mut files = json_stdout(&output);
    // The example also shows what this run has none of: left-out, changed, vanished and special files.
    files["skipped"] = serde_json::json!(["x"]);
    files["skipped_special"] = serde_json::json!([{ "path": "p", "kind": "fifo" }]);
    assert_documented("backup-files", &files);

    // An archive without its manifest is listed as `incomplete`, with the documented keys.
    let orphan = env
        .local
        .join(env.db.name())
        .join(format!("{}_20200101_000000.dump", env.db.name()));
    std::fs::write(&orphan, b"PGDMP").expect("write");
    let output = env.run(&["--format", "json", "backup", "list"]);
    assert_exit(&output, 0);
    let list = json_stdout(&output);
    let incomplete = list["backups"]
        .as_array()
        .expect("backups")
        .iter()
        .find(|entry| entry["kind"] == "incomplete")
        .unwrap_or_else(|| panic!("no incomplete entry: {list:#}"));
    for key in ["duration_seconds", "compression", "sha256", "verified", "database"] {
        assert!(incomplete[key].is_null(), "{key}: {incomplete:#}");
    }
    assert_documented("backup-list", &list);

    // CSV holds the whole SHA-256.
    let output = env.run(&["--format", "csv", "backup", "list"]);
    assert_exit(&output, 0);
    let csv = String::from_utf8_lossy(&output.stdout).into_owned();
    let sha256 = backup["sha256"].as_str().expect("sha256");
    assert_eq!(sha256.len(), 64);
    assert!(csv.contains(sha256), "{csv}");

    // `--limit 0` is refused, not answered with "No backups found".
    let output = env.run(&["backup", "list", "--limit", "0"]);
    assert_exit(&output, 2);
    assert!(
        stderr(&output).contains("`--limit` must be at least 1"),
        "{}",
        stderr(&output)
    );
    assert!(!String::from_utf8_lossy(&output.stdout).contains("No backups"));
}

#[test]
fn item_14_snapshot_json_is_objects_and_a_missing_container_is_the_one_asked_for() {
    let env = BackupEnv::with_azure();
    let configured = env.container.clone().expect("a container");
    let uploads = unique_container();
    azurite().create_container(&uploads);
    azurite().put_blob(&uploads, "a.png", b"a");
    let output = env.run(&["--format", "json", "backup", "snapshot", "--container", &uploads]);
    assert_exit(&output, 0);
    let mut report = json_stdout(&output);
    let snapshot = &report["snapshots"][0];
    assert_eq!(snapshot["blob"], "a.png", "{report:#}");
    assert!(
        snapshot["snapshot"].as_str().is_some_and(|s| !s.is_empty()),
        "{report:#}"
    );
    report["failed"] = serde_json::json!([{ "blob": "b", "error": "e" }]);
    assert_documented("backup-snapshot", &report);

    let missing = unique_container();
    let output = env.run(&["backup", "snapshot", "--container", &missing]);
    assert_ne!(output.status.code(), Some(0));
    let text = stderr(&output);
    assert!(text.contains(&missing), "names the container asked for: {text}");
    assert!(
        !text.contains(&configured),
        "never the configured container `{configured}`: {text}"
    );
}

#[test]
fn item_14_control_bytes_from_the_database_are_escaped_in_test_restore_tables() {
    let env = Env::local();
    env.ctx.write_file(
        "campctl.toml",
        store_config(
            &env.db.url(),
            &env.local,
            None,
            "[[test_restore.checks]]\nname = \"colours\"\nsql = \"SELECT E'\\\\x1b[31mred\\\\x07\\\\x0d\\\\u009b2J'\"\n\
             expect = \"plain\"\n",
        ),
    );
    backed_up(&env);
    let output = env.run(&["test-restore", "--no-record"]);
    assert_exit(&output, 1);
    let table = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(table.contains("sql colours"), "{table}");
    assert!(
        !table.chars().any(|c| c.is_control() && c != '\n'),
        "no control character reaches the terminal: {table:?}"
    );
    assert!(
        table.contains("\\x1b[31mred\\x07"),
        "the value is shown escaped: {table}"
    );
    // JSON keeps the value itself.
    let output = env.run(&["--format", "json", "test-restore", "--no-record"]);
    assert_exit(&output, 1);
    let report = json_stdout(&output);
    let detail = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|check| check["name"] == "sql colours")
        .expect("the check")["detail"]
        .as_str()
        .expect("detail")
        .to_string();
    assert!(detail.contains("\u{1b}[31mred\u{7}"), "{detail:?}");
}
