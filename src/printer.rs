//! Output: reports on stdout (table, JSON or CSV from one [`Report`]), notes and warnings on stderr, confirmations.
//!
//! Every command that reports builds one `#[derive(Serialize)]` struct; JSON is that struct, and the table and CSV
//! views come from [`Report::tables`], so the three formats cannot drift apart.
//!
//! Notes, warnings and prompts go to stderr through [`crate::stderr`], which tolerates a closed stderr and writes
//! JSON lines with `--log-format json`. Confirmations (`Printer::confirm`, `Printer::confirm_typed`) are in
//! `printer/confirm.rs`, the `--format` / `--color` choices in `printer/choices.rs`.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};

use chrono::{DateTime, Utc};
use comfy_table::{Cell as TableCell, CellAlignment, ContentArrangement, Table as ComfyTable, presets};
use serde::Serialize;
use serde_json::Map;

use crate::exit::ExitStatus;
use crate::status::Status;
use crate::stderr::{json_line, write_stderr};
use crate::units::{format_bytes, format_seconds};

mod choices;
mod confirm;
pub use choices::{ColorChoice, OutputFormat};

/// One value of a table, typed so that the table view can format it for people and CSV can keep it raw.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    /// A byte count: `1.5 MiB` in tables, `1572864` in CSV.
    Bytes(i64),
    /// A percentage 0–100: `12.5%` in tables, `12.5` in CSV.
    Percent(f64),
    /// A plain number with `usize` decimals.
    Float(f64, usize),
    /// A duration in seconds: `3m 05s` in tables, `185.0` in CSV.
    Seconds(f64),
    /// A point in time: `3h 02m ago` in tables, RFC 3339 in CSV.
    Time(DateTime<Utc>),
    Bool(bool),
    /// Free text such as a SQL statement: on one line and cut to 60 characters in tables, in full in CSV.
    LongText(String),
    /// A hex digest (SHA-256): its first 12 characters in tables, in full in CSV.
    Digest(String),
    /// Known to be absent (never vacuumed): `-` in tables, empty in CSV.
    Null,
    /// Not visible with the current privileges: `unknown` in tables, empty in CSV.
    Unknown,
    /// A verdict (`OK`, `WARNING`, ...): coloured by its [`Tone`] in tables on a colour terminal, plain in CSV.
    Verdict(String, Tone),
}

/// How good a [`Cell::Verdict`] is, for its colour: green, yellow, red, magenta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Good,
    Warn,
    Bad,
    Unknown,
}

impl Cell {
    /// `Some(v)` → the cell, `None` → [`Cell::Null`].
    pub fn opt<T: Into<Cell>>(value: Option<T>) -> Cell {
        value.map_or(Cell::Null, Into::into)
    }

    fn is_numeric(&self) -> bool {
        matches!(
            self,
            Self::Int(_) | Self::Bytes(_) | Self::Percent(_) | Self::Float(..) | Self::Seconds(_)
        )
    }

    /// The human form, for tables.
    pub fn display(&self, now: DateTime<Utc>) -> String {
        match self {
            Self::Text(text) | Self::Verdict(text, _) => text.clone(),
            Self::Int(value) => value.to_string(),
            Self::Bytes(value) => format_bytes(*value),
            Self::Percent(value) => format!("{value:.1}%"),
            Self::Float(value, decimals) => format!("{value:.decimals$}"),
            Self::Seconds(value) => format_seconds(*value),
            Self::Time(time) => {
                let age = (now - *time).num_milliseconds() as f64 / 1000.0;
                if age >= 0.0 {
                    format!("{} ago", format_seconds(age))
                } else {
                    time.to_rfc3339()
                }
            }
            Self::Bool(value) => if *value { "yes" } else { "no" }.to_string(),
            Self::LongText(text) => {
                let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
                if line.chars().count() > 60 {
                    format!("{}…", line.chars().take(59).collect::<String>())
                } else {
                    line
                }
            }
            Self::Digest(hex) => hex.chars().take(12).collect(),
            Self::Null => "-".to_string(),
            Self::Unknown => "unknown".to_string(),
        }
    }

