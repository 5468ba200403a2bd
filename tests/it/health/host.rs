//! The host's checks (disk, memory, cpu, load) and what every check shares: selection, timeouts, the four
//! output formats and their exit codes, `--output`, `--watch`, bad settings.

use std::time::Duration;

use super::{HealthEnv, results, status};
use crate::common::assert_exit;

/// Thresholds that put any measured value at `level`: OK (past 100 % is impossible), WARNING, CRITICAL.
fn thresholds(level: &str) -> &'static str {
    match level {
        "OK" => "warning = 1000.0\ncritical = 1000.0",
        "WARNING" => "warning = 0.0\ncritical = 1000.0",
        "CRITICAL" => "warning = 0.0\ncritical = 0.0",
        other => panic!("no thresholds for {other}"),
    }
}

#[test]
fn every_host_check_reaches_ok_warning_and_critical_with_the_exit_code_of_the_worst() {
    for (level, code) in [("OK", 0), ("WARNING", 1), ("CRITICAL", 2)] {
        let t = thresholds(level);
        let env = HealthEnv::new(&format!(
            "[health.disk]\npaths = [\"/\", \"/tmp\"]\n{t}\n[health.memory]\n{t}\n[health.cpu]\ninterval = \"200ms\"\n{t}\n[health.load]\n{t}\n"
        ));
        let (report, output) = env.json(&["--check", "disk,memory,cpu,load"]);
        assert_exit(&output, code);
        assert_eq!(report["status"], level, "{report:#}");
        assert_eq!(report["exit_code"], code);
        for check in ["memory", "cpu", "load"] {
            assert_eq!(status(&report, check), level, "{check}: {report:#}");
            let result = &results(&report, check)[0];
            assert!(result["value"].as_f64().is_some_and(|v| v >= 0.0), "{result:#}");
        }
        let disks = results(&report, "disk");
        assert_eq!(
            disks
                .iter()
                .map(|d| d["target"].as_str().expect("target"))
                .collect::<Vec<_>>(),
            ["/", "/tmp"]
        );
        assert!(disks.iter().all(|d| d["status"] == level), "{report:#}");
    }
}

#[test]
fn the_disk_check_measures_what_df_measures() {
    let env = HealthEnv::new("[health.disk]\npaths = [\"/\"]\n");
    let (report, _) = env.json(&["--check", "disk"]);
    let ours = results(&report, "disk")[0]["value"].as_f64().expect("value");
    let df = std::process::Command::new("df")
        .args(["--output=pcent", "/"])
        .output()
        .expect("df");
    let text = String::from_utf8_lossy(&df.stdout);
    let theirs: f64 = text
        .lines()
        .nth(1)
        .expect("df line")
        .trim()
        .trim_end_matches('%')
        .parse()
        .expect("df %");
    // df rounds up to a whole percent.
    assert!((theirs - ours).abs() <= 1.0, "campctl {ours} %, df {theirs} %");
}

#[test]
fn a_path_that_does_not_exist_is_unknown_and_never_fails_the_run() {
    let env = HealthEnv::new("[health.disk]\npaths = [\"/no/such/dir\", \"/\"]\nwarning = 1000.0\ncritical = 1000.0\n");
    let (report, output) = env.json(&["--check", "disk"]);
    assert_exit(&output, 3);
    let disks = results(&report, "disk");
    assert_eq!(disks[0]["status"], "UNKNOWN");
    assert!(
        disks[0]["message"].as_str().expect("msg").contains("/no/such/dir"),
        "{report:#}"
    );
    assert_eq!(disks[1]["status"], "OK");
}

#[test]
fn a_check_that_times_out_is_unknown_or_critical_as_configured() {
    let slow = "[health.cpu]\ninterval = \"3s\"\ntimeout = \"300ms\"\n";
    let env = HealthEnv::new(slow);
    let (report, output) = env.json(&["--check", "cpu,memory"]);
    assert_exit(&output, 3);
    assert_eq!(status(&report, "cpu"), "UNKNOWN");
    assert!(
        results(&report, "cpu")[0]["message"]
            .as_str()
            .expect("msg")
            .contains("no answer within 300ms"),
        "{report:#}"
    );
    assert_eq!(status(&report, "memory"), "OK", "{report:#}");
    // The run did not wait for the slow check: it ended at its timeout.
    assert!(
        report["duration_seconds"].as_f64().expect("duration") < 3.0,
        "{report:#}"
    );

    let env = HealthEnv::new(&format!("timeout_status = \"critical\"\n{slow}"));
    let (report, output) = env.json(&["--check", "cpu"]);
    assert_exit(&output, 2);
    assert_eq!(status(&report, "cpu"), "CRITICAL");
}

#[test]
fn nagios_and_prometheus_carry_the_same_status_and_exit_code() {
    let env = HealthEnv::new(
        "[health.memory]\nwarning = 0.0\ncritical = 1000.0\n[health.disk]\npaths = [\"/\"]\nwarning = 1000.0\ncritical = 1000.0\n",
    );
    let output = env.run(&["--format", "nagios", "health", "--check", "memory,disk"]);
    assert_exit(&output, 1);
    let text = String::from_utf8_lossy(&output.stdout);
    let first = text.lines().next().expect("status line");
    assert!(
        first.starts_with("CAMPCTL HEALTH WARNING - 1 warning of 2 checks: memory "),
        "{first}"
    );
    let (_, perfdata) = first.split_once(" | ").expect("perfdata");
    // Thresholds past 100 % leave the maximum out (a percentage that may pass 100 has none).
    let memory = regex::Regex::new(r"^'disk /'=[0-9.]+%;1000;1000;0 'memory'=[0-9.]+%;0;1000;0$").expect("regex");
    assert!(memory.is_match(perfdata), "{perfdata}");

    let output = env.run(&["--format", "prometheus", "health", "--check", "memory,disk"]);
    assert_exit(&output, 1);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("campctl_health_status{check=\"memory\",target=\"\",unit=\"percent\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("campctl_health_worst_status 1\n"), "{text}");
    let families = prometheus_families(&text);
    assert!(families.contains(&"campctl_health_value".to_string()), "{families:?}");

    let output = env.run(&["--format", "csv", "health", "--check", "memory"]);
    assert_exit(&output, 1);
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("check,target,status,value,"));
    let output = env.run(&["health", "--check", "memory"]);
    assert_exit(&output, 1);
    assert!(String::from_utf8_lossy(&output.stdout).contains("Health: WARNING"));
}

