//! The ephemeral PostgreSQL 15 cluster shared by the tests of one test binary.
//!
//! [`pg()`] runs `initdb` into a scratch directory and starts `postgres` on a free port of 127.0.0.1 with TLS on (a
//! certificate from a CA generated for the run), password (SCRAM) auth over TCP and trust over the Unix socket. When
//! the tests run as root, the cluster runs as the `postgres` OS user, because `postgres` refuses to run as root.
//! Each test takes its own database from [`PgCluster::create_database`]; the database is dropped with the guard.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use super::database::{TestDb, describe};
use super::process::{self, OsUser, ServiceProcess, WaitError};
use super::start_once;
use super::tls::{ServerCert, TestCa};

/// Where the PostgreSQL 15 server binaries live (Debian's `postgresql-15` package).
const DEFAULT_BIN_DIR: &str = "/usr/lib/postgresql/15/bin";
/// Overrides [`DEFAULT_BIN_DIR`], e.g. for a PostgreSQL 15 installed elsewhere.
const BIN_DIR_ENV: &str = "CAMPCTL_TEST_PG_BIN_DIR";
const HOST: &str = "127.0.0.1";
const SUPERUSER: &str = "postgres";
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Start attempts: another process may grab the free port between our check and `postgres` binding it.
const START_ATTEMPTS: usize = 3;

/// The running cluster; see the module docs.
pub struct PgCluster {
    bin_dir: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    log_path: PathBuf,
    ca_path: PathBuf,
    other_ca_path: PathBuf,
    port: u16,
    password: String,
    process: ServiceProcess,
}

/// The cluster of this test binary, started on first use.
///
/// # Panics
/// If the PostgreSQL binaries are missing or the cluster does not start (the server log is in the message).
pub fn pg() -> &'static PgCluster {
    start_once(&CLUSTER, "PostgreSQL", PgCluster::start)
}

static CLUSTER: OnceLock<Result<PgCluster, String>> = OnceLock::new();

/// How a cluster of its own ([`PgCluster::start_own`]) differs from the shared one.
#[derive(Default)]
pub struct ClusterOptions {
    /// The server certificate and key; `None`: one for `localhost` and 127.0.0.1 from a CA made for the cluster.
    pub server_cert: Option<ServerCert>,
    /// Lines appended to postgresql.conf (e.g. `log_connections = on`).
    pub extra_conf: String,
}

/// The cluster if a test of this binary already started it (for snapshot filters).
pub fn pg_if_started() -> Option<&'static PgCluster> {
    CLUSTER.get().and_then(|started| started.as_ref().ok())
}

impl PgCluster {
    fn start() -> Self {
        Self::start_with(ClusterOptions::default())
    }

