//! Hardening regressions (fuzz): see `mod.rs`.
//!
//! The archive scanner on damaged REAL pg_dump output: archives dumped once per test binary by the harness's
//! pg_dump (`-Z0`, what campctl scans for `zstd`, `gzip` and `none`; `-Z6`, pg_dump's own zlib for `pgdump`), and
//! the stored objects campctl makes of them (`.zst`, `.gz`), cut short, bit-flipped, spliced and pushed in random
//! pieces. The scanner must never panic: a damaged archive is refused with an error that says where and why (a
//! truncation as `Truncated` at the exact offset), or, when the damage is in data that pg_dump does not structure,
//! accepted. The case count is `CAMPCTL_FUZZ_CASES` (default 200 per compression; docs/testing.md).
//!
//! Also here: the regressions of items 13, 18 and 19 of the hardening issue that concern what campctl parses or
//! writes (the local store's path, the zstd frame checksum, a `--pg-dump` that is not pg_dump, a bad container name).

use std::io::Write as _;
use std::sync::OnceLock;

use campctl::pg::archive::{ArchiveError, RowCounting};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::archive::scan_in_pieces_up_to;
use crate::backup::BackupEnv;
use crate::common::{TestContext, assert_exit, pg};

/// A small database with every kind of data block: several tables (one empty, one partitioned, awkward names),
/// enough rows that a table spans many chunks, and large objects (one empty).
const SEED: &str = r#"
CREATE SCHEMA "Sales";
CREATE TABLE "Sales"."Order Items" (id integer PRIMARY KEY, note text, raw bytea);
INSERT INTO "Sales"."Order Items"
SELECT g, CASE g % 3 WHEN 0 THEN E'line\nbreak' WHEN 1 THEN E'tab\t\\.' END, decode(md5(g::text), 'hex')
FROM generate_series(1, 2000) AS g;
CREATE TABLE public.empty (a int);
CREATE TABLE public.events (id bigint, happened date NOT NULL) PARTITION BY RANGE (happened);
CREATE TABLE public.events_2024 PARTITION OF public.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE public.events_other PARTITION OF public.events DEFAULT;
INSERT INTO public.events SELECT g, DATE '2024-06-01' + g % 400 FROM generate_series(1, 800) g;
SELECT lo_from_bytea(0, convert_to(repeat('large object ', 300), 'UTF8'));
SELECT lo_from_bytea(0, ''::bytea);
"#;

/// One compression as campctl stores it: the archive pg_dump wrote, and the stored object.
struct Sample {
    name: &'static str,
    /// What pg_dump wrote (what `campctl backup` scans).
    archive: Vec<u8>,
    /// What campctl stores (what `restore` decompresses and scans).
    stored: Vec<u8>,
}

/// The archives, dumped once per test binary.
fn samples() -> &'static [Sample] {
    static SAMPLES: OnceLock<Vec<Sample>> = OnceLock::new();
    SAMPLES.get_or_init(|| {
        let ctx = TestContext::new();
        let db = ctx.db();
        db.execute(SEED);
        let plain = pg().run_tool("pg_dump", db.name(), &["-Fc", "-Z0"]);
        let zlib = pg().run_tool("pg_dump", db.name(), &["-Fc", "-Z6"]);
        let zstd = zstd::encode_all(&plain[..], 1).expect("zstd");
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        gzip.write_all(&plain).expect("gzip");
        let gzip = gzip.finish().expect("gzip");
        vec![
            Sample {
                name: "zstd",
                archive: plain.clone(),
                stored: zstd,
            },
            Sample {
                name: "gzip",
                archive: plain.clone(),
                stored: gzip,
            },
            Sample {
                name: "none",
                archive: plain.clone(),
                stored: plain,
            },
            Sample {
                name: "pgdump",
                archive: zlib.clone(),
                stored: zlib,
            },
        ]
    })
}

fn cases() -> u32 {
    std::env::var("CAMPCTL_FUZZ_CASES")
        .ok()
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(200)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    })
}

/// Damage done to a byte stream.
#[derive(Debug, Clone)]
enum Damage {
    /// Cut at this index (scaled to the length).
    Cut(prop::sample::Index),
    /// XOR these bytes in; `head` keeps the positions in the first 4 KiB, where the header and TOC are.
    Flip {
        flips: Vec<(prop::sample::Index, u8)>,
        head: bool,
    },
    /// Remove a range.
    Remove(prop::sample::Index, prop::sample::Index),
    /// Insert bytes.
    Insert(prop::sample::Index, Vec<u8>),
}

