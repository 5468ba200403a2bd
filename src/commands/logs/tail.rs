//! `campctl logs tail [--follow]`: the newest lines of the files, then (with `--follow`) what is appended, across
//! rotation like `tail -F`: the renamed file is read to its end, then the new file at the path is opened.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;

use super::TailArgs;
use crate::exit::ExitStatus;
use crate::logs::fields::LogsSettings;
use crate::logs::files::{Input, open};
use crate::logs::model::{SourceInfo, TailLine, TailReport, UNPARSED_KEPT, Unparsed};
use crate::logs::parse::parse;
use crate::printer::{OutputFormat, Printer};

/// How often `--follow` looks for new lines.
const POLL: Duration = Duration::from_millis(200);

/// The filter of `--level` and `--grep`.
struct Filter {
    levels: Vec<String>,
    grep: Option<String>,
}

impl Filter {
    /// The line as shown, when it passes.
    fn check(&self, file: &str, text: &str, settings: &LogsSettings) -> Option<TailLine> {
        if self.grep.as_ref().is_some_and(|grep| !text.contains(grep.as_str())) {
            return None;
        }
        let record = parse(text, &settings.fields).map(|parsed| parsed.into_record(&settings.fields));
        if !self.levels.is_empty() {
            let level = record.as_ref().and_then(|record| record.level.as_deref())?;
            if !self.levels.iter().any(|wanted| wanted.eq_ignore_ascii_case(level)) {
                return None;
            }
        }
        Some(TailLine {
            file: file.to_string(),
            line: text.to_string(),
            record,
        })
    }
}

/// The modification time of a file (oldest first: rotated files before the live one); stdin last.
fn age_key(input: &Input) -> (u8, i64) {
    match input {
        Input::Stdin => (1, 0),
        Input::File(path) => (0, fs_err::metadata(path).map_or(0, |meta| meta.mtime())),
    }
}

/// The newest `count` lines that pass the filter; a file in `ends` is read up to that offset (where following
/// starts, so that no line is shown twice or lost between the two).
fn newest(
    inputs: &[Input],
    ends: &HashMap<PathBuf, u64>,
    settings: &LogsSettings,
    filter: &Filter,
    count: usize,
) -> anyhow::Result<(Vec<TailLine>, Unparsed)> {
    let mut lines = VecDeque::with_capacity(count.min(4096));
    let mut unparsed = Unparsed::default();
    for input in inputs {
        let name = input.name();
        let stream = open(input)?;
        let stream: Box<dyn Read> = match input {
            Input::File(path) if ends.contains_key(path) => Box::new(stream.take(ends[path])),
            _ => stream,
        };
        let mut reader = BufReader::new(stream);
        let mut buffer = Vec::new();
        let mut number = 0u64;
        loop {
            buffer.clear();
            if reader
                .read_until(b'\n', &mut buffer)
                .map_err(|err| anyhow::anyhow!("reading `{name}`: {err}"))?
                == 0
            {
                break;
            }
            number += 1;
            let text = String::from_utf8_lossy(&buffer);
            let text = text.trim_end_matches(['\n', '\r']);
            if text.trim().is_empty() {
                continue;
            }
            let Some(line) = filter.check(&name, text, settings) else {
                continue;
            };
            if line.record.is_none() {
                unparsed.lines += 1;
                if unparsed.first_line_numbers.len() < UNPARSED_KEPT {
                    unparsed.first_line_numbers.push(format!("{name}:{number}"));
                }
            }
            if count > 0 {
                if lines.len() == count {
                    lines.pop_front();
                }
                lines.push_back(line);
            }
        }
    }
    Ok((lines.into(), unparsed))
}

/// One followed path.
struct Follower {
    path: PathBuf,
    file: Option<fs_err::File>,
    id: Option<(u64, u64)>,
    partial: Vec<u8>,
}

impl Follower {
    /// Starts at the end of the file as it is now.
    fn new(path: PathBuf) -> Self {
        let mut follower = Self {
            path,
            file: None,
            id: None,
            partial: Vec::new(),
        };
        if let Ok(mut file) = fs_err::File::open(&follower.path)
            && file.seek(SeekFrom::End(0)).is_ok()
        {
            follower.id = file.metadata().ok().map(|meta| (meta.dev(), meta.ino()));
            follower.file = Some(file);
        }
        follower
    }

