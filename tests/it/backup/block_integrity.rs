//! Issue 15 item 1: the check of each staged Azure block (`[storage.azure] block_checksum`).
//!
//! [`BlockProxy`] sits between campctl and Azurite, in the style of [`super::outages::CuttingProxy`]: it reads each
//! HTTP request, records the body and the check headers of every `Put Block` (`comp=block`), and can flip one byte
//! of the body of the Nth one. A flipped block must be refused by the service and nothing committed; the recorded
//! headers must equal what Microsoft's own code (azure-storage-extensions' CRC-64, Python's MD5) computes over the
//! bytes the service received.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

use sha2::{Digest as _, Sha256};

use super::BackupEnv;
use crate::common::{TestContext, TestDb, assert_exit, azurite, python, unique_container};

/// One `Put Block` as it went to the service.
#[derive(Debug, Clone)]
struct PutBlock {
    crc64: Option<String>,
    md5: Option<String>,
    body: Vec<u8>,
}

#[derive(Default)]
struct ProxyState {
    blocks: Vec<PutBlock>,
    /// Flip a byte of the `Put Block` with this index in `blocks`.
    flip_at: Option<usize>,
    flipped: usize,
}

/// A TCP proxy to Azurite that parses HTTP/1.1 requests (Content-Length bodies) and records or corrupts `Put Block`s.
struct BlockProxy {
    port: u16,
    state: Arc<Mutex<ProxyState>>,
}

impl BlockProxy {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let state: Arc<Mutex<ProxyState>> = Arc::default();
        let shared = state.clone();
        std::thread::spawn(move || {
            for inbound in listener.incoming().flatten() {
                let Ok(outbound) = TcpStream::connect(("127.0.0.1", azurite().port())) else {
                    continue;
                };
                let (up_in, up_out) = (
                    inbound.try_clone().expect("clone"),
                    outbound.try_clone().expect("clone"),
                );
                let state = shared.clone();
                std::thread::spawn(move || forward_requests(up_in, up_out, &state));
                std::thread::spawn(move || copy(outbound, inbound));
            }
        });
        Self { port, state }
    }

    /// Flips a byte of the `nth` (1-based) `Put Block` from now on.
    fn flip_nth(&self, nth: usize) {
        let mut state = self.state.lock().expect("lock");
        state.flip_at = Some(state.blocks.len() + nth - 1);
    }

    fn stop_flipping(&self) {
        self.state.lock().expect("lock").flip_at = None;
    }

    fn flipped(&self) -> usize {
        self.state.lock().expect("lock").flipped
    }

    fn take_blocks(&self) -> Vec<PutBlock> {
        std::mem::take(&mut self.state.lock().expect("lock").blocks)
    }

    fn connection_string(&self) -> String {
        azurite().connection_string().replace(
            &format!("127.0.0.1:{}", azurite().port()),
            &format!("127.0.0.1:{}", self.port),
        )
    }
}

/// Forwards requests one by one; a `Put Block` body is recorded and maybe corrupted before it goes on.
fn forward_requests(from: TcpStream, mut to: TcpStream, state: &Mutex<ProxyState>) {
    let mut reader = BufReader::new(from);
    loop {
        let mut head = Vec::new();
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => {
                    let _ = to.shutdown(Shutdown::Write);
                    return;
                }
                Ok(_) => {}
            }
            head.extend_from_slice(&line);
            if line == b"\r\n" {
                break;
            }
        }
        let text = String::from_utf8_lossy(&head).into_owned();
        let header = |name: &str| {
            text.lines().skip(1).find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_string())
            })
        };
        if header("transfer-encoding").is_some() {
            // Not a request this proxy understands: pass the rest of the connection through untouched.
            if to.write_all(&head).is_ok() {
                copy_from(reader, to);
            }
            return;
        }
        let length: usize = header("content-length").map_or(0, |value| value.parse().expect("Content-Length"));
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            let _ = to.shutdown(Shutdown::Write);
            return;
        }
        let target = text.split_whitespace().nth(1).unwrap_or_default();
        let put_block = text.starts_with("PUT ")
            && target
                .split_once('?')
                .is_some_and(|(_, query)| query.split('&').any(|pair| pair == "comp=block"));
        if put_block {
            let mut state = state.lock().expect("lock");
            if state.flip_at == Some(state.blocks.len()) && !body.is_empty() {
                let middle = body.len() / 2;
                body[middle] ^= 0x01;
                state.flipped += 1;
            }
            state.blocks.push(PutBlock {
                crc64: header("x-ms-content-crc64"),
                md5: header("content-md5"),
                body: body.clone(),
            });
        }
        if to.write_all(&head).and_then(|()| to.write_all(&body)).is_err() {
            return;
        }
    }
}

