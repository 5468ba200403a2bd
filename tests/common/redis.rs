//! The throw-away Redis server shared by the tests of one test binary: no persistence, bound to 127.0.0.1 on a free
//! port, its working directory a scratch directory. [`Redis::spawn`] starts a private one for a test that changes
//! the server (`CONFIG SET maxmemory`, a password, TLS, stopping it); it stops when dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use super::process::{self, ServiceProcess};
use super::start_once;
use super::tls::ServerCert;

const REDIS_SERVER: &str = "/usr/bin/redis-server";
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The running server; see the module docs.
pub struct Redis {
    port: u16,
    log_path: PathBuf,
    process: ServiceProcess,
    options: RedisOptions,
}

/// How [`Redis::spawn`] configures a private server.
#[derive(Default)]
pub struct RedisOptions {
    /// `requirepass`.
    pub password: Option<String>,
    /// TLS only (no plain port), with this server certificate; clients are not asked for certificates.
    pub tls: Option<ServerCert>,
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
        Self::spawn(RedisOptions::default())
    }

    /// A private server with `options`, stopped when the value drops.
    ///
    /// # Panics
    /// If `redis-server` is missing or does not start (its log is in the message).
    pub fn spawn(options: RedisOptions) -> Self {
        assert!(
            Path::new(REDIS_SERVER).is_file(),
            "{REDIS_SERVER} not found: run scripts/test (it installs redis-server)"
        );
        let dir = process::scratch_dir("redis");
        let log_path = dir.join("redis.log");
        let port = process::free_port();
        let mut command = Command::new(REDIS_SERVER);
        match &options.tls {
            None => {
                command.args(["--port", &port.to_string()]);
            }
            Some(cert) => {
                let cert_path = dir.join("server.crt");
                let key_path = dir.join("server.key");
                std::fs::write(&cert_path, &cert.cert_pem).expect("write the Redis certificate");
                std::fs::write(&key_path, &cert.key_pem).expect("write the Redis key");
                command
                    .args([
                        "--port",
                        "0",
                        "--tls-port",
                        &port.to_string(),
                        "--tls-auth-clients",
                        "no",
                    ])
                    .arg("--tls-cert-file")
                    .arg(&cert_path)
                    .arg("--tls-key-file")
                    .arg(&key_path);
            }
        }
        if let Some(password) = &options.password {
            command.args(["--requirepass", password]);
        }
        command
            .args(["--bind", "127.0.0.1"])
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
            options,
        };
        let ready = || {
            if redis.options.password.is_none() && redis.options.tls.is_none() {
                redis.ping().is_ok()
            } else {
                process::port_open(port)
            }
        };
        if let Err(error) = process::wait_until(process, START_TIMEOUT, ready) {
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

    /// A new synchronous connection (authenticated with the password of [`RedisOptions`]; plain TCP only).
    pub fn connection(&self) -> redis::Connection {
        let url = match &self.options.password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}", self.port),
            None => self.url(),
        };
        redis::Client::open(url)
            .and_then(|client| client.get_connection())
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.url()))
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Stops the server now: its port refuses connections afterwards.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        // The binary's shared server lives in a static and is never dropped; a private one stops here. Stopping
        // one that is already stopped does nothing.
        process::stop_service(self.process);
    }
}
