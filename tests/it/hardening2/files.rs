//! Hardening 2 regressions (files backups): files that change or vanish while `backup files` reads them (items 1
//! and 2), hard links and special files (item 3). Every committed archive is extracted with GNU tar and compared
//! with the source.
//!
//! The mutations are deterministic: the test waits until campctl has read part of a large file (its offset in
//! `/proc/PID/fdinfo`), stops campctl with SIGSTOP, checks that the read is still under way, changes the source,
//! then lets campctl go on with SIGCONT.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::backup::BackupEnv;
use crate::common::assert_exit;

/// Bytes that gzip cannot shrink (xorshift), so that reading them takes a while.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

const BIG: usize = 32 << 20;

/// `backup files --source SOURCE` started in the background, its stdout and stderr in files.
struct Run {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

fn spawn(env: &BackupEnv, source: &Path, extra: &[&str]) -> Run {
    let stdout = env.ctx.home().join("run.stdout");
    let stderr = env.ctx.home().join("run.stderr");
    let child = env
        .ctx
        .std_cmd()
        .args(["--format", "json", "backup", "files", "--source"])
        .arg(source)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(File::create(&stdout).expect("stdout file"))
        .stderr(File::create(&stderr).expect("stderr file"))
        .spawn()
        .expect("spawn campctl");
    Run { child, stdout, stderr }
}

impl Run {
    fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid")
    }

    /// Waits for the end; returns the exit code, the JSON report and stderr.
    fn finish(mut self) -> (i32, serde_json::Value, String) {
        let status = self.child.wait().expect("wait");
        let stderr = std::fs::read_to_string(&self.stderr).expect("stderr");
        let stdout = std::fs::read(&self.stdout).expect("stdout");
        let report = serde_json::from_slice(&stdout).unwrap_or_else(|_| panic!("a JSON report; stderr: {stderr}"));
        (status.code().expect("exit code"), report, stderr)
    }
}

/// The offset campctl's open descriptor of `path` has reached, if it has `path` open.
fn read_offset(pid: i32, path: &Path) -> Option<u64> {
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.flatten() {
        if std::fs::read_link(fd.path()).ok().as_deref() == Some(path) {
            let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{}", fd.file_name().to_str()?)).ok()?;
            return info
                .lines()
                .find_map(|line| line.strip_prefix("pos:"))
                .and_then(|pos| pos.trim().parse().ok());
        }
    }
    None
}

/// Whether every thread of `pid` is stopped.
fn all_threads_stopped(pid: i32) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("tasks")
        .flatten()
        .all(|task| {
            std::fs::read_to_string(task.path().join("stat"))
                .ok()
                .and_then(|stat| stat.rsplit_once(") ").map(|(_, rest)| rest.starts_with(['T', 't'])))
                .unwrap_or(true)
        })
}

/// Waits until campctl has read part of `path`, stops it there, runs `change` on the source, and lets it go on.
/// Returns how many bytes of `path` campctl had read when it was stopped (fewer than its size: the change happened
/// during the read, for certain).
fn change_during_read(run: &mut Run, path: &Path, change: impl FnOnce()) -> u64 {
    let pid = run.pid();
    let size = std::fs::metadata(path).expect("size").len();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(
            run.child.try_wait().expect("try_wait").is_none(),
            "campctl ended before it read `{}`",
            path.display()
        );
        assert!(Instant::now() < deadline, "campctl never read `{}`", path.display());
        if read_offset(pid, path).is_some_and(|pos| pos > 0) {
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    while !all_threads_stopped(pid) {
        std::thread::sleep(Duration::from_millis(1));
    }
    let pos = read_offset(pid, path).expect("still open while stopped");
    assert!(
        pos > 0 && pos < size,
        "stopped mid-read of `{}` ({pos} of {size} bytes read)",
        path.display()
    );
    change();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    pos
}

/// Extracts a stored archive with GNU tar (which must succeed) and returns the directory and `tar -tzf`'s names.
fn gnu_extract(archive: &Path) -> (tempfile::TempDir, BTreeSet<String>) {
    let list = std::process::Command::new("tar")
        .arg("-tzf")
        .arg(archive)
        .output()
        .expect("run tar -tzf");
    assert!(
        list.status.success() && list.stderr.is_empty(),
        "tar -tzf: {}",
        String::from_utf8_lossy(&list.stderr)
    );
    let names = String::from_utf8_lossy(&list.stdout)
        .lines()
        .map(|line| line.trim_end_matches('/').to_string())
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let extract = std::process::Command::new("tar")
        .arg("-xzf")
        .arg(archive)
        .arg("-C")
        .arg(dir.path())
        .output()
        .expect("run tar -xzf");
    assert!(
        extract.status.success() && extract.stderr.is_empty(),
        "tar -xzf: {}",
        String::from_utf8_lossy(&extract.stderr)
    );
    (dir, names)
}

/// The names below `source` as tar lists them (`uploads`, `uploads/a`, ...).
fn source_names(source: &Path) -> BTreeSet<String> {
    fn collect(dir: &Path, name: &str, out: &mut BTreeSet<String>) {
        out.insert(name.to_string());
        for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
            let child = format!("{name}/{}", entry.file_name().to_str().expect("utf-8"));
            if entry.file_type().expect("type").is_dir() {
                collect(&entry.path(), &child, out);
            } else {
                out.insert(child);
            }
        }
    }
    let mut out = BTreeSet::new();
    collect(
        source,
        source.file_name().and_then(|n| n.to_str()).expect("name"),
        &mut out,
    );
    out
}

