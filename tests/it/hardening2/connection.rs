//! Hardening 2 regressions (connections, parity with libpq): items 4, 5, 6, 9 and 11 of the issue. Each compares
//! campctl with `psql` of the harness's PostgreSQL under the same environment, or with what a stand-in server
//! received: a server that asks every client for a cleartext password (`AuthenticationCleartextPassword`, a few
//! bytes of the protocol, below) and records what it was sent.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

use crate::backup::BackupEnv;
use crate::common::{TestContext, assert_exit, pg, unique_suffix};

/// A login role with a password, dropped with the guard.
struct Role {
    name: String,
    password: String,
}

impl Role {
    fn new(prefix: &str, password: &str, superuser: bool) -> Self {
        Self::named(&format!("{prefix}_{}", unique_suffix('_')), password, superuser)
    }

    fn named(name: &str, password: &str, superuser: bool) -> Self {
        let superuser = if superuser { " SUPERUSER" } else { "" };
        pg().execute(
            "postgres",
            &format!("CREATE ROLE \"{name}\" LOGIN{superuser} PASSWORD '{password}'"),
        );
        Self {
            name: name.to_string(),
            password: password.to_string(),
        }
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        // No panic here: this may run while a failed test unwinds.
        if let Ok(mut client) = pg().config("postgres").connect(postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP ROLE IF EXISTS \"{}\"", self.name));
        }
    }
}

/// Writes a password file (mode 0600) into the test's HOME.
fn pgpass(ctx: &TestContext, name: &str, lines: &str) -> std::path::PathBuf {
    let path = ctx.write_file(name, lines);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
    path
}

/// `psql -X -w -At` with only `env` (and HOME) set, printing `user|database|port` of the connection.
fn psql(ctx: &TestContext, env: &[(&str, &str)], conninfo: Option<&str>) -> Output {
    let mut command = std::process::Command::new(pg().bin_dir().join("psql"));
    command
        .env_clear()
        .env("HOME", ctx.home())
        .envs(env.iter().copied())
        .args([
            "-X",
            "-w",
            "-At",
            "-c",
            "SELECT current_user || '|' || current_database() || '|' || coalesce(inet_server_port(), 0)",
        ]);
    if let Some(conninfo) = conninfo {
        command.arg(conninfo);
    }
    command.output().expect("run psql")
}

/// What psql connected as: `(user, database, port)`.
fn psql_identity(output: &Output) -> (String, String, String) {
    assert!(
        output.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let mut parts = text.trim().split('|').map(str::to_string);
    let mut next = || parts.next().expect("user|database|port");
    (next(), next(), next())
}

/// What campctl connected as, from `config check`: `(user, database, port)`.
fn campctl_identity(output: &Output) -> (String, String, String) {
    assert_exit(output, 0);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("config check JSON");
    let detail = json["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|check| check["name"] == "database")
        .and_then(|check| check["detail"].as_str())
        .expect("the database check")
        .to_string();
    // "connected to `127.0.0.1:PORT` as `USER`, database `DB`, …"
    let quoted: Vec<&str> = detail.split('`').skip(1).step_by(2).collect();
    let port = quoted[0].rsplit(['.', ':']).next().expect("port").to_string();
    (quoted[1].to_string(), quoted[2].to_string(), port)
}

/// The stand-in server: every connection is asked for a cleartext password and refused; what each client sent
/// (`None`: it sent no password) is recorded in order.
#[derive(Clone, Default)]
struct PasswordTrap {
    received: Arc<Mutex<Vec<Option<String>>>>,
}

impl PasswordTrap {
    fn tcp(&self) -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let trap = self.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                trap.serve(stream);
            }
        });
        port
    }

    fn unix(&self, dir: &Path, port: u16) {
        let listener = std::os::unix::net::UnixListener::bind(dir.join(format!(".s.PGSQL.{port}"))).expect("bind");
        let trap = self.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                trap.serve(stream);
            }
        });
    }

    fn take(&self) -> Vec<Option<String>> {
        std::mem::take(&mut *self.received.lock().expect("lock"))
    }

    fn serve(&self, mut stream: impl Read + Write) {
        let answer = Self::ask(&mut stream);
        self.received.lock().expect("lock").push(answer);
        // ErrorResponse: FATAL 28P01, so that the client reports an authentication failure.
        let mut fields = Vec::new();
        for (code, value) in [
            (b'S', "FATAL"),
            (b'V', "FATAL"),
            (b'C', "28P01"),
            (b'M', "password authentication failed"),
        ] {
            fields.push(code);
            fields.extend_from_slice(value.as_bytes());
            fields.push(0);
        }
        fields.push(0);
        let mut message = vec![b'E'];
        message.extend_from_slice(&u32::try_from(fields.len() + 4).expect("small").to_be_bytes());
        message.extend_from_slice(&fields);
        let _ = stream.write_all(&message);
    }

    /// Reads the startup message (declining TLS and GSS encryption), asks for a cleartext password, and returns the
    /// password the client sent.
    fn ask(stream: &mut (impl Read + Write)) -> Option<String> {
        let read_body = |stream: &mut dyn Read| -> Option<Vec<u8>> {
            let mut length = [0; 4];
            stream.read_exact(&mut length).ok()?;
            let mut body = vec![0; usize::try_from(u32::from_be_bytes(length)).ok()?.checked_sub(4)?];
            stream.read_exact(&mut body).ok()?;
            Some(body)
        };
        loop {
            let body = read_body(stream)?;
            let code = u32::from_be_bytes(body.get(..4)?.try_into().ok()?);
            // SSLRequest, GSSENCRequest: "N", then the real startup message follows.
            if code == 80_877_103 || code == 80_877_104 {
                stream.write_all(b"N").ok()?;
                continue;
            }
            break;
        }
        // AuthenticationCleartextPassword.
        stream.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3]).ok()?;
        let mut tag = [0; 1];
        stream.read_exact(&mut tag).ok()?;
        if tag[0] != b'p' {
            return None;
        }
        let body = read_body(stream)?;
        let end = body.iter().position(|byte| *byte == 0).unwrap_or(body.len());
        Some(String::from_utf8_lossy(&body[..end]).into_owned())
    }
}

