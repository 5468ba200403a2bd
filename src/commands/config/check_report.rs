//! The report of `campctl config check`: one [`Check`] per line (a section, the database, a store, pg_dump) and the
//! [`CheckReport`] that prints them. Both the section validation (`sections.rs`) and the probes (`check.rs`) build
//! these lines; this file only holds their shape and never runs a check itself.

use serde::Serialize;

use crate::diagnostics;
use crate::exit::ExitStatus;
use crate::printer::{Report, Table};

/// What the probe of a store could do.
#[derive(Debug, Serialize)]
pub(super) struct StoreAccess {
    /// Whether one page could be listed.
    pub(super) can_list: bool,
    /// Whether a probe object could be written and deleted (`null`: not tried, since listing failed).
    pub(super) can_write: Option<bool>,
}

/// One line of `config check`.
#[derive(Debug, Serialize)]
pub(super) struct Check {
    pub(super) name: String,
    pub(super) ok: bool,
    /// 0 when the check passed, else the exit code this problem gives on its own.
    pub(super) exit_code: u8,
    #[serde(skip)]
    pub(super) status: ExitStatus,
    pub(super) detail: String,
    /// Stores only: what the probe could do.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub(super) access: Option<StoreAccess>,
    /// A configuration section (its failure decides the exit code first).
    #[serde(skip)]
    pub(super) section: bool,
}

impl Check {
    pub(super) fn pass(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ok: true,
            exit_code: 0,
            status: ExitStatus::Success,
            detail: detail.into(),
            access: None,
            section: false,
        }
    }

    pub(super) fn fail(name: impl Into<String>, status: ExitStatus, detail: impl Into<String>) -> Self {
        Self {
            ok: false,
            exit_code: status.code(),
            status,
            ..Self::pass(name, detail)
        }
    }

    /// A failed check from an error: its own exit code (an unclassified error means "unreachable": 2).
    pub(super) fn error(name: impl Into<String>, err: &anyhow::Error) -> Self {
        let status = match diagnostics::status_of(err) {
            ExitStatus::Failure => ExitStatus::Usage,
            status => status,
        };
        Self::fail(name, status, diagnostics::one_line(err))
    }
}

#[derive(Debug, Serialize)]
pub(super) struct CheckReport {
    pub(super) ok: bool,
    pub(super) exit_code: u8,
    pub(super) checks: Vec<Check>,
}

impl Report for CheckReport {
    fn tables(&self) -> Vec<Table> {
        let mut table = Table::new("Configuration check", &["check", "ok", "detail"]);
        for check in &self.checks {
            table.row(vec![
                check.name.clone().into(),
                check.ok.into(),
                check.detail.clone().into(),
            ]);
        }
        vec![table]
    }
}
