//! The data of one block: decompression (zlib or zstd, one stream per block, as `pg_backup_custom.c`'s
//! `_StartData` allocates one compressor per block), and the byte and newline counts that give a table's data size
//! and row count.
//!
//! A table's COPY text has one line per row: COPY's text format escapes newlines inside values as `\n`, so counting
//! 0x0A bytes is exact. pg_dump (`dumpTableData_copy`, at least through 17) also writes the end-of-data marker
//! `\.` and two empty lines into the archive after the rows; [`Tail`] recognises that suffix so that its three
//! newlines are not counted as rows. The marker cannot be a row: COPY writes a backslash in a value as `\\`.

use flate2::{Decompress, FlushDecompress, Status};
use zstd::stream::raw::{Decoder as ZstdDecoder, Operation as _};

use super::format::Compression;

/// What pg_dump appends to every table's COPY data (`archprintf(fout, "\\.\n\n\n")`).
const END_MARKER: &[u8] = b"\\.\n\n\n";
/// Newlines in [`END_MARKER`].
const END_MARKER_NEWLINES: u64 = 3;
const TAIL: usize = END_MARKER.len() + 1;

/// Counts 0x0A bytes. Written so that the compiler vectorises it: per 4 KiB block, compare-and-sum into a `u32`
/// that cannot overflow, then widen once.
pub(super) fn count_newlines(bytes: &[u8]) -> u64 {
    bytes
        .chunks(4096)
        .map(|block| u64::from(block.iter().map(|&byte| u32::from(byte == b'\n')).sum::<u32>()))
        .sum()
}

/// The last bytes of a data stream, to recognise [`END_MARKER`] at the start of a line.
#[derive(Debug, Clone, Copy, Default)]
struct Tail {
    bytes: [u8; TAIL],
    len: usize,
}

impl Tail {
    fn push(&mut self, data: &[u8]) {
        if data.len() >= TAIL {
            self.bytes.copy_from_slice(&data[data.len() - TAIL..]);
            self.len = TAIL;
        } else {
            let keep = (TAIL - data.len()).min(self.len);
            let mut bytes = [0; TAIL];
            bytes[..keep].copy_from_slice(&self.bytes[self.len - keep..self.len]);
            bytes[keep..keep + data.len()].copy_from_slice(data);
            self.bytes = bytes;
            self.len = keep + data.len();
        }
    }

    /// Whether a stream of `total` bytes ending in these bytes ends with the marker on a line of its own.
    fn ends_with_marker(&self, total: u64) -> bool {
        let tail = &self.bytes[..self.len];
        tail.ends_with(END_MARKER) && (total == END_MARKER.len() as u64 || (self.len == TAIL && tail[0] == b'\n'))
    }
}

/// Counters over the (decompressed) bytes of one stream.
#[derive(Debug, Default)]
struct Account {
    count_rows: bool,
    bytes: u64,
    newlines: u64,
    tail: Tail,
}

impl Account {
    #[inline]
    fn add(&mut self, data: &[u8]) {
        self.bytes += data.len() as u64;
        if self.count_rows {
            self.newlines += count_newlines(data);
            self.tail.push(data);
        }
    }
}

enum Decoder {
    Zlib(Box<Decompress>),
    Zstd(Box<ZstdDecoder<'static>>),
}

/// The data of one block (or one large object) as its chunks arrive.
pub(super) struct DataStream {
    decoder: Option<Decoder>,
    /// Whether `account` sees the data itself (false when it is compressed with a method the scanner cannot read).
    decoded: bool,
    /// Whether the compressed stream has ended (always true without compression).
    ended: bool,
    stored: u64,
    account: Account,
}

/// The totals of a finished [`DataStream`].
#[derive(Debug, Clone, Copy)]
pub(super) struct DataTotals {
    /// Bytes stored in the archive (compressed, if the archive is).
    pub stored: u64,
    /// Bytes of the data itself; equal to `stored` when it was not decoded.
    pub bytes: u64,
    /// Rows: newlines minus those of the end marker; `None` unless counting was asked for and possible.
    pub rows: Option<u64>,
    pub decoded: bool,
}

impl DataStream {
    /// A stream whose data is decoded (when `compression` allows it) and measured, and whose rows are counted if
    /// `count_rows`.
    pub(super) fn measured(compression: Compression, count_rows: bool) -> Result<Self, String> {
        let decoder = match compression {
            Compression::None | Compression::Lz4 => None,
            Compression::Gzip { .. } => Some(Decoder::Zlib(Box::new(Decompress::new(true)))),
            Compression::Zstd => Some(Decoder::Zstd(Box::new(
                ZstdDecoder::new().map_err(|error| format!("the zstd decoder did not start: {error}"))?,
            ))),
        };
        let readable = compression != Compression::Lz4;
        Ok(Self {
            ended: decoder.is_none(),
            decoder,
            decoded: readable,
            stored: 0,
            account: Account {
                count_rows: count_rows && readable,
                ..Account::default()
            },
        })
    }

