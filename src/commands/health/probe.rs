//! [`Probe`]: what every check may use. Its own file, below the check families and the runner, so that the
//! families import it without a circle through the runner that starts them.

use super::catalogs::SharedCatalogs;
use super::database::session::SharedSession;
use super::log_files::SharedRequests;
use super::settings::HealthSettings;
use super::state::State;
use crate::commands::Ctx;

/// What every check may use: the settings, the command's context and the state of the last run.
pub(crate) struct Probe<'a> {
    pub settings: &'a HealthSettings,
    pub ctx: &'a Ctx,
    pub state: &'a State,
    /// The one PostgreSQL session of the run, opened by the first database check that needs it.
    pub db: SharedSession,
    /// The stores' catalogs, read once by the first backup check that needs them.
    pub catalogs: SharedCatalogs,
    /// The application's log files, read once by the first log check that needs them.
    pub requests: SharedRequests,
}
