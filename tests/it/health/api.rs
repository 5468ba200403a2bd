//! The `api` check against the in-process HTTP(S) server (tests/common/https.rs): the expected status, the JSON
//! field, latency thresholds, HTTPS with and without the test CA, a refused connection, a timeout; and the
//! concurrency of the whole run (a 2 s API answer and a 2 s CPU sample take about 2 s together, not 4).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use serde_json::json;

use super::{HealthEnv, results, status};
use crate::common::{HttpServer, Route, TestCa, assert_exit};

fn api_env(entries: &str) -> HealthEnv {
    HealthEnv::new(entries)
}

fn entry(url: &str, extra: &str) -> String {
    format!("[[health.api]]\nurl = \"{url}\"\n{extra}\n")
}

#[test]
fn a_200_answer_is_ok_and_its_target_is_the_url_without_secrets() {
    let server = HttpServer::http();
    server.route("GET", "/health", Route::json(200, &json!({ "status": "ok" })));
    let url = server.url("/health");
    let with_secrets = url.replace("http://", "http://user:pw-secret@") + "?token=tok-secret";
    let env = api_env(&entry(&with_secrets, "json_field = \"status\"\njson_value = \"ok\""));
    let (report, output) = env.json(&["--check", "api"]);
    assert_exit(&output, 0);
    let result = results(&report, "api")[0];
    assert_eq!(result["status"], "OK", "{report:#}");
    assert_eq!(result["target"], format!("{url}?token=REDACTED"));
    assert_eq!(result["unit"], "seconds");
    assert_eq!(result["warning"], 1.0);
    assert_eq!(result["critical"], 3.0);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("secret"), "{stdout}");
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("GET", "/health")
    );
    assert!(
        requests[0]
            .header("user-agent")
            .is_some_and(|agent| agent.starts_with("campctl/")),
        "{requests:?}"
    );
}

#[test]
fn a_503_is_critical_and_names_the_status() {
    let server = HttpServer::http();
    server.route("GET", "/health", Route::text(503, "down for maintenance"));
    let env = api_env(&entry(&server.url("/health"), ""));
    let (report, output) = env.json(&["--check", "api"]);
    assert_exit(&output, 2);
    let result = results(&report, "api")[0];
    assert_eq!(result["status"], "CRITICAL");
    assert_eq!(result["message"], "HTTP 503 Service Unavailable, expected 2xx");
    assert!(result["value"].as_f64().is_some(), "the latency is kept: {result:#}");
}

#[test]
fn expect_status_accepts_another_status_and_refuses_a_2xx_it_did_not_name() {
    let server = HttpServer::http();
    server.route("GET", "/teapot", Route::status(418));
    server.route("GET", "/ok", Route::status(200));
    let env = api_env(&format!(
        "{}{}",
        entry(&server.url("/teapot"), "expect_status = 418"),
        entry(&server.url("/ok"), "expect_status = 204")
    ));
    let (report, output) = env.json(&["--check", "api"]);
    assert_exit(&output, 2);
    let api = results(&report, "api");
    assert_eq!(api[0]["status"], "OK", "{report:#}");
    assert_eq!(api[1]["status"], "CRITICAL");
    assert_eq!(api[1]["message"], "HTTP 200 OK, expected 204");
}

#[test]
fn a_slow_answer_is_a_warning_or_critical_by_latency() {
    let server = HttpServer::http();
    server.route("GET", "/slow", Route::status(200).delay(Duration::from_millis(600)));
    for (thresholds, level, code) in [
        ("warning = \"300ms\"\ncritical = \"5s\"", "WARNING", 1),
        ("warning = \"200ms\"\ncritical = \"400ms\"", "CRITICAL", 2),
        ("warning = \"4s\"\ncritical = \"5s\"", "OK", 0),
    ] {
        let env = api_env(&entry(&server.url("/slow"), thresholds));
        let (report, output) = env.json(&["--check", "api"]);
        assert_exit(&output, code);
        let result = results(&report, "api")[0];
        assert_eq!(result["status"], level, "{report:#}");
        let latency = result["value"].as_f64().expect("latency");
        assert!(latency >= 0.6, "the answer took 600 ms, measured {latency}");
    }
}

#[test]
fn a_wrong_json_value_is_critical_and_names_field_expected_and_got() {
    let server = HttpServer::http();
    server.route(
        "GET",
        "/health",
        Route::json(
            200,
            &json!({ "status": "ok", "checks": { "db": "down", "cache": "up" } }),
        ),
    );
    let env = api_env(&format!(
        "{}{}{}",
        entry(
            &server.url("/health"),
            "json_field = \"checks.db\"\njson_value = \"up\""
        ),
        entry(
            &server.url("/health"),
            "json_field = \"checks.cache\"\njson_value = \"up\""
        ),
        entry(
            &server.url("/health"),
            "json_field = \"checks.queue\"\njson_value = \"up\""
        ),
    ));
    let (report, output) = env.json(&["--check", "api"]);
    assert_exit(&output, 2);
    let api = results(&report, "api");
    assert_eq!(api[0]["status"], "CRITICAL");
    assert_eq!(
        api[0]["message"],
        "HTTP 200 OK, but `checks.db` is \"down\", expected \"up\""
    );
    assert_eq!(api[1]["status"], "OK", "{report:#}");
    assert_eq!(api[2]["status"], "CRITICAL");
    assert_eq!(
        api[2]["message"],
        "HTTP 200 OK, but the JSON body has no `checks.queue`, expected \"up\""
    );
}

