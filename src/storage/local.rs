//! The local directory store: `<root>/<name>`, written as `<name>.partial`, fsynced, and renamed into place.
//!
//! tokio's `fs` feature is not enabled (and its file I/O is `spawn_blocking` underneath anyway), so blocking file
//! operations run in `spawn_blocking` here (`blocking`).
//!
//! This file is the store: naming, reading, listing, deleting. Writing one object (the partial file, batched writes,
//! fsync, the link into place) is [`LocalUpload`] in `local/upload.rs`. Nothing here may leave a half-written file
//! under an object's name: every write goes through an upload.

mod upload;

pub use upload::LocalUpload;

use std::collections::BTreeMap;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream, StreamExt as _};

use super::{ObjectInfo, StoreError};

/// Bytes read per item of a download stream.
const READ_CHUNK: usize = 1 << 20;
/// The suffix of files being written.
pub(super) const PARTIAL_SUFFIX: &str = ".partial";
/// The folder of lock files, never listed.
pub(crate) const LOCKS_DIR: &str = "locks";

/// A local directory store.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

/// Runs blocking file work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| anyhow::anyhow!("a file task failed: {err}"))?
}

/// Creates `dir` and its parents with mode 0700 (a store holds whole databases).
pub(crate) fn create_dirs(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// fsyncs a directory, so that a rename or link in it survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    fs_err::File::open(dir)?.sync_all()?;
    Ok(())
}

impl LocalStore {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn label(&self) -> String {
        format!("local:{}", self.root.display())
    }

    /// The path of an object, refusing names that would leave the store.
    pub(crate) fn path_of(&self, name: &str) -> anyhow::Result<PathBuf> {
        let valid = !name.is_empty()
            && !name.starts_with('/')
            && name
                .split('/')
                .all(|part| !part.is_empty() && part != "." && part != "..")
            && !name.ends_with(PARTIAL_SUFFIX)
            && !name.contains('\0');
        if !valid {
            anyhow::bail!(
                "`{name}` is not a valid object name in {}: use relative `/`-separated names without `.`, `..` or a \
                 `{PARTIAL_SUFFIX}` suffix",
                self.label()
            );
        }
        Ok(self.root.join(name))
    }

    fn not_found(&self, name: &str) -> anyhow::Error {
        StoreError::NotFound {
            store: self.label(),
            name: name.to_string(),
        }
        .into()
    }

    pub async fn begin_upload(&self, name: &str) -> anyhow::Result<LocalUpload> {
        let target = self.path_of(name)?;
        let dir = target.parent().map_or_else(|| self.root.clone(), Path::to_path_buf);
        LocalUpload::begin(self.label(), name, target, dir).await
    }

    /// Writes a small object through a partial file (`replace`: rename over it; else fail if it exists).
    pub async fn put(&self, name: &str, bytes: Bytes, replace: bool) -> anyhow::Result<ObjectInfo> {
        let mut upload = self.begin_upload(name).await?;
        if let Err(err) = upload.write(bytes).await {
            upload.abort().await;
            return Err(err);
        }
        if replace {
            upload.commit_replacing().await
        } else {
            upload.commit().await
        }
    }

    pub async fn get(&self, name: &str) -> anyhow::Result<Bytes> {
        let path = self.path_of(name)?;
        let read = blocking(move || match fs_err::read(&path) {
            Ok(bytes) => Ok(Some(Bytes::from(bytes))),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(anyhow::Error::new(err).context(format!("Failed to read `{}`", path.display()))),
        })
        .await?;
        read.ok_or_else(|| self.not_found(name))
    }

    pub async fn download(&self, name: &str) -> anyhow::Result<BoxStream<'static, anyhow::Result<Bytes>>> {
        let path = self.path_of(name)?;
        let open_path = path.clone();
        let file = blocking(move || match fs_err::File::open(&open_path) {
            Ok(file) => Ok(Some(file)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(anyhow::Error::new(err).context(format!("Failed to open `{}`", open_path.display()))),
        })
        .await?
        .ok_or_else(|| self.not_found(name))?;
        // One chunk read ahead at most: the stream holds the file and reads the next chunk when polled.
        let stream = stream::try_unfold((file, path), |(file, path)| async move {
            let (file, chunk) = blocking(move || {
                use std::io::Read as _;
                let mut file = file;
                let mut buffer = vec![0u8; READ_CHUNK];
                let mut filled = 0;
                while filled < buffer.len() {
                    match file.read(&mut buffer[filled..]) {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(err) => return Err(anyhow::Error::new(err).context("Failed to read a local backup")),
                    }
                }
                buffer.truncate(filled);
                Ok((file, buffer))
            })
            .await
            .map_err(|err| err.context(format!("Failed to read `{}`", path.display())))?;
            if chunk.is_empty() {
                return Ok(None);
            }
            Ok(Some((Bytes::from(chunk), (file, path))))
        });
        Ok(stream.boxed())
    }

