//! The safety properties of `campctl restore` and `campctl test-restore` (DESIGN.md "Safety rules"), against the real
//! PostgreSQL, pg_dump / pg_restore and Azurite of the harness: a damaged, truncated, foreign or too new backup, a
//! pg_restore that fails midway, Ctrl-C, an existing target, no terminal, a full spool directory. In every case the
//! target database is untouched (same oid, same rows) and no scratch database is left behind.

use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use crate::backup::{BackupEnv, stand_in_pg_dump};
use crate::common::{Tmpfs, assert_exit, azurite, pg, unique_suffix};

pub(crate) const SEED: &str = r"
CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL, note text);
INSERT INTO users SELECT g, 'u' || g || '@example.com', md5(g::text) FROM generate_series(1, 5000) g;
CREATE TABLE events (id bigserial PRIMARY KEY, user_id int REFERENCES users, payload jsonb);
INSERT INTO events (user_id, payload)
  SELECT 1 + g % 5000, jsonb_build_object('n', g, 'h', md5(g::text)) FROM generate_series(1, 8000) g;
";

/// What "untouched" means: the database's oid, and for each table its row count and a hash of its rows.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    pub(crate) oid: u32,
    pub(crate) tables: Vec<(String, i64, Option<String>)>,
}

pub(crate) fn oid_of(database: &str) -> Option<u32> {
    pg().client("postgres")
        .query_opt("SELECT oid FROM pg_database WHERE datname = $1", &[&database])
        .expect("look up the database")
        .map(|row| row.get(0))
}

pub(crate) fn fingerprint(database: &str) -> Fingerprint {
    let oid = oid_of(database).unwrap_or_else(|| panic!("database {database} does not exist"));
    let mut client = pg().client(database);
    let names: Vec<String> = client
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
               AND n.nspname NOT LIKE 'pg\\_toast%' ORDER BY 1",
            &[],
        )
        .expect("list tables")
        .iter()
        .map(|row| row.get(0))
        .collect();
    let tables = names
        .into_iter()
        .map(|name| {
            let sql = format!("SELECT count(*), md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {name} t");
            let row = client.query_one(sql.as_str(), &[]).expect("fingerprint a table");
            (name, row.get(0), row.get(1))
        })
        .collect();
    Fingerprint { oid, tables }
}