impl Damage {
    fn apply(&self, bytes: &mut Vec<u8>) {
        match self {
            Self::Cut(at) => bytes.truncate(at.index(bytes.len())),
            Self::Flip { flips, head } => {
                let span = if *head { bytes.len().min(4096) } else { bytes.len() };
                for (at, mask) in flips {
                    let at = at.index(span);
                    bytes[at] ^= mask | 1;
                }
            }
            Self::Remove(from, length) => {
                let from = from.index(bytes.len());
                let to = from + length.index((bytes.len() - from).min(64) + 1);
                bytes.drain(from..to);
            }
            Self::Insert(at, inserted) => {
                let at = at.index(bytes.len() + 1);
                bytes.splice(at..at, inserted.iter().copied());
            }
        }
    }
}

fn damage() -> impl Strategy<Value = Vec<Damage>> {
    let one = prop_oneof![
        any::<prop::sample::Index>().prop_map(Damage::Cut),
        (
            prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            any::<bool>()
        )
            .prop_map(|(flips, head)| Damage::Flip { flips, head }),
        (any::<prop::sample::Index>(), any::<prop::sample::Index>()).prop_map(|(a, b)| Damage::Remove(a, b)),
        (any::<prop::sample::Index>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Damage::Insert(at, bytes)),
    ];
    prop::collection::vec(one, 1..4)
}

/// Pushes `bytes` to a scanner in pieces of 1 byte to 64 KiB chosen by `seed`, then finishes.
fn scan(bytes: &[u8], seed: u64) -> Result<(), ArchiveError> {
    scan_in_pieces_up_to(bytes, seed, RowCounting::All, [1, 16, 4096, 64 * 1024]).map(|_| ())
}

/// Decompresses a damaged stored object the way `restore` does (streaming, stopping at the first error), returning
/// what came out before the error.
fn decompress(name: &str, stored: &[u8]) -> Vec<u8> {
    match name {
        "zstd" => {
            let mut decoder = zstd::stream::write::Decoder::new(Vec::new()).expect("zstd decoder");
            for piece in stored.chunks(4096) {
                if decoder.write_all(piece).and_then(|()| decoder.flush()).is_err() {
                    break;
                }
            }
            decoder.into_inner()
        }
        "gzip" => {
            let mut decoder = flate2::write::MultiGzDecoder::new(Vec::new());
            for piece in stored.chunks(4096) {
                if decoder.write_all(piece).is_err() {
                    break;
                }
            }
            let _ = decoder.try_finish();
            std::mem::take(decoder.get_mut())
        }
        _ => stored.to_vec(),
    }
}

/// Every error must say what is wrong, in a sentence.
fn check_error(result: Result<(), ArchiveError>) -> Result<(), TestCaseError> {
    if let Err(error) = result {
        let message = error.to_string();
        prop_assert!(message.len() > 20, "a terse error: {:?}", message);
    }
    Ok(())
}

#[test]
fn fuzz_archive_scanner_damaged_archives() {
    for sample in samples() {
        scan(&sample.archive, 1).unwrap_or_else(|error| panic!("{}: the undamaged archive: {error}", sample.name));
        let result = runner().run(&(damage(), any::<u64>()), |(damage, seed)| {
            let mut bytes = sample.archive.clone();
            for step in &damage {
                step.apply(&mut bytes);
            }
            check_error(scan(&bytes, seed))
        });
        if let Err(failure) = result {
            panic!("{}: {failure}", sample.name);
        }
    }
}

#[test]
fn fuzz_archive_scanner_truncations() {
    for sample in samples() {
        let archive = &sample.archive;
        let result = runner().run(&(0..archive.len(), any::<u64>()), |(cut, seed)| {
            match scan(&archive[..cut], seed) {
                Err(ArchiveError::Truncated { offset, .. }) => prop_assert_eq!(offset, cut as u64),
                other => prop_assert!(false, "cut at {} of {}: {:?}", cut, archive.len(), other),
            }
            Ok(())
        });
        if let Err(failure) = result {
            panic!("{}: {failure}", sample.name);
        }
    }
}

