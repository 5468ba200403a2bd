//! Issue 12, `campctl cleanup --backups` against a real local store and Azurite: one real backup made by campctl,
//! then a history of older backups made from it (its archive under other names, its manifest with an earlier
//! `started_at`), so that the retention engine has a month and more to judge. The plan deletes exactly the objects
//! it names; `--dry-run` changes nothing; a backup's lock makes it exit 11; a run killed between deletes leaves no
//! manifest without its archive, and the next run finishes.

mod catalog_metadata;
mod restore_lock;
mod snapshots;
mod uncommitted;

use std::collections::BTreeSet;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::backup::{BackupEnv, store_config};
use crate::common::{assert_exit, azurite};
use crate::hardening::backup::{kill_backup, signal, start_hanging_backup};

/// One backup of the history: its archive and manifest object names (relative to the store).
struct Made {
    archive: String,
    manifest: String,
}

/// Makes one real backup and `days` older copies of it (1..=days days earlier), in every store of `env`. Returns
/// every backup, newest first.
fn history(env: &BackupEnv, days: i64) -> Vec<Made> {
    env.seed_small_table();
    let report = env.backup(&[]);
    let db = env.db.name().to_string();
    let object = report["object"].as_str().expect("object").to_string();
    let manifest_name = object.replace(&format!(".dump{}", suffix(&object)), ".manifest.json");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.local.join(&manifest_name)).expect("manifest")).expect("JSON");
    let archive = std::fs::read(env.local.join(&object)).expect("archive");
    let started: DateTime<Utc> = manifest["started_at"]
        .as_str()
        .expect("time")
        .parse()
        .expect("RFC 3339");
    let mut made = vec![Made {
        archive: object.clone(),
        manifest: manifest_name,
    }];
    for day in 1..=days {
        let time = started - chrono::Duration::days(day);
        let base = format!("{db}_{}", time.format("%Y%m%d_%H%M%S"));
        let archive_name = format!("{db}/{base}.dump{}", suffix(&object));
        let manifest_name = format!("{db}/{base}.manifest.json");
        let mut copy = manifest.clone();
        copy["name"] = base.clone().into();
        copy["object"] = archive_name.clone().into();
        copy["started_at"] = time.to_rfc3339().into();
        copy["finished_at"] = time.to_rfc3339().into();
        let manifest_bytes = serde_json::to_vec_pretty(&copy).expect("JSON");
        std::fs::write(env.local.join(&archive_name), &archive).expect("write archive");
        std::fs::write(env.local.join(&manifest_name), &manifest_bytes).expect("write manifest");
        if let Some(container) = &env.container {
            azurite().put_blob(container, &format!("pg/{archive_name}"), &archive);
            azurite().put_blob(container, &format!("pg/{manifest_name}"), &manifest_bytes);
        }
        made.push(Made {
            archive: archive_name,
            manifest: manifest_name,
        });
    }
    made
}