/// Databases whose name starts with `prefix` (literally), sorted.
pub(crate) fn databases_starting_with(prefix: &str) -> Vec<String> {
    pg().client("postgres")
        .query(
            "SELECT datname::text FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1",
            &[&prefix],
        )
        .expect("list databases")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// Scratch databases of restores of `database` (`<db>__restore_…`, `<db>__test_restore_…`).
pub(crate) fn scratch_databases(database: &str) -> Vec<String> {
    let mut found = databases_starting_with(&format!("{database}__restore_"));
    found.extend(databases_starting_with(&format!("{database}__test_restore_")));
    found
}

/// Every database created next to the test's own one: their names all start with `<db>_` (`<db>_x`, `<db>__restore_…`,
/// `<db>__pre_restore_…`), which no other test's database (`t_<pid>_<n>`) does.
fn created_besides(database: &str) -> Vec<String> {
    databases_starting_with(&format!("{database}_"))
}

/// Asserts that no scratch database of `database` is left, polling a few seconds (cleanup may still be running).
#[track_caller]
pub(crate) fn assert_no_scratch_left(database: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = scratch_databases(database);
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "scratch databases left behind: {left:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Asserts that nothing at all was created next to `database`.
#[track_caller]
pub(crate) fn assert_nothing_created(database: &str) {
    let created = created_besides(database);
    assert!(created.is_empty(), "no database may be created: {created:?}");
}

/// Drops, when the test ends however it ends, every database created next to the named ones (see
/// [`created_besides`]) and the named roles: a failed assertion must not leave a restored copy behind.
#[derive(Default)]
pub(crate) struct Leftovers {
    pub(crate) besides: Vec<String>,
    pub(crate) roles: Vec<String>,
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        // No panic here: this may run while a failed test unwinds.
        let Ok(mut client) = pg().config("postgres").connect(postgres::NoTls) else {
            return;
        };
        for database in &self.besides {
            let Ok(rows) = client.query(
                "SELECT datname::text FROM pg_database WHERE starts_with(datname, $1)",
                &[&format!("{database}_")],
            ) else {
                continue;
            };
            for row in rows {
                let name: String = row.get(0);
                let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", name.replace('"', "\"\""));
                if let Err(e) = client.batch_execute(&sql) {
                    eprintln!("{sql} failed: {e}");
                }
            }
        }
        for role in &self.roles {
            let _ = client.batch_execute(&format!("DROP ROLE IF EXISTS \"{role}\""));
        }
    }
}

/// A [`BackupEnv`] whose leftovers are dropped with it.
pub(crate) struct Env {
    pub(crate) env: BackupEnv,
    pub(crate) leftovers: Leftovers,
}

impl Env {
    pub(crate) fn local() -> Self {
        Self::wrap(BackupEnv::local())
    }

    fn with_azure() -> Self {
        Self::wrap(BackupEnv::with_azure())
    }

    fn wrap(env: BackupEnv) -> Self {
        let leftovers = Leftovers {
            besides: vec![env.db.name().to_string()],
            roles: Vec::new(),
        };
        Self { env, leftovers }
    }
}

impl std::ops::Deref for Env {
    type Target = BackupEnv;

    fn deref(&self) -> &BackupEnv {
        &self.env
    }
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A local-store environment whose database holds [`SEED`] and has one backup; returns the backup report.
pub(crate) fn backed_up(env: &BackupEnv) -> serde_json::Value {
    env.db.execute(SEED);
    env.backup(&[])
}

/// The stored archive of a backup in the local store.
fn local_archive(env: &BackupEnv, report: &serde_json::Value) -> PathBuf {
    env.local.join(report["object"].as_str().expect("object"))
}

pub(crate) fn local_manifest(env: &BackupEnv, report: &serde_json::Value) -> PathBuf {
    env.local.join(report["manifest"].as_str().expect("manifest"))
}

/// Flips every bit of the byte in the middle.
fn corrupt_middle(bytes: &mut [u8]) {
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xFF;
}

/// The outcome of the check `name` in a test-restore JSON report.
pub(crate) fn check_outcome(report: &serde_json::Value, name: &str) -> String {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|check| check["name"] == name)
        .unwrap_or_else(|| panic!("no check {name:?} in {report:#}"))["outcome"]
        .as_str()
        .expect("outcome")
        .to_string()
}

pub(crate) fn test_restore_json(env: &BackupEnv, args: &[&str]) -> (Output, serde_json::Value) {
    let mut all = vec!["--format", "json", "test-restore"];
    all.extend_from_slice(args);
    let output = env.run(&all);
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("the report is JSON ({e}); stderr: {}", stderr(&output)));
    (output, report)
}

/// Asserts that `dir` holds no file (a spool file must not outlive its restore).
#[track_caller]
fn assert_no_files_in(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|entry| entry.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind in {}: {left:?}", dir.display());
}

/// The first `error:` line campctl printed.
pub(crate) fn error_line(output: &Output) -> String {
    stderr(output)
        .lines()
        .find(|line| line.starts_with("error: "))
        .unwrap_or_default()
        .to_string()
}

pub(crate) fn real_pg_restore() -> PathBuf {
    pg().bin_dir().join("pg_restore")
}

pub(crate) fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

// 1. A damaged backup is refused before anything is touched.

