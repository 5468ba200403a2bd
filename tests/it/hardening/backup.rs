//! Hardening regressions (backup): see `mod.rs`. Locks released on every exit path (item 3), names unique within a
//! second (item 4), partial commits when one store is down (item 5), listing and selection that skip an unreachable
//! store (item 6), and the leftovers of a killed backup reported by the next one (item 15).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::backup::outages::CuttingProxy;
use crate::backup::{BackupEnv, collect, real_pg_dump, stand_in_pg_dump};
use crate::common::{TestContext, assert_exit, azurite, unique_container};

/// A pg_dump that writes a little of a real dump, records its pid in `<HOME>/stand-in.pid`, then hangs: the backup
/// is mid-run, holding its locks, with an upload open in every store.
fn hanging_pg_dump(ctx: &TestContext) -> (PathBuf, PathBuf) {
    let pidfile = ctx.home().join("stand-in.pid");
    let script = stand_in_pg_dump(
        ctx,
        "hanging_pg_dump",
        &format!(
            "[ \"$1\" = --version ] && exec {real} --version\n{real} \"$@\" | head -c 2000\necho $$ > {pidfile}.tmp && mv {pidfile}.tmp {pidfile}\nexec sleep 60",
            real = real_pg_dump().display(),
            pidfile = pidfile.display()
        ),
    );
    (script, pidfile)
}

