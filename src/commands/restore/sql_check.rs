//! The SQL checks of `test-restore` (`[[test_restore.checks]]` in campctl.toml): each query runs in the scratch
//! database, read-only, and its first value is compared with what the check expects; a failed query is reported in
//! the server's own words.
//!
//! The session is made read-only before any check runs ([`crate::pg::database::make_read_only`]); if that fails,
//! no check runs and each fails saying why. A check must never be able to change what the later ones see.

use std::time::Instant;

use super::test_report::{CheckOutcome, TestRestoreReport};
use crate::config_file::SqlCheck;
use crate::pg::{self, ConnParams, SessionOptions};

/// Runs the user's checks read-only in the scratch database; a session that cannot be made read-only fails them all
/// unrun.
pub(super) async fn run(report: &mut TestRestoreReport, params: &ConnParams, checks: &[SqlCheck]) {
    if checks.is_empty() {
        return;
    }
    let client = match pg::connect(params, SessionOptions::default()).await {
        Ok(client) => client,
        Err(err) => {
            fail_all(report, checks, &format!("{err:#}"));
            return;
        }
    };
    // The checks must not change what they check: without a read-only session none of them runs, and each fails
    // saying why (the result of this SET used to be ignored).
    if let Err(err) = pg::database::make_read_only(&client).await {
        fail_all(report, checks, &format!("not run: {err:#}"));
        return;
    }
    for check in checks {
        let started = Instant::now();
        let (outcome, detail) = match first_value(&client, &check.sql).await {
            Ok(actual) => {
                if expect_matches(&check.expect, actual.as_deref()) {
                    (
                        CheckOutcome::Pass,
                        format!("{} = {}", display(actual.as_deref()), check.expect),
                    )
                } else {
                    (
                        CheckOutcome::Fail,
                        format!("got {}, expected {}", display(actual.as_deref()), check.expect),
                    )
                }
            }
            Err(err) => (CheckOutcome::Fail, format!("the query failed: {}", query_error(&err))),
        };
        report.check(
            format!("sql {}", check.name),
            outcome,
            started.elapsed().as_secs_f64(),
            detail,
        );
    }
}

/// Fails every check unrun, each with the same `detail` (why none could run).
fn fail_all(report: &mut TestRestoreReport, checks: &[SqlCheck], detail: &str) {
    for check in checks {
        report.check(format!("sql {}", check.name), CheckOutcome::Fail, 0.0, detail);
    }
}

/// The server's own words for a failed query: severity, SQLSTATE, message, where in the query (a 1-based character
/// position, as psql shows it), detail and hint. tokio-postgres's `Display` says only "db error".
fn query_error(err: &tokio_postgres::Error) -> String {
    use std::error::Error as _;
    use std::fmt::Write as _;
    let Some(db) = err.as_db_error() else {
        // Not the server's answer (the connection broke): the whole chain says what happened.
        let mut text = err.to_string();
        let mut source = err.source();
        while let Some(cause) = source {
            let _ = write!(text, ": {cause}");
            source = cause.source();
        }
        return text;
    };
    let mut text = format!("{} {}: {}", db.severity(), db.code().code(), db.message());
    match db.position() {
        Some(tokio_postgres::error::ErrorPosition::Original(position)) => {
            let _ = write!(text, " (at character {position} of the query)");
        }
        Some(tokio_postgres::error::ErrorPosition::Internal { position, query }) => {
            let _ = write!(text, " (at character {position} of the internal query `{query}`)");
        }
        None => {}
    }
    if let Some(detail) = db.detail() {
        let _ = write!(text, "; detail: {detail}");
    }
    if let Some(hint) = db.hint() {
        let _ = write!(text, "; hint: {hint}");
    }
    text
}

fn display(value: Option<&str>) -> String {
    value.map_or_else(|| "NULL".to_string(), str::to_string)
}

/// The first column of the first row, as text (`None` for NULL or no row).
async fn first_value(client: &tokio_postgres::Client, sql: &str) -> Result<Option<String>, tokio_postgres::Error> {
    for message in client.simple_query(sql).await? {
        if let tokio_postgres::SimpleQueryMessage::Row(row) = message {
            return Ok(row.get(0).map(str::to_string));
        }
    }
    Ok(None)
}

/// `expect = true` matches `t`/`true`; a number matches numerically; a string matches the text exactly.
fn expect_matches(expect: &toml::Value, actual: Option<&str>) -> bool {
    let Some(actual) = actual else {
        return false;
    };
    match expect {
        toml::Value::Boolean(b) => match actual {
            "t" | "true" => *b,
            "f" | "false" => !*b,
            _ => false,
        },
        toml::Value::Integer(i) => actual.trim().parse::<i64>().is_ok_and(|a| a == *i),
        toml::Value::Float(f) => actual.trim().parse::<f64>().is_ok_and(|a| (a - f).abs() < 1e-9),
        toml::Value::String(s) => actual == s,
        other => actual == other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::expect_matches;

    #[test]
    fn expectations_compare_by_type() {
        assert!(expect_matches(&toml::Value::Boolean(true), Some("t")));
        assert!(!expect_matches(&toml::Value::Boolean(true), Some("f")));
        assert!(expect_matches(&toml::Value::Integer(42), Some("42")));
        assert!(!expect_matches(&toml::Value::Integer(42), Some("41")));
        assert!(expect_matches(&toml::Value::Float(0.5), Some("0.50")));
        assert!(expect_matches(&toml::Value::String("ok".into()), Some("ok")));
        assert!(!expect_matches(&toml::Value::String("ok".into()), None));
    }
}
