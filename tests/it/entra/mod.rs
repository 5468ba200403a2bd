//! `[database] auth = "entra"`: an Entra ID token from `[azure] credential` is the PostgreSQL password, for
//! campctl's own sessions and for the `pg_dump` it starts. The token comes from the stand-in `az`
//! (tests/common/az.rs, `fixed_token`), and a role of the test cluster has that token as its password.

use std::path::PathBuf;
use std::process::Output;

use crate::common::az::{AzCli, fixed_token};
use crate::common::{TestContext, TestDb, assert_exit, pg, unique_suffix};

const SCOPE: &str = "https://ossrdbms-aad.database.windows.net/.default";

/// A role whose password is the stand-in's token; dropped with the guard (after the test's database).
struct Role(String);

impl Drop for Role {
    fn drop(&mut self) {
        // No panic here: this may run while a failed test unwinds.
        if let Ok(mut client) = pg().config("postgres").connect(postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP ROLE IF EXISTS \"{}\"", self.0));
        }
    }
}

/// One test's database (owned by the Entra role), stand-in `az` and campctl configuration.
struct EntraEnv {
    ctx: TestContext,
    az: AzCli,
    db: TestDb,
    role: Role,
    local: PathBuf,
}

impl EntraEnv {
    /// `az` returns tokens valid for `lifetime_secs`; `[database]` has `auth = "entra"` and `database_extra`.
    fn new(lifetime_secs: u64, database_extra: &str) -> Self {
        let ctx = TestContext::new();
        let az = AzCli::fixed_token(ctx.home(), lifetime_secs);
        let db = ctx.db();
        let role = Role(format!("entra_{}", unique_suffix('_')));
        pg().execute(
            "postgres",
            &format!(
                "CREATE ROLE \"{0}\" LOGIN PASSWORD '{1}'; ALTER DATABASE \"{2}\" OWNER TO \"{0}\"",
                role.0,
                fixed_token(SCOPE),
                db.name()
            ),
        );
        let local = ctx.home().join("backups");
        let env = Self {
            ctx,
            az,
            db,
            role,
            local,
        };
        env.config(&format!(
            "user = \"{}\"\nsslmode = \"require\"\n{database_extra}",
            env.role.0
        ));
        env
    }

    /// Writes `campctl.toml`: `[database]` with `auth = "entra"` and `keys`, `[azure] credential = "cli"`, a local
    /// store.
    fn config(&self, keys: &str) {
        self.ctx.write_file(
            "campctl.toml",
            format!(
                "[database]\nhost = \"{}\"\nport = {}\ndbname = \"{}\"\nauth = \"entra\"\n{keys}\n\n[azure]\ncredential \
                 = \"cli\"\n\n[storage.local]\npath = \"{}\"\n",
                pg().host(),
                pg().port(),
                self.db.name(),
                self.local.display()
            ),
        );
    }

    fn run(&self, args: &[&str]) -> Output {
        self.ctx
            .cmd()
            .env("PATH", self.az.path_env())
            .args(args)
            .output()
            .expect("run campctl")
    }

    /// `pg_dump` wrapped so that it records, while it runs, its argv, every process's argv (`ps`) and the
    /// `PGPASSWORD` it was given.
    fn pg_dump_wrapper(&self) -> (PathBuf, PathBuf) {
        let log = self.ctx.home().join("pg_dump-seen.log");
        let script = format!(
            "#!/bin/sh\n{{ echo \"ARGV: $*\"; ps -ww -eo args; echo \"PGPASSWORD=$PGPASSWORD\"; }} >> '{}'\nexec '{}' \
             \"$@\"\n",
            log.display(),
            pg().bin_dir().join("pg_dump").display()
        );
        let path = self.ctx.write_file("bin/pg_dump", script);
        let mut permissions = std::fs::metadata(&path).expect("metadata").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        std::fs::set_permissions(&path, permissions).expect("chmod");
        (path, log)
    }

