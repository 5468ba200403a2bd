//! [`ArchiveScanner`]: the state machine that walks an archive as its bytes arrive, in pushes of any size.
//!
//! It holds state because the stream arrives in arbitrary pieces: the bytes of an unfinished header or TOC entry
//! (kept until the item can be parsed whole), or of an integer split between two pushes, and where it is in the
//! current block. Chunk payloads, almost all of the bytes, are never copied: they are counted in place.

use super::data::DataStream;
use super::format::{self, BLK_BLOBS, BLK_DATA, TocEntry};
use super::head::{Head, HeadParser};
use super::{ArchiveError, ArchiveSummary, RowCounting, ScanOptions, TableData};

/// Room for the longest fixed-size item: a block header (type byte, then an integer of at most 1 + 8 bytes).
const PENDING: usize = 10;
/// Size of the decompression buffer.
const SCRATCH: usize = 64 * 1024;

/// Where the scanner is in the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// In the header or the table of contents (see [`HeadParser`]).
    Head,
    /// At a block boundary: a block header follows, or the end of the archive.
    BlockHeader,
    /// In a block (or a large object): a chunk length follows; zero ends the data.
    ChunkLength,
    /// In a chunk: this many payload bytes follow.
    Payload { remaining: u64 },
    /// In a `BLOBS` block: a large object's OID follows; zero ends the block.
    LargeObjectOid,
}

