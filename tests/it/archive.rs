//! The archive scanner (`campctl::pg::archive`) on archives of the real pg_dump (the harness's PostgreSQL 15):
//! row counts equal `SELECT count(*)`, byte counts equal the tables' COPY text, large objects are counted, whatever
//! the chunking; truncated, foreign and patched streams are refused.

use std::collections::HashSet;
use std::io::{Read as _, Write as _};
use std::process::{Command, Stdio};

use campctl::pg::archive::{ArchiveError, ArchiveScanner, ArchiveSummary, RowCounting, ScanOptions};
use campctl::pg::quote_ident;

use crate::common::{TestContext, TestDb, pg};

/// Awkward objects: quoted, mixed-case and non-ASCII names, several schemas, a partitioned table, an empty table, a
/// materialized view (no data block), large objects (one empty), an extension from contrib, and values with
/// newlines, tabs, backslashes, `\.`, empty strings, bytea and jsonb.
const SEED: &str = r#"
CREATE EXTENSION citext;
CREATE SCHEMA "Sales";
CREATE SCHEMA "ünïcødé";
CREATE TABLE "Sales"."Order Items" (
    id integer PRIMARY KEY, "Note" citext, doc jsonb, raw bytea, placed date, price numeric(10, 2), ratio float8
);
INSERT INTO "Sales"."Order Items"
SELECT g,
       CASE g % 5 WHEN 0 THEN E'line one\nline two' WHEN 1 THEN E'tab\there, back\\slash' WHEN 2 THEN E'\\.'
                  WHEN 3 THEN '' END,
       jsonb_build_object('n', g, 'text', E'multi\nline "quoted"', 'list', jsonb_build_array(g, g * 2)),
       decode(md5(g::text), 'hex') || '\x0a0d5c'::bytea,
       DATE '2024-01-01' + g, g * 1.25, g / 7.0
FROM generate_series(1, 3000) AS g;
CREATE TABLE "ünïcødé"."tâble ☃" ("ключ" text);
INSERT INTO "ünïcødé"."tâble ☃" VALUES ('ü'), (''), (''), (E'\\.'), (NULL), (E'\n'), (E'\\');
CREATE TABLE public."MiXeD ""Quoted"" Name" (a int);
INSERT INTO public."MiXeD ""Quoted"" Name" SELECT generate_series(1, 17);
CREATE TABLE public.empty (a int);
CREATE TABLE public.events (id bigint, happened date NOT NULL, payload text) PARTITION BY RANGE (happened);
CREATE TABLE public.events_2024 PARTITION OF public.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE public.events_2025 PARTITION OF public.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE public.events_other PARTITION OF public.events DEFAULT;
INSERT INTO public.events SELECT g, DATE '2024-06-01' + g % 900, repeat('x', g % 50) FROM generate_series(1, 5000) g;
CREATE MATERIALIZED VIEW public.event_days AS SELECT happened, count(*) FROM public.events GROUP BY happened;
CREATE TABLE public.big AS SELECT g AS id, md5(g::text) AS hash, repeat('lorem ipsum ', g % 9) AS body
FROM generate_series(1, 60000) AS g;
SELECT lo_from_bytea(0, convert_to(repeat('large object ', g * 1000), 'UTF8')) FROM generate_series(1, 4) AS g;
SELECT lo_from_bytea(0, ''::bytea);
"#;

/// A small database, so that a test can cut its archive at every byte.
const SMALL_SEED: &str = r"
CREATE TABLE public.a (id int, note text);
INSERT INTO public.a VALUES (1, E'one\ntwo'), (2, NULL), (3, '');
CREATE TABLE public.b (id int);
SELECT lo_from_bytea(0, 'hello'::bytea);
CREATE TABLE public.c (id int);
INSERT INTO public.c SELECT generate_series(1, 40);
";

/// Runs the harness's pg_dump on `db` with `args`; the password goes through the environment, never argv.
fn pg_dump(db: &TestDb, args: &[&str]) -> Vec<u8> {
    pg().run_tool("pg_dump", db.name(), args)
}

/// The TOC entry count `pg_restore --list` reads from `archive` on its stdin.
fn pg_restore_toc_entries(archive: &[u8]) -> usize {
    let mut child = Command::new(pg().bin_dir().join("pg_restore"))
        .env_clear()
        .arg("--list")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run pg_restore");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let archive = archive.to_vec();
    // pg_restore reads only the header and TOC, then closes the pipe: a broken pipe is expected.
    let writer = std::thread::spawn(move || match stdin.write_all(&archive) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    });
    let mut listing = String::new();
    child
        .stdout
        .take()
        .expect("piped stdout")
        .read_to_string(&mut listing)
        .expect("read the listing");
    writer.join().expect("writer thread").expect("write the archive");
    assert!(child.wait().expect("wait for pg_restore").success(), "{listing}");
    let line = listing
        .lines()
        .find_map(|line| line.trim_start_matches(';').trim().strip_prefix("TOC Entries:"))
        .unwrap_or_else(|| panic!("no TOC count in:\n{listing}"));
    line.trim().parse().expect("a count")
}

