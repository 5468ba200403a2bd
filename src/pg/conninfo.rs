//! One resolved description of the PostgreSQL connection, built from (lowest to highest precedence) the built-in
//! defaults, `[database]` in `campctl.toml` (the top level, then the profile's), the libpq variables, and
//! `--db-url` / `DATABASE_URL`. A service (`PGSERVICE`, `service=`) adds the values of its `pg_service.conf` group
//! just below the layer that names it (below the variables when `PGSERVICE` names it), as libpq does.
//!
//! A password belongs to the user, host and port of the layer it came from: when a higher layer changes any of them,
//! that password is not sent, and the password file is read for the connection actually made. `PGPASSWORD` is the
//! exception, as in libpq: it applies to whatever the final connection is, unless a higher layer gives a password.
//!
//! The same [`ConnParams`] drives campctl's own tokio-postgres connection and is rendered as the environment of
//! `pg_dump` / `pg_restore` / `psql` ([`ConnParams::child_env`]), so both paths reach the same server with the same
//! TLS mode. The password only ever travels in the environment, never in argv.
//!
//! This file holds the precedence (which layer wins, what the defaults are) and the meaning of each value. Reading
//! one layer's text is `parse.rs`, the password file is `pgpass.rs`, the never-printed password is [`Secret`]
//! (`secret.rs`), the child's environment is `child_env.rs`. It must never read `config_file`'s schema: `settings`
//! converts `[database]` into [`FileKeys`].

mod child_env;
mod layers;
mod parse;
mod pgpass;
mod secret;
mod service;
pub mod token;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;

#[cfg(test)]
use crate::env_vars::EnvVars;
use crate::exit::UserError;
#[cfg(test)]
use parse::parse_conninfo;
use pgpass::Passfile;
pub use secret::Secret;
pub use token::{AuthMethod, TokenPassword};

/// libpq's `sslmode`, minus `allow` (which no modern deployment wants).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl FromStr for SslMode {
    type Err = UserError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Ok(match value {
            "disable" => Self::Disable,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            other => {
                return Err(UserError::usage(format!("Unsupported sslmode `{other}`"))
                    .with_hint("Use one of disable, prefer, require, verify-ca, verify-full"));
            }
        })
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        })
    }
}

/// Where a resolved value came from, for `config show`.
pub type Origins = BTreeMap<&'static str, String>;

/// `connect_timeout` when it is `0` or negative: libpq then waits forever. A timer of this length never fires
/// (tokio treats a deadline past its clock's range as none), and it is rendered as `0` for the children.
pub const WAIT_FOREVER: Duration = Duration::MAX;

/// The resolved connection.
#[derive(Debug, Clone, Serialize)]
pub struct ConnParams {
    /// Host name, IP address, or a unix socket directory (starts with `/`).
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<Secret>,
    pub dbname: String,
    pub sslmode: SslMode,
    pub sslrootcert: Option<PathBuf>,
    pub passfile: Option<PathBuf>,
    /// [`WAIT_FOREVER`] for libpq's `0`.
    #[serde(serialize_with = "serialize_secs")]
    pub connect_timeout: Duration,
    pub application_name: String,
    /// Which layer each value came from.
    #[serde(skip)]
    pub origins: Origins,
    /// Problems found while resolving that do not stop the run (logged once logging is set up).
    #[serde(skip)]
    pub warnings: Vec<String>,
    /// The password file that was read for this connection (when no layer gave a password), for hints.
    #[serde(skip)]
    pub passfile_read: Option<PathBuf>,
    /// The label of a connection string taken on its own (`--target-url`), to which neither the `PG*` variables
    /// nor `[database]` apply; `None` for the main connection.
    #[serde(skip)]
    pub standalone: Option<&'static str>,
    /// `[database] auth`, as it applies to this connection (`entra` only where the layer that set it also gave the
    /// final user, host and port, like a password).
    pub auth: AuthMethod,
    /// With `auth = "entra"`: where each new session's token comes from (set by `settings`; see [`Self::fresh`]).
    #[serde(skip)]
    pub token: Option<TokenPassword>,
}

fn serialize_secs<S: serde::Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(if *value == WAIT_FOREVER { 0 } else { value.as_secs() })
}

