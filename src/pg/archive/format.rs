//! The byte layout of a pg_dump custom-format archive's header and table of contents, as PostgreSQL's
//! `src/bin/pg_dump/pg_backup_archiver.c` writes it (`WriteHead`, `WriteToc`, `WriteInt`, `WriteStr`, `WriteOffset`)
//! and `pg_backup_custom.c` extends it (`_WriteExtraToc`).
//!
//! Parsing works on a byte slice that may end too early: every read that runs past the end fails with
//! [`ParseError::Short`], which says how long the slice must be before the same parse can succeed. The scanner keeps
//! the bytes of an unfinished item and retries only once that many have arrived, so a header or TOC entry cut into
//! one-byte pushes is parsed a bounded number of times.
//!
//! Version differences handled here (archive versions 1.12 to 1.16; `K_VERS_*` in `pg_backup_archiver.h`):
//! - 1.14 (pg_dump 12) adds the table access method string to every TOC entry;
//! - 1.15 (pg_dump 16) replaces the header's compression level (an int; 0 none, -1 zlib's default level, else a
//!   gzip level) with a compression-algorithm byte (`pg_compress_algorithm`: 0 none, 1 gzip, 2 lz4, 3 zstd);
//! - 1.16 (pg_dump 17) adds the relation kind (an int) after the access method, and `BLOB METADATA` entries and
//!   several `BLOBS` entries, which need nothing special here.
//!
//! 1.12 (pg_dump 9.0) and 1.13 (the 2018 search_path fix, pg_dump 10.2 and 11) share the layout of 1.13.

use std::fmt;

/// The first five bytes of every custom-format archive (`WriteHead`).
pub(super) const MAGIC: &[u8; 5] = b"PGDMP";
/// Data block types (`pg_backup_archiver.h`): a table's data, or the large objects of a `BLOBS` entry.
pub(super) const BLK_DATA: u8 = 1;
pub(super) const BLK_BLOBS: u8 = 3;
/// `archCustom` of `ArchiveFormat` in `pg_backup.h`.
const FORMAT_CUSTOM: u8 = 1;
/// `archTar`: the `toc.dat` of a tar-format archive, and of a directory-format one (`pg_backup_directory.c` writes
/// "'tar' in the format field of the toc.dat file"), starts with the same header.
const FORMAT_TAR: u8 = 3;
/// `archDirectory`, which no archive records, but which names the same thing.
const FORMAT_DIRECTORY: u8 = 5;
/// `K_OFFSET_NO_DATA` (`pg_backup_archiver.h`): the entry has no data block. `K_OFFSET_POS_NOT_SET` (1, written when
/// pg_dump's output cannot seek, e.g. a pipe) and `K_OFFSET_POS_SET` (2) both announce a block.
const OFFSET_NO_DATA: u8 = 3;
/// Oldest and newest minor versions of archive format 1 that the scanner reads.
pub(super) const MIN_MINOR: u8 = 12;
pub(super) const MAX_MINOR: u8 = 16;
/// Strings longer than this (PostgreSQL's `MaxAllocSize`) cannot come from pg_dump.
const MAX_STRING: u64 = 0x3fff_ffff;

/// `MAKE_ARCHIVE_VERSION(major, minor, rev)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Version {
    pub major: u8,
    pub minor: u8,
    pub rev: u8,
}

impl Version {
    /// Whether this is at least `1.<minor>.0` (all supported versions have major 1).
    fn at_least(self, minor: u8) -> bool {
        self.minor >= minor
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.rev)
    }
}

/// How the archive's data blocks are compressed, as its header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Compression {
    None,
    /// zlib streams; `level` is known only for archive versions before 1.15, and is `None` for zlib's default (-1).
    Gzip {
        level: Option<i64>,
    },
    Lz4,
    Zstd,
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("none"),
            Self::Gzip { level: None } => f.write_str("gzip"),
            Self::Gzip { level: Some(level) } => write!(f, "gzip:{level}"),
            Self::Lz4 => f.write_str("lz4"),
            Self::Zstd => f.write_str("zstd"),
        }
    }
}

/// The archive header (`ReadHead`).
#[derive(Debug, Clone)]
pub(super) struct Header {
    pub version: Version,
    /// Bytes per integer after the sign byte (4 from every real pg_dump).
    pub int_size: usize,
    /// Bytes per file offset (8 from every real pg_dump).
    pub offset_size: usize,
    pub compression: Compression,
    /// `YYYY-MM-DD HH:MM:SS` in pg_dump's local time zone (the header stores a `struct tm`, not a zone).
    pub created: String,
    pub database: String,
    pub server_version: String,
    pub pg_dump_version: String,
}

