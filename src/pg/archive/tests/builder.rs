//! Writes synthetic custom-format archives the way pg_dump does (`WriteHead`, `WriteToc`, `_StartData` ...), for
//! archive versions and compressions the test machine's pg_dump 15 cannot produce.

use std::io::Write as _;

use flate2::Compression as Level;
use flate2::write::ZlibEncoder;

/// Compression as the builder writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Method {
    None,
    /// A level; `-1` is zlib's default.
    Gzip(i64),
    Lz4,
    Zstd,
}

/// One TOC entry.
pub(super) struct Entry {
    pub id: i64,
    pub desc: &'static str,
    pub namespace: &'static str,
    pub tag: &'static str,
    pub copy: bool,
    pub data: bool,
}

impl Entry {
    pub(super) fn table(id: i64, namespace: &'static str, tag: &'static str) -> Self {
        Self {
            id,
            desc: "TABLE DATA",
            namespace,
            tag,
            copy: true,
            data: true,
        }
    }

    pub(super) fn schema_only(id: i64, desc: &'static str, tag: &'static str) -> Self {
        Self {
            id,
            desc,
            namespace: "public",
            tag,
            copy: false,
            data: false,
        }
    }

    pub(super) fn blobs(id: i64) -> Self {
        Self {
            id,
            desc: "BLOBS",
            namespace: "",
            tag: "BLOBS",
            copy: false,
            data: true,
        }
    }
}

pub(super) struct Builder {
    pub minor: u8,
    pub int_size: usize,
    pub method: Method,
    pub out: Vec<u8>,
}

impl Builder {
    pub(super) fn new(minor: u8, method: Method) -> Self {
        Self {
            minor,
            int_size: 4,
            method,
            out: Vec::new(),
        }
    }

    pub(super) fn int(&mut self, value: i64) {
        self.out.push(u8::from(value < 0));
        let magnitude = value.unsigned_abs().to_le_bytes();
        self.out.extend_from_slice(&magnitude[..self.int_size]);
    }

    pub(super) fn string(&mut self, value: Option<&str>) {
        match value {
            Some(text) => {
                self.int(i64::try_from(text.len()).expect("short string"));
                self.out.extend_from_slice(text.as_bytes());
            }
            None => self.int(-1),
        }
    }

    /// `WriteHead` for 2024-03-05 06:07:08.
    pub(super) fn header(&mut self) -> &mut Self {
        self.out.extend_from_slice(b"PGDMP");
        self.out
            .extend_from_slice(&[1, self.minor, 0, u8::try_from(self.int_size).expect("small"), 8, 1]);
        if self.minor >= 15 {
            self.out.push(match self.method {
                Method::None => 0,
                Method::Gzip(_) => 1,
                Method::Lz4 => 2,
                Method::Zstd => 3,
            });
        } else {
            self.int(match self.method {
                Method::None => 0,
                Method::Gzip(level) => level,
                Method::Lz4 | Method::Zstd => panic!("no lz4 or zstd before 1.15"),
            });
        }
        for field in [8, 7, 6, 5, 2, 124, 0] {
            self.int(field);
        }
        self.string(Some("shop"));
        self.string(Some("16.2"));
        self.string(Some("16.2 (campctl test)"));
        self
    }

    /// `WriteToc` with the custom format's offset flag (`K_OFFSET_POS_NOT_SET`, as to a pipe).
    pub(super) fn toc(&mut self, entries: &[Entry]) -> &mut Self {
        self.int(i64::try_from(entries.len()).expect("few entries"));
        for entry in entries {
            self.int(entry.id);
            self.int(i64::from(entry.data));
            self.string(Some("1259"));
            self.string(Some("16384"));
            self.string(Some(entry.tag));
            self.string(Some(entry.desc));
            self.int(2);
            self.string(Some(if entry.data { "" } else { "CREATE ..." }));
            self.string(Some(""));
            let copy = format!("COPY {}.{} (a) FROM stdin;\n", entry.namespace, entry.tag);
            self.string(Some(if entry.copy { &copy } else { "" }));
            self.string(Some(entry.namespace));
            self.string(Some(""));
            if self.minor >= 14 {
                self.string(Some("heap"));
            }
            if self.minor >= 16 {
                self.int(i64::from(b'r'));
            }
            self.string(Some("postgres"));
            self.string(Some("false"));
            self.string(Some("3"));
            self.string(Some("12"));
            self.string(None);
            self.out.push(if entry.data { 1 } else { 3 });
            self.out.extend_from_slice(&[0; 8]);
        }
        self
    }

    /// A data stream's chunks: `pieces` as written (one chunk each without compression), or compressed as one
    /// stream split into 7-byte chunks.
    fn stream(&mut self, pieces: &[&[u8]]) {
        let whole = pieces.concat();
        let compressed = match self.method {
            Method::None => None,
            Method::Gzip(level) => {
                let level = u32::try_from(level).map_or(Level::default(), Level::new);
                let mut encoder = ZlibEncoder::new(Vec::new(), level);
                encoder.write_all(&whole).expect("compress");
                Some(encoder.finish().expect("compress"))
            }
            Method::Zstd => Some(zstd::encode_all(&whole[..], 3).expect("compress")),
            Method::Lz4 => Some(whole.iter().rev().copied().chain(*b"lz4").collect()),
        };
        match compressed {
            None => {
                for piece in pieces.iter().filter(|piece| !piece.is_empty()) {
                    self.chunk(piece);
                }
            }
            Some(bytes) => {
                for piece in bytes.chunks(7) {
                    self.chunk(piece);
                }
            }
        }
        self.int(0);
    }

    pub(super) fn chunk(&mut self, bytes: &[u8]) {
        self.int(i64::try_from(bytes.len()).expect("small chunk"));
        self.out.extend_from_slice(bytes);
    }

    /// A `BLK_DATA` block.
    pub(super) fn data(&mut self, id: i64, pieces: &[&[u8]]) -> &mut Self {
        self.out.push(1);
        self.int(id);
        self.stream(pieces);
        self
    }

    /// A `BLK_BLOBS` block.
    pub(super) fn blobs(&mut self, id: i64, objects: &[(i64, &[u8])]) -> &mut Self {
        self.out.push(3);
        self.int(id);
        for &(oid, bytes) in objects {
            self.int(oid);
            self.stream(&[bytes]);
        }
        self.int(0);
        self
    }
}

/// A small archive: a schema-only entry, two tables (one empty), large objects and a table without data last.
pub(super) fn sample(minor: u8, method: Method) -> Vec<u8> {
    let mut builder = Builder::new(minor, method);
    builder
        .header()
        .toc(&[
            Entry::schema_only(1, "ENCODING", "ENCODING"),
            Entry::table(10, "public", "users"),
            Entry::table(11, "Sales", "Order Items"),
            Entry::blobs(12),
            Entry::schema_only(13, "INDEX", "users_pkey"),
        ])
        .data(10, &[b"1\talice\n", b"2\tbob\\nby\n", b"3\t\\N\n", b"\\.\n\n\n"])
        .data(11, &[b"\\.\n\n\n"])
        .blobs(12, &[(16_400, b"hello"), (-2_000_000_000, b""), (16_402, &[0; 40])]);
    builder.out
}