#[test]
fn a_corrupted_local_backup_is_refused_by_restore_and_fails_test_restore() {
    let env = Env::local();
    let report = backed_up(&env);
    let archive = local_archive(&env, &report);
    let mut bytes = std::fs::read(&archive).expect("read the archive");
    corrupt_middle(&mut bytes);
    std::fs::write(&archive, &bytes).expect("write the archive");
    let before = fingerprint(env.db.name());

    let output = env.run(&["restore", "--yes"]);
    assert_exit(&output, 1);
    assert!(stderr(&output).contains("Checksum mismatch"), "{}", stderr(&output));
    // restore verifies the whole backup before it creates the aside copy (`--verify-first`, its default).
    assert!(!stderr(&output).contains("created database"), "{}", stderr(&output));
    assert_eq!(fingerprint(env.db.name()), before, "the target is untouched");
    assert_no_scratch_left(env.db.name());

    // Streaming instead: the aside copy exists while the damage is found, and is dropped.
    let output = env.run(&["restore", "--yes", "--no-verify-first"]);
    assert_exit(&output, 1);
    assert!(stderr(&output).contains("Checksum mismatch"), "{}", stderr(&output));
    assert_eq!(fingerprint(env.db.name()), before, "the target is untouched");
    assert_no_scratch_left(env.db.name());

    let (output, report) = test_restore_json(&env, &[]);
    assert_exit(&output, 1);
    assert_eq!(report["passed"], false, "{report:#}");
    assert_eq!(check_outcome(&report, "download + checksum"), "fail", "{report:#}");
    assert!(report.to_string().contains("Checksum mismatch"), "{report:#}");
    assert_eq!(fingerprint(env.db.name()), before, "the target is untouched");
    assert_no_scratch_left(env.db.name());
    assert_nothing_created(env.db.name());
}

#[test]
fn a_corrupted_azure_backup_is_refused_by_restore() {
    let env = Env::with_azure();
    let report = backed_up(&env);
    let container = env.container.as_deref().expect("container");
    let blob = format!("pg/{}", report["object"].as_str().expect("object"));
    let mut bytes = azurite().get_blob(container, &blob);
    corrupt_middle(&mut bytes);
    azurite().put_blob(container, &blob, &bytes);
    let before = fingerprint(env.db.name());

    let output = env.run(&["restore", "--store", "azure", "--yes"]);
    assert_exit(&output, 1);
    assert!(stderr(&output).contains("Checksum mismatch"), "{}", stderr(&output));
    assert_eq!(fingerprint(env.db.name()), before, "the target is untouched");
    assert_no_scratch_left(env.db.name());
    assert_nothing_created(env.db.name());
}

/// Damage that also breaks the zstd stream (here: its content checksum, the frame's last 4 bytes) is still reported as
/// what it is, a checksum mismatch of the stored object: first in the error, and as the failed check of test-restore.
#[test]
fn damage_that_breaks_decompression_is_reported_as_a_checksum_mismatch() {
    let env = Env::local();
    let report = backed_up(&env);
    let archive = local_archive(&env, &report);
    let mut bytes = std::fs::read(&archive).expect("read the archive");
    assert_eq!(&bytes[..4], [0x28, 0xB5, 0x2F, 0xFD], "a zstd frame");
    let last = bytes.len() - 2;
    bytes[last] ^= 0xFF;
    std::fs::write(&archive, &bytes).expect("write the archive");
    let before = fingerprint(env.db.name());

    let output = env.run(&["restore", "--yes"]);
    assert_exit(&output, 1);
    assert!(
        error_line(&output).starts_with("error: Checksum mismatch"),
        "the checksum mismatch is the error, not a consequence: {}",
        stderr(&output)
    );
    assert_eq!(fingerprint(env.db.name()), before, "the target is untouched");
    assert_no_scratch_left(env.db.name());

    let (output, report) = test_restore_json(&env, &["--no-record"]);
    assert_exit(&output, 1);
    assert_eq!(check_outcome(&report, "download + checksum"), "fail", "{report:#}");
    assert_eq!(fingerprint(env.db.name()), before, "the target is untouched");
    assert_nothing_created(env.db.name());
}

// 2. A truncated backup.

