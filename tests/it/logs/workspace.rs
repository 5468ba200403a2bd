//! `campctl logs` on a Log Analytics workspace: the stand-in (tests/common/arm.rs, started for the Log Analytics
//! audience) checks the token's audience, and each test checks the KQL, the timespan and `Prefer` it received.

use std::process::Output;

use serde_json::{Value, json};

use crate::common::TestContext;
use crate::common::arm::ArmStandIn;
use crate::common::az::AzCli;
use crate::common::https::{Recorded, Route};

const WS: &str = "0b6e8a2c-3f5d-4e1a-9c7b-2d4f6a8b0c1e";
const QUERY_PATH: &str = "/v1/workspaces/0b6e8a2c-3f5d-4e1a-9c7b-2d4f6a8b0c1e/query";
const WINDOW: [&str; 4] = ["--from", "2024-06-01T00:00:00Z", "--until", "2024-06-01T03:00:00Z"];
const TIMESPAN: &str = "2024-06-01T00:00:00Z/2024-06-01T03:00:00Z";
/// The columns of `logs latency --by path`'s KQL answer.
const LATENCY_BY_PATH: &[(&str, &str)] = &[
    ("TimeGenerated", "datetime"),
    ("path", "string"),
    ("count", "long"),
    ("mean", "real"),
    ("p50", "real"),
    ("p95", "real"),
    ("p99", "real"),
];

struct Env {
    ctx: TestContext,
    la: ArmStandIn,
    az: AzCli,
}

impl Env {
    fn new(logs: &str) -> Self {
        let ctx = TestContext::new();
        let la = ArmStandIn::log_analytics();
        let az = AzCli::logged_in(ctx.home());
        ctx.write_file(
            "campctl.toml",
            format!(
                "[azure]\nloganalytics_endpoint = \"{}\"\ncredential = \"cli\"\nmax_retry_wait = \"5s\"\n\n[logs]\n\
                 workspace_id = \"{WS}\"\n{logs}\n",
                la.endpoint()
            ),
        );
        Self { ctx, la, az }
    }

    fn answers(&self, routes: Vec<Route>) {
        self.la.route_sequence("POST", QUERY_PATH, routes);
    }

    fn run(&self, args: &[&str]) -> Output {
        self.ctx
            .cmd()
            .env("SSL_CERT_FILE", self.la.ca_file(&self.ctx))
            .env("PATH", self.az.path_env())
            .args(args)
            .output()
            .expect("run campctl")
    }

    fn json(&self, args: &[&str]) -> (Value, Output) {
        let mut all = vec!["--format", "json"];
        all.extend_from_slice(args);
        let output = self.run(&all);
        (serde_json::from_slice(&output.stdout).unwrap_or(Value::Null), output)
    }

    /// The bodies of the queries received, checked for the timespan and `Prefer: wait`.
    fn queries(&self, timespan: &str) -> Vec<String> {
        self.la.assert_clean();
        self.la
            .requests()
            .iter()
            .filter(|request| request.path.eq_ignore_ascii_case(QUERY_PATH))
            .map(|request: &Recorded| {
                assert_eq!(request.method, "POST");
                assert_eq!(request.header("prefer"), Some("wait=180"));
                let body: Value = serde_json::from_slice(&request.body).expect("a JSON body");
                assert_eq!(body["timespan"], timespan, "{body}");
                body["query"].as_str().expect("a query").to_string()
            })
            .collect()
    }
}

fn table(columns: &[(&str, &str)], rows: &Value) -> Value {
    json!({"tables": [{"name": "PrimaryResult",
        "columns": columns.iter().map(|(name, kind)| json!({"name": name, "type": kind})).collect::<Vec<_>>(),
        "rows": rows}]})
}

