//! The first phase of a scan: the header and the table of contents, parsed item by item as their bytes arrive.
//!
//! It buffers bytes because these items have variable lengths (strings) and may be split anywhere: an item is parsed
//! once its bytes are all there. After a short read it waits until the buffer holds as many bytes as the failed read
//! needed, so an item is retried a bounded number of times (about once per field) however small the pushes are.

use std::collections::HashMap;

use super::ArchiveError;
use super::format::{self, Cursor, Header, ParseError, TocEntry};

/// What the header and TOC say, once both are complete.
pub(super) struct Head {
    pub header: Header,
    pub toc_entries: usize,
    /// `(schema, table)` of every `TABLE` entry (table definitions, with or without data), in TOC order.
    pub table_definitions: Vec<(String, String)>,
    /// The TOC entries that announce data, in TOC order (the order of their blocks), and their indexes by dump ID.
    pub data_entries: Vec<TocEntry>,
    pub by_dump_id: HashMap<i64, usize>,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Header,
    TocCount,
    Toc { remaining: u64 },
}

/// Parses the header and the TOC from pushes of any size.
pub(super) struct HeadParser {
    step: Step,
    /// Bytes not parsed yet, starting at an item boundary.
    buffer: Vec<u8>,
    /// `buffer` must be at least this long before parsing is worth retrying.
    need: usize,
    header: Option<Header>,
    toc_entries: usize,
    table_definitions: Vec<(String, String)>,
    data_entries: Vec<TocEntry>,
    by_dump_id: HashMap<i64, usize>,
}

impl HeadParser {
    pub(super) fn new() -> Self {
        Self {
            step: Step::Header,
            buffer: Vec::new(),
            need: 0,
            header: None,
            toc_entries: 0,
            table_definitions: Vec::new(),
            data_entries: Vec::new(),
            by_dump_id: HashMap::new(),
        }
    }

    /// Parses what it can of `input`, advancing `offset` (the stream offset of the buffer's start) past every parsed
    /// item. Once the TOC is complete, returns the head and the bytes that follow it.
    pub(super) fn push(&mut self, input: &[u8], offset: &mut u64) -> Result<Option<(Head, Vec<u8>)>, ArchiveError> {
        self.buffer.extend_from_slice(input);
        if self.buffer.len() < self.need {
            return Ok(None);
        }
        let mut position = 0;
        let outcome = loop {
            if let Step::Toc { remaining: 0 } = self.step {
                break Ok(());
            }
            match self.parse(position) {
                Ok(used) => position += used,
                Err(error) => break Err(error),
            }
        };
        *offset += position as u64;
        match outcome {
            Ok(()) => {
                let rest = self.buffer.split_off(position);
                let head = Head {
                    header: self.header.take().expect("the TOC follows the header"),
                    toc_entries: self.toc_entries,
                    table_definitions: std::mem::take(&mut self.table_definitions),
                    data_entries: std::mem::take(&mut self.data_entries),
                    by_dump_id: std::mem::take(&mut self.by_dump_id),
                };
                Ok(Some((head, rest)))
            }
            Err(ParseError::Short(need)) => {
                self.buffer.drain(..position);
                self.need = need;
                Ok(None)
            }
            Err(ParseError::Malformed { what, position: at }) => Err(ArchiveError::Malformed {
                what,
                offset: *offset + at as u64,
            }),
            Err(ParseError::NotAnArchive) => Err(ArchiveError::NotAnArchive),
            Err(ParseError::UnsupportedVersion(version)) => Err(ArchiveError::UnsupportedVersion { version }),
            Err(ParseError::WrongFormat) => Err(ArchiveError::WrongFormat {
                format: "the `toc.dat` of a directory- or tar-format archive".to_owned(),
            }),
        }
    }

    /// Parses the next item at `position` of the buffer; returns its length.
    fn parse(&mut self, position: usize) -> Result<usize, ParseError> {
        let data = &self.buffer[position..];
        match self.step {
            Step::Header => {
                let (header, used) = format::parse_header(data)?;
                self.header = Some(header);
                self.step = Step::TocCount;
                Ok(used)
            }
            Step::TocCount => {
                let int_size = self.header.as_ref().expect("the TOC follows the header").int_size;
                let mut cursor = Cursor::new(data, int_size);
                let count = cursor.int()?;
                let remaining = u64::try_from(count).map_err(|_| ParseError::Malformed {
                    what: format!("the table of contents claims {count} entries"),
                    position: 0,
                })?;
                self.step = Step::Toc { remaining };
                Ok(cursor.position)
            }
            Step::Toc { remaining } => {
                let header = self.header.as_ref().expect("the TOC follows the header");
                let mut cursor = Cursor::new(data, header.int_size);
                let entry = format::parse_toc_entry(&mut cursor, header)?;
                if entry.desc == "TABLE" {
                    self.table_definitions
                        .push((entry.namespace.clone(), entry.tag.clone()));
                }
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
                self.toc_entries += 1;
                self.step = Step::Toc {
                    remaining: remaining - 1,
                };
                Ok(cursor.position)
            }
        }
    }

    /// Where a stream that ends now stops, for [`ArchiveError::Truncated`].
    pub(super) fn truncation(&self, received: u64) -> String {
        match self.step {
            Step::Header if received == 0 => "before its header (the stream is empty)".to_owned(),
            Step::Header => "inside its header".to_owned(),
            Step::TocCount | Step::Toc { .. } => format!(
                "inside its table of contents, after {} {}",
                self.toc_entries,
                if self.toc_entries == 1 { "entry" } else { "entries" }
            ),
        }
    }
}
