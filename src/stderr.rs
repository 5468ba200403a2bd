//! The one way campctl writes to stderr besides tracing: [`write_stderr`] and, for `--log-format json`,
//! [`json_line`]. A leaf: it imports nothing of campctl, so that `exit`, `printer` and `main` can all use it.
//!
//! [`write_stderr`] ignores write errors. A closed stderr (the reader of `campctl … 2>&1 | tool` went away) must
//! never become a panic, as it does with `eprintln!` (exit 101, "failed printing to stderr"); and there is nowhere
//! left to report such an error anyway. Never use `eprintln!` / `eprint!` in campctl: use the `Printer`, tracing,
//! or this module.
//!
//! [`json_line`] has the shape of the tracing JSON layer's lines (`timestamp`, `level`, `message`, `target`), so
//! that with `--log-format json` every line on stderr, ours or tracing's, is one JSON object a log shipper can read.

use std::io::Write as _;

use chrono::Utc;
use serde_json::{Map, Value};

/// Writes `text` to stderr as is and ignores errors (see the module docs: a closed stderr is not worth a panic,
/// and there is nowhere left to report it).
pub fn write_stderr(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());
    let _ = stderr.flush();
}

/// One line of JSON for stderr, newline included, shaped like the lines of the tracing JSON layer
/// (`timestamp`, `level`, `message`, `target`), followed by `fields`.
pub fn json_line(level: &str, message: &str, fields: Map<String, Value>) -> String {
    let mut object = Map::new();
    object.insert(
        "timestamp".into(),
        Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true).into(),
    );
    object.insert("level".into(), level.into());
    object.insert("message".into(), message.into());
    object.insert("target".into(), "campctl".into());
    object.extend(fields);
    let mut line = Value::Object(object).to_string();
    line.push('\n');
    line
}
