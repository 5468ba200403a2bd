//! Bad flags, bad configuration files and bad connection settings: exit 2 with a message that names the problem.

use crate::common::{TestContext, campctl_snapshot};

#[test]
fn unknown_flag() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["stats", "--frobnicate"]));
}

#[test]
fn unknown_command() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().arg("backpu"));
}

#[test]
fn no_command() {
    let ctx = TestContext::new();
    let output = ctx.cmd().output().expect("run");
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn bad_format_value() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["config", "show", "--format", "yaml"]));
}

#[test]
fn bad_section() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["stats", "tablez"]));
}

#[test]
fn config_unknown_key_names_file_and_key() {
    let ctx = TestContext::new();
    ctx.write_file("campctl.toml", "[database]\nhost = \"db\"\nprot = 5432\n");
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["config", "show"]));
}

#[test]
fn config_unknown_section() {
    let ctx = TestContext::new();
    ctx.write_file("campctl.toml", "[databse]\nhost = \"db\"\n");
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["config", "show"]));
}

#[test]
fn config_bad_duration() {
    let ctx = TestContext::new();
    ctx.write_file("campctl.toml", "[database]\nlock_timeout = \"ten seconds\"\n");
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["config", "check"]));
}

#[test]
fn config_not_toml() {
    let ctx = TestContext::new();
    ctx.write_file("campctl.toml", "[database\nhost = \n");
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["config", "show"]));
}

#[test]
fn config_explicit_path_missing() {
    let ctx = TestContext::new();
    campctl_snapshot!(
        ctx.filters(),
        ctx.cmd().args(["--config", "nope.toml", "config", "show"])
    );
}

#[test]
fn config_from_env_var_missing() {
    let ctx = TestContext::new();
    campctl_snapshot!(
        ctx.filters(),
        ctx.cmd()
            .env("CAMPCTL_CONFIG", "/nonexistent/campctl.toml")
            .args(["config", "show"])
    );
}

#[test]
fn unknown_profile_lists_known_ones() {
    let ctx = TestContext::new();
    ctx.write_file(
        "campctl.toml",
        "[profiles.prod.database]\nhost = \"p\"\n[profiles.staging.database]\nhost = \"s\"\n",
    );
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["--profile", "dev", "config", "show"]));
}

#[test]
fn profile_without_file() {
    let ctx = TestContext::new();
    let output = ctx
        .cmd()
        .args(["--profile", "prod", "config", "show"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn bad_sslmode_env() {
    let ctx = TestContext::new();
    campctl_snapshot!(
        ctx.filters(),
        ctx.cmd().env("PGSSLMODE", "verify").args(["config", "show"])
    );
}

/// A bad `[database] sslmode` names the file, line and key when it is the value in use; a variable overrides it.
#[test]
fn bad_sslmode_in_config() {
    let ctx = TestContext::new();
    ctx.write_file("campctl.toml", "[database]\nhost = \"h\"\n\nsslmode = \"verify\"\n");
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["config", "show"]));
    let output = ctx
        .cmd()
        .env("PGSSLMODE", "require")
        .args(["config", "show"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn bad_port_env() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().env("PGPORT", "54x2").args(["config", "show"]));
}

#[test]
fn bad_url() {
    let ctx = TestContext::new();
    campctl_snapshot!(
        ctx.filters(),
        ctx.cmd().args(["--db-url", "mysql://x", "config", "show"])
    );
}

#[test]
fn bad_url_parameter() {
    let ctx = TestContext::new();
    campctl_snapshot!(
        ctx.filters(),
        ctx.cmd()
            .args(["--db-url", "postgres://h/db?sslmod=require", "config", "show"])
    );
}

#[test]
fn verify_full_without_root_cert() {
    let ctx = TestContext::new();
    campctl_snapshot!(
        ctx.filters(),
        ctx.cmd().args([
            "--db-url",
            "postgres://127.0.0.1:1/db?sslmode=verify-full",
            "config",
            "check"
        ])
    );
}

#[test]
fn unreachable_host_names_host_and_port() {
    let ctx = TestContext::new();
    // Port 1 on loopback refuses at once.
    campctl_snapshot!(
        ctx.filters(),
        ctx.cmd().args(["--db-url", "postgres://127.0.0.1:1/db", "stats"])
    );
}

#[test]
fn missing_socket_directory() {
    let ctx = TestContext::new();
    campctl_snapshot!(
        ctx.filters(),
        ctx.cmd().env("PGHOST", "/nonexistent/socketdir").args(["stats"])
    );
}

#[test]
fn backup_bad_compression() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["backup", "--compression", "lz4"]));
}