#[test]
fn a_truncated_backup_is_refused() {
    let env = Env::local();
    let report = backed_up(&env);
    let archive = local_archive(&env, &report);
    let bytes = std::fs::read(&archive).expect("read the archive");
    std::fs::write(&archive, &bytes[..bytes.len() / 2]).expect("truncate the archive");
    let before = fingerprint(env.db.name());

    let output = env.run(&["restore", "--yes"]);
    assert_exit(&output, 1);
    assert!(stderr(&output).contains("Size mismatch"), "{}", stderr(&output));
    assert_eq!(fingerprint(env.db.name()), before, "the target is untouched");
    assert_no_scratch_left(env.db.name());

    let output = env.run(&["test-restore", "--no-record"]);
    assert_exit(&output, 1);
    assert_eq!(fingerprint(env.db.name()), before, "the target is untouched");
    assert_no_scratch_left(env.db.name());
    assert_nothing_created(env.db.name());
}

#[test]
fn a_truncated_archive_without_a_manifest_is_refused() {
    let env = Env::local();
    env.db.execute(SEED);
    let path = env.ctx.home().join("dumps/half.dump");
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    pg_dump_to(&env, "c", &path);
    let bytes = std::fs::read(&path).expect("read the dump");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).expect("truncate the dump");
    let target = format!("{}_x", env.db.name());

    let output = env.run(&["restore", path_str(&path), "--to", &target]);
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("not a complete archive"),
        "{}",
        stderr(&output)
    );
    assert_nothing_created(env.db.name());

    let (output, report) = test_restore_json(&env, &[path_str(&path)]);
    assert_exit(&output, 1);
    assert_eq!(check_outcome(&report, "archive readable"), "fail", "{report:#}");
    assert_nothing_created(env.db.name());
}

// 3. pg_restore failing midway.

#[test]
fn pg_restore_failing_midway_drops_the_copy_and_leaves_the_target() {
    let mut env = Env::local();
    let role = format!("r_{}", unique_suffix('_'));
    env.leftovers.roles.push(role.clone());
    env.db.execute(SEED);
    env.db.execute(&format!(
        "CREATE ROLE \"{role}\"; CREATE TABLE owned (x int); INSERT INTO owned SELECT generate_series(1, 10); \
         ALTER TABLE owned OWNER TO \"{role}\""
    ));
    env.backup(&[]);
    env.db
        .execute(&format!("ALTER TABLE owned OWNER TO postgres; DROP ROLE \"{role}\""));
    let before = fingerprint(env.db.name());

    let output = env.run(&["restore", "--keep-owner", "--yes"]);
    assert_exit(&output, 1);
    let text = stderr(&output);
    assert!(text.contains("pg_restore exited with status 1"), "{text}");
    assert!(text.contains(&format!("role \"{role}\" does not exist")), "{text}");
    assert_eq!(fingerprint(env.db.name()), before, "the target is untouched");
    assert_no_scratch_left(env.db.name());

    // The same with a spool file (`--jobs 2`): pg_restore reads a verified file, fails, and the file goes too.
    let spool = env.ctx.home().join("spool");
    let output = env.run(&[
        "restore",
        "--keep-owner",
        "--jobs",
        "2",
        "--spool-dir",
        path_str(&spool),
        "--yes",
    ]);
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains(&format!("role \"{role}\" does not exist")),
        "{}",
        stderr(&output)
    );
    assert_no_files_in(&spool);
    assert_eq!(fingerprint(env.db.name()), before, "the target is untouched");
    assert_no_scratch_left(env.db.name());

    let (output, report) = test_restore_json(&env, &["--keep-owner", "--no-record"]);
    assert_exit(&output, 1);
    assert_eq!(check_outcome(&report, "download + checksum"), "pass", "{report:#}");
    assert_eq!(check_outcome(&report, "pg_restore"), "fail", "{report:#}");
    assert_eq!(fingerprint(env.db.name()), before, "the target is untouched");
    assert_no_scratch_left(env.db.name());
    assert_nothing_created(env.db.name());
}

// 4. Ctrl-C.

