//! The file source: expands `--file` / `[logs] files`, reads every input streamed (plain, gzip, stdin) on a bounded
//! pool of worker threads (one per core; a plain file larger than [`CHUNK`] is cut into chunks at line ends, so
//! one large file also uses every core), and folds each line into an [`Aggregate`].

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::fields::LogsSettings;
use super::model::{UNPARSED_KEPT, Unparsed};
use super::parse::{Parsed, parse};
use crate::exit::{ExitStatus, UserError};

/// Plain files larger than this are read in chunks of this size by several workers.
pub(crate) const CHUNK: u64 = 64 * 1024 * 1024;
/// Read buffer of each worker.
const BUFFER: usize = 256 * 1024;

/// One input, expanded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Input {
    Stdin,
    File(PathBuf),
}

impl Input {
    pub(crate) fn name(&self) -> String {
        match self {
            Self::Stdin => "-".to_string(),
            Self::File(path) => path.display().to_string(),
        }
    }

    pub(crate) fn is_gzip(&self) -> bool {
        matches!(self, Self::File(path) if path.extension().is_some_and(|ext| ext == "gz"))
    }
}

fn not_found(spec: &str, what: &str) -> anyhow::Error {
    UserError::new(ExitStatus::NotFound, format!("log file `{spec}` {what}"))
        .with_hint("Check the path given to `--file` or `[logs] files` (globs need quotes in a shell: `'app.log*'`)")
        .into()
}

/// Whether `name` matches `pattern` (`*` any run of characters, `?` one character).
fn glob_match(pattern: &[char], name: &[char]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some(('*', rest)) => (0..=name.len()).any(|skip| glob_match(rest, &name[skip..])),
        Some(('?', rest)) => !name.is_empty() && glob_match(rest, &name[1..]),
        Some((c, rest)) => name.first() == Some(c) && glob_match(rest, &name[1..]),
    }
}

/// The regular files of a directory, sorted by name.
fn files_in(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs_err::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// Expands files, globs (`*` and `?` in the last part of the path) and directories; `-` is stdin.
///
/// # Errors
/// Exit 10 naming the path when a file does not exist or a glob matches nothing; an I/O error of a directory.
pub(crate) fn expand(specs: &[String]) -> anyhow::Result<Vec<Input>> {
    let mut inputs = Vec::new();
    for spec in specs {
        if spec == "-" {
            inputs.push(Input::Stdin);
            continue;
        }
        let path = Path::new(spec);
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.contains(['*', '?']) {
            let (dir, relative) = match path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => (parent.to_path_buf(), false),
                _ => (PathBuf::from("."), true),
            };
            if !dir.is_dir() {
                return Err(not_found(spec, "matches nothing: its directory does not exist"));
            }
            let pattern: Vec<char> = name.chars().collect();
            let matched: Vec<PathBuf> = files_in(&dir)?
                .into_iter()
                .filter(|file| {
                    let name: Vec<char> = file.file_name().unwrap_or_default().to_string_lossy().chars().collect();
                    glob_match(&pattern, &name)
                })
                .collect();
            if matched.is_empty() {
                return Err(not_found(spec, "matches no file"));
            }
            inputs.extend(matched.into_iter().map(|file| match file.strip_prefix(".") {
                Ok(name) if relative => Input::File(name.to_path_buf()),
                _ => Input::File(file),
            }));
        } else if path.is_dir() {
            inputs.extend(files_in(path)?.into_iter().map(Input::File));
        } else if path.exists() {
            inputs.push(Input::File(path.to_path_buf()));
        } else {
            return Err(not_found(spec, "does not exist"));
        }
    }
    let mut seen = std::collections::HashSet::new();
    inputs.retain(|input| seen.insert(input.clone()));
    Ok(inputs)
}

/// Opens an input as a stream of decompressed bytes.
pub(crate) fn open(input: &Input) -> anyhow::Result<Box<dyn Read + Send>> {
    Ok(match input {
        Input::Stdin => Box::new(std::io::stdin()),
        Input::File(path) => {
            let file = fs_err::File::open(path)?;
            if input.is_gzip() {
                Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
                    BUFFER, file,
                )))
            } else {
                Box::new(file)
            }
        }
    })
}

