//! Parallel sessions for maintenance statements: one work item (a table's statements) per session at a time, as
//! vacuumdb and reindexdb do, capped by the server's free connections.
//!
//! While a statement runs, a cancel of it is registered with [`crate::interrupt`]: on Ctrl-C `main` sends the
//! protocol's cancel request, because closing our end of the connection would not stop a running VACUUM FULL or
//! REINDEX on the server. The server's notices are read per statement, so that `SKIP_LOCKED`'s "skipping …" warning
//! turns into a skipped item instead of a silent success.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::mpsc::UnboundedReceiver;
use tokio_postgres::Client;
use tokio_postgres::error::{DbError, SqlState};

use crate::interrupt;
use crate::pg::{self, ConnParams, SessionOptions};
use crate::printer::Printer;
use crate::progress::Items;

/// How a lock timeout's message starts in [`Outcome::Failed`].
const LOCK_TIMEOUT: &str = "lock timeout: ";

/// One maintenance session.
pub(crate) struct Session {
    client: Client,
    notices: UnboundedReceiver<DbError>,
    params: ConnParams,
}

/// How one work item ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Done,
    /// Not done because a lock was not available (`SKIP_LOCKED`): the server's message.
    Skipped(String),
    /// The statement failed (lock timeout, statement timeout, …): the server's message, and its SQLSTATE when the
    /// server sent one (a unique violation is told apart by it).
    Failed(String, Option<SqlState>),
}

impl Outcome {
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Skipped(_) => "skipped",
            Self::Failed(..) => "FAILED",
        }
    }

    pub(crate) fn detail(&self) -> Option<&str> {
        match self {
            Self::Done => None,
            Self::Skipped(message) | Self::Failed(message, _) => Some(message),
        }
    }

    /// The SQLSTATE of a failure, when the server sent one.
    pub(crate) fn code(&self) -> Option<&SqlState> {
        match self {
            Self::Failed(_, code) => code.as_ref(),
            Self::Done | Self::Skipped(_) => None,
        }
    }
}

/// The statements of one item (run in order, one session; the first failure or skip ends the item).
#[derive(Debug, Clone)]
pub(crate) struct Work {
    /// What it is about, e.g. `public.users`: for progress and cancel messages.
    pub label: String,
    pub statements: Vec<String>,
}

/// The result of one [`Work`], in input order.
#[derive(Debug, Clone)]
pub(crate) struct Finished {
    pub outcome: Outcome,
    pub seconds: f64,
}

impl Session {
    /// Runs one statement with a registered cancel; classifies the result.
    pub(crate) async fn run(&mut self, sql: &str, label: &str) -> Outcome {
        while self.notices.try_recv().is_ok() {}
        let cancel = interrupt::register(interrupt::Action::CancelQuery {
            params: self.params.clone(),
            token: self.client.cancel_token(),
            what: format!("the maintenance of `{label}`"),
        });
        tracing::debug!("running `{sql}`");
        let result = self.client.batch_execute(sql).await;
        cancel.disarm();
        if let Err(err) = result {
            let message = err.as_db_error().map_or_else(
                || format!("{err}"),
                |db| {
                    let what = match *db.code() {
                        SqlState::LOCK_NOT_AVAILABLE => LOCK_TIMEOUT,
                        SqlState::QUERY_CANCELED => "cancelled (statement_timeout?): ",
                        _ => "",
                    };
                    format!("{what}{}", db.message())
                },
            );
            return Outcome::Failed(message, err.code().cloned());
        }
        // The warning arrives before the command completes, so it is queued by now.
        while let Ok(notice) = self.notices.try_recv() {
            if *notice.code() == SqlState::LOCK_NOT_AVAILABLE {
                return Outcome::Skipped(notice.message().to_string());
            }
            // "skipping "t" --- only table or database owner can vacuum it": the server did not do the work asked
            // for. Unlike SKIP_LOCKED, nobody asked for that: a failure.
            if notice.message().starts_with("skipping ") {
                return Outcome::Failed(notice.message().to_string(), None);
            }
            tracing::debug!("notice: {}", notice.message());
        }
        Outcome::Done
    }
}

