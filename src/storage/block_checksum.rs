//! The integrity check of each staged Azure block (`[storage.azure] block_checksum`): a CRC-64 (`x-ms-content-crc64`)
//! or an MD5 (`Content-MD5`) of the block's body, sent with its `Put Block` so that the service rejects a block that
//! was changed in transit instead of committing it.
//!
//! Only one check is ever sent per block. `auto` is `crc64` (a SIMD CRC costs next to nothing beside the MD5), except
//! against the storage emulator's well-known account (Azurite), which does not verify a CRC-64 and gets `md5`.
//! The check is computed in the block's own stage task, never on the thread that compresses the stream.

use std::fmt;

use azure_storage_blob::models::BlockBlobClientStageBlockOptions;
use bytes::Bytes;
use md5::{Digest as _, Md5};

/// `[storage.azure] block_checksum` as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum BlockChecksumChoice {
    /// `crc64`, or `md5` against the storage emulator.
    #[default]
    Auto,
    Crc64,
    Md5,
    None,
}

impl BlockChecksumChoice {
    pub(crate) const NAMES: [&'static str; 4] = ["auto", "crc64", "md5", "none"];

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(Self::Auto),
            "crc64" => Some(Self::Crc64),
            "md5" => Some(Self::Md5),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    /// The check sent with each block to a service at `endpoint`.
    pub(crate) fn resolve(self, emulator: bool) -> BlockChecksum {
        match self {
            Self::Auto if emulator => BlockChecksum::Md5,
            Self::Auto | Self::Crc64 => BlockChecksum::Crc64,
            Self::Md5 => BlockChecksum::Md5,
            Self::None => BlockChecksum::None,
        }
    }
}

/// The check sent with each staged block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockChecksum {
    /// `x-ms-content-crc64`: CRC-64/NVME, 8 bytes little-endian.
    Crc64,
    /// `Content-MD5`.
    Md5,
    None,
}

impl fmt::Display for BlockChecksum {
    /// The check's name in a message: `CRC-64`, `MD5`, `no check`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Crc64 => "CRC-64",
            Self::Md5 => "MD5",
            Self::None => "no check",
        })
    }
}

impl BlockChecksum {
    /// The `Put Block` options carrying the check of `block`. The MD5 (about 40 times the CPU of the CRC) runs on a
    /// blocking thread so that it never holds up a runtime worker; the CRC runs in place.
    pub(super) async fn stage_options(
        self,
        block: &Bytes,
    ) -> anyhow::Result<BlockBlobClientStageBlockOptions<'static>> {
        let mut options = BlockBlobClientStageBlockOptions::default();
        match self {
            Self::Crc64 => options.transactional_content_crc64 = Some(crc64(block).to_le_bytes().to_vec()),
            Self::Md5 => {
                let block = block.clone();
                let digest = tokio::task::spawn_blocking(move || Md5::digest(&block))
                    .await
                    .map_err(|err| anyhow::anyhow!("the MD5 of a block could not be computed: {err}"))?;
                options.transactional_content_md5 = Some(digest.to_vec());
            }
            Self::None => {}
        }
        Ok(options)
    }
}

/// CRC-64/NVME of `data`, the CRC-64 Azure Storage uses (reflected polynomial `0x9A6C9329AC4BC9B5`, initial value and
/// final XOR all ones).
pub(crate) fn crc64(data: &[u8]) -> u64 {
    let mut digest = crc64fast_nvme::Digest::new();
    digest.write(data);
    digest.sum64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_is_crc_64_nvme_as_azure_computes_it() {
        // The catalogue's check value of CRC-64/NVME.
        assert_eq!(crc64(b"123456789"), 0xAE8B_1486_0A79_9888);
        assert_eq!(crc64(b""), 0);
        // Computed with Microsoft's own implementation (PyPI `azure-storage-extensions` 0.1.0):
        //   from azure.storage.extensions.checksums import crc64
        //   hex(crc64.compute(bytes(range(256)) * 4, 0))          == 0x888d8d2f18d01447
        //   hex(crc64.compute(b"campctl block integrity", 0))     == 0xf64d4a20708813b3
        let bytes: Vec<u8> = (0..4).flat_map(|_| 0..=255u8).collect();
        assert_eq!(crc64(&bytes), 0x888d_8d2f_18d0_1447);
        assert_eq!(crc64(b"campctl block integrity"), 0xf64d_4a20_7088_13b3);
        // Split writes give the same value (the SIMD path and the table path meet).
        let mut digest = crc64fast_nvme::Digest::new();
        digest.write(&bytes[..100]);
        digest.write(&bytes[100..]);
        assert_eq!(digest.sum64(), crc64(&bytes));
    }

    #[test]
    fn auto_is_crc64_except_against_the_emulator() {
        assert_eq!(BlockChecksumChoice::Auto.resolve(false), BlockChecksum::Crc64);
        assert_eq!(BlockChecksumChoice::Auto.resolve(true), BlockChecksum::Md5);
        assert_eq!(BlockChecksumChoice::Crc64.resolve(true), BlockChecksum::Crc64);
        assert_eq!(BlockChecksumChoice::Md5.resolve(false), BlockChecksum::Md5);
        assert_eq!(BlockChecksumChoice::None.resolve(false), BlockChecksum::None);
        assert_eq!(BlockChecksumChoice::parse(" CRC64 "), Some(BlockChecksumChoice::Crc64));
        assert_eq!(BlockChecksumChoice::parse("sha256"), None);
    }

    #[tokio::test]
    async fn one_check_per_block() {
        let block = Bytes::from_static(b"123456789");
        let options = BlockChecksum::Crc64.stage_options(&block).await.expect("crc64");
        assert_eq!(
            options.transactional_content_crc64.as_deref(),
            Some(&0xAE8B_1486_0A79_9888u64.to_le_bytes()[..])
        );
        assert!(options.transactional_content_md5.is_none());
        let options = BlockChecksum::Md5.stage_options(&block).await.expect("md5");
        assert_eq!(
            options.transactional_content_md5.map(hex::encode).as_deref(),
            Some("25f9e794323b453885f5181f1b624d0b")
        );
        assert!(options.transactional_content_crc64.is_none());
        let options = BlockChecksum::None.stage_options(&block).await.expect("none");
        assert!(options.transactional_content_md5.is_none() && options.transactional_content_crc64.is_none());
    }
}
