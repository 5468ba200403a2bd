//! A store that fails mid-backup: a local disk that fills up (the only store: nothing is committed). Azure going away
//! mid-upload while the local store works is `hardening::backup::item_05_*`: the local copy is still committed, exit 3.
//! [`CuttingProxy`] cuts the connection to Azurite after a number of bytes.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::BackupEnv;
use crate::common::{Tmpfs, assert_exit, azurite};

/// A TCP proxy to Azurite that drops every connection once `cut_after` bytes went upstream.
pub(crate) struct CuttingProxy {
    port: u16,
    pub(crate) cut: Arc<AtomicBool>,
}

impl CuttingProxy {
    pub(crate) fn start(cut_after: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let cut = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let sockets: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (cut_flag, sockets_all) = (cut.clone(), sockets.clone());
        std::thread::spawn(move || {
            for inbound in listener.incoming().flatten() {
                if cut_flag.load(Ordering::SeqCst) {
                    let _ = inbound.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(outbound) = TcpStream::connect(("127.0.0.1", azurite().port())) else {
                    continue;
                };
                sockets_all.lock().expect("lock").extend([
                    inbound.try_clone().expect("clone"),
                    outbound.try_clone().expect("clone"),
                ]);
                let (up_in, up_out) = (
                    inbound.try_clone().expect("clone"),
                    outbound.try_clone().expect("clone"),
                );
                let (sent, cut, sockets) = (sent.clone(), cut_flag.clone(), sockets_all.clone());
                std::thread::spawn(move || pipe(up_in, up_out, Some(&(sent, cut_after, cut, sockets))));
                std::thread::spawn(move || pipe(outbound, inbound, None));
            }
        });
        Self { port, cut }
    }

    pub(crate) fn connection_string(&self) -> String {
        azurite().connection_string().replace(
            &format!("127.0.0.1:{}", azurite().port()),
            &format!("127.0.0.1:{}", self.port),
        )
    }
}

type CutState = (Arc<AtomicU64>, u64, Arc<AtomicBool>, Arc<Mutex<Vec<TcpStream>>>);

fn pipe(mut from: TcpStream, mut to: TcpStream, counter: Option<&CutState>) {
    let mut buffer = vec![0u8; 64 * 1024];
    while let Ok(n) = from.read(&mut buffer) {
        if n == 0 || to.write_all(&buffer[..n]).is_err() {
            break;
        }
        if let Some((sent, limit, cut, sockets)) = counter
            && sent.fetch_add(n as u64, Ordering::SeqCst) + n as u64 > *limit
        {
            cut.store(true, Ordering::SeqCst);
            for socket in sockets.lock().expect("lock").iter() {
                let _ = socket.shutdown(Shutdown::Both);
            }
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

#[test]
fn a_full_local_disk_commits_nothing() {
    let env = BackupEnv::local();
    env.db
        .execute("CREATE TABLE t AS SELECT g, decode(md5(g::text), 'hex') AS b FROM generate_series(1, 200000) g");
    let mount = Tmpfs::mount("2m");
    let store = mount.path().join("store");
    env.ctx.write_file(
        "campctl.toml",
        format!(
            "[database]\nurl = \"{}\"\n[storage.local]\npath = \"{}\"\n",
            env.db.url(),
            store.display()
        ),
    );
    let output = env.run(&["backup", "--compression", "none"]);
    let mut left = Vec::new();
    super::collect(&store, &store, &mut left);
    drop(mount);
    assert_exit(&output, 1);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("out of space"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        left.iter().all(|f| f.starts_with("locks/")),
        "nothing committed, no partial left: {left:?}"
    );
}
