//! Unit tests: the integer and string encodings, every supported archive version and compression on synthetic
//! archives ([`builder`]), chunking edge cases, and the errors. `tests/it/archive.rs` runs the real pg_dump.

mod builder;
mod fuzz;

use std::collections::HashSet;

use self::builder::{Builder, Entry, Method, sample};
use super::data::count_newlines;
use super::format::{Cursor, decode_int};
use super::{ArchiveError, ArchiveScanner, ArchiveSummary, RowCounting, ScanOptions};

fn scan_pieces<'a>(
    pieces: impl IntoIterator<Item = &'a [u8]>,
    counting: RowCounting,
) -> Result<ArchiveSummary, ArchiveError> {
    let mut scanner = ArchiveScanner::new(ScanOptions { count_rows: counting });
    for piece in pieces {
        scanner.push(piece)?;
    }
    scanner.finish()
}

fn scan(bytes: &[u8]) -> Result<ArchiveSummary, ArchiveError> {
    scan_pieces([bytes], RowCounting::All)
}

/// `(schema.table, rows, bytes)` of every table.
fn tables(summary: &ArchiveSummary) -> Vec<(String, Option<u64>, u64)> {
    summary
        .tables
        .iter()
        .map(|table| (format!("{}.{}", table.schema, table.table), table.rows, table.bytes))
        .collect()
}

#[test]
fn integers_are_a_sign_byte_and_little_endian_magnitude() {
    assert_eq!(decode_int(&[0, 0x39, 0x30, 0, 0]), Some(12_345));
    assert_eq!(decode_int(&[1, 1, 0, 0, 0]), Some(-1));
    // pg_dump's `ReadInt` treats any non-zero sign byte as negative.
    assert_eq!(decode_int(&[7, 2, 0, 0, 0]), Some(-2));
    assert_eq!(decode_int(&[0, 0, 0, 0, 0]), Some(0));
    assert_eq!(decode_int(&[0, 0xff, 0xff, 0xff, 0xff]), Some(0xffff_ffff));
    assert_eq!(decode_int(&[0, 1, 0, 0, 0, 0, 0, 0, 0x40]), Some(0x4000_0000_0000_0001));
    assert_eq!(decode_int(&[0, 0, 0, 0, 0, 0, 0, 0, 0x80]), None, "above i64::MAX");
    assert_eq!(decode_int(&[]), None);
}

#[test]
fn strings_are_length_prefixed_and_negative_means_null() {
    let mut builder = Builder::new(14, Method::None);
    builder.string(Some("tâble"));
    builder.string(None);
    builder.string(Some(""));
    let bytes = builder.out;
    assert_eq!(&bytes[..5], &[0, 6, 0, 0, 0], "the length counts UTF-8 bytes");
    // The TOC parser reads these fields through `Cursor`: a short slice says how long it must be.
    let mut cursor = Cursor::new(&bytes[..8], 4);
    assert_eq!(cursor.int(), Ok(6));
    let mut cursor = Cursor::new(&bytes[..3], 4);
    assert_eq!(cursor.int(), Err(super::format::ParseError::Short(5)));
}

#[test]
fn reads_every_supported_version() {
    for minor in 12..=16 {
        let summary = scan(&sample(minor, Method::None)).unwrap_or_else(|error| panic!("1.{minor}: {error}"));
        assert_eq!(summary.version, format!("1.{minor}.0"));
        assert_eq!(summary.compression, "none");
        assert_eq!(summary.database, "shop");
        assert_eq!(summary.server_version, "16.2");
        assert_eq!(summary.pg_dump_version, "16.2 (campctl test)");
        assert_eq!(summary.created, "2024-03-05 06:07:08");
        assert_eq!(summary.toc_entries, 5);
        assert_eq!(summary.large_objects, 3);
        assert!(summary.data_decoded);
        assert_eq!(
            tables(&summary),
            [
                ("public.users".to_owned(), Some(3), 28),
                ("Sales.Order Items".to_owned(), Some(0), 5)
            ]
        );
        assert_eq!(summary.data_bytes, 33);
    }
}

#[test]
fn compressed_data_is_decoded_and_counted() {
    for (minor, method, name) in [
        (14, Method::Gzip(-1), "gzip"),
        (13, Method::Gzip(6), "gzip:6"),
        (15, Method::Gzip(6), "gzip"),
        (16, Method::Zstd, "zstd"),
    ] {
        let summary = scan(&sample(minor, method)).unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(summary.compression, name);
        assert!(summary.data_decoded);
        assert_eq!(summary.tables[0].rows, Some(3), "{name}");
        assert_eq!(summary.tables[0].bytes, 28, "{name}");
        assert_ne!(summary.tables[0].stored_bytes, 28, "{name}");
        assert_eq!(summary.large_objects, 3);
    }
}

