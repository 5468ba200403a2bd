//! The typed options of database dumps and restores that the command line, `campctl.toml` and the manifest share:
//! [`Compression`] (algorithm and level), [`RowCounts`] (which tables the manifest counts) and [`Jobs`]
//! (parallel pg_restore jobs).
//!
//! A leaf (floor 0, see `lib.rs`): the file's schema (`config_file`) deserializes into these types, so a bad value is
//! refused while the file is read, naming the file, line and key, instead of while a backup runs. It holds only the
//! parsed spec: the compressor itself lives with the backup command (`commands/backup/compression.rs`). It must
//! never import another module of the crate except `exit`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::exit::UserError;

/// The algorithm and level of a backup: `zstd[:LEVEL]` (multi-threaded, the default; levels 1 to 19, and -1 to
/// -10 for zstd's fast levels, `zstd --fast=N`), `gzip[:LEVEL]`, `pgdump[:LEVEL]` (pg_dump's own single-threaded
/// zlib) or `none`; `zstd` alone is level 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Compression {
    Zstd(i32),
    Gzip(u32),
    PgDump(u32),
    None,
}

impl Compression {
    /// The default: the fastest setting that keeps the archive at least as small as pg_dump's default zlib on the
    /// bench's data. Measured again by `scripts/bench backup` (docs/backup.md, "Compression"): on 1 GiB of text,
    /// jsonb and bytea, zstd:1 gave 158 MiB against zlib's 183 MiB in a third of its time; the fast levels (-1, -3)
    /// were 66–74 % larger, zstd:2 no faster, zstd:3 larger and slower. On text-heavy data zstd:1 is 9 % larger
    /// than zlib at a twelfth of its time (no level up to 6 reaches zlib's size there).
    pub const DEFAULT: Self = Self::Zstd(1);

    /// The file name suffix after `.dump`.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Zstd(_) => ".zst",
            Self::Gzip(_) => ".gz",
            Self::PgDump(_) | Self::None => "",
        }
    }

    /// pg_dump's `-Z` argument.
    pub fn pg_dump_level(self) -> u32 {
        match self {
            Self::PgDump(level) => level,
            _ => 0,
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Zstd(level) => write!(f, "zstd:{level}"),
            Self::Gzip(level) => write!(f, "gzip:{level}"),
            Self::PgDump(level) => write!(f, "pgdump:{level}"),
            Self::None => f.write_str("none"),
        }
    }
}

impl FromStr for Compression {
    type Err = UserError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || {
            UserError::usage(format!(
                "Invalid compression `{text}`: use zstd[:1-19 or -1 to -10], gzip[:1-9], pgdump[:1-9] or none"
            ))
            .with_hint("For example `zstd` (the default, level 1), `zstd:-3` (faster, larger), `zstd:9` or `gzip:6`")
        };
        let (name, level) = text.split_once(':').map_or((text, None), |(n, l)| (n, Some(l)));
        let parse_level = |default: u32, max: u32| -> Result<u32, UserError> {
            match level {
                None => Ok(default),
                Some(l) => l.parse().ok().filter(|l| (1..=max).contains(l)).ok_or_else(invalid),
            }
        };
        Ok(match name {
            "zstd" => Self::Zstd(match level {
                None => 1,
                Some(l) => l
                    .parse()
                    .ok()
                    .filter(|l: &i32| (1..=19).contains(l) || (-10..=-1).contains(l))
                    .ok_or_else(invalid)?,
            }),
            "gzip" => Self::Gzip(parse_level(6, 9)?),
            "pgdump" => Self::PgDump(parse_level(6, 9)?),
            "none" if level.is_none() => Self::None,
            _ => return Err(invalid()),
        })
    }
}

impl TryFrom<String> for Compression {
    type Error = UserError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Compression> for String {
    fn from(value: Compression) -> Self {
        value.to_string()
    }
}

/// Which tables get exact row counts in the manifest: `all` (the default), `listed` (`[backup] row_count_tables`)
/// or `none`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RowCounts {
    #[default]
    All,
    Listed,
    None,
}

impl RowCounts {
    /// The name as written in the file and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Listed => "listed",
            Self::None => "none",
        }
    }
}

impl fmt::Display for RowCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RowCounts {
    type Err = UserError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text {
            "all" => Self::All,
            "listed" => Self::Listed,
            "none" => Self::None,
            other => {
                return Err(
                    UserError::usage(format!("Invalid row counts `{other}`")).with_hint("Use all, listed or none")
                );
            }
        })
    }
}

/// Parallel pg_restore jobs: 1 (stream, no spool file) to [`Jobs::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Jobs(pub u32);

impl Jobs {
    /// The most parallel pg_restore jobs campctl runs (also the range of `--jobs`).
    pub const MAX: u32 = 64;
}

impl FromStr for Jobs {
    type Err = UserError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.parse::<u32>() {
            Ok(jobs) if (1..=Self::MAX).contains(&jobs) => Ok(Self(jobs)),
            _ => Err(UserError::usage(format!(
                "out of range: parallel pg_restore jobs are 1 to {}",
                Self::MAX
            ))
            .with_hint(format!(
                "Use a number from 1 (stream, no spool file) to {}; each job is one server connection, and campctl \
                 uses fewer when the server has fewer free",
                Self::MAX
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        assert_eq!("zstd".parse::<Compression>().ok(), Some(Compression::DEFAULT));
        assert_eq!("zstd:9".parse::<Compression>().ok(), Some(Compression::Zstd(9)));
        assert_eq!("gzip".parse::<Compression>().ok(), Some(Compression::Gzip(6)));
        assert_eq!("pgdump:1".parse::<Compression>().ok(), Some(Compression::PgDump(1)));
        assert_eq!("none".parse::<Compression>().ok(), Some(Compression::None));
        assert_eq!("zstd:-3".parse::<Compression>().ok(), Some(Compression::Zstd(-3)));
        assert_eq!(Compression::Zstd(-3).to_string(), "zstd:-3");
        for bad in [
            "zstd:0", "zstd:20", "zstd:-11", "zstd:-0", "gzip:10", "lz4", "none:1", "zstd:x",
        ] {
            assert!(bad.parse::<Compression>().is_err(), "{bad}");
        }
        assert_eq!(Compression::Zstd(3).to_string(), "zstd:3");
    }

    #[test]
    fn row_counts_parse_and_display() {
        for choice in [RowCounts::All, RowCounts::Listed, RowCounts::None] {
            assert_eq!(choice.to_string().parse::<RowCounts>().ok(), Some(choice));
        }
        assert!("some".parse::<RowCounts>().is_err());
    }

    #[test]
    fn jobs_are_one_to_max() {
        assert_eq!("1".parse::<Jobs>().ok(), Some(Jobs(1)));
        assert_eq!("64".parse::<Jobs>().ok(), Some(Jobs(64)));
        for bad in ["0", "65", "-1", "x", ""] {
            assert!(bad.parse::<Jobs>().is_err(), "{bad}");
        }
    }
}
