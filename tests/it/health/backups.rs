//! `backup-age` and `verify-age` from catalogs written by real backups (`campctl backup` to a local store and to
//! Azurite) and a real `test-restore`, with the manifests' recorded times moved into the past (the manifest JSON
//! edited in the store, the blob uploaded again) to reach OK, WARNING and CRITICAL; runbook archives count, archives
//! without a manifest do not; an empty store is CRITICAL and a store that cannot be read is UNKNOWN.

use std::path::{Path, PathBuf};

use chrono::{Duration, Utc};
use serde_json::Value;

use super::{HealthEnv, results};
use crate::backup::store_config;
use crate::common::{TestContext, TestDb, assert_exit, azurite, pg, unique_container};

/// The Azure store of a sandbox.
enum Azure {
    None,
    /// Azurite, with its own connection string.
    Azurite,
    /// A container in Azurite reached through this connection string (another port, another key).
    Through(String),
}

/// A sandbox with a database, a local store and optionally an Azurite container (prefix `pg/`).
struct BackupHealth {
    env: HealthEnv,
    db: TestDb,
    local: PathBuf,
    container: Option<String>,
}

impl BackupHealth {
    /// `health` is appended to `[health]` (its keys first, then tables).
    fn new(health: &str, azure: &Azure) -> Self {
        let ctx = TestContext::new();
        let db = ctx.db();
        db.execute("CREATE TABLE t AS SELECT g FROM generate_series(1, 100) g");
        let local = ctx.home().join("backups");
        let container = (!matches!(azure, Azure::None)).then(|| {
            let container = unique_container();
            azurite().create_container(&container);
            container
        });
        let mut stores = store_config(&db.url(), &local, container.as_deref(), "");
        if let Azure::Through(connection_string) = azure {
            stores = stores.replace(&azurite().connection_string(), connection_string);
        }
        let state = ctx.home().join("state/health.json");
        let config = ctx.write_file(
            "campctl.toml",
            format!("[health]\nstate_file = \"{}\"\n{health}\n\n{stores}", state.display()),
        );
        Self {
            env: HealthEnv { ctx, config },
            db,
            local,
            container,
        }
    }

    /// A real `campctl backup` of the test database to every configured store; returns the backup's name.
    fn backup(&self) -> String {
        let output = self.env.run(&["--format", "json", "backup"]);
        assert_exit(&output, 0);
        let report: Value = serde_json::from_slice(&output.stdout).expect("backup report");
        report["name"].as_str().expect("backup name").to_string()
    }

    /// The manifest of `name` in the local store.
    fn local_manifest(&self, name: &str) -> PathBuf {
        self.local.join(self.db.name()).join(format!("{name}.manifest.json"))
    }

    /// Moves the recorded times of backup `name` to `by` before now, in every store (a test-restore record is left
    /// as it is: `verify-age` measures the backup's own time).
    fn age_backup(&self, name: &str, by: Duration) {
        let started = Utc::now() - by;
        let edit = |bytes: &[u8]| {
            let mut manifest: Value = serde_json::from_slice(bytes).expect("manifest JSON");
            manifest["started_at"] = started.to_rfc3339().into();
            manifest["finished_at"] = (started + Duration::seconds(1)).to_rfc3339().into();
            serde_json::to_vec_pretty(&manifest).expect("JSON")
        };
        let path = self.local_manifest(name);
        let bytes = std::fs::read(&path).expect("local manifest");
        std::fs::write(&path, edit(&bytes)).expect("rewrite the local manifest");
        if let Some(container) = &self.container {
            let blob = format!("pg/{}/{name}.manifest.json", self.db.name());
            let bytes = azurite().get_blob(container, &blob);
            azurite().put_blob(container, &blob, &edit(&bytes));
        }
    }

    /// `campctl --format json health --check CHECK`: the report, after asserting the exit code.
    fn check(&self, check: &str, code: i32) -> Value {
        let (report, output) = self.env.json(&["--check", check]);
        assert_exit(&output, code);
        report
    }
}

/// `(target, status)` of every result of `check`.
fn statuses(report: &Value, check: &str) -> Vec<(String, String)> {
    results(report, check)
        .iter()
        .map(|result| {
            (
                result["target"].as_str().expect("target").to_string(),
                result["status"].as_str().expect("status").to_string(),
            )
        })
        .collect()
}

fn message<'a>(report: &'a Value, check: &str, target: &str) -> &'a str {
    results(report, check)
        .into_iter()
        .find(|result| result["target"] == target)
        .unwrap_or_else(|| panic!("no `{check}` result for {target} in {report:#}"))["message"]
        .as_str()
        .expect("message")
}

