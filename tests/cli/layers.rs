//! The layers of `src/` run one way: a module never imports one on a higher floor, and the modules of one floor
//! never import each other in a circle. The floors are the one table [`FLOORS`] below; the diagram at the top of
//! `src/lib.rs` draws the same table, and STYLE.md §1 says why.
//!
//! The test reads every `src/**/*.rs` (with comments and strings blanked out, as `source_rules.rs` does), finds each
//! path into the crate: `crate::x…` in `use` lines (also grouped, `use crate::{x::A, y}`) and in code, and
//! `super::…` chains that climb to the crate root; and maps `x` to its floor. An import of a higher floor fails the
//! test with the file, the line and the arrow. Exempt, as test code: `#[cfg(test)]` items, `fuzz.rs` and `tests.rs`
//! files and anything under a `tests/` directory of `src/` (a test may build its input with any layer). `main.rs`
//! is the binary on top and imports the library by its name, not through `crate::`.
//!
//! A new top-level module of `src/` must be given a floor here: the test fails until it has one. What two modules
//! of one floor both need moves down to a shared home; a module that needs one above it is a sign that a type lives
//! on the wrong floor (move the type down, as the output enums moved from `cli.rs` to `printer`/`logging`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::source_rules::{is_test_file, mask, rust_files, test_ranges};

/// Every top-level module of `src/` and its floor: a module may import its own floor and the floors below.
/// `""` is the crate root (`lib.rs`: the dispatch `match` and its re-exports).
const FLOORS: &[(&str, u8)] = &[
    // 0. Leaves: exit codes and classified errors, units, environment variable names, stderr lines, report status.
    ("exit", 0),
    ("os", 0),
    ("units", 0),
    ("env_vars", 0),
    ("stderr", 0),
    ("status", 0),
    ("dump_options", 0),
    // 1. Output, just above the leaves: the printer with its output enums, the progress factory, logging setup.
    ("printer", 1),
    ("progress", 1),
    ("logging", 1),
    // 2. Services: PostgreSQL, the backup stores, Azure clients. Each owns its input types.
    ("pg", 2),
    ("storage", 2),
    ("azure", 2),
    ("http", 2),
    ("notify", 2),
    // 3. Shared homes of what several commands use: the catalog of backups, locks, undo-after-interrupt, the log
    //    file reader and its reports.
    ("catalog", 3),
    ("lock", 3),
    ("interrupt", 3),
    ("logs", 3),
    // 4. Settings: the file's schema, resolution into typed settings, and error rendering (which names the
    //    classified errors of every floor below).
    ("config_file", 4),
    ("settings", 4),
    ("diagnostics", 4),
    // 5. Commands.
    ("commands", 5),
    // 6. The command line and the crate root.
    ("cli", 6),
    ("", 6),
];

/// One path into the crate found in a file.
#[derive(Debug, PartialEq, Eq)]
struct Import {
    line: usize,
    /// The top-level module it reaches (`""` for an item of the crate root).
    target: String,
    /// The path as written, for the message (`crate::cli::OutputFormat`).
    text: String,
}

fn is_ident(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// The identifier starting at `at` (after spaces).
fn ident_at(code: &[u8], mut at: usize) -> (String, usize) {
    while at < code.len() && code[at].is_ascii_whitespace() {
        at += 1;
    }
    let start = at;
    while at < code.len() && is_ident(code[at]) {
        at += 1;
    }
    (String::from_utf8_lossy(&code[start..at]).into_owned(), at)
}

/// The first segments of the items of a group `{a::b, c, d::{e, f}}` starting at the `{` at `open`.
fn group_heads(code: &[u8], open: usize) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0usize;
    let mut expecting = true;
    let mut at = open;
    while at < code.len() {
        match code[at] {
            b'{' => {
                depth += 1;
                if depth == 1 {
                    expecting = true;
                }
            }
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            b',' if depth == 1 => expecting = true,
            byte if depth == 1 && expecting && is_ident(byte) => {
                let (ident, end) = ident_at(code, at);
                heads.push(ident);
                expecting = false;
                at = end;
                continue;
            }
            _ => {}
        }
        at += 1;
    }
    heads
}

/// The module path of a file of `src/`: `pg/conninfo.rs` → `[pg, conninfo]`, `pg/mod.rs` → `[pg]`, `lib.rs` → `[]`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// Every path into the crate in shipped code: `crate::…` and `super::` chains that climb to the root.
fn imports(source: &str, module: &[String]) -> Vec<Import> {
    let masked = mask(source);
    let excluded = test_ranges(&masked);
    let shipped = |at: usize| !excluded.iter().any(|&(start, end)| (start..end).contains(&at));
    let line_of = |at: usize| source[..at].matches('\n').count() + 1;
    let text_of = |from: usize| {
        let end = masked[from..]
            .iter()
            .position(|&b| !(is_ident(b) || b == b':'))
            .map_or(masked.len(), |n| from + n);
        String::from_utf8_lossy(&masked[from..end])
            .trim_end_matches(':')
            .to_string()
    };
    let mut found = Vec::new();
    let mut at = 0;
    while at < masked.len() {
        let rest = &masked[at..];
        let boundary = at == 0 || !(is_ident(masked[at - 1]) || masked[at - 1] == b'$' || masked[at - 1] == b':');
        if !boundary || !shipped(at) {
            at += 1;
            continue;
        }
        let after = if rest.starts_with(b"crate::") {
            Some((at + "crate::".len(), 0))
        } else if rest.starts_with(b"super::") {
            let mut climb = 0;
            let mut end = at;
            while masked[end..].starts_with(b"super::") {
                climb += 1;
                end += "super::".len();
            }
            // Only a chain that climbs to the crate root reaches another top-level module.
            (climb >= module.len()).then_some((end, climb))
        } else {
            None
        };
        let Some((next, _)) = after else {
            at += 1;
            continue;
        };
        let grouped = masked.get(next) == Some(&b'{');
        let heads = if grouped {
            group_heads(&masked, next)
        } else {
            vec![ident_at(&masked, next).0]
        };
        for head in heads {
            let text = if grouped {
                format!("{}::{{{head}…}}", text_of(at))
            } else {
                text_of(at)
            };
            found.push(Import {
                line: line_of(at),
                target: head,
                text,
            });
        }
        at = next;
    }
    found
}

