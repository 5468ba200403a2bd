//! Issue 12, `campctl cleanup --snapshots` against Azurite: real snapshots taken by `campctl backup snapshot`, aged
//! with `[retention] snapshot_max_age = "2s"` and a short sleep (snapshot times are the service's). Exactly the old
//! snapshots go, the newest snapshot of each live blob stays even when old, base blobs are untouched, `--dry-run`
//! changes nothing, the `max_delete_fraction` guard needs `--yes`, and `--snapshots` needs an Azure store.

use std::collections::BTreeSet;
use std::process::Output;
use std::time::Duration;

use super::json;
use crate::common::{TestContext, assert_exit, azurite, unique_container};

/// The age limit of these tests, and a sleep that makes the snapshots taken before it old.
const MAX_AGE: &str = "2s";
const PAST_MAX_AGE: Duration = Duration::from_millis(2_500);

struct SnapEnv {
    ctx: TestContext,
    container: String,
}

impl SnapEnv {
    /// A container with the blobs `docs/a`, `docs/b` and `other/c`, and a campctl.toml whose only store is it.
    fn new(extra: &str) -> Self {
        let ctx = TestContext::new();
        let container = unique_container();
        azurite().create_container(&container);
        for blob in ["docs/a", "docs/b", "other/c"] {
            azurite().put_blob(&container, blob, blob.as_bytes());
        }
        ctx.write_file(
            "campctl.toml",
            format!(
                "[storage.azure]\nconnection_string = \"{}\"\ncontainer = \"{container}\"\n\n[retention]\n\
                 snapshot_max_age = \"{MAX_AGE}\"\n{extra}",
                azurite().connection_string()
            ),
        );
        Self { ctx, container }
    }

    fn run(&self, args: &[&str]) -> Output {
        self.ctx.cmd().args(args).output().expect("run campctl")
    }

    /// `campctl backup snapshot --prefix PREFIX`; returns the snapshots taken as `blob@time`.
    fn snapshot(&self, prefix: &str) -> Vec<String> {
        let output = self.run(&["--format", "json", "backup", "snapshot", "--prefix", prefix]);
        assert_exit(&output, 0);
        let report = json(&output);
        report["snapshots"]
            .as_array()
            .expect("snapshots")
            .iter()
            .map(|s| {
                format!(
                    "{}@{}",
                    s["blob"].as_str().expect("blob"),
                    s["snapshot"].as_str().expect("time")
                )
            })
            .collect()
    }

    /// What Azurite holds: base blobs by name, snapshots as `blob@time`.
    fn listing(&self) -> (BTreeSet<String>, BTreeSet<String>) {
        let text = azurite()
            .request(
                "GET",
                &self.container,
                &[("comp", "list"), ("restype", "container"), ("include", "snapshots")],
                &[],
                &[],
            )
            .expect_status(200, "list with snapshots")
            .text();
        let mut blobs = BTreeSet::new();
        let mut snapshots = BTreeSet::new();
        for entry in text.split("<Blob>").skip(1) {
            let field = |tag: &str| {
                entry
                    .split_once(&format!("<{tag}>"))
                    .and_then(|(_, rest)| rest.split_once(&format!("</{tag}>")))
                    .map(|(value, _)| value.to_string())
            };
            let name = field("Name").expect("a name");
            match field("Snapshot") {
                Some(time) => snapshots.insert(format!("{name}@{time}")),
                None => blobs.insert(name),
            };
        }
        (blobs, snapshots)
    }
}

/// The plan's rows as `blob@time` → (action, reason).
fn rows(report: &serde_json::Value) -> Vec<(String, String, String)> {
    report["snapshots"]
        .as_array()
        .unwrap_or_else(|| panic!("a `snapshots` section: {report}"))
        .iter()
        .map(|row| {
            (
                format!(
                    "{}@{}",
                    row["blob"].as_str().expect("blob"),
                    row["snapshot"].as_str().expect("time")
                ),
                row["action"].as_str().expect("action").to_string(),
                row["reason"].as_str().expect("reason").to_string(),
            )
        })
        .collect()
}

