//! `azure-metrics` and `app-service` against the ARM stand-in (tests/common/arm.rs: Monitor metrics and
//! `Microsoft.Web/sites` routes), with tokens from the stand-in `az`.

use std::process::Output;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{HealthEnv, results};
use crate::common::arm::ArmStandIn;
use crate::common::az::AzCli;
use crate::common::https::Recorded;
use crate::common::{Route, assert_exit};

/// health's sandbox, the stand-in ARM and `az`.
struct AzureHealth {
    env: HealthEnv,
    arm: ArmStandIn,
    az: AzCli,
}

impl AzureHealth {
    /// `[azure]` pointing at the stand-in with `azure_keys` appended, then `toml` (more `[health.*]` tables).
    fn new(azure_keys: &str, toml: &str) -> Self {
        let arm = ArmStandIn::start();
        let env = HealthEnv::new(&format!("{}{azure_keys}\n{toml}", arm.azure_section()));
        let az = AzCli::logged_in(env.ctx.home());
        Self { env, arm, az }
    }

    /// The server `pg1` and the plan `plan1`, both named in `[azure]`.
    fn server_and_plan(toml: &str) -> Self {
        let this = Self::new("postgres_server = \"pg1\"\napp_service_plan = \"plan1\"", toml);
        this.arm.add_server("pg1");
        this.arm.add_plan("plan1");
        this
    }

    fn run(&self, args: &[&str]) -> Output {
        let ca = self.arm.ca_file(&self.env.ctx);
        self.env
            .ctx
            .cmd()
            .env("SSL_CERT_FILE", ca)
            .env("PATH", self.az.path_env())
            .arg("--config")
            .arg(&self.env.config)
            .args(args)
            .output()
            .expect("run campctl")
    }

    fn json(&self, args: &[&str]) -> (Value, Output) {
        let mut all = vec!["--format", "json", "health"];
        all.extend_from_slice(args);
        let output = self.run(&all);
        let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
            panic!(
                "health JSON: {err}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        });
        (report, output)
    }

    fn metric_requests(&self) -> Vec<Recorded> {
        self.arm
            .requests()
            .into_iter()
            .filter(|request| request.path.ends_with("/providers/Microsoft.Insights/metrics"))
            .collect()
    }
}

/// The one result of `target` in a report.
#[track_caller]
fn result<'a>(report: &'a Value, check: &str, target: &str) -> &'a Value {
    let found: Vec<&Value> = results(report, check)
        .into_iter()
        .filter(|result| result["target"] == target)
        .collect();
    assert_eq!(found.len(), 1, "one `{check} {target}` in {report:#}");
    found[0]
}

/// A request's query parameter, decoded.
fn param(request: &Recorded, name: &str) -> String {
    let query = request.query.clone().unwrap_or_default();
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map_or_else(|| panic!("no `{name}` in `{query}`"), |(_, value)| value.into_owned())
}

/// The length of a request's `timespan` in minutes; asserts that it ends on a whole minute at most two minutes ago.
#[track_caller]
fn timespan_minutes(request: &Recorded) -> i64 {
    let timespan = param(request, "timespan");
    let (start, end) = timespan.split_once('/').expect("START/END");
    let parse = |text: &str| {
        DateTime::parse_from_rfc3339(text)
            .unwrap_or_else(|err| panic!("`{text}`: {err}"))
            .with_timezone(&Utc)
    };
    let (start, end) = (parse(start), parse(end));
    assert_eq!(end.timestamp() % 60, 0, "{timespan} ends on a whole minute");
    let behind = Utc::now() - end;
    assert!(
        behind >= chrono::Duration::zero() && behind <= chrono::Duration::minutes(2),
        "{timespan} ends at the last complete minute"
    );
    (end - start).num_minutes()
}

