//! The application's log files of one health run, read once for `error-rate` and `latency-p95` together (as the
//! backup checks share one listing, `catalogs.rs`): the first of the two that runs reads every recent file over the
//! longer of the two windows, counting each check's window apart; the other waits for that read.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use tokio::sync::OnceCell;

use super::settings::logs::LogsHealthSettings;
use crate::exit::UserError;
use crate::logs::fields::LogsSettings;
use crate::logs::files::{self, Input};
use crate::logs::model::{SourceInfo, Window};
use crate::logs::reports::{Requests, RequestsSummary};

/// A file last written this long before the window began may still hold lines of the window (a clock that lags,
/// a buffered writer); older files are not read.
const MTIME_SLACK: Duration = Duration::from_secs(5 * 60);

/// `[from, until)` of a window of `length` ending at `until`.
fn window_before(until: DateTime<Utc>, length: Duration) -> anyhow::Result<(DateTime<Utc>, DateTime<Utc>)> {
    Ok((
        until - chrono::Duration::from_std(length).context("the window is too long for a date")?,
        until,
    ))
}

/// The window of `length` ending now.
pub(super) fn window_from_now(length: Duration) -> anyhow::Result<(DateTime<Utc>, DateTime<Utc>)> {
    window_before(Utc::now(), length)
}

/// What the files said for both checks, with the note on unreadable lines; or why they could not be read (the
/// UNKNOWN message).
type Read = Result<(RequestsSummary, String), String>;

/// The read of a run, made on first use.
#[derive(Debug, Default)]
pub(crate) struct SharedRequests {
    cell: OnceCell<Read>,
}

impl SharedRequests {
    /// The requests of both windows, reading the files of `[logs] files` if no check did yet.
    pub(super) async fn get(&self, settings: &LogsHealthSettings) -> Result<&(RequestsSummary, String), &String> {
        self.cell.get_or_init(|| read(settings)).await.as_ref()
    }
}

async fn read(settings: &LogsHealthSettings) -> Read {
    let run = async {
        let files = settings.files.clone().context("no `[logs] files`")?;
        let until = Utc::now();
        let window = |length: Duration, inputs: &[Input]| -> anyhow::Result<Window> {
            let (from, until) = window_before(until, length)?;
            Ok(Window {
                source: SourceInfo {
                    kind: "files".into(),
                    inputs: inputs.iter().map(Input::name).collect(),
                },
                from,
                until,
                bin_seconds: length.as_secs().max(1),
            })
        };
        let longest = settings.error_rate_window.max(settings.latency_p95_window);
        let inputs = recent_inputs(&files, window_before(until, longest)?.0)?;
        let rate = window(settings.error_rate_window, &inputs)?;
        let latency = window(settings.latency_p95_window, &inputs)?;
        tokio::task::spawn_blocking(move || files::scan(&inputs, &files, &|| Requests::new(&rate, &latency, &files)))
            .await?
    };
    match run.await {
        Ok((requests, unparsed)) => {
            let note = match unparsed.lines {
                0 => String::new(),
                lines => format!(
                    " ({lines} unreadable line{}, first {})",
                    if lines == 1 { "" } else { "s" },
                    unparsed.first_line_numbers.first().map_or("-", String::as_str)
                ),
            };
            Ok((requests.summary(), note))
        }
        Err(err) => Err(UserError::one_line(&err)),
    }
}

/// The inputs of `[logs] files` written to since shortly before `from` (a rotated `.gz` keeps the time of its last
/// line, so yesterday's rotations are not read again every five minutes).
fn recent_inputs(settings: &LogsSettings, from: DateTime<Utc>) -> anyhow::Result<Vec<Input>> {
    let since = std::time::SystemTime::from(from) - MTIME_SLACK;
    let mut recent = Vec::new();
    for input in files::expand(&settings.inputs)? {
        match &input {
            Input::Stdin => {
                return Err(
                    UserError::usage("`[logs] files` names `-` (stdin), which health cannot read")
                        .with_hint("List the application's log files or directory in `[logs] files`")
                        .into(),
                );
            }
            Input::File(path) => {
                let modified = fs_err::metadata(path)?.modified()?;
                if modified >= since {
                    recent.push(input);
                }
            }
        }
    }
    Ok(recent)
}