fn set(items: &[&String]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).clone()).collect()
}

#[test]
fn cleanup_snapshots_deletes_exactly_the_old_ones_and_keeps_the_newest_of_each_live_blob() {
    let env = SnapEnv::new("");
    let first = env.snapshot("docs/"); // docs/a and docs/b
    let b_second = env.snapshot("docs/b");
    std::thread::sleep(PAST_MAX_AGE);
    let a_young = env.snapshot("docs/a");
    assert_eq!((first.len(), b_second.len(), a_young.len()), (2, 1, 1));
    let (a_old, b_old) = (&first[0], &first[1]);
    assert!(
        a_old.starts_with("docs/a@") && b_old.starts_with("docs/b@"),
        "{first:?}"
    );
    let (blobs_before, snapshots_before) = env.listing();
    assert_eq!(snapshots_before.len(), 4, "{snapshots_before:?}");

    // The plan: every snapshot, with what happens to it; `--dry-run` changes nothing.
    let dry = env.run(&["--format", "json", "--dry-run", "cleanup", "--snapshots"]);
    assert_exit(&dry, 0);
    let plan = json(&dry);
    assert_eq!(plan["dry_run"], true);
    assert!(plan.get("backups").is_none(), "only the selected section: {plan}");
    let planned = rows(&plan);
    let deleted: BTreeSet<String> = planned
        .iter()
        .filter(|(_, action, _)| action == "delete")
        .map(|(snap, _, _)| snap.clone())
        .collect();
    assert_eq!(deleted, set(&[a_old, b_old]), "{planned:?}");
    let b_newest = planned
        .iter()
        .find(|(snap, _, _)| snap == &b_second[0])
        .expect("b's newest is listed");
    assert_eq!(
        (b_newest.1.as_str(), b_newest.2.as_str()),
        ("keep", "kept: newest snapshot of a live blob")
    );
    assert!(
        planned
            .iter()
            .any(|(snap, action, _)| snap == &a_young[0] && action == "keep"),
        "{planned:?}"
    );
    assert_eq!(env.listing(), (blobs_before.clone(), snapshots_before.clone()));

    // The run: 2 of 4 is not more than the default 50 %, so no `--yes` is needed.
    let run = env.run(&["--format", "json", "cleanup", "--snapshots"]);
    assert_exit(&run, 0);
    let result = json(&run);
    assert!(
        result["snapshots"]
            .as_array()
            .expect("rows")
            .iter()
            .filter(|r| r["action"] == "delete")
            .all(|r| r["result"] == "deleted"),
        "{result}"
    );
    let (blobs_after, snapshots_after) = env.listing();
    assert_eq!(blobs_after, blobs_before, "base blobs are never touched");
    assert_eq!(snapshots_after, set(&[&b_second[0], &a_young[0]]));

    // Again: the survivors are each the newest of their blob (or young), so nothing more goes.
    let again = env.run(&["--format", "json", "cleanup", "--snapshots"]);
    assert_exit(&again, 0);
    assert!(rows(&json(&again)).iter().all(|(_, action, _)| action == "keep"));
    assert_eq!(env.listing().1, snapshots_after);
}