    /// The raw form, for CSV.
    pub fn raw(&self) -> String {
        match self {
            Self::Text(text) | Self::LongText(text) | Self::Digest(text) | Self::Verdict(text, _) => text.clone(),
            Self::Int(value) | Self::Bytes(value) => value.to_string(),
            Self::Percent(value) | Self::Seconds(value) | Self::Float(value, _) => format!("{value}"),
            Self::Time(time) => time.to_rfc3339(),
            Self::Bool(value) => value.to_string(),
            Self::Null | Self::Unknown => String::new(),
        }
    }
}

impl From<String> for Cell {
    fn from(value: String) -> Self {
        Self::Text(value)
    }
}
impl From<&str> for Cell {
    fn from(value: &str) -> Self {
        Self::Text(value.to_string())
    }
}
impl From<i64> for Cell {
    fn from(value: i64) -> Self {
        Self::Int(value)
    }
}
impl From<i32> for Cell {
    fn from(value: i32) -> Self {
        Self::Int(i64::from(value))
    }
}
impl From<bool> for Cell {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}
impl From<Status> for Cell {
    fn from(value: Status) -> Self {
        Self::Text(value.name().to_string())
    }
}
impl From<DateTime<Utc>> for Cell {
    fn from(value: DateTime<Utc>) -> Self {
        Self::Time(value)
    }
}

/// One table of a report. Column names are snake_case (the CSV header); tables show them with spaces.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub title: String,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
    /// Lines printed under the table (table view only).
    pub notes: Vec<String>,
    /// What to print instead of an empty table.
    pub empty: String,
}

impl Table {
    pub fn new(title: impl Into<String>, columns: &[&'static str]) -> Self {
        Self {
            title: title.into(),
            columns: columns.to_vec(),
            ..Self::default()
        }
    }

    pub fn row(&mut self, cells: Vec<Cell>) {
        debug_assert_eq!(cells.len(), self.columns.len(), "row width of `{}`", self.title);
        self.rows.push(cells);
    }

    #[must_use]
    pub fn empty_message(mut self, message: impl Into<String>) -> Self {
        self.empty = message.into();
        self
    }

    fn render(&self, now: DateTime<Utc>, width: Option<u16>, color: bool) -> String {
        let mut out = format!("{}\n", escape_control(&self.title));
        if self.rows.is_empty() {
            let _ = writeln!(out, "  {}", if self.empty.is_empty() { "(none)" } else { &self.empty });
        } else {
            let mut table = ComfyTable::new();
            table.load_preset(presets::UTF8_FULL_CONDENSED);
            if let Some(width) = width {
                table
                    .set_content_arrangement(ContentArrangement::Dynamic)
                    .set_width(width);
            }
            table.set_header(self.columns.iter().map(|c| c.replace('_', " ")));
            for row in &self.rows {
                table.add_row(row.iter().map(|cell| {
                    let text = TableCell::new(escape_control(&cell.display(now)));
                    if let (Cell::Verdict(_, tone), true) = (cell, color) {
                        text.fg(match tone {
                            Tone::Good => comfy_table::Color::Green,
                            Tone::Warn => comfy_table::Color::Yellow,
                            Tone::Bad => comfy_table::Color::Red,
                            Tone::Unknown => comfy_table::Color::Magenta,
                        })
                    } else if cell.is_numeric() {
                        text.set_alignment(CellAlignment::Right)
                    } else {
                        text
                    }
                }));
            }
            out.push_str(&table.to_string());
            out.push('\n');
        }
        for note in &self.notes {
            out.push_str(&escape_control(note));
            out.push('\n');
        }
        out
    }
}

/// Text for a terminal: every control character that could move the cursor, recolour, retitle or ring the terminal
/// (C0 but tab and newline, DEL, C1) written as a visible escape (`\x1b`, `\u{9b}`), so that a value read from a
/// database (a row, a name, an error) is shown, never obeyed. The one escaping of the table view: every title, cell
/// and note goes through it in [`Table::render`].
pub fn escape_control(text: &str) -> std::borrow::Cow<'_, str> {
    let is_control = |c: char| c.is_control() && !matches!(c, '\t' | '\n');
    if !text.chars().any(is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !is_control(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A command's result: serialised as JSON, shown as tables.
pub trait Report: Serialize {
    /// The tables of the table view; the first is the one `--format csv` writes.
    fn tables(&self) -> Vec<Table>;
}

/// What a `--dry-run` would do, for [`Printer::plan`]: the command's own `details` (flattened into the JSON
/// object) and the steps in order. Nothing in it has been done.
#[derive(Debug, Serialize)]
pub struct Plan<D: Serialize> {
    /// Always `true`: tells a plan from the command's report.
    pub dry_run: bool,
    /// The command, as typed: `backup`, `backup files`, `restore`, `test-restore`.
    pub command: &'static str,
    #[serde(flatten)]
    pub details: D,
    /// The steps, in order, as the text view numbers them.
    pub steps: Vec<String>,
}

impl<D: Serialize> Plan<D> {
    pub fn new(command: &'static str, details: D, steps: Vec<String>) -> Self {
        Self {
            dry_run: true,
            command,
            details,
            steps,
        }
    }
}

/// One pretty-printed JSON document and a newline: every report and every plan is written this way.
fn write_json<T: Serialize + ?Sized>(out: &mut impl Write, value: &T) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}

/// How much to say on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Silent,
    Quiet,
    Default,
    Verbose,
}

/// Writes reports to stdout and notes to stderr.
#[derive(Debug, Clone)]
pub struct Printer {
    pub format: OutputFormat,
    pub verbosity: Verbosity,
    pub color: bool,
    /// Progress bars are allowed (`--no-progress`, `[output] progress`); [`Printer::bars`] in `progress.rs`
    /// makes the final decision.
    pub progress: bool,
    /// `--log-format json`: stderr lines are JSON objects.
    pub json_logs: bool,
}

impl Printer {
    /// Writes a report in the chosen format to stdout.
    ///
    /// # Errors
    /// Writing to stdout failed (a broken pipe is reported as such and exits 0 in `main`).
    pub fn report<R: Report>(&self, report: &R) -> anyhow::Result<()> {
        let stdout = std::io::stdout();
        let terminal = stdout.is_terminal();
        let mut out = stdout.lock();
        self.write_report(&mut out, report, terminal)?;
        out.flush()?;
        Ok(())
    }

