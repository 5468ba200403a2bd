//! The data model of `campctl logs`, independent of where the records come from: a normalized [`Record`] and the
//! three reports ([`ErrorsReport`], [`AuthFailuresReport`], [`LatencyReport`]). Files fill them in `files.rs`; a
//! workspace source fills the same structs from KQL results, so the JSON is the same whichever the source.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::printer::{Cell, Report, Table};

/// One log record, normalized (field names mapped by `[logs.fields]`, time in UTC, duration in milliseconds).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Record {
    pub time: DateTime<Utc>,
    pub level: Option<String>,
    pub message: Option<String>,
    pub user: Option<String>,
    pub ip: Option<String>,
    pub path: Option<String>,
    pub status: Option<u16>,
    pub duration_ms: Option<f64>,
}

/// Where the records came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct SourceInfo {
    /// `files` or `workspace`.
    pub kind: String,
    /// The files read (in the order given, globs and directories expanded), or the workspace ID.
    pub inputs: Vec<String>,
}

/// The time window of a report: `[from, until)` cut into bins of `bin_seconds`, aligned to the Unix epoch (as
/// KQL's `bin()`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Window {
    pub source: SourceInfo,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub bin_seconds: u64,
}

impl Window {
    /// The start of the bin `time` falls in.
    pub(crate) fn bin_start(&self, time: DateTime<Utc>) -> DateTime<Utc> {
        let bin = i64::try_from(self.bin_seconds.max(1)).unwrap_or(i64::MAX);
        let seconds = time.timestamp().div_euclid(bin) * bin;
        DateTime::from_timestamp(seconds, 0).unwrap_or(time)
    }

    /// Whether `time` is inside `[from, until)`.
    pub(crate) fn contains(&self, time: DateTime<Utc>) -> bool {
        time >= self.from && time < self.until
    }
}

/// Lines that could not be read as records (bad JSON, no or bad timestamp): counted, never fatal.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Unparsed {
    pub lines: u64,
    /// The first few, as `file:line` (1-based).
    pub first_line_numbers: Vec<String>,
}

/// How many `file:line` references [`Unparsed`] keeps.
pub(crate) const UNPARSED_KEPT: usize = 10;

impl Unparsed {
    pub(crate) fn add(&mut self, other: Unparsed) {
        self.lines += other.lines;
        for reference in other.first_line_numbers {
            if self.first_line_numbers.len() < UNPARSED_KEPT {
                self.first_line_numbers.push(reference);
            }
        }
    }

    fn note(&self) -> Option<String> {
        (self.lines > 0).then(|| {
            format!(
                "{} line(s) could not be read as records (bad JSON or timestamp), first: {}",
                self.lines,
                self.first_line_numbers.join(", ")
            )
        })
    }
}

/// `campctl logs errors`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ErrorsReport {
    #[serde(flatten)]
    pub window: Window,
    /// Every bin of the window, oldest first, empty ones included.
    pub bins: Vec<ErrorBin>,
    pub total_errors: u64,
    /// The most frequent error messages, most frequent first (ties by message).
    pub top_messages: Vec<MessageCount>,
    pub unparsed: Unparsed,
    #[serde(skip)]
    pub view: View,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ErrorBin {
    pub start: DateTime<Utc>,
    pub errors: u64,
    /// Records that are requests (they have a status or a path); `null` when the source has none at all.
    pub requests: Option<u64>,
    /// errors / requests (0–1); `null` without requests.
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct MessageCount {
    pub message: String,
    pub count: u64,
}

/// `campctl logs auth-failures` (runbook 4.3.2).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct AuthFailuresReport {
    #[serde(flatten)]
    pub window: Window,
    /// Groups with at least this many failures are listed.
    pub threshold: u64,
    /// Most failures first (ties by user, then IP).
    pub groups: Vec<AuthFailureGroup>,
    pub unparsed: Unparsed,
}

