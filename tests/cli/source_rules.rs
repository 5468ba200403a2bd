//! Rules about campctl's own source that no compiler lint states exactly: no `.unwrap()` and no unreviewed
//! `.expect(` in the code that ships (everything in `src/` outside `#[cfg(test)]` items and test-only files).
//!
//! `.unwrap()` is refused outright (clippy's `unwrap_used` warns too; this also catches an `#[allow]`).
//! `.expect("…")` is how code states an invariant it relies on ("a scanner past the TOC has read it"); each one is
//! a panic waiting for the day the invariant is wrong, and one on a value from outside (a file, a URL, an archive,
//! a server's answer) is a bug. So every `.expect(` of shipped code must be listed in `tests/cli/expect_allowlist.txt`
//! (file and message), where a reviewer sees each new one: its message must state an invariant that holds whatever
//! the input, and a value from outside must be handled as an error instead. The rule and how to update the list are
//! in docs/testing.md. Test-only files: `tests.rs`, `fuzz.rs` and anything under a `tests/` directory of `src/`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const ALLOWLIST: &str = "tests/cli/expect_allowlist.txt";
/// Set to `1` to rewrite the allowlist from the source (then review the diff like any other change).
const BLESS: &str = "CAMPCTL_BLESS_EXPECT";

/// The source with the text of comments, strings and character literals replaced by spaces (same byte offsets), so
/// that searches and brace matching see only code.
pub(super) fn mask(source: &str) -> Vec<u8> {
    let bytes = source.as_bytes();
    let mut out = bytes.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for byte in &mut out[from..to] {
            if *byte != b'\n' {
                *byte = b' ';
            }
        }
    };
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        if rest.starts_with(b"//") {
            let end = rest.iter().position(|&b| b == b'\n').map_or(bytes.len(), |n| i + n);
            blank(&mut out, i, end);
            i = end;
        } else if rest.starts_with(b"/*") {
            let mut depth = 0;
            let mut j = i;
            while j < bytes.len() {
                if bytes[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if bytes[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if (rest.starts_with(b"r#") || rest.starts_with(b"r\"") || rest.starts_with(b"br"))
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'))
        {
            let start = i + usize::from(rest[0] == b'b') + 1;
            let hashes = bytes[start..].iter().take_while(|&&b| b == b'#').count();
            if bytes.get(start + hashes) != Some(&b'"') {
                i += 1;
                continue;
            }
            let close: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat_n(b'#', hashes)).collect();
            let body = start + hashes + 1;
            let end = bytes[body..]
                .windows(close.len())
                .position(|window| window == close.as_slice())
                .map_or(bytes.len(), |n| body + n);
            blank(&mut out, body, end);
            i = end + close.len();
        } else if rest[0] == b'"' {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != b'"' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            blank(&mut out, i + 1, j.min(bytes.len()));
            i = j + 1;
        } else if rest[0] == b'\'' {
            // A character literal ('x', '\n', '\'', '{'), not a lifetime ('a).
            let len = if rest.get(1) == Some(&b'\\') {
                rest.iter().skip(2).position(|&b| b == b'\'').map(|n| n + 3)
            } else {
                let width = std::str::from_utf8(&rest[1..rest.len().min(5)])
                    .ok()
                    .or_else(|| std::str::from_utf8(&rest[1..rest.len().min(4)]).ok())
                    .or_else(|| std::str::from_utf8(&rest[1..rest.len().min(3)]).ok())
                    .or_else(|| std::str::from_utf8(&rest[1..rest.len().min(2)]).ok())
                    .and_then(|text| text.chars().next())
                    .map_or(1, char::len_utf8);
                (rest.get(1 + width) == Some(&b'\'')).then_some(width + 2)
            };
            match len {
                Some(len) => {
                    blank(&mut out, i + 1, i + len - 1);
                    i += len;
                }
                None => i += 1,
            }
        } else {
            i += 1;
        }
    }
    out
}

/// Byte ranges of `#[cfg(test)]` items (a module, function or impl with its body, or `mod name;`).
pub(super) fn test_ranges(masked: &[u8]) -> Vec<(usize, usize)> {
    let needle = b"#[cfg(test)]";
    let mut ranges = Vec::new();
    let mut from = 0;
    while let Some(found) = masked[from..].windows(needle.len()).position(|w| w == needle) {
        let start = from + found;
        let body = start + needle.len();
        let brace = masked[body..].iter().position(|&b| b == b'{').map(|n| body + n);
        let semicolon = masked[body..].iter().position(|&b| b == b';').map(|n| body + n);
        let end = match (brace, semicolon) {
            (Some(brace), Some(semicolon)) if semicolon < brace => semicolon + 1,
            (Some(brace), _) => {
                let mut depth = 0usize;
                let mut end = masked.len();
                for (offset, &byte) in masked[brace..].iter().enumerate() {
                    match byte {
                        b'{' => depth += 1,
                        b'}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = brace + offset + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            }
            (None, Some(semicolon)) => semicolon + 1,
            (None, None) => masked.len(),
        };
        ranges.push((start, end));
        from = end;
    }
    ranges
}

pub(super) fn is_test_file(path: &Path) -> bool {
    path.components().any(|part| part.as_os_str() == "tests")
        || matches!(path.file_name().and_then(|n| n.to_str()), Some("tests.rs" | "fuzz.rs"))
}

pub(super) fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read a source directory")
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

struct Findings {
    /// `path<TAB>message`, one per `.expect(` (repeated for repeats).
    expects: Vec<String>,
    /// `path:line: what`.
    violations: Vec<String>,
}

fn scan(root: &Path) -> Findings {
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut findings = Findings {
        expects: Vec::new(),
        violations: Vec::new(),
    };
    for path in files {
        let relative = path.strip_prefix(root).expect("under the root").to_path_buf();
        if is_test_file(relative.strip_prefix("src").expect("under src")) {
            continue;
        }
        let name = relative.to_string_lossy().replace('\\', "/");
        let source = std::fs::read_to_string(&path).expect("read a source file");
        let masked = mask(&source);
        let excluded = test_ranges(&masked);
        let shipped = |at: usize| !excluded.iter().any(|&(start, end)| (start..end).contains(&at));
        let line_of = |at: usize| source[..at].matches('\n').count() + 1;
        let find = |pattern: &[u8]| -> Vec<usize> {
            let mut found = Vec::new();
            let mut from = 0;
            while let Some(offset) = masked[from..].windows(pattern.len()).position(|w| w == pattern) {
                let at = from + offset;
                if shipped(at) {
                    found.push(at);
                }
                from = at + pattern.len();
            }
            found
        };
        for at in find(b".unwrap()") {
            findings
                .violations
                .push(format!("{name}:{}: `.unwrap()` in shipped code", line_of(at)));
        }
        for at in find(b".expect(") {
            let argument = at + ".expect(".len();
            let text = source[argument..].trim_start();
            let literal = text.strip_prefix('"').and_then(|body| {
                let mut end = None;
                let mut escaped = false;
                for (index, c) in body.char_indices() {
                    match c {
                        _ if escaped => escaped = false,
                        '\\' => escaped = true,
                        '"' => {
                            end = Some(index);
                            break;
                        }
                        _ => {}
                    }
                }
                end.map(|end| body[..end].split_whitespace().collect::<Vec<_>>().join(" "))
            });
            match literal {
                Some(message) if !message.is_empty() => findings.expects.push(format!("{name}\t{message}")),
                _ => findings.violations.push(format!(
                    "{name}:{}: `.expect(` without a string literal stating the invariant",
                    line_of(at)
                )),
            }
        }
    }
    findings.expects.sort();
    findings
}

fn counts(lines: &[String]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for line in lines {
        *counts.entry(line.as_str()).or_default() += 1;
    }
    counts
}

#[test]
fn shipped_code_has_no_unwrap_and_only_reviewed_expects() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let findings = scan(root);
    let list_path = root.join(ALLOWLIST);
    if std::env::var(BLESS).is_ok_and(|value| value == "1") {
        let mut text = String::from(
            "# Every `.expect(` of shipped code (src/, outside tests): file<TAB>message. Each message must state an\n\
             # invariant that holds whatever the input; see docs/testing.md. Regenerate with CAMPCTL_BLESS_EXPECT=1.\n",
        );
        for line in &findings.expects {
            let _ = writeln!(text, "{line}");
        }
        std::fs::write(&list_path, text).expect("write the allowlist");
    }
    let listed: Vec<String> = std::fs::read_to_string(&list_path)
        .expect("read tests/cli/expect_allowlist.txt")
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(str::to_owned)
        .collect();
    let (found, allowed) = (counts(&findings.expects), counts(&listed));
    let mut problems = findings.violations.clone();
    for (line, &count) in &found {
        let allowed = allowed.get(line).copied().unwrap_or(0);
        if count > allowed {
            problems.push(format!(
                "new `.expect(` not in {ALLOWLIST} ({count} found, {allowed} listed): {line}"
            ));
        }
    }
    for (line, &count) in &allowed {
        if found.get(line).copied().unwrap_or(0) < count {
            problems.push(format!("{ALLOWLIST} lists an `.expect(` that is gone: {line}"));
        }
    }
    assert!(
        problems.is_empty(),
        "{}\n\nReturn an error for values from outside; for a true invariant, add the line to {ALLOWLIST} (or run \
         with {BLESS}=1 and review the diff). docs/testing.md explains the rule.",
        problems.join("\n")
    );
}

#[test]
fn the_scanner_sees_through_strings_comments_and_test_modules() {
    let source = r##"
fn shipped() {
    let a = x.expect("an invariant");
    let b = "not code: .unwrap()"; // nor this: .unwrap()
    let c = r#"raw: .expect("x")"#;
    let d = '{';
    let e = y.unwrap();
}
#[cfg(test)]
mod tests {
    fn f() { let g = "}"; z.unwrap(); }
}
fn also_shipped<'a>(v: &'a str) { v.expect(&format!("{v}")); }
"##;
    let masked = mask(source);
    let excluded = test_ranges(&masked);
    let masked = String::from_utf8(masked).expect("ASCII");
    let shipped: Vec<usize> = masked
        .match_indices(".unwrap()")
        .map(|(at, _)| at)
        .filter(|at| !excluded.iter().any(|&(start, end)| (start..end).contains(at)))
        .collect();
    assert_eq!(shipped.len(), 1, "{masked}");
    let expects: Vec<usize> = masked
        .match_indices(".expect(")
        .map(|(at, _)| at)
        .filter(|at| !excluded.iter().any(|&(start, end)| (start..end).contains(at)))
        .collect();
    assert_eq!(expects.len(), 2, "{masked}");
}
