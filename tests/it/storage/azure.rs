//! Cases of the Azure store only, against Azurite.

use std::time::{Duration, Instant};

use bytes::Bytes;
use campctl::azure::sas::AccountSas;
use campctl::diagnostics::status_of;
use campctl::exit::ExitStatus;
use campctl::storage::AzureKeys;
use campctl::storage::{Store, StoreError};
use campctl::units::{ByteSize, HumanDuration};
use futures::TryStreamExt as _;
use sha2::{Digest as _, Sha256};
use tokio::net::TcpListener;

use super::fixture::{Fixture, PREFIX, azure_config, azure_store, blob, data, info, store_error};
use crate::common::{azurite, unique_container};

fn sas(permissions: &str) -> String {
    AccountSas {
        account: azurite().account(),
        permissions,
        resource_types: "sco",
        start: None,
        expiry: chrono::Utc::now() + chrono::Duration::hours(1),
    }
    .sign(azurite().key())
    .expect("sign a SAS")
}

fn sas_config(container: &str, token: String) -> AzureKeys {
    AzureKeys {
        connection_string: None,
        account_url: Some(azurite().endpoint()),
        sas_token: Some(token),
        ..azure_config(container, String::new())
    }
}

#[tokio::test]
async fn wrong_account_key_is_auth_exit_12() {
    let container = unique_container();
    let bad_key = "AAAA".repeat(22);
    let connection = azurite().connection_string().replace(azurite().key(), &bad_key);
    let store = azure_store(&azure_config(&container, connection));
    let err = store
        .put_new("x", Bytes::from_static(b"x"), info("x"))
        .await
        .expect_err("a wrong key");
    let StoreError::Auth { credential, hint, .. } = store_error(&err) else {
        panic!("not Auth: {err:#}");
    };
    assert!(credential.contains("account key of `devstoreaccount1`"), "{credential}");
    assert!(hint.contains("403"), "{hint}");
    assert_eq!(status_of(&err), ExitStatus::Auth);
    let rendered = campctl::diagnostics::render(&err, false);
    assert!(!rendered.contains(&bad_key) && !rendered.contains("sig="), "{rendered}");
}

#[tokio::test]
async fn sas_token_credential_works() {
    let container = unique_container();
    let store = azure_store(&sas_config(&container, format!("?{}", sas("rwdlac"))));
    assert!(
        store
            .label()
            .starts_with(&format!("azure:{}/{container}/pre/fix", azurite().endpoint())),
        "{}",
        store.label()
    );
    assert!(!store.label().contains("sig"), "{}", store.label());
    store
        .put_new("a/b.json", Bytes::from_static(b"{\"ok\":true}"), info("s"))
        .await
        .expect("put with a SAS");
    assert_eq!(
        azurite().get_blob(&container, &format!("{PREFIX}a/b.json")),
        b"{\"ok\":true}"
    );
    assert_eq!(store.list("a/").await.expect("list").len(), 1);
}

#[tokio::test]
async fn sas_without_write_permission_is_auth() {
    let container = unique_container();
    azurite().create_container(&container);
    let store = azure_store(&sas_config(&container, sas("rl")));
    let err = store
        .put_new("a.json", Bytes::from_static(b"{}"), info("s"))
        .await
        .expect_err("a read-only SAS");
    let StoreError::Auth { credential, .. } = store_error(&err) else {
        panic!("not Auth: {err:#}");
    };
    assert!(credential.contains("SAS token"), "{credential}");
    assert_eq!(status_of(&err), ExitStatus::Auth);
    // Reading is allowed.
    assert!(store.list("").await.expect("list with a read SAS").is_empty());
}

