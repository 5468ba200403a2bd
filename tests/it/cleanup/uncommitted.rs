//! Issue 12, uncommitted Azure blocks: an upload that staged blocks and never committed them leaves a name that
//! only List Blobs with `include=uncommittedblobs` shows. `cleanup --backups` reports those older than
//! `[cleanup] incomplete_grace` as `uncommitted` and discards them (an empty commit, then a delete); younger ones
//! stay. Against Azurite.

use std::collections::BTreeSet;
use std::time::Duration;

use super::json;
use crate::common::{TestContext, assert_exit, azurite, unique_container};

/// The names Azurite lists with `include=uncommittedblobs` in `container`.
fn names_with_uncommitted(container: &str) -> BTreeSet<String> {
    azurite()
        .request(
            "GET",
            container,
            &[
                ("comp", "list"),
                ("restype", "container"),
                ("include", "uncommittedblobs"),
            ],
            &[],
            &[],
        )
        .expect_status(200, "list with uncommitted blobs")
        .text()
        .split("<Name>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</Name>"))
        .map(|(name, _)| name.to_string())
        .collect()
}

/// Stages one block under `blob` and never commits it: what a backup killed mid-upload leaves.
fn stage_block(container: &str, blob: &str) {
    azurite()
        .request(
            "PUT",
            &format!("{container}/{blob}"),
            &[("comp", "block"), ("blockid", "MDAwMDAx")],
            &[],
            b"staged, never committed",
        )
        .expect_status(201, "stage a block");
}

#[test]
fn cleanup_backups_discards_uncommitted_blocks_older_than_the_grace_and_keeps_younger_ones() {
    let ctx = TestContext::new();
    let container = unique_container();
    azurite().create_container(&container);
    ctx.write_file(
        "campctl.toml",
        format!(
            "[storage.azure]\nconnection_string = \"{}\"\ncontainer = \"{container}\"\nprefix = \"pg/\"\n\n\
             [cleanup]\nincomplete_grace = \"5s\"\n",
            azurite().connection_string()
        ),
    );
    let old = "pg/appdb/appdb_20261201_030000.dump.zst";
    let young = "pg/appdb/appdb_20261202_030000.dump.zst";
    stage_block(&container, old);
    std::thread::sleep(Duration::from_millis(5_500));
    stage_block(&container, young);
    assert!(
        azurite().list_blobs(&container).is_empty(),
        "uncommitted blocks are not blobs"
    );
    let staged: BTreeSet<String> = [old.to_string(), young.to_string()].into();
    assert_eq!(names_with_uncommitted(&container), staged);

    let dry = ctx
        .cmd()
        .args(["--format", "json", "--dry-run", "cleanup", "--backups"])
        .output()
        .expect("run");
    assert_exit(&dry, 0);
    let plan = json(&dry);
    let uncommitted: Vec<(String, String)> = plan["backups"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|row| row["kind"] == "uncommitted")
        .map(|row| {
            (
                row["name"].as_str().expect("name").to_string(),
                row["action"].as_str().expect("action").to_string(),
            )
        })
        .collect();
    assert_eq!(
        uncommitted,
        [
            ("appdb_20261201_030000.dump.zst".to_string(), "delete".to_string()),
            ("appdb_20261202_030000.dump.zst".to_string(), "keep".to_string()),
        ],
        "{plan}"
    );
    assert_eq!(names_with_uncommitted(&container), staged, "--dry-run changes nothing");

    let run = ctx
        .cmd()
        .args(["--format", "json", "cleanup", "--backups"])
        .output()
        .expect("run");
    assert_exit(&run, 0);
    let left = names_with_uncommitted(&container);
    assert!(!left.contains(old), "{left:?}");
    // The younger one is kept while within the grace (this run started less than 5 s after it was staged, unless
    // the machine is very slow; then the plan deletes it too and says so).
    let kept_young = json(&run)["backups"]
        .as_array()
        .expect("rows")
        .iter()
        .any(|row| row["kind"] == "uncommitted" && row["action"] == "keep");
    assert_eq!(left.contains(young), kept_young, "{left:?}");
    // The series' lock blob (`pg/locks/backup-appdb`, taken for the delete) stays, as after any cleanup.
    let blobs: Vec<String> = azurite()
        .list_blobs(&container)
        .into_iter()
        .filter(|b| !b.starts_with("pg/locks/"))
        .collect();
    assert!(
        blobs.is_empty(),
        "no empty blob is left behind: {blobs:?}\n{}",
        String::from_utf8_lossy(&run.stdout)
    );
}
