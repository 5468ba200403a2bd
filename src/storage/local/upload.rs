//! One object being written to the local store: `<name>.partial`, written in batches of [`WRITE_BATCH`] off the
//! async threads, fsynced, then hard-linked to its name (which fails if the name exists, so two writers cannot
//! overwrite each other) and the directory fsynced.
//!
//! An upload dropped without [`LocalUpload::commit`] or [`LocalUpload::abort`] (a cancelled task, Ctrl-C) removes its
//! partial file. It must never write under the object's own name before the data is complete and on disk, and never
//! replace an existing object except through `put(.., replace: true)`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};

use super::{PARTIAL_SUFFIX, blocking, create_dirs, sync_dir};
use crate::storage::errors::is_no_space;
use crate::storage::{ObjectInfo, StoreError};

/// Bytes gathered before one blocking write.
const WRITE_BATCH: usize = 1 << 20;

/// An upload to the local store: `<name>.partial` until [`LocalUpload::commit`].
pub struct LocalUpload {
    label: String,
    name: String,
    dir: PathBuf,
    target: PathBuf,
    partial: PathBuf,
    /// `None` only while a blocking write owns it, or after a failure.
    file: Option<std::fs::File>,
    pending: BytesMut,
    written: u64,
    done: bool,
}

/// An I/O error as [`StoreError::NoSpace`] when the disk is full, else with `action` as context.
fn no_space_or(err: std::io::Error, label: &str, action: &str) -> anyhow::Error {
    if is_no_space(&err) {
        StoreError::NoSpace {
            store: label.to_string(),
        }
        .into()
    } else {
        anyhow::Error::new(err).context(format!("Failed to {action}"))
    }
}

impl std::fmt::Debug for LocalUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalUpload")
            .field("partial", &self.partial)
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

