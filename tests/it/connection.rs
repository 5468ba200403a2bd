//! The PostgreSQL connection end to end: TLS modes against the harness's certificate, passwords from ~/.pgpass,
//! and the exit code of every connection failure (DESIGN.md, "Exit codes").

use std::io::Read as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{TestContext, assert_exit, campctl_snapshot, pg};

fn check(ctx: &TestContext, url: &str) -> std::process::Output {
    ctx.cmd()
        .args(["--db-url", url, "--format", "json", "config", "check"])
        .output()
        .expect("run campctl")
}

fn tls_url(host: &str, db: &str, mode: &str, ca: &std::path::Path) -> String {
    let pg = pg();
    format!(
        "postgres://{}:{}@{host}:{}/{db}?sslmode={mode}&sslrootcert={}",
        pg.superuser(),
        pg.password(),
        pg.port(),
        ca.display()
    )
}

#[test]
fn verify_full_with_the_right_ca_uses_tls() {
    let ctx = TestContext::new();
    let db = ctx.db();
    let output = check(&ctx, &tls_url("localhost", db.name(), "verify-full", pg().ca_path()));
    assert_exit(&output, 0);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let detail = json["checks"][1]["detail"].as_str().expect("detail");
    assert!(detail.contains("TLSv1.3"), "{detail}");
    assert!(detail.contains(&format!("database `{}`", db.name())), "{detail}");
}

#[test]
fn verify_ca_accepts_an_ip_that_is_not_checked_against_the_name() {
    let ctx = TestContext::new();
    let db = ctx.db();
    // The server certificate names localhost and 127.0.0.1; ::1-less setups still pass with verify-ca.
    let output = check(&ctx, &tls_url("127.0.0.1", db.name(), "verify-ca", pg().ca_path()));
    assert_exit(&output, 0);
}

#[test]
fn wrong_ca_fails_with_a_tls_hint() {
    let ctx = TestContext::new();
    let db = ctx.db();
    let url = tls_url("localhost", db.name(), "verify-full", pg().other_ca_path());
    let filters = {
        let mut f = ctx.filters();
        f.push((
            regex::escape(&pg().other_ca_path().display().to_string()),
            "[OTHER_CA]".into(),
        ));
        f
    };
    campctl_snapshot!(filters, ctx.cmd().args(["--db-url", &url, "config", "check"]));
}

#[test]
fn require_without_ca_encrypts_without_verifying() {
    let ctx = TestContext::new();
    let db = ctx.db();
    let pg = pg();
    let url = format!(
        "postgres://{}:{}@127.0.0.1:{}/{}?sslmode=require",
        pg.superuser(),
        pg.password(),
        pg.port(),
        db.name()
    );
    let output = check(&ctx, &url);
    assert_exit(&output, 0);
    assert!(String::from_utf8_lossy(&output.stdout).contains("TLSv1.3"));
}

#[test]
fn sslmode_disable_is_plaintext() {
    let ctx = TestContext::new();
    let db = ctx.db();
    let output = check(&ctx, &db.url());
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).contains("no TLS"));
}

#[test]
fn libpq_variables_and_root_cert_env() {
    let ctx = TestContext::new();
    let db = ctx.db();
    let pg = pg();
    let output = ctx
        .cmd()
        .env("PGHOST", "localhost")
        .env("PGPORT", pg.port().to_string())
        .env("PGUSER", pg.superuser())
        .env("PGPASSWORD", pg.password())
        .env("PGDATABASE", db.name())
        .env("PGSSLMODE", "verify-full")
        .env("PGSSLROOTCERT", pg.ca_path())
        .env("PGAPPNAME", "campctl-test")
        .args(["--format", "json", "config", "check"])
        .output()
        .expect("run");
    assert_exit(&output, 0);
}