/// Where the stand-in pg_restore of [`start_in_pg_restore`] writes its PID.
pub(crate) fn stand_in_pidfile(env: &BackupEnv) -> PathBuf {
    env.ctx.home().join("stand-in.pid")
}

/// Starts campctl with `args` and a stand-in pg_restore that answers `--version` like the real one and otherwise
/// writes its PID to `<HOME>/stand-in.pid` and sleeps 30 s; returns once the stand-in runs (the scratch or new
/// database exists then) with campctl, not yet reaped. campctl's stderr goes to `<HOME>/campctl.stderr`
/// ([`campctl_stderr`]).
pub(crate) fn start_in_pg_restore(env: &BackupEnv, args: &[&str]) -> Child {
    let pidfile = stand_in_pidfile(env);
    let stand_in = stand_in_pg_dump(
        &env.ctx,
        "slow_pg_restore",
        &format!(
            "[ \"$1\" = --version ] && exec {real} --version\necho $$ > {pid}.tmp && mv {pid}.tmp {pid}\nexec sleep 30",
            real = real_pg_restore().display(),
            pid = pidfile.display()
        ),
    );
    let log = std::fs::File::create(env.ctx.home().join("campctl.stderr")).expect("create the stderr file");
    let mut child = env
        .ctx
        .std_cmd()
        .args(args)
        .args(["--pg-restore", path_str(&stand_in)])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn campctl");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pidfile.exists() {
        if Instant::now() >= deadline || matches!(child.try_wait(), Ok(Some(_))) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the stand-in pg_restore never started; stderr:\n{}",
                campctl_stderr(env)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

/// What the campctl of [`start_in_pg_restore`] wrote to stderr so far.
pub(crate) fn campctl_stderr(env: &BackupEnv) -> String {
    std::fs::read_to_string(env.ctx.home().join("campctl.stderr")).unwrap_or_default()
}

/// The PID the stand-in pg_restore of [`start_in_pg_restore`] wrote.
pub(crate) fn stand_in_pid(env: &BackupEnv) -> i32 {
    std::fs::read_to_string(stand_in_pidfile(env))
        .expect("pid")
        .trim()
        .parse()
        .expect("pid")
}

/// Runs campctl with `args` and a stand-in pg_restore ([`start_in_pg_restore`]); sends `signal` (SIGINT is Ctrl-C)
/// once it runs (the scratch database then exists) and checks the aftermath.
fn interrupt_during_pg_restore(env: &BackupEnv, args: &[&str], scratch_tag: &str, signal: libc::c_int) {
    let before = fingerprint(env.db.name());
    let mut child = start_in_pg_restore(env, args);
    let scratch = databases_starting_with(&format!("{}{scratch_tag}", env.db.name()));
    assert_eq!(
        scratch.len(),
        1,
        "the scratch database exists while pg_restore runs: {scratch:?}"
    );

    // SAFETY: signalling our own child, which has not been reaped.
    unsafe { libc::kill(i32::try_from(child.id()).expect("pid"), signal) };
    let interrupted = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if interrupted.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "campctl did not stop within 10 s of signal {signal}; stderr:\n{}",
                campctl_stderr(env)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130), "stderr:\n{}", campctl_stderr(env));

    let stand_in_pid = stand_in_pid(env);
    // Killed means gone or a zombie (its new parent may not reap it at once).
    let running = || {
        std::fs::read_to_string(format!("/proc/{stand_in_pid}/stat"))
            .is_ok_and(|stat| stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().next()) != Some("Z"))
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while running() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if running() {
        // SAFETY: the stand-in's PID, checked to be alive just above; do not leave it behind.
        unsafe { libc::kill(stand_in_pid, libc::SIGKILL) };
        panic!("the stand-in pg_restore must be killed on signal {signal}");
    }
    assert_no_scratch_left(env.db.name());
    assert_eq!(fingerprint(env.db.name()), before, "the target is untouched");
    assert_nothing_created(env.db.name());
}

