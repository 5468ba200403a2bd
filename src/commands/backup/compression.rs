//! The compressor of the dump stream. Its spec (algorithm and level, [`Compression`]) is parsed below settings, in
//! the leaf `dump_options`, so that the file's schema can refuse a bad value; this file only runs it.
//!
//! campctl asks pg_dump for an uncompressed archive (`-Z0`) and compresses it itself, so the archive scanner sees
//! plain COPY data (exact row counts for free) and compression runs on every core instead of one.

use std::io::Write as _;

pub(crate) use crate::dump_options::Compression;

/// A streaming compressor whose output is drained after every input chunk.
pub(super) enum Compressor {
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    Passthrough,
}

impl Compressor {
    /// # Errors
    /// zstd could not be initialised.
    pub(super) fn new(compression: Compression, threads: u32) -> std::io::Result<Self> {
        Ok(match compression {
            Compression::Zstd(level) => {
                let mut encoder = zstd::stream::write::Encoder::new(Vec::with_capacity(1 << 20), level)?;
                // A content checksum (XXH64) in every frame, so that an archive separated from its manifest still
                // carries its own integrity check (`zstd -t`, `zstd -lv` shows `Check: XXH64`).
                encoder.include_checksum(true)?;
                // `threads` workers compress beside the pipeline's thread (which then only feeds them); 0 keeps
                // the work on the pipeline's thread.
                if threads > 0 {
                    encoder.multithread(threads)?;
                }
                Self::Zstd(encoder)
            }
            Compression::Gzip(level) => Self::Gzip(flate2::write::GzEncoder::new(
                Vec::with_capacity(1 << 20),
                flate2::Compression::new(level),
            )),
            Compression::PgDump(_) | Compression::None => Self::Passthrough,
        })
    }

    /// Compresses `input`; returns whatever output is ready (possibly empty).
    ///
    /// # Errors
    /// The encoder failed.
    pub(super) fn write(&mut self, input: &[u8]) -> std::io::Result<Vec<u8>> {
        match self {
            Self::Zstd(encoder) => {
                encoder.write_all(input)?;
                Ok(std::mem::take(encoder.get_mut()))
            }
            Self::Gzip(encoder) => {
                encoder.write_all(input)?;
                Ok(std::mem::take(encoder.get_mut()))
            }
            Self::Passthrough => Ok(input.to_vec()),
        }
    }

    /// Ends the stream; returns the last output.
    ///
    /// # Errors
    /// The encoder failed.
    pub(super) fn finish(self) -> std::io::Result<Vec<u8>> {
        match self {
            Self::Zstd(encoder) => encoder.finish(),
            Self::Gzip(encoder) => encoder.finish(),
            Self::Passthrough => Ok(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_each_compressor() {
        let input: Vec<u8> = (0..200_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        let cases = [
            (Compression::Zstd(3), 2),
            (Compression::Zstd(1), 0),
            (Compression::Zstd(1), 1),
            (Compression::Zstd(-3), 2),
            (Compression::Gzip(6), 2),
            (Compression::None, 2),
        ];
        for (compression, threads) in cases {
            let mut compressor = Compressor::new(compression, threads).expect("compressor");
            let mut out = Vec::new();
            for chunk in input.chunks(7919) {
                out.extend(compressor.write(chunk).expect("write"));
            }
            out.extend(compressor.finish().expect("finish"));
            let back = match compression {
                Compression::Zstd(_) => zstd::decode_all(out.as_slice()).expect("zstd"),
                Compression::Gzip(_) => {
                    let mut d = flate2::read::GzDecoder::new(out.as_slice());
                    let mut v = Vec::new();
                    std::io::Read::read_to_end(&mut d, &mut v).expect("gzip");
                    v
                }
                _ => out,
            };
            assert_eq!(back, input, "{compression} with {threads} zstd workers");
        }
    }
}
