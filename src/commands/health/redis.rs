//! The `redis` check (runbook 6.3.2 and 9.1.1's `redis-cli ping`): one connection, one PING and one INFO, judged
//! as four results named by their target: `ping` (latency), `memory` (`used_memory` against `maxmemory`),
//! `evicted` (keys evicted since the last run, from the state file) and `clients` (`connected_clients` against
//! `maxclients`).
//!
//! The connection is opened here (TCP, or rustls with ring for `rediss://`, verified as `crate::http` says) and handed to
//! the `redis` crate, which speaks RESP and authenticates. The password comes from `REDISCLI_AUTH`, the URL or
//! `[health.redis] password`, never from the command line, and never appears in a message: an authentication
//! failure names the failure, not the password.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use redis::aio::MultiplexedConnection;
use redis::{ErrorKind, RedisConnectionInfo, RedisError};

use super::check::{CheckResult, Level, Unit};
use super::probe::Probe;
use super::settings::redis::RedisSettings;
use super::state::Delta;
use crate::units::format_bytes;

const CHECK: &str = "redis";

fn result(target: &str, status: Level, message: impl Into<String>) -> CheckResult {
    CheckResult::state(CHECK, Some(target.to_string()), status, message)
}

/// `redis`: PING latency, memory, evicted keys and clients (see the module docs).
pub(crate) async fn redis(probe: &Probe<'_>) -> anyhow::Result<Vec<CheckResult>> {
    let settings = probe
        .settings
        .redis
        .as_ref()
        .context("`[health.redis] url` is not configured")?;
    let mut connection = match connect(settings).await {
        Ok(connection) => connection,
        Err(failure) => return Ok(vec![result("ping", Level::Critical, failure)]),
    };
    let started = Instant::now();
    let pong = redis::cmd("PING").query_async::<String>(&mut connection).await;
    let latency = started.elapsed().as_secs_f64();
    if let Err(err) = pong {
        return Ok(vec![result(
            "ping",
            Level::Critical,
            command_failure(settings, "PING", &err),
        )]);
    }
    let mut results = vec![CheckResult::measured(
        CHECK,
        Some("ping".to_string()),
        latency,
        Unit::Seconds,
        settings.latency,
        format!("PONG from {}", settings.shown),
    )];
    let info = match redis::cmd("INFO").query_async::<String>(&mut connection).await {
        Ok(info) => Info(info),
        Err(err) => {
            results.push(result("info", Level::Unknown, command_failure(settings, "INFO", &err)));
            return Ok(results);
        }
    };
    results.push(memory(settings, &info));
    results.push(evicted(probe, settings, &info));
    results.push(clients(settings, &info));
    Ok(results)
}

/// The `key:value` lines of INFO.
struct Info(String);

impl Info {
    fn number(&self, key: &str) -> Option<f64> {
        self.0.lines().find_map(|line| {
            let (name, value) = line.trim_end().split_once(':')?;
            (name == key).then(|| value.parse().ok()).flatten()
        })
    }
}

fn missing(target: &str, key: &str) -> CheckResult {
    result(target, Level::Unknown, format!("INFO has no `{key}`"))
}

/// `used_memory` as a share of `maxmemory`; without `maxmemory`, OK with the bytes used.
fn memory(settings: &RedisSettings, info: &Info) -> CheckResult {
    let Some(used) = info.number("used_memory") else {
        return missing("memory", "used_memory");
    };
    match info.number("maxmemory").filter(|max| *max > 0.0) {
        Some(max) => CheckResult::measured(
            CHECK,
            Some("memory".to_string()),
            used * 100.0 / max,
            Unit::Percent,
            settings.memory,
            format!(
                "{} used of maxmemory {}",
                format_bytes(used as i64),
                format_bytes(max as i64)
            ),
        ),
        None => result(
            "memory",
            Level::Ok,
            format!(
                "{} used; no maxmemory is set, so there is no limit to judge against",
                format_bytes(used as i64)
            ),
        )
        .with_value(used, Unit::Bytes),
    }
}

