//! Databases as whole objects: the server's version, and creating, describing, renaming, closing, opening, owning
//! and dropping a database, and ending the sessions on one. `restore`, `test-restore` and the interrupt registry
//! ([`crate::interrupt`]) all do these through this one file, so each statement is written (and quoted) once.
//!
//! These are primitives: each does one thing on a session the caller opened (a maintenance database on the same
//! server) and reports what happened. Deciding whether a database may be touched at all (templates, the
//! maintenance database, confirmations) is the caller's job and must never move in here; so are the messages that
//! tell an operator what a failure means for their restore.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio_postgres::Client;

use super::quote::{quote_ident, quote_literal};
use super::{ConnParams, SessionOptions};

/// The server's version, read once per connection (the value never changes while a session lasts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerVersion {
    /// `server_version_num`, e.g. `150008` for 15.8.
    pub num: u32,
    /// `server_version` as the server spells it, e.g. `15.8 (Debian 15.8-1.pgdg120+1)`.
    pub text: String,
}

impl ServerVersion {
    /// The major version (`15` for 15.8; `server_version_num` / 10000 since PostgreSQL 10).
    #[must_use]
    pub fn major(&self) -> u32 {
        self.num / 10_000
    }
}

/// Reads the server's version. This is the only place campctl asks for it; a value that cannot be read is an
/// error, never a silent `0`.
///
/// # Errors
/// The query failed, or the server answered with something that is not a version number.
pub async fn server_version(client: &Client) -> anyhow::Result<ServerVersion> {
    let row = client
        .query_one(
            "SELECT current_setting('server_version'), current_setting('server_version_num')",
            &[],
        )
        .await
        .context("Failed to read the server version")?;
    let text: String = row.get(0);
    let num: String = row.get(1);
    let num = num
        .trim()
        .parse()
        .with_context(|| format!("The server reported `server_version_num` = `{num}`, which is not a number"))?;
    Ok(ServerVersion { num, text })
}

/// Whether a database named `name` exists.
///
/// # Errors
/// The query failed.
pub async fn exists(client: &Client, name: &str) -> anyhow::Result<bool> {
    Ok(client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .with_context(|| format!("Failed to look up database `{name}`"))?
        .is_some())
}

/// An existing database, as far as re-creating one like it needs.
#[derive(Debug, Clone)]
pub struct DatabaseInfo {
    pub owner: String,
    /// The `CREATE DATABASE` options that give a new database the same encoding and locale (`TEMPLATE template0
    /// ENCODING … LC_COLLATE … LC_CTYPE …`, and the ICU locale where the server has one).
    pub create_options: String,
    /// `datallowconn`: false while a swap has it closed (or after one stopped half-way).
    pub allow_connections: bool,
}

/// Describes database `name`, or `None` when there is none.
///
/// # Errors
/// The query failed.
pub async fn describe(client: &Client, name: &str, version: &ServerVersion) -> anyhow::Result<Option<DatabaseInfo>> {
    // PostgreSQL 15 added ICU as a database-wide locale provider.
    let icu = if version.major() >= 15 {
        "CASE WHEN datlocprovider = 'i' THEN daticulocale END"
    } else {
        "NULL::text"
    };
    let Some(row) = client
        .query_opt(
            &format!(
                "SELECT pg_get_userbyid(datdba)::text, pg_encoding_to_char(encoding)::text, datcollate::text, \
                        datctype::text, datallowconn, {icu} \
                 FROM pg_database WHERE datname = $1"
            ),
            &[&name],
        )
        .await
        .with_context(|| format!("Failed to look up database `{name}`"))?
    else {
        return Ok(None);
    };
    let mut create_options = format!(
        "TEMPLATE template0 ENCODING {} LC_COLLATE {} LC_CTYPE {}",
        quote_literal(row.get(1)),
        quote_literal(row.get(2)),
        quote_literal(row.get(3))
    );
    if let Some(icu_locale) = row.get::<_, Option<String>>(5) {
        create_options = format!(
            "{create_options} LOCALE_PROVIDER icu ICU_LOCALE {}",
            quote_literal(&icu_locale)
        );
    }
    Ok(Some(DatabaseInfo {
        owner: row.get(0),
        create_options,
        allow_connections: row.get(4),
    }))
}

