//! `[[health.api]]` resolved: each entry's URL (and the form reports show), expected status and JSON field, CA file,
//! latency thresholds and timeout.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::super::check::Thresholds;
use super::super::limits::{duration_seconds, thresholds};
use crate::config_file::HealthConfig;
use crate::exit::UserError;
use crate::pg::Secret;
use crate::units::HumanDuration;

/// Runbook 5.1.2: API response time P95, warning 1 s, critical 3 s.
const LATENCY: Thresholds = Thresholds::above(1.0, 3.0);

/// One `[[health.api]]` entry, resolved.
#[derive(Clone)]
pub(crate) struct ApiSettings {
    /// The URL as configured (it may hold credentials).
    pub url: Secret,
    /// The URL without credentials and with query values hidden: the result's target.
    pub shown: String,
    /// `None`: any 2xx.
    pub expect_status: Option<u16>,
    /// `(dotted path, expected value)`.
    pub json: Option<(String, String)>,
    pub ca_file: Option<PathBuf>,
    pub latency: Thresholds,
    pub timeout: Duration,
}

impl fmt::Debug for ApiSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiSettings")
            .field("url", &self.shown)
            .field("expect_status", &self.expect_status)
            .field("json", &self.json)
            .field("ca_file", &self.ca_file)
            .field("latency", &self.latency)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// `[[health.api]]`, every entry; `default_timeout` is a URL's timeout when its entry has none.
///
/// # Errors
/// A usage error (exit 2) naming the entry: no `url`, a URL that is not `http(s)://`, `json_field` without
/// `json_value` (or the reverse), an unreadable `ca_file`, thresholds out of order, a zero timeout.
pub(crate) fn resolve(
    file: &HealthConfig,
    where_: &dyn Fn(&str) -> String,
    default_timeout: Duration,
) -> anyhow::Result<Vec<ApiSettings>> {
    let Some(entries) = &file.api else {
        return Ok(Vec::new());
    };
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let origin = || format!("entry {} of {}", index + 1, where_(".api"));
            let text = entry.url.as_deref().ok_or_else(|| {
                UserError::usage(format!("{} has no `url`", origin()))
                    .with_hint("Write `url = \"https://api.example.com/health\"`")
            })?;
            let url = url::Url::parse(text).map_err(|err| {
                UserError::usage(format!("`url` of {} is not a URL: {err}", origin()))
                    .with_hint("Write `url = \"https://api.example.com/health\"`")
            })?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(UserError::usage(format!(
                    "`url` of {} has the scheme `{}`; the `api` check takes `http://` or `https://`",
                    origin(),
                    url.scheme()
                ))
                .into());
            }
            let json = match (&entry.json_field, &entry.json_value) {
                (Some(field), Some(value)) if !field.is_empty() => Some((field.clone(), value.clone())),
                (None, None) => None,
                _ => {
                    return Err(
                        UserError::usage(format!("{} needs `json_field` and `json_value` together", origin()))
                            .with_hint("e.g. `json_field = \"checks.db\"` and `json_value = \"ok\"`")
                            .into(),
                    );
                }
            };
            if let Some(status) = entry.expect_status
                && !(100..=599).contains(&status)
            {
                return Err(UserError::usage(format!(
                    "`expect_status = {status}` of {} is not an HTTP status code",
                    origin()
                ))
                .into());
            }
            if let Some(path) = &entry.ca_file
                && let Err(err) = fs_err::File::open(path)
            {
                return Err(UserError::usage(format!("`ca_file` of {}: {err}", origin()))
                    .with_hint("Give the PEM file of the CA that signed the server's certificate")
                    .into());
            }
            let timeout = match entry.timeout {
                Some(HumanDuration(value)) if value.is_zero() => {
                    return Err(UserError::usage(format!("`timeout` of {} must be above 0", origin()))
                        .with_hint("Give a duration such as `5s`")
                        .into());
                }
                Some(HumanDuration(value)) => value,
                None => default_timeout,
            };
            Ok(ApiSettings {
                url: Secret::new(text),
                shown: shown(&url),
                expect_status: entry.expect_status,
                json,
                ca_file: entry.ca_file.clone(),
                latency: thresholds(
                    duration_seconds(entry.warning),
                    duration_seconds(entry.critical),
                    LATENCY,
                    origin,
                )?,
                timeout,
            })
        })
        .collect()
}

/// The URL without user name and password, each query value replaced by `REDACTED` (a token in the query string
/// is a secret as much as a password).
pub(crate) fn shown(url: &url::Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    if url.query().is_some() {
        let keys: Vec<String> = url.query_pairs().map(|(key, _)| key.into_owned()).collect();
        shown
            .query_pairs_mut()
            .clear()
            .extend_pairs(keys.iter().map(|key| (key.as_str(), "REDACTED")));
    }
    shown.set_fragment(None);
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shown_url_has_no_credentials_and_no_query_values() {
        let url = url::Url::parse("https://user:pw@api.example.com:8443/health?token=abc&verbose=1#x").expect("url");
        assert_eq!(
            shown(&url),
            "https://api.example.com:8443/health?token=REDACTED&verbose=REDACTED"
        );
        let plain = url::Url::parse("http://127.0.0.1:8080/health").expect("url");
        assert_eq!(shown(&plain), "http://127.0.0.1:8080/health");
    }
}
