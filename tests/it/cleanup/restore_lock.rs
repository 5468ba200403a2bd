//! Issue 12, item 2: `restore` and `test-restore` hold the store lock of the series they read (`backup-DB`) until
//! the archive has been read, so `cleanup` never deletes a backup under a running restore. A restore is held
//! part-way by a stand-in pg_restore that waits for a `go` file before it reads: the archive (about 25 MB once
//! decompressed) is larger than everything between the store and pg_restore (queues and the pipe), so campctl's read
//! stops half-way and its lock stays held.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::{azure_objects, history, json, planned};
use crate::backup::{BackupEnv, stand_in_pg_dump};
use crate::common::{assert_exit, pg};
use crate::hardening::backup::{kill_backup, signal, start_hanging_backup};

/// A database table of about 25 MB (`repeat` compresses well, so the stored archive stays small).
fn seed_large_table(env: &BackupEnv) {
    env.db
        .execute("CREATE TABLE big AS SELECT g, repeat(md5(g::text), 40) AS v FROM generate_series(1, 20000) g");
}

/// A pg_restore that writes its pid to `<HOME>/restore.pid`, waits for `<HOME>/go` (at most a minute, so that a
/// failed test leaves nothing running), then runs the real one.
fn gated_pg_restore(env: &BackupEnv) -> PathBuf {
    let home = env.ctx.home();
    stand_in_pg_dump(
        &env.ctx,
        "gated_pg_restore",
        &format!(
            "[ \"$1\" = --version ] && exec {real} --version\necho $$ > {pid}.tmp && mv {pid}.tmp {pid}\n\
             for _ in $(seq 1200); do [ -e {go} ] && break; sleep 0.05; done\nexec {real} \"$@\"",
            real = pg().bin_dir().join("pg_restore").display(),
            pid = home.join("restore.pid").display(),
            go = home.join("go").display(),
        ),
    )
}

/// The name of the oldest backup of a history (what the default policy deletes first).
fn oldest(made: &[super::Made]) -> String {
    let archive = &made.last().expect("a history").archive;
    let file = archive.rsplit('/').next().expect("file");
    file.split(".dump").next().expect("base").to_string()
}

