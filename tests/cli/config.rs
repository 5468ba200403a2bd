//! `campctl config show`: precedence (flag > environment > file > default), profiles and redaction of secrets.

use crate::common::{TestContext, campctl_snapshot};

const FILE: &str = r#"
[database]
url = "postgres://file_user:file-secret@file-host:6000/file_db?sslmode=verify-full"
sslrootcert = "/etc/ssl/ca.pem"
statement_timeout = "30m"
lock_timeout = "10s"

[output]
format = "table"

[stats]
limit = 5
min_duration = "2m"

[profiles.prod.database]
host = "prod-db.postgres.database.azure.com"
password = "prod-secret"
"#;

/// `config show` lists the resolved stores, and the default local store is `/var/backups/campctl` as root but
/// `$XDG_DATA_HOME/campctl/backups` otherwise. `XDG_DATA_HOME=/var` makes the latter `/var/campctl/backups`, as long
/// as the former, so that the table has the same width either way, and a filter names both `[DEFAULT_STORE]`.
fn default_store(ctx: &TestContext) -> (Vec<(String, String)>, assert_cmd::Command) {
    let mut filters = ctx.filters();
    filters.push((
        "/var/backups/campctl|/var/campctl/backups".to_string(),
        "[DEFAULT_STORE]".to_string(),
    ));
    let mut command = ctx.cmd();
    command.env("XDG_DATA_HOME", "/var");
    (filters, command)
}

#[test]
fn show_defaults_without_file() {
    let ctx = TestContext::new();
    let (filters, mut command) = default_store(&ctx);
    campctl_snapshot!(
        filters,
        command
            .env("PGHOST", "localhost")
            .env("PGUSER", "ops")
            .args(["config", "show"])
    );
}

#[test]
fn show_file_redacts_password() {
    let ctx = TestContext::new();
    ctx.write_file("campctl.toml", FILE);
    // A relative --config keeps the table's width independent of the temp dir's name.
    let (filters, mut command) = default_store(&ctx);
    let output = campctl_snapshot!(filters, command.args(["--config", "campctl.toml", "config", "show"]));
    assert!(!String::from_utf8_lossy(&output.stdout).contains("file-secret"));
}

/// Each `[backup]`, `[restore]` and `[test_restore]` key shows its value and where it came from: the file, or the
/// default the command's resolver uses.
#[test]
fn show_names_the_source_of_command_sections() {
    let ctx = TestContext::new();
    ctx.write_file(
        "campctl.toml",
        "[backup]\ncompression = \"gzip:3\"\nrow_counts = \"none\"\n\n[restore]\njobs = 4\nanalyze = false\n\n\
         [test_restore]\njobs = 2\n",
    );
    let (filters, mut command) = default_store(&ctx);
    campctl_snapshot!(filters, command.args(["--config", "campctl.toml", "config", "show"]));
}

#[test]
fn show_json_redacts_every_secret() {
    let ctx = TestContext::new();
    ctx.write_file("campctl.toml", FILE);
    let (filters, mut command) = default_store(&ctx);
    let output = campctl_snapshot!(
        filters,
        command
            .env("PGPASSWORD", "env-secret")
            .args(["--profile", "prod", "--format", "json", "config", "show"])
    );
    let text = String::from_utf8_lossy(&output.stdout);
    for secret in ["file-secret", "prod-secret", "env-secret"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(json["database"]["password"], "********");
    // Precedence: profile's host over the file's URL, PGPASSWORD over the profile's password.
    assert_eq!(json["database"]["host"], "prod-db.postgres.database.azure.com");
    assert_eq!(json["database_sources"]["password"], "PGPASSWORD");
}

#[test]
fn flag_beats_environment_beats_file() {
    let ctx = TestContext::new();
    ctx.write_file("campctl.toml", FILE);
    let output = ctx
        .cmd()
        .env("PGDATABASE", "env_db")
        .env("PGPORT", "7000")
        .args([
            "--db-url",
            "postgres://flag-host/flag_db",
            "--format",
            "json",
            "config",
            "show",
        ])
        .output()
        .expect("run");
    assert!(output.status.success(), "{output:?}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(json["database"]["host"], "flag-host");
    assert_eq!(json["database"]["dbname"], "flag_db");
    assert_eq!(json["database"]["port"], 7000);
    assert_eq!(json["database"]["user"], "file_user");
    assert_eq!(json["database_sources"]["port"], "PGPORT");
    assert_eq!(json["database_sources"]["user"], "config file (url)");
    assert_eq!(json["database_sources"]["host"], "--db-url");
}

#[test]
fn database_url_env_and_secret_in_url_is_not_echoed_on_error() {
    let ctx = TestContext::new();
    let output = campctl_snapshot!(
        ctx.filters(),
        ctx.cmd()
            .env("DATABASE_URL", "postgres://u:url-secret@127.0.0.1:1/db")
            .args(["stats"])
    );
    assert!(!String::from_utf8_lossy(&output.stderr).contains("url-secret"));
}

#[test]
fn discovery_xdg_config_home() {
    let ctx = TestContext::new();
    ctx.write_file(".config/campctl/config.toml", "[database]\nhost = \"xdg-host\"\n");
    let output = ctx
        .cmd()
        .args(["--format", "json", "config", "show"])
        .output()
        .expect("run");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(json["database"]["host"], "xdg-host");
    assert!(
        json["config_file"]
            .as_str()
            .is_some_and(|p| p.ends_with(".config/campctl/config.toml"))
    );
}

#[test]
fn discovery_prefers_working_directory() {
    let ctx = TestContext::new();
    ctx.write_file(".config/campctl/config.toml", "[database]\nhost = \"xdg-host\"\n");
    ctx.write_file("campctl.toml", "[database]\nhost = \"cwd-host\"\n");
    let output = ctx
        .cmd()
        .args(["--format", "json", "config", "show"])
        .output()
        .expect("run");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(json["database"]["host"], "cwd-host");
}

#[test]
fn environment_config_path_beats_discovery() {
    let ctx = TestContext::new();
    ctx.write_file("campctl.toml", "[database]\nhost = \"cwd-host\"\n");
    let other = ctx.write_file("other.toml", "[database]\nhost = \"env-file-host\"\n");
    let output = ctx
        .cmd()
        .env("CAMPCTL_CONFIG", &other)
        .args(["--format", "json", "config", "show"])
        .output()
        .expect("run");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(json["database"]["host"], "env-file-host");
}
