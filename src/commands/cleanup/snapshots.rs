//! `cleanup --snapshots` (issue 12, runbook 2.4.1): the blob snapshots `campctl backup snapshot` takes every day are
//! aged out. In each configured container (`[cleanup] snapshot_containers`, default the `[storage.azure]`
//! container), a snapshot taken longer ago than `[retention] snapshot_max_age` (default `30d`, by the snapshot's
//! own timestamp) goes, except the newest snapshot of a blob that still exists, which stays whatever its age. Base
//! blobs are never touched. No lock is taken (snapshots are not backups); a snapshot taken while the run lists or
//! deletes is younger than the cut-off and never touched. Deleting more than `[cleanup] max_delete_fraction` of a
//! container's snapshots needs `--yes` (the guard of the backups, `retention::fraction_guard`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt as _};
use serde::Serialize;

use crate::commands::retention::fraction_guard;
use crate::commands::retention::settings::{DEFAULT_SNAPSHOT_MAX_AGE, days};
use crate::config_file::{CleanupConfig, RetentionConfig};
use crate::exit::UserError;
use crate::storage::{AzureStore, SnapshotListing, validate_container};

/// Snapshot deletes sent at the same time.
const CONCURRENCY: usize = 16;

/// One place whose snapshots age out: a container, and a blob-name prefix within it (empty: every blob).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub container: String,
    pub prefix: String,
}

impl Target {
    /// `container` or `container/prefix`, as written in `snapshot_containers`.
    fn label(&self) -> String {
        if self.prefix.is_empty() {
            self.container.clone()
        } else {
            format!("{}/{}", self.container, self.prefix)
        }
    }
}

/// `[retention] snapshot_max_age` and `[cleanup] snapshot_containers`, resolved.
#[derive(Debug, Clone)]
pub(crate) struct SnapshotSettings {
    pub max_age: Duration,
    pub targets: Vec<Target>,
    pub max_delete_fraction: f64,
}

impl SnapshotSettings {
    /// `default_container`: the `[storage.azure]` container, the default target (none without an Azure store).
    ///
    /// # Errors
    /// A `snapshot_max_age` of 0, or an entry of `snapshot_containers` that is not a container name (exit 2).
    pub(crate) fn resolve(
        retention: &RetentionConfig,
        cleanup: &CleanupConfig,
        default_container: Option<&str>,
    ) -> anyhow::Result<Self> {
        let max_age = retention.snapshot_max_age.map_or(DEFAULT_SNAPSHOT_MAX_AGE, |d| d.0);
        if max_age.is_zero() {
            return Err(UserError::usage(
                "`[retention] snapshot_max_age` is 0: every snapshot would be old as soon as it is taken",
            )
            .with_hint("Write a duration such as `30d` (the default); docs/cleanup.md")
            .into());
        }
        let targets = match &cleanup.snapshot_containers {
            None => default_container
                .map(|container| Target {
                    container: container.to_string(),
                    prefix: String::new(),
                })
                .into_iter()
                .collect(),
            Some(entries) => entries
                .iter()
                .map(|entry| parse_target(entry))
                .collect::<anyhow::Result<_>>()?,
        };
        Ok(Self {
            max_age,
            targets,
            max_delete_fraction: crate::commands::retention::settings::max_delete_fraction(cleanup)?,
        })
    }
}

/// `container` or `container/prefix`.
fn parse_target(entry: &str) -> anyhow::Result<Target> {
    let (container, prefix) = entry.split_once('/').unwrap_or((entry, ""));
    if let Err(why) = validate_container(container) {
        return Err(UserError::usage(format!(
            "`[cleanup] snapshot_containers`: in `{entry}`, `{container}` is not a container name: it {why}"
        ))
        .with_hint("Write `container` or `container/prefix`, such as `uploads` or `uploads/avatars/`")
        .into());
    }
    Ok(Target {
        container: container.to_string(),
        prefix: prefix.to_string(),
    })
}

/// One snapshot and what happens to it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SnapshotRow {
    pub container: String,
    pub blob: String,
    /// The snapshot's timestamp as the service wrote it (`2026-12-04T03:00:01.1234567Z`).
    pub snapshot: String,
    /// Seconds between the snapshot and the run.
    pub age_seconds: u64,
    /// `keep` or `delete`.
    pub action: &'static str,
    pub reason: String,
    /// After a run: `deleted`, or `failed: <error>`; `null` in a plan and for kept snapshots.
    pub result: Option<String>,
    /// Which target (index into the settings' targets) listed it: the guard counts per target.
    #[serde(skip)]
    target: usize,
}