/// Starts `campctl <args>` with the gated pg_restore and returns once pg_restore waits (campctl's store lock is
/// taken before it starts pg_restore).
fn start_gated(env: &BackupEnv, args: &[&str]) -> Child {
    let script = gated_pg_restore(env);
    let _ = std::fs::remove_file(env.ctx.home().join("restore.pid"));
    let child = env
        .ctx
        .std_cmd()
        .args(args)
        .args(["--pg-restore", script.to_str().expect("path")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn campctl");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !env.ctx.home().join("restore.pid").exists() {
        assert!(Instant::now() < deadline, "the stand-in pg_restore never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

/// Ends the stand-in pg_restore of a campctl that was killed (it may be orphaned, still waiting for `go`).
fn end_stand_in(env: &BackupEnv) {
    if let Some(pid) = std::fs::read_to_string(env.ctx.home().join("restore.pid"))
        .ok()
        .and_then(|text| text.trim().parse::<i32>().ok())
    {
        // SAFETY: the stand-in is our grandchild; at worst the pid is gone.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

fn lock_file(env: &BackupEnv) -> PathBuf {
    env.local.join(format!("locks/backup-{}", env.db.name()))
}

fn holder_command(path: &Path) -> Option<String> {
    let holder: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    holder["command"].as_str().map(str::to_string)
}

fn finish(child: Child) -> std::process::Output {
    child.wait_with_output().expect("wait for campctl")
}

/// `cleanup` exits 11 naming the test-restore that reads the oldest backup and deletes nothing; once it has ended,
/// the same cleanup deletes that backup. `store` is `local` or `azure`.
fn cleanup_waits_for_a_test_restore(env: &BackupEnv, store: &str) {
    seed_large_table(env);
    let made = history(env, 32);
    let name = oldest(&made);
    let plan = env.run(&["--format", "json", "--dry-run", "cleanup", "--backups"]);
    assert_exit(&plan, 0);
    let doomed = planned(&json(&plan), store);
    assert!(
        doomed.iter().any(|o| o.contains(&name)),
        "the plan deletes `{name}`: {doomed:?}"
    );
    let objects = || -> Vec<String> {
        if store == "local" {
            env.local_backup_files()
        } else {
            azure_objects(env).into_iter().collect()
        }
    };
    let before = objects();

    // `--no-record`: a passed test would make it the newest verified backup, which cleanup always keeps.
    let child = start_gated(env, &["test-restore", &name, "--store", store, "--no-record"]);
    if store == "local" {
        assert_eq!(
            holder_command(&lock_file(env)).as_deref(),
            Some(format!("test-restore {name}").as_str()),
            "the read lock names the test-restore"
        );
    }
    let held = env.run(&["cleanup", "--backups"]);
    assert_exit(&held, 11);
    let text = String::from_utf8_lossy(&held.stderr);
    assert!(
        text.contains(&format!("backup-{}", env.db.name())) && text.contains(&format!("test-restore {name}")),
        "exit 11 names the lock and the test-restore: {text}"
    );
    assert_eq!(objects(), before, "nothing deleted while the restore reads");

    std::fs::write(env.ctx.home().join("go"), "").expect("go");
    let restored = finish(child);
    assert_exit(&restored, 0);
    assert!(!lock_file(env).exists(), "the read lock is released");

    let after = env.run(&["cleanup", "--backups"]);
    assert_exit(&after, 0);
    let files = objects();
    assert!(
        !files.iter().any(|f| f.contains(&name)),
        "the cleanup after the restore deletes `{name}`: {files:?}"
    );
    let remaining = env.run(&["--format", "json", "--dry-run", "cleanup", "--backups"]);
    assert_exit(&remaining, 0);
    assert!(
        planned(&json(&remaining), store).is_empty(),
        "nothing left to delete in {store}"
    );
}

#[test]
fn cleanup_exits_11_while_a_test_restore_reads_the_backup_in_the_local_store_and_deletes_it_after() {
    cleanup_waits_for_a_test_restore(&BackupEnv::local(), "local");
}

#[test]
fn cleanup_exits_11_while_a_test_restore_reads_the_backup_in_azure_and_deletes_it_after() {
    cleanup_waits_for_a_test_restore(&BackupEnv::with_azure(), "azure");
}

#[test]
fn a_restore_exits_11_under_a_backups_lock_and_waits_for_it_with_wait_lock() {
    let env = BackupEnv::local();
    env.seed_small_table();
    let report = env.backup(&[]);
    let name = report["name"].as_str().expect("name").to_string();
    let (backup, pidfile) = start_hanging_backup(&env);

    let refused = env.run(&["restore", &name, "--to", "copy_a"]);
    assert_exit(&refused, 11);
    let text = String::from_utf8_lossy(&refused.stderr);
    assert!(
        text.contains(&format!("backup-{}", env.db.name())) && text.contains("(`backup`)"),
        "exit 11 names the backup holding the lock: {text}"
    );
    let refused = env.run(&["test-restore", &name]);
    assert_exit(&refused, 11);
    // The same archive by its path in the store is locked too; a copy outside every store is not.
    let object = report["object"].as_str().expect("object");
    let in_store = env.local.join(object);
    let refused = env.run(&["restore", in_store.to_str().expect("path"), "--to", "copy_a"]);
    assert_exit(&refused, 11);
    let outside = env.ctx.home().join("elsewhere");
    std::fs::create_dir_all(&outside).expect("mkdir");
    let copy = outside.join(object.rsplit('/').next().expect("file"));
    std::fs::copy(&in_store, &copy).expect("copy");
    let free = env.run(&["restore", copy.to_str().expect("path"), "--to", "copy_outside"]);
    assert_exit(&free, 0);
    pg().execute("postgres", "DROP DATABASE copy_outside");

    let waiting = env
        .ctx
        .std_cmd()
        .args(["restore", &name, "--to", "copy_b", "--wait-lock", "2m"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn campctl");
    std::thread::sleep(Duration::from_secs(2));
    let exists = |db: &str| {
        pg().client("postgres")
            .query_one(
                "SELECT count(*) FROM pg_database WHERE datname LIKE $1",
                &[&format!("{db}%")],
            )
            .expect("query")
            .get::<_, i64>(0)
            > 0
    };
    assert!(!exists("copy_a"), "the refused restore created nothing");
    assert!(!exists("copy_b"), "the waiting restore has not started restoring");
    let mut waiting = waiting;
    assert!(waiting.try_wait().expect("try_wait").is_none(), "the restore waits");
    // The backup dies (SIGKILL): its lock is stale and the waiting restore takes it over.
    kill_backup(backup, &pidfile);
    let output = waiting.wait_with_output().expect("wait");
    assert_exit(&output, 0);
    assert!(exists("copy_b"), "the restore ran once the lock was free");
    pg().execute("postgres", "DROP DATABASE copy_b");
}

#[test]
fn cleanup_takes_over_the_read_lock_of_a_restore_killed_with_sigkill() {
    let env = BackupEnv::local();
    seed_large_table(&env);
    let made = history(&env, 32);
    let name = oldest(&made);
    let child = start_gated(&env, &["restore", &name, "--to", "copy_killed", "--no-verify-first"]);
    assert_eq!(
        holder_command(&lock_file(&env)).as_deref(),
        Some(format!("restore {name}").as_str()),
        "the read lock names the restore"
    );
    signal(&child, libc::SIGKILL);
    let _ = finish(child);
    end_stand_in(&env);
    assert!(lock_file(&env).exists(), "SIGKILL leaves the lock file behind");

    let after = env.run(&["cleanup", "--backups"]);
    assert_exit(&after, 0);
    let text = String::from_utf8_lossy(&after.stderr);
    assert!(text.contains("stale lock"), "the stale lock is taken over: {text}");
    assert!(
        !env.local_backup_files().iter().any(|f| f.contains(&name)),
        "the backup the killed restore read is deleted"
    );
    assert!(!lock_file(&env).exists(), "cleanup released the lock");
    // The killed restore's half-restored copy (its interrupt cleanup never ran).
    let mut admin = pg().client("postgres");
    let left: Vec<String> = admin
        .query(
            "SELECT datname FROM pg_database WHERE datname LIKE 'copy\\_killed%'",
            &[],
        )
        .expect("query")
        .iter()
        .map(|row| row.get(0))
        .collect();
    for db in left {
        let _ = admin.batch_execute(&format!("DROP DATABASE \"{db}\""));
    }
}

#[test]
fn a_restore_with_a_spool_file_releases_the_lock_once_the_spool_is_complete() {
    let env = BackupEnv::local();
    seed_large_table(&env);
    let made = history(&env, 32);
    let name = oldest(&made);
    // `--jobs 2` spools the archive, then runs pg_restore on the file: the stand-in waits there.
    let child = start_gated(&env, &["restore", &name, "--to", "copy_spool", "--jobs", "2"]);
    assert!(
        !lock_file(&env).exists(),
        "the lock is released once the spool is complete: {:?}",
        holder_command(&lock_file(&env))
    );
    let cleanup = env.run(&["cleanup", "--backups"]);
    assert_exit(&cleanup, 0);
    assert!(
        !env.local_backup_files().iter().any(|f| f.contains(&name)),
        "cleanup deletes the spooled backup"
    );
    std::fs::write(env.ctx.home().join("go"), "").expect("go");
    let restored = finish(child);
    assert_exit(&restored, 0);
    pg().execute("postgres", "DROP DATABASE copy_spool");
}

#[test]
fn sigterm_during_the_read_releases_the_lock() {
    let env = BackupEnv::local();
    seed_large_table(&env);
    let made = history(&env, 1);
    let name = oldest(&made);
    let child = start_gated(&env, &["test-restore", &name, "--no-record"]);
    assert!(lock_file(&env).exists(), "the test-restore holds the read lock");
    signal(&child, libc::SIGTERM);
    let output = finish(child);
    assert_exit(&output, 130);
    assert!(!lock_file(&env).exists(), "SIGTERM released the read lock");
    end_stand_in(&env);
}
