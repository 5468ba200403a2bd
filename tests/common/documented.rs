//! The JSON examples of docs/output.md as a contract: each is marked `<!-- json: NAME -->` before its code block,
//! and a test asserts that a real output has exactly the example's keys ([`assert_documented`]).

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

/// The JSON example marked `<!-- json: NAME -->` in docs/output.md.
pub fn documented(name: &str) -> Value {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/output.md"))
        .expect("read docs/output.md");
    let marker = format!("<!-- json: {name} -->\n```json\n");
    let start = doc
        .find(&marker)
        .unwrap_or_else(|| panic!("docs/output.md has no `{marker}`"))
        + marker.len();
    let end = start + doc[start..].find("\n```").expect("the example ends");
    serde_json::from_str(&doc[start..end]).unwrap_or_else(|err| panic!("the example `{name}` is not JSON: {err}"))
}

/// Every key path of a JSON value (`a`, `a.b`, `a[].c`), objects of arrays merged.
pub fn key_paths(value: &Value) -> BTreeSet<String> {
    fn walk(value: &Value, path: &str, out: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    let here = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    out.insert(here.clone());
                    walk(child, &here, out);
                }
            }
            Value::Array(items) => {
                for item in items {
                    walk(item, &format!("{path}[]"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(value, "", &mut out);
    out
}

/// Asserts that `actual` has exactly the keys of the example `name` in docs/output.md.
#[track_caller]
pub fn assert_documented(name: &str, actual: &Value) {
    let expected = key_paths(&documented(name));
    let got = key_paths(actual);
    assert_eq!(
        got,
        expected,
        "`{name}`: the output and docs/output.md differ\nonly in the output: {:?}\nonly in the doc: {:?}\n{actual:#}",
        got.difference(&expected).collect::<Vec<_>>(),
        expected.difference(&got).collect::<Vec<_>>()
    );
}
