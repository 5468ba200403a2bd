//! The tar side of `backup files`: walks the source directory in sorted order and writes each entry the way GNU tar
//! does, for a live directory whose files change while they are read.
//!
//! - A regular file gets exactly the size its header declares ([`ExactReader`]): if it grew, the copy stops at that
//!   size; if it shrank, the rest is padded with zeros. Otherwise the bytes after the header would not match it, and
//!   GNU tar would read appended data as further entries or stop with "Unexpected EOF". Such a file, and one whose
//!   size or modification time differs after the read, is reported as changed ("file changed as we read it").
//! - A file or directory that vanished between listing and opening is left out and reported.
//! - The second and later names of one (device, inode) are stored as hard-link entries to the first name.
//! - FIFOs, sockets and device files are never opened: they are left out and reported as special files.
//!
//! A sparse file is stored as a GNU sparse entry (its data regions; holes extract as holes), like `tar --sparse`; the
//! same size rules hold for each region.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};

use fs_err::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;

use super::exact::{Copied, ExactReader};
use super::sparse::{SparseData, data_regions, sparse_header};

/// A special file left out of the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct SpecialFile {
    pub path: String,
    /// `fifo`, `socket`, `character device` or `block device`.
    pub kind: &'static str,
}

/// What the walk found besides the entries it wrote.
#[derive(Debug, Default)]
pub(crate) struct Walked {
    /// Files, symlinks and hard links written (every name counts).
    pub file_count: u64,
    /// Bytes of file data written (a hard-linked file counts once).
    pub file_bytes: u64,
    /// Names written as hard links to an earlier name.
    pub hard_links: u64,
    /// Files and directories that could not be read (permission denied).
    pub unreadable: Vec<String>,
    /// Files that grew, shrank or were modified while read: stored at their size when opened.
    pub changed: Vec<String>,
    /// Files and directories that were listed and gone when opened: left out.
    pub vanished: Vec<String>,
    /// FIFOs, sockets and device files: left out.
    pub special: Vec<SpecialFile>,
}

/// The entries of a directory, sorted by name.
fn list(dir: &Path) -> io::Result<Vec<fs_err::DirEntry>> {
    let mut entries: Vec<_> = fs_err::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(fs_err::DirEntry::file_name);
    Ok(entries)
}

fn special_kind(kind: std::fs::FileType) -> &'static str {
    if kind.is_fifo() {
        "fifo"
    } else if kind.is_socket() {
        "socket"
    } else if kind.is_char_device() {
        "character device"
    } else if kind.is_block_device() {
        "block device"
    } else {
        "unknown type"
    }
}

fn is_gone(err: &io::Error) -> bool {
    // ENOTDIR: a directory on the way was replaced by a file.
    err.kind() == io::ErrorKind::NotFound || err.raw_os_error() == Some(libc::ENOTDIR)
}

/// Walks `source` into `builder` under the top directory `root_name`.
///
/// # Errors
/// The source cannot be listed, or reading a file or writing the archive failed.
pub(crate) fn walk_source<W: Write>(
    builder: &mut tar::Builder<W>,
    source: &Path,
    root_name: &str,
) -> anyhow::Result<Walked> {
    let entries = list(source).with_context(|| format!("Failed to read `{}`", source.display()))?;
    builder
        .append_dir(root_name, source)
        .with_context(|| format!("Failed to read `{}`", source.display()))?;
    let mut walker = Walker {
        builder,
        walked: Walked::default(),
        first_names: HashMap::new(),
    };
    walker.walk(entries, Path::new(root_name))?;
    Ok(walker.walked)
}

struct Walker<'a, W: Write> {
    builder: &'a mut tar::Builder<W>,
    walked: Walked,
    /// (device, inode) of each multiply linked file written → its name in the archive.
    first_names: HashMap<(u64, u64), PathBuf>,
}

