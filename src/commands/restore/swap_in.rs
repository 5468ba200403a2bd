//! The last step of `campctl restore`: putting the verified copy in the target's place. With a target to replace,
//! [`swap`] closes it to new connections, lets go of the run's lock, ends its sessions, and renames the target
//! aside and the copy into its place in one transaction; without one, [`rename`] just renames the copy.
//!
//! Every failure here leaves the target as it was and open to connections again (the reopening is registered with
//! [`crate::interrupt`] before the target is closed, so Ctrl-C cannot leave it closed either). The SQL itself is
//! [`crate::pg::database`]'s; this file must never decide whether a database may be replaced (that is
//! [`super::preflight`]'s) beyond re-checking it is not a template right before the change.

use std::time::{Duration, Instant};

use super::preflight;
use crate::exit::{ExitStatus, UserError};
use crate::interrupt;
use crate::lock;
use crate::pg::ConnParams;
use crate::pg::database;

/// Renames `from` (a restored copy) to `to` when there is no target to swap out: the target was checked before the
/// work began, and is checked again now that it is about to change.
pub(super) async fn rename(client: &tokio_postgres::Client, from: &str, to: &str) -> anyhow::Result<()> {
    // The target was checked before the work began; check again now that it is about to change.
    preflight::check_not_template(client, to).await?;
    end_sessions(client, from, Instant::now() + Duration::from_secs(10), 0).await?;
    database::rename(client, from, to).await
}

/// Ends every other session on `database` until none is left or `deadline` passes ([`database::end_sessions`]);
/// returns how many were ended, and fails (exit 1) if some remain. `spare` is our own session there, which is
/// closing: waited for but neither ended nor counted.
async fn end_sessions(
    client: &tokio_postgres::Client,
    database: &str,
    deadline: Instant,
    spare: i32,
) -> anyhow::Result<u64> {
    let sessions = database::end_sessions(client, database, deadline, spare).await?;
    if sessions.remaining > 0 {
        return Err(UserError::new(
            ExitStatus::Failure,
            format!("{} sessions on `{database}` did not end", sessions.remaining),
        )
        .with_hint(
            "This role may lack the right to end other roles' sessions (pg_signal_backend); end them by hand, or \
             raise `[restore] swap_timeout`",
        )
        .into());
    }
    Ok(sessions.ended)
}

/// Closes `target`, ends its sessions and renames it to `previous` and `aside` to `target` in one transaction.
pub(super) async fn swap(
    client: &tokio_postgres::Client,
    server: &ConnParams,
    target: &str,
    aside: &str,
    previous: &str,
    timeout: Duration,
    lock_session: (tokio_postgres::Client, lock::RunLocks, i32),
) -> anyhow::Result<u64> {
    // The target was checked before the work began; check again now that it is about to be renamed aside.
    preflight::check_not_template(client, target).await?;
    let deadline = Instant::now() + timeout;
    // Our own connections to the copy (counting, ANALYZE) may still be closing.
    end_sessions(client, aside, deadline, 0).await?;
    let (session, locks, spare) = lock_session;
    let reopen = interrupt::register(interrupt::Action::AllowConnections {
        params: server.clone(),
        name: target.to_string(),
    });
    let result = async {
        database::set_allow_connections(client, target, false).await?;
        // Nobody can connect now: let go of the lock (its session is on the target).
        locks.release().await;
        drop(session);
        let ended = end_sessions(client, target, deadline, spare).await?;
        database::swap_names(client, target, previous, aside).await?;
        anyhow::Ok(ended)
    }
    .await;
    match result {
        Ok(ended) => {
            reopen.disarm();
            if let Err(err) = database::set_allow_connections(client, previous, true).await {
                tracing::warn!("`{previous}` still refuses connections: {err:#}");
            }
            tracing::info!("swapped `{aside}` in as `{target}`; the previous database is `{previous}`");
            Ok(ended)
        }
        Err(err) => {
            let _ = client.batch_execute("ROLLBACK").await;
            if let Err(reopen_err) = reopen.run_now().await {
                tracing::error!("`{target}` still refuses connections: {reopen_err:#}");
            }
            Err(err)
        }
    }
}

/// Gives the swapped-in database the previous one's owner, when that is not us.
pub(super) async fn set_owner(client: &tokio_postgres::Client, target: &str, owner: &str) {
    if let Err(err) = database::set_owner(client, target, owner).await {
        tracing::warn!("could not give `{target}` back to its owner `{owner}`: {err}");
    }
}
