//! `error-rate` and `latency-p95` (runbook 5.1.2) on the Log Analytics stand-in: the KQL and the window it
//! receives, the statuses at the default thresholds, UNKNOWN without requests, and their selection.

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
    /// `[logs]` has files too: `campctl logs` prefers them, health still reads the workspace.
    fn new(toml: &str) -> Self {
        let la = ArmStandIn::log_analytics();
        let env = HealthEnv::new(&format!(
            "{toml}\n[azure]\nloganalytics_endpoint = \"{}\"\ncredential = \"cli\"\nmax_retry_wait = \"5s\"\n\n[logs]\n\
             workspace_id = \"{WS}\"\nfiles = [\"/var/log/app/*.log\"]\n",
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
        stderr.contains("`--check error-rate` has nothing to check") && stderr.contains("`[logs] workspace_id`"),
        "{stderr}"
    );
    let output = env.run(&["--format", "json", "health", "--check", "memory"]);
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert!(results(&report, "error-rate").is_empty());
}
