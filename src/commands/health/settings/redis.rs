//! `[health.redis]` resolved: the URL without its password, the password (from `REDISCLI_AUTH`, the URL or the
//! file), the CA file and the thresholds of each measure.

use std::path::PathBuf;

use super::super::check::Thresholds;
use super::super::limits::{duration_seconds, thresholds};
use crate::config_file::HealthConfig;
use crate::env_vars::EnvVars;
use crate::exit::UserError;
use crate::pg::Secret;

const DEFAULT_PORT: u16 = 6379;

/// campctl's defaults; the runbook has no Redis thresholds beyond 5.1's percentages.
mod defaults {
    use super::Thresholds;

    /// A PING on a healthy server answers in well under a millisecond on the same network: 100 ms means a blocked
    /// event loop (a slow command, a fork for a save) or a saturated link.
    pub(super) const LATENCY: Thresholds = Thresholds::above(0.1, 0.5);
    /// Runbook 5.1.1's memory percentages.
    pub(super) const MEMORY: Thresholds = Thresholds::above(80.0, 95.0);
    /// Any eviction drops a key the application wrote; a thousand between two runs is Redis out of memory.
    pub(super) const EVICTED: Thresholds = Thresholds::above(1.0, 1000.0);
    /// Runbook 5.1.2's connection percentages.
    pub(super) const CLIENTS: Thresholds = Thresholds::above(80.0, 95.0);
}

/// `[health.redis]`, resolved.
#[derive(Debug, Clone)]
pub(crate) struct RedisSettings {
    /// The URL without its password: what messages and the state file's key show.
    pub shown: String,
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub db: i64,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub ca_file: Option<PathBuf>,
    pub latency: Thresholds,
    pub memory: Thresholds,
    pub evicted: Thresholds,
    pub clients: Thresholds,
}

impl RedisSettings {
    /// `[health.redis]`; `None` without a `url`.
    ///
    /// # Errors
    /// A usage error (exit 2) naming the table: a URL that is not `redis://` or `rediss://`, a `ca_file` that
    /// cannot be read, thresholds out of order.
    pub(crate) fn resolve(file: &HealthConfig, where_: &dyn Fn(&str) -> String) -> anyhow::Result<Option<Self>> {
        let Some(table) = &file.redis else {
            return Ok(None);
        };
        let Some(text) = &table.url else {
            return Ok(None);
        };
        let origin = || where_(".redis");
        // The message never repeats the URL: it may hold the password.
        let url = url::Url::parse(text).map_err(|err| {
            UserError::usage(format!("`url` of {} is not a URL: {err}", origin()))
                .with_hint("Write `redis://host:6379` or `rediss://host:6380` (TLS)")
        })?;
        let tls = match url.scheme() {
            "redis" => false,
            "rediss" => true,
            other => {
                return Err(UserError::usage(format!(
                    "`url` of {} has the scheme `{other}`; the `redis` check takes `redis://` or `rediss://`",
                    origin()
                ))
                .with_hint("Unix sockets are not supported: give the host and port")
                .into());
            }
        };
        let host = url
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| UserError::usage(format!("`url` of {} has no host", origin())))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let db = match url.path().trim_start_matches('/') {
            "" => 0,
            number => number.parse().map_err(|_| {
                UserError::usage(format!(
                    "`url` of {} names the database `{number}`; Redis databases are numbers",
                    origin()
                ))
            })?,
        };
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8_lossy()
                .into_owned()
        };
        let username = Some(decode(url.username())).filter(|user| !user.is_empty());
        let password = std::env::var(EnvVars::REDISCLI_AUTH)
            .ok()
            .filter(|value| !value.is_empty())
            .or_else(|| url.password().map(decode).filter(|value| !value.is_empty()))
            .or_else(|| table.password.clone().filter(|value| !value.is_empty()))
            .map(Secret::new);
        if let Some(path) = &table.ca_file
            && let Err(err) = fs_err::File::open(path)
        {
            return Err(UserError::usage(format!("`ca_file` of {}: {err}", origin()))
                .with_hint("Give the PEM file of the CA that signed the Redis server's certificate")
                .into());
        }
        let mut shown = url.clone();
        let _ = shown.set_password(None);
        let _ = shown.set_username("");
        let pick = |warning: Option<f64>, critical: Option<f64>, default: Thresholds| {
            thresholds(warning, critical, default, origin)
        };
        Ok(Some(Self {
            shown: shown.to_string().trim_end_matches('/').to_string(),
            port: url.port().unwrap_or(DEFAULT_PORT),
            host,
            tls,
            db,
            username,
            password,
            ca_file: table.ca_file.clone(),
            latency: pick(
                duration_seconds(table.latency_warning),
                duration_seconds(table.latency_critical),
                defaults::LATENCY,
            )?,
            memory: pick(table.memory_warning, table.memory_critical, defaults::MEMORY)?,
            evicted: pick(table.evicted_warning, table.evicted_critical, defaults::EVICTED)?,
            clients: pick(table.clients_warning, table.clients_critical, defaults::CLIENTS)?,
        }))
    }
}