/// What the reports fold lines into; one per worker, merged at the end.
pub(crate) trait Aggregate: Send {
    fn add(&mut self, parsed: &Parsed<'_>);
    fn merge(&mut self, other: Self);
}

/// A piece of work: an input, or a byte range of a plain file.
#[derive(Debug, Clone)]
struct Unit {
    input: usize,
    range: Option<(u64, u64)>,
    /// Index of this chunk among the chunks of its file.
    chunk: usize,
}

/// What one unit read: its lines, and its unparsed lines as (line within the unit).
#[derive(Debug, Default)]
struct UnitResult {
    lines: u64,
    bad: u64,
    first_bad: Vec<u64>,
}

/// The units of work: each input, with plain files larger than `chunk` cut into ranges of `chunk` bytes.
fn units(inputs: &[Input], chunk_size: u64) -> anyhow::Result<Vec<Unit>> {
    let mut units = Vec::new();
    for (index, input) in inputs.iter().enumerate() {
        let size = match input {
            Input::File(path) if !input.is_gzip() => fs_err::metadata(path)?.len(),
            _ => 0,
        };
        if size > chunk_size {
            let mut start = 0;
            let mut chunk = 0;
            while start < size {
                let end = start.saturating_add(chunk_size).min(size);
                units.push(Unit {
                    input: index,
                    range: Some((start, end)),
                    chunk,
                });
                start = end;
                chunk += 1;
            }
        } else {
            units.push(Unit {
                input: index,
                range: None,
                chunk: 0,
            });
        }
    }
    Ok(units)
}

/// Reads one unit: lines that start inside its range (a chunk after the first skips the partial line it begins in).
fn read_unit<A: Aggregate>(
    input: &Input,
    unit: &Unit,
    settings: &LogsSettings,
    aggregate: &mut A,
) -> anyhow::Result<UnitResult> {
    let (mut reader, mut remaining): (Box<dyn BufRead>, u64) = match (input, unit.range) {
        (Input::File(path), Some((start, end))) => {
            let mut file = fs_err::File::open(path)?;
            let mut skipped = 0;
            let mut reader = if start > 0 {
                file.seek(SeekFrom::Start(start - 1))?;
                let mut reader = BufReader::with_capacity(BUFFER, file);
                let mut partial = Vec::new();
                skipped = reader.read_until(b'\n', &mut partial)? as u64;
                reader
            } else {
                BufReader::with_capacity(BUFFER, file)
            };
            let position = if start > 0 { start - 1 + skipped } else { 0 };
            let _ = &mut reader;
            (Box::new(reader), end.saturating_sub(position))
        }
        _ => (Box::new(BufReader::with_capacity(BUFFER, open(input)?)), u64::MAX),
    };
    let mut result = UnitResult::default();
    let mut buffer = Vec::with_capacity(4096);
    while remaining > 0 {
        buffer.clear();
        let read = reader.read_until(b'\n', &mut buffer)?;
        if read == 0 {
            break;
        }
        remaining = remaining.saturating_sub(read as u64);
        result.lines += 1;
        let text = match std::str::from_utf8(&buffer) {
            Ok(text) => text.trim_end_matches(['\n', '\r']),
            Err(_) => "\u{0}",
        };
        if text.trim().is_empty() {
            continue;
        }
        if let Some(parsed) = parse(text, &settings.fields) {
            aggregate.add(&parsed);
        } else {
            result.bad += 1;
            if result.first_bad.len() < UNPARSED_KEPT {
                result.first_bad.push(result.lines);
            }
        }
    }
    Ok(result)
}

/// Reads every input on a pool of workers and folds the lines into one `A`.
///
/// # Errors
/// An input that cannot be opened or read (named).
pub(crate) fn scan<A: Aggregate>(
    inputs: &[Input],
    settings: &LogsSettings,
    make: &(dyn Fn() -> A + Sync),
) -> anyhow::Result<(A, Unparsed)> {
    scan_in_chunks(inputs, settings, make, CHUNK)
}

/// [`scan`] with plain files cut into chunks of `chunk_size` bytes (the tests cut small files finely).
fn scan_in_chunks<A: Aggregate>(
    inputs: &[Input],
    settings: &LogsSettings,
    make: &(dyn Fn() -> A + Sync),
    chunk_size: u64,
) -> anyhow::Result<(A, Unparsed)> {
    let units = units(inputs, chunk_size.max(1))?;
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(units.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<UnitResult>>> = Mutex::new((0..units.len()).map(|_| None).collect());
    let merged = std::thread::scope(|scope| -> anyhow::Result<A> {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<A> {
                    let mut aggregate = make();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(unit) = units.get(index) else { break };
                        let input = &inputs[unit.input];
                        let result = read_unit(input, unit, settings, &mut aggregate)
                            .map_err(|err| anyhow::anyhow!("reading `{}`: {err:#}", input.name()))?;
                        if let Ok(mut results) = results.lock() {
                            results[index] = Some(result);
                        }
                    }
                    Ok(aggregate)
                })
            })
            .collect();
        let mut total = make();
        for handle in handles {
            let aggregate = handle
                .join()
                .map_err(|_| anyhow::anyhow!("a log reader thread panicked"))??;
            total.merge(aggregate);
        }
        Ok(total)
    })?;
    let results = results
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a log reader thread panicked"))?;
    let mut unparsed = Unparsed::default();
    let mut lines_before: HashMap<usize, u64> = HashMap::new();
    for (unit, result) in units.iter().zip(results) {
        let result = result.unwrap_or_default();
        let before = lines_before.entry(unit.input).or_default();
        if unit.chunk == 0 {
            *before = 0;
        }
        let name = inputs[unit.input].name();
        unparsed.add(Unparsed {
            lines: result.bad,
            first_line_numbers: result
                .first_bad
                .iter()
                .map(|line| format!("{name}:{}", *before + line))
                .collect(),
        });
        *before += result.lines;
    }
    Ok((merged, unparsed))
}

