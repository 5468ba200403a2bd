//! `campctl test-restore`: a pass, a manifest that does not match, SQL checks from the configuration, `--keep` and
//! `--target-url`; its JSON and JUnit reports; the result recorded in the manifest for `backup list`.

use super::{RestoreEnv, database_exists, drop_database_quietly, seed, table_counts};
use crate::common::{assert_exit, azurite, pg};

/// One element of a parsed XML document.
#[derive(Debug)]
pub(crate) struct Element {
    pub(crate) name: String,
    /// Values unescaped.
    pub(crate) attributes: Vec<(String, String)>,
    /// 0 for the root.
    pub(crate) depth: usize,
}

impl Element {
    pub(crate) fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

/// Resolves the five predefined entities and character references; rejects a bare `&`, `<` and the control
/// characters XML 1.0 forbids.
fn unescape(text: &str) -> Result<String, String> {
    if let Some(c) = text
        .chars()
        .find(|c| *c == '<' || ((*c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r')))
    {
        return Err(format!("{c:?} in {text:?}"));
    }
    let mut out = String::new();
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let semicolon = rest[amp..].find(';').ok_or_else(|| format!("a bare `&` in {text:?}"))?;
        let entity = &rest[amp + 1..amp + semicolon];
        let resolved = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .map(|hex| u32::from_str_radix(hex, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse::<u32>))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        out.push(resolved.ok_or_else(|| format!("unknown entity `&{entity};` in {text:?}"))?);
        rest = &rest[amp + semicolon + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Parses `xml` strictly enough to reject what is not well-formed: an optional declaration, then exactly one root
/// element; tags nest and match, attributes are quoted and unique, text and values use only valid references.
/// (Comments, CDATA and doctypes are rejected: the JUnit report has none.)
pub(crate) fn parse_xml(xml: &str) -> Result<Vec<Element>, String> {
    let mut rest = xml;
    if let Some(after) = rest.strip_prefix("<?xml ") {
        let end = after.find("?>").ok_or("an unterminated XML declaration")?;
        rest = &after[end + 2..];
    }
    let mut elements = Vec::new();
    let mut open: Vec<String> = Vec::new();
    let mut roots = 0;
    loop {
        let next = rest.find('<');
        let text = &rest[..next.unwrap_or(rest.len())];
        if open.is_empty() {
            if !text.trim().is_empty() {
                return Err(format!("text outside the root element: {text:?}"));
            }
        } else {
            unescape(text)?;
        }
        let Some(next) = next else { break };
        rest = &rest[next + 1..];
        if let Some(after) = rest.strip_prefix('/') {
            let end = after.find('>').ok_or("an unterminated end tag")?;
            let name = after[..end].trim_end();
            match open.pop() {
                Some(top) if top == name => {}
                other => return Err(format!("`</{name}>` closes {other:?}")),
            }
            rest = &after[end + 1..];
            continue;
        }
        let name_end = rest
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .ok_or("an unterminated tag")?;
        let name = &rest[..name_end];
        if !valid_name(name) {
            return Err(format!("invalid element name {name:?}"));
        }
        if open.is_empty() {
            roots += 1;
            if roots > 1 {
                return Err(format!("a second root element `{name}`"));
            }
        }
        rest = &rest[name_end..];
        let mut attributes: Vec<(String, String)> = Vec::new();
        let self_closing = loop {
            let trimmed = rest.trim_start();
            if let Some(after) = trimmed.strip_prefix("/>") {
                rest = after;
                break true;
            }
            if let Some(after) = trimmed.strip_prefix('>') {
                rest = after;
                break false;
            }
            if trimmed.len() == rest.len() {
                return Err(format!(
                    "no space before an attribute of `{name}`: {:?}",
                    &rest[..rest.len().min(40)]
                ));
            }
            let equals = trimmed
                .find('=')
                .ok_or_else(|| format!("an attribute without a value in `{name}`"))?;
            let key = trimmed[..equals].trim_end();
            if !valid_name(key) || attributes.iter().any(|(existing, _)| existing == key) {
                return Err(format!("invalid or repeated attribute {key:?} in `{name}`"));
            }
            let value = trimmed[equals + 1..].trim_start();
            let quote = value
                .chars()
                .next()
                .filter(|c| matches!(c, '"' | '\''))
                .ok_or_else(|| format!("an unquoted value of `{key}` in `{name}`"))?;
            let close = value[1..]
                .find(quote)
                .ok_or_else(|| format!("an unterminated value of `{key}` in `{name}`"))?;
            attributes.push((key.to_owned(), unescape(&value[1..=close])?));
            rest = &value[close + 2..];
        };
        elements.push(Element {
            name: name.to_owned(),
            attributes,
            depth: open.len(),
        });
        if !self_closing {
            open.push(name.to_owned());
        }
    }
    if !open.is_empty() {
        return Err(format!("unclosed elements {open:?}"));
    }
    if roots != 1 {
        return Err("no root element".to_owned());
    }
    Ok(elements)
}

#[test]
fn the_xml_check_rejects_what_is_not_well_formed() {
    let good = "<?xml version=\"1.0\"?>\n<a x=\"1 &amp; 2\"><b y='&#x41;'/>text &lt; more</a>\n";
    let elements = parse_xml(good).expect("well-formed");
    assert_eq!(elements.len(), 2);
    assert_eq!(elements[0].attribute("x"), Some("1 & 2"));
    assert_eq!((elements[1].name.as_str(), elements[1].depth), ("b", 1));
    assert_eq!(elements[1].attribute("y"), Some("A"));
    for bad in [
        "<a><b></a></b>",
        "<a>",
        "<a></a><a></a>",
        "<a x=1></a>",
        "<a x=\"1\" x=\"2\"></a>",
        "<a>fish & chips</a>",
        "<a x=\"<\"></a>",
        "<a>&nbsp;</a>",
        "<a>\u{1}</a>",
        "text<a></a>",
        "<a x=\"1\"y=\"2\"></a>",
    ] {
        assert!(parse_xml(bad).is_err(), "accepted {bad:?}");
    }
}

/// The JUnit file at `path`, parsed and checked against the JSON report: one `<testcase>` per check, in order and
/// with the same names, a `<failure>` in exactly the failed ones, and the counts on `<testsuites>`.
fn check_junit(path: &std::path::Path, report: &serde_json::Value) -> Vec<Element> {
    let xml = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let elements = parse_xml(&xml).unwrap_or_else(|e| panic!("the JUnit report is not well-formed XML: {e}\n{xml}"));
    let checks = report["checks"].as_array().expect("checks");
    let failed = checks.iter().filter(|check| check["outcome"] == "fail").count();
    let root = &elements[0];
    assert_eq!(root.name, "testsuites", "{xml}");
    assert_eq!(
        root.attribute("tests"),
        Some(checks.len().to_string().as_str()),
        "{xml}"
    );
    assert_eq!(root.attribute("failures"), Some(failed.to_string().as_str()), "{xml}");
    let suites: Vec<&Element> = elements.iter().filter(|e| e.name == "testsuite").collect();
    assert_eq!(suites.len(), 1, "{xml}");
    assert_eq!(suites[0].depth, 1, "{xml}");
    let cases: Vec<&Element> = elements.iter().filter(|e| e.name == "testcase").collect();
    let case_names: Vec<&str> = cases
        .iter()
        .map(|c| c.attribute("name").expect("testcase name"))
        .collect();
    let check_names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().expect("check name")).collect();
    assert_eq!(case_names, check_names, "{xml}");
    assert!(cases.iter().all(|c| c.depth == 2), "{xml}");
    let failures: Vec<&Element> = elements.iter().filter(|e| e.name == "failure").collect();
    assert_eq!(failures.len(), failed, "{xml}");
    // Each failure sits inside the testcase of a failed check.
    let mut current_case = None;
    for element in &elements {
        match element.name.as_str() {
            "testcase" => current_case = element.attribute("name"),
            "failure" => {
                let name = current_case.expect("a failure inside a testcase");
                let check = checks.iter().find(|c| c["name"] == name).expect("the failure's check");
                assert_eq!(check["outcome"], "fail", "{xml}");
                assert_eq!(element.attribute("message"), check["detail"].as_str(), "{xml}");
            }
            _ => {}
        }
    }
    elements
}

fn checks_by_outcome<'a>(report: &'a serde_json::Value, outcome: &str) -> Vec<&'a serde_json::Value> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|check| check["outcome"] == outcome)
        .collect()
}

fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|check| check["name"] == name)
        .unwrap_or_else(|| panic!("no check `{name}`: {report}"))
}

/// Backs up [`SMALL_SEED`] with `checks` (`[[test_restore.checks]]` tables) in the configuration and runs
/// `test-restore`, which must exit 1 (a check fails); returns the environment and the JSON report.
fn test_restore_with_checks(checks: &str) -> (RestoreEnv, serde_json::Value) {
    let env = RestoreEnv::local();
    env.db.execute(SMALL_SEED);
    env.write_config(&env.db.url(), checks);
    env.backup();
    let report = env.run_json(&["test-restore"], 1);
    (env, report)
}

/// A small database for the tests that are not about fidelity.
const SMALL_SEED: &str = "CREATE TABLE users (id int PRIMARY KEY, name text); \
     INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, 25) g; \
     UPDATE users SET name = 'alice' WHERE id = 1; \
     CREATE TABLE audit (at timestamptz);";

#[test]
fn a_good_backup_passes_with_json_and_junit_reports_and_is_marked_verified() {
    let env = RestoreEnv::local();
    env.db.execute(&seed());
    let db = env.db.name();
    let backup = env.backup();
    let name = backup["name"].as_str().expect("name");
    let junit = env.ctx.home().join("test-restore.xml");

    let report = env.run_json(&["test-restore", "--junit", junit.to_str().expect("UTF-8 path")], 0);

    assert_eq!(report["passed"], true, "{report}");
    assert_eq!(report["backup"], name, "{report}");
    assert_eq!(report["database"], db, "{report}");
    assert_eq!(report["kept"], false, "{report}");
    let scratch = report["scratch_database"].as_str().expect("scratch_database");
    assert!(scratch.starts_with(&format!("{db}__test_restore_")), "{scratch}");
    assert!(checks_by_outcome(&report, "pass").len() == report["checks"].as_array().map_or(0, Vec::len));
    for step in ["download + checksum", "archive readable", "pg_restore", "table count"] {
        assert_eq!(check(&report, step)["outcome"], "pass", "{report}");
    }
    assert!(
        check(&report, "download + checksum")["detail"]
            .as_str()
            .is_some_and(|d| d.contains("matches the manifest")),
        "{report}"
    );
    // One check per table, with the exact count.
    let counts = table_counts(db);
    for (schema, table, rows) in &counts {
        let row_check = check(&report, &format!("rows {schema}.{table}"));
        assert_eq!(row_check["outcome"], "pass", "{row_check}");
        assert_eq!(row_check["detail"], format!("{rows} rows"), "{row_check}");
    }
    assert_eq!(
        report["checks"].as_array().map(Vec::len),
        Some(4 + counts.len()),
        "{report}"
    );
    assert_eq!(report["recorded_in"].as_array().map(Vec::len), Some(1), "{report}");

    assert!(!database_exists(scratch), "the scratch database is dropped");
    assert!(env.databases("__").is_empty(), "{:?}", env.databases("__"));
    check_junit(&junit, &report);

    let manifest = env.local_manifest(&backup);
    assert_eq!(manifest["test_restore"]["passed"], true, "{manifest}");
    let listed = env.listed(name);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["verified"], true, "{listed:?}");
}

