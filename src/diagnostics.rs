//! Where errors are rendered: the list of classified error types, and the one walk of an `anyhow` chain that finds
//! the first of them, for its exit code ([`status_of`]) and its hint ([`render`], [`render_json`], [`one_line`]).
//!
//! Each domain error says which [`ExitStatus`] it maps to by implementing [`Classify`] in its own module
//! (`exit.rs` for [`UserError`], `pg`, `storage`, `config_file`, `catalog::fetch_error`); this file is the only one that names them all, so
//! it sits above every module it downcasts to (on the settings floor, see `lib.rs`) and below the commands and
//! `main`, which render with it. A new error type with an exit code of its own is added to [`classify`]; nothing
//! here may decide an exit code by reading a message.

use std::fmt::Write as _;

use owo_colors::OwoColorize;

use crate::catalog::fetch_error::FetchError;
use crate::config_file::ConfigError;
use crate::exit::{Classify, ExitStatus, UserError, hint_line};
use crate::pg::PgError;
use crate::stderr::json_line;
use crate::storage::StoreError;

/// Finds the first classified error in the chain.
fn classify(err: &anyhow::Error) -> Option<&dyn Classify> {
    err.chain().find_map(|cause| {
        if let Some(e) = cause.downcast_ref::<UserError>() {
            return Some(e as &dyn Classify);
        }
        if let Some(e) = cause.downcast_ref::<PgError>() {
            return Some(e as &dyn Classify);
        }
        if let Some(e) = cause.downcast_ref::<ConfigError>() {
            return Some(e as &dyn Classify);
        }
        if let Some(e) = cause.downcast_ref::<StoreError>() {
            return Some(e as &dyn Classify);
        }
        if let Some(e) = cause.downcast_ref::<FetchError>() {
            return Some(e as &dyn Classify);
        }
        None
    })
}

/// The exit status for an error that ended a command.
pub fn status_of(err: &anyhow::Error) -> ExitStatus {
    classify(err).map_or(ExitStatus::Failure, Classify::exit_status)
}

/// The head of an error chain and its causes, each only once (tokio-postgres and io errors often repeat their
/// source in their own message).
fn messages(err: &anyhow::Error) -> (String, Vec<String>) {
    let mut chain = err.chain();
    let head = chain.next().map(ToString::to_string).unwrap_or_default();
    let mut causes = Vec::new();
    let mut previous = head.clone();
    for cause in chain {
        let text = cause.to_string();
        if previous.contains(&text) {
            continue;
        }
        causes.push(text.clone());
        previous = text;
    }
    (head, causes)
}

/// An error chain on one line, `head: cause: cause (hint: …)`, for reports that hold one error per row.
pub fn one_line(err: &anyhow::Error) -> String {
    let (head, causes) = messages(err);
    let mut line = std::iter::once(head).chain(causes).collect::<Vec<_>>().join(": ");
    if let Some(hint) = classify(err).and_then(Classify::hint) {
        let _ = write!(line, " (hint: {hint})");
    }
    line
}

/// Renders an error chain as one JSON line for `--log-format json`: `level` `ERROR`, `message` (the first line
/// of the text form), `causes` (the `Caused by:` lines), `hint` (or null) and `exit_code`.
pub fn render_json(err: &anyhow::Error) -> String {
    let (head, causes) = messages(err);
    let mut fields = serde_json::Map::new();
    fields.insert("causes".into(), causes.into());
    fields.insert(
        "hint".into(),
        classify(err)
            .and_then(Classify::hint)
            .map_or(serde_json::Value::Null, Into::into),
    );
    fields.insert("exit_code".into(), status_of(err).code().into());
    json_line("ERROR", &head, fields)
}

/// Renders an error chain as `error:` / `Caused by:` / `hint:`.
pub fn render(err: &anyhow::Error, color: bool) -> String {
    let mut out = String::new();
    let (head, causes) = messages(err);
    let label = if color {
        "error".red().bold().to_string()
    } else {
        "error".to_string()
    };
    let _ = writeln!(out, "{label}: {head}");
    for cause in causes {
        let _ = writeln!(out, "  Caused by: {cause}");
    }
    if let Some(hint) = classify(err).and_then(Classify::hint) {
        let _ = write!(out, "\n{}\n", hint_line(&hint, color));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fetch_error_under_context_is_classified() {
        let err = anyhow::Error::new(FetchError::Damaged("cut short".into())).context("while restoring");
        assert_eq!(status_of(&err), ExitStatus::Failure);
    }

    #[test]
    fn errors_keep_their_status_and_hint() {
        let err: anyhow::Error = UserError::new(ExitStatus::NotFound, "no backup")
            .with_hint("list them")
            .into();
        assert_eq!(status_of(&err), ExitStatus::NotFound);
        assert_eq!(one_line(&err), "no backup (hint: list them)");
        assert_eq!(hint_line("list them", false), "hint: list them");
    }
}
