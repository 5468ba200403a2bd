//! Property tests of the scanner on synthetic archives of every supported version and every compression inside
//! the archive (none, gzip, lz4, zstd: the test machine's pg_dump 15 writes only the first two, see
//! `tests/it/hardening/fuzz.rs` for its real output): damaged archives and any bytes after a valid header are
//! refused or accepted, never a panic, in any chunking.

use proptest::prelude::*;

use super::builder::{Method, sample};
use super::scan_pieces;
use crate::pg::archive::{ArchiveError, RowCounting};
use crate::units::fuzz::config;

fn methods() -> impl Strategy<Value = (u8, Method)> {
    prop_oneof![
        (12u8..=16).prop_map(|minor| (minor, Method::None)),
        (12u8..=16).prop_map(|minor| (minor, Method::Gzip(-1))),
        (12u8..=14).prop_map(|minor| (minor, Method::Gzip(6))),
        (15u8..=16).prop_map(|minor| (minor, Method::Lz4)),
        (15u8..=16).prop_map(|minor| (minor, Method::Zstd)),
    ]
}

/// Scans `bytes` in pieces of the given sizes (cycled), and checks that an error says something.
fn scan_in(bytes: &[u8], sizes: &[usize]) -> Result<(), TestCaseError> {
    let mut pieces = Vec::new();
    let mut rest = bytes;
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at((*size).min(rest.len()));
        pieces.push(piece);
        rest = tail;
    }
    if let Err(error) = scan_pieces(pieces, RowCounting::All) {
        prop_assert!(error.to_string().len() > 20, "{:?}", error);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn fuzz_archive_synthetic_damage(
        (minor, method) in methods(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        cut in proptest::option::of(any::<prop::sample::Index>()),
        sizes in prop::collection::vec(1usize..300, 1..6),
    ) {
        let mut bytes = sample(minor, method);
        for (at, mask) in flips {
            let at = at.index(bytes.len());
            bytes[at] ^= mask;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        scan_in(&bytes, &sizes)?;
    }

    #[test]
    fn fuzz_archive_synthetic_garbage_after_the_header(
        (minor, method) in methods(),
        keep in any::<prop::sample::Index>(),
        garbage in prop::collection::vec(any::<u8>(), 0..400),
        sizes in prop::collection::vec(1usize..300, 1..6),
    ) {
        let mut bytes = sample(minor, method);
        bytes.truncate(keep.index(bytes.len() + 1));
        bytes.extend_from_slice(&garbage);
        scan_in(&bytes, &sizes)?;
    }

    #[test]
    fn fuzz_archive_synthetic_cut(
        (minor, method) in methods(),
        cut in any::<prop::sample::Index>(),
    ) {
        let archive = sample(minor, method);
        let cut = cut.index(archive.len());
        match scan_pieces([&archive[..cut]], RowCounting::All) {
            Err(ArchiveError::Truncated { offset, .. }) => prop_assert_eq!(offset, cut as u64),
            other => prop_assert!(false, "cut at {} of {}: {:?}", cut, archive.len(), other),
        }
    }
}
