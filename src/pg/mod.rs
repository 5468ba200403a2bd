//! PostgreSQL: the resolved connection ([`conninfo`]), TLS ([`tls`]), connect errors ([`error`]), free connection
//! slots ([`capacity`]), connecting, databases as whole objects ([`database`]: version, create, drop, rename, end
//! sessions, `ALLOW_CONNECTIONS`), quoting ([`quote`]) and the monitoring SQL `stats` and `health` share
//! ([`monitor`]).

pub mod archive;
pub mod capacity;
pub mod conninfo;
pub mod database;
pub mod error;
pub mod monitor;
pub mod names;
pub mod quote;
pub mod tls;
pub mod tools;

use std::fmt::Write as _;
use std::sync::LazyLock;
use std::time::Duration;

use tokio_postgres::Client;
use tokio_postgres::config::SslMode as PgSslMode;
use tokio_util::task::TaskTracker;

pub use conninfo::{ConnParams, Secret, SslMode};
pub use error::PgError;
pub use quote::quote_ident;

use crate::units::HumanDuration;

/// Session settings applied to every connection campctl opens for its own SQL.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionOptions {
    pub statement_timeout: Option<HumanDuration>,
    pub lock_timeout: Option<HumanDuration>,
}

/// The task of every connection this process opened; see [`close_connections`].
static CONNECTIONS: LazyLock<TaskTracker> = LazyLock::new(TaskTracker::new);

/// Waits, at most `bound`, until every connection this process opened has ended; returns whether they all did.
///
/// A connection's task sends the protocol's Terminate message and closes the socket once its [`Client`] is
/// dropped, but only if the runtime still polls it: exiting right after the command returns cuts it off, and the
/// server logs "connection to client lost" / "Connection reset by peer". `main` calls this after the command's future
/// (and with it every client) is gone, on success, error and interrupt alike.
pub async fn close_connections(bound: Duration) -> bool {
    CONNECTIONS.close();
    let closed = tokio::time::timeout(bound, CONNECTIONS.wait()).await.is_ok();
    if !closed {
        tracing::debug!(
            open = CONNECTIONS.len(),
            "PostgreSQL connections still open at exit; not waiting longer"
        );
    }
    closed
}

/// Opens a connection and applies the session settings. The connection task runs on the current runtime, tracked
/// for [`close_connections`].
///
/// # Errors
/// A [`PgError`] that names the failure (unreachable, authentication, not found, TLS) and a fix.
pub async fn connect(params: &ConnParams, session: SessionOptions) -> anyhow::Result<Client> {
    connect_inner(params, session, None).await
}

/// [`connect`], with the server's notices and warnings (e.g. `VACUUM (SKIP_LOCKED)`'s "skipping …") sent to the
/// returned receiver.
///
/// # Errors
/// See [`connect`].
pub async fn connect_with_notices(
    params: &ConnParams,
    session: SessionOptions,
) -> anyhow::Result<(
    Client,
    tokio::sync::mpsc::UnboundedReceiver<tokio_postgres::error::DbError>,
)> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    Ok((connect_inner(params, session, Some(tx)).await?, rx))
}

/// Asks the server to cancel what the session of `token` is running (the protocol's cancel request, over a new
/// connection with the same TLS rules).
///
/// # Errors
/// The server could not be reached.
pub async fn cancel(token: &tokio_postgres::CancelToken, params: &ConnParams) -> anyhow::Result<()> {
    if params.is_socket() {
        token.cancel_query(tokio_postgres::NoTls).await?;
    } else {
        let verification = tls::verification(params.sslmode, params.sslrootcert.is_some());
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls::client_config(
            verification,
            params.sslrootcert.as_deref(),
        )?);
        token.cancel_query(tls).await?;
    }
    Ok(())
}

type NoticeSender = tokio::sync::mpsc::UnboundedSender<tokio_postgres::error::DbError>;

async fn connect_inner(
    params: &ConnParams,
    session: SessionOptions,
    notices: Option<NoticeSender>,
) -> anyhow::Result<Client> {
    // With `auth = "entra"`, every new session gets a token that is still valid (cached or fetched now).
    let params = &*params.fresh().await?;
    let mut config = tokio_postgres::Config::new();
    config
        .host(&params.host)
        .port(params.port)
        .user(&params.user)
        .dbname(&params.dbname)
        .application_name(&params.application_name)
        .connect_timeout(params.connect_timeout)
        .keepalives_idle(Duration::from_secs(60));
    if let Some(password) = &params.password {
        config.password(password.expose());
    }
    // libpq never negotiates TLS on a unix socket; neither do we.
    let verification = tls::verification(params.sslmode, params.sslrootcert.is_some());
    let mode = match params.sslmode {
        _ if params.is_socket() => PgSslMode::Disable,
        SslMode::Disable => PgSslMode::Disable,
        SslMode::Prefer => PgSslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => PgSslMode::Require,
    };
    config.ssl_mode(mode);
    let tls =
        tokio_postgres_rustls::MakeRustlsConnect::new(tls::client_config(verification, params.sslrootcert.as_deref())?);

    tracing::debug!(
        server = %params.target(), user = %params.user, dbname = %params.dbname, sslmode = %params.sslmode,
        "connecting to PostgreSQL"
    );
    let client = if params.is_socket() {
        connect_with(&config, tokio_postgres::NoTls, params, notices).await?
    } else {
        connect_with(&config, tls, params, notices).await?
    };

    let mut settings = String::new();
    for (name, value) in [
        ("statement_timeout", session.statement_timeout),
        ("lock_timeout", session.lock_timeout),
    ] {
        if let Some(value) = value {
            let _ = write!(settings, "SET {name} = {};", value.0.as_millis());
        }
    }
    if !settings.is_empty() {
        client.batch_execute(&settings).await?;
    }
    Ok(client)
}

/// Connects (retrying only while the server is starting up) and spawns the connection task.
async fn connect_with<T>(
    config: &tokio_postgres::Config,
    tls: T,
    params: &ConnParams,
    notices: Option<NoticeSender>,
) -> Result<Client, PgError>
where
    T: tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket> + Clone,
    T::Stream: Send + 'static,
{
    let mut attempt = 0;
    let (client, connection) = loop {
        attempt += 1;
        // tokio-postgres bounds only the TCP connect; libpq's connect_timeout bounds the whole startup.
        let attempt_result = tokio::time::timeout(params.connect_timeout, config.connect(tls.clone()))
            .await
            .map_err(|_| PgError::timeout(params))?;
        match attempt_result {
            Ok(pair) => break pair,
            // "the database system is starting up" is worth a short wait; nothing else is retried.
            Err(err) if attempt < 5 && err.code() == Some(&tokio_postgres::error::SqlState::CANNOT_CONNECT_NOW) => {
                tracing::info!("PostgreSQL at `{}` is starting up; retrying", params.target());
                tokio::time::sleep(Duration::from_millis(500 * attempt)).await;
            }
            Err(err) => return Err(PgError::connect(err, params)),
        }
    };
    let mut connection = connection;
    CONNECTIONS.spawn(async move {
        // Drive the connection; pass notices on when asked to, else log them at debug.
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = futures::StreamExt::next(&mut messages).await {
            match message {
                Ok(tokio_postgres::AsyncMessage::Notice(notice)) => {
                    if let Some(tx) = &notices {
                        let _ = tx.send(notice);
                    } else {
                        tracing::debug!("PostgreSQL notice: {}", notice.message());
                    }
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::debug!("PostgreSQL connection closed: {err}");
                    break;
                }
            }
        }
    });
    Ok(client)
}
