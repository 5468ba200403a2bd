//! [`ArchiveScanner`]: the state machine that walks an archive as its bytes arrive, in pushes of any size.
//!
//! It holds state because the stream arrives in arbitrary pieces: the bytes of an unfinished header or TOC entry
//! (kept until the item can be parsed whole), or of an integer split between two pushes, and where it is in the
//! current block. Chunk payloads, almost all of the bytes, are never copied: they are counted in place.

use std::collections::HashMap;

use super::data::DataStream;
use super::format::{self, BLK_BLOBS, BLK_DATA, Cursor, Header, ParseError, TocEntry};
use super::{ArchiveError, ArchiveSummary, RowCounting, ScanOptions, TableData};

/// Room for the longest fixed-size item: a block header (type byte, then an integer of at most 1 + 8 bytes).
const PENDING: usize = 10;
/// Size of the decompression buffer.
const SCRATCH: usize = 64 * 1024;

/// Where the scanner is in the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header,
    TocCount,
    Toc {
        remaining: u64,
    },
    /// At a block boundary: a block header follows, or the end of the archive.
    BlockHeader,
    /// In a block (or a large object): a chunk length follows; zero ends the data.
    ChunkLength,
    /// In a chunk: this many payload bytes follow.
    Payload {
        remaining: u64,
    },
    /// In a `BLOBS` block: a large object's OID follows; zero ends the block.
    LargeObjectOid,
}

/// The block being read.
struct Block {
    /// Index into `ArchiveScanner::data_entries`.
    entry: usize,
    /// The current table data, or the current large object's data.
    stream: DataStream,
}

/// Validates and measures a custom-format archive fed to it in pieces; see the [module docs](super).
pub struct ArchiveScanner {
    options: ScanOptions,
    state: State,
    /// Bytes parsed so far: the offset of the next item.
    offset: u64,
    /// Bytes pushed so far.
    received: u64,
    /// Header and TOC bytes not parsed yet, and how long they must be before parsing is worth retrying.
    head: Vec<u8>,
    head_need: usize,
    /// The start of a fixed-size item split across pushes.
    pending: [u8; PENDING],
    pending_len: usize,
    header: Option<Header>,
    /// Bytes of an integer: the sign byte and the header's integer size.
    int_width: usize,
    toc_entries: usize,
    /// The TOC entries that announce data, in TOC order, and their indexes by dump ID.
    data_entries: Vec<TocEntry>,
    by_dump_id: HashMap<i64, usize>,
    /// The index in `data_entries` whose block comes next.
    next_entry: usize,
    block: Option<Block>,
    tables: Vec<TableData>,
    large_objects: u64,
    data_decoded: bool,
    scratch: Vec<u8>,
    /// The first error: every later call returns it again.
    failed: Option<ArchiveError>,
}

impl ArchiveScanner {
    pub fn new(options: ScanOptions) -> Self {
        Self {
            options,
            state: State::Header,
            offset: 0,
            received: 0,
            head: Vec::new(),
            head_need: 0,
            pending: [0; PENDING],
            pending_len: 0,
            header: None,
            int_width: 0,
            toc_entries: 0,
            data_entries: Vec::new(),
            by_dump_id: HashMap::new(),
            next_entry: 0,
            block: None,
            tables: Vec::new(),
            large_objects: 0,
            data_decoded: true,
            scratch: Vec::new(),
            failed: None,
        }
    }

