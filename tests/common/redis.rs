//! The throw-away Redis server shared by the tests of one test binary: no persistence, bound to 127.0.0.1 on a free
//! port, its working directory a scratch directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use super::process::{self, ServiceProcess};
use super::start_once;

const REDIS_SERVER: &str = "/usr/bin/redis-server";
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The running server; see the module docs.
pub struct Redis {
    port: u16,
    log_path: PathBuf,
    process: ServiceProcess,
}

static REDIS: OnceLock<Result<Redis, String>> = OnceLock::new();

/// The Redis server of this test binary, started on first use.
///
/// # Panics
/// If `redis-server` is missing or does not start (its log is in the message).
pub fn redis() -> &'static Redis {
    start_once(&REDIS, "Redis", Redis::start)
}

/// The server if a test of this binary already started it (for snapshot filters).
pub fn redis_if_started() -> Option<&'static Redis> {
    REDIS.get().and_then(|started| started.as_ref().ok())
}

impl Redis {
    fn start() -> Self {
        assert!(
            Path::new(REDIS_SERVER).is_file(),
            "{REDIS_SERVER} not found: run scripts/test (it installs redis-server)"
        );
        let dir = process::scratch_dir("redis");
        let log_path = dir.join("redis.log");
        let port = process::free_port();
        let mut command = Command::new(REDIS_SERVER);
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&dir)
            .arg("--logfile")
            .arg(&log_path)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let process = process::spawn_service("redis-server", command, libc::SIGTERM);
        let redis = Self {
            port,
            log_path,
            process,
        };
        if let Err(error) = process::wait_until(process, START_TIMEOUT, || redis.ping().is_ok()) {
            panic!(
                "redis-server on port {port} {error}; log {}:\n{}",
                redis.log_path.display(),
                process::log_tail(&redis.log_path)
            );
        }
        redis
    }

    fn ping(&self) -> redis::RedisResult<()> {
        let client = redis::Client::open(self.url())?;
        let mut connection = client.get_connection_with_timeout(Duration::from_secs(1))?;
        redis::cmd("PING").query::<String>(&mut connection).map(drop)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A new synchronous connection.
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|client| client.get_connection())
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.url()))
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}
