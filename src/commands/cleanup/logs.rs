//! `cleanup --logs` (runbook 9.1.2, 8.1.2): log files under the configured roots whose name matches a configured
//! pattern (or is a rotated copy of such a name: `app.log.1`, `app.log.2.gz`, `app.log-20261201.gz`) and that were
//! last modified longer ago than `max_age`. The walk never follows a symbolic link: a linked directory is not
//! entered and a linked file is not touched, so nothing outside the roots is ever deleted.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config_file::LogsCleanupConfig;
use crate::exit::UserError;

/// The default of `[cleanup.logs] max_age`.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(30 * 86_400);

/// `[cleanup.logs]`, resolved.
#[derive(Debug, Clone)]
pub(crate) struct LogsSettings {
    pub roots: Vec<PathBuf>,
    pub globs: Vec<String>,
    pub max_age: Duration,
}

impl LogsSettings {
    /// `None` when `[cleanup.logs]` is not configured.
    ///
    /// # Errors
    /// A table without roots or patterns, or a relative root (exit 2).
    pub(crate) fn resolve(config: Option<&LogsCleanupConfig>) -> anyhow::Result<Option<Self>> {
        let Some(config) = config else { return Ok(None) };
        let roots = config.roots.clone().unwrap_or_default();
        let globs = config.globs.clone().unwrap_or_default();
        if roots.is_empty() || globs.is_empty() {
            return Err(UserError::usage("`[cleanup.logs]` needs both `roots` and `globs`")
                .with_hint("For example: roots = [\"/var/log/camp\"], globs = [\"*.log\"] (docs/cleanup.md)")
                .into());
        }
        if let Some(relative) = roots.iter().find(|r| !r.is_absolute()) {
            return Err(UserError::usage(format!(
                "`[cleanup.logs] roots`: `{}` is not an absolute path",
                relative.display()
            ))
            .with_hint("Write each root as an absolute directory, such as `/var/log/camp`")
            .into());
        }
        Ok(Some(Self {
            roots,
            globs,
            max_age: config.max_age.map_or(DEFAULT_MAX_AGE, |d| d.0),
        }))
    }
}

/// One log file that goes.
#[derive(Debug, Serialize)]
pub(crate) struct LogRow {
    pub path: String,
    pub size_bytes: u64,
    pub modified: DateTime<Utc>,
    /// After a run: `deleted`, or the error; `null` in a plan.
    pub result: Option<String>,
}

/// Whether `name` matches `pattern` (`*` any run of characters, `?` one character).
fn glob_match(pattern: &[char], name: &[char]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some('*'), _) => glob_match(&pattern[1..], name) || (!name.is_empty() && glob_match(pattern, &name[1..])),
        (Some('?'), Some(_)) => glob_match(&pattern[1..], &name[1..]),
        (Some(p), Some(n)) if p == n => glob_match(&pattern[1..], &name[1..]),
        _ => false,
    }
}

/// The name without rotation suffixes: `.gz`, then `.N` or `-YYYYMMDD` (`app.log.2.gz` → `app.log`).
fn unrotated(name: &str) -> &str {
    let name = name.strip_suffix(".gz").unwrap_or(name);
    if let Some((head, tail)) = name.rsplit_once('.')
        && !tail.is_empty()
        && tail.bytes().all(|b| b.is_ascii_digit())
    {
        return head;
    }
    if let Some((head, tail)) = name.rsplit_once('-')
        && tail.len() == 8
        && tail.bytes().all(|b| b.is_ascii_digit())
    {
        return head;
    }
    name
}

/// Whether a file name matches one of the patterns, itself or as a rotated copy.
pub(crate) fn matches(globs: &[String], name: &str) -> bool {
    let names = [name, unrotated(name)];
    globs.iter().any(|glob| {
        let pattern: Vec<char> = glob.chars().collect();
        names
            .iter()
            .any(|n| glob_match(&pattern, &n.chars().collect::<Vec<_>>()))
    })
}

/// The files that go, oldest first.
pub(crate) fn plan(settings: &LogsSettings, now: SystemTime) -> Vec<LogRow> {
    let before = now.checked_sub(settings.max_age).unwrap_or(SystemTime::UNIX_EPOCH);
    let mut rows = Vec::new();
    for root in &settings.roots {
        walk(root, settings, before, &mut rows);
    }
    rows.sort_by(|a, b| a.modified.cmp(&b.modified).then_with(|| a.path.cmp(&b.path)));
    rows
}

fn walk(dir: &Path, settings: &LogsSettings, before: SystemTime, rows: &mut Vec<LogRow>) {
    let entries = match fs_err::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => {
            tracing::warn!("cannot read `{}`: {err}", dir.display());
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        // `symlink_metadata`: a link is seen as a link, never as what it points at.
        let Ok(meta) = fs_err::symlink_metadata(&path) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            continue;
        }
        if meta.is_dir() {
            walk(&path, settings, before, rows);
            continue;
        }
        let name = entry.file_name();
        let (Some(name), Ok(modified)) = (name.to_str(), meta.modified()) else {
            continue;
        };
        if meta.is_file() && modified < before && matches(&settings.globs, name) {
            rows.push(LogRow {
                path: path.display().to_string(),
                size_bytes: meta.len(),
                modified: modified.into(),
                result: None,
            });
        }
    }
}

/// Deletes the planned files; each row's `result` says what happened. Returns how many failed.
pub(crate) fn delete(rows: &mut [LogRow]) -> usize {
    let mut failed = 0;
    for row in rows {
        row.result = Some(match fs_err::remove_file(&row.path) {
            Ok(()) => "deleted".into(),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => "deleted".into(),
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
    use super::matches;

    #[test]
    fn patterns_match_names_and_their_rotated_copies() {
        let globs = ["*.log".to_string(), "access_??.txt".to_string()];
        for (name, expected) in [
            ("app.log", true),
            ("app.log.1", true),
            ("app.log.2.gz", true),
            ("app.log-20261201.gz", true),
            ("app.log.gz", true),
            ("access_01.txt", true),
            ("access_1.txt", false),
            ("app.logx", false),
            ("notes.txt", false),
            ("app.log.old", false),
        ] {
            assert_eq!(matches(&globs, name), expected, "{name}");
        }
    }
}
