//! The whole-object digests of a backup's stored stream, shared by database and files backups: SHA-256 always
//! (the manifest's `sha256`, the blob's `campctl_sha256`), MD5 only when an Azure store is written (the blob's
//! Content-MD5, `x-ms-blob-content-md5`). A local-only backup computes no MD5: it was 40 % of the CPU samples of
//! `--compression none --store local`.
//!
//! The digests run on the thread that compresses (or tars), over each chunk before it is sent to the stores. A
//! thread of their own, fed by a bounded channel of the same chunks, was measured (docs/backup.md, "Digests"): on
//! two cores it did not shorten the wall time and cost more CPU, so they stay where they are.

use md5::Digest as _;

use crate::storage::Store;

/// The digests of a stream, updated chunk by chunk.
pub(super) struct Digests {
    sha256: sha2::Sha256,
    md5: Option<md5::Md5>,
}

/// The digests of a whole stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Finished {
    pub sha256: [u8; 32],
    /// `None` when no store needed it.
    pub md5: Option<[u8; 16]>,
}

impl Digests {
    /// SHA-256, and MD5 too when `md5`.
    pub(super) fn new(md5: bool) -> Self {
        Self {
            sha256: sha2::Sha256::new(),
            md5: md5.then(md5::Md5::new),
        }
    }

    /// The digests a backup to `stores` needs: MD5 only when one of them is an Azure store.
    pub(super) fn for_stores(stores: &[Store]) -> Self {
        Self::new(needs_md5(stores))
    }

    pub(super) fn update(&mut self, bytes: &[u8]) {
        self.sha256.update(bytes);
        if let Some(md5) = &mut self.md5 {
            md5.update(bytes);
        }
    }

    pub(super) fn finish(self) -> Finished {
        Finished {
            sha256: self.sha256.finalize().into(),
            md5: self.md5.map(|md5| md5.finalize().into()),
        }
    }
}

/// Whether a backup to `stores` needs the whole object's MD5: only Azure stores it (Content-MD5).
fn needs_md5(stores: &[Store]) -> bool {
    stores.iter().any(|store| matches!(store, Store::Azure(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_only_when_asked_and_the_same_digests_whatever_the_chunks() {
        let data: Vec<u8> = (0..100_000u32).flat_map(|i| (i % 253).to_le_bytes()).collect();
        let whole = {
            let mut digests = Digests::new(true);
            digests.update(&data);
            digests.finish()
        };
        assert_eq!(whole.sha256, <[u8; 32]>::from(sha2::Sha256::digest(&data)));
        assert_eq!(whole.md5, Some(<[u8; 16]>::from(md5::Md5::digest(&data))));
        let mut chunked = Digests::new(false);
        for chunk in data.chunks(7919) {
            chunked.update(chunk);
        }
        let chunked = chunked.finish();
        assert_eq!(chunked.sha256, whole.sha256);
        assert_eq!(chunked.md5, None);
    }
}