#[test]
fn backup_bad_compression_in_config() {
    let ctx = TestContext::new();
    ctx.write_file("campctl.toml", "[backup]\ncompression = \"zstd:99\"\n");
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["backup", "--dry-run"]));
}

#[test]
fn backup_too_many_compression_threads_in_config() {
    let ctx = TestContext::new();
    ctx.write_file("campctl.toml", "[backup]\ncompression_threads = 65\n");
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["backup", "--dry-run"]));
}

#[test]
fn backup_fast_zstd_level_out_of_range() {
    let ctx = TestContext::new();
    campctl_snapshot!(
        ctx.filters(),
        ctx.cmd().args(["backup", "--dry-run", "--compression", "zstd:-11"])
    );
}

#[test]
fn backup_bad_row_counts_in_config() {
    let ctx = TestContext::new();
    ctx.write_file("campctl.toml", "[backup]\nstores = []\n\nrow_counts = \"some\"\n");
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["backup", "--dry-run"]));
}

#[test]
fn backup_unknown_store() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["backup", "--store", "s3", "--dry-run"]));
}

#[test]
fn storage_unknown_key() {
    let ctx = TestContext::new();
    ctx.write_file(
        "campctl.toml",
        "[storage.azure]\ncontainer = \"c\"\nblocksize = \"8MiB\"\n",
    );
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["backup", "list"]));
}

#[test]
fn restore_replace_needs_to() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["restore", "--replace"]));
}

#[test]
fn restore_jobs_out_of_range() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["restore", "--jobs", "0"]));
}

#[test]
fn test_restore_check_without_expect() {
    let ctx = TestContext::new();
    ctx.write_file(
        "campctl.toml",
        "[[test_restore.checks]]\nname = \"users\"\nsql = \"SELECT count(*) FROM users\"\n",
    );
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["test-restore"]));
}

#[test]
fn restore_unknown_key_in_restore_section() {
    let ctx = TestContext::new();
    ctx.write_file("campctl.toml", "[restore]\njobz = 4\n");
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["restore"]));
}

#[test]
fn vacuum_full_with_jobs() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["vacuum", "--full", "--jobs", "2"]));
}

#[test]
fn vacuum_ratio_out_of_range() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["vacuum", "--min-dead-ratio", "20"]));
}

#[test]
fn vacuum_missing_stats_only_needs_analyze_only() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["vacuum", "--missing-stats-only"]));
}

/// Architecture 5: the column list is checked by `VacuumSettings::resolve`, before any connection (the harness has
/// no server here: a check made after connecting would exit 2 for the unreachable server instead).
#[test]
fn vacuum_column_list_needs_analyze() {
    let ctx = TestContext::new();
    campctl_snapshot!(
        ctx.filters(),
        ctx.cmd().args(["vacuum", "--no-analyze", "--table", "users(email)"])
    );
}

/// Architecture 5: `ReindexSettings::resolve` refuses a column list before any connection.
#[test]
fn reindex_takes_no_column_list() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["reindex", "--table", "users(email)"]));
}

#[test]
fn vacuum_analyze_only_conflicts_with_full() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["vacuum", "--analyze-only", "--full"]));
}