/// The compression suffix after `.dump` (`.zst`, `.gz` or none).
fn suffix(object: &str) -> String {
    object
        .rsplit_once(".dump")
        .map(|(_, rest)| rest.to_string())
        .unwrap_or_default()
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "not JSON ({err}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The objects the plan deletes in the store labelled `store`.
fn planned(plan: &serde_json::Value, store: &str) -> BTreeSet<String> {
    plan["backups"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|row| row["action"] == "delete" && row["store"].as_str().is_some_and(|s| s.starts_with(store)))
        .flat_map(|row| row["objects"].as_array().expect("objects").clone())
        .map(|o| o.as_str().expect("name").to_string())
        .collect()
}

fn azure_objects(env: &BackupEnv) -> BTreeSet<String> {
    let container = env.container.as_deref().expect("azure");
    azurite()
        .list_blobs(container)
        .into_iter()
        .filter_map(|b| b.strip_prefix("pg/").map(str::to_string))
        .filter(|b| !b.starts_with("locks/"))
        .collect()
}

#[test]
fn cleanup_deletes_exactly_the_planned_objects_in_both_stores_and_dry_run_changes_nothing() {
    let env = BackupEnv::with_azure();
    let made = history(&env, 40);
    let local_before: BTreeSet<String> = env.local_backup_files().into_iter().collect();
    let azure_before = azure_objects(&env);
    assert_eq!(local_before.len(), 82, "{local_before:?}");
    assert_eq!(azure_before, local_before);

    let dry = env.run(&["--format", "json", "--dry-run", "cleanup", "--backups"]);
    assert_exit(&dry, 0);
    let plan = json(&dry);
    assert_eq!(plan["dry_run"], true);
    let local_plan = planned(&plan, "local");
    let azure_plan = planned(&plan, "azure");
    // Defaults: 30 days before the newest backup. Days 30..=40 go (day 30 is exactly at the cutoff: restic keeps
    // only what is strictly newer), manifest first.
    let expected: BTreeSet<String> = made[30..]
        .iter()
        .flat_map(|m| [m.manifest.clone(), m.archive.clone()])
        .collect();
    assert_eq!(local_plan, expected);
    assert_eq!(azure_plan, expected);
    let first = plan["backups"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|row| row["action"] == "delete")
        .expect("a delete");
    assert_eq!(
        first["objects"][0].as_str().map(|o| o.ends_with(".manifest.json")),
        Some(true),
        "manifest first: {first}"
    );
    assert!(
        first["reason"]
            .as_str()
            .expect("reason")
            .starts_with("delete: older than 30d"),
        "{first}"
    );
    assert_eq!(plan["stores"][0]["deleted"], 11, "{}", plan["stores"]);
    assert_eq!(plan["stores"][0]["kept"], 30, "{}", plan["stores"]);
    // The dry run changed nothing.
    assert_eq!(
        env.local_backup_files().into_iter().collect::<BTreeSet<_>>(),
        local_before
    );
    assert_eq!(azure_objects(&env), azure_before);

    let run = env.run(&["--format", "json", "cleanup"]);
    assert_exit(&run, 0);
    let report = json(&run);
    assert_eq!(report["dry_run"], false);
    let local_after: BTreeSet<String> = env.local_backup_files().into_iter().collect();
    assert_eq!(local_after, local_before.difference(&expected).cloned().collect());
    assert_eq!(
        azure_objects(&env),
        azure_before.difference(&expected).cloned().collect()
    );

    // Idempotent: a second run plans nothing more.
    let again = env.run(&["--format", "json", "--dry-run", "cleanup"]);
    assert_exit(&again, 0);
    assert!(planned(&json(&again), "").is_empty());
}

#[test]
fn cleanup_needs_yes_past_max_delete_fraction_and_keeps_min_keep() {
    let env = BackupEnv::local();
    history(&env, 20);
    let before = env.local_backup_files();
    env.ctx.write_file(
        "campctl.toml",
        store_config(
            &env.db.url(),
            &env.local,
            None,
            "[retention]\nkeep_within = \"0\"\nmin_keep = 3\n",
        ),
    );
    let refused = env.run(&["cleanup"]);
    assert_exit(&refused, 2);
    let text = String::from_utf8_lossy(&refused.stderr);
    assert!(text.contains("max_delete_fraction") && text.contains("--yes"), "{text}");
    assert_eq!(env.local_backup_files(), before, "refused: nothing deleted");

    assert_exit(&env.run(&["--yes", "cleanup"]), 0);
    assert_eq!(
        env.local_backup_files().len(),
        6,
        "the newest 3 stay: {:?}",
        env.local_backup_files()
    );
}

#[test]
fn cleanup_exits_11_while_a_backup_holds_the_lock() {
    let env = BackupEnv::local();
    history(&env, 40);
    let before = env.local_backup_files();
    let (child, pidfile) = start_hanging_backup(&env);
    let held = env.run(&["cleanup"]);
    assert_exit(&held, 11);
    let text = String::from_utf8_lossy(&held.stderr);
    assert!(
        text.contains(&format!("backup-{}", env.db.name())) || text.contains("held"),
        "{text}"
    );
    kill_backup(child, &pidfile);
    let after: Vec<String> = env
        .local_backup_files()
        .into_iter()
        .filter(|f| !f.ends_with(".partial"))
        .collect();
    assert_eq!(after, before, "nothing deleted while the lock was held");
}

#[test]
fn a_cleanup_killed_between_deletes_leaves_no_manifest_without_its_archive_and_the_next_run_finishes() {
    // Azurite only: each delete is a request, so a large plan takes long enough to be killed in the middle.
    let env = BackupEnv::with_azure();
    let made = history(&env, 300);
    let container = env.container.clone().expect("azure");
    env.ctx.write_file(
        "campctl.toml",
        format!(
            "[database]\nurl = \"{}\"\n\n[storage.azure]\nconnection_string = \"{}\"\ncontainer = \"{container}\"\n\
             prefix = \"pg/\"\n\n[retention]\nkeep_within = \"10d\"\n\n[cleanup]\nincomplete_grace = \"1s\"\n",
            env.db.url(),
            azurite().connection_string()
        ),
    );
    let before = azure_objects(&env);
    let mut child = env
        .ctx
        .std_cmd()
        .args(["--yes", "cleanup"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn campctl");
    // Every state the store goes through has no manifest without its archive: the run is watched for a number of
    // listings while it deletes (each lands at a random point between two deletes), then killed.
    let no_manifest_points_at_nothing = |objects: &BTreeSet<String>| {
        for made in &made {
            if objects.contains(&made.manifest) {
                assert!(objects.contains(&made.archive), "`{}` points at nothing", made.manifest);
            }
        }
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut watched = 0;
    while watched < 20 {
        assert!(Instant::now() < deadline, "no delete was observed");
        let objects = azure_objects(&env);
        if objects.len() < before.len() {
            no_manifest_points_at_nothing(&objects);
            watched += 1;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    signal(&child, libc::SIGKILL);
    child.wait().expect("wait");
    let middle = azure_objects(&env);
    let expected: BTreeSet<String> = made[..10]
        .iter()
        .flat_map(|m| [m.manifest.clone(), m.archive.clone()])
        .collect();
    assert!(
        middle.len() > expected.len(),
        "the run was killed in the middle, not after it finished: {} left",
        middle.len()
    );
    no_manifest_points_at_nothing(&middle);
    // The killed run's lease is stale (same host, process gone): the next run takes it over and finishes; the
    // archive whose manifest went first is an `incomplete` upload older than the grace (1s here, 1d by default).
    std::thread::sleep(Duration::from_millis(1100));
    let next = env.run(&["--yes", "cleanup"]);
    assert_exit(&next, 0);
    assert_eq!(azure_objects(&env), expected);
}

#[test]
fn backup_prune_applies_retention_after_a_successful_backup_and_a_failed_prune_keeps_the_backup() {
    let env = BackupEnv::local();
    let made = history(&env, 40);
    let before: BTreeSet<String> = env.local_backup_files().into_iter().collect();
    let run = env.run(&["backup", "--prune"]);
    assert_exit(&run, 0);
    let after: BTreeSet<String> = env.local_backup_files().into_iter().collect();
    let gone: BTreeSet<String> = before.difference(&after).cloned().collect();
    let expected: BTreeSet<String> = made[30..]
        .iter()
        .flat_map(|m| [m.manifest.clone(), m.archive.clone()])
        .collect();
    assert_eq!(gone, expected);
    assert_eq!(
        after.difference(&before).count(),
        2,
        "the new backup's archive and manifest"
    );
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("older than 30d"),
        "the plan is printed: {}",
        String::from_utf8_lossy(&run.stdout)
    );

    // With `--format json` the prune's report is part of the backup's: one JSON document on stdout.
    let json = env.run(&["--format", "json", "backup", "--prune"]);
    assert_exit(&json, 0);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("one JSON document on stdout");
    assert_eq!(report["database"], env.db.name(), "{report}");
    assert_eq!(report["prune"]["dry_run"], false, "{report}");
    assert!(
        report["prune"]["backups"]
            .as_array()
            .is_some_and(|rows| !rows.is_empty()),
        "{report}"
    );

    // A prune the guard refuses (it would delete all but one, without --yes): exit 3, the new backup stays.
    env.ctx.write_file(
        "campctl.toml",
        store_config(
            &env.db.url(),
            &env.local,
            None,
            "[retention]\nkeep_within = \"0\"\nmin_keep = 1\n",
        ),
    );
    let before: BTreeSet<String> = env.local_backup_files().into_iter().collect();
    let refused = env.run(&["backup", "--prune"]);
    assert_exit(&refused, 3);
    let text = String::from_utf8_lossy(&refused.stderr);
    assert!(
        text.contains("pruning") && text.contains("max_delete_fraction"),
        "{text}"
    );
    let after: BTreeSet<String> = env.local_backup_files().into_iter().collect();
    assert!(before.is_subset(&after), "nothing deleted");
    assert_eq!(after.len(), before.len() + 2, "the new backup stays");
}

/// Sets a file's modification time `days` days back (`touch -h`: a link itself, never what it points at).
fn age(path: &std::path::Path, days: u32) {
    let status = std::process::Command::new("touch")
        .args(["-h", "-d", &format!("{days} days ago")])
        .arg(path)
        .status()
        .expect("touch");
    assert!(status.success());
}

#[test]
fn cleanup_logs_removes_old_matching_files_and_rotated_copies_and_never_follows_a_symlink_out() {
    let env = BackupEnv::local();
    let root = env.ctx.home().join("logs");
    let outside = env.ctx.home().join("outside");
    std::fs::create_dir_all(root.join("app")).expect("mkdir");
    std::fs::create_dir_all(&outside).expect("mkdir");
    let files = [
        ("app/app.log.1", 40, true),
        ("app/app.log.2.gz", 60, true),
        ("app/app.log", 2, false),
        ("app/notes.txt", 90, false),
        ("worker.log-20261001.gz", 45, true),
    ];
    for (name, days, _) in files {
        std::fs::write(root.join(name), b"line\n").expect("write");
        age(&root.join(name), days);
    }
    std::fs::write(outside.join("secret.log"), b"x").expect("write");
    age(&outside.join("secret.log"), 100);
    std::os::unix::fs::symlink(&outside, root.join("linked-dir")).expect("symlink");
    std::os::unix::fs::symlink(outside.join("secret.log"), root.join("linked.log")).expect("symlink");
    age(&root.join("linked.log"), 100);
    env.ctx.write_file(
        "campctl.toml",
        store_config(
            &env.db.url(),
            &env.local,
            None,
            &format!(
                "[cleanup.logs]\nroots = [\"{}\"]\nglobs = [\"*.log\"]\n",
                root.display()
            ),
        ),
    );

    let dry = env.run(&["--format", "json", "--dry-run", "cleanup", "--logs"]);
    assert_exit(&dry, 0);
    let plan = json(&dry);
    let planned: BTreeSet<String> = plan["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .map(|row| row["path"].as_str().expect("path").to_string())
        .collect();
    let expected: BTreeSet<String> = files
        .iter()
        .filter(|(_, _, goes)| *goes)
        .map(|(name, _, _)| root.join(name).display().to_string())
        .collect();
    assert_eq!(planned, expected);
    assert!(plan.get("backups").is_none(), "--logs alone: {plan}");
    assert!(
        files.iter().all(|(name, _, _)| root.join(name).exists()),
        "the dry run deleted"
    );

    assert_exit(&env.run(&["cleanup", "--logs"]), 0);
    for (name, _, goes) in files {
        assert_eq!(root.join(name).exists(), !goes, "{name}");
    }
    assert!(
        outside.join("secret.log").exists(),
        "a symlink was followed out of the root"
    );
    assert!(
        root.join("linked.log").symlink_metadata().is_ok(),
        "the link itself stays"
    );

    // Without `[cleanup.logs]`, `--logs` is refused.
    env.ctx
        .write_file("campctl.toml", store_config(&env.db.url(), &env.local, None, ""));
    assert_exit(&env.run(&["cleanup", "--logs"]), 2);
}

/// Runs `campctl --format json cleanup --docker` with `bin` first on PATH (a stand-in `docker`, or none).
fn docker_run(env: &BackupEnv, bin: &std::path::Path, dry_run: bool) -> (Output, serde_json::Value) {
    let mut args = vec!["--format", "json"];
    if dry_run {
        args.push("--dry-run");
    }
    args.extend(["cleanup", "--docker"]);
    let output = env
        .ctx
        .cmd()
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .args(&args)
        .output()
        .expect("run campctl");
    let report = json(&output);
    (output, report)
}

#[test]
fn cleanup_docker_is_skipped_without_a_daemon_and_prunes_when_one_answers() {
    use std::os::unix::fs::PermissionsExt as _;
    let env = BackupEnv::local();
    let bin = env.ctx.home().join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let calls = env.ctx.home().join("docker-calls");
    let stand_in = |script: &str| {
        let path = bin.join("docker");
        std::fs::write(&path, script).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    };

    // No docker on PATH at all: PATH is the empty `bin` alone.
    let output = env
        .ctx
        .cmd()
        .env("PATH", &bin)
        .args(["--format", "json", "cleanup", "--docker"])
        .output()
        .expect("run campctl");
    assert_exit(&output, 0);
    let report = json(&output);
    assert_eq!(report["docker"]["status"], "skipped", "{report}");
    assert!(
        report["docker"]["detail"]
            .as_str()
            .expect("detail")
            .contains("no `docker` on PATH"),
        "{report}"
    );
    assert!(report.get("backups").is_none(), "--docker alone: {report}");

    // A CLI whose daemon does not answer.
    stand_in("#!/bin/sh\necho \"Cannot connect to the Docker daemon at unix:///var/run/docker.sock\" >&2\nexit 1\n");
    let (output, report) = docker_run(&env, &bin, false);
    assert_exit(&output, 0);
    assert_eq!(report["docker"]["status"], "skipped", "{report}");
    assert!(
        report["docker"]["detail"]
            .as_str()
            .expect("detail")
            .contains("Cannot connect"),
        "{report}"
    );

    // A daemon that answers: the dry run prunes nothing, the run calls `docker image prune -a -f`.
    stand_in(&format!(
        "#!/bin/sh\necho \"$@\" >> {}\nif [ \"$1\" = image ]; then echo 'Total reclaimed space: 1.2GB'; else echo 27.0.1; fi\n",
        calls.display()
    ));
    let (output, report) = docker_run(&env, &bin, true);
    assert_exit(&output, 0);
    assert_eq!(report["docker"]["status"], "planned", "{report}");
    assert!(!std::fs::read_to_string(&calls).expect("calls").contains("prune"));
    let (output, report) = docker_run(&env, &bin, false);
    assert_exit(&output, 0);
    assert_eq!(report["docker"]["status"], "pruned", "{report}");
    assert_eq!(report["docker"]["detail"], "Total reclaimed space: 1.2GB", "{report}");
    assert!(
        std::fs::read_to_string(&calls)
            .expect("calls")
            .contains("image prune -a -f")
    );
}

#[test]
fn cleanup_databases_drops_old_leftovers_and_keeps_young_ones_and_one_with_an_open_session() {
    let env = BackupEnv::local();
    let pg = crate::common::postgres::pg();
    let db = env.db.name().to_string();
    let young = chrono::Utc::now().format("%Y%m%d_%H%M%S");
    let old = format!("{db}__pre_restore_20200101_000000");
    let busy = format!("{db}__test_restore_20200101_000000_42");
    let fresh = format!("{db}__restore_{young}");
    for name in [&old, &busy, &fresh] {
        pg.execute("postgres", &format!("CREATE DATABASE \"{name}\""));
    }
    let session = pg.client(&busy);
    let exists = |name: &str| {
        pg.client("postgres")
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
            .expect("query")
            .is_some()
    };
    let mine = |report: &serde_json::Value| -> Vec<(String, String)> {
        report["databases"]
            .as_array()
            .expect("databases")
            .iter()
            .filter(|row| row["target"] == db.as_str())
            .map(|row| {
                (
                    row["name"].as_str().expect("name").to_string(),
                    row["action"].as_str().expect("action").to_string(),
                )
            })
            .collect()
    };

    let dry = env.run(&["--format", "json", "--dry-run", "cleanup", "--databases"]);
    assert_exit(&dry, 0);
    let plan = json(&dry);
    let mut planned = mine(&plan);
    planned.sort();
    let mut expected = vec![
        (old.clone(), "drop".to_string()),
        (busy.clone(), "keep".to_string()),
        (fresh.clone(), "keep".to_string()),
    ];
    expected.sort();
    assert_eq!(planned, expected, "{plan}");
    assert!(exists(&old), "the dry run dropped");

    let run = env.run(&["--format", "json", "cleanup", "--databases"]);
    assert_exit(&run, 0);
    assert!(!exists(&old), "the old leftover is dropped");
    assert!(exists(&busy), "one with an open session stays");
    assert!(exists(&fresh), "a young one stays");
    let report = json(&run);
    let busy_row = report["databases"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|row| row["name"] == busy.as_str())
        .expect("the busy row");
    assert_eq!(busy_row["reason"], "kept: 1 open sessions", "{busy_row}");

    drop(session);
    for name in [&busy, &fresh] {
        pg.execute("postgres", &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
    }
}

#[test]
fn cleanup_vacuum_runs_the_vacuum_commands_code_with_its_report() {
    let env = BackupEnv::local();
    env.seed_small_table();
    env.db.execute("DELETE FROM t WHERE g % 2 = 0");
    let dry = env.run(&["--format", "json", "--dry-run", "cleanup", "--vacuum"]);
    assert_exit(&dry, 0);
    let plan = json(&dry);
    assert_eq!(plan["vacuum"]["dry_run"], true, "{plan}");
    assert!(plan.get("backups").is_none(), "--vacuum alone: {plan}");

    let run = env.run(&["--format", "json", "cleanup", "--vacuum"]);
    assert_exit(&run, 0);
    let report = json(&run);
    let vacuum = &report["vacuum"];
    assert_eq!(vacuum["mode"], "vacuum analyze", "{report}");
    assert!(vacuum["tables"].as_array().is_some_and(|t| !t.is_empty()), "{report}");
    assert!(
        vacuum["dead_tuples_before"].as_i64().expect("before") >= 500
            && vacuum["dead_tuples_after"].as_i64().expect("after") < 500,
        "{vacuum}"
    );
}
