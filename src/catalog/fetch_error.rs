//! How a download and verification of a backup (restore's `fetch`) can fail, as types: [`FetchError`] for a backup that is
//! damaged, is not what its manifest says, or cannot be read by the chosen pg_restore, and [`DownloadFailed`] for a
//! store that could not be read. Callers decide what a failure means (which step of a test-restore failed, whether
//! to keep hashing, whose fault a stopped pg_restore is) by matching these, never by reading messages. The types live
//! in the catalog, below the commands, so that `diagnostics` can classify them without importing a command.
//!
//! Each message is a full sentence for the operator; each [`FetchError`] carries its exit status and hint
//! ([`Classify`]). [`DownloadFailed`] carries neither on purpose: it is context over the store's own error, whose
//! status (not found, authentication) must decide the exit code.

use crate::exit::{Classify, ExitStatus};

/// The pg_restore that will read the archive: which format versions it reads, and how to name it in an error.
#[derive(Debug, Clone)]
pub(crate) struct Reader {
    /// Its path, as the error shows it.
    pub path: String,
    /// Its major version.
    pub major: u32,
}

impl Reader {
    /// The newest archive version this pg_restore reads.
    #[must_use]
    pub(crate) fn readable(&self) -> (u8, u8) {
        readable_version(self.major)
    }
}

/// The newest archive format version that pg_restore of this major version reads (`K_VERS_MAX` of its
/// `pg_backup_archiver.h`): 1.13 up to 11, 1.14 in 12–15, 1.15 in 16, 1.16 from 17.
#[must_use]
pub(crate) fn readable_version(pg_restore_major: u32) -> (u8, u8) {
    match pg_restore_major {
        0..=11 => (1, 13),
        12..=15 => (1, 14),
        16 => (1, 15),
        _ => (1, 16),
    }
}

/// The pg_dump major versions that write an archive version.
fn writer_of(version: &str) -> &'static str {
    let parsed: Vec<u8> = version.split('.').filter_map(|p| p.parse().ok()).collect();
    match parsed.as_slice() {
        [a, b, ..] => match (*a, *b) {
            (1, 16..) => "pg_dump 17 or newer",
            (1, 15) => "pg_dump 16",
            (1, 14) => "pg_dump 12 to 15",
            _ => "an older pg_dump",
        },
        _ => "a newer pg_dump",
    }
}

/// The store could not be read (context over the store's error, which decides the exit status).
#[derive(Debug, thiserror::Error)]
#[error("Failed to download {label}")]
pub(crate) struct DownloadFailed {
    /// The object and its store, e.g. ``` `db/db_20261129_030000.dump` in local store `/var/backups` ```.
    pub label: String,
}

/// A backup that failed verification (exit 1) or that this pg_restore cannot read (exit 2).
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    /// The stored object's SHA-256 differs from its manifest's.
    #[error(
        "Checksum mismatch: {label} has SHA-256 {actual}, but its manifest records {expected}; the stored backup is \
         damaged{}", also(.reading.as_deref())
    )]
    ChecksumMismatch {
        label: String,
        actual: String,
        expected: String,
        /// What reading the damaged bytes failed with, if it did.
        reading: Option<String>,
    },
    /// The stored object's size differs from its manifest's.
    #[error(
        "Size mismatch: {label} has {actual} bytes, but its manifest records {expected}; the stored backup is \
         truncated or was replaced{}", also(.reading.as_deref())
    )]
    SizeMismatch {
        label: String,
        actual: u64,
        expected: u64,
        reading: Option<String>,
    },
    /// The bytes are not a complete custom-format archive (decompression failed, the archive is cut short, the
    /// object is empty, or it is something else entirely).
    #[error("{0}")]
    Damaged(String),
    /// A plain SQL script, which pg_restore does not read.
    #[error("The backup is a plain SQL script (pg_dump --format=plain), not a custom-format archive")]
    PlainScript,
    /// An archive version newer than the chosen pg_restore reads.
    #[error(
        "The backup's archive format is version {version}, written by {}; `{}` (PostgreSQL {}) reads versions up \
         to {}.{}. Nothing was changed",
        writer_of(.version), .reader.path, .reader.major, .reader.readable().0, .reader.readable().1
    )]
    UnreadableVersion { version: String, reader: Reader },
}

/// ` (reading it failed too: …)` when reading the damaged object failed as well.
fn also(reading: Option<&str>) -> String {
    reading.map_or_else(String::new, |cause| format!(" (reading it failed too: {cause})"))
}

