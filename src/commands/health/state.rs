//! The state file: the last sample of each counter a check turns into a rate (deadlocks per minute, Redis keys
//! evicted since the last run), so that a rate is measured between two runs rather than since the server started.
//!
//! One small JSON object `{ "samples": { KEY: { "at": TIME, "value": N } } }`, read once before the checks run and
//! written once after (atomically, beside itself). A missing file is a first run; a file that cannot be read or
//! parsed is a warning and counts as a first run, never a failed check.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One sample of a counter.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Sample {
    pub at: DateTime<Utc>,
    pub value: f64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StateFile {
    #[serde(default)]
    samples: BTreeMap<String, Sample>,
}

/// The samples of the last run, and the ones this run takes.
#[derive(Debug, Default)]
pub(crate) struct State {
    previous: BTreeMap<String, Sample>,
    taken: Mutex<BTreeMap<String, Sample>>,
}

/// What a counter did since the last run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Delta {
    /// No earlier sample: the first run (or a new server).
    First,
    /// The counter went down: the server restarted or its statistics were reset.
    Reset,
    /// The increase and the time it took.
    Since { increase: f64, seconds: f64 },
}

impl State {
    /// Reads `path`; a missing file is an empty state, and an unreadable one is too, with a warning.
    pub(crate) fn load(path: &Path) -> Self {
        let previous = match fs_err::read_to_string(path) {
            Ok(text) => match serde_json::from_str::<StateFile>(&text) {
                Ok(file) => file.samples,
                Err(err) => {
                    tracing::warn!(
                        "ignoring the health state file `{}`, which does not parse ({err}); rates start again",
                        path.display()
                    );
                    BTreeMap::new()
                }
            },
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(err) => {
                tracing::warn!("ignoring the health state file: {err}; rates start again");
                BTreeMap::new()
            }
        };
        Self {
            previous,
            taken: Mutex::new(BTreeMap::new()),
        }
    }

    /// The sample of `key` the last run took, if any (for a check that keeps more than a counter, such as the
    /// time a replica's replay position was first seen stuck).
    pub(crate) fn previous(&self, key: &str) -> Option<Sample> {
        self.previous.get(key).copied()
    }

    /// Records `value` of counter `key` now and says how it changed since the last run.
    pub(crate) fn sample(&self, key: &str, value: f64) -> Delta {
        let now = Utc::now();
        if let Ok(mut taken) = self.taken.lock() {
            taken.insert(key.to_string(), Sample { at: now, value });
        }
        match self.previous.get(key) {
            None => Delta::First,
            Some(previous) if value < previous.value => Delta::Reset,
            Some(previous) => Delta::Since {
                increase: value - previous.value,
                seconds: (now - previous.at).num_milliseconds() as f64 / 1000.0,
            },
        }
    }

    /// Writes the earlier samples with this run's over them, atomically (a temporary file renamed over `path`).
    /// The directory is created if missing.
    ///
    /// # Errors
    /// The directory or file cannot be written.
    pub(crate) fn save(&self, path: &Path) -> anyhow::Result<()> {
        let mut samples = self.previous.clone();
        if let Ok(taken) = self.taken.lock() {
            if taken.is_empty() {
                return Ok(());
            }
            samples.extend(taken.iter().map(|(key, sample)| (key.clone(), *sample)));
        }
        let dir = path
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs_err::create_dir_all(dir)?;
        let mut file = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("Failed to write the health state file in `{}`", dir.display()))?;
        serde_json::to_writer_pretty(&mut file, &StateFile { samples })?;
        file.persist(path)
            .with_context(|| format!("Failed to write the health state file `{}`", path.display()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_is_first_then_a_delta_then_a_reset() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/state.json");
        let first = State::load(&path);
        assert_eq!(first.sample("deadlocks", 5.0), Delta::First);
        first.save(&path).expect("save");
        let second = State::load(&path);
        match second.sample("deadlocks", 8.0) {
            Delta::Since { increase, seconds } => {
                assert!((increase - 3.0).abs() < f64::EPSILON);
                assert!(seconds >= 0.0);
            }
            other => panic!("expected a delta, got {other:?}"),
        }
        assert_eq!(second.sample("deadlocks", 1.0), Delta::Reset);
        fs_err::write(&path, "not json").expect("write");
        assert_eq!(State::load(&path).sample("deadlocks", 1.0), Delta::First);
    }
}