#[test]
fn fuzz_archive_scanner_damaged_stored_objects() {
    for sample in samples() {
        let result = runner().run(&(damage(), any::<u64>()), |(damage, seed)| {
            let mut stored = sample.stored.clone();
            for step in &damage {
                step.apply(&mut stored);
            }
            check_error(scan(&decompress(sample.name, &stored), seed))
        });
        if let Err(failure) = result {
            panic!("{}: {failure}", sample.name);
        }
    }
}

/// Object names reach the local store from manifests, listings, `restore NAME` and `backup unlock NAME`: whatever
/// the name, the store reads and writes only below its root (no `..`, absolute path or NUL gets out), and never
/// panics.
#[test]
fn fuzz_blob_names_local_store() {
    use campctl::storage::LocalStore;

    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("store");
    std::fs::create_dir_all(root.join("db")).expect("create the store");
    std::fs::write(root.join("db/ok.dump"), b"inside").expect("write inside");
    std::fs::write(dir.path().join("secret"), b"SECRET").expect("write outside");
    let store = LocalStore::new(root.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let piece = prop_oneof![
        prop::sample::select(vec![
            "..",
            ".",
            "",
            "db",
            "ok.dump",
            "secret",
            "store",
            "/",
            "//",
            "\\",
            "%2e%2e",
            "\0",
            "x.partial",
            "~",
        ])
        .prop_map(str::to_owned),
        any::<char>().prop_map(String::from),
    ];
    let names = prop::collection::vec(piece, 0..6).prop_map(|pieces| pieces.join("/"));
    let result = runner().run(&(names, any::<bool>()), |(name, leading_slash)| {
        let name = if leading_slash { format!("/{name}") } else { name };
        if let Ok(bytes) = runtime.block_on(store.get(&name)) {
            prop_assert_ne!(&bytes[..], b"SECRET", "{:?} read outside the store", name);
        }
        let _ = runtime.block_on(store.list(&name));
        let _ = runtime.block_on(store.put(&name, bytes::Bytes::from_static(b"written"), false));
        let outside: Vec<String> = std::fs::read_dir(dir.path())
            .expect("read the parent")
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|entry| entry != "store" && entry != "secret")
            .collect();
        prop_assert!(outside.is_empty(), "{:?} wrote outside the store: {:?}", name, outside);
        prop_assert_eq!(std::fs::read(dir.path().join("secret")).ok(), Some(b"SECRET".to_vec()));
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

/// Item 13: `[storage.local] path = ""` wrote backups into the current directory, where `backup list` and `restore`
/// run from anywhere else never found them. An empty or relative path is refused before anything runs.
#[test]
fn item_13_empty_or_relative_local_path_is_refused() {
    let ctx = TestContext::new();
    for path in ["", "backups", "./backups"] {
        ctx.write_file(
            "campctl.toml",
            format!("[database]\nurl = \"postgres://127.0.0.1:1/x\"\n\n[storage.local]\npath = \"{path}\"\n"),
        );
        for args in [
            &["backup", "list"][..],
            &["backup", "mydb"],
            &["restore", "--to", "x", "--yes"],
        ] {
            let output = ctx.cmd().args(args).output().expect("run campctl");
            assert_exit(&output, 2);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                stderr.contains("Invalid `[storage.local] path` in `") && stderr.contains("campctl.toml` line 5:"),
                "{args:?} with {path:?}: the file and line are named: {stderr}"
            );
            assert!(stderr.contains("hint: Give an absolute directory"), "{stderr}");
        }
        let leftovers: Vec<_> = std::fs::read_dir(ctx.home())
            .expect("read HOME")
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name != "campctl.toml" && name != ".config" && name != ".cache")
            .collect();
        assert!(leftovers.is_empty(), "nothing is written: {leftovers:?}");
    }
}

/// Walks the zstd frames of `bytes` (RFC 8878 §3.1.1) and returns, for each frame, whether its header sets the
/// `Content_Checksum_flag`; panics unless the frames cover the stream exactly.
fn zstd_frame_checksums(bytes: &[u8]) -> Vec<bool> {
    let mut frames = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        assert_eq!(
            &bytes[at..at + 4],
            &[0x28, 0xB5, 0x2F, 0xFD],
            "a zstd frame at byte {at}"
        );
        let descriptor = bytes[at + 4];
        let single_segment = descriptor & 0x20 != 0;
        let checksum = descriptor & 0x04 != 0;
        let dictionary = [0, 1, 2, 4][usize::from(descriptor & 0x03)];
        let content_size = match descriptor >> 6 {
            0 => usize::from(single_segment),
            1 => 2,
            2 => 4,
            _ => 8,
        };
        at += 5 + usize::from(!single_segment) + dictionary + content_size;
        loop {
            let header = u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], 0]);
            let last = header & 1 != 0;
            let kind = (header >> 1) & 3;
            let size = (header >> 3) as usize;
            at += 3 + if kind == 1 { 1 } else { size };
            if last {
                break;
            }
        }
        if checksum {
            at += 4;
        }
        frames.push(checksum);
    }
    assert_eq!(at, bytes.len(), "the frames end with the stream");
    frames
}