    fn drain(&mut self, out: &mut Vec<String>) {
        if let Some(file) = &mut self.file {
            let mut bytes = Vec::new();
            if file.read_to_end(&mut bytes).is_ok() {
                self.partial.extend_from_slice(&bytes);
            }
        }
        while let Some(end) = self.partial.iter().position(|byte| *byte == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line)
                .trim_end_matches(['\n', '\r'])
                .to_string();
            if !text.trim().is_empty() {
                out.push(text);
            }
        }
    }

    /// New complete lines: the rest of the open file, then (after a rotation or truncation) the new file.
    fn poll(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        self.drain(&mut out);
        // A path that is missing was renamed and not yet recreated: keep reading the old file.
        if let Ok(meta) = fs_err::metadata(&self.path) {
            let id = Some((meta.dev(), meta.ino()));
            let position = self
                .file
                .as_mut()
                .and_then(|file| file.stream_position().ok())
                .unwrap_or(0);
            if id != self.id {
                // Rotated (or created): the old file has been read to its end; open the new one from its start.
                if let Ok(file) = fs_err::File::open(&self.path) {
                    self.file = Some(file);
                    self.id = id;
                    self.partial.clear();
                    self.drain(&mut out);
                }
            } else if meta.len() < position {
                // Truncated in place (copytruncate): start again at the beginning.
                if let Some(file) = &mut self.file {
                    let _ = file.seek(SeekFrom::Start(0));
                }
                self.partial.clear();
                self.drain(&mut out);
            }
        }
        out
    }
}

pub(super) fn write_line(format: OutputFormat, line: &TailLine) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    if format == OutputFormat::Json {
        serde_json::to_writer(&mut stdout, line)?;
        writeln!(stdout)?;
    } else {
        writeln!(stdout, "{}", crate::printer::escape_control(&line.line))?;
    }
    stdout.flush()?;
    Ok(())
}

/// Runs `logs tail`.
pub(crate) async fn tail(
    args: TailArgs,
    settings: LogsSettings,
    mut inputs: Vec<Input>,
    format: OutputFormat,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    inputs.sort_by_key(age_key);
    let filter = Filter {
        levels: args.level.clone(),
        grep: args.grep.clone(),
    };
    let source = SourceInfo {
        kind: "files".into(),
        inputs: inputs.iter().map(Input::name).collect(),
    };
    // Following starts where the files end now; the newest lines are read up to there.
    let mut followers: Vec<Follower> = if args.follow {
        inputs
            .iter()
            .filter_map(|input| match input {
                Input::File(path) if !input.is_gzip() => Some(Follower::new(path.clone())),
                _ => None,
            })
            .collect()
    } else {
        Vec::new()
    };
    let ends: HashMap<PathBuf, u64> = followers
        .iter_mut()
        .filter_map(|follower| {
            let end = follower.file.as_mut()?.stream_position().ok()?;
            Some((follower.path.clone(), end))
        })
        .collect();
    let (lines, unparsed) = {
        let (inputs, settings) = (inputs.clone(), settings.clone());
        let count = args.lines;
        tokio::task::spawn_blocking(move || newest(&inputs, &ends, &settings, &filter, count)).await??
    };
    if !args.follow {
        printer.report(&TailReport {
            source,
            lines,
            unparsed,
        })?;
        return Ok(ExitStatus::Success);
    }
    let filter = Filter {
        levels: args.level,
        grep: args.grep,
    };
    for line in &lines {
        write_line(format, line)?;
    }
    crate::interrupt::set_status_on_interrupt(ExitStatus::Success);
    if followers.is_empty() {
        printer.warn("`--follow`: nothing to follow (gzipped files and stdin are read once)");
        return Ok(ExitStatus::Success);
    }
    loop {
        for follower in &mut followers {
            let name = follower.path.display().to_string();
            for text in follower.poll() {
                if let Some(line) = filter.check(&name, &text, &settings) {
                    write_line(format, &line)?;
                }
            }
        }
        tokio::time::sleep(POLL).await;
    }
}
