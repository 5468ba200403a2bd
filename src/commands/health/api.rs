//! The `api` check (runbook 9.1.1's `curl` of the health URL, 6.3.2): an HTTP(S) GET of each `[[health.api]]`
//! URL, all at once, one result per URL. A status other than the expected one, a JSON field with another value
//! and a refused connection are CRITICAL; otherwise the latency (request to the last byte of the body) is judged
//! against the thresholds (runbook 5.1.2's P95 response time: 1 s / 3 s). HTTPS is verified with the system's CAs
//! or the entry's `ca_file` (`crate::http`).
//!
//! A URL's credentials and query values never appear in the report: its target is the URL without them.

use std::fmt::Write as _;
use std::time::Instant;

use serde_json::Value;

use super::check::{CheckResult, Level, Unit};
use super::probe::Probe;
use super::settings::api::ApiSettings;
use crate::units::HumanDuration;

const CHECK: &str = "api";

/// `api`: every configured URL at once.
pub(crate) async fn api(probe: &Probe<'_>) -> anyhow::Result<Vec<CheckResult>> {
    let timeout_status = probe.settings.timeout_status;
    let runs = probe.settings.api.iter().map(|entry| one(entry, timeout_status));
    Ok(futures::future::join_all(runs).await)
}

/// One URL's result.
async fn one(settings: &ApiSettings, timeout_status: Level) -> CheckResult {
    let target = Some(settings.shown.clone());
    let fail = |status: Level, message: String| CheckResult::state(CHECK, target.clone(), status, message);
    let mut builder = reqwest::Client::builder().timeout(settings.timeout).user_agent(concat!(
        "campctl/",
        env!("CARGO_PKG_VERSION"),
        " health"
    ));
    if settings.shown.starts_with("https:") {
        match crate::http::client_config(settings.ca_file.as_deref()) {
            Ok(config) => builder = builder.tls_backend_preconfigured(config),
            Err(err) => return fail(Level::Unknown, format!("cannot set up TLS: {err:#}")),
        }
    }
    let client = match builder.build() {
        Ok(client) => client,
        Err(err) => {
            return fail(
                Level::Unknown,
                format!("cannot set up the HTTP client: {}", crate::http::error_chain(&err)),
            );
        }
    };
    let started = Instant::now();
    let answer = async {
        let response = client.get(settings.url.expose()).send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        Ok::<_, reqwest::Error>((status, body))
    }
    .await;
    let latency = started.elapsed().as_secs_f64();
    let (status, body) = match answer {
        Ok(answer) => answer,
        Err(err) if err.is_timeout() => {
            let mut message = format!("no answer within {}", HumanDuration(settings.timeout));
            if timeout_status == Level::Unknown {
                message.push_str(" (`[health] timeout_status = \"critical\"` makes this CRITICAL)");
            }
            return fail(timeout_status, message);
        }
        Err(err) => {
            return fail(
                Level::Critical,
                format!("cannot reach the URL: {}", crate::http::error_chain(&err.without_url())),
            );
        }
    };
    let status_text = match status.canonical_reason() {
        Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    };
    let expected = match settings.expect_status {
        Some(code) => status.as_u16() == code,
        None => status.is_success(),
    };
    if !expected {
        let wanted = settings
            .expect_status
            .map_or_else(|| "2xx".to_string(), |code| code.to_string());
        return fail(Level::Critical, format!("{status_text}, expected {wanted}")).with_value(latency, Unit::Seconds);
    }
    if let Some((field, value)) = &settings.json {
        let got = match serde_json::from_slice::<Value>(&body) {
            Ok(document) => field_text(&document, field),
            Err(err) => {
                return fail(
                    Level::Critical,
                    format!("{status_text}, but the body is not JSON ({err}), so `{field}` cannot be read"),
                )
                .with_value(latency, Unit::Seconds);
            }
        };
        let wrong = match &got {
            Some(got) if got == value => None,
            Some(got) => Some(format!("`{field}` is {got:?}, expected {value:?}")),
            None => Some(format!("the JSON body has no `{field}`, expected {value:?}")),
        };
        if let Some(wrong) = wrong {
            return fail(Level::Critical, format!("{status_text}, but {wrong}")).with_value(latency, Unit::Seconds);
        }
    }
    let mut message = status_text;
    if let Some((field, value)) = &settings.json {
        let _ = write!(message, ", `{field}` is {value:?}");
    }
    CheckResult::measured(CHECK, target, latency, Unit::Seconds, settings.latency, message)
}

/// The value at a dotted path (`checks.db`, `items.0.status`) as text: a string without its quotes, anything else
/// as JSON (`true`, `1`, `null`).
fn field_text(document: &Value, path: &str) -> Option<String> {
    let mut value = document;
    for part in path.split('.') {
        value = match value {
            Value::Object(map) => map.get(part)?,
            Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dotted_path_reads_objects_and_arrays_and_compares_as_text() {
        let document: Value =
            serde_json::from_str(r#"{"status":"ok","checks":{"db":"up","n":3,"ok":true},"items":[{"s":"a"}]}"#)
                .expect("json");
        assert_eq!(field_text(&document, "status").as_deref(), Some("ok"));
        assert_eq!(field_text(&document, "checks.db").as_deref(), Some("up"));
        assert_eq!(field_text(&document, "checks.n").as_deref(), Some("3"));
        assert_eq!(field_text(&document, "checks.ok").as_deref(), Some("true"));
        assert_eq!(field_text(&document, "items.0.s").as_deref(), Some("a"));
        assert_eq!(field_text(&document, "checks.none"), None);
        assert_eq!(field_text(&document, "status.deeper"), None);
    }
}