    /// The report as [`Printer::report`] would write it, for a file: tables are not fitted to a terminal and not
    /// coloured.
    ///
    /// # Errors
    /// The report cannot be serialised.
    pub fn render<R: Report>(&self, report: &R) -> anyhow::Result<String> {
        let mut out = Vec::new();
        self.write_report(&mut out, report, false)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// Whether stdout is a terminal (a table redrawn in place, colours).
    pub fn is_terminal(&self) -> bool {
        std::io::stdout().is_terminal()
    }

    fn write_report<R: Report>(&self, out: &mut impl Write, report: &R, terminal: bool) -> anyhow::Result<()> {
        match self.format {
            // `run` in lib.rs refuses the health-only formats for every other command before it starts; `health`
            // writes them itself. JSON is the faithful form should one get here.
            OutputFormat::Json | OutputFormat::Nagios | OutputFormat::Prometheus => write_json(out, report)?,
            OutputFormat::Csv => {
                let tables = report.tables();
                if let Some(first) = tables.first() {
                    if tables.len() > 1 {
                        self.note(&format!(
                            "CSV holds the `{}` table only; use `--format json` for the whole report",
                            first.title
                        ));
                    }
                    let mut writer = csv::Writer::from_writer(&mut *out);
                    writer.write_record(&first.columns)?;
                    for row in &first.rows {
                        writer.write_record(row.iter().map(Cell::raw))?;
                    }
                    writer.flush()?;
                }
            }
            OutputFormat::Table => {
                let now = Utc::now();
                let width = terminal.then(|| comfy_table::Table::new().width()).flatten();
                let color = self.color && terminal;
                let rendered: Vec<String> = report.tables().iter().map(|t| t.render(now, width, color)).collect();
                write!(out, "{}", rendered.join("\n"))?;
            }
        }
        Ok(())
    }

    /// Shows a `--dry-run` plan. With `--format json` the plan is the run's one JSON document on stdout, written as
    /// every report is (so `campctl --format json backup --dry-run | jq` works as `vacuum --dry-run` does); in the
    /// other formats its steps are notes on stderr under "Dry run: nothing will be changed", and stdout stays empty
    /// (a dry run produces no data). The plan shapes are documented in docs/output.md.
    ///
    /// # Errors
    /// Writing to stdout failed.
    pub fn plan<D: Serialize>(&self, plan: &Plan<D>) -> anyhow::Result<()> {
        if self.format == OutputFormat::Json {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            write_json(&mut out, plan)?;
            out.flush()?;
            return Ok(());
        }
        self.note("Dry run: nothing will be changed. The plan:");
        for (number, step) in plan.steps.iter().enumerate() {
            self.note(&format!("  {}. {step}", number + 1));
        }
        Ok(())
    }

    /// A status line on stderr (hidden by `-q`).
    pub fn note(&self, message: &str) {
        if self.verbosity >= Verbosity::Default {
            if self.json_logs {
                write_stderr(&json_line("INFO", message, Map::new()));
            } else {
                write_stderr(&format!("{message}\n"));
            }
        }
    }

    /// A warning on stderr (hidden by `-qq`).
    pub fn warn(&self, message: &str) {
        if self.verbosity >= Verbosity::Quiet {
            if self.json_logs {
                write_stderr(&json_line("WARN", message, Map::new()));
            } else {
                write_stderr(&format!("{}\n", crate::exit::warning(message, self.color)));
            }
        }
    }

    /// Ends a run whose report is printed but some of whose items failed: one warning naming them, a hint, and
    /// [`ExitStatus::Partial`] to return as `Ok(..)` (the one convention for exit 3; see `exit.rs`). Hidden by
    /// `-qq`, as warnings are. With `--log-format json`, one `WARN` line with `hint` and `exit_code`.
    #[must_use = "return the status: `return Ok(printer.partial(..))`"]
    pub fn partial(&self, message: &str, hint: &str) -> ExitStatus {
        if self.verbosity < Verbosity::Quiet {
            return ExitStatus::Partial;
        }
        if self.json_logs {
            let mut fields = Map::new();
            fields.insert("hint".into(), hint.into());
            fields.insert("exit_code".into(), ExitStatus::Partial.code().into());
            write_stderr(&json_line("WARN", message, fields));
        } else {
            write_stderr(&format!(
                "{}\n{}\n",
                crate::exit::warning(message, self.color),
                crate::exit::hint_line(hint, self.color)
            ));
        }
        ExitStatus::Partial
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_render_for_people_and_for_csv() {
        let now = Utc::now();
        assert_eq!(Cell::Bytes(3 << 20).display(now), "3.0 MiB");
        assert_eq!(Cell::Bytes(3 << 20).raw(), "3145728");
        assert_eq!(Cell::Percent(12.345).display(now), "12.3%");
        assert_eq!(Cell::Unknown.display(now), "unknown");
        assert_eq!(Cell::Unknown.raw(), "");
        let digest = "ab".repeat(32);
        assert_eq!(Cell::Digest(digest.clone()).display(now), "abababababab");
        assert_eq!(Cell::Digest(digest.clone()).raw(), digest);
        assert_eq!(
            Cell::Time(now - chrono::Duration::seconds(125)).display(now),
            "2m 05s ago"
        );
    }

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(escape_control("plain\ttab\nline"), "plain\ttab\nline");
        assert_eq!(
            escape_control("\u{1b}[31mred\u{7}\r\u{7f}\u{9b}2J"),
            "\\x1b[31mred\\x07\\x0d\\x7f\\u{9b}2J"
        );
        let mut table = Table::new("t\u{1b}]0;title\u{7}", &["value"]);
        table.row(vec![Cell::LongText("a\u{1b}[2Jb".into())]);
        table.notes.push("note\u{1b}c".into());
        let rendered = table.render(Utc::now(), None, false);
        assert!(!rendered.chars().any(|c| c.is_control() && c != '\n'), "{rendered:?}");
        assert!(
            rendered.contains("a\\x1b[2Jb") && rendered.contains("note\\x1bc"),
            "{rendered}"
        );
    }

    #[test]
    fn a_partial_result_is_returned_as_exit_3() {
        let printer = Printer {
            format: OutputFormat::Json,
            verbosity: Verbosity::Silent,
            color: false,
            progress: false,
            json_logs: false,
        };
        assert_eq!(printer.partial("1 of 2 tables failed", "retry"), ExitStatus::Partial);
        assert_eq!(Cell::from(Status::Skipped).raw(), "skipped");
    }
}