    /// The stand-in's calls, each checked to ask for the PostgreSQL audience.
    fn token_requests(&self) -> usize {
        let calls = self.az.calls();
        for call in &calls {
            assert!(
                call.contains("account get-access-token") && call.contains(&format!("--scope {SCOPE}")),
                "az was asked for another audience: {call}"
            );
        }
        calls.len()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_token_is_the_password_of_sessions_and_of_pg_dump_and_is_never_shown() {
    let env = EntraEnv::new(3600, "");
    let token = fixed_token(SCOPE);

    // campctl's own session, with every log line.
    let output = env.run(&["-vvv", "--format", "json", "stats", "database"]);
    assert_exit(&output, 0);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    assert!(
        report.to_string().contains(env.db.name()),
        "the report names the test's database: {report:#}"
    );
    assert!(!text(&output.stderr).contains(&token), "the token is in -vvv's log");
    assert!(!text(&output.stdout).contains(&token));
    assert_eq!(env.token_requests(), 1, "one token for one session");

    // pg_dump started by campctl: the token in its environment, not in anyone's argv.
    let (wrapper, seen) = env.pg_dump_wrapper();
    let output = env.run(&[
        "-vvv",
        "--format",
        "json",
        "backup",
        "--pg-dump",
        wrapper.to_str().expect("utf-8 path"),
    ]);
    assert_exit(&output, 0);
    assert!(!text(&output.stderr).contains(&token), "the token is in -vvv's log");
    let seen = std::fs::read_to_string(seen).expect("the wrapper ran");
    let dump_run = seen
        .split("ARGV: ")
        .find(|run| run.contains("--format=custom"))
        .unwrap_or_else(|| panic!("pg_dump was started to dump: {seen}"));
    assert!(
        dump_run.contains(&format!("PGPASSWORD={token}\n")),
        "pg_dump had the token as PGPASSWORD: {dump_run}"
    );
    let argv_lines = dump_run
        .lines()
        .filter(|line| !line.starts_with("PGPASSWORD="))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(argv_lines.contains("pg_dump"), "ps listed pg_dump: {argv_lines}");
    assert!(!argv_lines.contains(&token), "the token is in ps output: {argv_lines}");
    let files = std::fs::read_dir(&env.local).map_or(0, Iterator::count);
    assert!(files > 0, "the backup was stored");

    // `config show` names the method, never a token (and fetches none).
    let before = env.token_requests();
    for format in ["table", "json"] {
        let output = env.run(&["--format", format, "config", "show"]);
        assert_exit(&output, 0);
        let shown = text(&output.stdout);
        assert!(shown.contains("entra"), "{shown}");
        assert!(!shown.contains(&token), "{shown}");
    }
    assert_eq!(env.token_requests(), before);
}

#[test]
fn a_token_near_its_expiry_is_fetched_again_for_the_next_session() {
    // A token valid for a long time serves the whole backup run (its session and pg_dump) ...
    let env = EntraEnv::new(3600, "");
    let output = env.run(&["--format", "json", "backup"]);
    assert_exit(&output, 0);
    assert_eq!(env.token_requests(), 1, "{:?}", env.az.calls());

    // ... one that expires within five minutes is replaced for every new session and for pg_dump.
    let env = EntraEnv::new(60, "");
    let output = env.run(&["--format", "json", "backup"]);
    assert_exit(&output, 0);
    let requests = env.token_requests();
    assert!(requests >= 2, "a token per session: {:?}", env.az.calls());
}

#[test]
fn a_failing_credential_is_exit_12_naming_it_and_az_login() {
    let env = EntraEnv::new(3600, "");
    AzCli::logged_out(env.ctx.home());
    let output = env.run(&["stats", "database"]);
    assert_exit(&output, 12);
    let err = text(&output.stderr);
    assert!(
        err.contains("Entra ID token") && err.contains("Azure CLI") && err.contains("az login"),
        "{err}"
    );
}

#[test]
fn a_refused_token_is_exit_12_saying_a_token_was_sent() {
    let env = EntraEnv::new(3600, "");
    pg().execute(
        "postgres",
        &format!("ALTER ROLE \"{}\" PASSWORD 'not-the-token'", env.role.0),
    );
    let output = env.run(&["stats", "database"]);
    assert_exit(&output, 12);
    let err = text(&output.stderr);
    assert!(
        err.contains("with an Entra ID token")
            && err.contains("Azure CLI")
            && err.contains("pgaadauth_create_principal"),
        "{err}"
    );
    assert!(!err.contains(&fixed_token(SCOPE)), "{err}");
}

#[test]
fn entra_needs_a_configured_user_and_tls() {
    let env = EntraEnv::new(3600, "");
    // No user: the OS user is not an Entra principal.
    env.config("sslmode = \"require\"");
    let output = env.run(&["stats", "database"]);
    assert_exit(&output, 2);
    let err = text(&output.stderr);
    assert!(
        err.contains("needs the Entra principal's name") && err.contains("user"),
        "{err}"
    );

    // sslmode=disable would send the token in plain text.
    env.config(&format!("user = \"{}\"\nsslmode = \"disable\"", env.role.0));
    let output = env.run(&["stats", "database"]);
    assert_exit(&output, 2);
    let err = text(&output.stderr);
    assert!(err.contains("sslmode=disable") && err.contains("require"), "{err}");
    assert_eq!(
        env.token_requests(),
        0,
        "no token was fetched for a refused configuration"
    );

    // Without an sslmode, TLS is required (the cluster has TLS on, so this connects).
    env.config(&format!("user = \"{}\"", env.role.0));
    let output = env.run(&["--format", "json", "config", "show"]);
    assert_exit(&output, 0);
    assert!(text(&output.stdout).contains("require"), "{}", text(&output.stdout));
    assert_exit(&env.run(&["stats", "database"]), 0);
}

/// Drops a database made by a test (with the guard, also when the test fails).
struct DropDb(String);

impl Drop for DropDb {
    fn drop(&mut self) {
        if let Ok(mut client) = pg().config("postgres").connect(postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.0));
        }
    }
}

#[test]
fn pg_restore_started_by_campctl_logs_in_with_a_fresh_token() {
    let env = EntraEnv::new(60, "");
    pg().execute("postgres", &format!("ALTER ROLE \"{}\" CREATEDB", env.role.0));
    env.db.execute(&format!(
        "CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g; ALTER TABLE t OWNER TO \"{}\"",
        env.role.0
    ));
    assert_exit(&env.run(&["--format", "json", "backup"]), 0);
    let after_backup = env.token_requests();
    let copy = DropDb(format!("{}__copy_entra", env.db.name()));
    let output = env.run(&["--format", "json", "restore", "--to", &copy.0, "--yes"]);
    assert_exit(&output, 0);
    // The token has one minute left: the restore's sessions and pg_restore each fetched a new one.
    assert!(env.token_requests() >= after_backup + 2, "{:?}", env.az.calls());
    let rows: i64 = pg()
        .client(&copy.0)
        .query_one("SELECT count(*) FROM t", &[])
        .expect("the restored table")
        .get(0);
    assert_eq!(rows, 1000);
}
