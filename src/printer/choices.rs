//! The output choices a user makes with `--format` and `--color` (or `[output]` in `campctl.toml`): plain enums at
//! the bottom of the layers, beside the printer that obeys them.
//!
//! `cli.rs` puts them on the command line, `config_file.rs` reads them from the file and `settings.rs` picks one;
//! this file must never import anything of campctl, so that every layer may name them.

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

/// Output format of reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// Human-readable tables
    #[default]
    Table,
    /// One JSON document
    Json,
    /// Comma-separated values of the section's main table, with a header row
    Csv,
}

/// When to use colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ColorChoice {
    /// Colour on a terminal unless NO_COLOR is set
    #[default]
    Auto,
    /// Always
    Always,
    /// Never
    Never,
}