/// The connection keys of the configuration file's `[database]` section, as [`ConnParams::resolve`] reads them.
/// `pg` owns this input type and never reads the file's schema: `settings` converts the section into it.
#[derive(Debug, Clone, Default)]
pub struct FileKeys {
    /// A `postgres://` URL or a libpq key/value string.
    pub url: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub dbname: Option<String>,
    pub sslmode: Option<String>,
    pub sslrootcert: Option<PathBuf>,
    pub passfile: Option<PathBuf>,
    pub connect_timeout: Option<Duration>,
    pub application_name: Option<String>,
    /// `auth`: `password` (the default) or `entra`.
    pub auth: Option<String>,
}

/// The inputs of [`ConnParams::resolve`], gathered by `settings.rs`.
#[derive(Debug, Default)]
pub struct ConnSources<'a> {
    /// `[database]` of the file's top level.
    pub file: Option<&'a FileKeys>,
    /// `[profiles.NAME.database]` of the selected profile (only its own keys), above the top level.
    pub profile: Option<&'a FileKeys>,
    /// The libpq variables that are set, by name.
    pub env: BTreeMap<&'static str, String>,
    /// `--db-url`, or `DATABASE_URL`, with the label to report.
    pub url: Option<(&'a str, &'static str)>,
    /// The OS user name, libpq's default user.
    pub os_user: Option<String>,
    pub home: Option<PathBuf>,
    /// `url` is taken on its own (`--target-url`): `env` holds only where the service files are.
    pub standalone: bool,
}

/// libpq's compiled-in socket directory on Debian (`DEFAULT_PGSOCKET_DIR`), used when it exists and no host is
/// given; in the password file, only this directory is also called `localhost`.
pub(crate) const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

impl ConnParams {
    /// Resolves the connection from all layers.
    ///
    /// # Errors
    /// A malformed URL, port, timeout or sslmode, or a service that is not defined, naming the layer it came from.
    pub fn resolve(sources: &ConnSources<'_>) -> Result<Self, UserError> {
        let (merged, origins) = layers::merge(sources)?;
        let mut origins = origins;
        // `merge` records the layer of `auth = "entra"` under `auth` when that layer's token applies.
        let auth = if origins.contains_key("auth") {
            AuthMethod::Entra
        } else {
            AuthMethod::Password
        };
        let host = merged.host.unwrap_or_else(|| {
            origins.insert("host", "default".into());
            layers::default_host()
        });
        let port = match &merged.port {
            None => 5432,
            Some(port) => port.trim().parse().map_err(|_| {
                UserError::usage(format!("Invalid port `{port}` (from {})", origins["port"]))
                    .with_hint("A port is a number between 1 and 65535")
            })?,
        };
        let user = merged.user.unwrap_or_else(|| layers::default_user(sources));
        // libpq: an empty or missing database name is the user name.
        let dbname = merged.dbname.unwrap_or_else(|| user.clone());
        let sslmode = match &merged.sslmode {
            None => SslMode::Prefer,
            Some(mode) => mode.parse().map_err(|e: UserError| UserError {
                message: format!("{} (from {})", e.message, origins["sslmode"]),
                ..e
            })?,
        };
        let connect_timeout = match &merged.connect_timeout {
            None => Duration::from_secs(10),
            Some(text) => connect_timeout(text).ok_or_else(|| {
                UserError::usage(format!(
                    "Invalid connect_timeout `{text}` (from {})",
                    origins["connect_timeout"]
                ))
                .with_hint("PGCONNECT_TIMEOUT is a whole number of seconds, e.g. `10` (`0` waits forever)")
            })?,
        };
        let mut params = Self {
            host,
            port,
            user,
            password: merged.password.map(Secret::new),
            dbname,
            sslmode,
            sslrootcert: merged.sslrootcert.map(PathBuf::from),
            passfile: merged.passfile.map(PathBuf::from),
            connect_timeout,
            application_name: merged.application_name.unwrap_or_else(|| "campctl".into()),
            origins,
            warnings: Vec::new(),
            passfile_read: None,
            standalone: sources.url.filter(|_| sources.standalone).map(|(_, label)| label),
            auth,
            token: None,
        };
        if params.auth == AuthMethod::Entra {
            params.check_entra()?;
        } else if params.password.is_none() {
            params.password_from_passfile(sources.home.as_deref());
        }
        // libpq reads ~/.postgresql/root.crt when no sslrootcert is given.
        if params.sslrootcert.is_none()
            && let Some(default) = sources.home.as_ref().map(|home| home.join(".postgresql/root.crt"))
            && default.is_file()
        {
            params.sslrootcert = Some(default);
            params
                .origins
                .insert("sslrootcert", "default (~/.postgresql/root.crt)".into());
        }
        Ok(params)
    }

