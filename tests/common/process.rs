//! Service processes and scratch directories owned by the test binary, and their cleanup.
//!
//! The services (PostgreSQL, Azurite, Redis) live in `static`s, and Rust never drops statics, so nothing here relies
//! on `Drop`. Two mechanisms keep a run from leaving anything behind:
//!
//! - On a normal exit (all tests passed, or the harness exits 101 after a failed test), a `libc::atexit` hook stops
//!   every registered process (its polite stop signal, then `SIGKILL` after a grace period) and removes every
//!   registered directory.
//! - If the test binary is killed, `PR_SET_PDEATHSIG` makes the kernel `SIGKILL` the services. That signal fires when
//!   the *thread* that forked the child exits, so every service is spawned from one dedicated thread that never
//!   exits. Directories left behind that way are swept by the next run (see [`scratch_dir`]).

use std::ffi::CString;
use std::fs;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc::{self, Sender};
use std::sync::{Mutex, MutexGuard, Once, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// Prefix of every scratch directory; the owning test binary's PID follows it.
const SCRATCH_PREFIX: &str = "campctl-test-";

/// How long a service gets to stop after its stop signal before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

struct Registered {
    name: &'static str,
    child: Child,
    stop_signal: libc::c_int,
}

static PROCESSES: Mutex<Vec<Registered>> = Mutex::new(Vec::new());
static DIRECTORIES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A service process registered for cleanup at exit; the `Child` itself stays in the registry.
#[derive(Debug, Clone, Copy)]
pub struct ServiceProcess {
    pid: u32,
}

impl ServiceProcess {
    pub fn pid(self) -> u32 {
        self.pid
    }

    /// The exit status if the process has already exited.
    pub fn exited(self) -> Option<ExitStatus> {
        lock(&PROCESSES)
            .iter_mut()
            .find(|registered| registered.child.id() == self.pid)
            .and_then(|registered| registered.child.try_wait().ok().flatten())
    }
}

/// The OS user a service runs as: `postgres` refuses to run as root.
#[derive(Debug, Clone, Copy)]
pub struct OsUser {
    pub uid: u32,
    pub gid: u32,
}

impl OsUser {
    /// Looks a user up in the password database.
    pub fn lookup(name: &str) -> Option<Self> {
        let c_name = CString::new(name).ok()?;
        // SAFETY: getpwnam returns NULL or a pointer to static storage that we read at once; the harness does not
        // call getpwnam concurrently (it runs under the service's OnceLock initialisation).
        let entry = unsafe { libc::getpwnam(c_name.as_ptr()) };
        if entry.is_null() {
            return None;
        }
        // SAFETY: non-null, points to a valid passwd struct (see above).
        let entry = unsafe { &*entry };
        Some(Self {
            uid: entry.pw_uid,
            gid: entry.pw_gid,
        })
    }

    /// Gives `path` (not recursive) to this user.
    pub fn chown(self, path: &Path) {
        std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid))
            .unwrap_or_else(|e| panic!("chown {} to uid {}: {e}", path.display(), self.uid));
    }

    /// Makes `command` run as this user.
    pub fn apply(self, command: &mut Command) {
        command.uid(self.uid).gid(self.gid);
    }
}

/// Whether the test binary runs as root (then PostgreSQL must run as the `postgres` OS user).
pub fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Spawns a long-running service from the spawner thread, with `PR_SET_PDEATHSIG = SIGKILL`, and registers it so
/// that it is stopped with `stop_signal` at exit.
///
/// # Panics
/// If the process cannot be spawned.
pub fn spawn_service(name: &'static str, mut command: Command, stop_signal: libc::c_int) -> ServiceProcess {
    register_cleanup();
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure only makes async-signal-safe calls (prctl, getppid) and allocates nothing.
    unsafe {
        command.pre_exec(move || {
            // std runs pre_exec closures after setuid/setgid, which matters: changing credentials clears the
            // parent-death signal (prctl(2)).
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl; then no signal will ever come.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    let description = format!("{command:?}");
    let (reply_to, reply) = mpsc::channel();
    spawner()
        .send((command, reply_to))
        .expect("the spawner thread never exits");
    let child = reply
        .recv()
        .expect("the spawner thread always replies")
        .unwrap_or_else(|e| panic!("could not start {name} ({description}): {e}"));
    let process = ServiceProcess { pid: child.id() };
    lock(&PROCESSES).push(Registered {
        name,
        child,
        stop_signal,
    });
    process
}

type SpawnRequest = (Command, Sender<io::Result<Child>>);

/// The sender side of the one thread that forks every service (see the module docs for why).
fn spawner() -> &'static Sender<SpawnRequest> {
    static SPAWNER: OnceLock<Sender<SpawnRequest>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (sender, requests) = mpsc::channel::<SpawnRequest>();
        thread::Builder::new()
            .name("service-spawner".into())
            .spawn(move || {
                for (mut command, reply_to) in requests {
                    // The requester may have panicked meanwhile; then the child is simply never registered, and
                    // the parent-death signal still ends it with the binary.
                    let _ = reply_to.send(command.spawn());
                }
                // Unreachable in practice (the sender lives in a static), but this thread must never exit.
                loop {
                    thread::park();
                }
            })
            .expect("spawn the service-spawner thread");
        sender
    })
}