impl FetchError {
    /// Whether the backup was refused before any verification (a script, an unreadable version): nothing more is
    /// learnt by downloading the rest.
    #[must_use]
    pub(crate) fn is_refusal(&self) -> bool {
        matches!(self, Self::PlainScript | Self::UnreadableVersion { .. })
    }

    /// Whether the download or its checksum failed (rather than the decompression or the archive).
    #[must_use]
    pub(crate) fn is_download(&self) -> bool {
        matches!(self, Self::ChecksumMismatch { .. } | Self::SizeMismatch { .. })
    }
}

impl Classify for FetchError {
    fn exit_status(&self) -> ExitStatus {
        if self.is_refusal() {
            ExitStatus::Usage
        } else {
            ExitStatus::Failure
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            Self::ChecksumMismatch { .. } | Self::SizeMismatch { .. } | Self::Damaged(_) => {
                "Nothing was changed. Try an older backup (`campctl backup list`), and check the store's health".into()
            }
            Self::PlainScript => {
                "Restore it with `psql -f FILE` into an empty database; campctl restores custom-format archives".into()
            }
            Self::UnreadableVersion { reader, .. } => format!(
                "Install a newer PostgreSQL client (e.g. `apt-get install postgresql-client-{}`) or pass \
                 `--pg-restore PATH`",
                reader.major.max(16) + 1
            ),
        })
    }
}

/// The fetch error in `err`'s chain, if there is one.
#[must_use]
pub(crate) fn fetch_error(err: &anyhow::Error) -> Option<&FetchError> {
    err.chain().find_map(|cause| cause.downcast_ref::<FetchError>())
}

/// Whether a fetch failed in the download or its checksum (rather than in decompressing or reading the archive):
/// a store error, a failed read of the store, or a checksum or size mismatch.
#[must_use]
pub(crate) fn is_download_failure(err: &anyhow::Error) -> bool {
    err.downcast_ref::<DownloadFailed>().is_some()
        || fetch_error(err).is_some_and(FetchError::is_download)
        || err
            .chain()
            .any(|c| c.downcast_ref::<crate::storage::StoreError>().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(major: u32) -> Reader {
        Reader {
            path: "/usr/bin/pg_restore".into(),
            major,
        }
    }

    #[test]
    fn kinds_are_types_not_messages() {
        let damaged = anyhow::Error::new(FetchError::Damaged("Checksum mismatch: not really".into()));
        assert!(
            !is_download_failure(&damaged),
            "a message that looks like one is not a checksum failure"
        );
        assert_eq!(
            damaged.downcast_ref::<FetchError>().map(Classify::exit_status),
            Some(ExitStatus::Failure)
        );
        let checksum = anyhow::Error::new(FetchError::ChecksumMismatch {
            label: "`x`".into(),
            actual: "aa".into(),
            expected: "bb".into(),
            reading: Some("bad zstd".into()),
        })
        .context("while restoring");
        assert!(is_download_failure(&checksum));
        assert_eq!(
            checksum.downcast_ref::<FetchError>().map(Classify::exit_status),
            Some(ExitStatus::Failure)
        );
        assert!(
            format!("{checksum:#}").ends_with("damaged (reading it failed too: bad zstd)"),
            "{checksum:#}"
        );
        let download = anyhow::anyhow!("connection reset").context(DownloadFailed { label: "`x`".into() });
        assert!(is_download_failure(&download));
        assert_eq!(download.to_string(), "Failed to download `x`");
    }

    #[test]
    fn an_unreadable_version_names_the_writer_and_the_fix() {
        let err = FetchError::UnreadableVersion {
            version: "1.16.0".into(),
            reader: reader(15),
        };
        assert!(err.is_refusal());
        assert_eq!(err.exit_status(), ExitStatus::Usage);
        assert_eq!(
            err.to_string(),
            "The backup's archive format is version 1.16.0, written by pg_dump 17 or newer; `/usr/bin/pg_restore` \
             (PostgreSQL 15) reads versions up to 1.14. Nothing was changed"
        );
        assert!(err.hint().unwrap_or_default().contains("postgresql-client-17"));
        assert_eq!(writer_of("1.15"), "pg_dump 16");
        assert_eq!(writer_of("1.14.0"), "pg_dump 12 to 15");
        assert_eq!(writer_of("1.12.0"), "an older pg_dump");
        assert_eq!(writer_of("garbage"), "a newer pg_dump");
    }
}
