//! [`ConnParams`] as the environment of a child `pg_dump` / `pg_restore` / `psql`, so that the tools reach the same
//! server as campctl's own connection, with the same TLS mode.
//!
//! The password travels only here, in the child's environment: it must never be put into argv, where `ps` shows it.
//! The libpq variables campctl does not model (`PGOPTIONS`, `PGHOSTADDR`, …) and the service ones it has already
//! resolved (`PGSERVICE`, `PGSERVICEFILE`, `PGSYSCONFDIR`) are removed, so an operator's shell
//! cannot point the tools somewhere else.

use super::{ConnParams, WAIT_FOREVER};
use crate::env_vars::EnvVars;

impl ConnParams {
    /// The environment of a child `pg_dump` / `pg_restore` / `psql`: every libpq variable campctl resolves is set
    /// (the password only here, never in argv), and the ones it does not model are removed.
    pub fn child_env(&self) -> (Vec<(&'static str, String)>, Vec<&'static str>) {
        let mut set = vec![
            (EnvVars::PGHOST, self.host.clone()),
            (EnvVars::PGPORT, self.port.to_string()),
            (EnvVars::PGUSER, self.user.clone()),
            (EnvVars::PGDATABASE, self.dbname.clone()),
            (EnvVars::PGSSLMODE, self.sslmode.to_string()),
            (
                EnvVars::PGCONNECT_TIMEOUT,
                if self.connect_timeout == WAIT_FOREVER {
                    "0".to_string()
                } else {
                    self.connect_timeout.as_secs().to_string()
                },
            ),
            (EnvVars::PGAPPNAME, self.application_name.clone()),
        ];
        let mut remove = vec![
            "PGHOSTADDR",
            // campctl has read the service already; its values are set above.
            EnvVars::PGSERVICE,
            EnvVars::PGSERVICEFILE,
            EnvVars::PGSYSCONFDIR,
            "PGSSLCERT",
            "PGSSLKEY",
            "PGOPTIONS",
        ];
        if let Some(path) = &self.sslrootcert {
            set.push((EnvVars::PGSSLROOTCERT, path.display().to_string()));
        } else {
            remove.push(EnvVars::PGSSLROOTCERT);
        }
        if let Some(password) = &self.password {
            set.push((EnvVars::PGPASSWORD, password.expose().to_string()));
            remove.push(EnvVars::PGPASSFILE);
        } else {
            remove.push(EnvVars::PGPASSWORD);
            if self.auth == super::AuthMethod::Entra {
                // The token comes from `ConnParams::fresh`; a password file is not read instead.
                remove.push(EnvVars::PGPASSFILE);
            } else if let Some(path) = &self.passfile {
                set.push((EnvVars::PGPASSFILE, path.display().to_string()));
            } else {
                remove.push(EnvVars::PGPASSFILE);
            }
        }
        (set, remove)
    }
}
