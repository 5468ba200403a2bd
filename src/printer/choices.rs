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
    /// `health` only: the Nagios plugin convention (one status line with perfdata)
    Nagios,
    /// `health` only: the Prometheus text exposition format (for node_exporter's textfile collector)
    Prometheus,
}

impl OutputFormat {
    /// Whether only `campctl health` writes this format.
    pub fn is_health_only(self) -> bool {
        matches!(self, Self::Nagios | Self::Prometheus)
    }

    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Table => "table",
            Self::Json => "json",
            Self::Csv => "csv",
            Self::Nagios => "nagios",
            Self::Prometheus => "prometheus",
        }
    }
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