impl SnapshotRow {
    pub(crate) fn deletes(&self) -> bool {
        self.action == "delete"
    }
}

/// The rows of one listing: every snapshot, kept or deleted, by blob then time.
fn plan_listing(listing: &SnapshotListing, target: usize, max_age: Duration, now: DateTime<Utc>) -> Vec<SnapshotRow> {
    let age_limit = chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::MAX);
    let mut by_blob: BTreeMap<&str, Vec<_>> = BTreeMap::new();
    for snapshot in &listing.snapshots {
        by_blob.entry(snapshot.blob.as_str()).or_default().push(snapshot);
    }
    let age = days(max_age);
    let mut rows = Vec::new();
    for (blob, mut snapshots) in by_blob {
        snapshots.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.snapshot.cmp(&b.snapshot)));
        let live = listing.live_blobs.contains(blob);
        let newest = snapshots.len() - 1;
        for (index, snapshot) in snapshots.into_iter().enumerate() {
            let elapsed = now - snapshot.time;
            let (action, reason) = if elapsed <= age_limit {
                ("keep", format!("kept: younger than {age}"))
            } else if live && index == newest {
                ("keep", "kept: newest snapshot of a live blob".to_string())
            } else if live {
                ("delete", format!("delete: older than {age}"))
            } else {
                ("delete", format!("delete: older than {age}, and its blob is gone"))
            };
            rows.push(SnapshotRow {
                container: listing.container.clone(),
                blob: blob.to_string(),
                snapshot: snapshot.snapshot.clone(),
                age_seconds: u64::try_from(elapsed.num_seconds()).unwrap_or(0),
                action,
                reason,
                result: None,
                target,
            });
        }
    }
    rows
}

/// Lists every target and plans. A target that cannot be listed is returned with its error, not planned.
pub(crate) async fn plan(
    azure: &AzureStore,
    settings: &SnapshotSettings,
    now: DateTime<Utc>,
) -> (Vec<SnapshotRow>, Vec<(String, String)>) {
    let mut rows = Vec::new();
    let mut unreadable = Vec::new();
    let mut seen = BTreeSet::new();
    for (index, target) in settings.targets.iter().enumerate() {
        match azure.list_snapshots(Some(&target.container), &target.prefix).await {
            Ok(listing) => rows.extend(
                plan_listing(&listing, index, settings.max_age, now)
                    .into_iter()
                    // Targets that overlap (`uploads` and `uploads/avatars/`) list a snapshot once.
                    .filter(|row| seen.insert((row.container.clone(), row.blob.clone(), row.snapshot.clone()))),
            ),
            Err(err) => unreadable.push((format!("snapshots of `{}`", target.label()), format!("{err:#}"))),
        }
    }
    (rows, unreadable)
}

/// The `max_delete_fraction` guard of each target, unless `yes`.
///
/// # Errors
/// The plan deletes more than the fraction of a target's snapshots (exit 2).
pub(crate) fn guard(settings: &SnapshotSettings, rows: &[SnapshotRow], yes: bool) -> anyhow::Result<()> {
    for (index, target) in settings.targets.iter().enumerate() {
        let mine: Vec<_> = rows.iter().filter(|r| r.target == index).collect();
        let deleted = mine.iter().filter(|r| r.deletes()).count();
        fraction_guard(
            deleted,
            mine.len(),
            &format!("blob snapshots in `{}`", target.label()),
            settings.max_delete_fraction,
            yes,
        )?;
    }
    Ok(())
}

