//! Notifications of unattended runs: one POST to a webhook when a command ends (`[notify]`, docs/notify.md).
//!
//! A service on floor 2, as `pg` and `storage`: it owns its input type ([`NotifySettings`], resolved from
//! `[notify]` and `CAMPCTL_NOTIFY_WEBHOOK_URL` by `settings::notify`) and never reads `config_file`. `main` builds
//! an [`Outcome`] from the command line, the settings and the run's result once the command and the interrupt
//! clean-up are done, and calls [`deliver`]; `campctl notify test` calls [`send`] with a sample.
//!
//! Three payloads from one [`Outcome`] ([`payload`]): a Slack incoming-webhook message (`text` + Block Kit
//! `blocks`), a Teams Workflows message (an Adaptive Card attachment) and campctl's own JSON result document.
//!
//! What this must never do: change the command's exit code (a failed notification is a warning on stderr, see
//! [`deliver`]); show the webhook URL anywhere (it is a secret: Slack's carries its token in the path, a Workflows
//! URL its signature in the query; [`Webhook`]'s `Debug` and every error leave it out, and redirects are not
//! followed); wait longer than the configured timeout for a webhook that does not answer (a timeout is not
//! retried; one retry follows only a refused connection or a 5xx / 429 answer).

use std::fmt::{self, Write as _};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::exit::ExitStatus;

/// The default of `[notify] timeout`: how long one attempt may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The pause before the one retry.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// The longest error text a message carries (Slack refuses a section over 3000 characters).
const MAX_ERROR_CHARS: usize = 1500;

/// `[notify] format`: the shape of the POST body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// A Slack incoming webhook: `text` and Block Kit `blocks`.
    #[default]
    Slack,
    /// A Microsoft Teams Workflows (Power Automate) webhook: a message with an Adaptive Card attachment.
    Teams,
    /// campctl's own result document.
    Json,
}

impl Format {
    /// The name as written in `campctl.toml`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::Teams => "teams",
            Self::Json => "json",
        }
    }
}

/// `[notify] on`: which outcomes are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    /// Any exit but 0 and the warnings below (an error, a negative answer, health's CRITICAL/UNKNOWN, Ctrl-C).
    Failure,
    /// Exit 3 with a partial result, or health's WARNING.
    Warning,
    /// Exit 0.
    Success,
}

impl Event {
    /// The outcome of a run that returned `status` (not an error).
    #[must_use]
    pub fn of(status: ExitStatus) -> Self {
        match status {
            ExitStatus::Success => Self::Success,
            ExitStatus::Partial | ExitStatus::Warning => Self::Warning,
            ExitStatus::Failure
            | ExitStatus::Usage
            | ExitStatus::NotFound
            | ExitStatus::LockHeld
            | ExitStatus::Auth
            | ExitStatus::Interrupted
            | ExitStatus::Critical
            | ExitStatus::Unknown => Self::Failure,
        }
    }

    /// `failure`, `warning`, `success`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Failure => "failure",
            Self::Warning => "warning",
            Self::Success => "success",
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Self::Failure => "failed",
            Self::Warning => "ended with a warning",
            Self::Success => "succeeded",
        }
    }
}

/// The webhook URL: a secret. `Debug` and [`Webhook::shown`] leave out everything but the scheme and the host.
#[derive(Clone)]
pub struct Webhook(url::Url);

impl Webhook {
    /// # Errors
    /// `text` is not an `http://` or `https://` URL (the message never repeats the URL).
    pub fn parse(text: &str) -> Result<Self, String> {
        let url = url::Url::parse(text.trim()).map_err(|err| format!("it is not a URL ({err})"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(format!(
                "it has the scheme `{}`; a webhook URL starts with `https://` (or `http://`)",
                url.scheme()
            ));
        }
        Ok(Self(url))
    }

    /// `https://hooks.slack.com/…`: where it points, without the path and query that make it a secret.
    #[must_use]
    pub fn shown(&self) -> String {
        let host = self.0.host_str().unwrap_or_default();
        match self.0.port() {
            Some(port) => format!("{}://{host}:{port}/…", self.0.scheme()),
            None => format!("{}://{host}/…", self.0.scheme()),
        }
    }
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Webhook({})", self.shown())
    }
}