    /// A stream that is only walked over (large objects): its chunks are counted, not decoded.
    pub(super) fn skipped() -> Self {
        Self {
            decoder: None,
            decoded: false,
            ended: true,
            stored: 0,
            account: Account::default(),
        }
    }

    /// One chunk's payload (or part of it). `scratch` is the decompression buffer.
    #[inline]
    pub(super) fn feed(&mut self, payload: &[u8], scratch: &mut [u8]) -> Result<(), String> {
        self.stored += payload.len() as u64;
        match &mut self.decoder {
            None if self.decoded => self.account.add(payload),
            None => {}
            Some(_) if self.ended => return Err("data follows the end of the compressed stream".to_owned()),
            Some(Decoder::Zlib(zlib)) => self.ended = inflate(zlib, payload, scratch, &mut self.account)?,
            Some(Decoder::Zstd(zstd)) => self.ended = unzstd(zstd, payload, scratch, &mut self.account)?,
        }
        Ok(())
    }

    /// The totals; an error if a compressed stream is incomplete.
    pub(super) fn finish(self) -> Result<DataTotals, String> {
        if !self.ended {
            return Err("the compressed data stops before the end of its compressed stream".to_owned());
        }
        let Account {
            count_rows,
            bytes,
            newlines,
            tail,
        } = self.account;
        let rows = count_rows.then(|| {
            if tail.ends_with_marker(bytes) {
                newlines - END_MARKER_NEWLINES
            } else {
                newlines
            }
        });
        Ok(DataTotals {
            stored: self.stored,
            bytes: if self.decoded { bytes } else { self.stored },
            rows,
            decoded: self.decoded,
        })
    }
}

/// Inflates `input` into `account`; true once the zlib stream has ended.
fn inflate(zlib: &mut Decompress, mut input: &[u8], scratch: &mut [u8], account: &mut Account) -> Result<bool, String> {
    loop {
        let (read, written) = (zlib.total_in(), zlib.total_out());
        let status = zlib
            .decompress(input, scratch, FlushDecompress::None)
            .map_err(|error| format!("the zlib-compressed data is corrupt ({error})"))?;
        let read = usize::try_from(zlib.total_in() - read).expect("zlib reads at most its input");
        let written = usize::try_from(zlib.total_out() - written).expect("zlib writes at most its buffer");
        account.add(&scratch[..written]);
        input = &input[read..];
        match status {
            Status::StreamEnd if input.is_empty() => return Ok(true),
            Status::StreamEnd => return Err("data follows the end of the compressed stream".to_owned()),
            // Done when the input is used up and the output buffer had room to spare (nothing is held back).
            Status::Ok | Status::BufError if input.is_empty() && written < scratch.len() => return Ok(false),
            Status::Ok | Status::BufError if read == 0 && written == 0 => {
                return Err("the zlib-compressed data is corrupt (no progress)".to_owned());
            }
            Status::Ok | Status::BufError => {}
        }
    }
}

/// Decompresses zstd `input` into `account`; true when the last frame is complete.
fn unzstd(
    zstd: &mut ZstdDecoder<'static>,
    mut input: &[u8],
    scratch: &mut [u8],
    account: &mut Account,
) -> Result<bool, String> {
    loop {
        let status = zstd
            .run_on_buffers(input, scratch)
            .map_err(|error| format!("the zstd-compressed data is corrupt ({error})"))?;
        account.add(&scratch[..status.bytes_written]);
        input = &input[status.bytes_read..];
        if input.is_empty() && status.bytes_written < scratch.len() {
            // `remaining` is 0 exactly when a frame is complete and flushed.
            return Ok(status.remaining == 0);
        }
        if status.bytes_read == 0 && status.bytes_written == 0 {
            return Err("the zstd-compressed data is corrupt (no progress)".to_owned());
        }
    }
}
