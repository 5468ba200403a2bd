//! Every `--help` is a snapshot: the help text is the first documentation an operator reads.

use crate::common::{TestContext, campctl_snapshot};

#[test]
fn help_top_level() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().arg("--help"));
}

#[test]
fn help_short() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().arg("-h"));
}

#[test]
fn help_stats() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["stats", "--help"]));
}

#[test]
fn help_config() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["config", "--help"]));
}

#[test]
fn help_config_show() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["config", "show", "--help"]));
}

#[test]
fn help_config_check() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["config", "check", "--help"]));
}

#[test]
fn version() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().arg("--version"), @r"
    success: true
    exit_code: 0
    ----- stdout -----
    campctl [VERSION]

    ----- stderr -----
    ");
}

#[test]
fn help_backup() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["backup", "--help"]));
}

#[test]
fn help_backup_list() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["backup", "list", "--help"]));
}

#[test]
fn help_backup_files() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["backup", "files", "--help"]));
}

#[test]
fn help_backup_snapshot() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["backup", "snapshot", "--help"]));
}

#[test]
fn help_backup_unlock() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["backup", "unlock", "--help"]));
}

#[test]
fn help_backup_azure() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["backup", "azure", "--help"]));
}

#[test]
fn help_backup_azure_set() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["backup", "azure", "set", "--help"]));
}

#[test]
fn help_restore() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["restore", "--help"]));
}

#[test]
fn help_restore_pitr() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["restore", "pitr", "--help"]));
}

#[test]
fn help_restore_geo() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["restore", "geo", "--help"]));
}

#[test]
fn help_test_restore() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["test-restore", "--help"]));
}

#[test]
fn help_vacuum() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["vacuum", "--help"]));
}

#[test]
fn help_reindex() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["reindex", "--help"]));
}

#[test]
fn help_health() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["health", "--help"]));
}

#[test]
fn help_notify() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["notify", "--help"]));
}

#[test]
fn help_notify_test() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["notify", "test", "--help"]));
}

#[test]
fn help_schedule() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["schedule", "--help"]));
}

#[test]
fn help_cleanup() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["cleanup", "--help"]));
}

#[test]
fn help_logs() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["logs", "--help"]));
}

#[test]
fn help_logs_errors() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["logs", "errors", "--help"]));
}

#[test]
fn help_logs_auth_failures() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["logs", "auth-failures", "--help"]));
}

#[test]
fn help_logs_latency() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["logs", "latency", "--help"]));
}

#[test]
fn help_logs_tail() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["logs", "tail", "--help"]));
}

#[test]
fn help_logs_query() {
    let ctx = TestContext::new();
    campctl_snapshot!(ctx.filters(), ctx.cmd().args(["logs", "query", "--help"]));
}