/// The metric families of an exposition, parsed by the reference parser (Python's `prometheus_client`).
fn prometheus_families(text: &str) -> Vec<String> {
    let script = "import sys\nfrom prometheus_client.parser import text_string_to_metric_families\n\
                  for f in text_string_to_metric_families(sys.stdin.read()):\n    print(f.name)\n";
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .env("PYTHONPATH", crate::common::python::pydeps())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 (scripts/test installs prometheus_client into .pydeps)");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), text.as_bytes()).expect("write");
    let output = child.wait_with_output().expect("python3");
    assert!(
        output.status.success(),
        "prometheus_client rejected the exposition (run scripts/test to install it): {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn output_writes_the_file_atomically_and_readable_by_node_exporter() {
    use std::os::unix::fs::PermissionsExt as _;
    let env = HealthEnv::new("");
    let path = env.ctx.home().join("textfile/campctl.prom");
    std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
    let output = env.run(&[
        "--format",
        "prometheus",
        "health",
        "--check",
        "memory",
        "--output",
        path.to_str().expect("utf-8"),
    ]);
    assert!(output.stdout.is_empty(), "{}", String::from_utf8_lossy(&output.stdout));
    let text = std::fs::read_to_string(&path).expect("written");
    assert!(text.contains("campctl_health_status{check=\"memory\""), "{text}");
    assert_eq!(
        std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777,
        0o644
    );
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
        .expect("list")
        .map(|entry| entry.expect("entry").file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");
}

#[test]
fn watch_reruns_until_ctrl_c_and_exits_with_the_last_status() {
    let env = HealthEnv::new("[health.memory]\nwarning = 0.0\ncritical = 1000.0\n");
    let mut command = env.ctx.std_cmd();
    command
        .arg("--config")
        .arg(&env.config)
        .args(["--format", "json", "health", "--check", "memory", "--watch", "1s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = command.spawn().expect("spawn");
    std::thread::sleep(Duration::from_millis(2500));
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    // SAFETY: sending a signal to our own child process, not reaped yet.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let output = child.wait_with_output().expect("wait");
    assert_exit(&output, 1);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let runs = stdout.matches("\"exit_code\": 1").count();
    assert!(runs >= 2, "at least two runs in 2.5 s with --watch 1s: {stdout}");
}

#[test]
fn bad_selections_and_settings_are_usage_errors_naming_the_fix() {
    let env = HealthEnv::new("");
    let output = env.run(&["health", "--check", "nosuch"]);
    assert_exit(&output, 2);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("possible values"),
        "{output:?}"
    );

    let output = env.run(&["health", "--check", "memory", "--skip", "memory"]);
    assert_exit(&output, 2);
    assert!(String::from_utf8_lossy(&output.stderr).contains("No health check is left to run"));

    let output = env.run(&["--format", "nagios", "stats"]);
    assert_exit(&output, 2);
    assert!(String::from_utf8_lossy(&output.stderr).contains("only for `campctl health`"));

    let output = env.run(&["health", "--watch", "0"]);
    assert_exit(&output, 2);

    let env = HealthEnv::new("checks = [\"memory\", \"dsik\"]\n");
    let output = env.run(&["health"]);
    assert_exit(&output, 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Unknown check `dsik`") && stderr.contains("Known checks: disk"),
        "{stderr}"
    );

    let env = HealthEnv::new("[health.disk]\nwarning = 95.0\ncritical = 90.0\n");
    let output = env.run(&["health", "--check", "disk"]);
    assert_exit(&output, 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`[health.disk]` in") && stderr.contains("warning = 95 is above critical = 90"),
        "{stderr}"
    );

    let env = HealthEnv::new("[health.disk]\npaths = []\n");
    let output = env.run(&["health", "--check", "disk"]);
    assert_exit(&output, 2);
    assert!(String::from_utf8_lossy(&output.stderr).contains("`[health.disk] paths`"));
    // Left out of the default list with a note instead.
    let (report, output) = env.json(&["--skip", "cpu"]);
    assert!(output.status.code().is_some_and(|code| code <= 3));
    assert!(results(&report, "disk").is_empty());
    assert!(
        report["notes"][0].as_str().expect("note").contains("`disk`"),
        "{report:#}"
    );
}

#[test]
fn config_check_validates_the_health_section_as_health_does() {
    let env = HealthEnv::new("checks = [\"memory\", \"dsik\"]\n[health.cpu]\nwarning = 95.0\ncritical = 90.0\n");
    let db = env.ctx.db();
    let output = env.run(&["--db-url", &db.url(), "--format", "json", "config", "check"]);
    assert_exit(&output, 2);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("config check JSON");
    let health = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|check| check["name"] == "[health]")
        .unwrap_or_else(|| panic!("a [health] check in {report:#}"));
    assert_ne!(health["status"], "pass", "{health:#}");
    let detail = health["detail"].as_str().expect("detail");
    assert!(detail.contains("dsik") || detail.contains("warning = 95"), "{detail}");
}