/// `[notify]`, resolved.
#[derive(Debug, Clone)]
pub struct NotifySettings {
    pub webhook: Webhook,
    pub format: Format,
    pub on: Vec<Event>,
    /// How long one attempt may take (connect, send, answer).
    pub timeout: Duration,
}

/// How a command ended: what a notification says.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The command as typed: `backup`, `backup files`, `test-restore`.
    pub command: String,
    /// This machine's host name.
    pub host: String,
    /// The database the command worked on (the configured one unless the command line named another).
    pub database: Option<String>,
    /// The PostgreSQL server (`host:port`).
    pub server: Option<String>,
    pub exit_code: u8,
    pub status: Event,
    /// The first line of the error, or of the warning, if any.
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

impl Outcome {
    fn duration_seconds(&self) -> f64 {
        let millis = (self.finished_at - self.started_at).num_milliseconds().max(0);
        #[expect(clippy::cast_precision_loss, reason = "a run's milliseconds fit in f64's 52 bits")]
        let seconds = millis as f64 / 1000.0;
        seconds
    }

    fn error_text(&self) -> Option<String> {
        self.error.as_deref().map(|error| {
            let line = error.lines().next().unwrap_or_default();
            if line.chars().count() > MAX_ERROR_CHARS {
                let mut cut: String = line.chars().take(MAX_ERROR_CHARS).collect();
                cut.push('…');
                cut
            } else {
                line.to_string()
            }
        })
    }

    fn title(&self) -> String {
        format!("campctl {} {} on {}", self.command, self.status.verb(), self.host)
    }

    /// One line: `campctl backup failed on host (database app), exit 10: database "app" does not exist`.
    fn summary(&self) -> String {
        let mut text = self.title();
        if let Some(database) = &self.database {
            let _ = write!(text, " (database {database})");
        }
        let _ = write!(text, ", exit {}", self.exit_code);
        if let Some(error) = self.error_text() {
            let _ = write!(text, ": {error}");
        }
        text
    }

    /// The facts every format shows, in order.
    fn facts(&self) -> Vec<(&'static str, String)> {
        let mut facts = vec![("Command", self.command.clone()), ("Host", self.host.clone())];
        if let Some(database) = &self.database {
            facts.push(("Database", database.clone()));
        }
        if let Some(server) = &self.server {
            facts.push(("Server", server.clone()));
        }
        facts.push(("Exit code", self.exit_code.to_string()));
        facts.push(("Started", time(self.started_at)));
        facts.push(("Duration", format!("{:.1} s", self.duration_seconds())));
        facts
    }
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The POST body of `format` for `outcome`.
#[must_use]
pub fn payload(format: Format, outcome: &Outcome) -> Value {
    match format {
        Format::Slack => slack(outcome),
        Format::Teams => teams(outcome),
        Format::Json => json_document(outcome),
    }
}

/// A Slack incoming-webhook message: `text` (the notification's and the fallback's text) and Block Kit `blocks`:
/// a header, the facts as fields, the error as code.
fn slack(outcome: &Outcome) -> Value {
    let emoji = match outcome.status {
        Event::Failure => ":red_circle:",
        Event::Warning => ":warning:",
        Event::Success => ":white_check_mark:",
    };
    let fields: Vec<Value> = outcome
        .facts()
        .into_iter()
        .map(|(name, value)| json!({ "type": "mrkdwn", "text": format!("*{name}*\n{value}") }))
        .collect();
    let mut blocks = vec![
        json!({
            "type": "header",
            "text": { "type": "plain_text", "text": outcome.title().chars().take(150).collect::<String>() },
        }),
        // Slack takes at most 10 fields in a section.
        json!({ "type": "section", "fields": fields.into_iter().take(10).collect::<Vec<_>>() }),
    ];
    if let Some(error) = outcome.error_text() {
        blocks.push(json!({
            "type": "section",
            "text": { "type": "mrkdwn", "text": format!("```{}```", error.replace("```", "'''")) },
        }));
    }
    json!({ "text": format!("{emoji} {}", outcome.summary()), "blocks": blocks })
}

/// A Teams Workflows message: `type: message` with one Adaptive Card attachment (the shape of Microsoft's "Send
/// webhook alerts to a channel" workflow template): a title, the facts as a FactSet, the error.
fn teams(outcome: &Outcome) -> Value {
    let color = match outcome.status {
        Event::Failure => "Attention",
        Event::Warning => "Warning",
        Event::Success => "Good",
    };
    let facts: Vec<Value> = outcome
        .facts()
        .into_iter()
        .map(|(name, value)| json!({ "title": name, "value": value }))
        .collect();
    let mut body = vec![
        json!({
            "type": "TextBlock",
            "text": outcome.title(),
            "weight": "Bolder",
            "size": "Medium",
            "color": color,
            "wrap": true,
        }),
        json!({ "type": "FactSet", "facts": facts }),
    ];
    if let Some(error) = outcome.error_text() {
        body.push(json!({ "type": "TextBlock", "text": error, "fontType": "Monospace", "wrap": true }));
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "msteams": { "width": "Full" },
                "body": body,
            },
        }],
    })
}

