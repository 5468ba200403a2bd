//! Exit statuses and the errors that carry them ([`Classify`], [`UserError`]): the one place where exit codes are
//! defined, with the small stderr renderings every layer shares (`hint:`, `warning:`, clap's usage errors).
//!
//! Domain errors carry the [`ExitStatus`] they map to (see [`Classify`]); `main` walks the `anyhow` chain once with
//! `crate::diagnostics`, which knows every classified error type, picks the first one and renders `error:` /
//! `Caused by:` / `hint:` to stderr, or with `--log-format json` one JSON line with the same parts and the exit code.
//!
//! This is a leaf: it imports nothing of campctl but [`crate::stderr`], so that every layer may classify its own
//! errors. It must never name a type from above (the list of error types to look for lives in `diagnostics.rs`).
//!
//! # Exit 3: one convention for partial results
//!
//! A command that ran to its end and printed its report returns its outcome as `Ok(status)`: `Ok(Success)`,
//! `Ok(Failure)` for a negative answer (a test-restore check failed), `Ok(Partial)` when some items failed (2 of 40
//! tables, one of two stores, a container listing with unreadable blobs). The failed items are in the report, and
//! the command says why on stderr with [`crate::printer::Printer::partial`] (a warning and a hint) before returning
//! the status it gives back. `Err(..)` is for runs that could not finish their job; its exit code comes from the
//! error's [`Classify`], and is never 3: a [`UserError`] with [`ExitStatus::Partial`] is refused in debug builds
//! (see [`UserError::new`]). So `Partial` reaches `main` only as `Ok`, from the command that knows what was partial.

use std::process::ExitCode;

use owo_colors::OwoColorize;

/// Every exit code campctl uses (DESIGN.md, "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// The command succeeded.
    Success,
    /// The command ran and the answer is negative (a check failed, a verification mismatched).
    Failure,
    /// Usage or configuration error, refused confirmation, unreachable server.
    Usage,
    /// Some items failed.
    Partial,
    /// A backup, database, role or server was not found.
    NotFound,
    /// A lock is held by another run.
    LockHeld,
    /// Authentication failed (PostgreSQL or Azure).
    Auth,
    /// Interrupted by Ctrl-C or SIGTERM.
    Interrupted,
    /// `health`: the worst check is WARNING (the Nagios plugin convention, exit 1).
    Warning,
    /// `health`: the worst check is CRITICAL (exit 2).
    Critical,
    /// `health`: the worst check is UNKNOWN (exit 3).
    Unknown,
}

impl ExitStatus {
    /// The numeric process exit code.
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            // `health` speaks the Nagios plugin codes, which share 1–3 with the other commands' meanings.
            Self::Failure | Self::Warning => 1,
            Self::Usage | Self::Critical => 2,
            Self::Partial | Self::Unknown => 3,
            Self::NotFound => 10,
            Self::LockHeld => 11,
            Self::Auth => 12,
            Self::Interrupted => 130,
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(status.code())
    }
}

/// An error that knows its exit status and, optionally, a hint for the user.
pub trait Classify {
    /// The exit status this error maps to.
    fn exit_status(&self) -> ExitStatus;
    /// What the user can do about it.
    fn hint(&self) -> Option<String>;
}

/// A mistake the user can fix: bad input, a refused confirmation, something not found.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct UserError {
    pub status: ExitStatus,
    pub message: String,
    pub hint: Option<String>,
}

impl UserError {
    /// An error with its exit status; never [`ExitStatus::Partial`] (a partial result is returned as
    /// `Ok(ExitStatus::Partial)` after its report: see the module docs).
    pub fn new(status: ExitStatus, message: impl Into<String>) -> Self {
        debug_assert_ne!(
            status,
            ExitStatus::Partial,
            "a partial result is `Ok(printer.partial(..))`, not an error (exit.rs)"
        );
        Self {
            status,
            message: message.into(),
            hint: None,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ExitStatus::Usage, message)
    }

    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// An error as one line for a report cell: a [`UserError`]'s message and hint (e.g. the RBAC role of a 403), or
    /// any other error with its causes.
    pub fn one_line(err: &anyhow::Error) -> String {
        match err.downcast_ref::<Self>() {
            Some(Self {
                message,
                hint: Some(hint),
                ..
            }) => format!("{message}. {hint}"),
            Some(Self { message, .. }) => message.clone(),
            None => format!("{err:#}"),
        }
    }
}

impl Classify for UserError {
    fn exit_status(&self) -> ExitStatus {
        self.status
    }
    fn hint(&self) -> Option<String> {
        self.hint.clone()
    }
}

/// Whether the error is a broken pipe on stdout (`campctl stats | head`), which is not a failure.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    // serde_json and csv wrap the io::Error of a failed write in their own error types.
    err.chain().any(|cause| {
        let kind = cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| {
                cause
                    .downcast_ref::<serde_json::Error>()
                    .and_then(serde_json::Error::io_error_kind)
            })
            .or_else(|| match cause.downcast_ref::<csv::Error>().map(csv::Error::kind) {
                Some(csv::ErrorKind::Io(io)) => Some(io.kind()),
                _ => None,
            });
        kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}

/// Renders a `hint: …` line (without its newline).
pub fn hint_line(hint: &str, color: bool) -> String {
    if color {
        format!("{}: {hint}", "hint".cyan().bold())
    } else {
        format!("hint: {hint}")
    }
}

/// Reports a command-line error from clap and returns its exit code. `--help` and `--version` are printed as clap
/// prints them (on stdout); so is a usage error, unless JSON logs were asked for: then it is one JSON error line,
/// as [`crate::diagnostics::render_json`] writes, with exit code 2. Write errors are ignored, as in [`crate::stderr`].
pub fn clap_error(err: &clap::Error, json: bool) -> ExitCode {
    use clap::error::ErrorKind;
    let code = u8::try_from(err.exit_code()).unwrap_or(ExitStatus::Usage.code());
    if !json || matches!(err.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = err.print();
        return ExitCode::from(code);
    }
    let text = err.render().to_string();
    let mut lines = text.lines().map(str::trim).filter(|line| !line.is_empty());
    let (message, hint) = if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        (
            "A subcommand is required".to_string(),
            "Run `campctl --help` to see the commands".to_string(),
        )
    } else {
        let head = lines.next().unwrap_or_default();
        let message = head.strip_prefix("error: ").unwrap_or(head).to_string();
        (message, lines.collect::<Vec<_>>().join(" "))
    };
    let mut fields = serde_json::Map::new();
    fields.insert("causes".into(), serde_json::Value::Array(Vec::new()));
    fields.insert("hint".into(), hint.into());
    fields.insert("exit_code".into(), code.into());
    crate::stderr::write_stderr(&crate::stderr::json_line("ERROR", &message, fields));
    ExitCode::from(code)
}

/// Renders a warning line for stderr.
pub fn warning(message: &str, color: bool) -> String {
    if color {
        format!("{}: {message}", "warning".yellow().bold())
    } else {
        format!("warning: {message}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "a partial result is")]
    fn a_partial_result_is_never_an_error() {
        let _ = UserError::new(ExitStatus::Partial, "2 of 40 tables failed");
    }
}