/// Stops a registered service now (used when a start attempt failed and is retried).
pub fn stop_service(process: ServiceProcess) {
    let taken = {
        let mut processes = lock(&PROCESSES);
        processes
            .iter()
            .position(|registered| registered.child.id() == process.pid)
            .map(|index| processes.remove(index))
    };
    if let Some(registered) = taken {
        stop_all(vec![registered]);
    }
}

/// Creates a fresh scratch directory `$TMPDIR/campctl-test-<pid>-<label>-XXXXXX`, removed at exit.
///
/// The first call also sweeps scratch directories of earlier test binaries that no longer run (a killed binary
/// cannot run its exit hook).
pub fn scratch_dir(label: &str) -> PathBuf {
    let path = scratch_tempdir(label)
        .keep()
        .canonicalize()
        .expect("canonicalize the scratch directory");
    register_cleanup();
    lock(&DIRECTORIES).push(path.clone());
    path
}

/// Like [`scratch_dir`], but removed when the returned guard drops (for per-test directories).
pub fn scratch_tempdir(label: &str) -> tempfile::TempDir {
    static SWEEP: Once = Once::new();
    SWEEP.call_once(sweep_stale_scratch_dirs);
    tempfile::Builder::new()
        .prefix(&format!("{SCRATCH_PREFIX}{}-{label}-", std::process::id()))
        .tempdir()
        .expect("create a scratch directory in the temp dir")
}

fn sweep_stale_scratch_dirs() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.strip_prefix(SCRATCH_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        // SAFETY: kill with signal 0 only checks whether the process exists.
        let gone = unsafe { libc::kill(pid, 0) } != 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            super::postgres::release_stale_shared_memory(&entry.path());
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind an ephemeral port on 127.0.0.1")
        .port()
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
pub fn port_open(port: u16) -> bool {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok()
}

/// Why waiting for a service failed.
pub enum WaitError {
    Exited(ExitStatus),
    TimedOut,
}

/// Polls `ready` every 100 ms until it returns true, the service exits, or `timeout` passes.
pub fn wait_until(
    process: ServiceProcess,
    timeout: Duration,
    mut ready: impl FnMut() -> bool,
) -> Result<(), WaitError> {
    let deadline = Instant::now() + timeout;
    loop {
        if ready() {
            return Ok(());
        }
        if let Some(status) = process.exited() {
            return Err(WaitError::Exited(status));
        }
        if Instant::now() >= deadline {
            return Err(WaitError::TimedOut);
        }
        thread::sleep(Duration::from_millis(100));
    }
}

impl std::fmt::Display for WaitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exited(status) => write!(f, "exited during start-up ({status})"),
            Self::TimedOut => f.write_str("did not become ready in time"),
        }
    }
}

/// The tail of a log file, for panic messages.
pub fn log_tail(path: &Path) -> String {
    match fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(40)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

fn register_cleanup() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // SAFETY: registering a plain extern "C" fn; it never unwinds (see below).
        let rc = unsafe { libc::atexit(cleanup_at_exit) };
        assert_eq!(rc, 0, "atexit registration failed");
    });
}

extern "C" fn cleanup_at_exit() {
    // A panic must not unwind out of an extern "C" fn (it would abort and skip the rest of the cleanup).
    let _ = std::panic::catch_unwind(|| {
        let processes = std::mem::take(&mut *lock(&PROCESSES));
        stop_all(processes);
        for directory in std::mem::take(&mut *lock(&DIRECTORIES)) {
            let _ = fs::remove_dir_all(&directory);
        }
    });
}

/// Sends each process its stop signal, waits up to [`STOP_GRACE`] for all of them, then kills the rest.
fn stop_all(mut processes: Vec<Registered>) {
    for registered in &mut processes {
        let stop_signal = registered.stop_signal;
        signal(registered, stop_signal);
    }
    let deadline = Instant::now() + STOP_GRACE;
    while Instant::now() < deadline {
        processes.retain_mut(|registered| matches!(registered.child.try_wait(), Ok(None)));
        if processes.is_empty() {
            return;
        }
        thread::sleep(Duration::from_millis(50));
    }
    for mut registered in processes {
        eprintln!(
            "test harness: {} (pid {}) ignored its stop signal; killing it",
            registered.name,
            registered.child.id()
        );
        let _ = registered.child.kill();
        let _ = registered.child.wait();
    }
}

fn signal(registered: &mut Registered, signal: libc::c_int) {
    // Once reaped, the PID may belong to someone else: only signal a child that has not exited.
    if !matches!(registered.child.try_wait(), Ok(None)) {
        return;
    }
    if let Ok(pid) = libc::pid_t::try_from(registered.child.id()) {
        // SAFETY: the child is not reaped yet (checked above, and we hold its `Child`), so the PID is still ours.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

/// Locks a registry even if a panicking thread poisoned it: cleanup must still run.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
