//! The one PostgreSQL session of a health run, opened by the first database check that needs it; the others wait
//! for it and pipeline their queries on it.

use std::time::Instant;

use tokio_postgres::Client;

use crate::commands::Ctx;

/// The session of one run, opened on first use.
#[derive(Default)]
pub(crate) struct SharedSession {
    cell: tokio::sync::OnceCell<Result<Connected, String>>,
}

/// An open session and how long opening it took.
pub(crate) struct Connected {
    pub client: Client,
    pub connect_seconds: f64,
}

impl SharedSession {
    /// The session, connecting if no check did yet; `Err` is the first line of the connection error, without the
    /// password.
    pub(crate) async fn get(&self, ctx: &Ctx) -> Result<&Connected, &str> {
        let connected = self
            .cell
            .get_or_init(|| async {
                let started = Instant::now();
                match ctx.connect().await {
                    Ok(client) => Ok(Connected {
                        client,
                        connect_seconds: started.elapsed().as_secs_f64(),
                    }),
                    Err(err) => Err(first_line(&format!("{err:#}"), ctx)),
                }
            })
            .await;
        connected.as_ref().map_err(String::as_str)
    }
}

impl std::fmt::Debug for SharedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedSession")
            .field("connected", &self.cell.get().map(Result::is_ok))
            .finish()
    }
}

/// The first line of `text`, with the password (if any) blanked out.
pub(crate) fn first_line(text: &str, ctx: &Ctx) -> String {
    let line = text.lines().next().unwrap_or_default().to_string();
    match &ctx.settings.db.password {
        Some(password) if !password.expose().is_empty() => line.replace(password.expose(), "********"),
        _ => line,
    }
}
