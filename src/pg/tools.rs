//! The PostgreSQL client programs campctl runs as children (`pg_dump`, later `pg_restore`): finding one whose
//! major version is at least the server's (DESIGN.md, "Safety rules"), and giving it the resolved connection
//! through its environment only.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::ConnParams;
use crate::exit::{ExitStatus, UserError};

/// A located client program and its version.
#[derive(Debug, Clone)]
pub struct PgTool {
    pub path: PathBuf,
    /// `15.18`
    pub version: String,
    pub major: u32,
}

/// Parses `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)` into (`15.18`, 15). The line must say
/// `(PostgreSQL)`: any other program prints a version too (`false (GNU coreutils) 9.1`), which must not be taken for
/// pg_dump's. The first word is not checked: PostgreSQL's programs print the name they were started as.
fn parse_version(output: &str) -> Option<(String, u32)> {
    let line = output.lines().find(|line| !line.trim().is_empty())?.trim();
    let (_name, after) = line.split_once(" (PostgreSQL) ")?;
    let version = after.split_whitespace().next()?.to_string();
    let major = version.split(['.', 'b', 'r', 'd']).next()?.parse().ok()?;
    Some((version, major))
}

/// Why a program is not the PostgreSQL client program campctl asked for.
#[derive(Debug, thiserror::Error)]
#[error("`{path}` is not PostgreSQL's {program}: `{path} --version` {what}")]
struct NotTheTool {
    path: String,
    program: String,
    what: String,
}

async fn probe(path: &Path, program: &str) -> anyhow::Result<PgTool> {
    let output = tokio::process::Command::new(path)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .with_context(|| format!("Failed to run `{} --version`", path.display()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let printed = text.lines().find(|line| !line.trim().is_empty()).map_or_else(
        || "nothing".to_owned(),
        |line| format!("`{}`", line.trim().chars().take(200).collect::<String>()),
    );
    let not_the_tool = |what: String| NotTheTool {
        path: path.display().to_string(),
        program: program.to_owned(),
        what,
    };
    if !output.status.success() {
        return Err(not_the_tool(format!("{} and printed {printed}", describe_exit(output.status))).into());
    }
    let (version, major) = parse_version(&text)
        .ok_or_else(|| not_the_tool(format!("printed {printed}, not `{program} (PostgreSQL) VERSION`")))?;
    Ok(PgTool {
        path: path.to_path_buf(),
        version,
        major,
    })
}

/// Installed versions under Debian's layout, newest first.
fn debian_candidates(program: &str) -> Vec<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = fs_err::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse().ok()?;
            let path = entry.path().join("bin").join(program);
            path.is_file().then_some((major, path))
        })
        .collect();
    found.sort_by_key(|(major, _)| std::cmp::Reverse(*major));
    found.into_iter().map(|(_, path)| path).collect()
}

impl PgTool {
    /// Finds `program`: `explicit` if given, else the newest under `/usr/lib/postgresql/*/bin`, else `$PATH`.
    /// Refuses (exit 2) a program older than the server.
    ///
    /// # Errors
    /// Not found, not runnable, or older than `server_major`.
    pub async fn find(program: &str, explicit: Option<&Path>, server_major: u32) -> anyhow::Result<Self> {
        let candidate = match explicit {
            Some(path) => path.to_path_buf(),
            None => debian_candidates(program)
                .into_iter()
                .next()
                .unwrap_or_else(|| PathBuf::from(program)),
        };
        let tool = probe(&candidate, program).await.map_err(|err| {
            anyhow::Error::new(
                UserError::usage(format!("`{program}` cannot be used: {err:#}")).with_hint(format!(
                    "Install the PostgreSQL {server_major} client (`apt-get install postgresql-client-{server_major}`) \
                     or name its {program} with `--{program_flag} PATH`, e.g. \
                     `--{program_flag} /usr/lib/postgresql/{server_major}/bin/{program}`",
                    program_flag = program.replace('_', "-")
                )),
            )
        })?;
        if tool.major < server_major {
            return Err(UserError::new(
                ExitStatus::Usage,
                format!(
                    "`{}` is version {} but the server runs PostgreSQL {server_major}: an older {program} cannot dump \
                     a newer server safely",
                    tool.path.display(),
                    tool.version
                ),
            )
            .with_hint(format!(
                "Install postgresql-client-{server_major} (or newer) or pass `--{} PATH` to one that is",
                program.replace('_', "-")
            ))
            .into());
        }
        tracing::debug!("using `{}` {}", tool.path.display(), tool.version);
        Ok(tool)
    }

    /// [`Self::command`] with the password a new session needs (with `auth = "entra"`, a token that is still valid,
    /// fetched now if the cached one is near its expiry); in the child's environment only, never argv.
    ///
    /// # Errors
    /// See [`ConnParams::fresh`].
    pub async fn command_fresh(&self, params: &ConnParams) -> anyhow::Result<tokio::process::Command> {
        Ok(self.command(&*params.fresh().await?))
    }

    /// A command for this program with the connection in its environment and nothing secret in argv.
    pub fn command(&self, params: &ConnParams) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&self.path);
        let (set, remove) = params.child_env();
        for name in remove {
            command.env_remove(name);
        }
        command.envs(set);
        command.kill_on_drop(true);
        command
    }
}

/// How a child ended: `exited with status 1`, `was killed by signal 9`.
pub fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => "failed".to_string(),
    }
}

/// Logs a child's stderr (lines naming an error or warning at warn, the rest at debug) and returns its last
/// `keep` lines for the error message.
pub async fn collect_stderr(stderr: tokio::process::ChildStderr, program: &'static str, keep: usize) -> Vec<String> {
    use tokio::io::AsyncBufReadExt as _;
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    let mut tail = std::collections::VecDeque::with_capacity(keep);
    while let Ok(Some(line)) = lines.next_line().await {
        if line.contains("error") || line.contains("warning") {
            tracing::warn!(target: "campctl::child", "{program}: {line}");
        } else {
            tracing::debug!(target: "campctl::child", "{program}: {line}");
        }
        if tail.len() == keep {
            tail.pop_front();
        }
        tail.push_back(line);
    }
    tail.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(
            parse_version("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n"),
            Some(("15.18".into(), 15))
        );
        assert_eq!(
            parse_version("pg_dump (PostgreSQL) 17beta2"),
            Some(("17beta2".into(), 17))
        );
        assert_eq!(
            parse_version("pg_restore (PostgreSQL) 9.6.24"),
            Some(("9.6.24".into(), 9))
        );
        assert_eq!(parse_version("something else"), None);
        assert_eq!(parse_version(""), None);
        assert_eq!(parse_version("pg_dump (PostgreSQL)"), None);
    }

    /// Item 19: `--pg-dump /bin/false` was "version 9.1", read from `false (GNU coreutils) 9.1`.
    #[test]
    fn item_19_another_programs_version_is_not_taken() {
        assert_eq!(parse_version("false (GNU coreutils) 9.1\n"), None);
        assert_eq!(parse_version("pg_dump (GNU) 15.18"), None);
    }
}
