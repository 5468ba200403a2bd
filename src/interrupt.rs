//! The interrupt registry: work that must happen however a command ends (Ctrl-C and SIGTERM included): dropping a
//! scratch database, opening a database to connections again, releasing a backup's blob lease. (Named for what it
//! undoes; the `cleanup` command, which applies retention, is another thing.) DESIGN.md: "Ctrl-C / SIGTERM: children are killed, uploads are not committed, scratch databases are
//! dropped, exit 130".
//!
//! A command [`register`]s an action before it creates what the action undoes and [`Pending::disarm`]s it once the
//! thing is gone or handed over. On Ctrl-C `main` drops the command's future (which kills its children, as every
//! child is `kill_on_drop`) and then calls [`run_all`], which carries out whatever is still registered. `main` also
//! calls [`run_all`] after a command returns, so an error path that forgot an action still cleans up.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::pg::{self, ConnParams, SessionOptions, quote_ident};

/// Something to undo.
#[derive(Clone)]
pub enum Action {
    /// `DROP DATABASE name`, after ending its sessions, over a connection made with `params` (a maintenance
    /// database on the same server).
    DropDatabase { params: ConnParams, name: String },
    /// `ALTER DATABASE name ALLOW_CONNECTIONS true`.
    AllowConnections { params: ConnParams, name: String },
    /// Tell the user something about the interrupted work (e.g. what a cancelled REINDEX CONCURRENTLY leaves).
    Note { message: String },
    /// Release a store's lock that a dropped future could not release (an Azure blob lease: without this it stays
    /// held until it expires, and the next run exits 11 meanwhile).
    ReleaseLease { lease: crate::storage::LeaseRelease },
    /// Cancel the statement a session is running (a VACUUM, a REINDEX): dropping our end of the connection does not
    /// stop the server's work.
    CancelQuery {
        params: ConnParams,
        token: tokio_postgres::CancelToken,
        what: String,
    },
}

impl std::fmt::Debug for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Action {
    fn describe(&self) -> String {
        match self {
            Self::DropDatabase { name, .. } => format!("dropping the scratch database `{name}`"),
            Self::AllowConnections { name, .. } => format!("allowing connections to `{name}` again"),
            Self::CancelQuery { what, .. } => format!("cancelling {what} on the server"),
            Self::ReleaseLease { lease } => format!("releasing {}", lease.describe()),
            Self::Note { message } => message.clone(),
        }
    }
}

static PENDING: Mutex<Vec<(u64, Action)>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A registered action; dropping it leaves the action registered (that is the point: a dropped future must not
/// forget its cleanup).
#[derive(Debug)]
#[must_use = "a pending cleanup runs at exit unless disarmed"]
pub struct Pending {
    id: u64,
}

/// Registers `action` to run at exit unless disarmed.
pub fn register(action: Action) -> Pending {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    PENDING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push((id, action));
    Pending { id }
}

fn take(id: u64) -> Option<Action> {
    let mut pending = PENDING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let index = pending.iter().position(|(i, _)| *i == id)?;
    Some(pending.remove(index).1)
}

impl Pending {
    /// The action is no longer needed.
    pub fn disarm(self) {
        take(self.id);
    }

    /// Runs the action now and unregisters it; if it fails it stays registered for [`run_all`] to retry.
    ///
    /// # Errors
    /// The action failed.
    pub async fn run_now(self) -> anyhow::Result<()> {
        let Some(action) = take(self.id) else {
            return Ok(());
        };
        if let Err(err) = run(&action).await {
            PENDING
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((self.id, action));
            return Err(err);
        }
        Ok(())
    }
}

/// Runs every registered action (newest first), each bounded in time; failures are logged with what to do by hand.
pub async fn run_all() {
    loop {
        let next = PENDING.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
        let Some((_, action)) = next else {
            return;
        };
        if let Action::Note { message } = &action {
            tracing::warn!("{message}");
            continue;
        }
        tracing::warn!("cleaning up: {}", action.describe());
        match tokio::time::timeout(Duration::from_secs(30), run(&action)).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::error!("cleanup failed ({}): {err:#}; do it by hand", action.describe()),
            Err(_) => tracing::error!("cleanup timed out ({}); do it by hand", action.describe()),
        }
    }
}

async fn run(action: &Action) -> anyhow::Result<()> {
    match action {
        Action::DropDatabase { params, name } => drop_database(params, name).await,
        Action::CancelQuery { params, token, .. } => pg::cancel(token, params).await,
        Action::ReleaseLease { lease } => lease.release().await,
        // `run_all` has logged it already.
        Action::Note { .. } => Ok(()),
        Action::AllowConnections { params, name } => {
            let client = pg::connect(params, SessionOptions::default()).await?;
            client
                .batch_execute(&format!("ALTER DATABASE {} ALLOW_CONNECTIONS true", quote_ident(name)))
                .await
                .with_context(|| format!("Failed to allow connections to `{name}` again"))?;
            Ok(())
        }
    }
}

/// Ends the sessions on `name` (a killed pg_restore's backend may linger a moment) and drops it; retries for a
/// few seconds while sessions are still going away.
///
/// # Errors
/// The database could not be dropped.
pub async fn drop_database(params: &ConnParams, name: &str) -> anyhow::Result<()> {
    let client = pg::connect(params, SessionOptions::default()).await?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        client
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&name],
            )
            .await
            .context("Failed to end the sessions of the scratch database")?;
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