#[test]
fn no_module_imports_one_above_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    let floors: BTreeMap<&str, u8> = FLOORS.iter().copied().collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut problems = Vec::new();

    // Every top-level module has a floor, and every floor names a module that exists.
    let top_level: BTreeSet<String> = files
        .iter()
        .filter_map(|path| {
            module_path(path.strip_prefix(&src).expect("under src"))
                .first()
                .cloned()
        })
        .filter(|name| name != "main")
        .collect();
    for name in &top_level {
        if !floors.contains_key(name.as_str()) {
            problems.push(format!(
                "src/{name}: a top-level module without a floor: add it to FLOORS in tests/cli/layers.rs"
            ));
        }
    }
    for name in floors.keys().filter(|name| !name.is_empty()) {
        if !top_level.contains(*name) {
            problems.push(format!("FLOORS names `{name}`, which is not a module of src/ any more"));
        }
    }

    let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for path in &files {
        let relative = path.strip_prefix(&src).expect("under src");
        if is_test_file(relative) || relative == Path::new("main.rs") {
            continue;
        }
        let module = module_path(relative);
        let from = module.first().cloned().unwrap_or_default();
        let Some(&floor) = floors.get(from.as_str()) else {
            continue;
        };
        let source = std::fs::read_to_string(path).expect("read a source file");
        let name = format!("src/{}", relative.to_string_lossy().replace('\\', "/"));
        for import in imports(&source, &module) {
            // `crate::Ctx` and the like: an item of the crate root, not a module.
            let target = if top_level.contains(&import.target) {
                import.target
            } else {
                String::new()
            };
            if target == from {
                continue;
            }
            let Some(&to) = floors.get(target.as_str()) else {
                continue;
            };
            if to > floor {
                let shown = if target.is_empty() {
                    "the crate root"
                } else {
                    target.as_str()
                };
                problems.push(format!(
                    "{name}:{}: `{}` imports upward: `{from}` (floor {floor}) -> {shown} (floor {to})",
                    import.line, import.text
                ));
            }
            if to != floor {
                continue;
            }
            edges
                .entry(from.clone())
                .or_default()
                .entry(target)
                .or_insert_with(|| format!("{name}:{}", import.line));
        }
    }

    // No circle among the modules of one floor (an arrow between floors that goes up is reported above; one that
    // goes down cannot close a circle without one that goes up).
    for start in edges.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((node, trail)) = stack.pop() {
            for (next, place) in edges.get(&node).into_iter().flatten() {
                if next == start {
                    let circle = trail.iter().chain([start]).cloned().collect::<Vec<_>>().join(" -> ");
                    problems.push(format!("a circle of imports: {circle} (the last arrow at {place})"));
                } else if seen.insert(next.clone()) {
                    let mut longer = trail.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    problems.sort();
    problems.dedup();
    assert!(
        problems.is_empty(),
        "{}\n\nMove the shared type or function down to a floor both may use (tests/cli/layers.rs, src/lib.rs)",
        problems.join("\n")
    );
}

#[test]
fn the_import_scanner_sees_groups_code_paths_and_super_chains() {
    let source = r#"
use crate::exit::{ExitStatus, UserError};
use crate::{cli::Cli, pg::{self, ConnParams}, units};
// use crate::commented::Out;
fn f() -> crate::settings::GlobalSettings { let s = "crate::in_a_string"; todo!() }
use super::super::storage::Store;
macro_rules! m { () => { $crate::exit::ExitStatus::Success } }
#[cfg(test)]
mod tests { use crate::commands::Ctx; }
"#;
    let found = imports(source, &["pg".into(), "conninfo".into()]);
    let targets: Vec<(usize, &str)> = found.iter().map(|i| (i.line, i.target.as_str())).collect();
    assert_eq!(
        targets,
        vec![
            (2, "exit"),
            (3, "cli"),
            (3, "pg"),
            (3, "units"),
            (5, "settings"),
            (6, "storage")
        ],
        "{found:#?}"
    );
    // One `super::` from `pg/conninfo.rs` stays inside `pg`.
    assert!(imports("use super::Secret;", &["pg".into(), "conninfo".into()]).is_empty());
    assert_eq!(module_path(Path::new("pg/mod.rs")), vec!["pg".to_string()]);
    assert!(module_path(Path::new("lib.rs")).is_empty());
}