/// `CREATE DATABASE name <options>`; `options` is SQL the caller built (e.g. [`DatabaseInfo::create_options`]).
///
/// # Errors
/// The server refused (no CREATEDB, the name is taken, a bad locale).
pub async fn create(client: &Client, name: &str, options: &str) -> Result<(), tokio_postgres::Error> {
    client
        .batch_execute(&format!("CREATE DATABASE {} {options}", quote_ident(name)))
        .await?;
    tracing::info!("created database `{name}`");
    Ok(())
}

/// Ends the sessions on `name` (a killed pg_restore's backend may linger a moment) and drops it, over a new
/// connection made with `params` (a maintenance database on the same server); retries for a few seconds while
/// sessions are still going away. A database that does not exist is not an error.
///
/// # Errors
/// The database could not be dropped.
pub async fn drop_database(params: &ConnParams, name: &str) -> anyhow::Result<()> {
    let client = super::connect(params, SessionOptions::default()).await?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        end_sessions_once(&client, name, 0).await?;
        match client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {}", quote_ident(name)))
            .await
        {
            Ok(()) => {
                tracing::info!("dropped database `{name}`");
                return Ok(());
            }
            Err(err)
                if err.code() == Some(&tokio_postgres::error::SqlState::OBJECT_IN_USE) && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(err) => return Err(anyhow::Error::new(err).context(format!("Failed to drop database `{name}`"))),
        }
    }
}

/// The names of every database on the server that accepts connections or not, templates left out.
///
/// # Errors
/// The query failed.
pub async fn names(client: &Client) -> anyhow::Result<Vec<String>> {
    Ok(client
        .query(
            "SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY datname",
            &[],
        )
        .await
        .context("Failed to list the databases")?
        .iter()
        .map(|row| row.get(0))
        .collect())
}

/// How many sessions are connected to `name` now.
///
/// # Errors
/// The query failed.
pub async fn session_count(client: &Client, name: &str) -> anyhow::Result<i64> {
    Ok(client
        .query_one("SELECT count(*) FROM pg_stat_activity WHERE datname = $1", &[&name])
        .await
        .with_context(|| format!("Failed to count the sessions on `{name}`"))?
        .get(0))
}

/// `DROP DATABASE name` without ending anyone's session: `Ok(false)` when a session is connected (the server
/// refuses atomically, so a session that connects after a count is never cut off).
///
/// # Errors
/// The server refused for another reason.
pub async fn drop_if_unused(client: &Client, name: &str) -> anyhow::Result<bool> {
    match client
        .batch_execute(&format!("DROP DATABASE {}", quote_ident(name)))
        .await
    {
        Ok(()) => {
            tracing::info!("dropped database `{name}`");
            Ok(true)
        }
        Err(err) if err.code() == Some(&tokio_postgres::error::SqlState::OBJECT_IN_USE) => Ok(false),
        Err(err) => Err(anyhow::Error::new(err).context(format!("Failed to drop database `{name}`"))),
    }
}

/// `ALTER DATABASE name RENAME TO new_name`.
///
/// # Errors
/// The server refused (sessions on it, the new name is taken).
pub async fn rename(client: &Client, name: &str, new_name: &str) -> anyhow::Result<()> {
    client
        .batch_execute(&format!(
            "ALTER DATABASE {} RENAME TO {}",
            quote_ident(name),
            quote_ident(new_name)
        ))
        .await
        .with_context(|| format!("Failed to rename `{name}` to `{new_name}`"))
}