/// What the scanner keeps of one TOC entry (`ReadToc` + `_ReadExtraToc`).
#[derive(Debug, Clone)]
pub(super) struct TocEntry {
    pub dump_id: i64,
    pub desc: String,
    pub tag: String,
    /// Empty when the entry has no schema.
    pub namespace: String,
    /// Whether restoring the data uses `COPY ... FROM stdin` (the data is COPY text); `--inserts` dumps have none.
    pub copy: bool,
    /// Whether a data block follows the TOC for this entry (its data offset flag is not `K_OFFSET_NO_DATA`).
    pub has_data: bool,
}

/// Why a parse did not produce a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ParseError {
    /// The slice must be at least this long (counted from its start).
    Short(usize),
    /// The bytes at this position of the slice are not what pg_dump writes.
    Malformed { what: String, position: usize },
    /// The stream does not start with `PGDMP`.
    NotAnArchive,
    /// A version outside 1.12 to 1.16.
    UnsupportedVersion(String),
    /// A valid header of another archive format (the `toc.dat` of a directory- or tar-format archive).
    WrongFormat,
}

/// Decodes a `WriteInt` integer: a sign byte (non-zero means negative) and `bytes.len() - 1` little-endian magnitude
/// bytes. `None` if the magnitude does not fit an `i64`.
#[inline]
pub(super) fn decode_int(bytes: &[u8]) -> Option<i64> {
    // The common case: 4-byte integers, as every real pg_dump writes them.
    if let &[sign, a, b, c, d] = bytes {
        let value = i64::from(u32::from_le_bytes([a, b, c, d]));
        return Some(if sign == 0 { value } else { -value });
    }
    let (&sign, magnitude) = bytes.split_first()?;
    let mut value: u64 = 0;
    for (index, &byte) in magnitude.iter().enumerate() {
        if byte != 0 {
            if index >= 8 {
                return None;
            }
            value |= u64::from(byte) << (8 * index);
        }
    }
    let value = i64::try_from(value).ok()?;
    Some(if sign == 0 { value } else { -value })
}

fn malformed(what: impl Into<String>, position: usize) -> ParseError {
    ParseError::Malformed {
        what: what.into(),
        position,
    }
}

/// A read position in a slice that may end early.
pub(super) struct Cursor<'a> {
    data: &'a [u8],
    pub position: usize,
    int_size: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(data: &'a [u8], int_size: usize) -> Self {
        Self {
            data,
            position: 0,
            int_size,
        }
    }

    fn take(&mut self, count: usize) -> Result<&'a [u8], ParseError> {
        let end = self.position.checked_add(count).ok_or(ParseError::Short(usize::MAX))?;
        let bytes = self.data.get(self.position..end).ok_or(ParseError::Short(end))?;
        self.position = end;
        Ok(bytes)
    }

    fn byte(&mut self) -> Result<u8, ParseError> {
        Ok(self.take(1)?[0])
    }

    /// `ReadInt`.
    pub(super) fn int(&mut self) -> Result<i64, ParseError> {
        let start = self.position;
        let bytes = self.take(1 + self.int_size)?;
        decode_int(bytes).ok_or_else(|| malformed("an integer does not fit in 64 bits", start))
    }

    /// `ReadStr`: an int length (negative for NULL) and that many bytes.
    fn string(&mut self) -> Result<Option<&'a [u8]>, ParseError> {
        let start = self.position;
        let Ok(length) = u64::try_from(self.int()?) else {
            return Ok(None);
        };
        if length > MAX_STRING {
            return Err(malformed(format!("a string claims to be {length} bytes long"), start));
        }
        let length = usize::try_from(length).map_err(|_| ParseError::Short(usize::MAX))?;
        self.take(length).map(Some)
    }

    /// A string as text (lossy: names are in the database encoding, normally UTF-8); NULL reads as empty.
    fn text(&mut self) -> Result<String, ParseError> {
        Ok(self
            .string()?
            .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
            .unwrap_or_default())
    }
}