#[test]
fn metrics_drive_each_status_from_the_runbook_thresholds_with_one_request_per_resource() {
    let t = AzureHealth::server_and_plan("");
    let pg1 = ArmStandIn::server_id("pg1");
    let plan1 = ArmStandIn::plan_id("plan1");
    t.arm
        .set_metric(&pg1, "cpu_percent", "Percent", &[60.0, 80.0])
        .set_metric(&pg1, "memory_percent", "Percent", &[96.0, 96.0, 96.0])
        .set_metric(&pg1, "storage_percent", "Percent", &[50.0, 52.0])
        .set_metric(&pg1, "active_connections", "Count", &[90.0, 80.0])
        .set_metric(&plan1, "CpuPercentage", "Percent", &[91.0, 95.0])
        .set_metric(&plan1, "MemoryPercentage", "Percent", &[10.0]);
    let (report, output) = t.json(&["--check", "azure-metrics"]);
    assert_exit(&output, 2);
    let expect = [
        ("pg1/cpu_percent", "WARNING", 70.0, 70.0, 90.0, "percent"),
        ("pg1/memory_percent", "CRITICAL", 96.0, 80.0, 95.0, "percent"),
        ("pg1/storage_percent", "OK", 51.0, 80.0, 90.0, "percent"),
        ("pg1/active_connections", "WARNING", 85.0, 80.0, 95.0, "count"),
        ("plan1/CpuPercentage", "CRITICAL", 93.0, 70.0, 90.0, "percent"),
        ("plan1/MemoryPercentage", "OK", 10.0, 80.0, 95.0, "percent"),
    ];
    assert_eq!(results(&report, "azure-metrics").len(), expect.len(), "{report:#}");
    for (target, status, value, warning, critical, unit) in expect {
        let found = result(&report, "azure-metrics", target);
        assert_eq!(found["status"], status, "{target}: {found:#}");
        assert_eq!(found["value"], json!(value), "{target}");
        assert_eq!(found["warning"], json!(warning), "{target}");
        assert_eq!(found["critical"], json!(critical), "{target}");
        assert_eq!(found["unit"], unit, "{target}");
    }
    let requests = t.metric_requests();
    assert_eq!(
        requests.len(),
        2,
        "one request per resource: {:#?}",
        t.arm.request_lines()
    );
    for (request, id, names) in [
        (
            &requests[0],
            &pg1,
            "cpu_percent,memory_percent,storage_percent,active_connections",
        ),
        (&requests[1], &plan1, "CpuPercentage,MemoryPercentage"),
    ] {
        let request = if request.path.contains(id.as_str()) {
            request
        } else {
            requests
                .iter()
                .find(|r| r.path.contains(id.as_str()))
                .expect("a request")
        };
        assert_eq!(param(request, "metricnames"), names);
        assert_eq!(param(request, "aggregation"), "Average");
        assert_eq!(param(request, "interval"), "PT1M");
        assert_eq!(param(request, "api-version"), "2023-10-01");
        assert_eq!(timespan_minutes(request), 15, "the default window");
    }
    // Audience and api-version of every request, and ARM's scope asked of `az`.
    t.arm.assert_clean();
    assert!(
        t.az.calls()
            .iter()
            .all(|call| call.contains("--scope https://management.azure.com/.default")),
        "{:?}",
        t.az.calls()
    );
}