#[test]
fn item_04_a_password_is_never_sent_to_another_host_or_user() {
    let ctx = TestContext::new();
    let db = ctx.db();
    let cluster = pg();
    // Alice's password, for the real server, in the file.
    ctx.write_file(
        "campctl.toml",
        format!(
            "[database]\nurl = \"postgres://{}:alice-secret@127.0.0.1:{}/{}?sslmode=disable\"\n",
            cluster.superuser(),
            cluster.port(),
            db.name()
        ),
    );

    // Another host (and user) on the command line: the stand-in there must receive nothing.
    let trap = PasswordTrap::default();
    let other = trap.tcp();
    let output = ctx
        .cmd()
        .args([
            "--db-url",
            &format!("postgres://mallory@127.0.0.1:{other}/x"),
            "config",
            "check",
        ])
        .output()
        .expect("run");
    assert_exit(&output, 12);
    let received = trap.take();
    assert!(!received.is_empty(), "campctl never reached the stand-in");
    assert!(
        received.iter().all(Option::is_none),
        "a password was sent to another host: {received:?}"
    );

    // The same server as another user: bob's own `.pgpass` entry is used, as psql uses it.
    let bob = Role::new("bob", "bob-pw", false);
    pgpass(
        &ctx,
        ".pgpass",
        &format!("127.0.0.1:{}:*:{}:{}\n", cluster.port(), bob.name, bob.password),
    );
    let url = format!(
        "postgres://{}@127.0.0.1:{}/{}?sslmode=disable",
        bob.name,
        cluster.port(),
        db.name()
    );
    let campctl = ctx
        .cmd()
        .args(["--db-url", &url, "--format", "json", "config", "check"])
        .output()
        .expect("run");
    let psql = psql(&ctx, &[], Some(&url));
    assert_eq!(campctl_identity(&campctl), psql_identity(&psql));
    assert_eq!(psql_identity(&psql).0, bob.name);

    // PGUSER=bob changes the user of the file's URL likewise.
    let campctl = ctx
        .cmd()
        .env("PGUSER", &bob.name)
        .args(["--format", "json", "config", "check"])
        .output()
        .expect("run");
    assert_eq!(campctl_identity(&campctl).0, bob.name);
}