/// Renames `target` to `previous` and `replacement` to `target` in one transaction: either both happen or
/// neither. On an error the caller must send `ROLLBACK` on the same session.
///
/// # Errors
/// The server refused either rename.
pub async fn swap_names(client: &Client, target: &str, previous: &str, replacement: &str) -> anyhow::Result<()> {
    client
        .batch_execute(&format!(
            "BEGIN; ALTER DATABASE {t} RENAME TO {p}; ALTER DATABASE {r} RENAME TO {t}; COMMIT",
            t = quote_ident(target),
            p = quote_ident(previous),
            r = quote_ident(replacement)
        ))
        .await
        .context("Failed to rename the databases")
}

/// `ALTER DATABASE name ALLOW_CONNECTIONS true|false`. Closing keeps new sessions out (superusers included); the
/// sessions already there stay until [`end_sessions`].
///
/// # Errors
/// The server refused.
pub async fn set_allow_connections(client: &Client, name: &str, allow: bool) -> anyhow::Result<()> {
    client
        .batch_execute(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS {allow}",
            quote_ident(name)
        ))
        .await
        .with_context(|| {
            if allow {
                format!("Failed to allow connections to `{name}` again")
            } else {
                format!("Failed to close `{name}` to new connections")
            }
        })
}

/// `ALTER DATABASE name OWNER TO owner`.
///
/// # Errors
/// The server refused (the role does not exist, or we may not give it away).
pub async fn set_owner(client: &Client, name: &str, owner: &str) -> Result<(), tokio_postgres::Error> {
    client
        .batch_execute(&format!(
            "ALTER DATABASE {} OWNER TO {}",
            quote_ident(name),
            quote_ident(owner)
        ))
        .await
}

/// What [`end_sessions`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionsEnded {
    /// Sessions this call ended (`pg_terminate_backend` succeeded).
    pub ended: u64,
    /// Sessions still on the database when the deadline passed (0 on success).
    pub remaining: u64,
}

/// One pass: asks every other session on `name` to end; returns (ended now, still present). `spare` is a session of
/// ours there that is closing by itself: waited for but neither ended nor counted as ended (0 for none).
async fn end_sessions_once(client: &Client, name: &str, spare: i32) -> anyhow::Result<(u64, u64)> {
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE pid <> $2 AND pg_terminate_backend(pid)), count(*) \
             FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            &[&name, &spare],
        )
        .await
        .with_context(|| format!("Failed to end the sessions on `{name}`"))?;
    let (ended, present): (i64, i64) = (row.get(0), row.get(1));
    Ok((ended.unsigned_abs(), present.unsigned_abs()))
}

/// Ends every other session on `name` until none is left or `deadline` passes (see `end_sessions_once` for
/// `spare`). Sessions that remain are reported, not an error: what that means is the caller's to say.
///
/// # Errors
/// The query failed.
pub async fn end_sessions(client: &Client, name: &str, deadline: Instant, spare: i32) -> anyhow::Result<SessionsEnded> {
    let mut ended = 0;
    loop {
        let (now_ended, present) = end_sessions_once(client, name, spare).await?;
        ended += now_ended;
        if present == 0 || Instant::now() >= deadline {
            return Ok(SessionsEnded {
                ended,
                remaining: present,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Makes every later transaction of this session read-only (`default_transaction_read_only`), and checks that it
/// took: a session that should only read must never be left writable because a `SET` went unnoticed.
///
/// # Errors
/// The setting could not be made, or the server does not report it as on.
pub async fn make_read_only(client: &Client) -> anyhow::Result<()> {
    client
        .batch_execute("SET default_transaction_read_only = on")
        .await
        .context("Failed to make the session read-only (`SET default_transaction_read_only = on`)")?;
    let value: String = client
        .query_one("SELECT current_setting('default_transaction_read_only')", &[])
        .await
        .context("Failed to confirm that the session is read-only")?
        .get(0);
    if value != "on" {
        anyhow::bail!("The session is not read-only: `default_transaction_read_only` is `{value}` after setting it on");
    }
    Ok(())
}