    /// The checks of `auth = "entra"`: the user (the Entra principal's name) must be configured, the server reached
    /// over TCP, and the token never sent without TLS. An unset `sslmode` (libpq's `prefer`, which may fall back to
    /// plain text) becomes `require`; an explicit `disable` or `prefer` is refused.
    fn check_entra(&mut self) -> Result<(), UserError> {
        let from = self.origins.get("auth").cloned().unwrap_or_default();
        if !self.origins.contains_key("user") {
            return Err(UserError::usage(format!(
                "`auth = \"entra\"` (from {from}) needs the Entra principal's name as the PostgreSQL user, and no \
                 user is configured (the OS user `{}` would be sent)",
                self.user
            ))
            .with_hint(
                "Set `user` in `[database]` (or in its `url`, `DATABASE_URL` or `PGUSER`) to the Entra user, group or \
                 managed identity name the server knows, e.g. `user = \"alice@example.com\"`",
            ));
        }
        if self.is_socket() {
            return Err(UserError::usage(format!(
                "`auth = \"entra\"` (from {from}) needs a TCP connection with TLS, but the host is the unix socket \
                 directory `{}`",
                self.host
            ))
            .with_hint("Set `host` to the server's name, e.g. `myserver.postgres.database.azure.com`"));
        }
        match (self.sslmode, self.origins.get("sslmode")) {
            (SslMode::Prefer, None) => {
                self.sslmode = SslMode::Require;
                self.origins
                    .insert("sslmode", "default with `auth = \"entra\"` (require)".into());
            }
            (SslMode::Disable | SslMode::Prefer, Some(origin)) => {
                return Err(UserError::usage(format!(
                    "`auth = \"entra\"` (from {from}) sends an access token as the password, and `sslmode={}` (from \
                     {origin}) could send it in plain text",
                    self.sslmode
                ))
                .with_hint(
                    "Use `sslmode = \"require\"` or stricter (`verify-full` with the server's CA is best); Azure \
                     Database for PostgreSQL requires TLS for Entra ID logins",
                ));
            }
            _ => {}
        }
        Ok(())
    }

    /// These parameters with the password a new session must use: with `auth = "entra"`, a token valid for at least
    /// a few more minutes (cached, or fetched now); otherwise unchanged. Call it right before each connection or
    /// child (`pg_dump`, `pg_restore`), never once for a whole run.
    ///
    /// # Errors
    /// The token could not be fetched (exit 12, naming the credential), or `auth = "entra"` has no token source.
    pub async fn fresh(&self) -> anyhow::Result<std::borrow::Cow<'_, Self>> {
        if self.auth != AuthMethod::Entra {
            return Ok(std::borrow::Cow::Borrowed(self));
        }
        let Some(token) = &self.token else {
            return Err(
                UserError::usage("`auth = \"entra\"` is set but no Entra ID credential was configured")
                    .with_hint("Check the `[azure]` section (docs/azure.md)")
                    .into(),
            );
        };
        let mut fresh = self.clone();
        fresh.password = Some(token.password().await?);
        Ok(std::borrow::Cow::Owned(fresh))
    }

    /// `host:port`, or the socket path, for messages.
    pub fn target(&self) -> String {
        if self.is_socket() {
            format!("{}/.s.PGSQL.{}", self.host, self.port)
        } else if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Whether `host` is a unix socket directory.
    pub fn is_socket(&self) -> bool {
        self.host.starts_with('/')
    }

    /// The password file to read: `passfile`, `PGPASSFILE` or `~/.pgpass`.
    pub fn passfile_path(&self, home: Option<&Path>) -> Option<PathBuf> {
        self.passfile.clone().or_else(|| home.map(|home| home.join(".pgpass")))
    }

    fn password_from_passfile(&mut self, home: Option<&Path>) {
        let Some(path) = self.passfile_path(home) else { return };
        // libpq looks a socket up by its directory; only the default directory is also `localhost`.
        let host = pgpass::host_key(&self.host, DEFAULT_SOCKET_DIR);
        self.passfile_read = Some(path.clone());
        match pgpass::lookup(&path, host, self.port, &self.dbname, &self.user) {
            Passfile::NoMatch => {}
            Passfile::Ignored(warning) => self.warnings.push(warning),
            Passfile::Password(password) => {
                self.password = Some(Secret::new(password));
                self.origins
                    .insert("password", format!("password file {}", path.display()));
            }
        }
    }

    /// The same parameters for another database on the same server.
    #[must_use]
    pub fn with_dbname(&self, dbname: &str) -> Self {
        Self {
            dbname: dbname.to_string(),
            ..self.clone()
        }
    }
}