#[test]
fn thresholds_window_and_metric_list_are_overridden_in_config() {
    let t = AzureHealth::new(
        "postgres_server = \"pg1\"",
        "[health.azure_metrics]\nwindow = \"30m\"\ninterval = \"5m\"\nserver_metrics = [\"cpu_percent\", \"iops\"]\n\
         [health.azure_metrics.thresholds.cpu_percent]\nwarning = 50\ncritical = 60\n\
         [health.azure_metrics.thresholds.iops]\nwarning = 100\ncritical = 200\n",
    );
    let pg1 = t.arm.add_server("pg1");
    t.arm
        .set_metric(&pg1, "cpu_percent", "Percent", &[55.0])
        .set_metric(&pg1, "iops", "Count", &[300.0, 200.0]);
    let (report, output) = t.json(&["--check", "azure-metrics"]);
    assert_exit(&output, 2);
    let cpu = result(&report, "azure-metrics", "pg1/cpu_percent");
    assert_eq!(
        (
            cpu["status"].as_str(),
            cpu["warning"].as_f64(),
            cpu["critical"].as_f64()
        ),
        (Some("WARNING"), Some(50.0), Some(60.0)),
        "55 % is OK by the runbook, WARNING by the config: {cpu:#}"
    );
    let iops = result(&report, "azure-metrics", "pg1/iops");
    assert_eq!(iops["status"], "CRITICAL", "{iops:#}");
    assert_eq!(iops["value"], json!(250.0));
    assert_eq!(results(&report, "azure-metrics").len(), 2, "only the listed metrics");
    let requests = t.metric_requests();
    assert_eq!(requests.len(), 1, "no plan configured, no plan request");
    assert_eq!(param(&requests[0], "metricnames"), "cpu_percent,iops");
    assert_eq!(param(&requests[0], "interval"), "PT5M");
    assert_eq!(timespan_minutes(&requests[0]), 30);
    t.arm.assert_clean();

    // A metric without a default reported without thresholds when none is configured.
    let t = AzureHealth::new(
        "postgres_server = \"pg1\"",
        "[health.azure_metrics]\nserver_metrics = [\"disk_queue_depth\"]\n",
    );
    let pg1 = t.arm.add_server("pg1");
    t.arm.set_metric(&pg1, "disk_queue_depth", "Count", &[3.0]);
    let (report, output) = t.json(&["--check", "azure-metrics"]);
    assert_exit(&output, 0);
    let depth = result(&report, "azure-metrics", "pg1/disk_queue_depth");
    assert_eq!(depth["status"], "OK");
    assert_eq!(depth["value"], json!(3.0));
    assert!(depth.get("warning").is_none_or(Value::is_null), "{depth:#}");
}

#[test]
fn bad_azure_metrics_settings_are_usage_errors_before_any_request() {
    for (table, named) in [
        ("window = \"0s\"", "`window` of `[health.azure_metrics]`"),
        ("interval = \"90s\"", "Azure Monitor takes whole minutes"),
        ("window = \"5m\"\ninterval = \"10m\"", "longer than its `window`"),
        ("server_metrics = []", "`server_metrics` of `[health.azure_metrics]`"),
        (
            "[health.azure_metrics.thresholds.cpu_percent]\nwarning = 95\ncritical = 90",
            "warning = 95 is above critical = 90",
        ),
        (
            "[health.azure_metrics.thresholds.cpu_percnt]\nwarning = 1\ncritical = 2",
            "`thresholds.cpu_percnt` of `[health.azure_metrics]` in",
        ),
    ] {
        let header = if table.starts_with('[') {
            ""
        } else {
            "[health.azure_metrics]\n"
        };
        let t = AzureHealth::new("postgres_server = \"pg1\"", &format!("{header}{table}\n"));
        t.arm.add_server("pg1");
        let output = t.run(&["health", "--check", "azure-metrics"]);
        assert_exit(&output, 2);
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(err.contains(named), "{table}: {err}");
        assert!(t.arm.requests().is_empty(), "{table}: nothing sent");
    }
}

#[test]
fn a_metric_without_data_points_in_the_window_is_unknown() {
    let t = AzureHealth::new("postgres_server = \"pg1\"", "");
    let pg1 = t.arm.add_server("pg1");
    t.arm
        .set_metric(&pg1, "cpu_percent", "Percent", &[10.0])
        .set_metric(&pg1, "memory_percent", "Percent", &[])
        .set_metric(&pg1, "storage_percent", "Percent", &[10.0])
        .set_metric(&pg1, "active_connections", "Count", &[1.0]);
    let (report, output) = t.json(&["--check", "azure-metrics"]);
    assert_exit(&output, 3);
    let memory = result(&report, "azure-metrics", "pg1/memory_percent");
    assert_eq!(memory["status"], "UNKNOWN");
    assert!(memory["value"].is_null());
    let message = memory["message"].as_str().expect("message");
    assert!(
        message.contains("no data points") && message.contains("15m"),
        "{message}"
    );
    assert_eq!(result(&report, "azure-metrics", "pg1/cpu_percent")["status"], "OK");
}

