//! The test harness shared by the `cli` and `it` test binaries (each includes it with
//! `#[path = "../common/mod.rs"] mod common;`).
//!
//! - [`TestContext`] runs the `campctl` binary in an isolated HOME with a scrubbed environment, and
//!   [`campctl_snapshot!`] snapshots its exit code, stdout and stderr (STYLE.md §8).
//! - [`pg()`], [`azurite()`] and [`redis()`] start real services once per test binary, on free ports, from
//!   scratch directories; each test takes its own database ([`TestDb`]) or container ([`unique_container`]).
//!   A missing service binary fails loudly and says how to install it: no test is skipped silently.
//! - Nothing outlives the test binary: see [`process`] for how services are stopped and scratch dirs removed.

// Each binary uses a different part of this module, hence the unused-item allows; and "PostgreSQL" in the docs is a
// name, not code to put in backticks.
#![allow(dead_code, unused_imports, unused_macros, clippy::doc_markdown)]

pub mod arm;
pub mod az;
pub mod azurite;
pub mod blob;
pub mod context;
pub mod database;
pub mod documented;
pub mod https;
pub mod postgres;
pub mod process;
pub mod python;
pub mod redis;
pub mod tls;
pub mod tmpfs;

use std::any::Any;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

pub use self::azurite::{Azurite, azurite, unique_container};
pub use self::blob::HttpResponse;
pub use self::context::{TestContext, apply_filters, assert_exit, run_and_format};
pub use self::database::{TestDb, describe};
pub use self::https::{Handler, HttpServer, Recorded, Route};
pub use self::postgres::{PgCluster, pg};
pub use self::redis::{Redis, RedisOptions, redis};
pub use self::tls::{SelfSigned, ServerCert, TestCa, self_signed_server_cert};
pub use self::tmpfs::Tmpfs;

/// Runs a `campctl` command and snapshots its outcome, like uv's `uv_snapshot!`:
///
/// ```ignore
/// campctl_snapshot!(ctx.filters(), ctx.cmd().arg("--help"), @r"
/// success: true
/// exit_code: 0
/// ----- stdout -----
/// ...
/// ----- stderr -----
/// ");
/// ```
///
/// The command may be an `assert_cmd::Command` or a `&mut` one. Evaluates to the `std::process::Output`.
/// Without `@"..."` the snapshot goes to a file under `snapshots/`.
macro_rules! campctl_snapshot {
    ($filters:expr, $command:expr, @$snapshot:literal) => {{
        let (snapshot, output) = $crate::common::run_and_format($command, &$filters);
        ::insta::assert_snapshot!(snapshot, @$snapshot);
        output
    }};
    ($filters:expr, $command:expr) => {{
        let (snapshot, output) = $crate::common::run_and_format($command, &$filters);
        ::insta::assert_snapshot!(snapshot);
        output
    }};
}
pub(crate) use campctl_snapshot;

/// `<pid><separator><n>`: unique within this machine while this test binary runs (database and container names).
pub fn unique_suffix(separator: char) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}{separator}{n}", std::process::id())
}

/// Starts a service once per binary. A failed start is remembered, so every later test fails at once with the same
/// message instead of waiting for its own start-up timeout.
fn start_once<T>(cell: &'static OnceLock<Result<T, String>>, name: &str, start: fn() -> T) -> &'static T {
    let started = cell.get_or_init(|| std::panic::catch_unwind(start).map_err(|panic| panic_message(&*panic)));
    match started {
        Ok(service) => service,
        Err(message) => panic!("{name} did not start (see the first failing test): {message}"),
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|text| (*text).to_owned()))
        .unwrap_or_else(|| "(non-string panic)".to_owned())
}