fn ok(body: &Value) -> Route {
    Route::json(200, body)
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn errors_per_hour_with_the_error_rate_and_top_messages() {
    let env = Env::new("");
    env.answers(vec![
        // Columns in another order than campctl asked for: they are found by name.
        ok(&table(
            &[("errors", "long"), ("TimeGenerated", "datetime")],
            &json!([[4, "2024-06-01T00:00:00Z"], [1, "2024-06-01T02:00:00Z"]]),
        )),
        ok(&table(
            &[
                ("TimeGenerated", "datetime"),
                ("requests", "long"),
                ("server_errors", "long"),
            ],
            &json!([["2024-06-01T00:00:00Z", 200, 3], ["2024-06-01T01:00:00Z", 50, 0]]),
        )),
        ok(&table(
            &[("message", "string"), ("count", "long")],
            &json!([["db timeout", 3], ["boom", 2]]),
        )),
    ]);
    let (report, output) = env.json(&["logs", "errors"].into_iter().chain(WINDOW).collect::<Vec<_>>());
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(report["source"], json!({"kind": "workspace", "inputs": [WS]}));
    assert_eq!(report["bin_seconds"], 3600);
    assert_eq!(
        report["bins"],
        json!([
            {"start": "2024-06-01T00:00:00Z", "errors": 4, "requests": 200, "rate": 0.02},
            {"start": "2024-06-01T01:00:00Z", "errors": 0, "requests": 50, "rate": 0.0},
            {"start": "2024-06-01T02:00:00Z", "errors": 1, "requests": 0, "rate": null},
        ])
    );
    assert_eq!(report["total_errors"], 5);
    assert_eq!(
        report["top_messages"],
        json!([{"message": "db timeout", "count": 3}, {"message": "boom", "count": 2}])
    );
    let queries = env.queries(TIMESPAN);
    assert_eq!(queries.len(), 3);
    assert!(
        queries[0].starts_with("AppServiceConsoleLogs\n| where ResultDescription contains \"error\"")
            && queries[0].contains("bin(TimeGenerated, 1h)"),
        "{}",
        queries[0]
    );
    assert!(queries[1].starts_with("AppServiceHTTPLogs\n"), "{}", queries[1]);
    assert!(queries[2].contains("| top 10 by count desc"), "{}", queries[2]);
}

#[test]
fn auth_failures_escape_the_configured_text_and_refuse_bad_names() {
    let env =
        Env::new("auth_failure_match = 'x\" | project secret //'\n[logs.workspace]\nuser_key = \"user\\\"email\"");
    env.answers(vec![ok(&table(
        &[
            ("User", "string"),
            ("IPAddress", "string"),
            ("FailureCount", "long"),
            ("FirstSeen", "datetime"),
            ("LastSeen", "datetime"),
        ],
        &json!([
            [
                "b@example.com",
                "10.0.0.2",
                6,
                "2024-06-01T00:00:00Z",
                "2024-06-01T01:00:00Z"
            ],
            ["", "10.0.0.9", 9, "2024-06-01T00:00:00Z", "2024-06-01T01:00:00Z"]
        ]),
    ))]);
    let mut args = vec!["logs", "auth-failures", "--threshold", "6"];
    args.extend(WINDOW);
    let (report, output) = env.json(&args);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(report["threshold"], 6);
    assert_eq!(
        report["groups"],
        json!([
            {"user": null, "ip": "10.0.0.9", "failures": 9},
            {"user": "b@example.com", "ip": "10.0.0.2", "failures": 6},
        ])
    );
    let queries = env.queries(TIMESPAN);
    assert_eq!(queries.len(), 1);
    let kql = &queries[0];
    assert!(
        kql.contains("| where Message contains \"x\\\" | project secret //\"\n"),
        "the text stays inside its string literal: {kql}"
    );
    assert!(kql.contains("parse_json(Properties)[\"user\\\"email\"]"), "{kql}");
    assert!(kql.contains("| where FailureCount >= 6"), "{kql}");

    // A table name that would smuggle KQL in is refused before anything is sent.
    let env = Env::new("[logs.workspace]\napp_table = \"AppServiceAppLogs | union SecretTable\"");
    let output = env.run(&args);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("`[logs.workspace] app_table`"),
        "{}",
        text(&output)
    );
    assert!(env.la.requests().is_empty());
}

#[test]
fn latency_by_path_is_an_estimate_from_percentiles() {
    let env = Env::new("");
    env.answers(vec![ok(&table(
        LATENCY_BY_PATH,
        &json!([
            ["2024-06-01T01:00:00Z", "/b", 2, 20.0, 20.0, 30.0, 30.0],
            ["2024-06-01T00:00:00Z", "/a", 3, 10.5, 10, 19.5, 20]
        ]),
    ))]);
    let mut args = vec!["logs", "latency", "--by", "path", "--bin", "1h"];
    args.extend(WINDOW);
    let (report, output) = env.json(&args);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(report["exact"], false);
    assert_eq!(report["by"], "path");
    assert_eq!(
        report["rows"],
        json!([
            {"start": "2024-06-01T00:00:00Z", "path": "/a", "count": 3, "mean_ms": 10.5, "p50_ms": 10.0, "p95_ms": 19.5, "p99_ms": 20.0},
            {"start": "2024-06-01T01:00:00Z", "path": "/b", "count": 2, "mean_ms": 20.0, "p50_ms": 20.0, "p95_ms": 30.0, "p99_ms": 30.0},
        ])
    );
    let kql = &env.queries(TIMESPAN)[0];
    assert!(
        kql.contains("(p50, p95, p99) = percentiles(ResponseTime, 50, 95, 99)")
            && kql.contains("path = tostring(UriStem)"),
        "{kql}"
    );
}