/// Starts `campctl backup` with a hanging pg_dump and returns once pg_dump hangs (the locks are held by then).
pub(crate) fn start_hanging_backup(env: &BackupEnv) -> (Child, PathBuf) {
    let _ = std::fs::remove_file(env.ctx.home().join("stand-in.pid"));
    let (script, pidfile) = hanging_pg_dump(&env.ctx);
    let child = env
        .ctx
        .std_cmd()
        .args(["backup", "--pg-dump", script.to_str().expect("path")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn campctl");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pidfile.exists() {
        assert!(Instant::now() < deadline, "the stand-in pg_dump never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, pidfile)
}

pub(crate) fn signal(child: &Child, signal: i32) {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(i32::try_from(child.id()).expect("pid"), signal) };
}

/// Kills a hanging backup's campctl with SIGKILL, then its orphaned stand-in pg_dump: its locks and partial files
/// are left behind, as after a crash.
pub(crate) fn kill_backup(mut child: Child, pidfile: &Path) {
    signal(&child, libc::SIGKILL);
    child.wait().expect("wait");
    kill_stand_in(pidfile);
}

/// Kills the orphaned stand-in pg_dump (`sleep 60`) of a campctl killed with SIGKILL.
fn kill_stand_in(pidfile: &Path) {
    if let Some(pid) = std::fs::read_to_string(pidfile)
        .ok()
        .and_then(|text| text.trim().parse::<i32>().ok())
    {
        // SAFETY: the stand-in is our grandchild; at worst the pid is gone.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A connection string whose blob endpoint is a closed port: Azure unreachable.
fn unreachable_azure(container: &str) -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    format!(
        "\n[storage.azure]\nconnection_string = \"{}\"\ncontainer = \"{container}\"\nmax_retries = 1\ntimeout = \"5s\"\n",
        azurite()
            .connection_string()
            .replace(&format!("127.0.0.1:{}", azurite().port()), &format!("127.0.0.1:{port}"))
    )
}

/// A local-only configuration plus `extra`.
fn write_config(env: &BackupEnv, extra: &str) {
    env.ctx.write_file(
        "campctl.toml",
        format!(
            "[database]\nurl = \"{}\"\n\n[storage.local]\npath = \"{}\"\n{extra}",
            env.db.url(),
            env.local.display()
        ),
    );
}

#[test]
fn item_03_an_interrupted_backup_to_azure_releases_its_lease() {
    let env = BackupEnv::with_azure();
    env.seed_small_table();
    for (name, signo) in [("SIGINT", libc::SIGINT), ("SIGTERM", libc::SIGTERM)] {
        let (mut child, _) = start_hanging_backup(&env);
        signal(&child, signo);
        let status = child.wait().expect("wait");
        assert_eq!(status.code(), Some(130), "{name} exits 130");
        // At once: no waiting for the lease to expire.
        let started = Instant::now();
        let output = env.run(&["backup"]);
        assert_exit(&output, 0);
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "after {name}, the next backup started at once"
        );
    }
}

#[test]
fn item_03_the_lease_of_a_killed_backup_on_this_host_is_taken_over() {
    let env = BackupEnv::with_azure();
    env.seed_small_table();
    let (child, pidfile) = start_hanging_backup(&env);
    kill_backup(child, &pidfile);
    let output = env.run(&["backup", "--store", "azure"]);
    assert_exit(&output, 0);
    let stderr = stderr(&output);
    assert!(
        stderr.contains("taking over the stale lock") && stderr.contains("no longer running"),
        "the stale lease is taken over with a warning: {stderr}"
    );
}

#[test]
fn item_04_two_backups_starting_in_the_same_second_get_distinct_names() {
    let env = BackupEnv::local();
    env.seed_small_table();
    // Start both just after a second begins, so that both start within it.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time");
    std::thread::sleep(Duration::from_millis(1_050 - u64::from(now.subsec_millis())));
    let children: Vec<Child> = (0..2)
        .map(|_| {
            env.ctx
                .std_cmd()
                .args(["--format", "json", "backup", "--wait-lock", "60s"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn campctl")
        })
        .collect();
    let mut names = Vec::new();
    for child in children {
        let output = child.wait_with_output().expect("wait");
        assert_exit(&output, 0);
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
        names.push(report["name"].as_str().expect("name").to_string());
    }
    assert_ne!(names[0], names[1], "two backups, two names");
    let form = regex::Regex::new(&format!("^{}_[0-9]{{8}}_[0-9]{{6}}$", env.db.name())).expect("regex");
    for name in &names {
        assert!(
            form.is_match(name),
            "`{name}` keeps the `<db>_<YYYYMMDD>_<HHMMSS>` form"
        );
    }
    let listed = env.run(&["--format", "json", "backup", "list"]);
    assert_exit(&listed, 0);
    let catalog: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("JSON catalog");
    let mut listed: Vec<&str> = catalog["backups"]
        .as_array()
        .expect("backups")
        .iter()
        .map(|b| {
            assert_eq!(b["kind"], "database", "both are complete backups: {b}");
            b["name"].as_str().expect("name")
        })
        .collect();
    listed.sort_unstable();
    names.sort();
    assert_eq!(listed, names);
}

#[test]
fn item_05_azure_unreachable_still_commits_locally_and_exits_3() {
    let env = BackupEnv::local();
    env.seed_small_table();
    write_config(&env, &unreachable_azure(&unique_container()));
    let output = env.run(&["--format", "json", "backup"]);
    assert_exit(&output, 3);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    let name = report["name"].as_str().expect("name");
    let files = env.local_backup_files();
    assert!(
        files.iter().any(|f| f.ends_with(&format!("{name}.manifest.json")))
            && files.iter().any(|f| f.contains(&format!("{name}.dump"))),
        "archive and manifest committed locally: {files:?}"
    );
    assert_eq!(report["failed_stores"].as_array().expect("failed").len(), 1, "{report}");
    assert!(
        report["failed_stores"][0]
            .as_str()
            .expect("label")
            .starts_with("azure:"),
        "{report}"
    );
    let stderr = stderr(&output);
    assert!(
        stderr.contains("not committed to azure:") && stderr.contains("Failed to"),
        "the failed store is named with the reason: {stderr}"
    );
}

#[test]
fn item_05_azure_dying_mid_upload_still_commits_locally_and_exits_3() {
    let ctx = TestContext::new();
    let db = ctx.db();
    // About 20 MB of incompressible data, so several blocks must go up.
    db.execute("CREATE TABLE t AS SELECT g, decode(md5(g::text) || md5((g + 1)::text), 'hex') AS b FROM generate_series(1, 400000) g");
    let container = unique_container();
    azurite().create_container(&container);
    let proxy = CuttingProxy::start(3 << 20);
    let local = ctx.home().join("backups");
    ctx.write_file(
        "campctl.toml",
        format!(
            "[database]\nurl = \"{}\"\n[storage.local]\npath = \"{}\"\n[storage.azure]\nconnection_string = \"{}\"\ncontainer = \"{container}\"\nblock_size = \"1MiB\"\nconcurrency = 2\nmax_retries = 1\ntimeout = \"5s\"\n",
            db.url(),
            local.display(),
            proxy.connection_string()
        ),
    );
    let output = ctx
        .cmd()
        .args(["--format", "json", "backup", "--compression", "none"])
        .output()
        .expect("run");
    assert_exit(&output, 3);
    assert!(proxy.cut.load(Ordering::SeqCst), "the proxy cut the upload");
    let stderr = stderr(&output);
    assert!(
        stderr.contains("Failed to upload to azure:") && stderr.contains("not committed to azure:"),
        "{stderr}"
    );
    let blobs: Vec<String> = azurite()
        .list_blobs(&container)
        .into_iter()
        .filter(|b| !b.starts_with("locks/"))
        .collect();
    assert!(blobs.is_empty(), "nothing committed in Azure: {blobs:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    let name = report["name"].as_str().expect("name");
    let mut files = Vec::new();
    collect(&local, &local, &mut files);
    assert!(
        files.iter().any(|f| f.ends_with(&format!("{name}.manifest.json")))
            && files.iter().any(|f| f.ends_with(&format!("{name}.dump"))),
        "the local copy is kept and committed: {files:?}"
    );
    assert!(
        files.iter().all(|f| !f.ends_with(".partial")),
        "no partial left: {files:?}"
    );
}

#[test]
fn item_06_an_unreachable_store_does_not_fail_listing_or_restore_selection() {
    let env = BackupEnv::local();
    env.seed_small_table();
    let report = env.backup(&[]);
    let name = report["name"].as_str().expect("name").to_string();
    write_config(&env, &unreachable_azure(&unique_container()));

    let listed = env.run(&["--format", "json", "backup", "list"]);
    assert_exit(&listed, 3);
    let catalog: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("JSON catalog");
    assert_eq!(catalog["backups"][0]["name"], name.as_str(), "{catalog}");
    let stderr_text = stderr(&listed);
    assert!(
        stderr_text.contains("azure:") && stderr_text.contains("could not be read"),
        "the unreachable store is named: {stderr_text}"
    );

    // `latest` must look in every store: it skips the unreachable one and says which copy it uses.
    let output = env.run(&["test-restore"]);
    assert_exit(&output, 0);
    let stderr_text = stderr(&output);
    assert!(
        stderr_text.contains("azure:")
            && stderr_text.contains("could not be read")
            && stderr_text.contains(&format!("using `{name}` from local:")),
        "selection skips the unreachable store and says which copy it uses: {stderr_text}"
    );
    // By name, the local copy is found first.
    assert_exit(&env.run(&["test-restore", &name]), 0);
    // A backup that only the unreachable store could hold: not found (exit 10), the store named.
    let missing = format!("{}_20200101_000000", env.db.name());
    let output = env.run(&["test-restore", &missing]);
    assert_exit(&output, 10);
    assert!(stderr(&output).contains("could not be read"), "{}", stderr(&output));
}

#[test]
fn item_15_a_killed_backup_leaves_a_partial_that_the_next_backup_reports() {
    let env = BackupEnv::local();
    env.seed_small_table();
    let (child, pidfile) = start_hanging_backup(&env);
    kill_backup(child, &pidfile);
    // The next backup starts in a later second, as it would in practice (else it would reuse, and so replace, the
    // partial of the same name).
    std::thread::sleep(Duration::from_millis(1_100));
    let partials: Vec<String> = env
        .local_backup_files()
        .into_iter()
        .filter(|f| f.ends_with(".partial"))
        .collect();
    assert_eq!(partials.len(), 1, "kill -9 leaves the partial file: {partials:?}");
    let path = env.local.join(&partials[0]);

    let output = env.run(&["backup"]);
    assert_exit(&output, 0);
    let stderr = stderr(&output);
    assert!(
        stderr.contains(&format!("rm -- '{}'", path.display())) && stderr.contains("did not finish"),
        "the leftover is reported with the command that removes it: {stderr}"
    );
    assert!(path.exists(), "reported, not removed");
}
