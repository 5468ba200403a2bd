//! Azurite, Microsoft's Azure Storage emulator (blob service only), shared by the tests of one test binary.
//!
//! It comes from the repository's `package-lock.json` (`npm ci`, which `scripts/test` runs) and is started as
//! `node node_modules/azurite/dist/src/blob/main.js ...` directly, so that the PID we hold is node's own. Each test
//! works in containers of its own ([`unique_container`]).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use super::process::{self, ServiceProcess};
use super::{start_once, unique_suffix};

/// The emulator's well-known account, from `node_modules/azurite/dist/src/common/utils/constants.js`
/// (`EMULATOR_ACCOUNT_NAME` / `EMULATOR_ACCOUNT_KEY`).
pub const ACCOUNT: &str = "devstoreaccount1";
pub const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

const MAIN_JS: &str = "node_modules/azurite/dist/src/blob/main.js";
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The running emulator; see the module docs.
pub struct Azurite {
    port: u16,
    log_path: PathBuf,
    process: ServiceProcess,
}

static AZURITE: OnceLock<Result<Azurite, String>> = OnceLock::new();

/// The Azurite of this test binary, started on first use.
///
/// # Panics
/// If `node_modules/azurite` is missing or Azurite does not start (its output is in the message).
pub fn azurite() -> &'static Azurite {
    start_once(&AZURITE, "Azurite", Azurite::start)
}

/// The emulator if a test of this binary already started it (for snapshot filters).
pub fn azurite_if_started() -> Option<&'static Azurite> {
    AZURITE.get().and_then(|started| started.as_ref().ok())
}

/// A container name no other test uses (`t-<pid>-<n>`: lowercase, digits and dashes, as Azure requires).
pub fn unique_container() -> String {
    format!("t-{}", unique_suffix('-'))
}

impl Azurite {
    fn start() -> Self {
        let main_js = Path::new(env!("CARGO_MANIFEST_DIR")).join(MAIN_JS);
        assert!(
            main_js.is_file(),
            "{} not found: run scripts/test (it installs Azurite from package-lock.json with `npm ci`)",
            main_js.display()
        );
        let dir = process::scratch_dir("azurite");
        let data_dir = dir.join("data");
        let log_path = dir.join("azurite.log");
        let log = std::fs::File::create(&log_path).expect("create the Azurite log");
        let port = process::free_port();
        let mut command = Command::new("node");
        command
            .arg(&main_js)
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .arg("--location")
            .arg(&data_dir)
            // The SDK sends a newer x-ms-version than Azurite knows; without telemetry off it tries the internet.
            .args(["--skipApiVersionCheck", "--disableTelemetry", "--loose", "--silent"])
            // AZURITE_ACCOUNTS would replace the well-known account and key.
            .env_remove("AZURITE_ACCOUNTS")
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log);
        let process = process::spawn_service("azurite", command, libc::SIGTERM);
        if let Err(error) = process::wait_until(process, START_TIMEOUT, || process::port_open(port)) {
            panic!(
                "Azurite on port {port} {error} (is `node` on PATH?); output {}:\n{}",
                log_path.display(),
                process::log_tail(&log_path)
            );
        }
        Self {
            port,
            log_path,
            process,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT/devstoreaccount1`: the blob service URL, path-style as the emulator wants it.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{ACCOUNT}", self.port)
    }

    #[allow(
        clippy::unused_self,
        reason = "an accessor, like the others, even though the account is fixed"
    )]
    pub fn account(&self) -> &str {
        ACCOUNT
    }

    /// The account key, base64 (as in a connection string).
    #[allow(
        clippy::unused_self,
        reason = "an accessor, like the others, even though the key is fixed"
    )]
    pub fn key(&self) -> &str {
        ACCOUNT_KEY
    }

    /// A storage connection string with only the blob endpoint.
    pub fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};BlobEndpoint={};",
            self.endpoint()
        )
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}