#[test]
fn item_05_a_socket_is_looked_up_in_pgpass_by_its_directory() {
    let ctx = TestContext::new();
    let dir = tempfile::tempdir().expect("a socket directory");
    let port = 5999;
    let trap = PasswordTrap::default();
    trap.unix(dir.path(), port);
    let socket = dir.path().display().to_string();
    // The socket directory's line, and a `localhost` line that libpq uses only for the default directory.
    pgpass(
        &ctx,
        ".pgpass",
        &format!("localhost:{port}:*:alice:localhost-pw\n{socket}:{port}:*:alice:socket-pw\n"),
    );
    let conninfo = format!("host={socket} port={port} user=alice dbname=app");
    let output = ctx
        .cmd()
        .args(["--db-url", &conninfo, "config", "check"])
        .output()
        .expect("run");
    assert_exit(&output, 12);
    let from_campctl = trap.take();
    let output = psql(&ctx, &[], Some(&conninfo));
    assert!(!output.status.success());
    let from_psql = trap.take();
    assert_eq!(from_psql, vec![Some("socket-pw".to_string())]);
    assert_eq!(from_campctl, from_psql);
}

/// A service file and an empty system directory in the test's HOME, with `[svc]` pointing at the cluster.
fn service_env(ctx: &TestContext, role: &Role, db: &str) -> Vec<(&'static str, String)> {
    let file = ctx.write_file(
        "services.conf",
        format!(
            "# campctl test\n[other]\nhost=elsewhere\n\n[svc]\nhost=127.0.0.1\nport={}\nuser={}\npassword={}\n\
             dbname={db}\nsslmode=disable\n",
            pg().port(),
            role.name,
            role.password
        ),
    );
    let sysconf = ctx.home().join("sysconf");
    std::fs::create_dir_all(&sysconf).expect("mkdir");
    vec![
        ("PGSERVICEFILE", file.display().to_string()),
        ("PGSYSCONFDIR", sysconf.display().to_string()),
        // The service's values beat these (libpq).
        ("PGUSER", pg().superuser().to_string()),
        ("PGDATABASE", "postgres".to_string()),
        ("PGPASSWORD", "not-the-password".to_string()),
    ]
}

#[test]
fn item_06_the_service_file_is_read_as_psql_reads_it() {
    let ctx = TestContext::new();
    let db = ctx.db();
    let role = Role::new("svc", "svc-pw", false);
    let mut env = service_env(&ctx, &role, db.name());
    env.push(("PGSERVICE", "svc".to_string()));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(name, value)| (*name, value.as_str())).collect();

    let campctl = ctx
        .cmd()
        .envs(pairs.iter().copied())
        .args(["--format", "json", "config", "check"])
        .output()
        .expect("run");
    let psql_output = psql(&ctx, &pairs, None);
    let expected = (role.name.clone(), db.name().to_string(), pg().port().to_string());
    assert_eq!(psql_identity(&psql_output), expected);
    assert_eq!(campctl_identity(&campctl), expected);

    // `service=` in a key/value string and `?service=` in a URL; their own values beat the service's.
    for conninfo in [
        "service=svc dbname=postgres",
        "postgresql://?service=svc&dbname=postgres",
    ] {
        let without_pgservice: Vec<(&str, &str)> =
            pairs.iter().copied().filter(|(name, _)| *name != "PGSERVICE").collect();
        let campctl = ctx
            .cmd()
            .envs(without_pgservice.iter().copied())
            .args(["--db-url", conninfo, "--format", "json", "config", "check"])
            .output()
            .expect("run");
        let psql_output = psql(&ctx, &without_pgservice, Some(conninfo));
        assert_eq!(campctl_identity(&campctl), psql_identity(&psql_output), "{conninfo}");
        assert_eq!(psql_identity(&psql_output).1, "postgres", "{conninfo}");
    }

    // A service that is defined nowhere is an error, as with psql.
    let output = ctx
        .cmd()
        .envs(pairs.iter().copied())
        .env("PGSERVICE", "nope")
        .args(["config", "check"])
        .output()
        .expect("run");
    assert_exit(&output, 2);
    assert!(String::from_utf8_lossy(&output.stderr).contains("service `nope` not found"));
}

/// `key=value` for the trusted socket of the cluster, as the superuser, in `db`.
fn socket_conninfo(db: &str) -> String {
    let cluster = pg();
    format!(
        "host={} port={} user={} dbname={db}",
        cluster.socket_dir().display(),
        cluster.port(),
        cluster.superuser(),
    )
}

