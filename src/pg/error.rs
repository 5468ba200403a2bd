//! Connection failures, sorted into what the user can do about them and the exit code they map to.

use std::error::Error as _;
use std::fmt::Write as _;

use tokio_postgres::error::SqlState;

use super::conninfo::ConnParams;
use crate::exit::{Classify, ExitStatus};

/// What went wrong while connecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectFailure {
    /// Nothing answered at host:port (refused, timed out, name not resolved, socket missing).
    Unreachable,
    /// The password (or other credential) was rejected, or pg_hba.conf refused the connection.
    Auth,
    /// The server wants a password and none was configured.
    NoPassword,
    /// The database does not exist.
    DatabaseNotFound,
    /// The role does not exist.
    RoleNotFound,
    /// The TLS handshake failed (certificate not trusted, wrong host name).
    Tls,
    /// TLS was required and the server does not offer it.
    TlsUnsupported,
    /// `max_connections` reached.
    TooManyConnections,
    /// Anything else.
    Other,
}

/// A failure of campctl's own PostgreSQL connection.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct PgError {
    pub failure: ConnectFailure,
    message: String,
    hint: Option<String>,
    #[source]
    source: Option<tokio_postgres::Error>,
}

fn tls_detail(err: &tokio_postgres::Error) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = err.source();
    while let Some(current) = cause {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        if let Some(io) = current.downcast_ref::<std::io::Error>()
            && let Some(tls) = io.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(tls.to_string());
        }
        cause = current.source();
    }
    None
}

fn has_io_error(err: &tokio_postgres::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = err.source();
    while let Some(current) = cause {
        if current.is::<std::io::Error>() {
            return true;
        }
        cause = current.source();
    }
    false
}

/// Where the password of this connection may come from, for the hint of a rejected one.
fn password_sources(params: &ConnParams) -> String {
    let file = params
        .passfile_read
        .as_ref()
        .map_or_else(|| "~/.pgpass".to_string(), |path| format!("`{}`", path.display()));
    match params.standalone {
        Some(label) => format!("{label} is read on its own: its password, its `passfile=` or {file}"),
        None => format!("campctl reads the URL, PGPASSWORD and {file}"),
    }
}

/// What to do when the server wants a password and none was given: only the sources that apply to this connection
/// (a `--target-url` reads neither PGPASSWORD nor PGPASSFILE).
fn no_password_hint(params: &ConnParams) -> String {
    // The line libpq would match: `:` and `\` escaped; a socket by its directory (the default one is `localhost`).
    let escape = |text: &str| text.replace('\\', "\\\\").replace(':', "\\:");
    let host = if params.host == super::conninfo::DEFAULT_SOCKET_DIR {
        "localhost"
    } else {
        params.host.as_str()
    };
    let line = format!(
        "`{}:{}:{}:{}:PASSWORD`",
        escape(host),
        params.port,
        escape(&params.dbname),
        escape(&params.user)
    );
    match (params.standalone, &params.passfile_read) {
        (Some(label), Some(file)) if params.passfile.is_some() => format!(
            "Put the password into {label} (`postgres://user:PASSWORD@host/db`), or add {line} to `{}` (its \
             `passfile=`, mode 0600); PGPASSWORD and PGPASSFILE do not apply to {label}",
            file.display()
        ),
        (Some(label), Some(file)) => format!(
            "Put the password into {label} (`postgres://user:PASSWORD@host/db`), add {line} to `{}` (mode 0600), \
             or name another password file with `passfile=` in {label}; PGPASSWORD and PGPASSFILE do not apply to \
             {label}",
            file.display()
        ),
        (Some(label), None) => format!(
            "Put the password into {label} (`postgres://user:PASSWORD@host/db`) or name a password file with \
             `passfile=`; PGPASSWORD and PGPASSFILE do not apply to {label}"
        ),
        (None, file) => format!(
            "Set PGPASSWORD, add {line} to {} (mode 0600, or point PGPASSFILE at another file), or put the password \
             in the URL",
            file.as_ref()
                .map_or_else(|| "~/.pgpass".to_string(), |path| format!("`{}`", path.display()))
        ),
    }
}