/// campctl's own result document (docs/notify.md).
fn json_document(outcome: &Outcome) -> Value {
    json!({
        "source": "campctl",
        "version": env!("CARGO_PKG_VERSION"),
        "command": outcome.command,
        "host": outcome.host,
        "database": outcome.database,
        "server": outcome.server,
        "exit_code": outcome.exit_code,
        "status": outcome.status.name(),
        "error": outcome.error_text(),
        "started_at": time(outcome.started_at),
        "finished_at": time(outcome.finished_at),
        "duration_seconds": outcome.duration_seconds(),
        "summary": outcome.summary(),
    })
}

/// What the webhook answered.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    pub status: u16,
    /// `HTTP 200 OK`.
    pub status_text: String,
    /// The first line of the body (webhooks answer `ok`, `invalid_payload`, `no_text`, …).
    pub body: String,
    /// How many attempts were made (1 or 2).
    pub attempts: u8,
}

impl Answer {
    #[must_use]
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// POSTs `body` to the webhook: one attempt under `timeout`, and one retry after a refused connection or a 5xx /
/// 429 answer (never after a timeout, so that a webhook that hangs costs one `timeout`).
///
/// # Errors
/// The webhook could not be reached or did not answer within the timeout; the text never holds the URL.
pub async fn send(settings: &NotifySettings, body: &Value) -> Result<Answer, String> {
    let mut builder = reqwest::Client::builder()
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("campctl/", env!("CARGO_PKG_VERSION"), " notify"));
    if settings.webhook.0.scheme() == "https" {
        let config = crate::http::client_config(None).map_err(|err| format!("cannot set up TLS: {err:#}"))?;
        builder = builder.tls_backend_preconfigured(config);
    }
    let client = builder.build().map_err(|err| {
        format!(
            "cannot set up the HTTP client: {}",
            crate::http::error_chain(&err.without_url())
        )
    })?;
    let bytes = serde_json::to_vec(body).map_err(|err| err.to_string())?;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let result = client
            .post(settings.webhook.0.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(bytes.clone())
            .send()
            .await;
        let retry = attempts < 2;
        match result {
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                let answer = Answer {
                    status: status.as_u16(),
                    status_text: match status.canonical_reason() {
                        Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
                        None => format!("HTTP {}", status.as_u16()),
                    },
                    body: text.lines().next().unwrap_or_default().chars().take(300).collect(),
                    attempts,
                };
                if retry && (status.is_server_error() || status.as_u16() == 429) {
                    tracing::debug!("the webhook answered {}; retrying once", answer.status_text);
                    tokio::time::sleep(RETRY_PAUSE).await;
                    continue;
                }
                return Ok(answer);
            }
            Err(err) if err.is_timeout() => {
                return Err(format!(
                    "no answer within {} (not retried)",
                    crate::units::HumanDuration(settings.timeout)
                ));
            }
            Err(err) if retry => {
                tracing::debug!(
                    "cannot reach the webhook: {}; retrying once",
                    crate::http::error_chain(&err.without_url())
                );
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            Err(err) => {
                return Err(format!(
                    "cannot reach the webhook: {}",
                    crate::http::error_chain(&err.without_url())
                ));
            }
        }
    }
}

