//! One module per command; each owns its clap `XArgs` and an `async fn x(args, ctx, printer)`.
//!
//! Commands sit below the command line (`cli.rs`, `lib.rs`, `main.rs`) and above everything else: they may use
//! settings, the catalog, the lock, `pg`, `storage`, the printer and the leaves, and never `crate::cli` or the
//! crate root. [`Ctx`] is what `lib.rs` hands every command once settings are resolved.

pub(crate) mod backup;
pub(crate) mod cleanup;
pub(crate) mod config;
pub(crate) mod health;
pub(crate) mod logs;
pub(crate) mod maintenance;
pub(crate) mod notify;
pub(crate) mod restore;
pub(crate) mod retention;
pub(crate) mod schedule;
pub(crate) mod stats;

use crate::settings::GlobalSettings;

/// What every command gets besides its own arguments.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub settings: GlobalSettings,
}

impl Ctx {
    /// Connects to the configured database with the configured session settings.
    ///
    /// # Errors
    /// See [`crate::pg::connect`].
    pub(crate) async fn connect(&self) -> anyhow::Result<tokio_postgres::Client> {
        crate::pg::connect(&self.settings.db, self.settings.session).await
    }
}