/// Deletes the planned snapshots, [`CONCURRENCY`] at a time; each row's `result` says what happened. Returns how
/// many failed.
pub(crate) async fn delete(azure: &AzureStore, rows: &mut [SnapshotRow]) -> usize {
    let results: Vec<(usize, Result<(), String>)> = stream::iter(rows.iter().enumerate().filter(|(_, r)| r.deletes()))
        .map(|(index, row)| async move {
            (
                index,
                azure
                    .delete_snapshot(Some(&row.container), &row.blob, &row.snapshot)
                    .await,
            )
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut failed = 0;
    for (index, result) in results {
        rows[index].result = Some(match result {
            Ok(()) => "deleted".into(),
            Err(err) => {
                failed += 1;
                format!("failed: {err}")
            }
        });
    }
    failed
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::{TimeZone as _, Utc};

    use super::{SnapshotSettings, Target, parse_target, plan_listing};
    use crate::storage::{ListedSnapshot, SnapshotListing};

    #[test]
    fn profiles_override_the_age_and_replace_the_list_and_the_default_is_the_store_container() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        fs_err::write(
            &path,
            "[retention]\nsnapshot_max_age = \"14d\"\n[cleanup]\nsnapshot_containers = [\"uploads\", \"docs/a/\"]\n\
             [profiles.prod.cleanup]\nsnapshot_containers = [\"prod-uploads\"]\n\
             [profiles.short.retention]\nsnapshot_max_age = \"2d\"\n",
        )
        .expect("write");
        let resolve = |profile| {
            let loaded = crate::config_file::load(Some(&path), &[], profile).expect("load");
            SnapshotSettings::resolve(&loaded.sections.retention, &loaded.sections.cleanup, Some("store"))
                .expect("valid")
        };
        let target = |container: &str, prefix: &str| Target {
            container: container.into(),
            prefix: prefix.into(),
        };
        let base = resolve(None);
        assert_eq!(base.max_age, Duration::from_secs(14 * 86_400));
        assert_eq!(base.targets, [target("uploads", ""), target("docs", "a/")]);
        let prod = resolve(Some("prod"));
        assert_eq!(
            (prod.max_age, prod.targets),
            (Duration::from_secs(14 * 86_400), vec![target("prod-uploads", "")])
        );
        let short = resolve(Some("short"));
        assert_eq!(short.max_age, Duration::from_secs(2 * 86_400));
        assert_eq!(short.targets.len(), 2);
        let defaults = SnapshotSettings::resolve(
            &crate::config_file::RetentionConfig::default(),
            &crate::config_file::CleanupConfig::default(),
            Some("store"),
        )
        .expect("valid");
        assert_eq!(
            (defaults.max_age, defaults.targets),
            (Duration::from_secs(30 * 86_400), vec![target("store", "")])
        );
    }

    #[test]
    fn old_snapshots_go_but_the_newest_of_a_live_blob_stays() {
        let day = |d: u32| Utc.with_ymd_and_hms(2026, 11, d, 3, 0, 0).single().expect("a time");
        let snap = |blob: &str, d: u32| ListedSnapshot {
            blob: blob.into(),
            snapshot: day(d).to_rfc3339(),
            time: day(d),
        };
        let listing = SnapshotListing {
            container: "uploads".into(),
            // `a`: two old and one young; `b`: two old, live; `gone`: old, its blob deleted.
            snapshots: vec![
                snap("a", 1),
                snap("a", 2),
                snap("a", 29),
                snap("b", 2),
                snap("b", 1),
                snap("gone", 3),
            ],
            live_blobs: ["a".to_string(), "b".to_string()].into(),
        };
        let rows = plan_listing(&listing, 0, Duration::from_secs(7 * 86_400), day(30));
        let got: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|r| (r.blob.as_str(), &r.snapshot[8..10], r.action))
            .collect();
        assert_eq!(
            got,
            [
                ("a", "01", "delete"),
                ("a", "02", "delete"),
                ("a", "29", "keep"),
                ("b", "01", "delete"),
                ("b", "02", "keep"),
                ("gone", "03", "delete"),
            ]
        );
        assert_eq!(rows[4].reason, "kept: newest snapshot of a live blob");
        assert_eq!(rows[2].reason, "kept: younger than 7d");
        assert!(rows[5].reason.contains("its blob is gone"), "{}", rows[5].reason);
    }

    #[test]
    fn targets_are_a_container_and_an_optional_prefix() {
        let target = parse_target("uploads/avatars/").expect("valid");
        assert_eq!(
            (target.container.as_str(), target.prefix.as_str()),
            ("uploads", "avatars/")
        );
        assert_eq!(parse_target("uploads").expect("valid").prefix, "");
        let err = parse_target("Up_loads/x").expect_err("not a container");
        assert!(err.to_string().contains("`[cleanup] snapshot_containers`"), "{err}");
    }
}
