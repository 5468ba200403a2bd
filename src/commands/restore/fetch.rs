//! Download and verify: the stored object streams from its store through SHA-256, then whatever decompression the
//! backup used (recognised by its magic bytes: zstd, gzip or none), then the archive scanner (which checks that
//! the bytes form a complete custom-format archive and counts each table's rows), and on to a sink: a spool file,
//! or `pg_restore`'s stdin.
//!
//! The archive's format version is checked against what the chosen `pg_restore` reads as soon as the first bytes
//! are decompressed ([`Fetch::head`]), before the caller creates any database. When the sink is `pg_restore` itself
//! (`--jobs 1`), the last chunk is held back until the checksum and the archive's end have been verified, so
//! `pg_restore` can never finish on a damaged archive; the caller then drops the half-restored copy.
//!
//! The byte-level checks of the first bytes (compression magic, archive header) are in `fetch/decode.rs`. This file
//! must never create, change or drop a database: it only reads a store and feeds a sink.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use bytes::Bytes;
use futures::StreamExt as _;
use sha2::Digest as _;
use tokio::io::{AsyncWrite, AsyncWriteExt as _};
use tokio::sync::{mpsc, oneshot};

use crate::catalog::fetch_error::{DownloadFailed, FetchError, Reader};
use crate::catalog::select::Selected;
use crate::pg::archive::{ArchiveScanner, ArchiveSummary, RowCounting, ScanOptions};
use crate::progress::Progress;
use decode::{ArchiveVersion, Decoder, check_header};

mod decode;

/// Chunks queued between stages: memory stays near (2 × QUEUE) chunks whatever the backup's size.
const QUEUE: usize = 8;

/// Largest piece of decompressed data queued for the sink.
const PIECE: usize = 1 << 20;

/// What a verified download produced.
#[derive(Debug, Clone)]
pub(crate) struct Fetched {
    /// Hex SHA-256 of the stored object.
    pub sha256: String,
    /// Bytes of the stored object.
    pub stored_bytes: u64,
    /// Bytes of the decompressed archive.
    pub archive_bytes: u64,
    /// `zstd`, `gzip` or `none`: the compression found on the stored object.
    pub compression: &'static str,
    /// The archive's contents, with every table's rows counted.
    pub summary: ArchiveSummary,
    /// Whether the checksum was compared with a manifest.
    pub checksum_verified: bool,
    pub seconds: f64,
}

/// A verification failure: the backup is damaged or is not what its manifest says (exit 1).
fn damaged(message: String) -> anyhow::Error {
    FetchError::Damaged(message).into()
}

/// A download in progress; see the module documentation.
pub(crate) struct Fetch {
    out: mpsc::Receiver<Bytes>,
    head: Option<oneshot::Receiver<ArchiveVersion>>,
    processor: tokio::task::JoinHandle<anyhow::Result<Fetched>>,
    downloader: tokio::task::JoinHandle<()>,
}

impl Drop for Fetch {
    fn drop(&mut self) {
        self.downloader.abort();
    }
}

impl Fetch {
    /// Starts downloading `selected`, to be read by `reader` (whose archive versions the header is checked against).
    ///
    /// # Errors
    /// The object cannot be opened (not found: exit 10; authentication: exit 12).
    pub(crate) async fn start(selected: &Selected, reader: Reader, progress: Arc<Progress>) -> anyhow::Result<Self> {
        let started = Instant::now();
        let mut stream = selected.store.download(&selected.object).await?;
        let (raw_tx, raw_rx) = mpsc::channel::<anyhow::Result<Bytes>>(QUEUE);
        let (out_tx, out_rx) = mpsc::channel::<Bytes>(QUEUE);
        let (head_tx, head_rx) = oneshot::channel();
        let downloader = tokio::spawn(async move {
            while let Some(item) = stream.next().await {
                let failed = item.is_err();
                if let Ok(chunk) = &item {
                    progress.set(chunk.len() as u64);
                }
                if raw_tx.send(item).await.is_err() || failed {
                    return;
                }
            }
        });
        let expected = selected.manifest.as_ref().map(|m| (m.sha256.clone(), m.size_bytes));
        let label = format!("`{}` in {}", selected.object, selected.origin);
        let processor = tokio::task::spawn_blocking(move || {
            let mut stage = Stage {
                out: out_tx,
                head: Some(head_tx),
                reader,
                scanner: ArchiveScanner::new(ScanOptions {
                    count_rows: RowCounting::All,
                }),
                pending_head: Vec::new(),
                archive_bytes: 0,
            };
            process(raw_rx, &mut stage, expected.as_ref(), &label, started)
        });
        Ok(Self {
            out: out_rx,
            head: Some(head_rx),
            processor,
            downloader,
        })
    }

