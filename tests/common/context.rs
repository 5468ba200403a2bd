//! The per-test context for running the `campctl` binary: an isolated HOME, a scrubbed environment, and snapshot
//! filters that turn run-specific text (temp paths, ports, times, durations, the version) into placeholders.
//! Modelled on uv's `TestContext` and `run_and_format` (`crates/uv-test/src/lib.rs`).

use std::borrow::BorrowMut;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use super::azurite::azurite_if_started;
use super::database::TestDb;
use super::postgres::{pg, pg_if_started};
use super::process;
use super::redis::redis_if_started;

/// Environment variables that must not leak from the developer's shell into the binary under test.
const SCRUBBED_PREFIXES: [&str; 3] = ["CAMPCTL_", "PG", "AZURE_"];
const SCRUBBED_NAMES: [&str; 15] = [
    "DATABASE_URL",
    // A proxy of the developer's or CI's shell would carry the `api` check's requests to the test server away.
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "REDISCLI_AUTH",
    "RUST_LOG",
    "RUST_BACKTRACE",
    "CLICOLOR",
    "CLICOLOR_FORCE",
    "FORCE_COLOR",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// One test's sandbox; the temp HOME is removed when it drops.
pub struct TestContext {
    home: tempfile::TempDir,
}

impl Default for TestContext {
    fn default() -> Self {
        Self::new()
    }
}

impl TestContext {
    pub fn new() -> Self {
        Self {
            home: process::scratch_tempdir("home"),
        }
    }

    /// The temp HOME, also the working directory of [`Self::cmd`].
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// The `campctl` binary with a scrubbed environment: no inherited `CAMPCTL_*`, `PG*`, `AZURE_*`,
    /// `DATABASE_URL`, `RUST_LOG`, colour or CA-bundle variables; `NO_COLOR=1`, `COLUMNS=100`; HOME and
    /// `XDG_CONFIG_HOME` inside the temp dir, which is also the working directory.
    pub fn cmd(&self) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.std_cmd())
    }

    /// [`Self::cmd`] as a `std::process::Command`, for tests that need to spawn and signal the process.
    pub fn std_cmd(&self) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_campctl"));
        for (name, _) in std::env::vars_os() {
            if scrubbed(&name) {
                command.env_remove(name);
            }
        }
        command
            .env("NO_COLOR", "1")
            .env("COLUMNS", "100")
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.home().join(".config"))
            .env("XDG_CACHE_HOME", self.home().join(".cache"))
            .current_dir(self.home());
        command
    }

    /// Writes `contents` to `relative` under the temp HOME (creating parent directories) and returns the path.
    pub fn write_file(&self, relative: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.home().join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap_or_else(|e| panic!("create {}: {e}", parent.display()));
        }
        fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// A fresh database in the shared cluster (starting it if needed), dropped with the returned guard.
    #[allow(clippy::unused_self, reason = "reads as part of the test's context, like `cmd`")]
    pub fn db(&self) -> TestDb {
        pg().create_database()
    }

    /// Regex → replacement pairs for [`campctl_snapshot!`](super::campctl_snapshot), applied in order.
    ///
    /// Ports are replaced only for services already started, so build the filters after starting them.
    pub fn filters(&self) -> Vec<(String, String)> {
        // Literal paths and secrets first, so that the pattern filters below cannot cut into them.
        let mut literals = vec![(self.home().to_path_buf(), "[TEMP_DIR]")];
        if let Ok(canonical) = self.home().canonicalize() {
            literals.push((canonical, "[TEMP_DIR]"));
        }
        if let Some(pg) = pg_if_started() {
            literals.push((pg.ca_path().to_path_buf(), "[CA]"));
            literals.push((pg.other_ca_path().to_path_buf(), "[OTHER_CA]"));
            literals.push((pg.password().into(), "[PASSWORD]"));
        }
        let mut filters: Vec<(String, String)> = literals
            .into_iter()
            .map(|(literal, placeholder)| (regex::escape(&literal.to_string_lossy()), placeholder.to_owned()))
            .collect();
        filters.dedup();
        let patterns = [
            (
                r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?".to_owned(),
                "[TIME]",
            ),
            (
                format!(r"\b{}\b", regex::escape(env!("CARGO_PKG_VERSION"))),
                "[VERSION]",
            ),
            (r"\b\d+(\.\d+)?(ns|µs|us|ms|s)\b".to_owned(), "[DURATION]"),
        ];
        filters.extend(
            patterns
                .into_iter()
                .map(|(pattern, placeholder)| (pattern, placeholder.to_owned())),
        );
        let ports = [
            pg_if_started().map(|pg| (pg.port(), "[PORT]")),
            azurite_if_started().map(|azurite| (azurite.port(), "[AZURITE_PORT]")),
            redis_if_started().map(|redis| (redis.port(), "[REDIS_PORT]")),
        ];
        for (port, placeholder) in ports.into_iter().flatten() {
            filters.push((format!(r"\b{port}\b"), placeholder.to_owned()));
        }
        filters
    }
}

fn scrubbed(name: &OsStr) -> bool {
    let Some(name) = name.to_str() else {
        return false;
    };
    SCRUBBED_PREFIXES.iter().any(|prefix| name.starts_with(prefix)) || SCRUBBED_NAMES.contains(&name)
}

/// Applies `filters` (regex, replacement) in order.
pub fn apply_filters(text: &str, filters: &[(String, String)]) -> String {
    filters.iter().fold(text.to_owned(), |text, (pattern, replacement)| {
        let regex = regex::Regex::new(pattern).unwrap_or_else(|e| panic!("bad filter {pattern:?}: {e}"));
        regex.replace_all(&text, replacement.as_str()).into_owned()
    })
}

/// Runs `command` and formats its outcome for a snapshot (see [`campctl_snapshot!`](super::campctl_snapshot)).
pub fn run_and_format(
    mut command: impl BorrowMut<assert_cmd::Command>,
    filters: &[(String, String)],
) -> (String, Output) {
    let command = command.borrow_mut();
    let output = command.output().unwrap_or_else(|e| panic!("run {command:?}: {e}"));
    let exit_code = output
        .status
        .code()
        .map_or_else(|| format!("none ({})", output.status), |code| code.to_string());
    let snapshot = format!(
        "success: {}\nexit_code: {exit_code}\n----- stdout -----\n{}\n----- stderr -----\n{}",
        output.status.success(),
        apply_filters(&String::from_utf8_lossy(&output.stdout), filters),
        apply_filters(&String::from_utf8_lossy(&output.stderr), filters),
    );
    (snapshot, output)
}

/// Asserts the exit code of a finished run, showing its stderr when it differs.
#[track_caller]
pub fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stderr: {}\nstdout: {}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
}