/// Parses the header at the start of `data` (the cursor's int size is ignored: the header says it).
pub(super) fn parse_header(data: &[u8]) -> Result<(Header, usize), ParseError> {
    let prefix = &data[..data.len().min(MAGIC.len())];
    if prefix != &MAGIC[..prefix.len()] {
        return Err(ParseError::NotAnArchive);
    }
    let mut cursor = Cursor::new(data, 0);
    cursor.take(MAGIC.len())?;
    let major = cursor.byte()?;
    let minor = cursor.byte()?;
    // Versions up to 1.0 had no revision byte.
    let rev = if major > 1 || (major == 1 && minor > 0) {
        cursor.byte()?
    } else {
        0
    };
    let version = Version { major, minor, rev };
    if major != 1 || !(MIN_MINOR..=MAX_MINOR).contains(&minor) {
        return Err(ParseError::UnsupportedVersion(version.to_string()));
    }
    let position = cursor.position;
    let int_size = usize::from(cursor.byte()?);
    if !(1..=8).contains(&int_size) {
        return Err(malformed(
            format!("the header gives an integer size of {int_size} bytes"),
            position,
        ));
    }
    cursor.int_size = int_size;
    let position = cursor.position;
    let offset_size = usize::from(cursor.byte()?);
    if !(1..=16).contains(&offset_size) {
        return Err(malformed(
            format!("the header gives an offset size of {offset_size} bytes"),
            position,
        ));
    }
    let position = cursor.position;
    match cursor.byte()? {
        FORMAT_CUSTOM => {}
        FORMAT_TAR | FORMAT_DIRECTORY => return Err(ParseError::WrongFormat),
        other => {
            return Err(malformed(
                format!("the header gives an unknown archive format {other}"),
                position,
            ));
        }
    }
    let position = cursor.position;
    let compression = if version.at_least(15) {
        match cursor.byte()? {
            0 => Compression::None,
            1 => Compression::Gzip { level: None },
            2 => Compression::Lz4,
            3 => Compression::Zstd,
            other => {
                return Err(malformed(
                    format!("the header gives an unknown compression method {other}"),
                    position,
                ));
            }
        }
    } else {
        // Before 1.15 the header held the level; pg_dump treats any non-zero level as gzip (`ReadHead`).
        match cursor.int()? {
            0 => Compression::None,
            -1 => Compression::Gzip { level: None },
            level => Compression::Gzip { level: Some(level) },
        }
    };
    let mut tm = [0_i64; 7];
    for field in &mut tm {
        *field = cursor.int()?;
    }
    let [second, minute, hour, day, month, year, _dst] = tm;
    let created = format!(
        "{:04}-{:02}-{day:02} {hour:02}:{minute:02}:{second:02}",
        year + 1900,
        month + 1
    );
    let database = cursor.text()?;
    let server_version = cursor.text()?;
    let pg_dump_version = cursor.text()?;
    let header = Header {
        version,
        int_size,
        offset_size,
        compression,
        created,
        database,
        server_version,
        pg_dump_version,
    };
    Ok((header, cursor.position))
}

/// Parses one TOC entry at the cursor (`ReadToc`'s loop body, then the custom format's `_ReadExtraToc`).
pub(super) fn parse_toc_entry(cursor: &mut Cursor<'_>, header: &Header) -> Result<TocEntry, ParseError> {
    let start = cursor.position;
    let dump_id = cursor.int()?;
    if dump_id <= 0 {
        return Err(malformed(format!("a TOC entry has the ID {dump_id}"), start));
    }
    let _had_dumper = cursor.int()?;
    let _table_oid = cursor.string()?;
    let _oid = cursor.string()?;
    let tag = cursor.text()?;
    let desc = cursor.text()?;
    let _section = cursor.int()?;
    let _definition = cursor.string()?;
    let _drop_statement = cursor.string()?;
    let copy = cursor.string()?.is_some_and(|statement| !statement.is_empty());
    let namespace = cursor.text()?;
    let _tablespace = cursor.string()?;
    if header.version.at_least(14) {
        let _table_access_method = cursor.string()?;
    }
    if header.version.at_least(16) {
        let _relkind = cursor.int()?;
    }
    let _owner = cursor.string()?;
    let _with_oids = cursor.string()?;
    // Dependencies: dump IDs as strings, ended by a NULL string.
    while cursor.string()?.is_some() {}
    let position = cursor.position;
    let flag = cursor.byte()?;
    if !(1..=OFFSET_NO_DATA).contains(&flag) {
        return Err(malformed(
            format!("TOC entry {dump_id} has the data offset flag {flag}"),
            position,
        ));
    }
    cursor.take(header.offset_size)?;
    Ok(TocEntry {
        dump_id,
        desc,
        tag,
        namespace,
        copy,
        has_data: flag != OFFSET_NO_DATA,
    })
}