#[test]
fn ctrl_c_during_restore_kills_pg_restore_and_drops_the_copy() {
    let env = Env::local();
    backed_up(&env);
    interrupt_during_pg_restore(&env, &["restore", "--yes"], "__restore_", libc::SIGINT);
}

#[test]
fn ctrl_c_during_test_restore_kills_pg_restore_and_drops_the_scratch_database() {
    let env = Env::local();
    backed_up(&env);
    interrupt_during_pg_restore(&env, &["test-restore", "--no-record"], "__test_restore_", libc::SIGINT);
}

#[test]
fn sigterm_during_a_spooled_restore_removes_the_spool_file_and_drops_the_copy() {
    let env = Env::local();
    backed_up(&env);
    let spool = env.ctx.home().join("spool");
    interrupt_during_pg_restore(
        &env,
        &["restore", "--jobs", "2", "--spool-dir", path_str(&spool), "--yes"],
        "__restore_",
        libc::SIGTERM,
    );
    assert_no_files_in(&spool);
}

// 5. An existing target of `--to`.

#[test]
fn restore_to_an_existing_database_needs_replace_and_keeps_the_old_one() {
    let mut env = Env::local();
    backed_up(&env);
    let source = fingerprint(env.db.name());
    let other = env.ctx.db();
    env.leftovers.besides.push(other.name().to_string());
    other.execute("CREATE TABLE precious (x int); INSERT INTO precious SELECT generate_series(1, 42)");
    let before = fingerprint(other.name());

    let output = env.run(&["restore", "--to", other.name(), "--yes"]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("--replace"), "{}", stderr(&output));
    assert_eq!(fingerprint(other.name()), before, "the existing database is untouched");
    assert_nothing_created(other.name());
    assert_nothing_created(env.db.name());

    let output = env.run(&["restore", "--to", other.name(), "--replace", "--yes"]);
    assert_exit(&output, 0);
    let previous = databases_starting_with(&format!("{}__pre_restore_", other.name()));
    assert_eq!(previous.len(), 1, "the old database is kept aside: {previous:?}");
    assert_eq!(
        fingerprint(&previous[0]),
        before,
        "the old database, renamed, unchanged"
    );
    let now = fingerprint(other.name());
    assert_ne!(now.oid, before.oid, "a new database took the name");
    assert_eq!(now.tables, source.tables, "it holds the backup");
    assert_no_scratch_left(other.name());
}

// 6. No confirmation without a terminal; dry run.

#[test]
fn replacing_the_database_without_a_terminal_needs_yes_and_dry_run_changes_nothing() {
    let env = Env::local();
    backed_up(&env);
    let before = fingerprint(env.db.name());

    let output = env
        .ctx
        .std_cmd()
        .arg("restore")
        .stdin(Stdio::null())
        .output()
        .expect("run campctl");
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("--yes"), "{}", stderr(&output));
    assert_eq!(fingerprint(env.db.name()), before, "the target is untouched");
    assert_nothing_created(env.db.name());

    let output = env.run(&["restore", "--dry-run"]);
    assert_exit(&output, 0);
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), stderr(&output));
    assert!(text.contains("Dry run"), "{text}");
    assert!(text.contains("CREATE DATABASE"), "the plan names its steps: {text}");
    assert!(
        text.contains("__pre_restore_"),
        "the plan names the aside database: {text}"
    );
    assert_eq!(fingerprint(env.db.name()), before, "the target is untouched");
    assert_nothing_created(env.db.name());
}

// 7. An archive version the chosen pg_restore cannot read.

/// The real pg_dump of the test's database into `path` (`format` is `c` or `p`).
fn pg_dump_to(env: &BackupEnv, format: &str, path: &Path) {
    let format = format!("--format={format}");
    pg().run_tool(
        "pg_dump",
        env.db.name(),
        &[&format, "--compress=0", "--file", path_str(path)],
    );
}

