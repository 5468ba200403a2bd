//! Sparse files in `backup files`: their data regions (`SEEK_DATA` / `SEEK_HOLE`), stored as a GNU sparse entry as
//! `tar --sparse` stores them, each region read under the same stop-or-pad size rule as a whole file.

use std::io::{self, Read};
use std::os::unix::fs::MetadataExt as _;

use super::exact::{Copied, ExactReader};

/// The data regions `(offset, length)` of a sparse file up to `length` (its size when opened), or `None` when it is
/// not sparse, the file system cannot tell, or the file changed while it was mapped: then it is copied whole.
pub(super) fn data_regions(file: &std::fs::File, meta: &std::fs::Metadata, length: u64) -> Option<Vec<(u64, u64)>> {
    // Fewer blocks than the size needs: the only files worth mapping (GNU tar's test as well).
    if length == 0 || meta.blocks().saturating_mul(512) >= length {
        return None;
    }
    let mut regions = Vec::new();
    let mut offset = 0;
    while offset < length {
        let Some(start) = crate::os::seek_data_or_hole(file, offset, true).ok()? else {
            break;
        };
        if start >= length {
            break;
        }
        let end = crate::os::seek_data_or_hole(file, start, false)
            .ok()?
            .unwrap_or(length)
            .min(length);
        if end <= start {
            return None;
        }
        regions.push((start, end - start));
        offset = end;
    }
    (regions != [(0, length)]).then_some(regions)
}

/// The data of a sparse entry: each region read at its offset through an [`ExactReader`], so that a file that
/// shrank is padded and one that grew is cut at the mapped regions.
pub(super) struct SparseData<'a> {
    pub file: &'a std::fs::File,
    pub regions: std::collections::VecDeque<(u64, u64)>,
    pub current: Option<ExactReader<io::Take<&'a std::fs::File>>>,
    pub missing: u64,
}

impl Read for SparseData<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(current) = &mut self.current {
                let read = current.read(buf)?;
                if read > 0 || buf.is_empty() {
                    return Ok(read);
                }
                if let Copied::Shrank(missing) = current.copied() {
                    self.missing += missing;
                }
                self.current = None;
            }
            let Some((offset, length)) = self.regions.pop_front() else {
                return Ok(0);
            };
            let mut file = self.file;
            io::Seek::seek(&mut file, io::SeekFrom::Start(offset))?;
            self.current = Some(ExactReader::new(file.take(length), length));
        }
    }
}

/// A GNU sparse header for `regions` of a file of `length` bytes, and the extension blocks that follow it.
pub(super) fn sparse_header(header: &mut tar::Header, regions: &[(u64, u64)], length: u64) -> Vec<u8> {
    // A last empty region at the end, as GNU tar writes it (needed when the file ends in a hole).
    let mut all: Vec<(u64, u64)> = regions.to_vec();
    all.push((length, 0));
    header.set_entry_type(tar::EntryType::GNUSparse);
    header.set_size(regions.iter().map(|(_, len)| len).sum());
    let mut rest = all.iter().peekable();
    if let Some(gnu) = header.as_gnu_mut() {
        gnu.set_real_size(length);
        for slot in &mut gnu.sparse {
            let Some((offset, len)) = rest.next() else { break };
            slot.set_offset(*offset);
            slot.set_length(*len);
        }
        gnu.set_is_extended(rest.peek().is_some());
    }
    let mut extensions = Vec::new();
    while rest.peek().is_some() {
        let mut extension = tar::GnuExtSparseHeader::new();
        for slot in extension.sparse_mut() {
            let Some((offset, len)) = rest.next() else { break };
            slot.set_offset(*offset);
            slot.set_length(*len);
        }
        extension.set_is_extended(rest.peek().is_some());
        extensions.extend_from_slice(extension.as_bytes());
    }
    extensions
}
