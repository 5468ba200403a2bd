//! A streaming validator and analyser of pg_dump custom-format archives (`pg_dump --format=custom`).
//!
//! `campctl backup` passes every byte of pg_dump's output through an [`ArchiveScanner`] on its way to the stores.
//! The scanner does no I/O and keeps no data: it checks that the bytes form a complete archive (so that a truncated
//! or garbage stream is never committed) and measures, per table, the COPY data bytes and rows (the rows are exact:
//! they come from the dump's own snapshot, at no cost to the database).
//!
//! # The layout (PostgreSQL's `pg_backup_archiver.c` and `pg_backup_custom.c`)
//! A header (`PGDMP`, version, integer and offset sizes, compression, creation time, database and versions), the
//! table of contents (TOC), then one data block per TOC entry that has data, in TOC order: a block type byte
//! (`BLK_DATA` = 1, `BLK_BLOBS` = 3), the entry's dump ID, then length-prefixed chunks ended by a zero length. A
//! `BLOBS` block holds, per large object, its OID and then such chunks, and ends with a zero OID. Integers are a sign
//! byte and little-endian magnitude bytes; see [`format`].
//!
//! # What "complete" means
//! pg_dump writes no trailer. When its output cannot seek (a pipe, as in campctl), it never rewrites the TOC, so
//! every entry with data keeps the offset flag `K_OFFSET_POS_NOT_SET`, and the data follows in TOC order
//! (`WriteDataChunks`; the custom format has no parallel dump). The scanner therefore holds an archive complete when
//! (1) the header and every TOC entry parsed, (2) each TOC entry whose offset flag announces data (anything but
//! `K_OFFSET_NO_DATA`) was followed by exactly one data block of the matching type, in TOC order, with every chunk
//! whole (and every table's compressed stream, if the archive is compressed with gzip or zstd, complete), and (3) the
//! stream ended exactly after the last block. So a stream cut at a block boundary is still incomplete unless no
//! announced block is missing, and trailing bytes after the last block are an error.
//! A stream that ends anywhere else is [`ArchiveError::Truncated`]; bytes that pg_dump would not write are
//! [`ArchiveError::Malformed`]. (pg_dump 15 with `-s`, `-a`, `--section`, `-t`, `--inserts`, `-B` and
//! `--binary-upgrade` was checked to write a block for every entry it announces.)
//!
//! # Compression
//! Without compression (`-Z0`, campctl's way: it compresses the stream itself) rows are counted directly. With
//! gzip (pg_dump's default) or zstd, each table's data is a compressed stream that the scanner decompresses to count
//! rows and bytes; inflating costs a fraction of the deflating pg_dump did to produce it. LZ4 data is not decoded:
//! its rows are `None` and its `bytes` are the stored bytes ([`ArchiveSummary::data_decoded`] is false). Large
//! objects are counted and walked over, never decoded.

mod data;
mod format;
mod head;
mod scan;
#[cfg(test)]
mod tests;

use std::collections::HashSet;

use serde::Serialize;

pub use self::scan::ArchiveScanner;

/// Which tables' rows the scanner counts.
#[derive(Debug, Clone, Default)]
pub enum RowCounting {
    /// No table: every `rows` is `None`.
    None,
    /// Every table whose data is COPY text.
    #[default]
    All,
    /// Only these `(schema, table)` pairs, spelled as in the catalog (unquoted).
    Listed(HashSet<(String, String)>),
}

/// How an [`ArchiveScanner`] works.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    pub count_rows: RowCounting,
}

/// What a complete archive holds.
#[derive(Debug, Clone, Serialize)]
pub struct ArchiveSummary {
    /// Archive format version, e.g. `1.14.0` (pg_dump 12 to 15).
    pub version: String,
    /// As the header says: `none`, `gzip`, `gzip:LEVEL` (archives before 1.15 record the level), `lz4` or `zstd`.
    pub compression: String,
    pub database: String,
    pub server_version: String,
    pub pg_dump_version: String,
    /// The header's creation time, `YYYY-MM-DD HH:MM:SS` in pg_dump's local time zone (the archive has no zone).
    pub created: String,
    pub toc_entries: usize,
    /// `(schema, table)` of every `TABLE` entry: the tables the archive defines, with or without data (a
    /// partitioned table has none; its partitions do).
    pub table_definitions: Vec<(String, String)>,
    /// One per `TABLE DATA` entry, in archive order.
    pub tables: Vec<TableData>,
    /// Large objects in the `BLOBS` blocks.
    pub large_objects: u64,
    /// Total of the tables' `bytes`.
    pub data_bytes: u64,
    /// False when table data was compressed with a method the scanner does not decode (lz4): then `rows` are `None`
    /// and `bytes` count the compressed bytes.
    pub data_decoded: bool,
}

/// One table's data in the archive.
#[derive(Debug, Clone, Serialize)]
pub struct TableData {
    pub schema: String,
    pub table: String,
    /// COPY rows; `None` if not counted ([`RowCounting`], an `--inserts` dump, or lz4 data).
    pub rows: Option<u64>,
    /// Bytes of COPY text (decompressed), including pg_dump's end-of-data marker `\.` and two empty lines.
    pub bytes: u64,
    /// Bytes the data takes in the archive's chunks (equal to `bytes` without compression).
    pub stored_bytes: u64,
}

/// Why a stream is not a complete custom-format archive. Offsets count bytes from the start of the stream.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ArchiveError {
    #[error(
        "The stream is not a pg_dump custom-format archive: it does not start with `PGDMP`. Run pg_dump with \
         `--format=custom`, and decompress the stream first if it was compressed"
    )]
    NotAnArchive,
    #[error("The stream is {format}, not a custom-format archive: run pg_dump with `--format=custom`")]
    WrongFormat { format: String },
    #[error(
        "The archive has format version `{version}`, but campctl reads versions 1.12 to 1.16 (pg_dump 9.0 to 17): \
         dump with a pg_dump in that range, or use a campctl that knows the newer format"
    )]
    UnsupportedVersion { version: String },
    #[error("The archive ends {what} at byte {offset}: pg_dump stopped early")]
    Truncated { what: String, offset: u64 },
    #[error(
        "The archive is malformed at byte {offset}: {what}. pg_dump does not write this; check that nothing else \
         writes to the stream"
    )]
    Malformed { what: String, offset: u64 },
}