/// Pushes `bytes` in pseudo-random pieces of 1 byte to 256 KiB (xorshift from `seed`), then finishes.
fn scan_in_pieces(bytes: &[u8], seed: u64, count_rows: RowCounting) -> Result<ArchiveSummary, ArchiveError> {
    scan_in_pieces_up_to(bytes, seed, count_rows, [16, 512, 64 * 1024, 256 * 1024])
}

/// Pushes `bytes` to a scanner in pseudo-random pieces (xorshift from `seed`) of 1 byte up to one of `limits`,
/// picked anew for each piece, then finishes.
pub(crate) fn scan_in_pieces_up_to(
    bytes: &[u8],
    seed: u64,
    count_rows: RowCounting,
    limits: [usize; 4],
) -> Result<ArchiveSummary, ArchiveError> {
    let mut scanner = ArchiveScanner::new(ScanOptions { count_rows });
    let mut state = seed | 1;
    let mut rest = bytes;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let limit = limits[usize::try_from(state % 4).expect("small")];
        let size = usize::try_from(state >> 8).expect("64-bit usize") % limit + 1;
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        scanner.push(piece)?;
        rest = tail;
    }
    scanner.finish()
}

/// The tables whose data pg_dump dumps: ordinary tables and partitions outside the system schemas.
fn user_tables(db: &TestDb) -> HashSet<(String, String)> {
    let sql = "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
               WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
               AND n.nspname NOT LIKE 'pg_toast%'";
    let rows = db.client().query(sql, &[]).expect("list tables");
    rows.iter().map(|row| (row.get(0), row.get(1))).collect()
}

/// Checks every table of `summary` against the database: rows against `count(*)`, bytes against the COPY text
/// (plus pg_dump's 5-byte end marker `\.\n\n\n`), and the set of tables and of large objects.
fn assert_matches_database(summary: &ArchiveSummary, db: &TestDb) {
    let mut client = db.client();
    // The settings pg_dump's session uses, so that COPY writes the same text.
    client
        .batch_execute("SET datestyle = ISO; SET intervalstyle = postgres; SET extra_float_digits = 3")
        .expect("session settings");
    let dumped: HashSet<_> = summary
        .tables
        .iter()
        .map(|table| (table.schema.clone(), table.table.clone()))
        .collect();
    assert_eq!(dumped, user_tables(db), "the tables with data");
    assert_eq!(dumped.len(), summary.tables.len(), "each table once");
    for table in &summary.tables {
        let name = format!("{}.{}", quote_ident(&table.schema), quote_ident(&table.table));
        let count: i64 = client
            .query_one(&format!("SELECT count(*) FROM ONLY {name}"), &[])
            .expect("count")
            .get(0);
        assert_eq!(table.rows, Some(count.unsigned_abs()), "rows of {name}");
        let mut text = Vec::new();
        client
            .copy_out(&format!("COPY {name} TO STDOUT"))
            .expect("copy out")
            .read_to_end(&mut text)
            .expect("read the COPY text");
        assert_eq!(table.bytes, text.len() as u64 + 5, "bytes of {name}");
    }
    let large_objects: i64 = client
        .query_one("SELECT count(*) FROM pg_largeobject_metadata", &[])
        .expect("count large objects")
        .get(0);
    assert_eq!(summary.large_objects, large_objects.unsigned_abs());
    assert_eq!(
        summary.data_bytes,
        summary.tables.iter().map(|table| table.bytes).sum::<u64>()
    );
}

#[test]
fn row_and_byte_counts_match_the_database_uncompressed_and_gzip() {
    let ctx = TestContext::new();
    let db = ctx.db();
    db.execute(SEED);
    for (args, compression) in [(&["-Fc", "-Z0"][..], "none"), (&["-Fc"][..], "gzip")] {
        let archive = pg_dump(&db, args);
        let toc_entries = pg_restore_toc_entries(&archive);
        let mut first = None;
        for seed in [1, 0x9e37_79b9_7f4a_7c15, 0xdead_beef] {
            let summary = scan_in_pieces(&archive, seed, RowCounting::All)
                .unwrap_or_else(|error| panic!("{args:?} in pieces from seed {seed}: {error}"));
            let json = serde_json::to_string(&summary).expect("json");
            assert_eq!(first.get_or_insert(json.clone()), &json, "the chunking changes nothing");
            assert_eq!(summary.version, "1.14.0", "pg_dump 15 writes archive version 1.14");
            assert_eq!(summary.compression, compression);
            assert_eq!(summary.database, db.name());
            assert!(
                summary.pg_dump_version.starts_with("15."),
                "{}",
                summary.pg_dump_version
            );
            assert!(summary.server_version.starts_with("15."), "{}", summary.server_version);
            assert_eq!(summary.toc_entries, toc_entries);
            assert!(summary.data_decoded);
            assert_matches_database(&summary, &db);
        }
        let summary = scan_in_pieces(&archive, 7, RowCounting::All).expect("valid");
        let big = summary.tables.iter().find(|table| table.table == "big").expect("big");
        if compression == "none" {
            assert_eq!(big.stored_bytes, big.bytes);
        } else {
            assert!(big.stored_bytes < big.bytes / 2, "{big:?}");
        }
    }
}

