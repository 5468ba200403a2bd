//! `campctl config check`: every section of the configuration, the database, every store, and pg_dump.
//!
//! Sections are validated in [`super::sections`], with the parsers the commands themselves use. Each store is
//! then probed ([`crate::storage::probe`]): one page is listed and a small object is written and deleted, since
//! whether a credential may write can only be learnt by writing.
//!
//! The exit code: a database that cannot be reached ends the check at once with that error's own code (the
//! invalid sections are named in warnings first). Otherwise the report is printed, and the code is 2 when a
//! section is invalid; else 12 when a store rejected its credential; else the code of the first other failure
//! (2 for an unreachable store, 1 for pg_dump).

use super::check_report::{Check, CheckReport, StoreAccess};
use super::sections::section_checks;
use crate::commands::Ctx;
use crate::exit::ExitStatus;
use crate::printer::Printer;
use crate::storage::Store;

/// Runs `campctl config check`.
///
/// # Errors
/// Only when stdout cannot be written: every problem found is a line of the report and decides the exit code.
pub(super) async fn check(ctx: &Ctx, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let settings = &ctx.settings;
    let mut checks = vec![Check::pass(
        "config_file",
        settings.config.path.as_ref().map_or_else(
            || "no file found; using the environment and built-in defaults".to_string(),
            |path| match &settings.config.profile {
                Some(profile) => format!("`{}` is valid TOML (profile `{profile}`)", path.display()),
                None => format!("`{}` is valid TOML", path.display()),
            },
        ),
    )];
    // The connection first: when it fails, that error ends the check with its own exit code (2 unreachable,
    // 10 no such database or role, 12 authentication), after a warning for each invalid section.
    let (database, server_version) = match database_checks(ctx).await {
        Ok(found) => found,
        Err(err) => {
            let mut sections = Vec::new();
            section_checks(ctx, &mut sections);
            for check in sections.iter().filter(|check| !check.ok) {
                printer.warn(&format!("{}: {}", check.name, check.detail));
            }
            return Err(err);
        }
    };
    checks.extend(database);
    // config_file, database, session and pg_dump first, in this order, as before sections and stores were checked.
    checks.push(pg_dump_check(&server_version).await);
    let stores = section_checks(ctx, &mut checks);
    for store in &stores {
        checks.push(store_check(store).await);
    }
    let status = overall(&checks);
    printer.report(&CheckReport {
        ok: status == ExitStatus::Success,
        exit_code: status.code(),
        checks,
    })?;
    Ok(status)
}

/// 2 for an invalid section first, then 12 for a rejected credential, then the first other failure.
fn overall(checks: &[Check]) -> ExitStatus {
    if checks.iter().any(|check| !check.ok && check.section) {
        ExitStatus::Usage
    } else if checks.iter().any(|check| check.status == ExitStatus::Auth) {
        ExitStatus::Auth
    } else {
        checks
            .iter()
            .find(|check| !check.ok)
            .map_or(ExitStatus::Success, |check| check.status)
    }
}

/// The connection and the session settings in effect, and the server's version.
async fn database_checks(ctx: &Ctx) -> anyhow::Result<(Vec<Check>, String)> {
    let settings = &ctx.settings;
    let client = ctx.connect().await?;
    let row = client
        .query_one(
            "SELECT current_setting('server_version'), current_user::text, current_database()::text, \
             coalesce((SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl), 'no TLS'), \
             current_setting('statement_timeout'), current_setting('lock_timeout'), \
             current_setting('application_name')",
            &[],
        )
        .await?;
    let text = |index: usize| {
        row.try_get::<_, Option<String>>(index)
            .ok()
            .flatten()
            .unwrap_or_default()
    };
    let checks = vec![
        Check::pass(
            "database",
            format!(
                "connected to `{}` as `{}`, database `{}`, PostgreSQL {}, {} (sslmode={})",
                settings.db.target(),
                text(1),
                text(2),
                text(0),
                text(3),
                settings.db.sslmode
            ),
        ),
        Check::pass(
            "session",
            format!(
                "statement_timeout={} lock_timeout={} application_name={}",
                text(4),
                text(5),
                text(6)
            ),
        ),
    ];
    Ok((checks, text(0)))
}

/// Lists one page of the store and writes and deletes a probe object.
async fn store_check(store: &Store) -> Check {
    let name = format!("store {}", store.kind());
    let label = store.label();
    let who = match store {
        Store::Local(_) => "this user".to_string(),
        Store::Azure(azure) => azure.settings().auth.describe(),
    };
    let probe = store.probe().await;
    let mut check = match (&probe.list, &probe.write) {
        (Err(err), _) => Check::error(&name, err),
        (Ok(listing), write) => {
            let listed = if !listing.exists {
                format!("`{label}` did not exist yet")
            } else if listing.more {
                format!("`{label}`: listed the first {} entries (more exist)", listing.entries)
            } else {
                format!("`{label}`: listed {} entries", listing.entries)
            };
            if let Some(Err(err)) = write {
                let mut check = Check::error(&name, err);
                check.detail = format!("{listed}; {who} cannot write: {}", check.detail);
                check
            } else {
                let created = if listing.exists {
                    ""
                } else {
                    " (which created it, as the first backup would)"
                };
                Check::pass(
                    &name,
                    format!("{listed}; wrote and deleted a probe object{created}: {who} can write"),
                )
            }
        }
    };
    check.access = Some(StoreAccess {
        can_list: probe.list.is_ok(),
        can_write: probe.write.as_ref().map(Result::is_ok),
    });
    check
}

/// `pg_dump` must exist and be at least the server's major version (DESIGN.md, "Safety rules").
async fn pg_dump_check(server_version: &str) -> Check {
    let server_major: Option<u32> = server_version.split(['.', ' ']).next().and_then(|m| m.parse().ok());
    let output = match tokio::process::Command::new("pg_dump").arg("--version").output().await {
        Ok(output) => output,
        Err(err) => {
            return Check::fail(
                "pg_dump",
                ExitStatus::Failure,
                format!("`pg_dump` cannot be run: {err}; install the PostgreSQL client"),
            );
        }
    };
    let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let major: u32 = text
        .rsplit(' ')
        .next()
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    match server_major {
        None => Check::pass("pg_dump", format!("{text} (the server's version is unknown)")),
        Some(server_major) if major >= server_major => {
            Check::pass("pg_dump", format!("{text} (server {server_major})"))
        }
        Some(server_major) => Check::fail(
            "pg_dump",
            ExitStatus::Failure,
            format!("{text} is older than the server ({server_major}); install postgresql-client-{server_major}"),
        ),
    }
}
