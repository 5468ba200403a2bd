//! tracing setup: one `fmt` layer on stderr, text or JSON lines, filtered by `-v`/`-q` or `RUST_LOG`.
//!
//! It sits just above the leaves (it reads [`crate::env_vars`] only) and owns [`LogFormat`], the choice of
//! `--log-format`; it must never import settings, commands or the command line (`cli.rs` re-uses [`LogFormat`]).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use crate::env_vars::EnvVars;

/// Format of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `LEVEL message key=value`
    #[default]
    Text,
    /// One JSON object per line
    Json,
}

/// Installs the global subscriber. `RUST_LOG`, when set, replaces the level chosen by `-v`/`-q`.
pub fn setup(verbosity: i8, format: LogFormat, color: bool) {
    let default = match verbosity {
        i8::MIN..=-2 => "error",
        -1 => "warn",
        0 => "warn,campctl=info",
        1 => "warn,campctl=debug",
        2 => "warn,campctl=trace",
        _ => "trace",
    };
    let filter = std::env::var(EnvVars::RUST_LOG)
        .ok()
        .filter(|value| !value.is_empty())
        .and_then(|value| EnvFilter::try_new(value).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Json => {
            let layer = tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_writer(std::io::stderr);
            let _ = registry.with(layer).try_init();
        }
        LogFormat::Text => {
            let layer = tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(color)
                .with_target(verbosity > 0);
            // Timestamps matter in cron and journal logs, less so on a terminal.
            if std::io::stderr().is_terminal() {
                let _ = registry.with(layer.without_time()).try_init();
            } else {
                let _ = registry.with(layer).try_init();
            }
        }
    }
}
