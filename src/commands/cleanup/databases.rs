//! `cleanup --databases` (runbook 9.1.2, "leftovers by hand"): the databases restores leave beside their target,
//! named by `commands/restore/names.rs`: `<db>__pre_restore_<YYYYMMDD_HHMMSS>` (the database a restore replaced),
//! `<db>__restore_<…>` (a copy whose restore stopped) and `<db>__test_restore_<…>_<pid>` (a test-restore's scratch
//! copy whose run was killed). A database's age is the UTC time in its name (restore writes it from the clock);
//! one younger than `max_age` stays. One with a session connected stays ("open sessions"): the drop is a plain
//! `DROP DATABASE`, which the server refuses while anyone is connected, so a session is never cut off. A database
//! whose target is being backed up or restored (its advisory lock held) stays too.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use tokio_postgres::Client;

use crate::config_file::DatabasesCleanupConfig;
use crate::lock::advisory;
use crate::pg::database;

/// The default of `[cleanup.databases] max_age`.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(7 * 86_400);

/// The tags restore puts between the target and the time, as in `commands/restore/names.rs`.
const TAGS: [(&str, &str); 3] = [
    ("__pre_restore_", "pre_restore"),
    ("__test_restore_", "test_restore"),
    ("__restore_", "restore"),
];

/// A leftover database and what happens to it.
#[derive(Debug, Serialize)]
pub(crate) struct DatabaseRow {
    pub name: String,
    /// The database it was made beside.
    pub target: String,
    /// `pre_restore`, `test_restore` or `restore`.
    pub kind: &'static str,
    /// The time in its name.
    pub created: DateTime<Utc>,
    /// `keep` or `drop`.
    pub action: &'static str,
    pub reason: String,
    /// After a run: `dropped`, `kept: open sessions`, or the error; `null` in a plan.
    pub result: Option<String>,
}

/// `(target, kind, created)` of a leftover's name, `None` for any other database.
pub(crate) fn parse(name: &str) -> Option<(String, &'static str, DateTime<Utc>)> {
    for (tag, kind) in TAGS {
        let Some((target, rest)) = name.rsplit_once(tag) else {
            continue;
        };
        let stamp = rest.get(..15)?;
        let tail = &rest[15..];
        let pid_ok = tail.is_empty()
            || tail
                .strip_prefix('_')
                .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if target.is_empty() || !pid_ok {
            return None;
        }
        let time = NaiveDateTime::parse_from_str(stamp, "%Y%m%d_%H%M%S").ok()?.and_utc();
        return Some((target.to_string(), kind, time));
    }
    None
}

/// `[cleanup.databases] max_age`, resolved.
pub(crate) fn max_age(config: Option<&DatabasesCleanupConfig>) -> Duration {
    config.and_then(|c| c.max_age).map_or(DEFAULT_MAX_AGE, |d| d.0)
}

/// Plans (and unless `dry_run`, drops) the leftovers on the server of `client`.
///
/// # Errors
/// The databases cannot be listed.
pub(crate) async fn run(
    client: &Client,
    max_age: Duration,
    now: DateTime<Utc>,
    dry_run: bool,
) -> anyhow::Result<Vec<DatabaseRow>> {
    let age = chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::MAX);
    let mut rows = Vec::new();
    for name in database::names(client).await? {
        let Some((target, kind, created)) = parse(&name) else {
            continue;
        };
        let old = now - created > age;
        let sessions = database::session_count(client, &name).await?;
        let (action, reason) = if !old {
            (
                "keep",
                format!("kept: younger than {}", crate::units::HumanDuration(max_age)),
            )
        } else if sessions > 0 {
            ("keep", format!("kept: {sessions} open sessions"))
        } else {
            (
                "drop",
                format!(
                    "drop: a leftover of a restore of `{target}`, older than {}",
                    crate::units::HumanDuration(max_age)
                ),
            )
        };
        rows.push(DatabaseRow {
            name,
            target,
            kind,
            created,
            action,
            reason,
            result: None,
        });
    }
    if dry_run {
        return Ok(rows);
    }
    for row in rows.iter_mut().filter(|r| r.action == "drop") {
        // A backup or restore of the target holds its advisory lock: leave its leftovers alone until it ends.
        match advisory::try_take(client, &row.target).await {
            Ok(true) => {}
            Ok(false) => {
                row.result = Some("kept: a backup or restore of the target is running".into());
                continue;
            }
            Err(err) => {
                row.result = Some(format!("failed: {err:#}"));
                continue;
            }
        }
        row.result = Some(match database::drop_if_unused(client, &row.name).await {
            Ok(true) => "dropped".into(),
            Ok(false) => "kept: open sessions".into(),
            Err(err) => format!("failed: {err:#}"),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn leftover_names_give_their_target_kind_and_time() {
        let (target, kind, time) = parse("camp_db__pre_restore_20261129_030000").expect("a leftover");
        assert_eq!((target.as_str(), kind), ("camp_db", "pre_restore"));
        assert_eq!(time.to_rfc3339(), "2026-11-29T03:00:00+00:00");
        assert_eq!(
            parse("camp_db__test_restore_20261129_030000_4242").map(|p| p.1),
            Some("test_restore")
        );
        assert_eq!(parse("camp_db__restore_20261129_030000").map(|p| p.1), Some("restore"));
        for other in [
            "camp_db",
            "camp_db__restore_2026",
            "__restore_20261129_030000",
            "a__restore_20261129_030000_x",
        ] {
            assert!(parse(other).is_none(), "{other}");
        }
    }
}