/// The block being read.
struct Block {
    /// Index into `Head::data_entries`.
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
    /// The start of a fixed-size item split across pushes.
    pending: [u8; PENDING],
    pending_len: usize,
    /// Parses the header and TOC; `None` once they are complete and in `head`.
    parser: Option<HeadParser>,
    head: Option<Head>,
    /// Bytes of an integer: the sign byte and the header's integer size.
    int_width: usize,
    /// The index in `Head::data_entries` whose block comes next.
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
            state: State::Head,
            offset: 0,
            received: 0,
            pending: [0; PENDING],
            pending_len: 0,
            parser: Some(HeadParser::new()),
            head: None,
            int_width: 0,
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
        let what = match (&self.parser, &self.head) {
            (Some(parser), _) => parser.truncation(self.received),
            (None, Some(head)) if self.state == State::BlockHeader => {
                let next = head.data_entries.get(self.next_entry);
                match next {
                    _ if self.pending_len > 0 => format!(
                        "inside the block header of {}",
                        next.map_or_else(|| "a data block".to_owned(), describe)
                    ),
                    Some(entry) => format!(
                        "before the data of {} ({} of {} data blocks missing)",
                        describe(entry),
                        head.data_entries.len() - self.next_entry,
                        head.data_entries.len()
                    ),
                    None => return Ok(self.summary()),
                }
            }
            _ => format!("inside the data of {}", self.current_description()),
        };
        Err(ArchiveError::Truncated {
            what,
            offset: self.received,
        })
    }

    fn summary(self) -> ArchiveSummary {
        let Head {
            header,
            toc_entries,
            table_definitions,
            ..
        } = self.head.expect("a scanner past the TOC has read it");
        ArchiveSummary {
            version: header.version.to_string(),
            compression: header.compression.to_string(),
            database: header.database,
            server_version: header.server_version,
            pg_dump_version: header.pg_dump_version,
            created: header.created,
            toc_entries,
            table_definitions,
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
                    if self.state == State::ChunkLength && self.pending_len == 0 {
                        self.whole_chunks(&mut input)?;
                        if input.is_empty() {
                            break;
                        }
                    }
                    let Some(item) = self.take_fixed(&mut input, self.int_width) else {
                        break;
                    };
                    let at = self.offset;
                    self.offset += self.int_width as u64;
                    let value = decode_int(&item[..self.int_width], at)?;
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
                    let dump_id = decode_int(&item[1..width], at + 1)?;
                    self.block_header(item[0], dump_id, at)?;
                }
                State::Head => {
                    let parser = self
                        .parser
                        .as_mut()
                        .expect("the parser lives until the TOC is complete");
                    let Some((head, rest)) = parser.push(input, &mut self.offset)? else {
                        break;
                    };
                    self.int_width = 1 + head.header.int_size;
                    self.head = Some(head);
                    self.parser = None;
                    self.scratch = vec![0; SCRATCH];
                    self.state = State::BlockHeader;
                    return self.feed(&rest);
                }
            }
        }
        Ok(())
    }

    /// The fast path, where almost all of the time goes (without compression pg_dump writes each COPY row as a chunk
    /// of its own): feeds the whole chunks at the start of `input` to the block's stream, with none of the per-item
    /// state changes. It stops before anything else (a split chunk, the end of the data, an invalid length), which
    /// the general path then handles.
    #[inline]
    fn whole_chunks(&mut self, input: &mut &[u8]) -> Result<(), ArchiveError> {
        let width = self.int_width;
        let block = self.block.as_mut().expect("a chunk belongs to a block");
        let mut rest = *input;
        let mut outcome = Ok(());
        while let Some(length) = rest.get(..width).and_then(format::decode_int) {
            let Some(end) = usize::try_from(length)
                .ok()
                .filter(|&length| length > 0)
                .map(|length| width + length)
            else {
                break;
            };
            let Some(payload) = rest.get(width..end) else {
                break;
            };
            if let Err(what) = block.stream.feed(payload, &mut self.scratch) {
                outcome = Err(what);
                break;
            }
            rest = &rest[end..];
        }
        let consumed = input.len() - rest.len();
        if let Err(what) = outcome {
            return Err(self.malformed_data(&what, self.offset + consumed as u64));
        }
        self.offset += consumed as u64;
        *input = rest;
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

    fn block_header(&mut self, kind: u8, dump_id: i64, at: u64) -> Result<(), ArchiveError> {
        if kind != BLK_DATA && kind != BLK_BLOBS {
            return Err(malformed(format!("a data block has the unknown type {kind}"), at));
        }
        let head = self.head.as_ref().expect("blocks follow the TOC");
        let Some(&index) = head.by_dump_id.get(&dump_id) else {
            return Err(malformed(
                format!("a data block belongs to dump ID {dump_id}, which has no data in the table of contents"),
                at,
            ));
        };
        let entry = &head.data_entries[index];
        if index < self.next_entry {
            return Err(malformed(
                format!("a second data block holds the data of {}", describe(entry)),
                at,
            ));
        }
        if index > self.next_entry {
            let missing = describe(&head.data_entries[self.next_entry]);
            return Err(malformed(
                format!(
                    "the data of {missing} is missing: the block there holds the data of {}",
                    describe(entry)
                ),
                at,
            ));
        }
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
        let stream = if kind == BLK_BLOBS {
            self.state = State::LargeObjectOid;
            DataStream::skipped()
        } else {
            let count_rows = entry.copy
                && entry.desc == "TABLE DATA"
                && match &self.options.count_rows {
                    RowCounting::None => false,
                    RowCounting::All => true,
                    RowCounting::Listed(tables) => tables.contains(&(entry.namespace.clone(), entry.tag.clone())),
                };
            self.state = State::ChunkLength;
            DataStream::measured(head.header.compression, count_rows).map_err(|what| malformed(what, at))?
        };
        self.block = Some(Block { entry: index, stream });
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
        let head = self.head.as_ref().expect("blocks follow the TOC");
        let Block { entry: index, stream } = self.block.take().expect("a chunk belongs to a block");
        let entry = &head.data_entries[index];
        if entry.desc == "BLOBS" {
            // The end of one large object's data (its OID was counted); the block goes on.
            self.block = Some(Block { entry: index, stream });
            self.state = State::LargeObjectOid;
            return Ok(());
        }
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
        match (&self.block, &self.head) {
            (Some(block), Some(head)) => describe(&head.data_entries[block.entry]),
            _ => "a data block".to_owned(),
        }
    }

    fn malformed_data(&self, what: &str, at: u64) -> ArchiveError {
        malformed(format!("{what} in the data of {}", self.current_description()), at)
    }
}

fn decode_int(bytes: &[u8], at: u64) -> Result<i64, ArchiveError> {
    format::decode_int(bytes).ok_or_else(|| malformed(format!("an integer of {} bytes overflows", bytes.len()), at))
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
