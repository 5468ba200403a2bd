//! `cleanup --docker` (runbook 9.1.2): `docker image prune -a -f` when a docker CLI is on `PATH` and its daemon
//! answers (`docker info`), else reported as skipped with the reason: a host without Docker is not an error.

use std::time::Duration;

use serde::Serialize;
use tokio::process::Command;

/// How long `docker info` and the prune may take.
const TIMEOUT: Duration = Duration::from_secs(120);

/// What `--docker` did.
#[derive(Debug, Serialize)]
pub(crate) struct DockerResult {
    /// `pruned`, `planned` (`--dry-run`), `skipped` or `failed`.
    pub status: &'static str,
    /// The command, the reason for skipping, or docker's last line (`Total reclaimed space: 1.2GB`).
    pub detail: String,
}

/// Runs `docker args…` with the timeout: its stdout on success, else a one-line reason.
async fn docker(args: &[&str]) -> Result<String, String> {
    let mut command = Command::new("docker");
    command.args(args).stdin(std::process::Stdio::null()).kill_on_drop(true);
    match tokio::time::timeout(TIMEOUT, command.output()).await {
        Err(_) => Err(format!(
            "`docker {}` did not answer within {}s",
            args.join(" "),
            TIMEOUT.as_secs()
        )),
        Ok(Err(err)) if err.kind() == std::io::ErrorKind::NotFound => Err("no `docker` on PATH".into()),
        Ok(Err(err)) => Err(format!("cannot run `docker`: {err}")),
        Ok(Ok(output)) if output.status.success() => Ok(String::from_utf8_lossy(&output.stdout).into_owned()),
        Ok(Ok(output)) => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let line = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
            Err(format!("`docker {}` failed: {line}", args.join(" ")))
        }
    }
}

/// Prunes unused images, or says why not.
pub(crate) async fn prune(dry_run: bool) -> DockerResult {
    if let Err(reason) = docker(&["info", "--format", "{{.ServerVersion}}"]).await {
        return DockerResult {
            status: "skipped",
            detail: format!("no Docker daemon answers: {reason}"),
        };
    }
    if dry_run {
        return DockerResult {
            status: "planned",
            detail: "would run `docker image prune -a -f`".into(),
        };
    }
    match docker(&["image", "prune", "-a", "-f"]).await {
        Ok(stdout) => DockerResult {
            status: "pruned",
            detail: stdout
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("nothing to prune")
                .trim()
                .to_string(),
        },
        Err(reason) => DockerResult {
            status: "failed",
            detail: reason,
        },
    }
}