#[cfg(test)]
mod tests {
    use super::{Aggregate, Input, Parsed, glob_match, scan_in_chunks};
    use crate::config_file::LogsConfig;
    use crate::logs::fields::LogsSettings;

    /// Every record's message with its time, in any order.
    #[derive(Default)]
    struct Collect(Vec<String>);

    impl Aggregate for Collect {
        fn add(&mut self, parsed: &Parsed<'_>) {
            self.0.push(format!(
                "{} {}",
                parsed.time.to_rfc3339(),
                parsed.message().unwrap_or("-")
            ));
        }

        fn merge(&mut self, other: Self) {
            self.0.extend(other.0);
        }
    }

    /// A file cut into chunks at every size, from one byte (every line boundary, every byte inside a line, a line
    /// longer than several chunks) to larger than the file, reads exactly the records and unparsed line numbers
    /// of one unchunked read: each line is read once, by the chunk it starts in.
    #[test]
    fn chunk_boundaries_neither_lose_nor_repeat_a_line() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let long = "x".repeat(300);
        let mut text = String::new();
        for index in 0..40 {
            let time = format!("2026-03-01T00:00:{index:02}");
            let line = match index % 7 {
                3 => "not json at all".to_string(),
                4 => format!("{{\"timestamp\":\"{time}Z\",\"event\":\"long {long}\"}}"),
                5 => format!("{{\"timestamp\":\"{time}+00:00\",\"event\":\"crlf {index}\"}}\r"),
                6 => String::new(),
                _ => format!("{{\"timestamp\":\"{time}Z\",\"event\":\"e{index}\"}}"),
            };
            text.push_str(&line);
            text.push('\n');
        }
        // No trailing newline on the last line.
        text.push_str("{\"timestamp\":\"2026-03-01T00:01:00Z\",\"event\":\"last\"}");
        let path = dir.path().join("app.log");
        fs_err::write(&path, &text).expect("write the log");
        let inputs = [Input::File(path)];
        let settings = LogsSettings::resolve(&["-".to_string()], &LogsConfig::default()).expect("defaults resolve");
        let read = |chunk: u64| {
            let (mut collected, unparsed) =
                scan_in_chunks(&inputs, &settings, &Collect::default, chunk).expect("the scan");
            collected.0.sort();
            (collected.0, unparsed)
        };
        let (whole, whole_unparsed) = read(u64::MAX);
        assert_eq!(whole.len(), 40 - 6 - 5 + 1, "records of the unchunked read: {whole:?}");
        assert_eq!(whole_unparsed.lines, 6);
        assert!(
            whole_unparsed.first_line_numbers[0].ends_with("app.log:4"),
            "{whole_unparsed:?}"
        );
        let size = text.len() as u64;
        for chunk in (1..=size + 1).filter(|chunk| *chunk < 80 || chunk % 37 == 0 || *chunk >= size - 2) {
            let (records, unparsed) = read(chunk);
            assert_eq!(records, whole, "records with chunks of {chunk} bytes");
            assert_eq!(unparsed, whole_unparsed, "unparsed lines with chunks of {chunk} bytes");
        }
    }

    #[test]
    fn globs_match_like_a_shell() {
        let pattern: Vec<char> = "app.log*".chars().collect();
        for (name, want) in [("app.log", true), ("app.log.1.gz", true), ("other.log", false)] {
            assert_eq!(glob_match(&pattern, &name.chars().collect::<Vec<_>>()), want, "{name}");
        }
        let pattern: Vec<char> = "a?c".chars().collect();
        assert!(glob_match(&pattern, &['a', 'b', 'c']));
        assert!(!glob_match(&pattern, &['a', 'c']));
    }
}