    /// A cluster of its own for tests that change the server (its certificate, its logging), started like the
    /// shared one and stopped with [`Self::stop`]. Leaked, so that its databases can be [`TestDb`]s.
    pub fn start_own(options: ClusterOptions) -> &'static Self {
        Box::leak(Box::new(Self::start_with(options)))
    }

    /// Stops a cluster of its own (fast shutdown); the scratch directory goes with the test binary.
    pub fn stop(&self) {
        process::stop_service(self.process);
    }

    fn start_with(options: ClusterOptions) -> Self {
        let bin_dir = std::env::var_os(BIN_DIR_ENV).map_or_else(|| PathBuf::from(DEFAULT_BIN_DIR), PathBuf::from);
        for binary in ["initdb", "postgres"] {
            assert!(
                bin_dir.join(binary).is_file(),
                "{} not found: run scripts/test (it installs postgresql-15), or set {BIN_DIR_ENV}",
                bin_dir.join(binary).display()
            );
        }
        let user = process::running_as_root().then(|| {
            OsUser::lookup(SUPERUSER).unwrap_or_else(|| {
                panic!("running as root, but there is no `postgres` OS user to run the cluster as: run scripts/test (it installs postgresql-15, which creates the user)")
            })
        });

        let root = process::scratch_dir("pg");
        let socket_dir = root.join("socket");
        fs::create_dir(&socket_dir).expect("create the socket directory");
        let password = random_hex(16);
        let pwfile = write_file(&root.join("pwfile"), &password, 0o600);
        let ca = TestCa::new("campctl test CA");
        let server = options
            .server_cert
            .unwrap_or_else(|| ca.issue_server_cert(&["localhost"], &[IpAddr::V4(Ipv4Addr::LOCALHOST)]));
        let ca_path = write_file(&root.join("ca.pem"), &ca.cert_pem(), 0o644);
        let other_ca = TestCa::new("campctl unrelated CA");
        let other_ca_path = write_file(&root.join("other-ca.pem"), &other_ca.cert_pem(), 0o644);
        let cert_path = write_file(&root.join("server.crt"), &server.cert_pem, 0o644);
        let key_path = write_file(&root.join("server.key"), &server.key_pem, 0o600);
        if let Some(user) = user {
            for path in [&root, &socket_dir, &pwfile, &cert_path, &key_path] {
                user.chown(path);
            }
        }

        let data_dir = root.join("data");
        let mut initdb = server_command(&bin_dir.join("initdb"), &root, user);
        initdb
            .arg("--pgdata")
            .arg(&data_dir)
            .args([
                "--username",
                SUPERUSER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ])
            .args(["--locale=C", "--encoding=UTF8", "--no-sync", "--no-instructions"])
            .arg(format!("--pwfile={}", pwfile.display()));
        let output = initdb.output().expect("run initdb");
        assert!(
            output.status.success(),
            "initdb failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let mut conf = OpenOptions::new()
            .append(true)
            .open(data_dir.join("postgresql.conf"))
            .expect("open postgresql.conf");
        // fsync and friends are off: a test cluster never needs to survive a crash, and it makes tests faster.
        write!(
            conf,
            "\n# campctl test harness\nlisten_addresses = '{HOST}'\nunix_socket_directories = '{}'\nssl = on\n\
             ssl_cert_file = '{}'\nssl_key_file = '{}'\nmax_connections = 60\nlog_min_messages = warning\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n{}\n",
            socket_dir.display(),
            cert_path.display(),
            key_path.display(),
            options.extra_conf,
        )
        .expect("write postgresql.conf");
        fs::write(
            data_dir.join("pg_hba.conf"),
            // `local replication`: `PgCluster::start_standby` copies the cluster with pg_basebackup over the socket.
            "local all all trust\nlocal replication all trust\nhost all all 127.0.0.1/32 scram-sha-256\n\
             host all all ::1/128 scram-sha-256\n",
        )
        .expect("write pg_hba.conf");

        let log_path = root.join("server.log");
        for attempt in 1..=START_ATTEMPTS {
            let port = process::free_port();
            let log = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .expect("open the server log");
            let mut postgres = server_command(&bin_dir.join("postgres"), &root, user);
            postgres
                .arg("-D")
                .arg(&data_dir)
                .arg("-p")
                .arg(port.to_string())
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("clone the log handle"))
                .stderr(log);
            // SIGINT is PostgreSQL's "fast" shutdown; SIGTERM ("smart") would wait for every client to disconnect.
            let process = process::spawn_service("postgres", postgres, libc::SIGINT);
            let cluster = Self {
                bin_dir: bin_dir.clone(),
                data_dir: data_dir.clone(),
                socket_dir: socket_dir.clone(),
                log_path: log_path.clone(),
                ca_path: ca_path.clone(),
                other_ca_path: other_ca_path.clone(),
                port,
                password: password.clone(),
                process,
            };
            match process::wait_until(process, START_TIMEOUT, || cluster.try_client("postgres").is_ok()) {
                Ok(()) => return cluster,
                Err(WaitError::Exited(_))
                    if attempt < START_ATTEMPTS
                        && fs::read_to_string(&log_path).is_ok_and(|log| log.contains("could not bind")) =>
                {
                    process::stop_service(process);
                }
                Err(error) => {
                    let last_error = cluster
                        .try_client("postgres")
                        .err()
                        .map(|e| e.to_string())
                        .unwrap_or_default();
                    panic!(
                        "PostgreSQL on port {port} {error} ({last_error}); server log {}:\n{}",
                        log_path.display(),
                        process::log_tail(&log_path)
                    );
                }
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// A streaming standby of this cluster (`pg_basebackup -R` over the Unix socket, then `postgres` on a port of
    /// its own), started once it accepts connections. It has this cluster's password, CA and certificate; it is
    /// stopped with [`Self::stop`] or at exit. Leaked like [`Self::start_own`].
    ///
    /// # Panics
    /// If the base backup fails or the standby does not start (its log is in the message).
    pub fn start_standby(&self) -> &'static Self {
        let user = process::running_as_root().then(|| OsUser::lookup(SUPERUSER).expect("the `postgres` OS user"));
        let root = process::scratch_dir("pg-standby");
        let socket_dir = root.join("socket");
        fs::create_dir(&socket_dir).expect("create the socket directory");
        if let Some(user) = user {
            for path in [&root, &socket_dir] {
                user.chown(path);
            }
        }
        let data_dir = root.join("data");
        let output = server_command(&self.bin_dir.join("pg_basebackup"), &root, user)
            .arg("--pgdata")
            .arg(&data_dir)
            .arg("--host")
            .arg(&self.socket_dir)
            .args(["--port", &self.port.to_string(), "--username", SUPERUSER])
            .args([
                "--write-recovery-conf",
                "--wal-method=stream",
                "--checkpoint=fast",
                "--no-sync",
            ])
            .output()
            .expect("run pg_basebackup");
        assert!(
            output.status.success(),
            "pg_basebackup failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let log_path = root.join("server.log");
        let port = process::free_port();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("open the standby log");
        let mut postgres = server_command(&self.bin_dir.join("postgres"), &root, user);
        postgres
            .arg("-D")
            .arg(&data_dir)
            .arg("-p")
            .arg(port.to_string())
            .arg("-c")
            .arg(format!("unix_socket_directories={}", socket_dir.display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log);
        let process = process::spawn_service("postgres", postgres, libc::SIGINT);
        let standby = Self {
            bin_dir: self.bin_dir.clone(),
            data_dir,
            socket_dir,
            log_path: log_path.clone(),
            ca_path: self.ca_path.clone(),
            other_ca_path: self.other_ca_path.clone(),
            port,
            password: self.password.clone(),
            process,
        };
        if let Err(error) = process::wait_until(process, START_TIMEOUT, || standby.try_client("postgres").is_ok()) {
            panic!(
                "the standby on port {port} {error}; its log {}:\n{}",
                log_path.display(),
                process::log_tail(&log_path)
            );
        }
        Box::leak(Box::new(standby))
    }

    #[allow(
        clippy::unused_self,
        reason = "an accessor, like the others, even though the host is fixed"
    )]
    pub fn host(&self) -> &str {
        HOST
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    #[allow(
        clippy::unused_self,
        reason = "an accessor, like the others, even though the user is fixed"
    )]
    pub fn superuser(&self) -> &str {
        SUPERUSER
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    /// The CA that signed the server certificate (SANs `localhost` and 127.0.0.1), PEM.
    pub fn ca_path(&self) -> &Path {
        &self.ca_path
    }

    /// A CA unrelated to the server certificate, PEM: verification against it must fail.
    pub fn other_ca_path(&self) -> &Path {
        &self.other_ca_path
    }

    /// The Unix socket directory (`local all all trust`).
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The PostgreSQL 15 binaries (`pg_dump`, `pg_restore`, `psql`, ...).
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server log (warnings and errors), useful in failure messages.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// `postgres://postgres:PASSWORD@127.0.0.1:PORT/<db>?sslmode=disable`.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@{HOST}:{}/{db}?sslmode=disable",
            self.password, self.port
        )
    }

    /// Connection settings for `db` as the superuser over TCP (password auth).
    pub fn config(&self, db: &str) -> postgres::Config {
        let mut config = postgres::Config::new();
        config
            .host(HOST)
            .port(self.port)
            .user(SUPERUSER)
            .password(&self.password)
            .dbname(db)
            .connect_timeout(Duration::from_secs(5));
        config
    }

    pub(super) fn try_client(&self, db: &str) -> Result<postgres::Client, postgres::Error> {
        self.config(db).connect(postgres::NoTls)
    }

    /// A plain-TCP superuser connection to `db`.
    pub fn client(&self, db: &str) -> postgres::Client {
        self.try_client(db)
            .unwrap_or_else(|e| panic!("connect to database {db:?}: {}", describe(&e)))
    }

    /// Runs `sql` (one or more statements) in `db`.
    ///
    /// # Panics
    /// With the server's error and the SQL if a statement fails.
    pub fn execute(&self, db: &str, sql: &str) {
        if let Err(e) = self.client(db).batch_execute(sql) {
            panic!("SQL failed in {db:?}: {}\n--- SQL ---\n{sql}", describe(&e));
        }
    }

    /// Runs the cluster's client `tool` (`pg_dump`, `pg_restore`, ...) from [`Self::bin_dir`] against database `db`
    /// as the superuser over TCP, with `args`; the password goes through the environment, never argv. Returns stdout.
    ///
    /// # Panics
    /// With the tool's stderr if it cannot be run or fails.
    pub fn run_tool(&self, tool: &str, db: &str, args: &[&str]) -> Vec<u8> {
        let output = Command::new(self.bin_dir.join(tool))
            .env_clear()
            .env("PGPASSWORD", &self.password)
            .env("PGSSLMODE", "disable")
            .args(["-h", HOST, "-p", &self.port.to_string(), "-U", SUPERUSER, "-d", db])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run {tool}: {e}"));
        assert!(
            output.status.success(),
            "{tool} {args:?} on {db} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    }

    /// A new, empty database, dropped when the guard drops.
    pub fn create_database(&'static self) -> TestDb {
        TestDb::create(self)
    }
}

/// Removes the small System V shared memory segment of a killed cluster in a stale scratch directory.
///
/// A postmaster that dies by `SIGKILL` (the parent-death signal) leaves it behind; its ID is on line 7 of
/// `postmaster.pid`. It is removed only if the postmaster created it and nothing is attached to it any more.
pub fn release_stale_shared_memory(scratch_dir: &Path) {
    let Ok(pid_file) = fs::read_to_string(scratch_dir.join("data/postmaster.pid")) else {
        return;
    };
    let lines: Vec<&str> = pid_file.lines().collect();
    let postmaster = lines.first().and_then(|line| line.trim().parse::<libc::pid_t>().ok());
    let segment = lines
        .get(6)
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|id| id.parse::<libc::c_int>().ok());
    let (Some(postmaster), Some(segment)) = (postmaster, segment) else {
        return;
    };
    // SAFETY: shmid_ds is plain data; shmctl only writes into it (IPC_STAT) or reads nothing (IPC_RMID).
    unsafe {
        let mut status: libc::shmid_ds = std::mem::zeroed();
        if libc::shmctl(segment, libc::IPC_STAT, &raw mut status) == 0
            && status.shm_cpid == postmaster
            && status.shm_nattch == 0
        {
            libc::shmctl(segment, libc::IPC_RMID, std::ptr::null_mut());
        }
    }
}

/// A command for a PostgreSQL server binary: clean environment, run in `dir`, as `user` if given.
fn server_command(program: &Path, dir: &Path, user: Option<OsUser>) -> Command {
    let mut command = Command::new(program);
    // An inherited PGDATA/PGPORT/LC_* must not change the cluster.
    command.env_clear().env("PATH", "/usr/bin:/bin").current_dir(dir);
    if let Some(user) = user {
        user.apply(&mut command);
    }
    command
}

/// Writes a new file with `mode` (PostgreSQL insists on 0600 for the key).
fn write_file(path: &Path, contents: &str, mode: u32) -> PathBuf {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .and_then(|mut file| file.write_all(contents.as_bytes()))
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path.to_owned()
}

/// `bytes` random bytes from the kernel, hex-encoded (URL-safe, so it can go into a connection URL as is).
fn random_hex(bytes: usize) -> String {
    use std::fmt::Write as _;
    use std::io::Read as _;
    let mut buffer = vec![0; bytes];
    fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut buffer))
        .expect("read /dev/urandom");
    buffer.iter().fold(String::new(), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}");
        hex
    })
}