#[test]
fn a_row_count_that_does_not_match_the_manifest_fails_and_is_recorded() {
    let env = RestoreEnv::local();
    env.db.execute(&seed());
    let backup = env.backup();
    let name = backup["name"].as_str().expect("name");
    env.edit_local_manifest(&backup, |manifest| {
        let users = manifest["tables"]
            .as_array_mut()
            .expect("tables")
            .iter_mut()
            .find(|t| t["schema"] == "public" && t["table"] == "users")
            .expect("users in the manifest");
        assert_eq!(users["rows"], 3000);
        users["rows"] = 3001.into();
    });
    let junit = env.ctx.home().join("test-restore.xml");

    let (report, stderr) =
        env.run_json_with_stderr(&["test-restore", "--junit", junit.to_str().expect("UTF-8 path")], 1);

    assert_eq!(report["passed"], false, "{report}");
    let failed = checks_by_outcome(&report, "fail");
    assert_eq!(failed.len(), 1, "{report}");
    assert_eq!(failed[0]["name"], "rows public.users", "{report}");
    let detail = failed[0]["detail"].as_str().expect("detail");
    assert!(detail.contains("3000") && detail.contains("3001"), "{detail}");
    assert_eq!(check(&report, "table count")["outcome"], "pass", "{report}");
    assert!(stderr.contains("test-restore FAILED: rows public.users"), "{stderr}");

    let elements = check_junit(&junit, &report);
    assert_eq!(elements.iter().filter(|e| e.name == "failure").count(), 1);
    assert!(env.databases("__").is_empty(), "{:?}", env.databases("__"));
    assert_eq!(env.local_manifest(&backup)["test_restore"]["passed"], false);
    let listed = env.listed(name);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["verified"], false, "{listed:?}");
    let table = env.run(&["backup", "list"]);
    assert_exit(&table, 0);
    assert!(String::from_utf8_lossy(&table.stdout).contains("FAILED"));
}