    /// Waits until the header has been read and its version found readable.
    ///
    /// # Errors
    /// The download, the decompression or the header failed, or pg_restore cannot read the version.
    pub(crate) async fn head(&mut self) -> anyhow::Result<ArchiveVersion> {
        let receiver = self.head.take().context("the header was already awaited")?;
        if let Ok(version) = receiver.await {
            return Ok(version);
        }
        // The processor stopped before it sent the header: its error says why.
        match (&mut self.processor).await.context("the verification task failed")? {
            Err(err) => Err(err),
            Ok(_) => Err(damaged("The backup holds no archive".into())),
        }
    }

    /// Streams the rest into `sink` and returns the verified result. With `hold_back`, the last chunk is written only
    /// once everything is verified. The sink is shut down (closed) on success only.
    ///
    /// # Errors
    /// A verification failure (exit 1), a download error, or a failed write to the sink.
    pub(crate) async fn finish_into<W: AsyncWrite + Unpin>(
        mut self,
        sink: &mut W,
        hold_back: bool,
    ) -> anyhow::Result<Fetched> {
        let mut pending: Option<Bytes> = None;
        let mut write_error = None;
        while let Some(chunk) = self.out.recv().await {
            let to_write = if hold_back { pending.replace(chunk) } else { Some(chunk) };
            if let Some(chunk) = to_write
                && let Err(err) = sink.write_all(&chunk).await
            {
                write_error = Some(err);
                break;
            }
        }
        // Stop the processor if the sink failed: it must not wait on a full queue.
        self.out.close();
        while self.out.try_recv().is_ok() {}
        let processed = (&mut self.processor).await.context("the verification task failed")?;
        if let Some(err) = write_error {
            // A verification failure explains a sink that gave up (pg_restore reading garbage) better than EPIPE.
            processed?;
            return Err(anyhow::Error::new(err).context("Failed to write the archive"));
        }
        let fetched = processed?;
        if let Some(chunk) = pending {
            sink.write_all(&chunk).await.context("Failed to write the archive")?;
        }
        sink.shutdown().await.context("Failed to close the archive stream")?;
        Ok(fetched)
    }
}

/// The blocking stage's state after decompression.
struct Stage {
    out: mpsc::Sender<Bytes>,
    head: Option<oneshot::Sender<ArchiveVersion>>,
    reader: Reader,
    scanner: ArchiveScanner,
    /// Decompressed bytes held until the header's version is known.
    pending_head: Vec<u8>,
    archive_bytes: u64,
}

impl Stage {
    /// Passes decompressed bytes on: header check first, then the scanner, then the sink.
    fn push(&mut self, data: Vec<u8>) -> anyhow::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let data = if self.head.is_some() {
            self.pending_head.extend_from_slice(&data);
            if self.pending_head.len() < 8 {
                return Ok(());
            }
            let version = check_header(&self.pending_head, &self.reader)?;
            if let Some(head) = self.head.take() {
                let _ = head.send(version);
            }
            std::mem::take(&mut self.pending_head)
        } else {
            data
        };
        self.archive_bytes += data.len() as u64;
        self.scanner
            .push(&data)
            .map_err(|err| damaged(format!("The backup is not a valid archive: {err}")))?;
        // Pieces of at most PIECE bytes (slices of one buffer, no copy): the queue then holds a bounded number of
        // bytes however well the backup compresses. A closed receiver means the sink stopped; the caller reports why.
        let data = Bytes::from(data);
        let mut offset = 0;
        while offset < data.len() {
            let end = (offset + PIECE).min(data.len());
            if self.out.blocking_send(data.slice(offset..end)).is_err() {
                break;
            }
            offset = end;
        }
        Ok(())
    }
}

