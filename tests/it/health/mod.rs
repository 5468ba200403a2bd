//! `campctl health`: every check reaches OK, WARNING and CRITICAL (thresholds set around a known value) and
//! UNKNOWN; the exit code is the worst status in every format. One file per check family; this file holds what
//! they share.

mod api;
mod azure;
mod backups;
mod database;
mod host;
mod logs;
mod redis;

use std::path::PathBuf;
use std::process::Output;

use serde_json::Value;

use crate::common::TestContext;

/// A test's sandbox with a campctl.toml whose `[health]` keeps its state file inside the sandbox (the default, as
/// root, is `/var/lib/campctl`, which parallel tests would share).
pub(crate) struct HealthEnv {
    pub ctx: TestContext,
    pub config: PathBuf,
}

impl HealthEnv {
    /// `toml` is appended after `[health] state_file = …`; it may add keys to `[health]` (first) and tables.
    pub(crate) fn new(toml: &str) -> Self {
        let ctx = TestContext::new();
        let state = ctx.home().join("state/health.json");
        let config = ctx.write_file(
            "campctl.toml",
            format!("[health]\nstate_file = \"{}\"\n{toml}\n", state.display()),
        );
        Self { ctx, config }
    }

    /// Runs `campctl --config CONFIG ARGS…`.
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        let mut command = self.ctx.cmd();
        command.arg("--config").arg(&self.config).args(args);
        command.output().expect("run campctl")
    }

    /// Runs `campctl --format json health ARGS…` and parses the report.
    pub(crate) fn json(&self, args: &[&str]) -> (Value, Output) {
        let mut all = vec!["--format", "json", "health"];
        all.extend_from_slice(args);
        let output = self.run(&all);
        let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
            panic!(
                "health JSON: {err}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        });
        (report, output)
    }
}

/// The results of `check` in a JSON report.
pub(crate) fn results<'a>(report: &'a Value, check: &str) -> Vec<&'a Value> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|result| result["check"] == check)
        .collect()
}

/// The status of the one result of `check`.
#[track_caller]
pub(crate) fn status(report: &Value, check: &str) -> String {
    let found = results(report, check);
    assert_eq!(found.len(), 1, "one `{check}` result in {report:#}");
    found[0]["status"].as_str().expect("status").to_string()
}