#[test]
fn root_cert_from_home_directory() {
    let ctx = TestContext::new();
    let db = ctx.db();
    let pg = pg();
    ctx.write_file(".postgresql/root.crt", std::fs::read(pg.ca_path()).expect("ca"));
    let url = format!(
        "postgres://{}:{}@localhost:{}/{}?sslmode=verify-full",
        pg.superuser(),
        pg.password(),
        pg.port(),
        db.name()
    );
    let output = check(&ctx, &url);
    assert_exit(&output, 0);
}

#[test]
fn password_from_pgpass() {
    let ctx = TestContext::new();
    let db = ctx.db();
    let pg = pg();
    let pgpass = ctx.write_file(
        ".pgpass",
        format!(
            "# comment\nother:1:*:*:nope\n127.0.0.1:{}:*:{}:{}\n",
            pg.port(),
            pg.superuser(),
            pg.password()
        ),
    );
    let url = format!(
        "postgres://{}@127.0.0.1:{}/{}?sslmode=disable",
        pg.superuser(),
        pg.port(),
        db.name()
    );
    // libpq ignores a password file that others can read; so do we.
    std::fs::set_permissions(&pgpass, std::os::unix::fs::PermissionsExt::from_mode(0o644)).expect("chmod");
    let output = check(&ctx, &url);
    assert_exit(&output, 12);
    assert!(String::from_utf8_lossy(&output.stderr).contains("group or world access"));
    std::fs::set_permissions(&pgpass, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
    let output = check(&ctx, &url);
    assert_exit(&output, 0);
    // PGPASSFILE points elsewhere.
    let moved = ctx.home().join("elsewhere.pgpass");
    std::fs::rename(&pgpass, &moved).expect("rename");
    let output = ctx
        .cmd()
        .env("PGPASSFILE", &moved)
        .args(["--db-url", &url, "config", "check"])
        .output()
        .expect("run");
    assert_exit(&output, 0);
}

#[test]
fn wrong_password_exits_12() {
    let ctx = TestContext::new();
    let db = ctx.db();
    let url = format!(
        "postgres://{}:wrong@127.0.0.1:{}/{}?sslmode=disable",
        pg().superuser(),
        pg().port(),
        db.name()
    );
    let output = campctl_snapshot!(ctx.filters(), ctx.cmd().args(["--db-url", &url, "stats"]));
    assert!(!String::from_utf8_lossy(&output.stderr).contains(pg().password()));
}

#[test]
fn missing_password_exits_12() {
    let ctx = TestContext::new();
    let url = format!(
        "postgres://{}@127.0.0.1:{}/postgres?sslmode=disable",
        pg().superuser(),
        pg().port()
    );
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["--db-url", &url, "stats"]));
}

#[test]
fn missing_database_exits_10() {
    let ctx = TestContext::new();
    let pg = pg();
    let url = format!(
        "postgres://{}:{}@127.0.0.1:{}/no_such_db?sslmode=disable",
        pg.superuser(),
        pg.password(),
        pg.port()
    );
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["--db-url", &url, "stats"]));
}

#[test]
fn missing_role_exits_10() {
    let ctx = TestContext::new();
    // Over TCP with scram the server hides whether a role exists; over the trusted socket it says so.
    let socket = pg().socket_dir().display().to_string();
    let url = format!(
        "postgres:///postgres?host={socket}&port={}&user=no_such_role",
        pg().port()
    );
    let mut filters = ctx.filters();
    filters.insert(0, (regex::escape(&socket), "[SOCKET_DIR]".into()));
    campctl_snapshot!(filters, ctx.cmd().args(["--db-url", &url, "stats"]));
}

#[test]
fn config_check_reports_server_and_pg_dump() {
    let ctx = TestContext::new();
    let db = ctx.db();
    let output = check(&ctx, &db.url());
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(json["ok"], true, "{json}");
    assert_eq!(json["checks"][3]["name"], "pg_dump");
    assert!(
        json["checks"][3]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("pg_dump (PostgreSQL) 15")),
        "{json}"
    );
}

