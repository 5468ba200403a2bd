//! Backup names: `<db>_<YYYYMMDD>_<HHMMSS>` (UTC), the form that selection (`restore <name>`), listing and retention
//! parse. A name is chosen only once the run holds its locks, so that a run that waited (`--wait-lock`) never
//! reuses the name of the run it waited for; and it is unique within a second by waiting: when the name of this
//! second is taken already in a store (a backup of the same database finished within the same second), the run
//! waits for the next second and takes that one. Names therefore never carry a suffix, and sort by time.
//!
//! The leftovers of killed runs (`*.partial` files, which nothing lists or removes) are reported here too, when the
//! next run of the same backup holds the same lock.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

use crate::printer::Printer;
use crate::storage::Store;

/// How many seconds a run tries before it takes the name of the moment anyway (the commit's `If-None-Match`
/// still refuses to overwrite anything).
const MAX_TRIES: u32 = 5;

/// The start time and name `<stem>_<YYYYMMDD>_<HHMMSS>` of a backup that starts now in `folder` (`appdb/`,
/// `files/uploads/`): the first second from now whose name no store has an object under.
pub(super) async fn unique_name(stores: &[Store], folder: &str, stem: &str) -> (DateTime<Utc>, String) {
    let mut tries = 0;
    loop {
        let now = Utc::now();
        let base = format!("{stem}_{}", now.format("%Y%m%d_%H%M%S"));
        tries += 1;
        if tries >= MAX_TRIES || !taken(stores, &format!("{folder}{base}.")).await {
            return (now, base);
        }
        tracing::info!(
            "the name `{base}` is taken already (a backup finished within this second); waiting for the next second"
        );
        let into_second = u64::from(now.timestamp_subsec_millis());
        tokio::time::sleep(Duration::from_millis(1_000 - into_second.min(999) + 5)).await;
    }
}

/// Whether any store has an object whose name starts with `prefix`; a store that cannot be listed counts as free
/// (its commit refuses to overwrite anyway).
async fn taken(stores: &[Store], prefix: &str) -> bool {
    for store in stores {
        match store.list(prefix).await {
            Ok(objects) if !objects.is_empty() => return true,
            Ok(_) => {}
            Err(err) => tracing::debug!("could not list `{prefix}` in {}: {err:#}", store.label()),
        }
    }
    false
}

/// Warns about `*.partial` files in `folder` of the local store that are older than this run (`started`): runs
/// killed mid-upload left them, and nothing else mentions them. The caller holds the folder's lock, so none of
/// them is being written.
pub(super) async fn warn_leftovers(stores: &[Store], folder: &str, started: SystemTime, printer: &Printer) {
    for store in stores {
        let Store::Local(local) = store else {
            continue;
        };
        match local.leftover_partials(folder.trim_end_matches('/'), started).await {
            Ok(found) => {
                for (path, modified) in found {
                    let modified: DateTime<Utc> = modified.into();
                    printer.warn(&format!(
                        "`{}` was left by a backup that did not finish (last written {}); nothing uses it. Remove it \
                         with: rm -- {}",
                        path.display(),
                        modified.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        shell_quote(&path.display().to_string())
                    ));
                }
            }
            Err(err) => tracing::debug!("could not look for leftovers in {}: {err:#}", store.label()),
        }
    }
}

/// `'text'` for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn item_15_paths_are_quoted_for_the_shell() {
        assert_eq!(shell_quote("/var/b/app.dump.partial"), "'/var/b/app.dump.partial'");
        assert_eq!(shell_quote("/tmp/it's"), r"'/tmp/it'\''s'");
    }
}