#[test]
fn https_is_verified_with_the_test_ca_and_refused_without_it() {
    let ca = TestCa::new("campctl api test CA");
    let cert = ca.issue_server_cert(&["localhost"], &[IpAddr::V4(Ipv4Addr::LOCALHOST)]);
    let server = HttpServer::https(&cert);
    server.route("GET", "/health", Route::json(200, &json!({ "status": "ok" })));
    let url = server.url("/health");
    assert!(url.starts_with("https://"));
    let env = HealthEnv::new("");
    let ca_file = env.ctx.write_file("api-ca.pem", ca.cert_pem());
    let trusted = api_env(&entry(&url, &format!("ca_file = \"{}\"", ca_file.display())));
    let (report, output) = trusted.json(&["--check", "api"]);
    assert_exit(&output, 0);
    assert_eq!(status(&report, "api"), "OK", "{report:#}");

    let untrusted = api_env(&entry(&url, ""));
    let (report, output) = untrusted.json(&["--check", "api"]);
    assert_exit(&output, 2);
    let result = results(&report, "api")[0];
    assert_eq!(result["status"], "CRITICAL");
    let message = result["message"].as_str().expect("msg");
    assert!(
        message.contains("certificate") && message.contains("UnknownIssuer"),
        "{message}"
    );
    assert_eq!(server.requests().len(), 1, "the untrusted run sent no request");
}

#[test]
fn a_refused_connection_is_critical_and_a_timeout_is_unknown_or_critical() {
    let closed = {
        let server = HttpServer::http();
        server.url("/health")
    };
    let server = HttpServer::http();
    server.route("GET", "/hang", Route::status(200).delay(Duration::from_secs(5)));
    let env = api_env(&format!(
        "{}{}",
        entry(&closed, ""),
        entry(&server.url("/hang"), "timeout = \"500ms\"")
    ));
    let (report, output) = env.json(&["--check", "api"]);
    let api = results(&report, "api");
    assert_eq!(api[0]["status"], "CRITICAL", "{report:#}");
    let refused = api[0]["message"].as_str().expect("msg");
    assert!(
        refused.contains("cannot reach") && refused.contains("refused"),
        "{refused}"
    );
    assert_eq!(api[1]["status"], "UNKNOWN");
    assert!(
        api[1]["message"]
            .as_str()
            .expect("msg")
            .starts_with("no answer within 500ms"),
        "{report:#}"
    );
    assert_exit(&output, 2);

    let critical = api_env(&format!(
        "timeout_status = \"critical\"\n{}",
        entry(&server.url("/hang"), "timeout = \"500ms\"")
    ));
    let (report, output) = critical.json(&["--check", "api"]);
    assert_eq!(status(&report, "api"), "CRITICAL", "{report:#}");
    assert_exit(&output, 2);
}

#[test]
fn bad_api_entries_are_usage_errors_naming_the_entry() {
    for (toml, words) in [
        ("[[health.api]]\nexpect_status = 200\n", "entry 1 of `[health.api]`"),
        ("[[health.api]]\nurl = \"ftp://host/x\"\n", "`ftp`"),
        (
            "[[health.api]]\nurl = \"http://h/x\"\njson_field = \"status\"\n",
            "together",
        ),
        (
            "[[health.api]]\nurl = \"http://h/x\"\nwarning = \"5s\"\ncritical = \"1s\"\n",
            "warning = 5",
        ),
    ] {
        let env = api_env(toml);
        let output = env.run(&["health", "--check", "api"]);
        assert_exit(&output, 2);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(words), "{toml}: {stderr}");
    }
}

/// The issue's concurrency test: one check forced to take 2 s (`api`, a slow route), `cpu` sampling 2 s, and fast
/// host checks. Run one after another they would take at least 4 s; at once, about 2.
#[test]
fn checks_run_at_once_so_the_run_takes_about_as_long_as_the_slowest() {
    let server = HttpServer::http();
    server.route("GET", "/slow", Route::status(200).delay(Duration::from_secs(2)));
    let env = api_env(&format!(
        "[health.cpu]\ninterval = \"2s\"\nwarning = 1000.0\ncritical = 1000.0\n[health.disk]\npaths = [\"/\"]\n{}",
        entry(&server.url("/slow"), "warning = \"10s\"\ncritical = \"20s\"")
    ));
    let (report, _) = env.json(&["--check", "api,cpu,disk,memory,load"]);
    let checks = report["checks"].as_array().expect("checks");
    assert_eq!(checks.len(), 5, "{report:#}");
    let sum: f64 = checks
        .iter()
        .map(|check| check["duration_seconds"].as_f64().expect("duration"))
        .sum();
    let whole = report["duration_seconds"].as_f64().expect("duration");
    assert!(sum >= 4.0, "api and cpu take 2 s each: sum {sum}");
    assert!(
        whole / sum < 0.75,
        "the run took {whole:.2} s for checks that took {sum:.2} s one by one"
    );
    eprintln!("concurrency: run {whole:.3} s, sum of checks {sum:.3} s");
}
