//! Microsoft's own code as a second opinion: Python scripts of `tests/` run with the packages that scripts/test
//! installs from tests/requirements.txt into `.pydeps/` (azure-storage-blob, azure-storage-extensions,
//! prometheus_client).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// `.pydeps/` of the repository.
pub fn pydeps() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".pydeps")
}

/// Fails with the fix when the package directory `package` (e.g. `azure/storage/blob`) is not in `.pydeps/`.
pub fn require(package: &str) {
    assert!(
        pydeps().join(package).is_dir(),
        "the Python package `{package}` is missing from .pydeps/: run scripts/test (it installs tests/requirements.txt \
         into .pydeps/)"
    );
}

/// Runs `tests/SCRIPT ARGS…` with `.pydeps/` on the path; its stdout as JSON (a failed script fails the test with
/// its stderr).
pub fn run_json<I, S>(script: &str, args: I) -> serde_json::Value
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let output = std::process::Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join(script))
        .args(args)
        .env("PYTHONPATH", pydeps())
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "python3 tests/{script}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON from python")
}