#[test]
fn backup_age_follows_the_manifests_recorded_time_in_the_local_store_and_in_azure() {
    let t = BackupHealth::new("", &Azure::Azurite);
    let db = t.db.name().to_string();
    let name = t.backup();
    let both = |status: &str| {
        vec![
            (format!("{db}@local"), status.to_string()),
            (format!("{db}@azure"), status.to_string()),
        ]
    };

    let report = t.check("backup-age", 0);
    assert_eq!(statuses(&report, "backup-age"), both("OK"), "{report:#}");
    let fresh = results(&report, "backup-age")[0];
    assert!(
        fresh["value"].as_f64().is_some_and(|age| (0.0..600.0).contains(&age)),
        "{fresh:#}"
    );
    assert_eq!(fresh["warning"], 26.0 * 3600.0, "{fresh:#}");
    assert_eq!(fresh["critical"], 50.0 * 3600.0, "{fresh:#}");
    assert!(
        message(&report, "backup-age", &format!("{db}@azure")).contains(&name),
        "{report:#}"
    );

    // A daily backup missed once, then twice.
    for (hours, status, code) in [(30, "WARNING", 1), (60, "CRITICAL", 2)] {
        t.age_backup(&name, Duration::hours(hours));
        let report = t.check("backup-age", code);
        assert_eq!(statuses(&report, "backup-age"), both(status), "{hours} h: {report:#}");
        let age = results(&report, "backup-age")[1]["value"].as_f64().expect("age");
        #[expect(clippy::cast_precision_loss)]
        let expected = (hours * 3600) as f64;
        assert!((age - expected).abs() < 600.0, "{hours} h measured as {age} s");
    }

    // A newer backup is the newest: OK again, in both stores.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    t.backup();
    let report = t.check("backup-age", 0);
    assert_eq!(statuses(&report, "backup-age"), both("OK"), "{report:#}");
}

#[test]
fn a_runbook_archive_counts_an_incomplete_one_does_not_and_an_empty_store_is_critical() {
    let t = BackupHealth::new(
        "[health.backup_age]\ndatabases = [\"__DB__\", \"nothing_here\"]\n",
        &Azure::None,
    );
    // The database list names the test database and one that was never backed up.
    let config = std::fs::read_to_string(&t.env.config).expect("config");
    std::fs::write(&t.env.config, config.replace("__DB__", t.db.name())).expect("config");
    let db = t.db.name().to_string();
    let target = format!("{db}@local");

    // Nothing at all: CRITICAL for both databases.
    let report = t.check("backup-age", 2);
    assert_eq!(
        statuses(&report, "backup-age"),
        [
            (target.clone(), "CRITICAL".to_string()),
            ("nothing_here@local".to_string(), "CRITICAL".to_string())
        ],
        "{report:#}"
    );
    assert!(
        message(&report, "backup-age", &target).contains("no complete backup in local:"),
        "{report:#}"
    );

    // A real backup whose manifest is gone is an incomplete archive: still CRITICAL, and the message says why.
    let name = t.backup();
    std::fs::remove_file(t.local_manifest(&name)).expect("remove the manifest");
    let report = t.check("backup-age", 2);
    assert_eq!(statuses(&report, "backup-age")[0].1, "CRITICAL", "{report:#}");
    assert!(
        message(&report, "backup-age", &target).contains("incomplete"),
        "{report:#}"
    );

    // The runbook's archive of 30 hours ago (`<db>_<YYYYMMDD>_<HHMMSS>.sql.gz`, stamped in local time) counts.
    let stamp = (chrono::Local::now() - Duration::hours(30)).format("%Y%m%d_%H%M%S");
    let legacy = t.local.join(format!("{db}_{stamp}.sql.gz"));
    pg().run_tool("pg_dump", &db, &["--format=custom", "--file", path_str(&legacy)]);
    let report = t.check("backup-age", 2);
    assert_eq!(
        statuses(&report, "backup-age")[0],
        (target.clone(), "WARNING".to_string()),
        "{report:#}"
    );
    let text = message(&report, "backup-age", &target);
    assert!(text.contains("legacy") && text.contains(&stamp.to_string()), "{text}");
    assert_eq!(
        statuses(&report, "backup-age")[1],
        ("nothing_here@local".to_string(), "CRITICAL".to_string())
    );
}