#[test]
fn lz4_data_is_measured_but_not_decoded() {
    let summary = scan(&sample(16, Method::Lz4)).expect("a valid archive");
    assert_eq!(summary.compression, "lz4");
    assert!(!summary.data_decoded);
    assert_eq!(summary.tables[0].rows, None);
    assert_eq!(summary.tables[0].bytes, summary.tables[0].stored_bytes);
}

#[test]
fn every_chunking_gives_the_same_summary() {
    for method in [Method::None, Method::Gzip(-1)] {
        let archive = sample(14, method);
        let whole = serde_json::to_string(&scan(&archive).expect("valid")).expect("json");
        let bytes = archive.chunks(1).collect::<Vec<_>>();
        let one_byte = scan_pieces(bytes, RowCounting::All).expect("valid in 1-byte pushes");
        assert_eq!(serde_json::to_string(&one_byte).expect("json"), whole);
        for cut in 0..=archive.len() {
            let (head, tail) = archive.split_at(cut);
            let summary = scan_pieces([head, &[][..], tail], RowCounting::All).expect("valid in two pushes");
            assert_eq!(serde_json::to_string(&summary).expect("json"), whole, "cut at {cut}");
        }
    }
}

#[test]
fn a_stream_cut_anywhere_is_truncated() {
    for method in [Method::None, Method::Gzip(-1), Method::Zstd] {
        let archive = sample(16, method);
        for cut in 0..archive.len() {
            match scan(&archive[..cut]) {
                Err(ArchiveError::Truncated { offset, .. }) => assert_eq!(offset, cut as u64),
                other => panic!("{method:?} cut at {cut} of {}: {other:?}", archive.len()),
            }
        }
    }
    let archive = sample(14, Method::None);
    let cut = archive
        .windows(5)
        .position(|window| window == b"alice")
        .expect("users' data");
    let error = scan(&archive[..cut]).expect_err("truncated");
    assert_eq!(
        error.to_string(),
        format!("The archive ends inside the data of table `public.users` at byte {cut}: pg_dump stopped early")
    );
    let error = scan(b"").expect_err("empty");
    assert_eq!(
        error.to_string(),
        "The archive ends before its header (the stream is empty) at byte 0: pg_dump stopped early"
    );
}

#[test]
fn a_missing_last_block_is_truncated() {
    let mut builder = Builder::new(14, Method::None);
    builder
        .header()
        .toc(&[Entry::table(10, "public", "a"), Entry::table(11, "public", "b")])
        .data(10, &[b"1\n", b"\\.\n\n\n"]);
    let error = scan(&builder.out).expect_err("b has no data");
    assert!(
        error
            .to_string()
            .starts_with("The archive ends before the data of table `public.b` (1 of 2 data blocks missing) at byte "),
        "{error}"
    );
}

#[test]
fn rows_are_newlines_without_the_end_marker() {
    let cases: [(&[&[u8]], u64); 6] = [
        (&[b"\\.\n\n\n"], 0),
        (&[b"a\n", b"b\n", b"\\.\n\n\n"], 2),
        // Rows of one empty string are empty lines.
        (&[b"\n", b"\n", b"\\.\n\n\n"], 2),
        // A value ending in a backslash-dot (written `\\.`) is a row, not the marker.
        (&[b"x\\\\.\n", b"\\.\n\n\n"], 1),
        // Without the marker (should a pg_dump stop writing it), every newline is a row.
        (&[b"a\n", b"b\n"], 2),
        (&[], 0),
    ];
    for (pieces, rows) in cases {
        let mut builder = Builder::new(14, Method::None);
        builder.header().toc(&[Entry::table(1, "public", "t")]).data(1, pieces);
        let summary = scan(&builder.out).expect("valid");
        assert_eq!(summary.tables[0].rows, Some(rows), "{pieces:?}");
        assert_eq!(summary.tables[0].bytes, pieces.concat().len() as u64);
    }
}

#[test]
fn row_counting_follows_the_options() {
    let archive = sample(14, Method::None);
    let none = scan_pieces([&archive[..]], RowCounting::None).expect("valid");
    assert!(none.tables.iter().all(|table| table.rows.is_none()));
    assert_eq!(none.data_bytes, 33, "bytes are measured anyway");
    let listed = HashSet::from([("Sales".to_owned(), "Order Items".to_owned())]);
    let listed = scan_pieces([&archive[..]], RowCounting::Listed(listed)).expect("valid");
    assert_eq!(listed.tables[0].rows, None);
    assert_eq!(listed.tables[1].rows, Some(0));
    // Data restored with INSERT (`pg_dump --inserts`) has no COPY statement and no countable rows.
    let mut builder = Builder::new(14, Method::None);
    let mut entry = Entry::table(1, "public", "t");
    entry.copy = false;
    builder
        .header()
        .toc(&[entry])
        .data(1, &[b"INSERT INTO t VALUES ('a\nb');\n"]);
    assert_eq!(scan(&builder.out).expect("valid").tables[0].rows, None);
}