/// Opens up to `wanted` sessions, fewer when the server has fewer free connections (one is always opened).
///
/// # Errors
/// The first connection failed.
pub(crate) async fn open(
    params: &ConnParams,
    options: SessionOptions,
    wanted: usize,
    printer: &Printer,
) -> anyhow::Result<Vec<Session>> {
    let (client, notices) = pg::connect_with_notices(params, options).await?;
    let free = pg::capacity::free_connections(&client, Some(&params.dbname)).await?;
    // Leave one connection free for everyone else.
    let allowed = usize::try_from(free - 1).unwrap_or(0) + 1;
    let count = wanted.max(1).min(allowed);
    if count < wanted {
        printer.warn(&format!(
            "--jobs {wanted}: the server has {} free connections; using {count}",
            free.max(0)
        ));
    }
    let mut sessions = vec![Session {
        client,
        notices,
        params: params.clone(),
    }];
    // The others at once: each connection costs a round trip or three (TLS, authentication).
    let more = futures::future::try_join_all((1..count).map(|_| pg::connect_with_notices(params, options))).await?;
    sessions.extend(more.into_iter().map(|(client, notices)| Session {
        client,
        notices,
        params: params.clone(),
    }));
    Ok(sessions)
}

/// Runs every item on the sessions in parallel (each session takes the next item when it is free) and returns the
/// results in input order. `setup` runs once on every session first (e.g. `SET default_statistics_target = 1`).
/// The first failure or skip ends an item.
pub(crate) async fn run_all(
    sessions: &mut [Session],
    setup: &[String],
    items: &[Work],
    progress: &Items,
) -> Vec<Finished> {
    run_items(sessions, setup, items, progress, false)
        .await
        .into_iter()
        .map(|steps| {
            let seconds = steps.iter().map(|step| step.seconds).sum();
            let outcome = steps
                .into_iter()
                .map(|step| step.outcome)
                .find(|outcome| *outcome != Outcome::Done)
                .unwrap_or(Outcome::Done);
            Finished { outcome, seconds }
        })
        .collect()
}

/// [`run_all`], but every statement of an item runs even after one failed (one index of a table failing does not
/// stop the next), and each statement's result is returned: `result[item][statement]`.
pub(crate) async fn run_each(
    sessions: &mut [Session],
    setup: &[String],
    items: &[Work],
    progress: &Items,
) -> Vec<Vec<Finished>> {
    run_items(sessions, setup, items, progress, true).await
}

async fn run_items(
    sessions: &mut [Session],
    setup: &[String],
    items: &[Work],
    progress: &Items,
    keep_going: bool,
) -> Vec<Vec<Finished>> {
    let queue = Arc::new(Mutex::new((0..items.len()).collect::<VecDeque<usize>>()));
    let results: Arc<Mutex<Vec<Option<Vec<Finished>>>>> = Arc::new(Mutex::new(vec![None; items.len()]));
    let workers = sessions.iter_mut().map(|session| {
        let queue = queue.clone();
        let results = results.clone();
        async move {
            for sql in setup {
                if let Outcome::Failed(message, _) = session.run(sql, "session setup").await {
                    tracing::warn!("`{sql}` failed: {message}");
                }
            }
            loop {
                let next = queue
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .pop_front();
                let Some(index) = next else {
                    return;
                };
                let work = &items[index];
                progress.start_one(&work.label);
                let mut steps = Vec::with_capacity(work.statements.len());
                let mut first_problem = Outcome::Done;
                for sql in &work.statements {
                    let started = Instant::now();
                    let outcome = session.run(sql, &work.label).await;
                    let done = outcome == Outcome::Done;
                    if !done && first_problem == Outcome::Done {
                        first_problem = outcome.clone();
                    }
                    steps.push(Finished {
                        outcome,
                        seconds: started.elapsed().as_secs_f64(),
                    });
                    // A lock that timed out on one statement will time out on the next ones of the same table
                    // too (and each failed REINDEX CONCURRENTLY would leave a `_ccnew`): stop there.
                    let lock_timeout = matches!(&steps.last().map(|s: &Finished| &s.outcome),
                        Some(Outcome::Failed(message, _)) if message.starts_with(LOCK_TIMEOUT));
                    if !done && (!keep_going || lock_timeout) {
                        if keep_going {
                            while steps.len() < work.statements.len() {
                                steps.push(Finished {
                                    outcome: Outcome::Failed(
                                        "not tried: an earlier statement on this table hit the lock timeout".into(),
                                        None,
                                    ),
                                    seconds: 0.0,
                                });
                            }
                        }
                        break;
                    }
                }
                let problem = first_problem
                    .detail()
                    .map(|detail| format!("{} ({detail})", first_problem.label()));
                progress.finish_one(&work.label, problem.as_deref());
                results.lock().unwrap_or_else(std::sync::PoisonError::into_inner)[index] = Some(steps);
            }
        }
    });
    futures::future::join_all(workers).await;
    let results = std::mem::take(&mut *results.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    results
        .into_iter()
        .zip(items)
        .map(|(steps, work)| {
            steps.unwrap_or_else(|| {
                vec![
                    Finished {
                        outcome: Outcome::Failed("not run".into(), None),
                        seconds: 0.0,
                    };
                    work.statements.len().max(1)
                ]
            })
        })
        .collect()
}
