//! Confirmations before a destructive step: [`Printer::confirm`] (`[y/N]`) and [`Printer::confirm_typed`] (type the
//! database name, as GitHub does before deleting a repository).
//!
//! `--yes` answers for the user. Without a terminal on stdin and stderr a confirmation refuses (exit 2) and points at
//! `--yes`, so cron and CI never hang on a question. The question goes to stderr (a JSON line with `"prompt": true`
//! under `--log-format json`); this file must never write to stdout, which carries only data, and never decides on its
//! own that a step is safe: without `--yes` or a typed answer, the answer is no.

use std::io::IsTerminal;

use serde_json::Map;

use super::Printer;
use crate::exit::{ExitStatus, UserError};
use crate::stderr::{json_line, write_stderr};

impl Printer {
    /// A confirmation question on stderr, left open for the answer (a JSON line with `"prompt": true` in JSON mode).
    fn prompt(&self, question: &str) {
        if self.json_logs {
            let mut fields = Map::new();
            fields.insert("prompt".into(), true.into());
            write_stderr(&json_line("INFO", question, fields));
        } else {
            write_stderr(question);
        }
    }

    /// Asks before a destructive step: `--yes` answers for the user; without a terminal, refuses (exit 2).
    ///
    /// # Errors
    /// No terminal and no `--yes`, or the user declined.
    pub fn confirm(&self, question: &str, yes: bool) -> anyhow::Result<()> {
        if yes {
            return Ok(());
        }
        require_terminal(question)?;
        self.prompt(&format!("{question} [y/N] "));
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            Ok(())
        } else {
            Err(UserError::new(ExitStatus::Usage, "Cancelled: the confirmation was declined").into())
        }
    }
}

/// A confirmation needs someone to answer it: without a terminal, refuse (exit 2) and point at `--yes`.
fn require_terminal(question: &str) -> anyhow::Result<()> {
    if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        return Ok(());
    }
    Err(
        UserError::usage(format!("Refusing to continue without confirmation: {question}"))
            .with_hint("Run it on a terminal to confirm, or pass `--yes`")
            .into(),
    )
}

impl Printer {
    /// Asks before replacing a database: the user types its name (as GitHub does before deleting a repository).
    /// `--yes` answers for the user; without a terminal, refuses (exit 2).
    ///
    /// # Errors
    /// No terminal and no `--yes`, or the name typed was not `expected`.
    pub fn confirm_typed(&self, question: &str, expected: &str, yes: bool) -> anyhow::Result<()> {
        if yes {
            return Ok(());
        }
        require_terminal(question)?;
        self.prompt(&format!(
            "{question}\nType the database name `{expected}` to continue: "
        ));
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if answer.trim_end_matches(['\r', '\n']) == expected {
            Ok(())
        } else {
            Err(UserError::new(ExitStatus::Usage, "Cancelled: the name typed did not match").into())
        }
    }
}
