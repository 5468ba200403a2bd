//! `error-rate` and `latency-p95` (runbook 5.1.2) on the Log Analytics stand-in: the KQL and the window it
//! receives, the statuses at the default thresholds, UNKNOWN without requests, and their selection; and the same
//! two checks on the application's log files (`[logs] files`): known answers, the window, rotations not written
//! to during the window left unread, unreadable lines, a missing file.

use std::process::Output;

use serde_json::{Value, json};

use super::{HealthEnv, results};
use crate::common::Route;
use crate::common::arm::ArmStandIn;
use crate::common::az::AzCli;

const WS: &str = "0b6e8a2c-3f5d-4e1a-9c7b-2d4f6a8b0c1e";
const QUERY_PATH: &str = "/v1/workspaces/0b6e8a2c-3f5d-4e1a-9c7b-2d4f6a8b0c1e/query";

struct LogsHealth {
    env: HealthEnv,
    la: ArmStandIn,
    az: AzCli,
}

impl LogsHealth {
    /// `[logs] workspace_id` without `[logs] files` (which health, as `campctl logs`, would read first).
    fn new(toml: &str) -> Self {
        let la = ArmStandIn::log_analytics();
        let env = HealthEnv::new(&format!(
            "{toml}\n[azure]\nloganalytics_endpoint = \"{}\"\ncredential = \"cli\"\nmax_retry_wait = \"5s\"\n\n[logs]\n\
             workspace_id = \"{WS}\"\n",
            la.endpoint()
        ));
        let az = AzCli::logged_in(env.ctx.home());
        Self { env, la, az }
    }

    fn json(&self, args: &[&str]) -> (Value, Output) {
        let output = self
            .env
            .ctx
            .cmd()
            .env("SSL_CERT_FILE", self.la.ca_file(&self.env.ctx))
            .env("PATH", self.az.path_env())
            .arg("--config")
            .arg(&self.env.config)
            .args(["--format", "json", "health"])
            .args(args)
            .output()
            .expect("run campctl");
        let report = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
        (report, output)
    }

    /// The KQL of every query, each checked for a window of `minutes` ending now.
    fn queries(&self, minutes: i64) -> Vec<String> {
        self.la.assert_clean();
        self.la
            .requests()
            .iter()
            .map(|request| {
                let body: Value = serde_json::from_slice(&request.body).expect("JSON");
                let timespan = body["timespan"].as_str().expect("a timespan");
                let (from, until) = timespan.split_once('/').expect("start/end");
                let parse = |text: &str| chrono::DateTime::parse_from_rfc3339(text).expect("RFC 3339");
                assert_eq!((parse(until) - parse(from)).num_minutes(), minutes, "{timespan}");
                assert!(
                    (chrono::Utc::now() - parse(until).with_timezone(&chrono::Utc))
                        .num_seconds()
                        .abs()
                        < 60,
                    "the window ends now: {timespan}"
                );
                body["query"].as_str().expect("query").to_string()
            })
            .collect()
    }
}

fn answer(columns: &[(&str, &str)], row: &Value) -> Route {
    Route::json(
        200,
        &json!({"tables": [{"name": "PrimaryResult",
            "columns": columns.iter().map(|(name, kind)| json!({"name": name, "type": kind})).collect::<Vec<_>>(),
            "rows": [row]}]}),
    )
}

fn one<'a>(report: &'a Value, check: &str) -> &'a Value {
    let found = results(report, check);
    assert_eq!(found.len(), 1, "{report:#}");
    found[0]
}