/// Keys evicted since the last run (the server's `evicted_keys` counter, sampled in the state file).
fn evicted(probe: &Probe<'_>, settings: &RedisSettings, info: &Info) -> CheckResult {
    let Some(total) = info.number("evicted_keys") else {
        return missing("evicted", "evicted_keys");
    };
    let key = format!("redis:evicted_keys:{}/{}", settings.shown, settings.db);
    match probe.state.sample(&key, total) {
        Delta::First => result(
            "evicted",
            Level::Ok,
            format!(
                "first run: {total:.0} keys evicted since the server started; counted between runs from the next run on"
            ),
        ),
        Delta::Reset => result(
            "evicted",
            Level::Ok,
            "the server restarted or its statistics were reset since the last run; counted again from the next run",
        ),
        Delta::Since { increase, seconds } => CheckResult::measured(
            CHECK,
            Some("evicted".to_string()),
            increase,
            Unit::Count,
            settings.evicted,
            format!(
                "{increase:.0} keys evicted in the {} since the last run",
                Unit::Seconds.show(seconds)
            ),
        ),
    }
}

/// `connected_clients` as a share of `maxclients` (INFO has it since Redis 7); without it, OK with the count.
fn clients(settings: &RedisSettings, info: &Info) -> CheckResult {
    let Some(connected) = info.number("connected_clients") else {
        return missing("clients", "connected_clients");
    };
    match info.number("maxclients").filter(|max| *max > 0.0) {
        Some(max) => CheckResult::measured(
            CHECK,
            Some("clients".to_string()),
            connected * 100.0 / max,
            Unit::Percent,
            settings.clients,
            format!("{connected:.0} of maxclients {max:.0} connected"),
        ),
        None => result(
            "clients",
            Level::Ok,
            format!("{connected:.0} connected; this server's INFO has no maxclients to judge against"),
        )
        .with_value(connected, Unit::Count),
    }
}

/// Opens the connection and authenticates; the error is the CRITICAL message.
async fn connect(settings: &RedisSettings) -> Result<MultiplexedConnection, String> {
    let tcp = tokio::net::TcpStream::connect((settings.host.as_str(), settings.port))
        .await
        .map_err(|err| format!("cannot connect to {}: {err}", settings.shown))?;
    let _ = tcp.set_nodelay(true);
    let info = RedisConnectionInfo {
        db: settings.db,
        username: settings.username.clone(),
        password: settings.password.as_ref().map(|secret| secret.expose().to_string()),
        ..RedisConnectionInfo::default()
    };
    let opened = if settings.tls {
        let config = crate::http::client_config(settings.ca_file.as_deref())
            .map_err(|err| format!("cannot set up TLS for {}: {err:#}", settings.shown))?;
        let name = rustls::pki_types::ServerName::try_from(settings.host.clone())
            .map_err(|err| format!("`{}` is not a TLS server name: {err}", settings.host))?;
        let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|err| format!("TLS handshake with {} failed: {err}", settings.shown))?;
        MultiplexedConnection::new(&info, stream)
            .await
            .map(|(connection, driver)| {
                tokio::spawn(driver);
                connection
            })
    } else {
        MultiplexedConnection::new(&info, tcp)
            .await
            .map(|(connection, driver)| {
                tokio::spawn(driver);
                connection
            })
    };
    opened.map_err(|err| command_failure(settings, "the connection setup", &err))
}

/// A failed command, with authentication failures named as such (and the password never shown).
fn command_failure(settings: &RedisSettings, what: &str, err: &RedisError) -> String {
    if err.kind() == ErrorKind::AuthenticationFailed || err.code() == Some("WRONGPASS") {
        return format!(
            "authentication failed at {}: the server refused the user name and password",
            settings.shown
        );
    }
    if err.code() == Some("NOAUTH") {
        let given = if settings.password.is_some() {
            "the password given was not used"
        } else {
            "no password was given (the URL, REDISCLI_AUTH or `[health.redis] password`)"
        };
        return format!("authentication required by {}: {given}", settings.shown);
    }
    format!("{what} failed at {}: {err}", settings.shown)
}
