//! Architecture issue, item 6 ("Locks in one place"): a backup killed with SIGKILL does not block the next one, and
//! `backup unlock NAME` shows the holder, asks, and breaks the locks (store lock files, blob leases, and the advisory
//! lock's session). The hanging backup comes from the hardening tests (`hardening::backup`).

use std::process::Output;
use std::time::{Duration, Instant};

use super::BackupEnv;
use crate::common::assert_exit;
use crate::hardening::backup::{kill_backup, start_hanging_backup};

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_backup_killed_with_sigkill_does_not_block_the_next_one_to_azurite() {
    let env = BackupEnv::with_azure();
    env.seed_small_table();
    let (child, pidfile) = start_hanging_backup(&env);
    kill_backup(child, &pidfile);
    // Without the stale rule the lease (60 s) would make this wait, or exit 11 at once.
    let started = Instant::now();
    let output = env.run(&["backup"]);
    assert_exit(&output, 0);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the next backup did not wait for the lease to expire: {:?}",
        started.elapsed()
    );
    assert!(
        stderr(&output).contains("taking over the stale lock"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn unlock_shows_the_holder_asks_and_breaks_a_live_backups_locks() {
    let env = BackupEnv::with_azure();
    env.seed_small_table();
    let db = env.db.name().to_string();
    let (child, pidfile) = start_hanging_backup(&env);
    let pid = child.id().to_string();

    // Held by a live run: refused with exit 11.
    assert_exit(&env.run(&["backup", "--store", "local"]), 11);

    // Without a terminal and without --yes: refused (exit 2) after showing the holders; nothing broken.
    let refused = env.run(&["backup", "unlock", &db]);
    assert_exit(&refused, 2);
    let text = stderr(&refused);
    assert!(
        text.contains("Refusing to continue without confirmation") && text.contains("--yes"),
        "{text}"
    );
    assert!(
        text.contains(&format!("backup-{db}")) && text.contains(&format!("pid {pid}")),
        "{text}"
    );
    assert!(
        text.contains("advisory"),
        "the advisory lock's session is shown: {text}"
    );

    // --dry-run shows the same and breaks nothing.
    let dry = env.run(&["--format", "json", "--dry-run", "backup", "unlock", &db]);
    assert_exit(&dry, 0);
    let report: serde_json::Value = serde_json::from_slice(&dry.stdout).expect("JSON report");
    let locks = report["locks"].as_array().expect("locks");
    assert_eq!(
        locks.iter().filter(|l| l["kind"] == "store").count(),
        2,
        "the lock file and the lease: {report}"
    );
    assert_eq!(locks.iter().filter(|l| l["kind"] == "advisory").count(), 1, "{report}");
    assert!(locks.iter().all(|l| l["broken"] == false), "{report}");
    assert_exit(&env.run(&["backup", "--store", "local"]), 11);

    // --yes breaks them all; the next backup runs while the old one still hangs.
    let broken = env.run(&["--format", "json", "--yes", "backup", "unlock", &db]);
    assert_exit(&broken, 0);
    let report: serde_json::Value = serde_json::from_slice(&broken.stdout).expect("JSON report");
    let locks = report["locks"].as_array().expect("locks");
    assert_eq!(locks.len(), 3, "{report}");
    assert!(locks.iter().all(|l| l["broken"] == true), "{report}");
    let started = Instant::now();
    let next = env.run(&["backup"]);
    assert_exit(&next, 0);
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());

    kill_backup(child, &pidfile);
}

#[test]
fn unlock_of_a_name_without_locks_exits_10() {
    let env = BackupEnv::local();
    let output = env.run(&["--yes", "backup", "unlock", "no_such_database"]);
    assert_exit(&output, 10);
    assert!(
        stderr(&output).contains("No lock of `no_such_database` is held"),
        "{}",
        stderr(&output)
    );
}