    pub async fn list(&self, prefix: &str) -> anyhow::Result<Vec<ObjectInfo>> {
        let root = self.root.clone();
        let prefix = prefix.to_string();
        blocking(move || {
            let mut objects = Vec::new();
            if root.is_dir() {
                walk(&root, "", &prefix, &mut objects)?;
            }
            objects.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(objects)
        })
        .await
    }

    /// The `*.partial` files directly in `folder` (e.g. `appdb`) last modified before `before`: what runs killed
    /// mid-upload (SIGKILL, a crash) left behind. Nothing lists or removes them otherwise; a caller that holds the
    /// folder's lock knows that none of them is being written.
    ///
    /// # Errors
    /// The folder exists but cannot be read.
    pub async fn leftover_partials(
        &self,
        folder: &str,
        before: std::time::SystemTime,
    ) -> anyhow::Result<Vec<(PathBuf, std::time::SystemTime)>> {
        let dir = self.path_of(folder)?;
        blocking(move || {
            let entries = match fs_err::read_dir(&dir) {
                Ok(entries) => entries,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(err) => return Err(anyhow::Error::new(err).context(format!("Failed to list `{}`", dir.display()))),
            };
            let mut found = Vec::new();
            for entry in entries.flatten() {
                let path = entry.path();
                let partial = path
                    .file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(|name| name.ends_with(PARTIAL_SUFFIX));
                let modified = entry
                    .metadata()
                    .ok()
                    .filter(std::fs::Metadata::is_file)
                    .and_then(|m| m.modified().ok());
                if let (true, Some(modified)) = (partial, modified)
                    && modified < before
                {
                    found.push((path, modified));
                }
            }
            found.sort();
            Ok(found)
        })
        .await
    }

    /// Removes one `*.partial` file that [`Self::leftover_partials`] found: only a file under this store's root
    /// whose name ends in `.partial` (a path anywhere else is refused). A file already gone is not an error.
    ///
    /// # Errors
    /// The path is not a partial file of this store, or it cannot be removed.
    pub async fn remove_partial(&self, path: &Path) -> anyhow::Result<()> {
        let inside = path.starts_with(&self.root)
            && path
                .strip_prefix(&self.root)
                .is_ok_and(|rest| rest.components().all(|c| matches!(c, std::path::Component::Normal(_))))
            && path
                .file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.ends_with(PARTIAL_SUFFIX));
        if !inside {
            anyhow::bail!("`{}` is not a partial file of {}", path.display(), self.label());
        }
        let path = path.to_path_buf();
        blocking(move || match fs_err::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(anyhow::Error::new(err).context(format!("Failed to delete `{}`", path.display()))),
        })
        .await
    }

    pub async fn delete(&self, name: &str) -> anyhow::Result<()> {
        let path = self.path_of(name)?;
        let removed = blocking(move || match fs_err::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(err) => Err(anyhow::Error::new(err).context(format!("Failed to delete `{}`", path.display()))),
        })
        .await?;
        if removed { Ok(()) } else { Err(self.not_found(name)) }
    }
}

/// Lists `dir` (`relative` to the root) recursively into `objects`, keeping names that start with `prefix`.
fn walk(dir: &Path, relative: &str, prefix: &str, objects: &mut Vec<ObjectInfo>) -> anyhow::Result<()> {
    for entry in fs_err::read_dir(dir)? {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            tracing::debug!("skipping `{}`: not UTF-8", entry.path().display());
            continue;
        };
        let name = format!("{relative}{file_name}");
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            if relative.is_empty() && file_name == LOCKS_DIR {
                continue;
            }
            let folder = format!("{name}/");
            // Descend only where names can still match the prefix.
            if folder.starts_with(prefix) || prefix.starts_with(&folder) {
                walk(&entry.path(), &folder, prefix, objects)?;
            }
        } else if file_type.is_file() && !name.ends_with(PARTIAL_SUFFIX) && name.starts_with(prefix) {
            let metadata = entry.metadata()?;
            objects.push(ObjectInfo {
                name,
                size: metadata.len(),
                last_modified: metadata.modified().ok().map(DateTime::<Utc>::from),
                metadata: BTreeMap::new(),
            });
        }
    }
    Ok(())
}