impl AuthFailuresReport {
    /// The report of `groups` (already at or over `threshold`), most failures first, ties by user, then IP:
    /// the same order whichever the source.
    pub(crate) fn new(window: Window, threshold: u64, mut groups: Vec<AuthFailureGroup>, unparsed: Unparsed) -> Self {
        groups.sort_by(|a, b| {
            b.failures
                .cmp(&a.failures)
                .then_with(|| a.user.cmp(&b.user))
                .then_with(|| a.ip.cmp(&b.ip))
        });
        Self {
            window,
            threshold,
            groups,
            unparsed,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct AuthFailureGroup {
    pub user: Option<String>,
    pub ip: Option<String>,
    pub failures: u64,
}

/// `campctl logs latency`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct LatencyReport {
    #[serde(flatten)]
    pub window: Window,
    /// `path` with `--by path`, else `null`.
    pub by: Option<String>,
    /// Whether every percentile is exact (`false` once a group outgrew `[logs] exact_percentiles_limit` and a
    /// sketch with 1 % relative error took over, or for the workspace's `percentiles()`).
    pub exact: bool,
    /// Oldest bin first; within a bin, by path. Bins without requests are left out.
    pub rows: Vec<LatencyRow>,
    pub unparsed: Unparsed,
    #[serde(skip)]
    pub view: View,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct LatencyRow {
    pub start: DateTime<Utc>,
    pub path: Option<String>,
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

/// How the table view draws (not part of the JSON).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct View {
    /// Draw a bar column (tables only; CSV has none).
    pub bars: bool,
    /// `#` instead of Unicode blocks.
    pub ascii: bool,
}

/// Width of the widest bar, in characters.
const BAR_WIDTH: f64 = 20.0;

/// The partial blocks, by eighths.
const PARTS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];

/// A horizontal bar for `value` against `max`: eighth blocks (`█▏▎▍▌▋▊▉`) or `#`.
pub(crate) fn bar(value: f64, max: f64, ascii: bool) -> String {
    if max <= 0.0 || value <= 0.0 {
        return String::new();
    }
    let eighths = ((value / max) * BAR_WIDTH * 8.0).round().max(1.0) as usize;
    if ascii {
        return "#".repeat(eighths.div_ceil(8));
    }
    let mut out = "█".repeat(eighths / 8);
    out.push_str(PARTS[eighths % 8]);
    out
}

fn title(name: &str, window: &Window) -> String {
    format!(
        "{name}, {} to {}, per {} ({}: {})",
        window.from.to_rfc3339(),
        window.until.to_rfc3339(),
        crate::units::HumanDuration(std::time::Duration::from_secs(window.bin_seconds)),
        window.source.kind,
        window.source.inputs.join(", ")
    )
}

impl Report for ErrorsReport {
    fn tables(&self) -> Vec<Table> {
        let mut columns = vec!["bin_start", "errors", "requests", "rate"];
        if self.view.bars {
            columns.push("errors_bar");
        }
        let mut bins = Table::new(title("Errors", &self.window), &columns);
        let max = self.bins.iter().map(|bin| bin.errors).max().unwrap_or(0) as f64;
        for bin in &self.bins {
            let mut row = vec![
                Cell::Text(bin.start.to_rfc3339()),
                Cell::Int(bin.errors as i64),
                Cell::opt(bin.requests.map(|requests| requests as i64)),
                Cell::opt(bin.rate.map(|rate| Cell::Percent(rate * 100.0))),
            ];
            if self.view.bars {
                row.push(Cell::Text(bar(bin.errors as f64, max, self.view.ascii)));
            }
            bins.row(row);
        }
        bins.notes.push(format!("{} error(s) in total", self.total_errors));
        bins.notes.extend(self.unparsed.note());
        let mut top = Table::new("Top error messages", &["message", "count"]).empty_message("(no errors)");
        for message in &self.top_messages {
            top.row(vec![
                Cell::LongText(message.message.clone()),
                Cell::Int(message.count as i64),
            ]);
        }
        vec![bins, top]
    }
}

impl Report for AuthFailuresReport {
    fn tables(&self) -> Vec<Table> {
        let mut groups = Table::new(
            format!(
                "{}, at least {} failures",
                title("Authentication failures", &self.window),
                self.threshold
            ),
            &["user", "ip", "failures"],
        )
        .empty_message("(no user and IP at or over the threshold)");
        for group in &self.groups {
            groups.row(vec![
                Cell::opt(group.user.clone()),
                Cell::opt(group.ip.clone()),
                Cell::Int(group.failures as i64),
            ]);
        }
        groups.notes.extend(self.unparsed.note());
        vec![groups]
    }
}

impl Report for LatencyReport {
    fn tables(&self) -> Vec<Table> {
        let mut columns = vec!["bin_start"];
        if self.by.is_some() {
            columns.push("path");
        }
        columns.extend(["count", "mean_ms", "p50_ms", "p95_ms", "p99_ms"]);
        if self.view.bars {
            columns.push("p95_bar");
        }
        let mut rows =
            Table::new(title("Latency", &self.window), &columns).empty_message("(no requests with a duration)");
        let max = self.rows.iter().map(|row| row.p95_ms).fold(0.0, f64::max);
        for row in &self.rows {
            let mut cells = vec![Cell::Text(row.start.to_rfc3339())];
            if self.by.is_some() {
                cells.push(Cell::opt(row.path.clone()));
            }
            cells.extend([
                Cell::Int(row.count as i64),
                Cell::Float(row.mean_ms, 1),
                Cell::Float(row.p50_ms, 1),
                Cell::Float(row.p95_ms, 1),
                Cell::Float(row.p99_ms, 1),
            ]);
            if self.view.bars {
                cells.push(Cell::Text(bar(row.p95_ms, max, self.view.ascii)));
            }
            rows.row(cells);
        }
        if !self.exact {
            rows.notes
                .push("percentiles are estimates (1 % relative error)".to_string());
        }
        rows.notes.extend(self.unparsed.note());
        vec![rows]
    }
}

/// `campctl logs tail`: the records shown (without `--follow`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct TailReport {
    pub source: SourceInfo,
    pub lines: Vec<TailLine>,
    pub unparsed: Unparsed,
}

/// One line of `logs tail`: where it is, and the record when it parses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct TailLine {
    pub file: String,
    pub line: String,
    pub record: Option<Record>,
}

