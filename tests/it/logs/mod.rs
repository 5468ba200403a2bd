//! `campctl logs` on generated JSON-lines files with known answers: errors per hour, authentication failures per
//! user and IP, exact percentiles; gzipped rotations, malformed lines, mixed offsets, an empty file, no trailing
//! newline; `tail --follow` across a rotation; bad input.

mod follow;
mod workspace;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Output;

use serde_json::{Value, json};

use crate::common::{TestContext, assert_exit};

const WINDOW: [&str; 4] = ["--from", "2026-03-01T00:00:00Z", "--until", "2026-03-01T03:00:00Z"];

/// One request record: `i` 0..100 in hour `hour`; even `i` → `/a`, odd → `/b`; duration `i + 1` ms; every tenth is
/// a 500 logged at `error`. Hour 1 is written with a `+02:00` offset.
fn request(hour: u32, i: u32) -> String {
    let (minute, second) = (i / 2, (i % 2) * 30);
    let timestamp = if hour == 1 {
        format!("2026-03-01T03:{minute:02}:{second:02}.250+02:00")
    } else {
        format!("2026-03-01T{hour:02}:{minute:02}:{second:02}Z")
    };
    let failed = i.is_multiple_of(10);
    json!({
        "timestamp": timestamp,
        "level": if failed { "error" } else { "info" },
        "event": if failed { "request failed" } else { "request" },
        "path": if i.is_multiple_of(2) { "/a" } else { "/b" },
        "status": if failed { 500 } else { 200 },
        "duration": i + 1,
        "logger": "app",
        "extra": {"nested": [1, 2, {"x": "y"}]},
    })
    .to_string()
}

fn auth_failure(hour: u32, minute: u32, user: &str, ip: &str) -> String {
    json!({
        "timestamp": format!("2026-03-01T{hour:02}:{minute:02}:05Z"),
        "level": "warning",
        "event": "authentication_failed",
        "user_email": user,
        "ip_address": ip,
    })
    .to_string()
}

/// A log directory: `app.log.2.gz` (hour 0, gzipped rotation), `app.log.1` (hour 1, `+02:00` offsets, two bad
/// lines at 5 and 10, three CRITICAL records without a request), `app.log` (hour 2, no trailing newline),
/// `empty.log`, and a record outside the window.
pub(crate) struct Logs {
    pub ctx: TestContext,
    pub dir: PathBuf,
}

