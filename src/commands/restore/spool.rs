//! The spool file of a restore with `--jobs` > 1: pg_restore reads a parallel restore from a file, so the verified
//! download is written to a temp file in `--spool-dir` first, after checking that the archive fits.
//!
//! A spool directory that is missing, unwritable or too small is the operator's to fix (exit 2 with a hint at
//! `--spool-dir` and `--jobs 1`), never a failed check of the backup. This file must never delete or reuse a file it
//! did not create: the temp file removes itself when dropped.

use std::path::Path;

use anyhow::Context as _;

use crate::catalog::select::Selected;
use crate::exit::UserError;
use crate::units::format_bytes;

/// A temp file in `dir` after checking that the archive fits: its size from the manifest, else at least the stored
/// object's size.
pub(super) async fn spool_file(dir: &Path, selected: &Selected) -> anyhow::Result<tempfile::NamedTempFile> {
    // A spool directory that cannot be used is the operator's to fix (exit 2), never a failed check of the backup.
    fs_err::create_dir_all(dir).map_err(|err| {
        UserError::usage(format!(
            "Failed to create the spool directory `{}`: {err}",
            dir.display()
        ))
        .with_hint("Pass `--spool-dir DIR` naming a writable directory, or `--jobs 1` to stream without a spool file")
    })?;
    let needed = match &selected.manifest {
        Some(manifest) => {
            let inner_compressed = manifest.compression == "none" || manifest.compression.starts_with("pgdump");
            let archive = manifest.archive.as_ref().map_or(0, |a| a.data_bytes);
            if inner_compressed {
                manifest.size_bytes
            } else {
                manifest.size_bytes.max(archive)
            }
        }
        None => selected
            .store
            .list(&selected.object)
            .await?
            .iter()
            .find(|o| o.name == selected.object)
            .map_or(0, |o| o.size),
    } + (64 << 20);
    let free = crate::os::free_space(dir).with_context(|| format!("Failed to stat `{}`", dir.display()))?;
    if free < needed {
        return Err(spool_too_small(
            dir,
            &format!(
                "has {} free, but the archive needs about {}",
                format_bytes(free as i64),
                format_bytes(needed as i64)
            ),
        ));
    }
    tempfile::Builder::new()
        .prefix(".campctl-restore-")
        .suffix(".dump")
        .tempfile_in(dir)
        .map_err(|err| {
            UserError::usage(format!("Failed to create a spool file in `{}`: {err}", dir.display()))
                .with_hint(
                    "Pass `--spool-dir DIR` naming a writable directory, or `--jobs 1` to stream without a spool file",
                )
                .into()
        })
}

/// The spool directory is the operator's to fix (exit 2): `what` says why.
pub(super) fn spool_too_small(dir: &Path, what: &str) -> anyhow::Error {
    UserError::usage(format!("The spool directory `{}` {what}", dir.display()))
        .with_hint("Pass `--spool-dir DIR` on a larger disk, or `--jobs 1` to stream without a spool file")
        .into()
}