impl Report for TailReport {
    fn tables(&self) -> Vec<Table> {
        let mut table = Table::new("Newest lines", &["time", "level", "message", "file"]).empty_message("(no lines)");
        for line in &self.lines {
            let record = line.record.as_ref();
            table.row(vec![
                Cell::opt(record.map(|record| record.time.to_rfc3339())),
                Cell::opt(record.and_then(|record| record.level.clone())),
                Cell::LongText(
                    record
                        .and_then(|record| record.message.clone())
                        .unwrap_or_else(|| line.line.clone()),
                ),
                Cell::Text(line.file.clone()),
            ]);
        }
        vec![table]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest() {
        assert_eq!(bar(10.0, 10.0, false), "█".repeat(20));
        assert_eq!(bar(0.0, 10.0, false), "");
        assert_eq!(bar(5.0, 10.0, true), "#".repeat(10));
        assert_eq!(bar(1.0, 160.0, false), "▏");
    }

    #[test]
    fn bins_align_to_the_epoch() {
        let window = Window {
            source: SourceInfo {
                kind: "files".into(),
                inputs: vec![],
            },
            from: DateTime::from_timestamp(0, 0).unwrap_or_default(),
            until: DateTime::from_timestamp(10_000, 0).unwrap_or_default(),
            bin_seconds: 3600,
        };
        let time = DateTime::from_timestamp(7300, 0).unwrap_or_default();
        assert_eq!(window.bin_start(time).timestamp(), 7200);
    }
}