/// The blocking stage: hash, decompress, check, scan. On a decompression or archive error it keeps hashing the
/// rest of the stored object, so that a damaged object is reported as a checksum mismatch (its real cause).
fn process(
    mut raw: mpsc::Receiver<anyhow::Result<Bytes>>,
    stage: &mut Stage,
    expected: Option<&(String, u64)>,
    label: &str,
    started: Instant,
) -> anyhow::Result<Fetched> {
    let mut sha256 = sha2::Sha256::new();
    let mut stored_bytes = 0u64;
    let mut decoder: Option<Decoder> = None;
    let mut compression = "none";
    let mut failure: Option<anyhow::Error> = None;
    while let Some(item) = raw.blocking_recv() {
        let chunk = item.with_context(|| DownloadFailed {
            label: label.to_string(),
        })?;
        sha256.update(&chunk);
        stored_bytes += chunk.len() as u64;
        if failure.is_some() {
            continue;
        }
        if decoder.is_none() {
            let (new, name) = Decoder::detect(&chunk).context("Failed to start decompression")?;
            compression = name;
            decoder = Some(new);
        }
        let decoder = decoder.as_mut().expect("set above");
        let result = decoder
            .feed(&chunk)
            .map_err(|err| damaged(format!("The backup cannot be decompressed ({compression}): {err}")))
            .and_then(|data| stage.push(data));
        if let Err(err) = result {
            if is_refusal(&err) || expected.is_none() {
                return Err(err);
            }
            // Stop feeding the sink at once; keep hashing to name the cause.
            let (closed, _) = mpsc::channel(1);
            stage.out = closed;
            failure = Some(err);
        }
    }
    let sha256 = hex::encode(sha256.finalize());
    if let Some((expected_sha, expected_size)) = expected
        && (*expected_sha != sha256 || *expected_size != stored_bytes)
    {
        // The damage explains any decompression or archive error it caused: report it first.
        let reading = failure.map(|cause| cause.to_string());
        return Err(if *expected_size == stored_bytes {
            FetchError::ChecksumMismatch {
                label: label.to_string(),
                actual: sha256,
                expected: expected_sha.clone(),
                reading,
            }
        } else {
            FetchError::SizeMismatch {
                label: label.to_string(),
                actual: stored_bytes,
                expected: *expected_size,
                reading,
            }
        }
        .into());
    }
    if let Some(err) = failure {
        return Err(err);
    }
    match decoder {
        Some(decoder) => {
            let rest = decoder
                .finish()
                .map_err(|err| damaged(format!("The backup's {compression} stream is incomplete: {err}")))?;
            stage.push(rest)?;
        }
        None => return Err(damaged(format!("{label} is empty"))),
    }
    if stage.head.is_some() {
        // Fewer than 8 bytes in all.
        check_header(&stage.pending_head, &stage.reader)?;
        return Err(damaged(format!("{label} is too short to be an archive")));
    }
    let scanner = std::mem::replace(&mut stage.scanner, ArchiveScanner::new(ScanOptions::default()));
    let summary = scanner
        .finish()
        .map_err(|err| damaged(format!("The backup is not a complete archive: {err}")))?;
    Ok(Fetched {
        sha256,
        stored_bytes,
        archive_bytes: stage.archive_bytes,
        compression,
        summary,
        checksum_verified: expected.is_some(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// A refusal (a script, an unreadable version): no need to hash on.
fn is_refusal(err: &anyhow::Error) -> bool {
    err.downcast_ref::<FetchError>().is_some_and(FetchError::is_refusal)
}
