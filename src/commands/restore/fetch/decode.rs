//! The first bytes of a download: which decompression the stored object needs ([`Decoder`], by its magic bytes:
//! zstd, gzip or none) and whether the decompressed bytes are a custom-format archive the chosen `pg_restore` can
//! read ([`check_header`]: `PGDMP` and the version).
//!
//! Pure functions of bytes: this file must never read a store, spawn a task or touch a database, and it reports a
//! bad header as a typed [`FetchError`] (refused, or damaged), never as a message to match.

use std::io::Write as _;

use crate::catalog::fetch_error::{FetchError, Reader};

/// The archive version in the header: `(major, minor, revision)`.
pub(crate) type ArchiveVersion = (u8, u8, u8);

/// Checks `PGDMP` and the version bytes against what `reader` reads.
pub(super) fn check_header(head: &[u8], reader: &Reader) -> anyhow::Result<ArchiveVersion> {
    if head.starts_with(b"--") || head.starts_with(b"SET ") {
        return Err(FetchError::PlainScript.into());
    }
    if !head.starts_with(b"PGDMP") {
        return Err(FetchError::Damaged(
            "The backup is not a pg_dump custom-format archive: it does not start with `PGDMP` after decompression"
                .into(),
        )
        .into());
    }
    let version = (head[5], head[6], head[7]);
    if (version.0, version.1) > reader.readable() {
        return Err(FetchError::UnreadableVersion {
            version: format!("{}.{}.{}", version.0, version.1, version.2),
            reader: reader.clone(),
        }
        .into());
    }
    Ok(version)
}

/// Decompression of the stored object, chosen from its first bytes.
pub(super) enum Decoder {
    Zstd(zstd::stream::write::Decoder<'static, Vec<u8>>),
    // Boxed: zlib-rs (the backend `campctl logs` enables) makes the gzip state large.
    Gzip(Box<flate2::write::MultiGzDecoder<Vec<u8>>>),
    Plain,
}

impl Decoder {
    pub(super) fn detect(first: &[u8]) -> std::io::Result<(Self, &'static str)> {
        Ok(if first.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]) {
            (Self::Zstd(zstd::stream::write::Decoder::new(Vec::new())?), "zstd")
        } else if first.starts_with(&[0x1F, 0x8B]) {
            (
                Self::Gzip(Box::new(flate2::write::MultiGzDecoder::new(Vec::new()))),
                "gzip",
            )
        } else {
            (Self::Plain, "none")
        })
    }

    pub(super) fn feed(&mut self, input: &[u8]) -> std::io::Result<Vec<u8>> {
        match self {
            Self::Zstd(decoder) => {
                decoder.write_all(input)?;
                decoder.flush()?;
                Ok(std::mem::take(decoder.get_mut()))
            }
            Self::Gzip(decoder) => {
                decoder.write_all(input)?;
                Ok(std::mem::take(decoder.get_mut()))
            }
            Self::Plain => Ok(input.to_vec()),
        }
    }

    pub(super) fn finish(self) -> std::io::Result<Vec<u8>> {
        match self {
            Self::Zstd(mut decoder) => {
                decoder.flush()?;
                Ok(decoder.into_inner())
            }
            Self::Gzip(decoder) => decoder.finish(),
            Self::Plain => Ok(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::super::is_refusal;
    use super::*;
    use crate::catalog::fetch_error::readable_version;

    #[test]
    fn pg_restore_reads_versions_up_to_its_own() {
        assert_eq!(readable_version(11), (1, 13));
        assert_eq!(readable_version(15), (1, 14));
        assert_eq!(readable_version(16), (1, 15));
        assert_eq!(readable_version(17), (1, 16));
    }

    #[test]
    fn header_check_refuses_newer_archives_and_sql_scripts() {
        // pg_restore 15 reads up to 1.14.
        let reader = Reader {
            path: "/usr/bin/pg_restore".into(),
            major: 15,
        };
        let header = |minor| [b'P', b'G', b'D', b'M', b'P', 1, minor, 0];
        assert_eq!(check_header(&header(14), &reader).expect("readable"), (1, 14, 0));
        let newer = check_header(&header(16), &reader).expect_err("too new");
        assert!(is_refusal(&newer));
        let explained = newer.to_string();
        assert!(
            explained.contains("version 1.16.0, written by pg_dump 17 or newer"),
            "{explained}"
        );
        let script = check_header(b"--\n-- PostgreSQL database dump", &reader).expect_err("a script");
        assert!(script.to_string().contains("plain SQL script"), "{script}");
        let garbage = check_header(b"\x00\x01garbage!", &reader).expect_err("garbage");
        assert!(!is_refusal(&garbage));
    }

    #[test]
    fn decoders_are_chosen_by_magic_bytes() {
        let data = b"PGDMP\x01\x0e\x00 and more".repeat(100);
        let zstd = zstd::encode_all(&data[..], 1).expect("zstd");
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gzip.write_all(&data).expect("gzip");
        let gzip = gzip.finish().expect("gzip");
        for (stored, name) in [(zstd, "zstd"), (gzip, "gzip"), (data.clone(), "none")] {
            let (mut decoder, detected) = Decoder::detect(&stored).expect("detect");
            assert_eq!(detected, name);
            let mut out = Vec::new();
            for chunk in stored.chunks(7) {
                out.extend(decoder.feed(chunk).expect("feed"));
            }
            out.extend(decoder.finish().expect("finish"));
            assert_eq!(out, data, "{name}");
        }
    }
}
