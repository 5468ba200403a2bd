//! Hardening regressions (output): see `mod.rs`. JSON stderr (item 10), a closed stderr (item 12) and empty
//! environment variables (item 19).

use std::process::{Output, Stdio};

use serde_json::Value;

use crate::backup::store_config;
use crate::common::{TestContext, assert_exit, azurite, unique_container};

/// A well-formed account key that is not Azurite's.
const WRONG_KEY: &str = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ==";

fn json_stdout(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "stdout is not JSON ({err}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Every line of `stderr` parses as a JSON object; returns them.
fn json_lines(output: &Output) -> Vec<Value> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.trim().is_empty(), "nothing on stderr");
    stderr
        .lines()
        .map(|line| {
            let value: Value =
                serde_json::from_str(line).unwrap_or_else(|err| panic!("not JSON ({err}): {line}\n{stderr}"));
            assert!(value.is_object(), "{line}");
            value
        })
        .collect()
}

/// The one `ERROR` line, with its exit code and hint.
fn error_line(lines: &[Value]) -> &Value {
    let errors: Vec<&Value> = lines.iter().filter(|line| line["level"] == "ERROR").collect();
    assert_eq!(errors.len(), 1, "{lines:#?}");
    errors[0]
}

#[test]
fn item_10_json_logs_make_every_stderr_line_json() {
    let ctx = TestContext::new();
    let db = ctx.db();
    let local = ctx.home().join("backups");
    let container = unique_container();
    azurite().create_container(&container);
    ctx.write_file("campctl.toml", store_config(&db.url(), &local, None, ""));
    db.execute("CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 10)");
    let json = |args: &[&str]| {
        let mut command = ctx.cmd();
        command.args(["--log-format", "json"]).args(args);
        command.output().expect("run campctl")
    };

    // A usage error found by clap.
    let output = json(&["stats", "--no-such-flag"]);
    assert_exit(&output, 2);
    let error = error_line(&json_lines(&output)).clone();
    assert_eq!(error["exit_code"], 2);
    assert!(
        error["message"].as_str().expect("message").contains("--no-such-flag"),
        "{error}"
    );

    // An error found while resolving the settings (before logging is set up).
    let output = json(&["--profile", "nope", "config", "show"]);
    assert_exit(&output, 2);
    let error = error_line(&json_lines(&output)).clone();
    assert_eq!(error["exit_code"], 2);
    assert!(error["hint"].as_str().is_some_and(|hint| !hint.is_empty()), "{error}");

    // Notes (a dry run's plan) and the CSV note.
    let backup = json(&["backup"]);
    assert_exit(&backup, 0);
    json_lines(&backup);
    let output = json(&["restore", "-n", "--to", "somewhere_else"]);
    assert_exit(&output, 0);
    let lines = json_lines(&output);
    assert!(lines.iter().any(|line| line["level"] == "INFO"), "{lines:#?}");
    let output = json(&["stats", "--format", "csv"]);
    assert_exit(&output, 0);
    json_lines(&output);

    // A warning: `backup list` meets an archive without a manifest.
    let leftover = local
        .join(db.name())
        .join(format!("{}_20200101_000000.dump", db.name()));
    std::fs::write(&leftover, b"PGDMP").expect("write");
    let output = json(&["backup", "list"]);
    assert_exit(&output, 0);
    let lines = json_lines(&output);
    assert!(lines.iter().any(|line| line["level"] == "WARN"), "{lines:#?}");

    // A failure with its exit code and hint: a wrong Azure key.
    let wrong = store_config(&db.url(), &local, Some(&container), "").replace(azurite().key(), WRONG_KEY);
    ctx.write_file("campctl.toml", wrong);
    let output = json(&["backup", "--store", "azure"]);
    let lines = json_lines(&output);
    let error = error_line(&lines);
    let code = output.status.code().expect("exit code");
    assert_ne!(code, 0);
    assert_eq!(error["exit_code"], code, "{error}");
    assert!(error["hint"].as_str().is_some_and(|hint| !hint.is_empty()), "{error}");
}

/// Runs `args` with stderr connected to a pipe whose reader is gone.
fn with_closed_stderr(ctx: &TestContext, args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let mut command = ctx.std_cmd();
    command.args(args).stdout(Stdio::piped()).stderr(writer);
    command.output().expect("run campctl")
}

#[test]
fn item_12_a_closed_stderr_is_no_panic() {
    let ctx = TestContext::new();
    let db = ctx.db();
    let local = ctx.home().join("backups");
    ctx.write_file("campctl.toml", store_config(&db.url(), &local, None, ""));
    db.execute("CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 10)");
    assert_exit(&ctx.cmd().arg("backup").output().expect("backup"), 0);
    // An interrupted backup's archive without a manifest, so that `backup list` warns.
    let leftover = local
        .join(db.name())
        .join(format!("{}_20200101_000000.dump", db.name()));
    std::fs::write(&leftover, b"PGDMP").expect("write");
    for (args, code) in [
        (vec!["backup", "list"], 0),
        (vec!["restore", "-n", "--to", "elsewhere"], 0),
        (vec!["test-restore"], 0),
        (vec!["stats", "--format", "csv"], 0),
        // The final error is written to stderr too.
        (vec!["restore", "-n", "no_such_backup_20200101_000000"], 10),
    ] {
        let output = with_closed_stderr(&ctx, &args);
        assert_eq!(
            output.status.code(),
            Some(code),
            "`campctl {}` with a closed stderr; stdout: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout)
        );
    }
}

#[test]
fn item_19_empty_environment_variables_count_as_unset() {
    let ctx = TestContext::new();
    ctx.write_file("campctl.toml", "[output]\nformat = \"json\"\n");
    let output = ctx
        .cmd()
        .env("CAMPCTL_PROFILE", "")
        .env("CAMPCTL_FORMAT", "")
        .env("CAMPCTL_LOG_FORMAT", "")
        .env("CAMPCTL_COLOR", "")
        .env("CAMPCTL_CONFIG", "")
        .env("DATABASE_URL", "")
        .env("PGHOST", "localhost")
        .args(["config", "show"])
        .output()
        .expect("run campctl");
    assert_exit(&output, 0);
    // The file's format applies: an empty CAMPCTL_FORMAT did not override it (nor fail).
    let show = json_stdout(&output);
    assert_eq!(show["profile"], Value::Null);
    assert_eq!(show["output"]["format"], "json");
}