    /// Scans the next bytes of the stream, which may be cut anywhere.
    ///
    /// # Errors
    /// As soon as the bytes cannot be the continuation of a custom-format archive: [`ArchiveError::NotAnArchive`],
    /// [`ArchiveError::WrongFormat`], [`ArchiveError::UnsupportedVersion`] or [`ArchiveError::Malformed`]. After an
    /// error, every call returns the same error.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), ArchiveError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        self.received += chunk.len() as u64;
        let result = self.feed(chunk);
        if let Err(error) = &result {
            self.failed = Some(error.clone());
        }
        result
    }

    /// Ends the stream and returns what the archive holds.
    ///
    /// # Errors
    /// [`ArchiveError::Truncated`] unless the stream ended exactly after the last data block the TOC announced (see
    /// the [module docs](super)); the error of an earlier [`Self::push`].
    pub fn finish(mut self) -> Result<ArchiveSummary, ArchiveError> {
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        let what = match self.state {
            State::Header if self.received == 0 => "before its header (the stream is empty)".to_owned(),
            State::Header => "inside its header".to_owned(),
            State::TocCount | State::Toc { .. } => format!(
                "inside its table of contents, after {} {}",
                self.toc_entries,
                if self.toc_entries == 1 { "entry" } else { "entries" }
            ),
            State::BlockHeader if self.pending_len > 0 => format!(
                "inside the block header of {}",
                self.data_entries
                    .get(self.next_entry)
                    .map_or_else(|| "a data block".to_owned(), describe)
            ),
            State::BlockHeader => match self.data_entries.get(self.next_entry) {
                Some(entry) => format!(
                    "before the data of {} ({} of {} data blocks missing)",
                    describe(entry),
                    self.data_entries.len() - self.next_entry,
                    self.data_entries.len()
                ),
                None => return Ok(self.summary()),
            },
            State::ChunkLength | State::Payload { .. } | State::LargeObjectOid => {
                format!("inside the data of {}", self.current_description())
            }
        };
        Err(ArchiveError::Truncated {
            what,
            offset: self.received,
        })
    }

    fn summary(self) -> ArchiveSummary {
        let header = self.header.expect("a scanner past the TOC has read the header");
        ArchiveSummary {
            version: header.version.to_string(),
            compression: header.compression.to_string(),
            database: header.database,
            server_version: header.server_version,
            pg_dump_version: header.pg_dump_version,
            created: header.created,
            toc_entries: self.toc_entries,
            data_bytes: self.tables.iter().map(|table| table.bytes).sum(),
            tables: self.tables,
            large_objects: self.large_objects,
            data_decoded: self.data_decoded,
        }
    }

    fn feed(&mut self, mut input: &[u8]) -> Result<(), ArchiveError> {
        while !input.is_empty() {
            match self.state {
                State::Payload { remaining } => {
                    let take = usize::try_from(remaining).map_or(input.len(), |remaining| remaining.min(input.len()));
                    let (payload, rest) = input.split_at(take);
                    let block = self.block.as_mut().expect("a payload belongs to a block");
                    if let Err(what) = block.stream.feed(payload, &mut self.scratch) {
                        return Err(self.malformed_data(&what, self.offset));
                    }
                    self.offset += take as u64;
                    input = rest;
                    let remaining = remaining - take as u64;
                    self.state = if remaining == 0 {
                        State::ChunkLength
                    } else {
                        State::Payload { remaining }
                    };
                }
                State::ChunkLength | State::LargeObjectOid => {
                    let Some(item) = self.take_fixed(&mut input, self.int_width) else {
                        break;
                    };
                    let at = self.offset;
                    self.offset += self.int_width as u64;
                    let value = self.decode_int(&item[..self.int_width], at)?;
                    if self.state == State::ChunkLength {
                        self.chunk_length(value, at)?;
                    } else {
                        self.large_object(value);
                    }
                }
                State::BlockHeader => {
                    let width = 1 + self.int_width;
                    let Some(item) = self.take_fixed(&mut input, width) else {
                        break;
                    };
                    let at = self.offset;
                    self.offset += width as u64;
                    let dump_id = self.decode_int(&item[1..width], at + 1)?;
                    self.block_header(item[0], dump_id, at)?;
                }
                State::Header | State::TocCount | State::Toc { .. } => {
                    self.head.extend_from_slice(input);
                    input = &[];
                    if let Some(rest) = self.parse_head()? {
                        return self.feed(&rest);
                    }
                }
            }
        }
        Ok(())
    }

    /// Takes a `width`-byte item from `input`, joined to bytes kept from earlier pushes; `None` while incomplete.
    #[inline]
    fn take_fixed(&mut self, input: &mut &[u8], width: usize) -> Option<[u8; PENDING]> {
        if self.pending_len == 0 && input.len() >= width {
            let mut item = [0; PENDING];
            item[..width].copy_from_slice(&input[..width]);
            *input = &input[width..];
            return Some(item);
        }
        let take = (width - self.pending_len).min(input.len());
        self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&input[..take]);
        self.pending_len += take;
        *input = &input[take..];
        if self.pending_len < width {
            return None;
        }
        self.pending_len = 0;
        Some(self.pending)
    }

    fn decode_int(&self, bytes: &[u8], at: u64) -> Result<i64, ArchiveError> {
        format::decode_int(bytes).ok_or_else(|| malformed(format!("an integer of {} bytes overflows", bytes.len()), at))
    }

    /// Parses as much of the header and TOC as `head` holds. Returns the bytes after the TOC once it is complete.
    fn parse_head(&mut self) -> Result<Option<Vec<u8>>, ArchiveError> {
        if self.head.len() < self.head_need {
            return Ok(None);
        }
        let mut position = 0;
        let outcome = loop {
            let data = &self.head[position..];
            let step = match self.state {
                State::Header => format::parse_header(data).map(|(header, used)| {
                    self.int_width = 1 + header.int_size;
                    self.header = Some(header);
                    self.state = State::TocCount;
                    used
                }),
                State::TocCount => {
                    let mut cursor = Cursor::new(data, self.int_width - 1);
                    match cursor.int() {
                        Ok(count) => match u64::try_from(count) {
                            Ok(remaining) => {
                                self.state = State::Toc { remaining };
                                Ok(cursor.position)
                            }
                            Err(_) => Err(ParseError::Malformed {
                                what: format!("the table of contents claims {count} entries"),
                                position: 0,
                            }),
                        },
                        Err(error) => Err(error),
                    }
                }
                State::Toc { remaining: 0 } => break Ok(()),
                State::Toc { remaining } => {
                    let header = self.header.as_ref().expect("the TOC follows the header");
                    let mut cursor = Cursor::new(data, header.int_size);
                    format::parse_toc_entry(&mut cursor, header).and_then(|entry| {
                        self.toc_entries += 1;
                        self.state = State::Toc {
                            remaining: remaining - 1,
                        };
                        if entry.has_data {
                            let index = self.data_entries.len();
                            if self.by_dump_id.insert(entry.dump_id, index).is_some() {
                                return Err(ParseError::Malformed {
                                    what: format!("two TOC entries with data have the ID {}", entry.dump_id),
                                    position: 0,
                                });
                            }
                            self.data_entries.push(entry);
                        }
                        Ok(cursor.position)
                    })
                }
                _ => unreachable!("parse_head runs only before the data blocks"),
            };
            match step {
                Ok(used) => position += used,
                Err(error) => break Err(error),
            }
        };
        let start = self.offset;
        self.offset += position as u64;
        match outcome {
            Ok(()) => {
                let rest = self.head.split_off(position);
                self.head = Vec::new();
                self.scratch = vec![0; SCRATCH];
                self.state = State::BlockHeader;
                Ok(Some(rest))
            }
            Err(ParseError::Short(need)) => {
                self.head.drain(..position);
                self.head_need = need;
                Ok(None)
            }
            Err(ParseError::Malformed { what, position: at }) => Err(malformed(what, self.offset + at as u64)),
            Err(ParseError::NotAnArchive) => Err(ArchiveError::NotAnArchive),
            Err(ParseError::UnsupportedVersion(version)) => Err(ArchiveError::UnsupportedVersion { version }),
            Err(ParseError::WrongFormat(_)) => Err(ArchiveError::WrongFormat {
                format: format!("the `toc.dat` of a directory-format archive (its header starts at byte {start})"),
            }),
        }
    }

    fn block_header(&mut self, kind: u8, dump_id: i64, at: u64) -> Result<(), ArchiveError> {
        if kind != BLK_DATA && kind != BLK_BLOBS {
            return Err(malformed(format!("a data block has the unknown type {kind}"), at));
        }
        let Some(&index) = self.by_dump_id.get(&dump_id) else {
            return Err(malformed(
                format!("a data block belongs to dump ID {dump_id}, which has no data in the table of contents"),
                at,
            ));
        };
        if index < self.next_entry {
            let entry = describe(&self.data_entries[index]);
            return Err(malformed(format!("a second data block holds the data of {entry}"), at));
        }
        if index > self.next_entry {
            let missing = describe(&self.data_entries[self.next_entry]);
            let found = describe(&self.data_entries[index]);
            return Err(malformed(
                format!("the data of {missing} is missing: the block there holds the data of {found}"),
                at,
            ));
        }
        let entry = &self.data_entries[index];
        if (kind == BLK_BLOBS) != (entry.desc == "BLOBS") {
            return Err(malformed(
                format!(
                    "the data block of {} has type {kind}, which does not match it",
                    describe(entry)
                ),
                at,
            ));
        }
        self.next_entry = index + 1;
        if kind == BLK_BLOBS {
            self.block = Some(Block {
                entry: index,
                stream: DataStream::skipped(),
            });
            self.state = State::LargeObjectOid;
            return Ok(());
        }
        let count_rows = entry.copy
            && entry.desc == "TABLE DATA"
            && match &self.options.count_rows {
                RowCounting::None => false,
                RowCounting::All => true,
                RowCounting::Listed(tables) => tables.contains(&(entry.namespace.clone(), entry.tag.clone())),
            };
        let compression = self.header.as_ref().expect("data follows the header").compression;
        let stream = DataStream::measured(compression, count_rows).map_err(|what| malformed(what, at))?;
        self.block = Some(Block { entry: index, stream });
        self.state = State::ChunkLength;
        Ok(())
    }

    fn chunk_length(&mut self, length: i64, at: u64) -> Result<(), ArchiveError> {
        if length > 0 {
            self.state = State::Payload {
                remaining: length.unsigned_abs(),
            };
            return Ok(());
        }
        if length < 0 {
            return Err(malformed(
                format!(
                    "a chunk in the data of {} has the length {length}",
                    self.current_description()
                ),
                at,
            ));
        }
        let block = self.block.as_mut().expect("a chunk belongs to a block");
        let entry = &self.data_entries[block.entry];
        if entry.desc == "BLOBS" {
            // The end of one large object's data; its OID was counted.
            self.state = State::LargeObjectOid;
            return Ok(());
        }
        let Block { entry: index, stream } = self.block.take().expect("checked above");
        let entry = &self.data_entries[index];
        let totals = stream
            .finish()
            .map_err(|what| malformed(format!("{what} in the data of {}", describe(entry)), at))?;
        if entry.desc == "TABLE DATA" {
            self.data_decoded &= totals.decoded;
            self.tables.push(TableData {
                schema: entry.namespace.clone(),
                table: entry.tag.clone(),
                rows: totals.rows,
                bytes: totals.bytes,
                stored_bytes: totals.stored,
            });
        }
        self.state = State::BlockHeader;
        Ok(())
    }

    /// A large object's OID (any non-zero value: OIDs above 2^31 are written as negative integers), or the end of
    /// the `BLOBS` block.
    fn large_object(&mut self, oid: i64) {
        if oid == 0 {
            self.block = None;
            self.state = State::BlockHeader;
        } else {
            self.large_objects += 1;
            self.state = State::ChunkLength;
        }
    }

    /// The entry whose data is being read, for messages.
    fn current_description(&self) -> String {
        self.block.as_ref().map_or_else(
            || "a data block".to_owned(),
            |block| describe(&self.data_entries[block.entry]),
        )
    }

    fn malformed_data(&self, what: &str, at: u64) -> ArchiveError {
        malformed(format!("{what} in the data of {}", self.current_description()), at)
    }
}

fn malformed(what: impl Into<String>, offset: u64) -> ArchiveError {
    ArchiveError::Malformed {
        what: what.into(),
        offset,
    }
}

/// An entry with data, for messages: "table `public.users`".
fn describe(entry: &TocEntry) -> String {
    let name = if entry.namespace.is_empty() {
        entry.tag.clone()
    } else {
        format!("{}.{}", entry.namespace, entry.tag)
    };
    match entry.desc.as_str() {
        "TABLE DATA" => format!("table `{name}`"),
        "BLOBS" => format!("the large objects of entry `{name}`"),
        desc => format!("{} `{name}`", desc.to_lowercase()),
    }
}