#[test]
fn an_archive_newer_than_pg_restore_reads_is_refused_before_anything_is_created() {
    let env = Env::local();
    env.db.execute(SEED);
    let path = env.ctx.home().join("dumps/new.dump");
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    pg_dump_to(&env, "c", &path);
    let mut bytes = std::fs::read(&path).expect("read the dump");
    assert_eq!(&bytes[..6], b"PGDMP\x01", "a custom-format archive, version 1.x");
    bytes[6] = 16;
    std::fs::write(&path, &bytes).expect("patch the dump");
    let target = format!("{}_v", env.db.name());

    let output = env.run(&[
        "restore",
        path_str(&path),
        "--to",
        &target,
        "--pg-restore",
        path_str(&real_pg_restore()),
    ]);
    assert_exit(&output, 2);
    let text = stderr(&output);
    assert!(text.contains("version 1.16."), "names the archive version: {text}");
    assert!(text.contains("reads versions up to 1.14"), "{text}");
    assert!(
        text.contains("newer PostgreSQL client") && text.contains("--pg-restore"),
        "says what to do: {text}"
    );
    assert_nothing_created(env.db.name());
}

#[test]
fn a_manifest_recording_a_newer_archive_version_is_refused_before_the_download() {
    let env = Env::local();
    let report = backed_up(&env);
    let manifest_path = local_manifest(&env, &report);
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).expect("read the manifest")).expect("manifest JSON");
    manifest["archive"]["version"] = "1.16.0".into();
    std::fs::write(&manifest_path, serde_json::to_vec_pretty(&manifest).expect("JSON")).expect("write");
    // Without its archive a download would fail with exit 10: exit 2 shows the version was checked first.
    std::fs::remove_file(local_archive(&env, &report)).expect("remove the archive");
    let target = format!("{}_v", env.db.name());

    let output = env.run(&["restore", "--to", &target, "--pg-restore", path_str(&real_pg_restore())]);
    assert_exit(&output, 2);
    let text = stderr(&output);
    assert!(text.contains("version 1.16.0"), "{text}");
    assert!(text.contains("--pg-restore"), "{text}");

    let output = env.run(&["test-restore", "--pg-restore", path_str(&real_pg_restore())]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("version 1.16.0"), "{}", stderr(&output));
    assert_nothing_created(env.db.name());
}

// 8. Not an archive.

#[test]
fn a_plain_sql_dump_exits_2_and_garbage_exits_1_and_nothing_is_created() {
    let env = Env::local();
    env.db.execute(SEED);
    let dir = env.ctx.home().join("dumps");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let plain = dir.join("plain.sql");
    pg_dump_to(&env, "p", &plain);
    let target = format!("{}_x", env.db.name());

    let output = env.run(&["restore", path_str(&plain), "--to", &target]);
    assert_exit(&output, 2);
    let text = stderr(&output);
    assert!(text.contains("plain SQL script"), "{text}");
    assert!(text.contains("psql"), "{text}");
    assert_nothing_created(env.db.name());

    // Bytes from a fixed pseudo-random sequence; the first one rules out the zstd and gzip magic numbers.
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    let mut garbage: Vec<u8> = (0..200_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 56) as u8
        })
        .collect();
    garbage[0] = b'x';
    let garbage_path = dir.join("garbage.dump");
    std::fs::write(&garbage_path, &garbage).expect("write garbage");
    let output = env.run(&["restore", path_str(&garbage_path), "--to", &target]);
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("not a pg_dump custom-format archive"),
        "{}",
        stderr(&output)
    );
    assert_nothing_created(env.db.name());

    let output = env.run(&["test-restore", path_str(&garbage_path)]);
    assert_exit(&output, 1);
    assert_nothing_created(env.db.name());
}

// 9. Not found.

