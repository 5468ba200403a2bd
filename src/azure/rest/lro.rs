//! ARM long-running operations: a PUT/PATCH/DELETE/POST answered 201/202 (or 200) with `Azure-AsyncOperation`
//! (polled until its `status` is `Succeeded`, `Failed` or `Canceled`) or `Location` (polled until it stops
//! answering 202). Between polls campctl waits what `Retry-After` asks (bounded by `max_retry_wait`), else
//! `poll_interval`; each poll reports the elapsed time and Azure's status to a callback, so commands can show
//! progress. [`Pending::url`] is the URL to follow an operation without waiting (`--no-wait`).

use std::time::{Duration, Instant};

use azure_core::http::{Method, Url};
use serde::Deserialize;

use super::error::{ArmError, Operation, operation_error, parse_retry_after};
use super::{RestClient, RestResponse};
use crate::printer::Printer;

/// How an operation is polled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollKind {
    /// `Azure-AsyncOperation`: a status resource.
    AsyncOperation,
    /// `Location`: 202 until done, then the result.
    Location,
}

/// A started operation that is not finished yet.
#[derive(Debug, Clone)]
pub struct Pending {
    pub url: Url,
    pub kind: PollKind,
    /// The wait Azure asked for before the first poll.
    pub retry_after: Option<Duration>,
}

/// What one poll of an `Azure-AsyncOperation` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LroStatus {
    /// Still running, with Azure's status text (`InProgress`, `Accepted`, `Updating`, …).
    Running(String),
    Succeeded,
    Failed(Option<ArmError>),
    Canceled(Option<ArmError>),
}

#[derive(Deserialize)]
struct StatusBody {
    #[serde(default)]
    status: String,
    #[serde(default)]
    error: Option<ArmError>,
}

/// The state of an `Azure-AsyncOperation` status body (`{"status": …, "error": {…}}`); a body without a status is
/// still running.
pub fn parse_status(body: &[u8]) -> LroStatus {
    let Ok(parsed) = serde_json::from_slice::<StatusBody>(body) else {
        return LroStatus::Running("unknown".to_string());
    };
    match parsed.status.to_ascii_lowercase().as_str() {
        "succeeded" => LroStatus::Succeeded,
        "failed" => LroStatus::Failed(parsed.error),
        "canceled" | "cancelled" => LroStatus::Canceled(parsed.error),
        "" => LroStatus::Running("unknown".to_string()),
        _ => LroStatus::Running(parsed.status),
    }
}

/// One progress report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub elapsed: Duration,
    /// Azure's status text.
    pub status: String,
}

/// The operation a response started, if it is one: `Azure-AsyncOperation` first, else `Location` on a 201/202.
pub fn pending(response: &RestResponse) -> Option<Pending> {
    let retry_after = response
        .header("retry-after")
        .and_then(|value| parse_retry_after(value, chrono::Utc::now()));
    if let Some(url) = response
        .header("azure-asyncoperation")
        .and_then(|url| Url::parse(url).ok())
    {
        return Some(Pending {
            url,
            kind: PollKind::AsyncOperation,
            retry_after,
        });
    }
    if matches!(response.status, 201 | 202)
        && let Some(url) = response.header("location").and_then(|url| Url::parse(url).ok())
    {
        return Some(Pending {
            url,
            kind: PollKind::Location,
            retry_after,
        });
    }
    None
}

/// A progress callback for [`RestClient::wait`] that writes a note on stderr (`WHAT: Azure says InProgress after
/// 12s`) whenever Azure's status changes, and every 30 seconds while it does not.
pub fn note_progress<'a>(printer: &'a Printer, what: &'a str) -> impl FnMut(&Progress) + Send + 'a {
    let mut last: Option<(String, Duration)> = None;
    move |progress: &Progress| {
        let due = last.as_ref().is_none_or(|(status, at)| {
            *status != progress.status || progress.elapsed.saturating_sub(*at) >= Duration::from_secs(30)
        });
        if due {
            printer.note(&format!(
                "{what}: Azure says {} after {}s",
                progress.status,
                progress.elapsed.as_secs()
            ));
            last = Some((progress.status.clone(), progress.elapsed));
        }
    }
}