#[test]
fn verify_age_follows_a_real_test_restore() {
    let t = BackupHealth::new("", &Azure::None);
    let target = format!("{}@local", t.db.name());
    let name = t.backup();

    // Backed up, never restored: CRITICAL, although the backup itself is fresh.
    let report = t.check("verify-age", 2);
    assert_eq!(
        statuses(&report, "verify-age"),
        [(target.clone(), "CRITICAL".to_string())]
    );
    assert!(
        message(&report, "verify-age", &target).contains("test-restore"),
        "{report:#}"
    );

    let output = t.env.run(&["test-restore"]);
    assert_exit(&output, 0);
    let report = t.check("verify-age,backup-age", 0);
    assert_eq!(statuses(&report, "verify-age"), [(target.clone(), "OK".to_string())]);
    let result = results(&report, "verify-age")[0];
    assert_eq!(result["warning"], 8.0 * 86_400.0, "{result:#}");
    assert_eq!(result["critical"], 15.0 * 86_400.0, "{result:#}");
    assert!(message(&report, "verify-age", &target).contains(&name), "{report:#}");

    // The weekly test-restore missed once (9 days), then twice (16 days); backup-age is critical too.
    for (days, status, code) in [(9, "WARNING", 2), (16, "CRITICAL", 2)] {
        t.age_backup(&name, Duration::days(days));
        let report = t.check("verify-age,backup-age", code);
        assert_eq!(
            statuses(&report, "verify-age"),
            [(target.clone(), status.to_string())],
            "{report:#}"
        );
        assert_eq!(
            statuses(&report, "backup-age"),
            [(target.clone(), "CRITICAL".to_string())]
        );
    }
    let report = t.check("verify-age", 2);
    assert_eq!(statuses(&report, "verify-age")[0].1, "CRITICAL");
}

#[test]
fn a_store_that_cannot_be_read_is_unknown_and_the_others_are_still_reported() {
    // A closed port: nothing listens where the Azure store is said to be.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let unreachable = azurite()
        .connection_string()
        .replace(&format!("127.0.0.1:{}", azurite().port()), &format!("127.0.0.1:{port}"));
    let t = BackupHealth::new("[health.backup_age]\ntimeout = \"10s\"\n", &Azure::Through(unreachable));
    let output = t.env.run(&["backup", "--store", "local"]);
    assert_exit(&output, 0);
    let db = t.db.name();
    let report = t.check("backup-age", 3);
    assert_eq!(
        statuses(&report, "backup-age"),
        [
            (format!("{db}@local"), "OK".to_string()),
            (format!("{db}@azure"), "UNKNOWN".to_string())
        ],
        "{report:#}"
    );
    let text = message(&report, "backup-age", &format!("{db}@azure"));
    assert!(
        text.contains("azure:http://127.0.0.1:") && text.contains(&port.to_string()),
        "{text}"
    );

    // A wrong account key against the real Azurite: UNKNOWN naming the store and the failed authentication.
    let key = azurite().key().to_string();
    let wrong = azurite().connection_string().replace(&key, &"A".repeat(key.len()));
    let t = BackupHealth::new("", &Azure::Through(wrong));
    let report = t.check("backup-age", 2);
    let text = message(&report, "backup-age", &format!("{}@azure", t.db.name()));
    assert_eq!(statuses(&report, "backup-age")[1].1, "UNKNOWN", "{report:#}");
    assert!(
        text.contains("azure:http://127.0.0.1:") && text.contains("Authentication"),
        "{text}"
    );
}

#[test]
fn backup_thresholds_come_from_the_file_and_are_checked() {
    let t = BackupHealth::new(
        "[health.backup_age]\nwarning = \"1m\"\ncritical = \"1h\"\n",
        &Azure::None,
    );
    let name = t.backup();
    // Moved 2 minutes back: past a warning of 1 minute, short of a critical of 1 hour.
    t.age_backup(&name, Duration::minutes(2));
    let report = t.check("backup-age", 1);
    assert_eq!(results(&report, "backup-age")[0]["warning"], 60.0, "{report:#}");

    let t = BackupHealth::new(
        "[health.verify_age]\nwarning = \"20d\"\ncritical = \"10d\"\n",
        &Azure::None,
    );
    let output = t.env.run(&["health", "--check", "verify-age"]);
    assert_exit(&output, 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`[health.verify_age]`") && stderr.contains("warning = 20d 00h is above critical = 10d 00h"),
        "{stderr}"
    );

    // `[backup] stores` names a store that is not configured: a backup check cannot run (exit 2, naming it), the
    // host checks still can.
    let t = BackupHealth::new("", &Azure::None);
    let config = std::fs::read_to_string(&t.env.config).expect("config");
    std::fs::write(&t.env.config, format!("{config}\n[backup]\nstores = [\"azure\"]\n")).expect("config");
    let output = t.env.run(&["health", "--check", "backup-age"]);
    assert_exit(&output, 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`backup-age`") && stderr.contains("Store `azure` is not configured"),
        "{stderr}"
    );
    let (_, output) = t.env.json(&["--check", "memory"]);
    assert!(output.status.code().is_some_and(|code| code <= 3), "{output:?}");
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}