/// A TCP proxy to Azurite that can be cut: Azurite "dies" mid-upload for this store only.
struct Proxy {
    port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    break;
                };
                connections.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(("127.0.0.1", azurite().port())).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Self { port, task }
    }

    /// Closes the listener and every connection (dropping the task drops the JoinSet, which aborts them).
    async fn cut(self) {
        self.task.abort();
        let _ = self.task.await;
    }

    fn connection_string(&self) -> String {
        azurite().connection_string().replace(
            &format!("127.0.0.1:{}", azurite().port()),
            &format!("127.0.0.1:{}", self.port),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_gone_mid_upload_fails_fast_and_commits_nothing() {
    let container = unique_container();
    let proxy = Proxy::start().await;
    let mut config = azure_config(&container, proxy.connection_string());
    config.timeout = Some(HumanDuration(Duration::from_secs(2)));
    let store = azure_store(&config);
    let mut upload = store
        .begin_upload("app/cut.dump", None)
        .await
        .expect("begin through the proxy");
    upload.write(Bytes::from(data(3 << 20, 7))).await.expect("first blocks");
    proxy.cut().await;
    let start = Instant::now();
    let mut result = Ok(());
    for seed in 0..4 {
        result = upload.write(Bytes::from(data(1 << 20, seed))).await;
        if result.is_err() {
            break;
        }
    }
    let err = match result {
        Err(err) => {
            upload.abort().await;
            err
        }
        Ok(()) => upload.commit(info("x")).await.expect_err("commit without a service"),
    };
    let text = format!("{err:#}");
    assert!(
        !text.replace("sig=REDACTED", "").contains("sig="),
        "a signature in the error: {text}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "took {:?}: {err:#}",
        start.elapsed()
    );
    assert_ne!(status_of(&err), ExitStatus::Auth, "{err:#}");
    assert!(azurite().list_blobs(&container).is_empty(), "nothing is committed");
}

#[tokio::test]
async fn a_service_that_never_answers_times_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    // Accept and hold every connection without answering.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let connection = azurite()
        .connection_string()
        .replace(&format!("127.0.0.1:{}", azurite().port()), &format!("127.0.0.1:{port}"));
    let mut config = azure_config("silent", connection);
    config.timeout = Some(HumanDuration(Duration::from_secs(1)));
    let store = azure_store(&config);
    let start = Instant::now();
    let err = store.list("").await.expect_err("no answer");
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(10),
        "{elapsed:?}: {err:#}"
    );
    assert!(format!("{err:#}").contains("no response"), "{err:#}");
}

#[tokio::test]
async fn block_list_has_equal_ids_and_metadata_round_trips() {
    let fixture = Fixture::azure();
    let container = fixture.container.clone().expect("azure");
    let bytes = data((5 << 20) + 123, 9);
    let mut upload = fixture.store.begin_upload("db/x.dump", None).await.expect("begin");
    for chunk in bytes.chunks(300_000) {
        upload.write(Bytes::copy_from_slice(chunk)).await.expect("write");
    }
    let mut commit = info("deadbeef");
    commit.metadata.insert("campctl_rows".into(), "42".into());
    upload.commit(commit).await.expect("commit");
    let response = azurite()
        .request(
            "GET",
            &format!("{container}/{}", blob("db/x.dump")),
            &[("comp", "blocklist"), ("blocklisttype", "all")],
            &[],
            &[],
        )
        .expect_status(200, "get the block list");
    let text = response.text();
    let ids: Vec<&str> = text
        .split("<Name>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</Name>").map(|(id, _)| id))
        .collect();
    assert_eq!(ids.len(), 6, "5 full blocks of 1 MiB and a short one: {text}");
    assert!(ids.iter().all(|id| id.len() == ids[0].len()), "{ids:?}");
    assert!(!text.contains("<UncommittedBlocks><Block>"), "{text}");
    let listed = fixture.store.list("db/").await.expect("list");
    assert_eq!(listed[0].metadata.get("campctl_rows").map(String::as_str), Some("42"));
    assert_eq!(
        listed[0].metadata.get("campctl_sha256").map(String::as_str),
        Some("deadbeef")
    );
}