#[test]
fn session_settings_come_from_config() {
    let ctx = TestContext::new();
    let db = ctx.db();
    ctx.write_file(
        "campctl.toml",
        format!(
            "[database]\nurl = \"{}\"\nstatement_timeout = \"90s\"\nlock_timeout = \"1500ms\"\n",
            db.url()
        ),
    );
    let output = ctx
        .cmd()
        .args(["--format", "json", "config", "check"])
        .output()
        .expect("run");
    assert_exit(&output, 0);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(json["checks"][2]["name"], "session");
    assert_eq!(
        json["checks"][2]["detail"],
        "statement_timeout=90s lock_timeout=1500ms application_name=campctl"
    );
}

#[test]
fn broken_pipe_on_stdout_exits_0() {
    let ctx = TestContext::new();
    let db = ctx.db();
    for format in ["table", "json", "csv"] {
        broken_pipe(&ctx, &["--db-url", &db.url(), "--format", format, "stats", "tables"]);
    }
    broken_pipe(&ctx, &["--db-url", &db.url(), "config", "show"]);
}

fn broken_pipe(ctx: &TestContext, args: &[&str]) {
    let mut command = ctx.std_cmd();
    let mut child = command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let status = child.wait().expect("wait");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read");
    assert_eq!(status.code(), Some(0), "{args:?}: {stderr}");
    assert!(!stderr.contains("error"), "{args:?}: {stderr}");
}

#[test]
fn sigint_while_connecting_exits_130() {
    let ctx = TestContext::new();
    // A listener that accepts TCP and never answers: the connection attempt hangs until the signal.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let url = format!("postgres://u:p@127.0.0.1:{port}/db?sslmode=disable&connect_timeout=60");
    let mut command = ctx.std_cmd();
    let mut child = command
        .args(["--db-url", &url, "config", "check"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    listener.set_nonblocking(true).expect("nonblocking");
    let deadline = Instant::now() + Duration::from_secs(20);
    let _accepted = loop {
        match listener.accept() {
            Ok(pair) => break pair,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(err) => {
                let _ = child.kill();
                panic!("campctl never connected: {err}");
            }
        }
    };
    let pid = i32::try_from(child.id()).expect("pid");
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let started = Instant::now();
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn server_that_never_answers_times_out_with_exit_2() {
    let ctx = TestContext::new();
    // Accepts TCP and never speaks: only a timeout over the whole startup ends this.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let url = format!("postgres://u:p@127.0.0.1:{port}/db?sslmode=disable&connect_timeout=2");
    let mut filters = ctx.filters();
    filters.insert(0, (format!(r"\b{port}\b"), "[SILENT_PORT]".into()));
    let started = Instant::now();
    campctl_snapshot!(filters, ctx.cmd().args(["--db-url", &url, "config", "check"]));
    assert!(started.elapsed() < Duration::from_secs(10));
    drop(listener);
}

#[test]
fn warnings_are_json_lines_with_log_format_json() {
    let ctx = TestContext::new();
    let db = ctx.db();
    let pgpass = ctx.write_file(".pgpass", "*:*:*:*:whatever\n");
    std::fs::set_permissions(&pgpass, std::os::unix::fs::PermissionsExt::from_mode(0o644)).expect("chmod");
    let output = ctx
        .cmd()
        .args([
            "--log-format",
            "json",
            "--db-url",
            &socket_url(db.name()),
            "config",
            "check",
        ])
        .output()
        .expect("run");
    assert_exit(&output, 0);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr.lines().next().expect("a warning line");
    let json: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
    assert_eq!(json["level"], "WARN");
    assert!(
        json["message"]
            .as_str()
            .is_some_and(|m| m.contains("group or world access")),
        "{json}"
    );
    assert!(
        output.stdout.starts_with(b"Configuration check"),
        "stdout stays data only"
    );
}

/// The trusted unix socket of the test cluster: no password needed, so `.pgpass` is consulted but not required.
fn socket_url(db: &str) -> String {
    format!(
        "postgres:///{db}?host={}&port={}&user={}",
        pg().socket_dir().display(),
        pg().port(),
        pg().superuser()
    )
}
