//! The few operating-system questions campctl asks, as safe functions: who am I, what is this host, is that process
//! alive, how much room is left on a file system, where the holes of a sparse file are.
//!
//! This is the only module of `src/` with `unsafe` blocks (each with its SAFETY note); everything else calls these
//! functions. It is a leaf: it imports nothing from the crate, decides nothing (no exit codes, no messages for the
//! user, no fallbacks beyond what each function's doc says) and never writes or signals anything: `process_alive`
//! sends signal 0, which only asks. Error-number constants (`libc::ENOSPC`, …) are plain values and stay where they
//! are compared.

use std::ffi::CStr;
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

/// Whether campctl runs as root (effective user id 0).
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The effective OS user's name (libpq's default user), or `None` when the user database has no entry.
pub(crate) fn os_user() -> Option<String> {
    // SAFETY: getpwuid returns a pointer into static storage or null; the name is copied out before any other call
    // could overwrite that storage.
    unsafe {
        let entry = libc::getpwuid(libc::geteuid());
        if entry.is_null() {
            return None;
        }
        CStr::from_ptr((*entry).pw_name).to_str().ok().map(str::to_string)
    }
}

/// This machine's host name (`gethostname`), or `unknown`.
pub(crate) fn hostname() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it when the name fits.
    let rc = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    if rc != 0 {
        return "unknown".to_string();
    }
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}

/// Whether a process of this host is alive (`kill(pid, 0)`; EPERM means it exists under another user).
/// Pid 0 and pids beyond `pid_t` are never alive (signal 0 to pid 0 would ask about our own process group).
pub(crate) fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Bytes available to an unprivileged user on the file system holding `dir` (`statvfs`: `f_bavail * f_frsize`).
///
/// # Errors
/// A path containing NUL, or the `statvfs` error (e.g. the directory does not exist), without the path: callers add it.
pub(crate) fn free_space(dir: &Path) -> std::io::Result<u64> {
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidInput, err))?;
    // SAFETY: statvfs is plain old data, for which all-zero bytes are a valid value.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated and `stat` is a valid out-pointer.
    if unsafe { libc::statvfs(path.as_ptr(), &raw mut stat) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(stat.f_bavail * stat.f_frsize)
}

/// The size and use of the file system holding `dir`, as `df` counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FsUsage {
    /// Bytes in use (`f_blocks - f_bfree`).
    pub used: u64,
    /// Bytes an unprivileged user may still write (`f_bavail`).
    pub available: u64,
}

impl FsUsage {
    /// `df`'s Use%: used over what unprivileged users can have (used + available), rounded up as `df` does not;
    /// 0 on an empty file system.
    pub(crate) fn percent(self) -> f64 {
        let total = self.used.saturating_add(self.available);
        if total == 0 {
            0.0
        } else {
            self.used as f64 * 100.0 / total as f64
        }
    }
}

/// The use of the file system holding `dir` (`statvfs`).
///
/// # Errors
/// A path containing NUL, or the `statvfs` error (e.g. the directory does not exist), without the path: callers add it.
pub(crate) fn fs_usage(dir: &Path) -> std::io::Result<FsUsage> {
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidInput, err))?;
    // SAFETY: statvfs is plain old data, for which all-zero bytes are a valid value.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated and `stat` is a valid out-pointer.
    if unsafe { libc::statvfs(path.as_ptr(), &raw mut stat) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(FsUsage {
        used: stat.f_blocks.saturating_sub(stat.f_bfree).saturating_mul(stat.f_frsize),
        available: stat.f_bavail.saturating_mul(stat.f_frsize),
    })
}

/// Where the next data (`SEEK_DATA`) or hole (`SEEK_HOLE`) of `file` starts at or after `offset`: `Ok(None)` when there
/// is none before the end (`ENXIO`). Leaves the file offset changed: callers seek before reading.
///
/// # Errors
/// The `lseek` error, e.g. `EINVAL` where the file system cannot tell holes.
pub(crate) fn seek_data_or_hole(file: &std::fs::File, offset: u64, data: bool) -> std::io::Result<Option<u64>> {
    use std::os::unix::io::AsRawFd as _;
    let offset =
        libc::off_t::try_from(offset).map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidInput, err))?;
    let whence = if data { libc::SEEK_DATA } else { libc::SEEK_HOLE };
    // SAFETY: lseek on a descriptor that `file` keeps open; it only moves that descriptor's offset.
    let found = unsafe { libc::lseek(file.as_raw_fd(), offset, whence) };
    if found < 0 {
        let err = std::io::Error::last_os_error();
        return if err.raw_os_error() == Some(libc::ENXIO) {
            Ok(None)
        } else {
            Err(err)
        };
    }
    Ok(u64::try_from(found).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_pid_zero_never_is() {
        assert!(process_alive(std::process::id()));
        assert!(!process_alive(0));
        assert!(!process_alive(u32::MAX));
    }

    #[test]
    fn a_reaped_child_is_not_alive() {
        let mut child = std::process::Command::new("true").spawn().expect("`true` runs");
        let pid = child.id();
        child.wait().expect("`true` exits");
        assert!(!process_alive(pid));
    }

    #[test]
    fn hostname_and_user_are_answered() {
        assert!(!hostname().is_empty());
        if let Some(user) = os_user() {
            assert_eq!(is_root(), user == "root");
        }
    }

    #[test]
    fn free_space_of_an_existing_and_a_missing_directory() {
        assert!(free_space(&std::env::temp_dir()).is_ok());
        let missing = free_space(Path::new("/nonexistent/campctl-os-test"));
        assert_eq!(missing.map_err(|err| err.kind()), Err(std::io::ErrorKind::NotFound));
    }
}
