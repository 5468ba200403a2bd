//! `[notify]` and `CAMPCTL_NOTIFY_WEBHOOK_URL` → [`NotifySettings`], resolved before the command runs, so that a
//! bad value stops the run at once (exit 2) instead of being found when the run is over and the notification due.
//! The URL is a secret: no message here repeats it.

use crate::config_file::LoadedConfig;
use crate::env_vars::EnvVars;
use crate::exit::UserError;
use crate::notify::{DEFAULT_TIMEOUT, Event, NotifySettings, Webhook};
use crate::units::HumanDuration;

/// Where `[notify]` was written, for messages.
fn origin(config: &LoadedConfig) -> String {
    match (&config.path, &config.profile) {
        (Some(path), Some(profile)) => format!("`[notify]` of `{}` (profile `{profile}`)", path.display()),
        (Some(path), None) => format!("`[notify]` of `{}`", path.display()),
        (None, _) => "`[notify]`".to_string(),
    }
}

/// The notification settings, or `None` when no webhook URL is configured (then nothing is sent and nothing waits).
/// `CAMPCTL_NOTIFY_WEBHOOK_URL` (non-empty) wins over `[notify] webhook_url`.
///
/// # Errors
/// A usage error (exit 2): a URL that is not `http(s)://`, an empty `on`, a zero `timeout`.
pub fn resolve(config: &LoadedConfig) -> Result<Option<NotifySettings>, UserError> {
    let file = &config.sections.notify;
    let from_env = std::env::var(EnvVars::CAMPCTL_NOTIFY_WEBHOOK_URL)
        .ok()
        .filter(|value| !value.trim().is_empty());
    let (text, source) = match (from_env, &file.webhook_url) {
        (Some(url), _) => (url, format!("`{}`", EnvVars::CAMPCTL_NOTIFY_WEBHOOK_URL)),
        (None, Some(url)) if !url.trim().is_empty() => (url.clone(), format!("`webhook_url` of {}", origin(config))),
        (None, _) => return Ok(None),
    };
    let webhook = Webhook::parse(&text).map_err(|why| {
        UserError::usage(format!("{source} is not a webhook URL: {why}")).with_hint(
            "Give the URL Slack or Teams shows for the webhook, e.g. `https://hooks.slack.com/services/…` (docs/notify.md)",
        )
    })?;
    let on = file.on.clone().unwrap_or_else(|| vec![Event::Failure]);
    if on.is_empty() {
        return Err(
            UserError::usage(format!("`on` of {} is empty: nothing would be sent", origin(config)))
                .with_hint("Write `on = [\"failure\"]` (also `\"warning\"`, `\"success\"`), or remove `webhook_url`"),
        );
    }
    let timeout = match file.timeout {
        Some(HumanDuration(value)) if value.is_zero() => {
            return Err(
                UserError::usage(format!("`timeout` of {} must be above 0", origin(config)))
                    .with_hint("Give a duration such as `10s`"),
            );
        }
        Some(HumanDuration(value)) => value,
        None => DEFAULT_TIMEOUT,
    };
    Ok(Some(NotifySettings {
        webhook,
        format: file.format.unwrap_or_default(),
        on,
        timeout,
    }))
}