/// Sends `outcome` when `settings.on` names its status. A notification that fails is a warning on stderr (through
/// tracing: a JSON line with `--log-format json`); it never changes the command's exit code, which is why nothing
/// is returned.
pub async fn deliver(settings: &NotifySettings, outcome: &Outcome) {
    if !settings.on.contains(&outcome.status) {
        tracing::debug!("no notification: `{}` is not in `[notify] on`", outcome.status.name());
        return;
    }
    let body = payload(settings.format, outcome);
    match send(settings, &body).await {
        Ok(answer) if answer.is_success() => {
            tracing::debug!(
                "notification sent to {}: {}",
                settings.webhook.shown(),
                answer.status_text
            );
        }
        Ok(answer) => tracing::warn!(
            "the notification webhook ({}) refused the {} notification: {}{} (the command's exit code is unchanged)",
            settings.webhook.shown(),
            settings.format.name(),
            answer.status_text,
            if answer.body.is_empty() {
                String::new()
            } else {
                format!(": {}", answer.body)
            }
        ),
        Err(err) => tracing::warn!(
            "the notification was not sent to {}: {err} (the command's exit code is unchanged)",
            settings.webhook.shown()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(status: Event) -> Outcome {
        let started_at = DateTime::parse_from_rfc3339("2026-01-02T03:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        Outcome {
            command: "backup".into(),
            host: "db-host".into(),
            database: Some("app".into()),
            server: Some("pg.example.com:5432".into()),
            exit_code: 10,
            status,
            error: Some("database \"app\" does not exist\nsecond line".into()),
            started_at,
            finished_at: started_at + chrono::Duration::milliseconds(2500),
        }
    }

    #[test]
    fn the_summary_names_command_host_database_exit_code_and_the_first_line_of_the_error() {
        assert_eq!(
            outcome(Event::Failure).summary(),
            "campctl backup failed on db-host (database app), exit 10: database \"app\" does not exist"
        );
    }

    #[test]
    fn each_format_has_its_documented_shape() {
        let outcome = outcome(Event::Failure);
        let slack = payload(Format::Slack, &outcome);
        assert!(slack["text"].as_str().is_some_and(|text| text.contains("exit 10")));
        assert_eq!(slack["blocks"][0]["type"], "header");
        assert_eq!(slack["blocks"][1]["fields"][0]["text"], "*Command*\nbackup");
        let teams = payload(Format::Teams, &outcome);
        assert_eq!(teams["type"], "message");
        let card = &teams["attachments"][0];
        assert_eq!(card["contentType"], "application/vnd.microsoft.card.adaptive");
        assert_eq!(card["content"]["type"], "AdaptiveCard");
        assert_eq!(card["content"]["body"][1]["facts"][2]["value"], "app");
        let document = payload(Format::Json, &outcome);
        assert_eq!(document["exit_code"], 10);
        assert_eq!(document["status"], "failure");
        assert_eq!(document["error"], "database \"app\" does not exist");
        assert_eq!(document["duration_seconds"], 2.5);
        assert_eq!(document["started_at"], "2026-01-02T03:00:00Z");
    }

    #[test]
    fn the_webhook_shows_only_scheme_and_host() {
        let webhook = Webhook::parse("https://hooks.slack.com/services/T0/B0/SECRET?x=1").expect("url");
        assert_eq!(webhook.shown(), "https://hooks.slack.com/…");
        assert!(!format!("{webhook:?}").contains("SECRET"));
        assert!(Webhook::parse("ftp://x/y").is_err());
        assert!(Webhook::parse("hooks.slack.com/x").is_err());
    }

    #[test]
    fn exit_statuses_map_to_events() {
        assert_eq!(Event::of(ExitStatus::Success), Event::Success);
        assert_eq!(Event::of(ExitStatus::Partial), Event::Warning);
        assert_eq!(Event::of(ExitStatus::Warning), Event::Warning);
        assert_eq!(Event::of(ExitStatus::Critical), Event::Failure);
        assert_eq!(Event::of(ExitStatus::Interrupted), Event::Failure);
    }
}