#[test]
fn a_missing_file_or_a_database_without_backups_exits_10() {
    let env = Env::local();
    let missing = env.ctx.home().join("no/such/backup.dump");
    let target = format!("{}_x", env.db.name());
    let output = env.run(&["restore", path_str(&missing), "--to", &target]);
    assert_exit(&output, 10);
    assert!(stderr(&output).contains("does not exist"), "{}", stderr(&output));

    let nosuch = format!("{}_nosuchdb", env.db.name());
    let output = env.run(&["restore", "--db", &nosuch, "latest", "--yes"]);
    assert_exit(&output, 10);
    assert!(
        stderr(&output).contains(&format!("No backup of database `{nosuch}`")),
        "{}",
        stderr(&output)
    );
    let output = env.run(&["test-restore", "--db", &nosuch]);
    assert_exit(&output, 10);
    assert_nothing_created(env.db.name());
}

// 10. A spool directory without space.

#[test]
fn a_spool_directory_without_space_exits_2_before_anything_is_created() {
    let env = Env::local();
    backed_up(&env);
    let tmpfs = Tmpfs::mount("1m");
    let spool = tmpfs.path().join("spool");
    let before = fingerprint(env.db.name());

    let output = env.run(&["restore", "--jobs", "2", "--spool-dir", path_str(&spool), "--yes"]);
    let left: Vec<_> = std::fs::read_dir(&spool)
        .map(|entries| entries.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert_exit(&output, 2);
    let text = stderr(&output);
    assert!(text.contains(path_str(&spool)), "names the spool directory: {text}");
    assert!(text.contains("--jobs 1"), "suggests streaming: {text}");
    assert!(left.is_empty(), "no spool file left: {left:?}");
    assert_eq!(fingerprint(env.db.name()), before, "the target is untouched");
    assert_nothing_created(env.db.name());

    let output = env.run(&["test-restore", "--jobs", "2", "--spool-dir", path_str(&spool)]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("--jobs 1"), "{}", stderr(&output));
    assert_nothing_created(env.db.name());
    drop(tmpfs);
}

/// Without a manifest the size is not known in advance: a spool directory that fills up must still end as clearly
/// (the spool directory named, `--jobs 1` suggested, nothing left behind).
#[test]
fn a_spool_directory_that_fills_up_with_an_archive_without_manifest_says_what_to_do() {
    let env = Env::local();
    env.db
        .execute("CREATE TABLE big AS SELECT g, md5(g::text) AS h FROM generate_series(1, 60000) g");
    let path = env.ctx.home().join("dumps/big.dump");
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    pg_dump_to(&env, "c", &path);
    assert!(
        std::fs::metadata(&path).expect("stat").len() > 2 << 20,
        "bigger than the spool directory"
    );
    let tmpfs = Tmpfs::mount("1m");
    let spool = tmpfs.path().join("spool");
    let target = format!("{}_x", env.db.name());

    let output = env.run(&[
        "restore",
        path_str(&path),
        "--to",
        &target,
        "--jobs",
        "2",
        "--spool-dir",
        path_str(&spool),
    ]);
    assert_no_files_in(&spool);
    assert_nothing_created(env.db.name());
    assert_exit(&output, 2);
    let text = stderr(&output);
    assert!(text.contains(path_str(&spool)), "names the spool directory: {text}");
    assert!(text.contains("--jobs 1"), "suggests streaming: {text}");
    drop(tmpfs);
}

#[test]
fn a_named_backup_of_another_database_is_not_restored_over_the_configured_one() {
    let env = Env::local();
    let report = backed_up(&env);
    let name = report["name"].as_str().expect("name");
    let other = env.ctx.db();
    other.execute("CREATE TABLE keep (id int); INSERT INTO keep VALUES (1)");
    let before = fingerprint(other.name());

    // The configured database is `other`; the backup is of the env's database.
    let output = env
        .ctx
        .cmd()
        .args(["--db-url", &other.url(), "restore", name, "--yes"])
        .output()
        .expect("run campctl");
    assert_exit(&output, 2);
    let text = stderr(&output);
    assert!(text.contains(&format!("is a backup of `{}`", env.db.name())), "{text}");
    assert!(text.contains("--to"), "{text}");
    assert_eq!(
        fingerprint(other.name()),
        before,
        "the configured database is untouched"
    );
    assert_nothing_created(other.name());
    assert_nothing_created(env.db.name());
}
