//! `campctl notify test`: sends a sample notification of the configured format to the webhook of `[notify]` and
//! reports what the webhook answered (docs/notify.md). Exit 0 on a 2xx answer; 1 on any other answer, a refused
//! connection or a timeout (naming the status and the first line of the body); 2 when no webhook is configured.
//! The webhook URL is a secret: the report shows only its scheme and host.

use clap::{Args, Subcommand};
use serde::Serialize;

use crate::commands::Ctx;
use crate::exit::{ExitStatus, UserError};
use crate::notify::{self, Event, Outcome};
use crate::printer::{Printer, Report, Table};

/// Send a sample notification to the webhook of `[notify]`
#[derive(Debug, Args)]
pub struct NotifyArgs {
    #[command(subcommand)]
    pub command: NotifyCommand,
}

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Send a sample failure notification in the configured format and show what the webhook answered
    ///
    /// The sample names this command, this host and the configured database, with exit code 1 and a sample error
    /// line. Exit 0 when the webhook answers 2xx, 1 otherwise (naming the status and the first line of the body),
    /// 2 when no webhook is configured (`[notify] webhook_url` or `CAMPCTL_NOTIFY_WEBHOOK_URL`).
    Test,
}

/// `notify test`'s report.
#[derive(Debug, Serialize)]
struct NotifyTestReport {
    /// Scheme and host of the webhook (the rest of the URL is a secret).
    webhook: String,
    format: &'static str,
    status: u16,
    answer: String,
    body: String,
    attempts: u8,
}

impl Report for NotifyTestReport {
    fn tables(&self) -> Vec<Table> {
        let mut table = Table::new(
            "Notification test",
            &["webhook", "format", "answer", "body", "attempts"],
        );
        table.row(vec![
            self.webhook.clone().into(),
            self.format.into(),
            self.answer.clone().into(),
            self.body.clone().into(),
            i64::from(self.attempts).into(),
        ]);
        vec![table]
    }
}

/// Runs `campctl notify test`.
///
/// # Errors
/// No webhook configured or a bad `[notify]` (exit 2); the webhook did not answer 2xx or could not be reached
/// (exit 1); stdout could not be written.
pub(crate) async fn notify(args: NotifyArgs, ctx: &Ctx, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let NotifyCommand::Test = args.command;
    let Some(settings) = crate::settings::notify::resolve(&ctx.settings.config)? else {
        return Err(UserError::usage("no notification webhook is configured")
            .with_hint("Set `[notify] webhook_url` in campctl.toml or `CAMPCTL_NOTIFY_WEBHOOK_URL` (docs/notify.md)")
            .into());
    };
    let now = chrono::Utc::now();
    let db = &ctx.settings.db;
    let sample = Outcome {
        command: "notify test".into(),
        host: crate::os::hostname(),
        database: Some(db.dbname.clone()).filter(|name| !name.is_empty()),
        server: Some(format!("{}:{}", db.host, db.port)),
        exit_code: ExitStatus::Failure.code(),
        status: Event::Failure,
        error: Some("this is a test notification from `campctl notify test`: nothing failed".into()),
        started_at: now,
        finished_at: now,
    };
    let answer = notify::send(&settings, &notify::payload(settings.format, &sample))
        .await
        .map_err(|err| {
            UserError::new(
                ExitStatus::Failure,
                format!(
                    "the test notification was not sent to {}: {err}",
                    settings.webhook.shown()
                ),
            )
            .with_hint("Check the URL, the network path (proxy, firewall) and `[notify] timeout`")
        })?;
    if !answer.is_success() {
        let body = if answer.body.is_empty() {
            String::new()
        } else {
            format!(": {}", answer.body)
        };
        return Err(UserError::new(
            ExitStatus::Failure,
            format!(
                "the webhook at {} answered {}{body}",
                settings.webhook.shown(),
                answer.status_text
            ),
        )
        .with_hint(format!(
            "Check that `[notify] format = \"{}\"` matches the kind of webhook (docs/notify.md)",
            settings.format.name()
        ))
        .into());
    }
    printer.report(&NotifyTestReport {
        webhook: settings.webhook.shown(),
        format: settings.format.name(),
        status: answer.status,
        answer: answer.status_text,
        body: answer.body,
        attempts: answer.attempts,
    })?;
    Ok(ExitStatus::Success)
}