#[test]
fn app_service_state_and_availability_decide_the_status() {
    let t = AzureHealth::new("app_service = \"app1\"", "");
    for (state, availability, state_status, availability_status, exit) in [
        ("Running", "Normal", "OK", "OK", 0),
        ("Stopped", "Normal", "CRITICAL", "OK", 2),
        ("Running", "Limited", "OK", "WARNING", 1),
        ("Running", "DisasterRecoveryMode", "OK", "CRITICAL", 2),
        ("Starting", "Normal", "WARNING", "OK", 1),
    ] {
        t.arm.add_site("app1", state, availability);
        let (report, output) = t.json(&["--check", "app-service"]);
        assert_exit(&output, exit);
        assert_eq!(
            result(&report, "app-service", "app1/state")["status"],
            state_status,
            "{state}: {report:#}"
        );
        assert_eq!(
            result(&report, "app-service", "app1/availability")["status"],
            availability_status,
            "{availability}"
        );
    }
    let site = ArmStandIn::site_id("app1");
    assert!(
        t.arm.request_lines().iter().all(|line| *line == format!("GET {site}")),
        "{:#?}",
        t.arm.request_lines()
    );
    t.arm.assert_clean();
    // Stopped, as Nagios sees it: CRITICAL, exit 2.
    t.arm.add_site("app1", "Stopped", "Normal");
    let output = t.run(&["--format", "nagios", "health", "--check", "app-service"]);
    assert_exit(&output, 2);
    let text = String::from_utf8_lossy(&output.stdout);
    let first = text.lines().next().expect("a status line");
    assert!(first.starts_with("CAMPCTL HEALTH CRITICAL"), "{text}");
    assert!(
        text.contains("app-service app1/state") && text.contains("`Stopped`"),
        "{text}"
    );
}

#[test]
fn refused_reads_are_unknown_naming_the_rbac_role() {
    let t = AzureHealth::new("postgres_server = \"pg1\"\napp_service = \"app1\"", "");
    t.arm.add_server("pg1");
    t.arm.add_site("app1", "Running", "Normal");
    let forbidden = || {
        Route::json(
            403,
            &json!({ "error": { "code": "AuthorizationFailed",
                                "message": "The client 'x' does not have authorization to perform action." } }),
        )
    };
    t.arm
        .fault(Some("GET"), "/providers/microsoft.insights/metrics", forbidden(), 1)
        .fault(Some("GET"), "/sites/app1", forbidden(), 1);
    let (report, output) = t.json(&["--check", "azure-metrics,app-service"]);
    assert_exit(&output, 3);
    let metrics = result(&report, "azure-metrics", "pg1");
    assert_eq!(metrics["status"], "UNKNOWN");
    let message = metrics["message"].as_str().expect("message");
    assert!(
        message.contains("HTTP 403")
            && message.contains("AuthorizationFailed")
            && message.contains("`Monitoring Reader`"),
        "{message}"
    );
    let site = result(&report, "app-service", "app1");
    assert_eq!(site["status"], "UNKNOWN");
    let message = site["message"].as_str().expect("message");
    assert!(
        message.contains("HTTP 403") && message.contains("`Reader` or `Website Contributor`"),
        "{message}"
    );
}