#[test]
fn garbage_and_other_formats_are_recognised() {
    assert!(matches!(
        scan(b"--\n-- PostgreSQL database dump\n"),
        Err(ArchiveError::NotAnArchive)
    ));
    // The first byte is enough.
    let mut scanner = ArchiveScanner::new(ScanOptions::default());
    assert!(matches!(scanner.push(&[0x28]), Err(ArchiveError::NotAnArchive)));
    assert!(
        matches!(scanner.push(b"PGDMP"), Err(ArchiveError::NotAnArchive)),
        "errors stick"
    );

    let mut archive = sample(14, Method::None);
    archive[6] = 17;
    let error = scan(&archive).expect_err("too new");
    assert!(
        matches!(&error, ArchiveError::UnsupportedVersion { version } if version == "1.17.0"),
        "{error}"
    );
    archive[6] = 11;
    assert!(matches!(scan(&archive), Err(ArchiveError::UnsupportedVersion { .. })));

    let mut archive = sample(14, Method::None);
    for format in [3, 5] {
        archive[10] = format;
        assert!(matches!(scan(&archive), Err(ArchiveError::WrongFormat { .. })));
    }
    archive[10] = 4;
    assert!(matches!(
        scan(&archive),
        Err(ArchiveError::Malformed { offset: 10, .. })
    ));
}

#[test]
fn blocks_must_match_the_table_of_contents() {
    let entries = || {
        [
            Entry::table(10, "public", "a"),
            Entry::table(11, "public", "b"),
            Entry::blobs(12),
        ]
    };
    let mut cases: Vec<(Builder, &str)> = Vec::new();
    let mut builder = Builder::new(14, Method::None);
    builder.header().toc(&entries()).data(11, &[b"\\.\n\n\n"]);
    cases.push((builder, "the data of table `public.a` is missing"));
    let mut builder = Builder::new(14, Method::None);
    builder.header().toc(&entries()).data(10, &[]).data(10, &[]);
    cases.push((builder, "a second data block holds the data of table `public.a`"));
    let mut builder = Builder::new(14, Method::None);
    builder.header().toc(&entries()).data(99, &[]);
    cases.push((builder, "dump ID 99, which has no data"));
    let mut builder = Builder::new(14, Method::None);
    builder.header().toc(&entries()).blobs(10, &[]);
    cases.push((builder, "has type 3, which does not match"));
    let mut builder = Builder::new(14, Method::None);
    builder.header().toc(&entries());
    builder.out.push(2);
    builder.int(10);
    cases.push((builder, "unknown type 2"));
    let mut builder = Builder::new(14, Method::None);
    builder
        .header()
        .toc(&entries())
        .data(10, &[])
        .data(11, &[])
        .blobs(12, &[])
        .data(10, &[]);
    cases.push((builder, "a second data block"));
    let mut builder = Builder::new(14, Method::None);
    builder.header().toc(&entries());
    builder.out.push(1);
    builder.int(10);
    builder.int(-4);
    cases.push((builder, "has the length -4"));
    for (builder, expected) in cases {
        let error = scan(&builder.out).expect_err(expected);
        assert!(matches!(error, ArchiveError::Malformed { .. }), "{error}");
        assert!(error.to_string().contains(expected), "{error}");
    }
}

#[test]
fn corrupt_or_unfinished_compressed_data_is_malformed() {
    let mut builder = Builder::new(14, Method::Gzip(-1));
    builder.header().toc(&[Entry::table(1, "public", "t")]);
    builder.out.push(1);
    builder.int(1);
    builder.chunk(b"not zlib at all");
    builder.int(0);
    let error = scan(&builder.out).expect_err("corrupt");
    assert!(error.to_string().contains("zlib-compressed data is corrupt"), "{error}");

    let mut whole = Builder::new(14, Method::Gzip(-1));
    whole
        .header()
        .toc(&[Entry::table(1, "public", "t")])
        .data(1, &[&b"a\n"[..]; 50]);
    let mut builder = Builder::new(14, Method::Gzip(-1));
    builder.header().toc(&[Entry::table(1, "public", "t")]);
    let start = builder.out.len();
    // Keep the block header and the first chunk, then end the block: the zlib stream stops short.
    builder.out.extend_from_slice(&whole.out[start..start + 6 + 5 + 7]);
    builder.int(0);
    let error = scan(&builder.out).expect_err("unfinished");
    assert!(
        error
            .to_string()
            .contains("stops before the end of its compressed stream"),
        "{error}"
    );
}

#[test]
fn newline_count_matches_a_naive_count() {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let bytes: Vec<u8> = (0..20_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            if state.is_multiple_of(7) {
                b'\n'
            } else {
                state.to_le_bytes()[3]
            }
        })
        .collect();
    for length in [0, 1, 4095, 4096, 4097, 12_289, 20_000] {
        #[expect(clippy::naive_bytecount, reason = "the reference to compare with")]
        let naive = bytes[..length].iter().filter(|&&byte| byte == b'\n').count() as u64;
        assert_eq!(count_newlines(&bytes[..length]), naive, "{length}");
    }
}
