//! Cases of the local store only.

use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use campctl::lock::LockHolder;
use campctl::storage::StoreError;

use super::fixture::{Fixture, data, holder, info, store_error};
use crate::common::Tmpfs;

/// A lock left by a process that is gone (same host) is taken over.
#[tokio::test]
async fn stale_lock_of_a_dead_process_is_taken_over() {
    let fixture = Fixture::local();
    let mut child = Command::new("true").spawn().expect("spawn `true`");
    let dead_pid = child.id();
    child.wait().expect("wait for `true`");
    let stale = LockHolder {
        pid: dead_pid,
        ..holder("backup app (killed)")
    };
    let locks = fixture.dir.as_ref().expect("local").path().join("store/locks");
    std::fs::create_dir_all(&locks).expect("locks dir");
    std::fs::write(locks.join("app"), serde_json::to_vec(&stale).expect("json")).expect("stale lock");
    let guard = fixture
        .store
        .lock("app", &holder("backup app"), Duration::ZERO)
        .await
        .expect("take over");
    let now: LockHolder =
        serde_json::from_slice(&std::fs::read(locks.join("app")).expect("read lock")).expect("lock json");
    assert_eq!(now.pid, std::process::id());
    guard.release().await.expect("release");
    assert!(!locks.join("app").exists());
}

/// A dropped guard removes its lock file.
#[tokio::test]
async fn dropped_lock_guard_removes_the_file() {
    let fixture = Fixture::local();
    let guard = fixture
        .store
        .lock("app", &holder("a"), Duration::ZERO)
        .await
        .expect("lock");
    drop(guard);
    let guard = fixture
        .store
        .lock("app", &holder("b"), Duration::ZERO)
        .await
        .expect("lock after drop");
    guard.release().await.expect("release");
}

#[tokio::test]
async fn out_of_space_is_no_space_and_removes_the_partial() {
    let tmpfs = Tmpfs::mount("1m");
    let root = tmpfs.path().join("store");
    let config = campctl::storage::StoreKeys {
        local: Some(campctl::storage::LocalKeys {
            path: Some(root.clone()),
            path_origin: None,
            enabled: None,
        }),
        azure: None,
    };
    let store = campctl::storage::Store::from_config_with_env(&config, &super::fixture::no_env)
        .expect("store")
        .remove(0);
    let mut upload = store.begin_upload("app/big.dump", None).await.expect("begin");
    let mut failure = None;
    for seed in 0..4 {
        if let Err(err) = upload.write(Bytes::from(data(1 << 20, seed))).await {
            failure = Some(err);
            break;
        }
    }
    let err = match failure {
        Some(err) => err,
        None => upload.commit(info("x")).await.expect_err("commit of 4 MiB into 1 MiB"),
    };
    assert!(matches!(store_error(&err), StoreError::NoSpace { .. }), "{err:#}");
    let left: Vec<_> = std::fs::read_dir(root.join("app"))
        .expect("read_dir")
        .map(|entry| entry.expect("entry").file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    // The space is back: a small object fits.
    store
        .put_new("app/small.json", Bytes::from_static(b"{}"), info("y"))
        .await
        .expect("small object after the failure");
}

#[tokio::test]
async fn names_that_leave_the_store_are_refused() {
    let fixture = Fixture::local();
    for name in ["../x", "/etc/passwd", "a//b", "a/./b", "x.partial", ""] {
        assert!(fixture.store.begin_upload(name, None).await.is_err(), "{name}");
    }
}

#[test]
fn default_path_follows_xdg_for_users_and_var_backups_for_root() {
    let env = |name: &str| match name {
        "XDG_DATA_HOME" => Some("/data".to_string()),
        "HOME" => Some("/home/u".to_string()),
        _ => None,
    };
    let path = campctl::storage::default_local_path(&env).expect("default path");
    if crate::common::process::running_as_root() {
        assert_eq!(path, std::path::Path::new("/var/backups/campctl"));
    } else {
        assert_eq!(path, std::path::Path::new("/data/campctl/backups"));
    }
}