#[test]
fn query_prints_typed_columns_in_order_as_json_and_csv() {
    let env = Env::new("");
    let answer = table(
        &[
            ("TimeGenerated", "datetime"),
            ("ScStatus", "int"),
            ("share", "real"),
            ("Properties", "dynamic"),
            ("ok", "bool"),
            ("UriStem", "string"),
        ],
        &json!([[
            "2024-06-01T00:00:00Z",
            500,
            0.25,
            "{\"user_email\":\"a@example.com\"}",
            true,
            "/api"
        ]]),
    );
    env.answers(vec![ok(&answer)]);
    let kql = "AppServiceHTTPLogs | summarize count() by ScStatus";
    let mut args = vec!["logs", "query", kql];
    args.extend(WINDOW);
    let (report, output) = env.json(&args);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(report["workspace"], WS);
    assert_eq!(report["timespan"], TIMESPAN);
    let first = &report["tables"][0];
    assert_eq!(
        first["columns"],
        json!([
            {"name": "TimeGenerated", "type": "datetime"}, {"name": "ScStatus", "type": "int"},
            {"name": "share", "type": "real"}, {"name": "Properties", "type": "dynamic"},
            {"name": "ok", "type": "bool"}, {"name": "UriStem", "type": "string"}
        ])
    );
    assert_eq!(
        first["rows"],
        json!([["2024-06-01T00:00:00Z", 500, 0.25, {"user_email": "a@example.com"}, true, "/api"]])
    );
    assert_eq!(env.queries(TIMESPAN), vec![kql.to_string()]);

    let mut csv = vec!["--format", "csv"];
    csv.extend(&args);
    let output = env.run(&csv);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with("TimeGenerated,ScStatus,share,Properties,ok,UriStem\n"),
        "{stdout}"
    );

    // An empty table keeps its columns.
    env.answers(vec![ok(&table(&[("n", "long")], &json!([])))]);
    let (report, output) = env.json(&args);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(report["tables"][0]["rows"], json!([]));
    assert_eq!(report["tables"][0]["columns"], json!([{"name": "n", "type": "long"}]));
}

#[test]
fn a_partial_answer_prints_the_rows_and_exits_3() {
    let env = Env::new("");
    let mut answer = table(&[("n", "long")], &json!([[7]]));
    answer["error"] = json!({"code": "PartialError", "message": "There were some errors when processing your query.",
        "details": [{"code": "EngineError", "message": "Query result set has exceeded the internal record count limit"}]});
    env.answers(vec![ok(&answer)]);
    let mut args = vec!["logs", "query", "T | count"];
    args.extend(WINDOW);
    let (report, output) = env.json(&args);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    assert_eq!(report["tables"][0]["rows"], json!([[7]]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("partial results")
            && stderr.contains("`PartialError`")
            && stderr.contains("record count limit"),
        "{stderr}"
    );
}

#[test]
fn refusals_keep_their_exit_codes_and_azures_words() {
    let env = Env::new("");
    let mut args = vec!["logs", "query", "T | wher x"];
    args.extend(WINDOW);
    env.answers(vec![Route::json(
        400,
        &json!({"error": {"message": "The request had some invalid properties", "code": "BadArgumentError",
            "innererror": {"code": "SyntaxError", "message": "A recognition error occurred in the query.",
                "innererror": {"code": "SYN0002", "message": "Query could not be parsed at 'wher' on line [1,5]",
                    "line": 1, "pos": 5, "token": "wher"}}}}),
    )]);
    let output = env.run(&args);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("`SYN0002`: Query could not be parsed at 'wher' on line [1,5]"),
        "{}",
        text(&output)
    );
    assert_eq!(env.queries(TIMESPAN).len(), 1, "a 400 is not retried");

    env.answers(vec![Route::json(
        403,
        &json!({"error": {"code": "InsufficientAccessError", "message": "The provided credentials have insufficient access to perform the requested operation"}}),
    )]);
    let output = env.run(&args);
    assert_eq!(output.status.code(), Some(12), "{}", text(&output));
    assert!(text(&output).contains("Log Analytics Reader"), "{}", text(&output));
}