fn assert_same_file(extracted: &Path, source: &Path) {
    assert!(
        std::fs::read(extracted).expect("extracted file") == std::fs::read(source).expect("source file"),
        "`{}` differs from the source",
        extracted.display()
    );
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("an array: {value}"))
        .iter()
        .map(|v| v.as_str().expect("string").to_string())
        .collect()
}

/// 1 KiB that GNU tar would read as an entry `uploads/evil.sh` (mode 755) if it followed a file's declared size.
fn tar_shaped_tail() -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let script = b"#!/bin/sh\necho never in the source\n";
    let mut header = tar::Header::new_gnu();
    header.set_size(script.len() as u64);
    header.set_mode(0o755);
    builder
        .append_data(&mut header, "uploads/evil.sh", &script[..])
        .expect("tar entry");
    let bytes = builder.into_inner().expect("tar");
    bytes[..1024].to_vec()
}

#[test]
fn item_01_a_file_that_grows_or_shrinks_while_read_leaves_an_archive_that_extracts_completely() {
    let env = BackupEnv::local();
    let source = env.ctx.home().join("uploads");
    std::fs::create_dir_all(source.join("d")).expect("dirs");
    let grows = source.join("a-grows.bin");
    let shrinks = source.join("b-shrinks.bin");
    // Sizes are whole tar blocks, so that appended tar-shaped bytes would start at an entry boundary.
    std::fs::write(&grows, noise(BIG, 1)).expect("file");
    let shrinks_original = noise(BIG, 2);
    std::fs::write(&shrinks, &shrinks_original).expect("file");
    std::fs::write(source.join("c.txt"), "after the changed files\n").expect("file");
    std::fs::write(source.join("d/e.txt"), noise(10_000, 3)).expect("file");
    let grows_original = std::fs::read(&grows).expect("read");

    let mut run = spawn(&env, &source, &[]);
    change_during_read(&mut run, &grows, || {
        let mut file = std::fs::OpenOptions::new().append(true).open(&grows).expect("open");
        file.write_all(&tar_shaped_tail()).expect("append");
    });
    let read_before_truncation = change_during_read(&mut run, &shrinks, || {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&shrinks)
            .expect("open")
            .set_len(1000)
            .expect("truncate");
    });
    let (code, report, stderr) = run.finish();
    assert_eq!(code, 3, "changed files make the run partial: {stderr}");
    assert!(stderr.contains("changed"), "{stderr}");
    let changed = strings(&report["changed"]);
    assert_eq!(
        changed,
        [grows.display().to_string(), shrinks.display().to_string()],
        "{report}"
    );

    // Committed, and GNU tar extracts all of it: no entry that is not in the source.
    let archive = env.local.join(report["object"].as_str().expect("object"));
    let (out, names) = gnu_extract(&archive);
    assert_eq!(names, source_names(&source), "the archive's entries are the source's");
    assert!(!out.path().join("uploads/evil.sh").exists());
    // The file that grew is stored at its size when opened; the one that shrank is padded with zeros.
    assert!(std::fs::read(out.path().join("uploads/a-grows.bin")).expect("a") == grows_original);
    let stored = std::fs::read(out.path().join("uploads/b-shrinks.bin")).expect("b");
    let read = usize::try_from(read_before_truncation).expect("size");
    assert_eq!(stored.len(), BIG);
    assert!(
        stored[..read] == shrinks_original[..read],
        "the bytes read before the truncation"
    );
    assert!(stored[read..].iter().all(|&b| b == 0), "zeros after");
    for rest in ["c.txt", "d/e.txt"] {
        assert_same_file(&out.path().join("uploads").join(rest), &source.join(rest));
    }
}

