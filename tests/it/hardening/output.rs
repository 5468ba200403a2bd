//! Hardening regressions (output): see `mod.rs`. `config check` / `config show` (item 9), JSON stderr (item 10), a
//! closed stderr (item 12) and empty environment variables (item 19).

use std::path::Path;
use std::process::{Output, Stdio};

use serde_json::Value;

use crate::backup::store_config;
use crate::common::{TestContext, assert_exit, azurite, unique_container};

/// A well-formed account key that is not Azurite's.
const WRONG_KEY: &str = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ==";

fn run(ctx: &TestContext, args: &[&str]) -> Output {
    ctx.cmd().args(args).output().expect("run campctl")
}

fn json_stdout(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "stdout is not JSON ({err}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The check named `name` of a `config check` JSON report.
fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|check| check["name"] == name)
        .unwrap_or_else(|| panic!("no check `{name}` in {report:#}"))
}

fn files_below(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    crate::backup::collect(dir, dir, &mut files);
    files
}

#[test]
fn item_09_config_check_validates_every_section_and_probes_every_store() {
    let ctx = TestContext::new();
    let db = ctx.db();
    let local = ctx.home().join("backups");
    let container = unique_container();
    azurite().create_container(&container);

    // Invalid sections: each is named with its file and key, and the exit code is 2.
    let bad = format!(
        "{}\n[backup]\ncompression = \"zstd:99\"\nstores = [\"s3\"]\n\n[restore]\njobs = 0\n",
        store_config(&db.url(), &local, Some(&container), "")
    );
    let path = ctx.write_file("campctl.toml", bad);
    let output = run(&ctx, &["--format", "json", "config", "check"]);
    assert_exit(&output, 2);
    let report = json_stdout(&output);
    let backup = check(&report, "[backup]");
    assert_eq!(backup["ok"], false, "{report:#}");
    let detail = backup["detail"].as_str().expect("detail");
    for needle in [
        path.display().to_string().as_str(),
        "`[backup] compression`",
        "zstd:99",
        "`[backup] stores`",
        "`s3`",
    ] {
        assert!(detail.contains(needle), "`{needle}` missing from {detail}");
    }
    let restore = check(&report, "[restore]")["detail"].as_str().expect("detail");
    assert!(restore.contains("`[restore] jobs`"), "{restore}");
    assert_eq!(check(&report, "database")["ok"], true, "{report:#}");

    // An invalid container name.
    let bad_container = store_config(&db.url(), &local, Some(&container), "")
        .replace(&format!("container = \"{container}\""), "container = \"BAD_NAME\"");
    ctx.write_file("campctl.toml", bad_container);
    let output = run(&ctx, &["--format", "json", "config", "check"]);
    assert_exit(&output, 2);
    let report = json_stdout(&output);
    let storage = check(&report, "[storage]")["detail"].as_str().expect("detail");
    assert!(
        storage.contains("`[storage.azure] container`") && storage.contains("BAD_NAME"),
        "{storage}"
    );
    // The local store still resolves on its own, and is probed.
    assert_eq!(check(&report, "store local")["can_write"], true, "{report:#}");

    // Right key: every store lists and writes, and the probe leaves nothing behind.
    ctx.write_file("campctl.toml", store_config(&db.url(), &local, Some(&container), ""));
    let output = run(&ctx, &["--format", "json", "config", "check"]);
    assert_exit(&output, 0);
    let report = json_stdout(&output);
    for store in ["store local", "store azure"] {
        let check = check(&report, store);
        assert_eq!(check["ok"], true, "{report:#}");
        assert_eq!(check["can_list"], true, "{report:#}");
        assert_eq!(check["can_write"], true, "{report:#}");
    }
    assert_eq!(azurite().list_blobs(&container), Vec::<String>::new());
    assert_eq!(files_below(&local), Vec::<String>::new());

    // Wrong key: the Azure store fails with 12 (authentication), the local store still passes.
    let wrong = store_config(&db.url(), &local, Some(&container), "").replace(azurite().key(), WRONG_KEY);
    ctx.write_file("campctl.toml", wrong);
    let output = run(&ctx, &["--format", "json", "config", "check"]);
    assert_exit(&output, 12);
    let report = json_stdout(&output);
    let azure = check(&report, "store azure");
    assert_eq!(azure["ok"], false, "{report:#}");
    assert_eq!(azure["exit_code"], 12, "{report:#}");
    assert_eq!(azure["can_list"], false, "{report:#}");
    assert_eq!(check(&report, "store local")["ok"], true, "{report:#}");
    assert!(!String::from_utf8_lossy(&output.stdout).contains(WRONG_KEY));

    // `config show` has every section, and no secret.
    let output = run(&ctx, &["--format", "json", "config", "show"]);
    assert_exit(&output, 0);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(!text.contains(WRONG_KEY), "{text}");
    let show = json_stdout(&output);
    for section in ["backup", "storage", "restore", "test_restore"] {
        assert!(show.get(section).is_some(), "`{section}` missing from {show:#}");
    }
    assert_eq!(show["storage"]["azure"]["container"], container.as_str());
    assert_eq!(show["storage"]["azure"]["connection_string"], "******** (set)");
    let table = run(&ctx, &["config", "show"]);
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    for key in [
        "storage.azure.container",
        "storage.local.path",
        "restore.jobs",
        "backup.compression",
    ] {
        assert!(table.contains(key), "`{key}` missing from {table}");
    }
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

/// A new `eprintln!` would bring the panic back: every stderr write goes through `campctl::stderr`, the Printer or
/// tracing. Comments may name the macros.
#[test]
fn item_12_no_eprint_macros_in_src() {
    fn visit(dir: &Path, offenders: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("read src").flatten() {
            let path = entry.path();
            if path.is_dir() {
                visit(&path, offenders);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let text = std::fs::read_to_string(&path).expect("read source");
                for (number, line) in text.lines().enumerate() {
                    let code = line.split("//").next().unwrap_or_default();
                    if code.contains("eprintln!") || code.contains("eprint!") {
                        offenders.push(format!("{}:{}: {}", path.display(), number + 1, line.trim()));
                    }
                }
            }
        }
    }
    let mut offenders = Vec::new();
    visit(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut offenders);
    assert!(
        offenders.is_empty(),
        "use campctl::stderr or the Printer:\n{}",
        offenders.join("\n")
    );
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