/// libpq's `connect_timeout`: an integer (surrounding blanks allowed); 1 is raised to 2 seconds, and 0 or less
/// waits forever ([`WAIT_FOREVER`]). `None` when it is not an integer.
fn connect_timeout(text: &str) -> Option<Duration> {
    let secs: i32 = text.trim().parse().ok()?;
    Some(match u64::try_from(secs) {
        Ok(0) | Err(_) => WAIT_FOREVER,
        Ok(secs) => Duration::from_secs(secs.max(2)),
    })
}

#[cfg(test)]
pub(crate) mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(url: &str) -> Result<ConnParams, UserError> {
        ConnParams::resolve(&ConnSources {
            url: Some((url, "--db-url")),
            ..ConnSources::default()
        })
    }

    #[test]
    fn url_components() {
        let p =
            resolve("postgres://al%40ice:p%3Ass@db.example.com:6543/my%20db?sslmode=verify-full&application_name=x")
                .expect("valid");
        assert_eq!(
            (p.host.as_str(), p.port, p.user.as_str()),
            ("db.example.com", 6543, "al@ice")
        );
        assert_eq!(p.password.as_ref().map(Secret::expose), Some("p:ss"));
        assert_eq!(p.dbname, "my db");
        assert_eq!(p.sslmode, SslMode::VerifyFull);
        assert_eq!(p.application_name, "x");
        assert_eq!(format!("{:?}", p.password), "Some(********)");
        let p = resolve("postgresql://[::1]:5433/db").expect("ipv6");
        assert_eq!((p.host.as_str(), p.port), ("::1", 5433));
        let p = resolve("postgres:///db?host=%2Ftmp%2Fsock").expect("socket");
        assert_eq!(p.host, "/tmp/sock");
    }

    #[test]
    fn key_values() {
        let p = resolve("host=h port=1 dbname='a b' password='it\\'s' sslmode=require").expect("valid");
        assert_eq!((p.host.as_str(), p.port, p.dbname.as_str()), ("h", 1, "a b"));
        assert_eq!(p.password.as_ref().map(Secret::expose), Some("it's"));
        assert!(resolve("host=h bogus=1").is_err());
        assert!(resolve("sslmode=verify-everything host=h").is_err());
        assert!(resolve("just-a-name").is_err());
        assert!(resolve("postgres://h:notaport/db").is_err());
    }

    #[test]
    fn layers_and_origins() {
        let file = FileKeys {
            host: Some("file-host".into()),
            port: Some(7000),
            ..Default::default()
        };
        let mut env = BTreeMap::new();
        env.insert(EnvVars::PGHOST, "env-host".to_string());
        let sources = ConnSources {
            file: Some(&file),
            env,
            url: Some(("postgres://url-user@/db", "DATABASE_URL")),
            ..ConnSources::default()
        };
        let p = ConnParams::resolve(&sources).expect("valid");
        assert_eq!(
            (p.host.as_str(), p.port, p.user.as_str()),
            ("env-host", 7000, "url-user")
        );
        assert_eq!(p.origins["host"], "PGHOST");
        assert_eq!(p.origins["port"], "config file");
        assert_eq!(p.origins["user"], "DATABASE_URL");
    }

    #[test]
    fn child_env_has_password_only_in_env() {
        let p = resolve("postgres://u:secret@h:1/d?sslmode=verify-full&sslrootcert=/ca.pem").expect("valid");
        let (set, _) = p.child_env();
        assert!(set.contains(&(EnvVars::PGPASSWORD, "secret".to_string())));
        assert!(set.contains(&(EnvVars::PGSSLMODE, "verify-full".to_string())));
        assert!(set.contains(&(EnvVars::PGSSLROOTCERT, "/ca.pem".to_string())));
    }
}