/// Item 18: campctl's `.zst` files had no content checksum (`zstd -lv`: `Check: None`), so an archive separated
/// from its manifest carried no integrity check. Every frame of a written backup now has one.
#[test]
fn item_18_zstd_backups_carry_a_content_checksum() {
    let env = BackupEnv::local();
    env.db.execute(SEED);
    for compression in ["zstd", "zstd:9"] {
        // Two backups of one database in the same second would share a name (item 4, another fix).
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let report = env.backup(&["--compression", compression]);
        let object = report["object"].as_str().expect("the report names the object");
        assert!(object.ends_with(".dump.zst"), "{report}");
        let bytes = std::fs::read(env.local.join(object)).expect("read the stored archive");
        let frames = zstd_frame_checksums(&bytes);
        assert!(!frames.is_empty());
        assert!(frames.iter().all(|&checksum| checksum), "{compression}: {frames:?}");
        // The checksum is checked on reading: a flipped byte in the payload is caught by zstd itself.
        let mut damaged = bytes.clone();
        let middle = damaged.len() / 2;
        damaged[middle] ^= 0x40;
        assert!(
            zstd::decode_all(&damaged[..]).is_err(),
            "{compression}: damage goes unnoticed"
        );
    }
}

/// Item 19: `--pg-dump /bin/false` was reported as "version 9.1" (read from `false (GNU coreutils) 9.1`). A program
/// that fails `--version` or does not print a PostgreSQL version is named, with the fix, before any work (exit 2).
#[test]
fn item_19_pg_dump_that_is_not_pg_dump_is_named() {
    let env = BackupEnv::local();
    let script = crate::backup::stand_in_pg_dump(&env.ctx, "silent", "exit 0");
    for (program, says) in [
        ("/bin/false", "exited with status 1"),
        ("/bin/true", "printed `true (GNU coreutils)"),
        (script.to_str().expect("UTF-8 path"), "printed nothing"),
    ] {
        let output = env.run(&["backup", "--pg-dump", program]);
        assert_exit(&output, 2);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("`{program}` is not PostgreSQL's pg_dump")),
            "{program}: {stderr}"
        );
        assert!(stderr.contains(says), "{program}: {stderr}");
        assert!(!stderr.contains("is version"), "{program}: {stderr}");
        assert!(stderr.contains("hint: ") && stderr.contains("--pg-dump"), "{stderr}");
        assert!(env.local_backup_files().is_empty(), "nothing is written");
    }
}

/// Item 19: `backup snapshot --container BAD_NAME` printed the service's raw XML and exited 1. The name is checked
/// against Azure's naming rules first (exit 2, no request sent).
#[test]
fn item_19_snapshot_of_an_invalid_container_name_is_a_usage_error() {
    let env = BackupEnv::with_azure();
    for name in ["BAD_NAME", "ab", "a--b", "-ab", &"a".repeat(64)] {
        let output = env.run(&["backup", "snapshot", &format!("--container={name}")]);
        assert_exit(&output, 2);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("Invalid `--container`: `{name}` is not a container name")),
            "{name}: {stderr}"
        );
        assert!(!stderr.contains('<'), "no XML: {stderr}");
    }
    // A valid name of a container that does not exist: the service's answer, named, without its XML.
    let output = env.run(&["backup", "snapshot", "--container", "no-such-container"]);
    assert_exit(&output, 10);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no-such-container") && !stderr.contains('<'),
        "{stderr}"
    );
    // A valid name still works.
    let container = env.container.clone().expect("an Azure store");
    let output = env.run(&["backup", "snapshot", "--container", &container]);
    assert_exit(&output, 0);
}