#[test]
fn item_02_files_and_directories_that_vanish_during_the_backup_are_left_out_with_exit_3() {
    let env = BackupEnv::local();
    let source = env.ctx.home().join("uploads");
    for skip in [false, true] {
        let _ = std::fs::remove_dir_all(&source);
        std::fs::create_dir_all(source.join("c-gone-dir/deeper")).expect("dirs");
        let big = source.join("a-big.bin");
        std::fs::write(&big, noise(BIG, 4)).expect("file");
        std::fs::write(source.join("b-gone.txt"), "deleted during the run\n").expect("file");
        std::fs::write(source.join("c-gone-dir/deeper/x.txt"), "also deleted\n").expect("file");
        std::fs::write(source.join("d-stays.txt"), "kept\n").expect("file");

        let mut run = spawn(&env, &source, if skip { &["--skip-unreadable"] } else { &[] });
        change_during_read(&mut run, &big, || {
            std::fs::remove_file(source.join("b-gone.txt")).expect("rm");
            std::fs::remove_dir_all(source.join("c-gone-dir")).expect("rm -r");
        });
        let (code, report, stderr) = run.finish();
        assert_eq!(code, 3, "skip-unreadable {skip}: {stderr}");
        assert!(stderr.contains("vanished"), "{stderr}");
        assert_eq!(
            strings(&report["vanished"]),
            [
                source.join("b-gone.txt").display().to_string(),
                source.join("c-gone-dir").display().to_string()
            ],
            "{report}"
        );
        assert_eq!(report["file_count"], 2, "{report}");
        let archive = env.local.join(report["object"].as_str().expect("object"));
        let (out, names) = gnu_extract(&archive);
        assert_eq!(names, source_names(&source), "left out, nothing else");
        for rest in ["a-big.bin", "d-stays.txt"] {
            assert_same_file(&out.path().join("uploads").join(rest), &source.join(rest));
        }
    }
}

#[test]
fn item_03_hard_links_are_stored_as_links_and_special_files_are_listed() {
    let env = BackupEnv::local();
    let source = env.ctx.home().join("uploads");
    std::fs::create_dir_all(source.join("sub")).expect("dirs");
    std::fs::write(source.join("a.txt"), noise(5000, 5)).expect("file");
    std::fs::hard_link(source.join("a.txt"), source.join("b-link.txt")).expect("link");
    std::fs::hard_link(source.join("a.txt"), source.join("sub/c-link.txt")).expect("link");
    std::fs::write(source.join("z.txt"), "plain\n").expect("file");
    let fifo = source.join("pipe");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let socket = source.join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind a unix socket");

    let report = env.backup(&["files", "--source", source.to_str().expect("path")]);
    assert_eq!(report["hard_links"], 2, "{report}");
    assert_eq!(report["file_count"], 4, "{report}");
    assert_eq!(
        report["file_bytes"], 5006,
        "a hard-linked file's data counts once: {report}"
    );
    assert_eq!(
        report["skipped_special"],
        serde_json::json!([
            { "path": fifo.display().to_string(), "kind": "fifo" },
            { "path": socket.display().to_string(), "kind": "socket" },
        ]),
        "{report}"
    );
    let archive = env.local.join(report["object"].as_str().expect("object"));
    let verbose = std::process::Command::new("tar")
        .arg("-tvzf")
        .arg(&archive)
        .output()
        .expect("tar -tvzf");
    let listing = String::from_utf8_lossy(&verbose.stdout);
    assert!(
        listing.contains("uploads/b-link.txt link to uploads/a.txt")
            && listing.contains("uploads/sub/c-link.txt link to uploads/a.txt"),
        "{listing}"
    );
    let (out, names) = gnu_extract(&archive);
    assert!(
        !names.contains("uploads/pipe") && !names.contains("uploads/sock"),
        "{names:?}"
    );
    let inode = |name: &str| std::fs::metadata(out.path().join(name)).expect("extracted").ino();
    assert_eq!(inode("uploads/a.txt"), inode("uploads/b-link.txt"));
    assert_eq!(inode("uploads/a.txt"), inode("uploads/sub/c-link.txt"));
    assert_same_file(&out.path().join("uploads/sub/c-link.txt"), &source.join("a.txt"));
    assert_same_file(&out.path().join("uploads/z.txt"), &source.join("z.txt"));

    // The text report lists them too; special files alone do not make the run partial.
    let output = env.run(&["backup", "files", "--source", source.to_str().expect("path")]);
    assert_exit(&output, 0);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains(&format!("{} (fifo)", fifo.display()))
            && text.contains(&format!("{} (socket)", socket.display())),
        "{text}"
    );
}