impl Logs {
    pub(crate) fn new() -> Self {
        let ctx = TestContext::new();
        let dir = ctx.home().join("logs");
        std::fs::create_dir_all(&dir).expect("log dir");

        let mut hour0: Vec<String> = (0..100).map(|i| request(0, i)).collect();
        hour0.extend((0..6).map(|m| auth_failure(0, m, "u1@example.com", "10.0.0.1")));
        hour0.extend((0..4).map(|m| auth_failure(0, m, "u2@example.com", "10.0.0.2")));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all((hour0.join("\n") + "\n").as_bytes()).expect("gzip");
        std::fs::write(dir.join("app.log.2.gz"), gz.finish().expect("gzip")).expect("write gz");

        let mut hour1: Vec<String> = (0..100).map(|i| request(1, i)).collect();
        hour1.insert(4, "this is not json".into());
        hour1.insert(9, r#"{"timestamp":"not a time","level":"error","event":"x"}"#.into());
        for minute in [1, 2, 3] {
            hour1.push(
                json!({"timestamp": format!("2026-03-01T01:{minute:02}:00Z"), "level": "CRITICAL", "event": "worker crashed"})
                    .to_string(),
            );
        }
        hour1.push(json!({"timestamp": "2026-02-28T23:59:59Z", "level": "error", "event": "too early"}).to_string());
        std::fs::write(dir.join("app.log.1"), hour1.join("\n") + "\n").expect("write app.log.1");

        let hour2: Vec<String> = (0..100).map(|i| request(2, i)).collect();
        std::fs::write(dir.join("app.log"), hour2.join("\n")).expect("write app.log");
        std::fs::write(dir.join("empty.log"), "").expect("write empty.log");
        Self { ctx, dir }
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.ctx.cmd().args(args).output().expect("run campctl")
    }

    /// `campctl --format json logs ARGS… --file DIR` over the window.
    pub(crate) fn json(&self, args: &[&str]) -> Value {
        let dir = self.dir.display().to_string();
        let mut all = vec!["--format", "json", "logs"];
        all.extend_from_slice(args);
        all.extend_from_slice(&WINDOW);
        all.extend_from_slice(&["--file", &dir]);
        let output = self.run(&all);
        assert_exit(&output, 0);
        serde_json::from_slice(&output.stdout).expect("logs JSON")
    }
}

fn column(report: &Value, array: &str, key: &str) -> Vec<Value> {
    report[array]
        .as_array()
        .expect(array)
        .iter()
        .map(|row| row[key].clone())
        .collect()
}

#[test]
fn errors_per_hour_with_rates_top_messages_and_the_unparsed_lines() {
    let logs = Logs::new();
    let report = logs.json(&["errors"]);
    assert_eq!(
        column(&report, "bins", "errors"),
        [json!(10), json!(13), json!(10)],
        "{report:#}"
    );
    assert_eq!(
        column(&report, "bins", "requests"),
        [json!(100), json!(100), json!(100)]
    );
    assert_eq!(column(&report, "bins", "rate"), [json!(0.1), json!(0.13), json!(0.1)]);
    assert_eq!(
        column(&report, "bins", "start"),
        [
            json!("2026-03-01T00:00:00Z"),
            json!("2026-03-01T01:00:00Z"),
            json!("2026-03-01T02:00:00Z")
        ]
    );
    assert_eq!(report["total_errors"], 33);
    assert_eq!(
        report["top_messages"],
        json!([{"message": "request failed", "count": 30}, {"message": "worker crashed", "count": 3}])
    );
    assert_eq!(report["unparsed"]["lines"], 2);
    let dir = logs.dir.display();
    assert_eq!(
        report["unparsed"]["first_line_numbers"],
        json!([format!("{dir}/app.log.1:5"), format!("{dir}/app.log.1:10")])
    );
    assert_eq!(report["bin_seconds"], 3600);
    assert_eq!(report["source"]["kind"], "files");
    assert_eq!(
        report["source"]["inputs"].as_array().map(Vec::len),
        Some(4),
        "{report:#}"
    );
}

#[test]
fn the_table_has_a_bar_per_bin_and_csv_has_none() {
    let logs = Logs::new();
    let dir = logs.dir.display().to_string();
    let mut args = vec!["logs", "errors", "--file", &dir];
    args.extend_from_slice(&WINDOW);
    let output = logs.ctx.cmd().env("LANG", "C.UTF-8").args(&args).output().expect("run");
    assert_exit(&output, 0);
    let table = String::from_utf8_lossy(&output.stdout);
    // NO_COLOR is set by the harness: bars are `#`, 20 for the largest bin (13 errors), ⌈20 × 10 / 13⌉ = 16 for 10.
    assert!(table.contains(&format!(" {} ", "#".repeat(20))), "{table}");
    assert!(table.contains(&format!(" {} ", "#".repeat(16))), "{table}");
    assert!(table.contains("request failed"), "{table}");
    let mut csv_args = vec!["--format", "csv"];
    csv_args.extend_from_slice(&args);
    let output = logs.run(&csv_args);
    assert_exit(&output, 0);
    let csv = String::from_utf8_lossy(&output.stdout);
    assert_eq!(csv.lines().next(), Some("bin_start,errors,requests,rate"), "{csv}");
    assert!(csv.contains("2026-03-01T01:00:00+00:00,13,100,13"), "{csv}");
}

#[test]
fn authentication_failures_per_user_and_ip_at_or_over_the_threshold() {
    let logs = Logs::new();
    let report = logs.json(&["auth-failures"]);
    assert_eq!(report["threshold"], 5);
    assert_eq!(
        report["groups"],
        json!([{"user": "u1@example.com", "ip": "10.0.0.1", "failures": 6}])
    );
    let report = logs.json(&["auth-failures", "--threshold", "4"]);
    assert_eq!(
        report["groups"],
        json!([
            {"user": "u1@example.com", "ip": "10.0.0.1", "failures": 6},
            {"user": "u2@example.com", "ip": "10.0.0.2", "failures": 4}
        ])
    );
}

#[test]
fn exact_latency_percentiles_per_hour_and_per_path() {
    let logs = Logs::new();
    let report = logs.json(&["latency"]);
    assert_eq!(report["exact"], true);
    assert_eq!(report["by"], Value::Null);
    let rows = report["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 3, "{report:#}");
    for row in rows {
        assert_eq!(
            (
                &row["count"],
                &row["mean_ms"],
                &row["p50_ms"],
                &row["p95_ms"],
                &row["p99_ms"]
            ),
            (&json!(100), &json!(50.5), &json!(50.0), &json!(95.0), &json!(99.0)),
            "{row:#}"
        );
    }
    let report = logs.json(&["latency", "--by", "path"]);
    assert_eq!(report["by"], "path");
    let rows = report["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 6, "{report:#}");
    assert_eq!(rows[2]["start"], "2026-03-01T01:00:00Z");
    assert_eq!(rows[2]["path"], "/a");
    // /a: 1, 3, …, 99 (nearest rank: p50 = 25th, p95 = 48th, p99 = 50th); /b: 2, 4, …, 100.
    assert_eq!(
        (
            &rows[2]["count"],
            &rows[2]["mean_ms"],
            &rows[2]["p50_ms"],
            &rows[2]["p95_ms"],
            &rows[2]["p99_ms"]
        ),
        (&json!(50), &json!(50.0), &json!(49.0), &json!(95.0), &json!(99.0))
    );
    assert_eq!(rows[3]["path"], "/b");
    assert_eq!(
        (
            &rows[3]["mean_ms"],
            &rows[3]["p50_ms"],
            &rows[3]["p95_ms"],
            &rows[3]["p99_ms"]
        ),
        (&json!(51.0), &json!(50.0), &json!(96.0), &json!(100.0))
    );
}

#[test]
fn past_the_exact_bound_percentiles_come_from_the_sketch_within_one_percent() {
    let logs = Logs::new();
    let config = logs
        .ctx
        .write_file("campctl.toml", "[logs]\nexact_percentiles_limit = 10\n");
    let dir = logs.dir.display().to_string();
    let mut args = vec![
        "--config",
        config.to_str().expect("utf-8"),
        "--format",
        "json",
        "logs",
        "latency",
    ];
    args.extend_from_slice(&WINDOW);
    args.extend_from_slice(&["--file", &dir]);
    let output = logs.run(&args);
    assert_exit(&output, 0);
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["exact"], false);
    for row in report["rows"].as_array().expect("rows") {
        for (key, exact) in [("p50_ms", 50.0), ("p95_ms", 95.0), ("p99_ms", 99.0)] {
            let got = row[key].as_f64().expect(key);
            assert!((got - exact).abs() / exact <= 0.01, "{key}: {got} vs {exact}");
        }
        assert_eq!(row["mean_ms"], 50.5, "the mean stays exact");
    }
}

#[test]
fn stdin_globs_and_config_files_are_sources() {
    let logs = Logs::new();
    let text = std::fs::read_to_string(logs.dir.join("app.log")).expect("read");
    let mut args = vec!["--format", "json", "logs", "errors", "--file", "-"];
    args.extend_from_slice(&WINDOW);
    let output = logs.ctx.cmd().args(&args).write_stdin(text).output().expect("run");
    assert_exit(&output, 0);
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(column(&report, "bins", "errors"), [json!(0), json!(0), json!(10)]);

    let glob = format!("{}/app.log.*", logs.dir.display());
    let mut args = vec!["--format", "json", "logs", "errors", "--file", &glob];
    args.extend_from_slice(&WINDOW);
    let report: Value = serde_json::from_slice(&logs.run(&args).stdout).expect("JSON");
    assert_eq!(column(&report, "bins", "errors"), [json!(10), json!(13), json!(0)]);

    let config = logs.ctx.write_file(
        "campctl.toml",
        format!(
            "[logs]\nfiles = [\"{}\"]\nerror_levels = [\"critical\"]\n",
            logs.dir.display()
        ),
    );
    let mut args = vec![
        "--config",
        config.to_str().expect("utf-8"),
        "--format",
        "json",
        "logs",
        "errors",
    ];
    args.extend_from_slice(&WINDOW);
    let output = logs.run(&args);
    assert_exit(&output, 0);
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(
        column(&report, "bins", "errors"),
        [json!(0), json!(3), json!(0)],
        "{report:#}"
    );
}

#[test]
fn tail_shows_the_newest_lines_filtered_by_level_and_text() {
    let logs = Logs::new();
    let file = logs.dir.join("app.log.1").display().to_string();
    let output = logs.run(&[
        "--format", "json", "logs", "tail", "--file", &file, "--lines", "2", "--level", "critical",
    ]);
    assert_exit(&output, 0);
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let lines = report["lines"].as_array().expect("lines");
    assert_eq!(lines.len(), 2, "{report:#}");
    assert_eq!(lines[1]["record"]["time"], "2026-03-01T01:03:00Z");
    assert_eq!(lines[1]["record"]["message"], "worker crashed");
    let output = logs.run(&[
        "--format", "json", "logs", "tail", "--file", &file, "--grep", "not json",
    ]);
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["lines"].as_array().map(Vec::len), Some(1), "{report:#}");
    assert_eq!(report["lines"][0]["record"], Value::Null);
}

#[test]
fn bad_input_is_refused_with_exit_2_and_a_missing_file_with_exit_10() {
    let logs = Logs::new();
    let dir = logs.dir.display().to_string();
    for (args, code, text) in [
        (vec!["logs", "errors"], 2, "no log source"),
        (vec!["logs", "errors", "--file", &dir, "--bin", "0s"], 2, "at least 1s"),
        (
            vec!["logs", "errors", "--file", &dir, "--since", "99999w"],
            2,
            "is too many (at most 100000)",
        ),
        (
            vec!["logs", "errors", "--file", &dir, "--from", "yesterday"],
            2,
            "`--from yesterday` is not an RFC 3339 time",
        ),
        (
            vec![
                "logs",
                "errors",
                "--file",
                &dir,
                "--from",
                "2026-03-02T00:00:00Z",
                "--until",
                "2026-03-01T00:00:00Z",
            ],
            2,
            "the window is empty",
        ),
        (
            vec![
                "logs",
                "errors",
                "--file",
                &dir,
                "--since",
                "1h",
                "--from",
                "2026-03-01T00:00:00Z",
            ],
            2,
            "cannot be used with",
        ),
        (
            vec!["logs", "auth-failures", "--file", &dir, "--threshold", "0"],
            2,
            "--threshold",
        ),
        (
            vec!["logs", "latency", "--file", &dir, "--by", "user"],
            2,
            "invalid value 'user'",
        ),
        (
            vec!["logs", "errors", "--file", "/nonexistent/app.log"],
            10,
            "log file `/nonexistent/app.log` does not exist",
        ),
        (
            vec!["logs", "errors", "--file", "/tmp/no-such-dir-campctl/*.log"],
            10,
            "matches nothing",
        ),
    ] {
        let output = logs.run(&args);
        assert_exit(&output, code);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(text), "{args:?}: {stderr}");
    }
    let config = logs
        .ctx
        .write_file("bad.toml", "[logs.fields]\nduration_unit = \"minutes\"\n");
    let output = logs.run(&[
        "--config",
        config.to_str().expect("utf-8"),
        "logs",
        "latency",
        "--file",
        &dir,
    ]);
    assert_exit(&output, 2);
    assert!(String::from_utf8_lossy(&output.stderr).contains("duration_unit"));
}