fn copy_from(mut from: impl std::io::Read, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}

fn copy(from: TcpStream, to: TcpStream) {
    copy_from(from, to);
}

/// About 3 MB of incompressible rows: with 1 MiB blocks, several `Put Block`s.
fn seed(db: &TestDb) {
    db.execute(
        "CREATE TABLE t AS SELECT g, decode(md5(g::text) || md5((g + 1)::text), 'hex') AS b \
         FROM generate_series(1, 60000) g",
    );
}

/// A sandbox with a seeded database, an empty Azurite container and the proxy in front of Azurite.
struct Setup {
    ctx: TestContext,
    db: TestDb,
    container: String,
    proxy: BlockProxy,
}

impl Setup {
    fn new() -> Self {
        let ctx = TestContext::new();
        let db = ctx.db();
        seed(&db);
        let container = unique_container();
        azurite().create_container(&container);
        Self {
            ctx,
            db,
            container,
            proxy: BlockProxy::start(),
        }
    }

    /// `campctl.toml`: a local store and Azurite behind the proxy with 1 MiB blocks, and `extra` in
    /// `[storage.azure]`; returns the local store's directory.
    fn configure(&self, extra: &str) -> std::path::PathBuf {
        let local = self.ctx.home().join("backups");
        self.ctx.write_file(
            "campctl.toml",
            format!(
                "[database]\nurl = \"{}\"\n[storage.local]\npath = \"{}\"\n[storage.azure]\nconnection_string = \
                 \"{}\"\ncontainer = \"{}\"\nblock_size = \"1MiB\"\nconcurrency = 2\n{extra}",
                self.db.url(),
                local.display(),
                self.proxy.connection_string(),
                self.container,
            ),
        );
        local
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn committed(container: &str) -> Vec<String> {
    azurite()
        .list_blobs(container)
        .into_iter()
        .filter(|blob| !blob.starts_with("locks/"))
        .collect()
}

fn backup(ctx: &TestContext, args: &[&str]) -> Output {
    ctx.cmd()
        .args(["--format", "json", "backup", "--compression", "none"])
        .args(args)
        .output()
        .expect("run campctl")
}

#[test]
fn a_block_corrupted_in_transit_is_rejected_and_nothing_is_committed() {
    let setup = Setup::new();
    let (ctx, container, proxy) = (&setup.ctx, setup.container.as_str(), &setup.proxy);
    // The default check: `auto`, which is MD5 against the emulator (Azurite verifies no CRC-64).
    let local = setup.configure("");

    // Azure alone: the run fails, naming the store and the corruption, with a hint.
    proxy.flip_nth(2);
    let output = backup(ctx, &["--store", "azure"]);
    assert_eq!(proxy.flipped(), 1, "the proxy flipped a byte of the second block");
    assert_exit(&output, 1);
    let text = stderr(&output);
    assert!(
        text.contains("azure") && text.contains("the block was corrupted in transit") && text.contains("hint:"),
        "{text}"
    );
    assert_eq!(committed(container), Vec::<String>::new(), "nothing committed in Azure");
    let blocks = proxy.take_blocks();
    assert!(
        blocks.iter().all(|block| block.md5.is_some() && block.crc64.is_none()),
        "auto against Azurite is one MD5 per block: {:?}",
        blocks.iter().map(|b| (&b.md5, &b.crc64)).collect::<Vec<_>>()
    );

    // Both stores: the local copy is committed, Azure is dropped (exit 3), still nothing in the container.
    proxy.flip_nth(1);
    let output = backup(ctx, &[]);
    assert_eq!(proxy.flipped(), 2);
    assert_exit(&output, 3);
    let text = stderr(&output);
    assert!(text.contains("the block was corrupted in transit"), "{text}");
    assert_eq!(committed(container), Vec::<String>::new(), "nothing committed in Azure");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    let name = report["name"].as_str().expect("name");
    let mut files = Vec::new();
    super::collect(&local, &local, &mut files);
    assert!(
        files.iter().any(|file| file.ends_with(&format!("{name}.dump"))),
        "the local copy is committed: {files:?}"
    );

    // The same path without the flip: the backup goes through.
    proxy.stop_flipping();
    let output = backup(ctx, &["--store", "azure"]);
    assert_exit(&output, 0);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    let object = report["object"].as_str().expect("object").to_string();
    assert!(
        committed(container).contains(&object),
        "{object} in {:?}",
        committed(container)
    );
    assert_eq!(proxy.flipped(), 2);
}

#[test]
fn without_a_block_check_a_corrupted_block_is_committed() {
    // What the check prevents: with `none`, the service takes the flipped block and the blob differs from what was
    // sent (the whole-blob Content-MD5 of the commit is stored, not verified).
    let setup = Setup::new();
    let (ctx, container, proxy) = (&setup.ctx, setup.container.as_str(), &setup.proxy);
    setup.configure("block_checksum = \"none\"\n");
    proxy.flip_nth(2);
    let output = backup(ctx, &["--store", "azure"]);
    assert_exit(&output, 0);
    assert_eq!(proxy.flipped(), 1);
    let blocks = proxy.take_blocks();
    assert!(blocks.iter().all(|block| block.md5.is_none() && block.crc64.is_none()));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    let object = report["object"].as_str().expect("object");
    let stored = azurite().get_blob(container, object);
    assert_ne!(
        hex::encode(Sha256::digest(&stored)),
        report["sha256"].as_str().expect("sha256"),
        "the corrupted block was committed"
    );
}

/// The recorded `Put Block`s of a backup, written to `dir` as `NNNN.body`, with the checks Microsoft's code computes
/// over them (tests/interop_block_checks.py).
fn microsoft_checks(dir: &Path, blocks: &[PutBlock]) -> serde_json::Value {
    python::require("azure/storage/extensions/checksums");
    for (index, block) in blocks.iter().enumerate() {
        std::fs::write(dir.join(format!("{index:04}.body")), &block.body).expect("write a block");
    }
    python::run_json("interop_block_checks.py", [dir])
}

#[test]
fn block_checks_equal_microsofts_crc64_and_md5_of_the_bytes_sent() {
    let setup = Setup::new();
    let (ctx, proxy) = (&setup.ctx, &setup.proxy);
    let scratch = tempfile::tempdir().expect("tempdir");

    for check in ["crc64", "md5"] {
        setup.configure(&format!("block_checksum = \"{check}\"\n"));
        let output = backup(ctx, &["--store", "azure"]);
        assert_exit(&output, 0);
        let blocks = proxy.take_blocks();
        assert!(blocks.len() >= 3, "{check}: several blocks ({})", blocks.len());
        let dir = scratch.path().join(check);
        std::fs::create_dir(&dir).expect("mkdir");
        let expected = microsoft_checks(&dir, &blocks);
        for (index, block) in blocks.iter().enumerate() {
            let want = &expected[format!("{index:04}.body")];
            assert_eq!(want["size"], block.body.len(), "{check} block {index}");
            let (sent, other) = match check {
                "crc64" => (&block.crc64, &block.md5),
                _ => (&block.md5, &block.crc64),
            };
            assert_eq!(
                sent.as_deref(),
                want[check].as_str(),
                "{check} of block {index} as Microsoft computes it"
            );
            assert_eq!(other, &None, "never both checks on block {index}");
        }
    }
}

#[test]
fn an_unknown_block_checksum_is_a_usage_error() {
    let env = BackupEnv::local();
    env.seed_small_table();
    env.ctx.write_file(
        "campctl.toml",
        super::store_config(&env.db.url(), &env.local, Some("unused"), "")
            .replace("prefix = \"pg/\"\n", "prefix = \"pg/\"\nblock_checksum = \"sha1\"\n"),
    );
    let output = env.run(&["backup"]);
    assert_exit(&output, 2);
    let text = stderr(&output);
    assert!(
        text.contains("`[storage.azure] block_checksum`") && text.contains("auto, crc64, md5, none"),
        "{text}"
    );
}