#[tokio::test]
async fn snapshot_blobs_snapshots_every_blob_under_the_prefix_and_delete_takes_them_along() {
    let fixture = Fixture::azure();
    let container = fixture.container.clone().expect("azure");
    let Store::Azure(azure) = &fixture.store else {
        panic!("an Azure store")
    };
    for name in ["snap/a", "snap/b/c", "snap/d", "elsewhere"] {
        fixture
            .store
            .put_new(name, Bytes::from(name.as_bytes().to_vec()), info(name))
            .await
            .expect("seed");
    }
    let report = azure
        .snapshot_blobs(None, &format!("{PREFIX}snap/"), 2)
        .await
        .expect("snapshot");
    assert_eq!((report.total, report.snapshotted), (3, 3), "{report:?}");
    assert!(report.failed.is_empty());
    assert_eq!(report.container, container);
    let response = azurite()
        .request(
            "GET",
            &container,
            &[("comp", "list"), ("restype", "container"), ("include", "snapshots")],
            &[],
            &[],
        )
        .expect_status(200, "list with snapshots");
    assert_eq!(response.text().matches("<Snapshot>").count(), 3, "{}", response.text());
    // Listings of the store never show snapshots, and a blob with snapshots can be deleted.
    assert_eq!(fixture.store.list("snap/").await.expect("list").len(), 3);
    fixture
        .store
        .delete("snap/a")
        .await
        .expect("delete a blob with a snapshot");
    assert_eq!(fixture.store.list("snap/").await.expect("list").len(), 2);
    // Another container of the account.
    let other = unique_container();
    azurite().create_container(&other);
    azurite().put_blob(&other, "x/1", b"1");
    let report = azure
        .snapshot_blobs(Some(&other), "", 4)
        .await
        .expect("snapshot another container");
    assert_eq!((report.total, report.snapshotted), (1, 1), "{report:?}");
}

/// 64 MiB with 1 MiB blocks and 2 in flight: the write path holds at most (2 + 1) blocks; here we check that such a
/// small window still moves the data correctly (RSS is measured by the benchmark, not here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_upload_with_a_small_window_round_trips() {
    let container = unique_container();
    let mut config = azure_config(&container, azurite().connection_string());
    config.block_size = Some(ByteSize(1 << 20));
    config.concurrency = Some(2);
    let store = azure_store(&config);
    let chunk = Bytes::from(data(256 << 10, 11));
    let mut upload = store.begin_upload("big/64m.dump", Some(64 << 20)).await.expect("begin");
    let mut expected = Sha256::new();
    for _ in 0..256 {
        expected.update(&chunk);
        upload.write(chunk.clone()).await.expect("write");
    }
    let object = upload.commit(info("big")).await.expect("commit");
    assert_eq!(object.size, 64 << 20);
    let mut actual = Sha256::new();
    let mut stream = store.download("big/64m.dump").await.expect("download");
    while let Some(bytes) = stream.try_next().await.expect("stream") {
        actual.update(&bytes);
    }
    assert_eq!(actual.finalize(), expected.finalize());
}

#[tokio::test]
async fn missing_blob_is_not_found_exit_10() {
    let fixture = Fixture::azure();
    let err = fixture.store.get("nope").await.expect_err("missing");
    assert!(matches!(store_error(&err), StoreError::NotFound { .. }), "{err:#}");
    assert_eq!(status_of(&err), ExitStatus::NotFound);
    assert!(
        fixture
            .store
            .list("")
            .await
            .expect("list of a container not yet created")
            .is_empty()
    );
}

/// An Entra ID credential that cannot get a token is an authentication failure naming it (exit 12). No test
/// reaches Entra ID: the Azure CLI is not installed here, and the managed identity endpoint does not answer.
#[tokio::test]
async fn credential_without_a_token_is_auth_naming_it() {
    for (credential, named) in [("cli", "Azure CLI"), ("auto", "credential chain")] {
        let config = AzureKeys {
            container: Some("backups".into()),
            account_url: Some("https://127.0.0.1:9/devstoreaccount1".into()),
            credential: Some(credential.into()),
            max_retries: Some(0),
            timeout: Some(HumanDuration(Duration::from_secs(2))),
            ..AzureKeys::default()
        };
        let store = azure_store(&config);
        let start = Instant::now();
        let err = store.get("x").await.expect_err("no token");
        let StoreError::Auth { credential: tried, .. } = store_error(&err) else {
            panic!("{credential}: not Auth (is an `az` on PATH logged in?): {err:#}");
        };
        assert!(tried.contains(named), "{tried}");
        assert_eq!(status_of(&err), ExitStatus::Auth);
        assert!(start.elapsed() < Duration::from_secs(15), "{:?}", start.elapsed());
    }
}