#[test]
fn a_401_is_exit_12() {
    let env = Env::new("");
    env.answers(vec![Route::json(
        401,
        &json!({"error": {"code": "InvalidTokenError", "message": "The provided authentication is not valid for this resource"}}),
    )]);
    let mut args = vec!["logs", "errors"];
    args.extend(WINDOW);
    let output = env.run(&args);
    assert_eq!(output.status.code(), Some(12), "{}", text(&output));
    assert!(text(&output).contains("InvalidTokenError"), "{}", text(&output));
}

#[test]
fn throttling_is_retried_after_the_wait_azure_asks_for() {
    let env = Env::new("");
    env.answers(vec![
        Route::json(
            429,
            &json!({"error": {"code": "ThrottledError", "message": "slow down"}}),
        )
        .header("Retry-After", "1"),
        ok(&table(&[("n", "long")], &json!([[1]]))),
    ]);
    let mut args = vec!["logs", "query", "T | count"];
    args.extend(WINDOW);
    let started = std::time::Instant::now();
    let (report, output) = env.json(&args);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "waited for Retry-After"
    );
    assert_eq!(report["tables"][0]["rows"], json!([[1]]));
    assert_eq!(env.queries(TIMESPAN).len(), 2);
}

#[test]
fn show_kql_sends_nothing_and_query_needs_a_workspace() {
    let env = Env::new("");
    let mut args = vec!["logs", "latency", "--show-kql", "--bin", "15m"];
    args.extend(WINDOW);
    let output = env.run(&args);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!("// timespan: {TIMESPAN}")) && stdout.contains("bin(TimeGenerated, 15m)"),
        "{stdout}"
    );
    assert!(env.la.requests().is_empty(), "--show-kql sends nothing");

    let ctx = TestContext::new();
    ctx.write_file("campctl.toml", "[logs]\n");
    let output = ctx.cmd().args(["logs", "query", "T | take 1"]).output().expect("run");
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(text(&output).contains("`[logs] workspace_id`"), "{}", text(&output));

    let output = ctx
        .cmd()
        .args(["logs", "query", "--workspace", "my-workspace", "T"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("not a Log Analytics workspace ID"),
        "{}",
        text(&output)
    );
}

/// The same records as a JSON-lines file and as the tables a workspace would answer for them: the reports' JSON is
/// the same apart from `source` (and `exact`, which says the workspace's percentiles are estimates).
#[test]
fn the_workspace_and_the_files_give_the_same_json() {
    let env = Env::new("");
    let line = |time: &str, level: &str, event: &str, extra: &str| {
        format!("{{\"timestamp\":\"{time}\",\"level\":\"{level}\",\"event\":\"{event}\"{extra}}}\n")
    };
    let mut log = String::new();
    log += &line(
        "2024-06-01T00:10:00Z",
        "error",
        "db timeout",
        ",\"path\":\"/a\",\"status\":500,\"duration\":10",
    );
    log += &line(
        "2024-06-01T02:20:00+02:00",
        "info",
        "request",
        ",\"path\":\"/a\",\"status\":200,\"duration\":20",
    );
    log += &line("2024-06-01T00:30:00Z", "error", "db timeout", "");
    log += &line(
        "2024-06-01T01:15:00Z",
        "info",
        "request",
        ",\"path\":\"/b\",\"status\":200,\"duration\":30",
    );
    log += &line("2024-06-01T02:05:00Z", "critical", "boom", "");
    for minute in 0..6 {
        log += &line(
            &format!("2024-06-01T00:4{minute}:00Z"),
            "warning",
            "authentication_failed",
            ",\"user_email\":\"a@example.com\",\"ip_address\":\"10.0.0.1\"",
        );
    }
    log += &line(
        "2024-06-01T00:50:00Z",
        "warning",
        "authentication_failed",
        ",\"user_email\":\"b@example.com\",\"ip_address\":\"10.0.0.2\"",
    );
    let path = env.ctx.write_file("app.log", log);
    let path = path.to_str().expect("a UTF-8 path");

    let compare = |args: &[&str], answers: Vec<Route>| {
        let mut files = args.to_vec();
        files.extend(["--file", path]);
        files.extend(WINDOW);
        let (mut from_files, output) = env.json(&files);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        env.answers(answers);
        let mut workspace = args.to_vec();
        workspace.extend(WINDOW);
        let (mut from_workspace, output) = env.json(&workspace);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        assert_eq!(from_files["source"]["kind"], "files");
        assert_eq!(from_workspace["source"]["kind"], "workspace");
        for report in [&mut from_files, &mut from_workspace] {
            let object = report.as_object_mut().expect("an object");
            object.remove("source");
            object.remove("exact");
        }
        assert_eq!(from_files, from_workspace, "{args:?}");
    };

    compare(
        &["logs", "errors"],
        vec![
            ok(&table(
                &[("TimeGenerated", "datetime"), ("errors", "long")],
                &json!([["2024-06-01T00:00:00Z", 2], ["2024-06-01T02:00:00Z", 1]]),
            )),
            ok(&table(
                &[
                    ("TimeGenerated", "datetime"),
                    ("requests", "long"),
                    ("server_errors", "long"),
                ],
                &json!([["2024-06-01T00:00:00Z", 2, 1], ["2024-06-01T01:00:00Z", 1, 0]]),
            )),
            ok(&table(
                &[("message", "string"), ("count", "long")],
                &json!([["db timeout", 2], ["boom", 1]]),
            )),
        ],
    );
    compare(
        &["logs", "auth-failures", "--threshold", "2"],
        vec![ok(&table(
            &[("User", "string"), ("IPAddress", "string"), ("FailureCount", "long")],
            &json!([["a@example.com", "10.0.0.1", 6]]),
        ))],
    );
    compare(
        &["logs", "latency", "--by", "path"],
        vec![ok(&table(
            LATENCY_BY_PATH,
            &json!([
                // Nearest rank, as KQL's percentiles: P50 of 10 and 20 is 10.
                ["2024-06-01T00:00:00Z", "/a", 2, 15.0, 10.0, 20.0, 20.0],
                ["2024-06-01T01:00:00Z", "/b", 1, 30.0, 30.0, 30.0, 30.0]
            ]),
        ))],
    );
}