impl<W: Write> Walker<'_, W> {
    fn walk(&mut self, entries: Vec<fs_err::DirEntry>, name: &Path) -> anyhow::Result<()> {
        for entry in entries {
            let path = entry.path();
            let entry_name = name.join(entry.file_name());
            let kind = match entry.file_type() {
                Ok(kind) => kind,
                Err(err) if is_gone(&err) => {
                    self.vanished(&path, &err);
                    continue;
                }
                Err(err) => return Err(err.into()),
            };
            if kind.is_symlink() {
                self.symlink(&path, &entry_name)?;
            } else if kind.is_dir() {
                self.directory(&path, &entry_name)?;
            } else if kind.is_file() {
                self.file(&path, &entry_name)?;
            } else {
                self.special(&path, special_kind(kind));
            }
        }
        Ok(())
    }

    fn vanished(&mut self, path: &Path, err: &dyn std::fmt::Display) {
        tracing::warn!("`{}` vanished during the backup: {err}", path.display());
        self.walked.vanished.push(path.display().to_string());
    }

    fn special(&mut self, path: &Path, kind: &'static str) {
        tracing::warn!("skipping `{}`: a {kind} is not archived", path.display());
        self.walked.special.push(SpecialFile {
            path: path.display().to_string(),
            kind,
        });
    }

    fn symlink(&mut self, path: &Path, entry_name: &Path) -> anyhow::Result<()> {
        let read = fs_err::symlink_metadata(path).and_then(|meta| Ok((meta, fs_err::read_link(path)?)));
        let (meta, target) = match read {
            Ok(read) => read,
            Err(err) if is_gone(&err) => {
                self.vanished(path, &err);
                return Ok(());
            }
            Err(err) => return Err(err.into()),
        };
        if !meta.file_type().is_symlink() {
            self.vanished(path, &"replaced by another kind of file");
            return Ok(());
        }
        let mut header = tar::Header::new_gnu();
        header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
        self.builder.append_link(&mut header, entry_name, target)?;
        self.walked.file_count += 1;
        Ok(())
    }

    fn directory(&mut self, path: &Path, entry_name: &Path) -> anyhow::Result<()> {
        // Listed before its entry is written, so a directory that vanished is left out entirely.
        let entries = match list(path) {
            Ok(entries) => entries,
            Err(err) if is_gone(&err) => {
                self.vanished(path, &err);
                return Ok(());
            }
            Err(err) if err.kind() == io::ErrorKind::PermissionDenied => {
                self.walked.unreadable.push(path.display().to_string());
                return Ok(());
            }
            Err(err) => return Err(err.into()),
        };
        let meta = match fs_err::symlink_metadata(path) {
            Ok(meta) if meta.is_dir() => meta,
            Ok(_) => {
                self.vanished(path, &"replaced by another kind of file");
                return Ok(());
            }
            Err(err) if is_gone(&err) => {
                self.vanished(path, &err);
                return Ok(());
            }
            Err(err) => return Err(err.into()),
        };
        let mut header = tar::Header::new_gnu();
        header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
        self.builder.append_data(&mut header, entry_name, io::empty())?;
        self.walk(entries, entry_name)
    }

    fn file(&mut self, path: &Path, entry_name: &Path) -> anyhow::Result<()> {
        // O_NONBLOCK: should the name have become a FIFO since it was listed, opening it must not wait for a writer.
        let opened = fs_err::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .and_then(|file| Ok((file.metadata()?, file)));
        let (meta, file) = match opened {
            Ok(opened) => opened,
            Err(err) if is_gone(&err) => {
                self.vanished(path, &err);
                return Ok(());
            }
            Err(err) if err.kind() == io::ErrorKind::PermissionDenied => {
                tracing::warn!("cannot read `{}`: {err}", path.display());
                self.walked.unreadable.push(path.display().to_string());
                return Ok(());
            }
            Err(err) => return Err(err).with_context(|| format!("Failed to read `{}`", path.display())),
        };
        if !meta.is_file() {
            self.vanished(path, &"replaced by another kind of file");
            return Ok(());
        }
        let inode = (meta.dev(), meta.ino());
        if meta.nlink() > 1
            && let Some(first) = self.first_names.get(&inode)
        {
            let mut header = tar::Header::new_gnu();
            header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
            header.set_entry_type(tar::EntryType::Link);
            header.set_size(0);
            let first = first.clone();
            self.builder.append_link(&mut header, entry_name, first)?;
            self.walked.file_count += 1;
            self.walked.hard_links += 1;
            return Ok(());
        }
        let length = meta.len();
        let mut header = tar::Header::new_gnu();
        header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
        let copied = if let Some(regions) = data_regions(file.file(), &meta, length) {
            let extensions = sparse_header(&mut header, &regions, length);
            let mut data = SparseData {
                file: file.file(),
                regions: regions.into(),
                current: None,
                missing: 0,
            };
            self.builder
                .append_data(&mut header, entry_name, io::Cursor::new(extensions).chain(&mut data))
                .with_context(|| format!("Failed to read `{}`", path.display()))?;
            // A sparse file that grew shows in its size after the read.
            if data.missing > 0 {
                Copied::Shrank(data.missing)
            } else {
                Copied::Exact
            }
        } else {
            // Mapping the holes may have moved the offset.
            io::Seek::seek(&mut file.file(), io::SeekFrom::Start(0))?;
            let mut reader = ExactReader::new(file.file(), length);
            self.builder
                .append_data(&mut header, entry_name, &mut reader)
                .with_context(|| format!("Failed to read `{}`", path.display()))?;
            reader.copied()
        };
        let after = file.metadata()?;
        let modified =
            after.len() != length || after.mtime() != meta.mtime() || after.mtime_nsec() != meta.mtime_nsec();
        if copied != Copied::Exact || modified {
            let how = match copied {
                Copied::Shrank(missing) => format!("it shrank by {missing} byte(s), padded with zeros"),
                Copied::Grew => "it grew; stored at its size when opened".to_string(),
                Copied::Exact => "it was modified".to_string(),
            };
            tracing::warn!("`{}`: file changed as we read it ({how})", path.display());
            self.walked.changed.push(path.display().to_string());
        }
        if meta.nlink() > 1 {
            self.first_names.insert(inode, entry_name.to_path_buf());
        }
        self.walked.file_count += 1;
        self.walked.file_bytes += length;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Yields its bytes a few at a time, as a file read in pieces does.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(3);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn copy(data: &[u8], length: u64) -> (Vec<u8>, Copied) {
        let mut reader = ExactReader::new(Trickle(data), length);
        let mut out = Vec::new();
        io::copy(&mut reader, &mut out).expect("copy");
        (out, reader.copied())
    }

    #[test]
    fn exactly_the_declared_length_is_copied() {
        assert_eq!(copy(b"hello", 5), (b"hello".to_vec(), Copied::Exact));
        assert_eq!(copy(b"", 0), (Vec::new(), Copied::Exact));
    }

    #[test]
    fn a_file_that_grew_stops_at_the_declared_length() {
        assert_eq!(copy(b"hello, world", 5), (b"hello".to_vec(), Copied::Grew));
        assert_eq!(copy(b"x", 0), (Vec::new(), Copied::Grew));
    }

    #[test]
    fn a_file_that_shrank_is_padded_with_zeros() {
        assert_eq!(copy(b"hel", 8), (b"hel\0\0\0\0\0".to_vec(), Copied::Shrank(5)));
        assert_eq!(copy(b"", 4), (vec![0; 4], Copied::Shrank(4)));
    }

    #[test]
    fn an_entry_that_changed_leaves_a_tar_that_reads_back_completely() {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, data, length) in [
            ("grew", &b"abcdefgh"[..], 4u64),
            ("shrank", b"ab", 700),
            ("next", b"ok", 2),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(length);
            header.set_mode(0o644);
            builder
                .append_data(&mut header, name, ExactReader::new(Trickle(data), length))
                .expect("append");
        }
        let bytes = builder.into_inner().expect("finish");
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut seen = Vec::new();
        for entry in archive.entries().expect("entries") {
            let mut entry = entry.expect("entry");
            let mut data = Vec::new();
            entry.read_to_end(&mut data).expect("data");
            seen.push((entry.path().expect("path").display().to_string(), data.len()));
        }
        assert_eq!(
            seen,
            [
                ("grew".to_string(), 4),
                ("shrank".to_string(), 700),
                ("next".to_string(), 2)
            ]
        );
    }

    #[test]
    fn a_sparse_file_is_stored_as_its_data_regions_and_gnu_tar_restores_it() {
        use std::io::{Seek as _, SeekFrom};
        let dir = tempfile::tempdir().expect("tempdir");
        let source = dir.path().join("src");
        fs_err::create_dir(&source).expect("dir");
        // Holes at the start, between the regions and at the end; more regions than fit in the first header.
        let mut file = fs_err::File::create(source.join("sparse.img")).expect("create");
        for region in 0..6u64 {
            file.seek(SeekFrom::Start((1 + 2 * region) << 20)).expect("seek");
            file.write_all(&vec![b'a' + region as u8; 5000]).expect("write");
        }
        file.set_len(16 << 20).expect("set_len");
        drop(file);
        fs_err::write(source.join("plain.txt"), "dense\n").expect("write");
        let mut builder = tar::Builder::new(Vec::new());
        let walked = walk_source(&mut builder, &source, "src").expect("walk");
        assert!(walked.changed.is_empty(), "{walked:?}");
        assert_eq!(walked.file_bytes, (16 << 20) + 6);
        let archive = builder.into_inner().expect("finish");
        let sparse = |path: &Path| fs_err::metadata(path).expect("stat").blocks() * 512 < 1 << 20;
        assert!(sparse(&source.join("sparse.img")), "the file system keeps holes");
        assert!(
            archive.len() < 1 << 20,
            "the holes are not stored: {} bytes",
            archive.len()
        );
        let archive_path = dir.path().join("a.tar");
        fs_err::write(&archive_path, &archive).expect("write archive");
        let out = dir.path().join("out");
        fs_err::create_dir(&out).expect("dir");
        let tar = std::process::Command::new("tar")
            .arg("-xf")
            .arg(&archive_path)
            .arg("-C")
            .arg(&out)
            .output()
            .expect("run GNU tar");
        assert!(tar.status.success() && tar.stderr.is_empty(), "{tar:?}");
        for name in ["sparse.img", "plain.txt"] {
            assert!(
                fs_err::read(out.join("src").join(name)).expect("extracted")
                    == fs_err::read(source.join(name)).expect("source"),
                "{name} differs"
            );
        }
        assert!(sparse(&out.join("src/sparse.img")), "GNU tar restores the holes");
    }
}
