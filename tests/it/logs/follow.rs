//! `logs tail --follow`: lines appended to the file, to the renamed file after a rotation and to the new file are
//! all printed; Ctrl-C ends it with exit 0.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::TestContext;

fn line(n: u32) -> String {
    format!(r#"{{"timestamp":"2026-03-01T00:00:{n:02}Z","level":"info","event":"line {n}"}}"#)
}

fn append(path: &std::path::Path, text: &str) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open for append");
    file.write_all(text.as_bytes()).expect("append");
}

/// Waits for a line containing `text` on the channel.
fn expect_line(lines: &mpsc::Receiver<String>, text: &str, seen: &mut Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !seen.iter().any(|line| line.contains(text)) {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|err| panic!("no line with `{text}` within 20 s ({err}); seen: {seen:#?}"));
        seen.push(line);
    }
}

#[test]
fn tail_follow_reads_the_renamed_file_to_its_end_and_then_the_new_file() {
    let ctx = TestContext::new();
    let path = ctx.write_file("app.log", format!("{}\n{}\n", line(1), line(2)));
    let mut child = ctx
        .std_cmd()
        .args(["logs", "tail", "--follow", "--lines", "1", "--file"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn campctl");
    let stdout = child.stdout.take().expect("stdout");
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    let mut seen = Vec::new();
    expect_line(&lines, "line 2", &mut seen);
    assert!(
        !seen.iter().any(|line| line.contains("line 1")),
        "only the newest line: {seen:#?}"
    );

    append(&path, &format!("{}\n", line(3)));
    expect_line(&lines, "line 3", &mut seen);

    // logrotate: rename, the writer still appends to the old file once, then a new file appears.
    let rotated = path.with_extension("log.1");
    std::fs::rename(&path, &rotated).expect("rotate");
    append(&rotated, &format!("{}\n", line(4)));
    std::thread::sleep(Duration::from_millis(300));
    append(&path, &format!("{}\n{}\n", line(5), line(6)));
    expect_line(&lines, "line 4", &mut seen);
    expect_line(&lines, "line 6", &mut seen);
    let order: Vec<&String> = seen.iter().collect();
    let position = |text: &str| order.iter().position(|line| line.contains(text)).expect("line seen");
    assert!(position("line 4") < position("line 5"), "the old file first: {seen:#?}");

    // Ctrl-C ends following with exit 0.
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        assert!(Instant::now() < deadline, "campctl did not stop after SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(exit.code(), Some(0), "{exit:?}");
}