#[test]
fn azure_checks_run_only_when_azure_names_the_resources() {
    // Nothing named: not in the default set (a note says what to configure); asked for, exit 2 naming the key.
    let never = "[health.memory]\nwarning = 100\ncritical = 100\n";
    let t = AzureHealth::new("", never);
    let (report, output) = t.json(&["--check", "memory"]);
    assert_exit(&output, 0);
    assert!(results(&report, "azure-metrics").is_empty());
    for (check, key) in [
        ("azure-metrics", "`[azure] postgres_server`"),
        ("app-service", "`[azure] app_service`"),
    ] {
        let output = t.run(&["health", "--check", check]);
        assert_exit(&output, 2);
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(
            err.contains(&format!("`--check {check}` has nothing to check")) && err.contains(key),
            "{err}"
        );
    }
    let skip = "disk,cpu,load,database,connections,replication,deadlocks,long-queries,idle-in-transaction,wraparound,\
                cache-hit,backup-age,verify-age";
    let (report, output) = t.json(&["--skip", skip]);
    assert_exit(&output, 0);
    let notes = report["notes"].to_string();
    assert!(
        notes.contains("`azure-metrics` (configure") && notes.contains("`app-service` (configure"),
        "{notes}"
    );
    assert!(t.arm.requests().is_empty());

    // Named, but by a name without `subscription_id`: exit 2 naming the key, the check and the way out.
    let t = AzureHealth::new("", never);
    t.env.ctx.write_file(
        "campctl.toml",
        format!(
            "[health]\nstate_file = \"{}\"\n[azure]\nmanagement_endpoint = \"{}\"\ncredential = \"cli\"\n\
             app_service = \"app1\"\n{never}",
            t.env.ctx.home().join("state/health.json").display(),
            t.arm.endpoint()
        ),
    );
    let output = t.run(&["health", "--skip", skip]);
    assert_exit(&output, 2);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("`app-service` cannot use `[azure]`: `[azure] subscription_id` is not set")
            && err.contains("--skip azure-metrics,app-service"),
        "{err}"
    );
    assert!(t.arm.requests().is_empty());

    // Named: in the default set.
    let t = AzureHealth::new("app_service = \"app1\"", never);
    t.arm.add_site("app1", "Running", "Normal");
    let (report, output) = t.json(&["--skip", skip]);
    assert_exit(&output, 0);
    assert_eq!(results(&report, "app-service").len(), 2, "{report:#}");
    let notes = report["notes"].to_string();
    assert!(
        notes.contains("`azure-metrics` (configure") && !notes.contains("`app-service`"),
        "{notes}"
    );
}

#[test]
fn nagios_and_prometheus_have_one_row_per_metric() {
    let t = AzureHealth::server_and_plan("");
    let pg1 = ArmStandIn::server_id("pg1");
    let plan1 = ArmStandIn::plan_id("plan1");
    t.arm
        .set_metric(&pg1, "cpu_percent", "Percent", &[75.0])
        .set_metric(&pg1, "memory_percent", "Percent", &[40.0])
        .set_metric(&pg1, "storage_percent", "Percent", &[30.0])
        .set_metric(&pg1, "active_connections", "Count", &[12.0])
        .set_metric(&plan1, "CpuPercentage", "Percent", &[20.0])
        .set_metric(&plan1, "MemoryPercentage", "Percent", &[50.0]);
    let output = t.run(&["--format", "nagios", "health", "--check", "azure-metrics"]);
    assert_exit(&output, 1);
    let text = String::from_utf8_lossy(&output.stdout);
    let first = text.lines().next().expect("a status line");
    assert!(first.starts_with("CAMPCTL HEALTH WARNING"), "{first}");
    for field in [
        "'azure-metrics pg1/cpu_percent'=75%;70;90;0;100",
        "'azure-metrics pg1/memory_percent'=40%;80;95;0;100",
        "'azure-metrics pg1/storage_percent'=30%;80;90;0;100",
        "'azure-metrics pg1/active_connections'=12;80;95",
        "'azure-metrics plan1/CpuPercentage'=20%;70;90;0;100",
        "'azure-metrics plan1/MemoryPercentage'=50%;80;95;0;100",
    ] {
        assert!(first.contains(field), "{field} in {first}");
    }
    let output = t.run(&["--format", "prometheus", "health", "--check", "azure-metrics"]);
    assert_exit(&output, 1);
    let text = String::from_utf8_lossy(&output.stdout);
    for (target, unit, value, status) in [
        ("pg1/cpu_percent", "percent", "75", "1"),
        ("pg1/memory_percent", "percent", "40", "0"),
        ("pg1/storage_percent", "percent", "30", "0"),
        ("pg1/active_connections", "count", "12", "0"),
        ("plan1/CpuPercentage", "percent", "20", "0"),
        ("plan1/MemoryPercentage", "percent", "50", "0"),
    ] {
        let labels = format!("{{check=\"azure-metrics\",target=\"{target}\",unit=\"{unit}\"}}");
        assert!(
            text.contains(&format!("campctl_health_value{labels} {value}\n")),
            "{target}: {text}"
        );
        assert!(
            text.contains(&format!("campctl_health_status{labels} {status}\n")),
            "{target}: {text}"
        );
    }
}