#[test]
fn cleanup_snapshots_over_max_delete_fraction_needs_yes_and_prefixes_narrow_the_containers() {
    let env = SnapEnv::new("");
    let container = env.container.clone();
    // Only `docs/` is aged; `other/c`'s old snapshots are not this run's.
    env.ctx.write_file(
        "campctl.toml",
        format!(
            "[storage.azure]\nconnection_string = \"{}\"\ncontainer = \"{container}\"\n\n[retention]\n\
             snapshot_max_age = \"{MAX_AGE}\"\n\n[cleanup]\nmax_delete_fraction = 0.25\n\
             snapshot_containers = [\"{container}/docs/\"]\n",
            azurite().connection_string()
        ),
    );
    let old_a = env.snapshot("docs/a");
    let old_c = env.snapshot("other/");
    let _ = env.snapshot("other/");
    std::thread::sleep(PAST_MAX_AGE);
    let new_a = env.snapshot("docs/a");
    let before = env.listing();

    // 1 of 2 snapshots under `docs/` is 50 %, more than 25 %: refused, nothing deleted.
    let refused = env.run(&["cleanup", "--snapshots"]);
    assert_exit(&refused, 2);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("max_delete_fraction") && stderr.contains("--yes") && stderr.contains("docs/"),
        "{stderr}"
    );
    assert_eq!(env.listing(), before);

    let run = env.run(&["--format", "json", "--yes", "cleanup", "--snapshots"]);
    assert_exit(&run, 0);
    let (_, snapshots) = env.listing();
    assert!(!snapshots.contains(&old_a[0]), "{snapshots:?}");
    assert!(
        snapshots.contains(&new_a[0]) && snapshots.contains(&old_c[0]),
        "{snapshots:?}"
    );
    assert_eq!(snapshots.len(), 3, "{snapshots:?}");
}

#[test]
fn cleanup_snapshots_without_an_azure_store_is_a_usage_error_and_no_selector_skips_them() {
    let ctx = TestContext::new();
    let local = ctx.home().join("backups");
    std::fs::create_dir_all(&local).expect("store dir");
    ctx.write_file(
        "campctl.toml",
        format!("[storage.local]\npath = \"{}\"\n", local.display()),
    );
    let output = ctx.cmd().args(["cleanup", "--snapshots"]).output().expect("run");
    assert_exit(&output, 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`--snapshots` needs an Azure store") && stderr.contains("[storage.azure]"),
        "{stderr}"
    );
    // No selector: the snapshots are just not part of the run.
    let output = ctx
        .cmd()
        .args(["--format", "json", "--dry-run", "cleanup"])
        .output()
        .expect("run");
    assert_exit(&output, 0);
    let report = json(&output);
    assert!(
        report.get("snapshots").is_none() && report.get("backups").is_some(),
        "{report}"
    );
}

#[test]
fn a_snapshot_container_that_is_not_a_container_name_is_refused_before_anything_runs() {
    let env = SnapEnv::new("\n[cleanup]\nsnapshot_containers = [\"Bad_Name/x\"]\n");
    let output = env.run(&["cleanup", "--snapshots"]);
    assert_exit(&output, 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`[cleanup] snapshot_containers`") && stderr.contains("Bad_Name"),
        "{stderr}"
    );
    let check = env.run(&["config", "check"]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(said.contains("`[cleanup] snapshot_containers`"), "{said}");
    assert_ne!(check.status.code(), Some(0), "{said}");
}

#[test]
fn a_snapshot_container_that_cannot_be_listed_makes_the_run_partial_and_the_others_are_still_done() {
    let env = SnapEnv::new("");
    let container = env.container.clone();
    let missing = unique_container();
    env.ctx.write_file(
        "campctl.toml",
        format!(
            "[storage.azure]\nconnection_string = \"{}\"\ncontainer = \"{container}\"\n\n[retention]\n\
             snapshot_max_age = \"{MAX_AGE}\"\n\n[cleanup]\nsnapshot_containers = [\"{missing}\", \"{container}\"]\n",
            azurite().connection_string()
        ),
    );
    let old = env.snapshot("docs/a");
    std::thread::sleep(PAST_MAX_AGE);
    let new = env.snapshot("docs/a");
    let output = env.run(&["--format", "json", "cleanup", "--snapshots"]);
    assert_exit(&output, 3);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&missing) && stderr.contains("partial"), "{stderr}");
    let (_, snapshots) = env.listing();
    assert!(
        !snapshots.contains(&old[0]) && snapshots.contains(&new[0]),
        "{snapshots:?}"
    );
}