impl RestClient {
    /// Polls `pending` until it ends. On success, returns the body of `final_get` when given (ARM's convention
    /// for PUT/PATCH: the resource itself), else the last poll's body.
    ///
    /// # Errors
    /// `Failed`/`Canceled` with Azure's error verbatim (exit 1), a failed poll (see [`RestClient::send`]), or an
    /// operation URL on another host than the client's endpoint.
    pub async fn wait(
        &self,
        pending: Pending,
        final_get: Option<Url>,
        operation: &Operation,
        on_progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> anyhow::Result<serde_json::Value> {
        if !self.same_origin(&pending.url) {
            anyhow::bail!(
                "Azure returned an operation URL on another host ({}) to {}; campctl does not send its token there",
                pending.url,
                operation.action
            );
        }
        let started = Instant::now();
        let mut delay = pending.retry_after;
        loop {
            tokio::time::sleep(self.poll_delay(delay)).await;
            let response = self.send(Method::Get, pending.url.clone(), None, operation).await?;
            delay = response
                .header("retry-after")
                .and_then(|value| parse_retry_after(value, chrono::Utc::now()));
            let status = match pending.kind {
                PollKind::AsyncOperation => parse_status(response.body()),
                PollKind::Location if response.status == 202 => LroStatus::Running("Accepted".to_string()),
                PollKind::Location => LroStatus::Succeeded,
            };
            match status {
                LroStatus::Running(text) => on_progress(&Progress {
                    elapsed: started.elapsed(),
                    status: text,
                }),
                LroStatus::Succeeded => {
                    on_progress(&Progress {
                        elapsed: started.elapsed(),
                        status: "Succeeded".to_string(),
                    });
                    if let Some(url) = final_get {
                        return self.get(url, operation).await;
                    }
                    return Ok(serde_json::from_slice(response.body()).unwrap_or(serde_json::Value::Null));
                }
                LroStatus::Failed(error) => return Err(operation_error("Failed", error.as_ref(), operation).into()),
                LroStatus::Canceled(error) => {
                    return Err(operation_error("Canceled", error.as_ref(), operation).into());
                }
            }
        }
    }

    /// Sends a request that may start a long-running operation and follows it to its end (see [`Self::wait`]);
    /// a response without an operation is the result itself.
    ///
    /// # Errors
    /// See [`Self::send`] and [`Self::wait`].
    pub async fn send_and_wait(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        operation: &Operation,
        on_progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> anyhow::Result<serde_json::Value> {
        let response = self.send(method, url.clone(), body, operation).await?;
        match pending(&response) {
            Some(pending) => {
                let final_get = matches!(method, Method::Put | Method::Patch).then_some(url);
                self.wait(pending, final_get, operation, on_progress).await
            }
            None => Ok(serde_json::from_slice(response.body()).unwrap_or(serde_json::Value::Null)),
        }
    }

    /// The wait before the next poll: what Azure asked (at least 100ms, at most `max_retry_wait`), else
    /// `poll_interval`.
    fn poll_delay(&self, asked: Option<Duration>) -> Duration {
        let options = self.options();
        asked
            .map_or(options.poll_interval, |asked| asked.max(Duration::from_millis(100)))
            .min(options.max_retry_wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_bodies_drive_the_state_machine() {
        assert_eq!(
            parse_status(br#"{"name":"x","status":"InProgress","startTime":"2024-01-01T00:00:00Z"}"#),
            LroStatus::Running("InProgress".into())
        );
        assert_eq!(parse_status(br#"{"status":"Succeeded"}"#), LroStatus::Succeeded);
        assert_eq!(parse_status(br#"{"status":"succeeded"}"#), LroStatus::Succeeded);
        assert_eq!(
            parse_status(br#"{"status":"Failed","error":{"code":"Boom","message":"It broke."}}"#),
            LroStatus::Failed(Some(ArmError {
                code: "Boom".into(),
                message: "It broke.".into(),
                details: Vec::new()
            }))
        );
        assert_eq!(parse_status(br#"{"status":"Canceled"}"#), LroStatus::Canceled(None));
        assert_eq!(parse_status(b"not json"), LroStatus::Running("unknown".into()));
        assert_eq!(parse_status(b"{}"), LroStatus::Running("unknown".into()));
    }
}
