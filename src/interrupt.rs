//! The interrupt registry: work that must happen however a command ends (Ctrl-C and SIGTERM included): dropping a
//! scratch database, opening a database to connections again, releasing a backup's blob lease. (Named for what it
//! undoes; the `cleanup` command, which applies retention, is another thing.) DESIGN.md: "Ctrl-C / SIGTERM: children are killed, uploads are not committed, scratch databases are
//! dropped, exit 130".
//!
//! A command [`register`]s an action before it creates what the action undoes and [`Pending::disarm`]s it once the
//! thing is gone or handed over. On Ctrl-C `main` drops the command's future (which kills its children, as every
//! child is `kill_on_drop`) and then calls [`run_all`], which carries out whatever is still registered. `main` also
//! calls [`run_all`] after a command returns, so an error path that forgot an action still cleans up.
//!
//! The actions say what to undo; the statements themselves live with the other database primitives in
//! [`crate::pg::database`] (dropping after ending the sessions, `ALLOW_CONNECTIONS`), so a restore and its undo
//! cannot drift apart. This registry must never decide anything itself: it only runs what a command registered.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::pg::{self, ConnParams, SessionOptions, database};

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
        Action::DropDatabase { params, name } => database::drop_database(params, name).await,
        Action::CancelQuery { params, token, .. } => pg::cancel(token, params).await,
        Action::ReleaseLease { lease } => lease.release().await,
        // `run_all` has logged it already.
        Action::Note { .. } => Ok(()),
        Action::AllowConnections { params, name } => {
            let client = pg::connect(params, SessionOptions::default()).await?;
            database::set_allow_connections(&client, name, true).await
        }
    }
}

/// The exit status a command that runs until it is stopped wants when Ctrl-C or SIGTERM stops it, instead of 130:
/// `health --watch` ends with the status of the last run it showed.
static STATUS_ON_INTERRUPT: Mutex<Option<crate::exit::ExitStatus>> = Mutex::new(None);

/// Says which exit status an interrupt should end the run with from now on.
pub fn set_status_on_interrupt(status: crate::exit::ExitStatus) {
    if let Ok(mut slot) = STATUS_ON_INTERRUPT.lock() {
        *slot = Some(status);
    }
}

/// The exit status of an interrupted run: 130, unless the command said otherwise.
pub fn status_on_interrupt() -> crate::exit::ExitStatus {
    STATUS_ON_INTERRUPT
        .lock()
        .ok()
        .and_then(|slot| *slot)
        .unwrap_or(crate::exit::ExitStatus::Interrupted)
}
