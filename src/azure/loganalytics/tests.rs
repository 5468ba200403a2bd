use super::kql::{self, Schema};
use super::*;
use crate::exit::ExitStatus;

#[test]
fn columns_are_typed_and_found_by_name() {
    let body = br#"{"tables":[{"name":"PrimaryResult","columns":[
        {"name":"count","type":"long"},{"name":"TimeGenerated","type":"datetime"},{"name":"p95","type":"real"},
        {"name":"ok","type":"bool"},{"name":"Properties","type":"dynamic"},{"name":"path","type":"string"},
        {"name":"id","type":"guid"},{"name":"took","type":"timespan"},{"name":"n","type":"int"}],
        "rows":[[3,"2024-06-01T10:00:00Z",12.5,true,"{\"user_email\":\"a@b\"}","/api","0b6e8a2c-3f5d-4e1a-9c7b-2d4f6a8b0c1e","00:00:01.5",7],
                [null,"2024-06-01T11:00:00.123+02:00","NaN",false,{"x":1},null,null,null,null]]}]}"#;
    let result = parse_answer(body).expect("a result");
    assert_eq!(result.partial, None);
    let table = result.primary();
    let time = table.column("timegenerated").expect("found without case");
    assert_eq!(time, 1);
    assert_eq!(
        table.rows[0][time].as_datetime().map(|at| at.to_rfc3339()),
        Some("2024-06-01T10:00:00+00:00".to_string())
    );
    assert_eq!(
        table.rows[1][time].to_json(),
        serde_json::json!("2024-06-01T09:00:00.123Z"),
        "a time with an offset is read as UTC"
    );
    assert_eq!(table.rows[0][0], Cell::Long(3));
    assert_eq!(table.rows[1][0], Cell::Null);
    assert_eq!(table.rows[0][2].as_f64(), Some(12.5));
    assert!(table.rows[1][2].as_f64().is_some_and(f64::is_nan));
    assert_eq!(table.rows[1][2].to_json(), Value::Null);
    assert_eq!(table.rows[0][3], Cell::Bool(true));
    assert_eq!(
        table.rows[0][4],
        Cell::Dynamic(serde_json::json!({"user_email": "a@b"})),
        "dynamic sent as a JSON string is parsed"
    );
    assert_eq!(table.rows[1][4].to_text(), r#"{"x":1}"#);
    assert_eq!(table.rows[0][7], Cell::Text("00:00:01.5".into()));
    assert_eq!(table.rows[0][8], Cell::Long(7));
    assert!(table.require("nope").is_err());
}

#[test]
fn a_value_of_the_wrong_type_is_an_error_naming_the_column() {
    let body = br#"{"tables":[{"name":"PrimaryResult","columns":[{"name":"count","type":"long"}],"rows":[["many"]]}]}"#;
    let err = parse_answer(body).expect_err("not a long").to_string();
    assert!(err.contains("column `count`") && err.contains("not a long"), "{err}");
    let short = br#"{"tables":[{"name":"T","columns":[{"name":"a","type":"long"}],"rows":[[1,2]]}]}"#;
    assert!(parse_answer(short).is_err());
}

#[test]
fn an_empty_table_and_a_partial_answer() {
    let empty =
        parse_answer(br#"{"tables":[{"name":"PrimaryResult","columns":[{"name":"c","type":"long"}],"rows":[]}]}"#)
            .expect("empty");
    assert!(empty.primary().rows.is_empty());
    assert_eq!(empty.primary().columns.len(), 1);

    let partial = parse_answer(
        br#"{"tables":[{"name":"PrimaryResult","columns":[{"name":"c","type":"long"}],"rows":[[1]]}],
            "error":{"code":"PartialError","message":"There were some errors when processing your query.",
            "details":[{"code":"EngineError","message":"Query result set has exceeded the internal record count limit"}]}}"#,
    )
    .expect("partial");
    assert_eq!(partial.primary().rows.len(), 1, "the rows are kept");
    let warning = partial.partial.expect("partial is said");
    assert!(
        warning.contains("`PartialError`") && warning.contains("record count limit"),
        "{warning}"
    );
}

#[test]
fn a_syntax_error_is_shown_verbatim_with_its_innererror() {
    let body = br#"{"error":{"message":"The request had some invalid properties","code":"BadArgumentError","correlationId":"x",
        "innererror":{"code":"SyntaxError","message":"A recognition error occurred in the query.",
        "innererror":{"code":"SYN0002","message":"Query could not be parsed at 'wher' on line [2,2]","line":2,"pos":2,"token":"wher"}}}}"#;
    let err = bad_query_error(body, "ws");
    assert_eq!(err.status, ExitStatus::Usage);
    assert!(
        err.message.contains(
            "`BadArgumentError`: The request had some invalid properties; `SyntaxError`: A recognition error occurred \
             in the query.; `SYN0002`: Query could not be parsed at 'wher' on line [2,2] (line 2, position 2)"
        ),
        "{}",
        err.message
    );
}