impl PgError {
    /// Classifies a connect error and writes the message and hint for it.
    pub fn connect(source: tokio_postgres::Error, params: &ConnParams) -> Self {
        let target = params.target();
        let user = &params.user;
        let dbname = &params.dbname;
        let origin = |key: &str| {
            params
                .origins
                .get(key)
                .map_or("the default", String::as_str)
                .to_string()
        };
        // The interesting words ("password missing") are often in a source, not in the top message.
        let mut text = source.to_string();
        let mut cause = source.source();
        while let Some(current) = cause {
            text.push_str(": ");
            text.push_str(&current.to_string());
            cause = current.source();
        }
        let db = source.as_db_error();
        let code = source.code();
        let failure = if code == Some(&SqlState::INVALID_PASSWORD) {
            ConnectFailure::Auth
        } else if code == Some(&SqlState::INVALID_CATALOG_NAME) {
            ConnectFailure::DatabaseNotFound
        } else if code == Some(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION) {
            let message = db.map(tokio_postgres::error::DbError::message).unwrap_or_default();
            if message.starts_with("role ") && message.ends_with("does not exist") {
                ConnectFailure::RoleNotFound
            } else {
                ConnectFailure::Auth
            }
        } else if code == Some(&SqlState::TOO_MANY_CONNECTIONS) {
            ConnectFailure::TooManyConnections
        } else if db.is_some() {
            ConnectFailure::Other
        } else if text.contains("password missing") {
            ConnectFailure::NoPassword
        } else if text.contains("server does not support TLS") {
            ConnectFailure::TlsUnsupported
        } else if tls_detail(&source).is_some() {
            ConnectFailure::Tls
        } else if has_io_error(&source) || text.contains("timeout") {
            ConnectFailure::Unreachable
        } else {
            ConnectFailure::Other
        };
        let (message, hint) = match failure {
            ConnectFailure::Unreachable => (
                format!("Failed to connect to PostgreSQL at `{target}`"),
                Some(if params.is_socket() {
                    format!(
                        "Is PostgreSQL running locally with its socket in `{}` on port {}? The host came from {}; \
                         set `--db-url`, PGHOST/PGPORT or `[database]` in campctl.toml",
                        params.host,
                        params.port,
                        origin("host")
                    )
                } else {
                    let (host_from, port_from) = (origin("host"), origin("port"));
                    let sources = if host_from == port_from {
                        format!("both came from {host_from}")
                    } else {
                        format!("the host came from {host_from}, the port from {port_from}")
                    };
                    format!(
                        "Is PostgreSQL running on host `{}` and accepting TCP/IP connections on port {}? Host and \
                         port: {sources}; set them with `--db-url`, PGHOST/PGPORT or `[database]` in campctl.toml",
                        params.host, params.port
                    )
                }),
            ),
            ConnectFailure::Auth if params.auth == super::conninfo::AuthMethod::Entra => (
                format!("Authentication failed for role `{user}` at `{target}` with an Entra ID token"),
                Some(format!(
                    "The token came from {} (`[database] auth = \"entra\"`, {}). Check that `{user}` is the name of \
                     the Entra principal that token is for (the server's Entra administrator, or a role made with \
                     `pgaadauth_create_principal`) and that Entra authentication is enabled on the server",
                    params.token.as_ref().map_or_else(
                        || "the Entra ID credential".to_string(),
                        super::conninfo::TokenPassword::describe
                    ),
                    origin("password"),
                )),
            ),
            ConnectFailure::Auth => (
                format!("Authentication failed for role `{user}` at `{target}`"),
                Some(format!(
                    "Check the password of role `{user}` (taken from {}; {}) and that the server's pg_hba.conf allows \
                     this client. Over TCP the server also says this when the role does not exist",
                    origin("password"),
                    password_sources(params)
                )),
            ),
            ConnectFailure::NoPassword => (
                format!("PostgreSQL at `{target}` asked for a password for role `{user}` and none was given"),
                Some(no_password_hint(params)),
            ),
            ConnectFailure::DatabaseNotFound => (
                format!("Database `{dbname}` does not exist on `{target}`"),
                Some(format!(
                    "Create it, or name an existing database (the name came from {}); `psql -l` lists them",
                    origin("dbname")
                )),
            ),
            ConnectFailure::RoleNotFound => (
                format!("Role `{user}` does not exist on `{target}`"),
                Some(format!(
                    "Check the user name (it came from {}): PGUSER, the URL or `[database] user`",
                    origin("user")
                )),
            ),
            ConnectFailure::Tls => {
                let mut hint = format!(
                    "The server certificate was not accepted with sslmode={}",
                    params.sslmode
                );
                if let Some(ca) = &params.sslrootcert {
                    let _ = write!(hint, " and root certificate `{}`", ca.display());
                }
                hint.push_str(
                    ": check that sslrootcert / PGSSLROOTCERT holds the CA that signed the server certificate (or, for \
                     a self-signed server certificate, that certificate itself), and for verify-full that the host \
                     name matches it",
                );
                (
                    format!("TLS handshake with PostgreSQL at `{target}` failed"),
                    Some(hint),
                )
            }
            ConnectFailure::TlsUnsupported => (
                format!(
                    "PostgreSQL at `{target}` does not accept TLS connections but sslmode={} requires TLS",
                    params.sslmode
                ),
                Some("Enable ssl on the server, or use sslmode=prefer (or disable) if plaintext is acceptable".into()),
            ),
            ConnectFailure::TooManyConnections => (
                format!("PostgreSQL at `{target}` refused the connection: too many clients already"),
                Some(
                    "See who holds the connections with `campctl stats connections` (as a superuser or with a \
                     reserved slot) and end idle ones with `campctl stats queries --terminate-idle 10m`"
                        .into(),
                ),
            ),
            ConnectFailure::Other => (format!("Failed to connect to PostgreSQL at `{target}`"), None),
        };
        Self {
            failure,
            message,
            hint,
            source: Some(source),
        }
    }

    /// The server accepted the TCP connection (or nothing answered at all) and did not finish the startup
    /// handshake within `connect_timeout`.
    pub fn timeout(params: &ConnParams) -> Self {
        Self {
            failure: ConnectFailure::Unreachable,
            message: format!(
                "Timed out after {}s connecting to PostgreSQL at `{}`",
                params.connect_timeout.as_secs(),
                params.target()
            ),
            hint: Some(format!(
                "Is `{}` really a PostgreSQL server, and is it responsive? A firewall that drops packets also looks \
                 like this. Raise `connect_timeout` (or PGCONNECT_TIMEOUT) if the server is just slow",
                params.target()
            )),
            source: None,
        }
    }
}

impl Classify for PgError {
    fn exit_status(&self) -> ExitStatus {
        match self.failure {
            ConnectFailure::Auth | ConnectFailure::NoPassword => ExitStatus::Auth,
            ConnectFailure::DatabaseNotFound | ConnectFailure::RoleNotFound => ExitStatus::NotFound,
            ConnectFailure::Unreachable
            | ConnectFailure::Tls
            | ConnectFailure::TlsUnsupported
            | ConnectFailure::TooManyConnections => ExitStatus::Usage,
            ConnectFailure::Other => ExitStatus::Failure,
        }
    }

    fn hint(&self) -> Option<String> {
        self.hint.clone()
    }
}