#[test]
fn sql_checks_from_the_configuration_pass_and_fail() {
    let (env, report) = test_restore_with_checks(
        r#"
[[test_restore.checks]]
name = "users not empty"
sql = "SELECT count(*) > 0 FROM users"
expect = true

[[test_restore.checks]]
name = "first user"
sql = "SELECT name FROM users ORDER BY id LIMIT 1"
expect = "alice"

[[test_restore.checks]]
name = "user count"
sql = "SELECT count(*) FROM users"
expect = 999
"#,
    );

    assert_eq!(report["passed"], false, "{report}");
    assert_eq!(check(&report, "sql users not empty")["outcome"], "pass", "{report}");
    assert_eq!(check(&report, "sql first user")["outcome"], "pass", "{report}");
    let failing = check(&report, "sql user count");
    assert_eq!(failing["outcome"], "fail", "{report}");
    assert_eq!(failing["detail"], "got 25, expected 999", "{report}");
    let failed: Vec<&str> = checks_by_outcome(&report, "fail")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert_eq!(failed, vec!["sql user count"], "{report}");
    assert!(env.databases("__").is_empty(), "{:?}", env.databases("__"));
}

/// Architecture 4: the SQL checks run read-only; a check that writes fails with the server's read-only error (and
/// cannot change what the later checks see).
#[test]
fn sql_checks_cannot_write_to_the_scratch_database() {
    let (env, report) = test_restore_with_checks(
        r#"
[[test_restore.checks]]
name = "writes"
sql = "DELETE FROM users RETURNING 1"
expect = 1

[[test_restore.checks]]
name = "users intact"
sql = "SELECT count(*) FROM users"
expect = 25
"#,
    );

    let writes = check(&report, "sql writes");
    assert_eq!(writes["outcome"], "fail", "{report}");
    let detail = writes["detail"].as_str().expect("detail");
    assert!(
        detail.contains("25006") && detail.contains("read-only transaction"),
        "{report}"
    );
    assert_eq!(check(&report, "sql users intact")["outcome"], "pass", "{report}");
    assert!(env.databases("__").is_empty(), "{:?}", env.databases("__"));
}