#[test]
fn tail_prints_the_newest_rows_and_follow_prints_each_new_row_once() {
    let env = Env::new("");
    let rows = |rows: Value| ok(&table(&[("TimeGenerated", "datetime"), ("line", "string")], &rows));
    env.answers(vec![rows(json!([
        ["2024-06-01T00:00:01Z", "ERROR first"],
        ["2024-06-01T00:00:02Z", "ERROR second"]
    ]))]);
    let (report, output) = env.json(&["logs", "tail", "--lines", "2", "--level", "error", "--grep", "x\"y"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(report["source"], json!({"kind": "workspace", "inputs": [WS]}));
    let lines: Vec<&str> = report["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|line| line["line"].as_str().expect("text"))
        .collect();
    assert_eq!(lines, ["ERROR first", "ERROR second"]);
    let kql = &env.la.requests()[0].body;
    let kql: Value = serde_json::from_slice(kql).expect("json");
    let kql = kql["query"].as_str().expect("query");
    assert!(
        kql.contains("| where ResultDescription contains \"error\"")
            && kql.contains("| where ResultDescription contains \"x\\\"y\"")
            && kql.contains("| top 2 by TimeGenerated desc"),
        "{kql}"
    );

    // --follow: a row seen in an earlier answer (it is asked for again: rows arrive late) is printed once.
    let env = Env::new("");
    let at = |seconds_ago: i64| {
        (chrono::Utc::now() - chrono::Duration::seconds(seconds_ago)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let (one, late, two) = (at(60), at(50), at(40));
    env.answers(vec![
        rows(json!([[one, "one"]])),
        rows(json!([[one, "one"], [two, "two"]])),
        rows(json!([[two, "two"], [late, "late"]])),
    ]);
    let ca = env.la.ca_file(&env.ctx);
    let mut child = env
        .ctx
        .std_cmd()
        .env("SSL_CERT_FILE", ca)
        .env("PATH", env.az.path_env())
        .args(["logs", "tail", "--follow", "--interval", "1s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while env.la.requests().len() < 4 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.kill().expect("kill");
    let output = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout,
        "one\ntwo\nlate\n",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("2–5 minutes"),
        "the ingestion delay is said"
    );
    env.la.assert_clean();
}

#[test]
fn config_check_names_a_bad_workspace_setting() {
    let env =
        Env::new("files = [\"/var/log/app/*.log\"]\n[logs.workspace]\nhttp_table = \"AppServiceHTTPLogs | take 1\"");
    let output = env.run(&["config", "check"]);
    assert_ne!(output.status.code(), Some(0), "{}", text(&output));
    assert!(
        text(&output).contains("`[logs.workspace] http_table`"),
        "checked even when the reports read files: {}",
        text(&output)
    );
}