#[test]
fn error_rate_and_p95_at_the_runbook_thresholds() {
    let health = LogsHealth::new("");
    // 3 of 100 requests failed: 3 % is WARNING (1/5 %).
    health.la.route(
        "POST",
        QUERY_PATH,
        answer(&[("requests", "long"), ("server_errors", "long")], &json!([100, 3])),
    );
    let (report, output) = health.json(&["--check", "error-rate"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result = one(&report, "error-rate");
    assert_eq!(result["status"], "WARNING", "{result}");
    assert_eq!(result["value"], 3.0);
    let queries = health.queries(15);
    assert!(
        queries[0].contains("AppServiceHTTPLogs") && queries[0].contains("countif(toint(ScStatus) >= 500)"),
        "{}",
        queries[0]
    );

    // P95 of 3500 ms is CRITICAL (1/3 s); a window of 5m from the table.
    let health = LogsHealth::new("[health.latency_p95]\nwindow = \"5m\"");
    health.la.route(
        "POST",
        QUERY_PATH,
        answer(&[("count", "long"), ("p95", "real")], &json!([40, 3500.0])),
    );
    let (report, output) = health.json(&["--check", "latency-p95"]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result = one(&report, "latency-p95");
    assert_eq!(result["status"], "CRITICAL", "{result}");
    assert_eq!(result["value"], 3.5);
    let queries = health.queries(5);
    assert!(
        queries[0].contains("percentile(todouble(TimeTaken), 95)"),
        "{}",
        queries[0]
    );
}

#[test]
fn no_requests_is_unknown_and_a_refusal_names_the_role() {
    let health = LogsHealth::new("");
    health.la.route(
        "POST",
        QUERY_PATH,
        answer(&[("requests", "long"), ("server_errors", "long")], &json!([0, 0])),
    );
    let (report, output) = health.json(&["--check", "error-rate"]);
    assert_eq!(output.status.code(), Some(3));
    let result = one(&report, "error-rate");
    assert_eq!(result["status"], "UNKNOWN");
    assert!(
        result["message"].as_str().is_some_and(|m| m.contains("no requests")),
        "{result}"
    );

    health.la.route(
        "POST",
        QUERY_PATH,
        Route::json(
            403,
            &json!({"error": {"code": "InsufficientAccessError", "message": "no access"}}),
        ),
    );
    let (report, output) = health.json(&["--check", "latency-p95"]);
    assert_eq!(output.status.code(), Some(3));
    let result = one(&report, "latency-p95");
    assert_eq!(result["status"], "UNKNOWN");
    assert!(
        result["message"]
            .as_str()
            .is_some_and(|m| m.contains("Log Analytics Reader")),
        "{result}"
    );
}

#[test]
fn without_a_workspace_the_checks_are_left_out_and_asking_for_one_is_exit_2() {
    let env = HealthEnv::new("");
    let output = env.run(&["health", "--check", "error-rate"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`--check error-rate` has nothing to check")
            && stderr.contains("`[logs] files`")
            && stderr.contains("`[logs] workspace_id`"),
        "{stderr}"
    );
    let output = env.run(&["--format", "json", "health", "--check", "memory"]);
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert!(results(&report, "error-rate").is_empty());
}

/// One request line `minutes_ago` before now.
fn request(minutes_ago: i64, status: u16, duration_ms: u64) -> String {
    let time = chrono::Utc::now() - chrono::Duration::seconds(minutes_ago * 60);
    format!(
        "{{\"timestamp\":\"{}\",\"level\":\"info\",\"event\":\"request\",\"path\":\"/api/v1/x\",\"status\":{status},\"duration\":{duration_ms}}}\n",
        time.to_rfc3339()
    )
}

/// A health sandbox reading `DIR/app.log*` (and with a workspace it must not ask: the files come first).
fn files_health(toml: &str) -> (HealthEnv, std::path::PathBuf) {
    let env = HealthEnv::new(toml);
    let dir = env.ctx.home().join("app-logs");
    fs_err::create_dir_all(&dir).expect("log dir");
    let config = fs_err::read_to_string(&env.config).expect("config");
    let logs = format!(
        "\n[logs]\nfiles = [\"{}/app.log*\"]\nworkspace_id = \"{WS}\"\n",
        dir.display()
    );
    fs_err::write(&env.config, config + &logs).expect("config");
    (env, dir)
}

#[test]
fn from_log_files_error_rate_and_p95_have_known_answers() {
    let (env, dir) = files_health("");
    // In the 15-minute window: 200 requests, 6 of them 5xx (3 %: WARNING), durations 1..=180 ms and twenty of
    // 4000 ms: P95 (nearest rank 190 of 200) is 4000 ms, CRITICAL. Outside it: 50 old 5xx that must not count.
    let mut text = String::new();
    for index in 0..50u64 {
        text.push_str(&request(40, 500, 9000 + index));
    }
    for index in 1..=200u64 {
        let status = if index % 33 == 0 { 502 } else { 200 };
        let duration = if index > 180 { 4000 } else { index };
        text.push_str(&request(10 - (index as i64 % 10), status, duration));
    }
    text.push_str("not json\n");
    fs_err::write(dir.join("app.log"), &text).expect("write app.log");
    // A rotation last written two days ago is not read, whatever its lines say.
    let rotated = dir.join("app.log.1");
    fs_err::write(&rotated, request(5, 500, 60_000).repeat(1000)).expect("write app.log.1");
    let two_days_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86_400);
    fs_err::File::options()
        .write(true)
        .open(&rotated)
        .and_then(|file| file.set_modified(two_days_ago))
        .expect("backdate app.log.1");

    let (report, output) = env.json(&["--check", "error-rate", "--check", "latency-p95"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let rate = one(&report, "error-rate");
    assert_eq!(rate["status"], "WARNING", "{rate}");
    assert_eq!(rate["value"], 3.0, "{rate}");
    let message = rate["message"].as_str().expect("message");
    assert!(
        message.contains("6 of 200 requests")
            && message.contains("1 unreadable line")
            && message.contains("app.log:251"),
        "{message}"
    );
    let p95 = one(&report, "latency-p95");
    assert_eq!(p95["status"], "CRITICAL", "{p95}");
    assert_eq!(p95["value"], 4.0, "{p95}");
    assert!(p95["message"].as_str().is_some_and(|m| m.contains("exact")), "{p95}");

    // The same lines gzipped as a fresh rotation: read too, so every count doubles and the answers stay.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, text.as_bytes()).expect("gzip");
    fs_err::write(dir.join("app.log.2.gz"), gz.finish().expect("gzip")).expect("write app.log.2.gz");
    let (report, _) = env.json(&["--check", "error-rate"]);
    let rate = one(&report, "error-rate");
    assert_eq!(rate["value"], 3.0, "{rate}");
    assert!(
        rate["message"]
            .as_str()
            .is_some_and(|m| m.contains("12 of 400 requests")),
        "{rate}"
    );
}

#[test]
fn from_log_files_a_quiet_window_is_unknown_and_a_missing_file_is_named() {
    let (env, dir) = files_health("[health.latency_p95]\nwindow = \"5m\"");
    // Requests only 20 minutes ago: outside both windows (15m and 5m).
    fs_err::write(dir.join("app.log"), request(20, 200, 10).repeat(30)).expect("write app.log");
    let (report, output) = env.json(&["--check", "error-rate", "--check", "latency-p95"]);
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for check in ["error-rate", "latency-p95"] {
        let result = one(&report, check);
        assert_eq!(result["status"], "UNKNOWN", "{result}");
        assert!(
            result["message"].as_str().is_some_and(|m| m.contains("no requests")),
            "{result}"
        );
    }
    // Requests 10 minutes ago: inside error-rate's 15m, outside latency-p95's 5m.
    fs_err::write(dir.join("app.log"), request(10, 200, 10).repeat(30)).expect("write app.log");
    let (report, _) = env.json(&["--check", "error-rate", "--check", "latency-p95"]);
    assert_eq!(one(&report, "error-rate")["status"], "OK");
    assert_eq!(one(&report, "latency-p95")["status"], "UNKNOWN");

    fs_err::remove_file(dir.join("app.log")).expect("remove app.log");
    let (report, output) = env.json(&["--check", "error-rate"]);
    assert_eq!(output.status.code(), Some(3));
    let result = one(&report, "error-rate");
    assert_eq!(result["status"], "UNKNOWN", "{result}");
    assert!(
        result["message"]
            .as_str()
            .is_some_and(|m| m.contains("app.log*") && m.contains("matches no")),
        "{result}"
    );
}