#[test]
fn keep_leaves_the_scratch_database_with_the_data() {
    let env = RestoreEnv::local();
    env.db.execute(SMALL_SEED);
    let backup = env.backup();

    let report = env.run_json(&["test-restore", "--keep", "--no-record"], 0);

    assert_eq!(report["kept"], true, "{report}");
    let scratch = report["scratch_database"]
        .as_str()
        .expect("scratch_database")
        .to_owned();
    assert_eq!(env.databases("__"), vec![scratch.clone()]);
    assert_eq!(table_counts(&scratch), table_counts(env.db.name()));
    // --no-record: the manifest is as the backup wrote it.
    assert_eq!(report["recorded_in"], serde_json::json!([]), "{report}");
    assert_eq!(env.local_manifest(&backup)["test_restore"], serde_json::Value::Null);
    drop_database_quietly(&scratch);
    assert!(!database_exists(&scratch));
}

#[test]
fn target_url_restores_on_the_given_server_instead_of_the_configured_one() {
    let env = RestoreEnv::local();
    env.db.execute(SMALL_SEED);
    env.backup();
    // From now on the configured server refuses campctl: only --target-url can reach one.
    let password = pg().password();
    env.write_config(&env.db.url().replace(password, "not-the-password"), "");
    let output = env.run(&["test-restore"]);
    assert_exit(&output, 12);

    let target = pg().url("postgres");
    let report = env.run_json(&["test-restore", "--target-url", &target], 0);

    assert_eq!(report["passed"], true, "{report}");
    assert_eq!(report["server"], format!("{}:{}", pg().host(), pg().port()), "{report}");
    assert_eq!(check(&report, "rows public.users")["detail"], "25 rows", "{report}");
    assert!(env.databases("__").is_empty(), "{:?}", env.databases("__"));
}

