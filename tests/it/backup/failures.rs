//! Backups that fail: each leaves no committed archive and no manifest, and exits with the documented code.

use std::process::Stdio;
use std::time::{Duration, Instant};

use super::{BackupEnv, real_pg_dump, stand_in_pg_dump};
use crate::common::assert_exit;

fn assert_nothing_committed(env: &BackupEnv) {
    let files = env.local_backup_files();
    assert!(files.is_empty(), "nothing may be left in the store: {files:?}");
}

#[test]
fn a_missing_database_exits_10_and_commits_nothing() {
    let env = BackupEnv::local();
    let output = env.run(&["backup", "no_such_database"]);
    assert_exit(&output, 10);
    assert!(String::from_utf8_lossy(&output.stderr).contains("`no_such_database` does not exist"));
    assert_nothing_committed(&env);
}

/// Backs up through a stand-in that answers `--version` like the real pg_dump and otherwise runs `script` (`$REAL`
/// is the real pg_dump); the run must exit 1 with `expected` on stderr and commit nothing.
fn fails_and_commits_nothing(script: &str, expected: &str) {
    let env = BackupEnv::local();
    env.db
        .execute("CREATE TABLE t AS SELECT g, md5(g::text) FROM generate_series(1, 20000) g");
    let stand_in = stand_in_pg_dump(
        &env.ctx,
        "stand_in_pg_dump",
        &format!(
            "REAL={}\n[ \"$1\" = --version ] && exec \"$REAL\" --version\n{script}",
            real_pg_dump().display()
        ),
    );
    let output = env.run(&["backup", "--pg-dump", stand_in.to_str().expect("path")]);
    assert_exit(&output, 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(expected), "{stderr}");
    assert_nothing_committed(&env);
}

#[test]
fn pg_dump_failing_commits_nothing() {
    fails_and_commits_nothing(
        "\"$REAL\" \"$@\" | head -c 3000\necho 'pg_dump: error: simulated failure' >&2\nexit 1",
        "pg_dump exited with status 1: pg_dump: error: simulated failure",
    );
}

#[test]
fn a_truncated_archive_from_a_pg_dump_that_exits_0_commits_nothing() {
    fails_and_commits_nothing("\"$REAL\" \"$@\" | head -c 50000\nexit 0", "not a complete archive");
}

#[test]
fn pg_dump_killed_mid_stream_commits_nothing() {
    fails_and_commits_nothing("\"$REAL\" \"$@\" | head -c 40000\nkill -KILL $$", "killed by signal 9");
}

#[test]
fn a_pg_dump_older_than_the_server_is_refused_before_anything_runs() {
    let env = BackupEnv::local();
    let old = stand_in_pg_dump(
        &env.ctx,
        "old_pg_dump",
        "echo 'pg_dump (PostgreSQL) 14.11'\n[ \"$1\" = --version ] || touch ran",
    );
    let output = env.run(&["backup", "--pg-dump", old.to_str().expect("path")]);
    assert_exit(&output, 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is version 14.11 but the server runs PostgreSQL 15"),
        "{stderr}"
    );
    assert!(!env.ctx.home().join("ran").exists(), "the old pg_dump must not dump");
    assert_nothing_committed(&env);
}

#[test]
fn a_second_concurrent_backup_exits_11_naming_the_holder() {
    let env = BackupEnv::local();
    let mut holder = env.db.client();
    holder
        .batch_execute("SET application_name = 'other-backup-run'")
        .expect("set");
    holder
        .query_one("SELECT pg_advisory_lock(1667329392, hashtext($1))", &[&env.db.name()])
        .expect("take the lock");
    let started = Instant::now();
    let output = env.run(&["backup", "--wait-lock", "1s"]);
    assert_exit(&output, 11);
    assert!(started.elapsed() >= Duration::from_secs(1), "--wait-lock waits");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("other-backup-run"), "{stderr}");
    assert_nothing_committed(&env);
    holder
        .query_one("SELECT pg_advisory_unlock(1667329392, hashtext($1))", &[&env.db.name()])
        .expect("unlock");
    assert_exit(&env.run(&["backup"]), 0);
}

#[test]
fn ctrl_c_kills_pg_dump_and_commits_nothing() {
    let env = BackupEnv::local();
    env.db
        .execute("CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g");
    let slow = stand_in_pg_dump(
        &env.ctx,
        "slow_pg_dump",
        &format!(
            "[ \"$1\" = --version ] && exec {real} --version\n{real} \"$@\" | head -c 2000\necho $$ > {pidfile}.tmp && mv {pidfile}.tmp {pidfile}\nexec sleep 60",
            real = real_pg_dump().display(),
            pidfile = env.ctx.home().join("stand-in.pid").display()
        ),
    );
    let mut child = env
        .ctx
        .std_cmd()
        .args(["backup", "--pg-dump", slow.to_str().expect("path")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pidfile = env.ctx.home().join("stand-in.pid");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pidfile.exists() {
        assert!(Instant::now() < deadline, "the stand-in pg_dump never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(i32::try_from(child.id()).expect("pid"), libc::SIGINT) };
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130));
    let stand_in: i32 = std::fs::read_to_string(&pidfile)
        .expect("pid")
        .trim()
        .parse()
        .expect("pid");
    // Killed means gone or a zombie (its new parent may not reap it at once).
    let running = || {
        std::fs::read_to_string(format!("/proc/{stand_in}/stat"))
            .is_ok_and(|stat| stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().next()) != Some("Z"))
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while running() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!running(), "pg_dump must be killed on Ctrl-C");
    assert_nothing_committed(&env);
}

#[test]
fn a_wrong_azure_key_exits_12_naming_the_credential() {
    let env = BackupEnv::with_azure();
    let config = std::fs::read_to_string(env.ctx.home().join("campctl.toml")).expect("config");
    let key = crate::common::azurite().key().to_string();
    let wrong = format!("{}AAAA", &key[..key.len() - 6]) + "==";
    env.ctx.write_file("campctl.toml", config.replace(&key, &wrong));
    let output = env.run(&["backup", "--store", "azure"]);
    assert_exit(&output, 12);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("connection string"),
        "the credential tried is named: {stderr}"
    );
    assert!(!stderr.contains(&wrong), "the key is never printed: {stderr}");
    assert!(!stderr.contains("sig="), "no SAS signature in errors: {stderr}");
}