#[test]
fn the_request_always_carries_a_timespan() {
    let request = QueryRequest {
        query: "T | take 1".into(),
        from: DateTime::parse_from_rfc3339("2024-06-01T00:00:00Z")
            .expect("t")
            .with_timezone(&Utc),
        until: DateTime::parse_from_rfc3339("2024-06-02T00:00:00+00:00")
            .expect("t")
            .with_timezone(&Utc),
        wait_secs: 30,
    };
    assert_eq!(
        request.body(),
        serde_json::json!({"query": "T | take 1", "timespan": "2024-06-01T00:00:00Z/2024-06-02T00:00:00Z"})
    );
}

#[test]
fn workspace_ids_are_guids() {
    assert!(check_workspace_id("0b6e8a2c-3f5d-4e1a-9c7b-2d4f6a8b0c1e").is_ok());
    for bad in [
        "",
        "my-workspace",
        "0b6e8a2c-3f5d-4e1a-9c7b-2d4f6a8b0c1e/../x",
        "/subscriptions/x",
    ] {
        assert!(check_workspace_id(bad).is_err(), "{bad}");
    }
}

#[test]
fn string_literals_cannot_break_out() {
    let malicious = "x\" | project secret=1 //\\\n| take 1";
    let literal = kql::string_literal(malicious);
    assert_eq!(literal, r#""x\" | project secret=1 //\\\n| take 1""#);
    // Read back the way KQL reads it: the literal ends only at its last character.
    let inner = &literal[1..literal.len() - 1];
    let mut escaped = false;
    for c in inner.chars() {
        assert!(escaped || c != '"', "an unescaped quote in {literal}");
        escaped = !escaped && c == '\\';
    }
    assert!(!escaped, "a trailing backslash would escape the closing quote");
    assert_eq!(kql::string_literal("\u{7}"), r#""\u0007""#);
}

#[test]
fn names_must_be_identifiers() {
    assert!(kql::identifier("http_table", "AppServiceHTTPLogs").is_ok());
    assert!(kql::identifier("t", "_x9").is_ok());
    for bad in ["", "9x", "Logs | take 1", "A-B", "Logs;", "täble"] {
        let err = kql::identifier("http_table", bad).expect_err(bad);
        assert!(err.to_string().contains("`[logs.workspace] http_table`"), "{err}");
    }
    let schema = Schema {
        http_table: "AppServiceHTTPLogs | where 1==1".into(),
        ..Schema::default()
    };
    assert!(kql::latency(&schema, Duration::from_secs(3600), false).is_err());
}

#[test]
fn timespan_literals_use_whole_units() {
    use std::time::Duration;
    assert_eq!(kql::timespan_literal(Duration::from_secs(3600)), "1h");
    assert_eq!(kql::timespan_literal(Duration::from_secs(900)), "15m");
    assert_eq!(kql::timespan_literal(Duration::from_secs(86_400)), "1d");
    assert_eq!(kql::timespan_literal(Duration::from_secs(90)), "90s");
    assert_eq!(kql::timespan_literal(Duration::from_millis(250)), "250ms");
}

use std::time::Duration;

#[test]
fn the_runbook_queries() {
    let schema = Schema::default();
    let hour = Duration::from_secs(3600);
    let errors = kql::errors_per_bin(&schema, &["ERROR".into(), "CRITICAL".into()], hour).expect("kql");
    assert_eq!(
        errors,
        "AppServiceConsoleLogs\n| where ResultDescription contains \"ERROR\" or ResultDescription contains \
         \"CRITICAL\"\n| summarize errors = count() by TimeGenerated = bin(TimeGenerated, 1h)\n| order by \
         TimeGenerated asc"
    );
    let auth = kql::auth_failures(&schema, 5).expect("kql");
    assert!(
        auth.starts_with("AppServiceAppLogs\n| where Message contains \"authentication_failed\""),
        "{auth}"
    );
    assert!(
        auth.contains("tostring(parse_json(Properties)[\"user_email\"])"),
        "{auth}"
    );
    assert!(auth.contains("| where FailureCount >= 5"), "{auth}");
    let latency = kql::latency(&schema, hour, true).expect("kql");
    assert!(
        latency.contains("(p50, p95, p99) = percentiles(ResponseTime, 50, 95, 99)")
            && latency.contains("path = tostring(UriStem)")
            && latency.contains("extend ResponseTime = todouble(TimeTaken)"),
        "{latency}"
    );
    let tail = kql::tail(&schema, &[], Some("a\"b"), 10).expect("kql");
    assert!(tail.contains("contains \"a\\\"b\""), "{tail}");
    assert!(tail.contains("| top 10 by TimeGenerated desc"), "{tail}");
}