#[test]
fn the_result_is_recorded_only_in_the_store_whose_copy_was_tested() {
    let env = RestoreEnv::with_azure();
    env.db.execute(SMALL_SEED);
    let backup = env.backup();
    let name = backup["name"].as_str().expect("name");

    // Each store holds its own copy: testing the Azure copy says nothing about the local one.
    let report = env.run_json(&["test-restore", "--store", "azure"], 0);

    assert_eq!(report["passed"], true, "{report}");
    let recorded: Vec<&str> = report["recorded_in"]
        .as_array()
        .expect("recorded_in")
        .iter()
        .map(|store| store.as_str().expect("store label"))
        .collect();
    assert_eq!(recorded.len(), 1, "{report}");
    assert!(recorded[0].starts_with("azure:"), "{report}");
    assert!(env.local_manifest(&backup)["test_restore"].is_null());
    let container = env.container.as_deref().expect("container");
    let blob = azurite().get_blob(
        container,
        &format!("pg/{}", backup["manifest"].as_str().expect("manifest")),
    );
    let manifest: serde_json::Value = serde_json::from_slice(&blob).expect("the Azure manifest is JSON");
    assert_eq!(manifest["test_restore"]["passed"], true, "{manifest}");
    let listed = env.listed(name);
    assert_eq!(listed.len(), 2, "one row per store: {listed:?}");
    for entry in &listed {
        let azure = entry["store"].as_str().is_some_and(|s| s.starts_with("azure:"));
        let expected = if azure {
            serde_json::Value::Bool(true)
        } else {
            serde_json::Value::Null
        };
        assert_eq!(entry["verified"], expected, "{listed:?}");
    }
    assert!(env.databases("__").is_empty(), "{:?}", env.databases("__"));
}

#[test]
fn every_compression_a_backup_may_use_is_restored_streaming_and_spooled() {
    let env = RestoreEnv::local();
    env.db.execute(SMALL_SEED);
    for compression in ["gzip", "pgdump", "none", "zstd:3"] {
        let backup = env.run_json(&["backup", "--compression", compression], 0);
        let name = backup["name"].as_str().expect("name").to_string();
        for jobs in ["1", "2"] {
            let report = env.run_json(&["test-restore", &name, "--jobs", jobs], 0);
            assert_eq!(report["passed"], true, "{compression}, --jobs {jobs}: {report:#}");
            let rows = report["checks"]
                .as_array()
                .expect("checks")
                .iter()
                .find(|c| c["name"] == "rows public.users")
                .map(|c| c["detail"].as_str().unwrap_or_default().to_string());
            assert_eq!(rows.as_deref(), Some("25 rows"), "{compression}: {report:#}");
        }
        super::wait_for_next_backup_second(&name);
    }
    assert!(env.databases("__").is_empty(), "{:?}", env.databases("__"));
}