#[test]
fn item_09_an_unescaped_colon_ends_the_pgpass_password() {
    let ctx = TestContext::new();
    let db = ctx.db();
    let cluster = pg();
    // The role's password is `pa`: libpq reads `pa:ss` as `pa`.
    let role = Role::new("colon", "pa", false);
    pgpass(
        &ctx,
        ".pgpass",
        &format!("127.0.0.1:{}:*:{}:pa:ss\n", cluster.port(), role.name),
    );
    let url = format!(
        "postgres://{}@127.0.0.1:{}/{}?sslmode=disable",
        role.name,
        cluster.port(),
        db.name()
    );
    let campctl = ctx
        .cmd()
        .args(["--db-url", &url, "--format", "json", "config", "check"])
        .output()
        .expect("run");
    assert_eq!(campctl_identity(&campctl), psql_identity(&psql(&ctx, &[], Some(&url))));
}

#[test]
fn item_09_a_passfile_that_is_a_directory_gets_a_warning() {
    let ctx = TestContext::new();
    let db = ctx.db();
    let socket = socket_conninfo(db.name());
    let output = ctx
        .cmd()
        .env("PGPASSFILE", ctx.home())
        .args(["--db-url", &socket, "config", "check"])
        .output()
        .expect("run");
    assert_exit(&output, 0);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("is not a plain file"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn item_09_connect_timeout_zero_or_negative_waits_forever() {
    let ctx = TestContext::new();
    let socket = socket_conninfo("postgres");
    // Shown as 0 by `config show`, as libpq's "no timeout".
    for value in ["0", "-5"] {
        let output = ctx
            .cmd()
            .env("PGCONNECT_TIMEOUT", value)
            .args(["--db-url", &socket, "--format", "json", "config", "show"])
            .output()
            .expect("run");
        assert_exit(&output, 0);
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
        assert_eq!(json["database"]["connect_timeout"], 0, "PGCONNECT_TIMEOUT={value}");
    }
}

#[test]
fn item_09_an_empty_database_name_is_the_user_name_and_never_an_empty_object_name() {
    let cluster = pg();
    // `dbname=''`: the user name, as psql (PGDATABASE does not apply); `backup` names its objects after it.
    let env = BackupEnv::local();
    env.db.execute("CREATE TABLE t AS SELECT 1 AS x");
    let owner = Role::named(env.db.name(), "unused", true);
    let empty = format!(
        "host={} port={} user={} dbname=''",
        cluster.socket_dir().display(),
        cluster.port(),
        owner.name
    );
    let psql_output = psql(&env.ctx, &[("PGDATABASE", "postgres")], Some(&empty));
    assert_eq!(psql_identity(&psql_output).1, env.db.name());
    let output = env
        .ctx
        .cmd()
        .env("PGDATABASE", "postgres")
        .args(["--db-url", &empty, "--format", "json", "backup"])
        .output()
        .expect("run");
    assert_exit(&output, 0);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let object = report["object"].as_str().expect("object");
    assert!(object.starts_with(&format!("{0}/{0}_", env.db.name())), "{object}");
    // An empty name given outright is refused before anything is named after it.
    let output = env.run(&["backup", ""]);
    assert_exit(&output, 2);
    assert!(String::from_utf8_lossy(&output.stderr).contains("empty name"));
}

#[test]
fn item_11_target_url_hints_and_warnings_name_what_applies_to_it() {
    let env = BackupEnv::local();
    env.seed_small_table();
    env.backup(&[]);
    let cluster = pg();
    let passfile = env
        .ctx
        .write_file("target.pgpass", format!("*:*:*:*:{}\n", cluster.password()));
    std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o644)).expect("chmod 644");
    let target = format!(
        "postgres://{}@127.0.0.1:{}/postgres?sslmode=disable&passfile={}",
        cluster.superuser(),
        cluster.port(),
        passfile.display()
    );
    let output = env
        .ctx
        .cmd()
        .env("PGPASSWORD", "does-not-apply")
        .args(["test-restore", "--target-url", &target])
        .output()
        .expect("run");
    assert_exit(&output, 12);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The same warning as the main connection's password file gets.
    assert!(stderr.contains("group or world access"), "{stderr}");
    assert!(stderr.contains(&passfile.display().to_string()), "{stderr}");
    // The hint names the URL's own sources, and says that the variables do not apply.
    assert!(!stderr.contains("Set PGPASSWORD"), "{stderr}");
    assert!(stderr.contains("do not apply to --target-url"), "{stderr}");
    assert!(stderr.contains("`passfile=`"), "{stderr}");
}