impl LocalUpload {
    /// Opens (and truncates) `<target>.partial` in `dir`, creating `dir` with mode 0700.
    pub(super) async fn begin(label: String, name: &str, target: PathBuf, dir: PathBuf) -> anyhow::Result<Self> {
        let partial = PathBuf::from(format!("{}{PARTIAL_SUFFIX}", target.display()));
        let (open_label, open_dir, open_partial) = (label.clone(), dir.clone(), partial.clone());
        let file = blocking(move || {
            create_dirs(&open_dir)
                .map_err(|err| no_space_or(err, &open_label, &format!("create `{}`", open_dir.display())))?;
            // Truncate a partial a crashed run left behind: the store's lock keeps two runs from one name.
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&open_partial)
                .map_err(|err| no_space_or(err, &open_label, &format!("create `{}`", open_partial.display())))?;
            Ok(file)
        })
        .await?;
        Ok(Self {
            label,
            name: name.to_string(),
            dir,
            target,
            partial,
            file: Some(file),
            pending: BytesMut::new(),
            written: 0,
            done: false,
        })
    }

    pub async fn write(&mut self, chunk: Bytes) -> anyhow::Result<()> {
        self.written += chunk.len() as u64;
        self.pending.extend_from_slice(&chunk);
        if self.pending.len() >= WRITE_BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Writes the pending bytes; on ENOSPC removes the partial and fails with [`StoreError::NoSpace`].
    async fn flush(&mut self) -> anyhow::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let data = self.pending.split().freeze();
        let mut file = self
            .file
            .take()
            .ok_or_else(|| anyhow::anyhow!("the upload to {} already failed", self.label))?;
        let (label, partial) = (self.label.clone(), self.partial.clone());
        let file = blocking(move || {
            file.write_all(&data)
                .map_err(|err| no_space_or(err, &label, &format!("write `{}`", partial.display())))?;
            Ok(file)
        })
        .await;
        match file {
            Ok(file) => {
                self.file = Some(file);
                Ok(())
            }
            Err(err) => {
                self.remove_partial().await;
                Err(err)
            }
        }
    }

    /// Flushes and fsyncs the partial file.
    async fn finish_file(&mut self) -> anyhow::Result<()> {
        self.flush().await?;
        let file = self
            .file
            .take()
            .ok_or_else(|| anyhow::anyhow!("the upload to {} already failed", self.label))?;
        let (label, partial) = (self.label.clone(), self.partial.clone());
        let synced = blocking(move || {
            file.sync_all()
                .map_err(|err| no_space_or(err, &label, &format!("fsync `{}`", partial.display())))
        })
        .await;
        if let Err(err) = synced {
            self.remove_partial().await;
            return Err(err);
        }
        Ok(())
    }

    /// Flush, fsync, then link the partial to its name (which fails if the name exists), remove the partial and
    /// fsync the directory.
    pub async fn commit(mut self) -> anyhow::Result<ObjectInfo> {
        self.finish_file().await?;
        let (partial, target, dir, label) = (
            self.partial.clone(),
            self.target.clone(),
            self.dir.clone(),
            self.label.clone(),
        );
        let linked = blocking(move || {
            // The errno decides the fallback (EPERM, not EACCES: both are `PermissionDenied`), and fs-err keeps only
            // the kind.
            #[expect(
                clippy::disallowed_methods,
                reason = "the raw OS error is needed; the error below names the path"
            )]
            let linked = std::fs::hard_link(&partial, &target);
            match linked {
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
                // Filesystems without hard links: rename after a check (the store's lock keeps others out).
                Err(err) if matches!(err.raw_os_error(), Some(libc::EPERM | libc::ENOTSUP | libc::EXDEV)) => {
                    if target.exists() {
                        return Ok(false);
                    }
                    fs_err::rename(&partial, &target)?;
                }
                Err(err) => {
                    return Err(no_space_or(err, &label, &format!("link `{}`", target.display())));
                }
            }
            if partial.exists() {
                fs_err::remove_file(&partial)?;
            }
            sync_dir(&dir)?;
            Ok(true)
        })
        .await;
        match linked {
            Ok(true) => {
                self.done = true;
                self.info().await
            }
            Ok(false) => {
                self.remove_partial().await;
                Err(StoreError::AlreadyExists {
                    store: self.label.clone(),
                    name: self.name.clone(),
                }
                .into())
            }
            Err(err) => {
                self.remove_partial().await;
                Err(err)
            }
        }
    }

    /// Like [`Self::commit`] but renames over an existing object.
    pub(super) async fn commit_replacing(mut self) -> anyhow::Result<ObjectInfo> {
        self.finish_file().await?;
        let (partial, target, dir) = (self.partial.clone(), self.target.clone(), self.dir.clone());
        let renamed = blocking(move || {
            fs_err::rename(&partial, &target)?;
            sync_dir(&dir)
        })
        .await;
        if let Err(err) = renamed {
            self.remove_partial().await;
            return Err(err);
        }
        self.done = true;
        self.info().await
    }

    async fn info(&self) -> anyhow::Result<ObjectInfo> {
        let target = self.target.clone();
        let metadata = blocking(move || Ok(fs_err::metadata(&target)?)).await?;
        Ok(ObjectInfo {
            name: self.name.clone(),
            size: metadata.len(),
            last_modified: metadata.modified().ok().map(DateTime::<Utc>::from),
            metadata: BTreeMap::new(),
        })
    }

    async fn remove_partial(&mut self) {
        self.done = true;
        self.file = None;
        let partial = self.partial.clone();
        let _ = blocking(move || match fs_err::remove_file(&partial) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => {
                tracing::warn!("Failed to remove `{}`: {err}", partial.display());
                Ok(())
            }
        })
        .await;
    }

    pub async fn abort(mut self) {
        self.remove_partial().await;
    }
}

impl Drop for LocalUpload {
    /// An upload dropped without commit or abort (a cancelled task, Ctrl-C) removes its partial file.
    fn drop(&mut self) {
        if !self.done {
            self.file = None;
            let _ = fs_err::remove_file(&self.partial);
        }
    }
}