#[test]
fn listed_row_counting_counts_only_the_listed_tables() {
    let ctx = TestContext::new();
    let db = ctx.db();
    db.execute(SEED);
    let archive = pg_dump(&db, &["-Fc", "-Z0"]);
    let listed = HashSet::from([
        ("ünïcødé".to_owned(), "tâble ☃".to_owned()),
        ("public".to_owned(), "missing".to_owned()),
    ]);
    let summary = scan_in_pieces(&archive, 3, RowCounting::Listed(listed)).expect("valid");
    for table in &summary.tables {
        let expected = (table.schema == "ünïcødé").then_some(7);
        assert_eq!(table.rows, expected, "{table:?}");
    }
    let summary = scan_in_pieces(&archive, 3, RowCounting::None).expect("valid");
    assert!(
        summary
            .tables
            .iter()
            .all(|table| table.rows.is_none() && table.bytes > 0)
    );
}

#[test]
fn an_archive_cut_at_any_byte_is_truncated() {
    let ctx = TestContext::new();
    let db = ctx.db();
    db.execute(SMALL_SEED);
    for args in [&["-Fc", "-Z0"][..], &["-Fc"][..]] {
        let archive = pg_dump(&db, args);
        let summary = scan_in_pieces(&archive, 5, RowCounting::All).expect("the whole archive is valid");
        assert_eq!(summary.tables.len(), 3);
        assert_eq!(summary.large_objects, 1);
        for cut in 0..archive.len() {
            match scan_in_pieces(&archive[..cut], cut as u64, RowCounting::All) {
                Err(ArchiveError::Truncated { offset, .. }) => assert_eq!(offset, cut as u64),
                other => panic!("{args:?} cut at {cut} of {}: {other:?}", archive.len()),
            }
        }
    }
}

#[test]
fn other_streams_are_refused() {
    let ctx = TestContext::new();
    let db = ctx.db();
    db.execute(SMALL_SEED);
    let scan = |bytes: &[u8]| scan_in_pieces(bytes, 11, RowCounting::All);
    for args in [&["-Fp"][..], &["-Ft"][..]] {
        let error = scan(&pg_dump(&db, args)).expect_err("not custom format");
        assert!(matches!(error, ArchiveError::NotAnArchive), "{args:?}: {error}");
    }
    let archive = pg_dump(&db, &["-Fc", "-Z0"]);
    let compressed = zstd::encode_all(&archive[..], 3).expect("zstd");
    assert!(matches!(scan(&compressed), Err(ArchiveError::NotAnArchive)));

    let directory = ctx.home().join("directory-format");
    pg_dump(&db, &["-Fd", "-f", directory.to_str().expect("UTF-8 path")]);
    let toc = std::fs::read(directory.join("toc.dat")).expect("read toc.dat");
    let error = scan(&toc).expect_err("directory format");
    assert!(matches!(error, ArchiveError::WrongFormat { .. }), "{error}");

    // A header patched to a future format version (the minor version is the seventh byte).
    let mut future = archive.clone();
    assert_eq!(&future[..7], b"PGDMP\x01\x0e");
    future[6] = 17;
    let error = scan(&future).expect_err("future version");
    assert_eq!(
        error.to_string(),
        "The archive has format version `1.17.0`, but campctl reads versions 1.12 to 1.16 (pg_dump 9.0 to 17): dump \
         with a pg_dump in that range, or use a campctl that knows the newer format"
    );

    // Trailing bytes after the last block: pg_dump never writes them.
    let mut trailing = archive.clone();
    trailing.extend_from_slice(b"\x01\x00\x63\x00\x00\x00");
    assert!(matches!(scan(&trailing), Err(ArchiveError::Malformed { .. })));
}

#[test]
fn an_inserts_dump_is_valid_without_row_counts() {
    let ctx = TestContext::new();
    let db = ctx.db();
    db.execute(SMALL_SEED);
    let summary = scan_in_pieces(&pg_dump(&db, &["-Fc", "-Z0", "--inserts"]), 13, RowCounting::All).expect("valid");
    assert_eq!(summary.tables.len(), 3);
    assert!(summary.tables.iter().all(|table| table.rows.is_none()), "{summary:?}");
}
