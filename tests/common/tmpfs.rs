//! A size-limited tmpfs for the out-of-space tests.

use std::path::Path;
use std::process::Command;

/// A tmpfs mounted on a temp dir, unmounted on drop.
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`mount -o size=`, e.g. `1m`) on a new temp dir.
    ///
    /// # Panics
    /// If `mount` fails: mounting needs root (CAP_SYS_ADMIN).
    pub fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "`mount -t tmpfs` failed ({status}): this test needs root (CAP_SYS_ADMIN)"
        );
        Self { dir }
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}
