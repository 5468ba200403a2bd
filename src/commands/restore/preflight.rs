//! What `restore` and `test-restore` check before they do any work, and what they warn about on the way in.
//!
//! A mistake found late costs twice: a restore that has downloaded gigabytes before it notices a bad path, or a
//! test-restore that records a healthy backup as FAILED because its spool directory was a file. So every input
//! that can be checked without the backup is checked first, and each failure is a usage error (exit 2) that
//! changes nothing: the target's name ([`check_target_name`], [`check_not_template`]), the spool directory
//! ([`check_spool_dir`]) and the JUnit path ([`check_junit_path`]); the `jobs` keys are typed in the file
//! (`dump_options::Jobs`) and resolved in `settings`.
//! Once connected, the number of pg_restore jobs is capped by the connections the server has free
//! ([`cap_jobs`]), and databases that an interrupted run left behind are named with the statement that drops
//! them ([`warn_leftovers`]).

use std::path::Path;

use anyhow::Context as _;
use chrono::{DateTime, NaiveDateTime, Utc};

use super::run::RestoreOptions;
use crate::exit::UserError;
use crate::pg::quote_ident;
use crate::printer::Printer;

/// PostgreSQL's longest identifier, in bytes (`NAMEDATALEN` - 1); a longer name is cut short by the server.
pub(super) const MAX_NAME_BYTES: usize = 63;

/// Refuses, before anything is done, a restore target that must never be replaced: template0, template1 and the
/// maintenance database (`maintenance`), an empty name, or a name PostgreSQL would cut short.
///
/// # Errors
/// A usage error (exit 2) naming the target and why.
pub(super) fn check_target_name(target: &str, maintenance: &str) -> Result<(), UserError> {
    if target.is_empty() {
        return Err(UserError::usage("The target database name is empty").with_hint("Name it with `--to NEWDB`"));
    }
    if target.len() > MAX_NAME_BYTES {
        return Err(UserError::usage(format!(
            "The target database name `{target}` is {} bytes long: PostgreSQL names are at most {MAX_NAME_BYTES} \
             bytes",
            target.len()
        ))
        .with_hint("Choose a shorter name with `--to NEWDB`"));
    }
    if target == "template0" || target == "template1" {
        return Err(template_refused(target));
    }
    if target == maintenance {
        return Err(UserError::usage(format!(
            "Cannot restore into `{target}`: it is the maintenance database campctl connects to"
        ))
        .with_hint("Restore with `--to NEWDB`, or set `[restore] maintenance_db` to another database"));
    }
    Ok(())
}

fn template_refused(target: &str) -> UserError {
    UserError::usage(format!(
        "Cannot restore into `{target}`: it is a template database, which every CREATE DATABASE copies"
    ))
    .with_hint(
        "Restore into an ordinary database with `--to NEWDB`; campctl never replaces template0, template1, the \
         maintenance database or any database marked as a template (`datistemplate`)",
    )
}

/// Refuses an existing database marked as a template (`datistemplate`), whatever its name.
///
/// # Errors
/// A usage error (exit 2), or the query failed.
pub(super) async fn check_not_template(client: &tokio_postgres::Client, target: &str) -> anyhow::Result<()> {
    let template: Option<bool> = client
        .query_opt("SELECT datistemplate FROM pg_database WHERE datname = $1", &[&target])
        .await
        .with_context(|| format!("Failed to look up database `{target}`"))?
        .map(|row| row.get(0));
    if template == Some(true) {
        return Err(template_refused(target).into());
    }
    Ok(())
}

/// Caps `options.jobs` by the connections the server has free for this role (see [`crate::pg::capacity`]),
/// keeping one for pg_restore's own leader session and one for everyone else; says so when it does.
///
/// # Errors
/// The query failed.
pub(super) async fn cap_jobs(
    client: &tokio_postgres::Client,
    options: &mut RestoreOptions,
    printer: &Printer,
) -> anyhow::Result<()> {
    if options.jobs <= 1 {
        return Ok(());
    }
    let free = crate::pg::capacity::free_connections(client, None)
        .await
        .context("Failed to count the server's free connections")?;
    let allowed = u32::try_from(free - 2).unwrap_or(0).max(1);
    if options.jobs > allowed {
        printer.warn(&format!(
            "{} pg_restore jobs asked for, but the server has {} free connections for this role; using {allowed}{}",
            options.jobs,
            free.max(0),
            if allowed == 1 {
                " (streaming, no spool file)"
            } else {
                ""
            }
        ));
        options.jobs = allowed;
    }
    Ok(())
}

/// With more than one job the archive is spooled into `dir`: it must be a directory campctl can write to (or
/// one it can create).
///
/// # Errors
/// A usage error (exit 2) naming the directory.
pub(super) fn check_spool_dir(dir: &Path) -> Result<(), UserError> {
    let hint = "Pass `--spool-dir DIR` (or set `[restore] spool_dir`) naming a writable directory, or `--jobs 1` to \
                stream without a spool file";
    // The directory itself, or the nearest ancestor that exists (the spool directory is created when missing).
    let mut existing = dir;
    while !existing.exists() {
        match existing.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => existing = parent,
            _ => {
                existing = Path::new(".");
                break;
            }
        }
    }
    if !existing.is_dir() {
        return Err(UserError::usage(format!(
            "The spool directory `{}` cannot be used: `{}` is not a directory",
            dir.display(),
            existing.display()
        ))
        .with_hint(hint));
    }
    if let Err(err) = tempfile::Builder::new().prefix(".campctl-probe-").tempfile_in(existing) {
        return Err(UserError::usage(format!(
            "The spool directory `{}` is not writable: {err}",
            existing.display()
        ))
        .with_hint(hint));
    }
    Ok(())
}

/// The JUnit report is written at the end: its directory must exist and be writable now, and the path must not
/// be a directory or a file campctl cannot replace.
///
/// # Errors
/// A usage error (exit 2) naming the path.
pub(super) fn check_junit_path(path: &Path) -> Result<(), UserError> {
    let hint = "Pass `--junit PATH` in an existing, writable directory";
    if path.is_dir() {
        return Err(UserError::usage(format!("The JUnit path `{}` is a directory", path.display())).with_hint(hint));
    }
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(UserError::usage(format!(
            "Cannot write the JUnit report `{}`: the directory `{}` does not exist",
            path.display(),
            parent.display()
        ))
        .with_hint(hint));
    }
    let writable = if path.exists() {
        fs_err::OpenOptions::new().append(true).open(path).map(drop)
    } else {
        tempfile::Builder::new()
            .prefix(".campctl-probe-")
            .tempfile_in(parent)
            .map(drop)
    };
    if let Err(err) = writable {
        return Err(
            UserError::usage(format!("Cannot write the JUnit report `{}`: {err}", path.display())).with_hint(hint),
        );
    }
    Ok(())
}

/// The tags of the databases a restore (`<db>__restore_<ts>`) or a test-restore (`<db>__test_restore_<ts>_<pid>`)
/// creates, and the command that creates them.
const SCRATCH_TAGS: [(&str, &str); 2] = [("__restore_", "restore"), ("__test_restore_", "test-restore")];

/// The command and start time a scratch database's name records, if it is one.
fn scratch_origin(name: &str) -> Option<(&'static str, DateTime<Utc>)> {
    SCRATCH_TAGS.iter().find_map(|(tag, command)| {
        let (base, rest) = name.rsplit_once(tag)?;
        let stamp = rest.get(..15)?;
        let at = NaiveDateTime::parse_from_str(stamp, "%Y%m%d_%H%M%S").ok()?;
        (!base.is_empty()).then_some((*command, at.and_utc()))
    })
}

/// Warns about restore copies and test-restore scratch databases on this server that a run older than this one
/// (`started`, whole seconds) left behind (killed with `kill -9`, or the machine went down) and that nobody is
/// connected to, with the statement that drops each.
///
/// # Errors
/// The query failed.
pub(super) async fn warn_leftovers(
    client: &tokio_postgres::Client,
    started: DateTime<Utc>,
    printer: &Printer,
) -> anyhow::Result<()> {
    let rows = client
        .query(
            "SELECT d.datname::text FROM pg_database d \
             WHERE (strpos(d.datname, '__restore_') > 0 OR strpos(d.datname, '__test_restore_') > 0) \
               AND NOT d.datistemplate \
               AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datid = d.oid) \
             ORDER BY 1",
            &[],
        )
        .await
        .context("Failed to look for databases left by interrupted restores")?;
    let started = started.timestamp();
    for row in rows {
        let name: String = row.get(0);
        let Some((command, at)) = scratch_origin(&name) else {
            continue;
        };
        if at.timestamp() >= started {
            continue;
        }
        printer.warn(&format!(
            "Database `{name}` was left by a `campctl {command}` started at {} UTC that did not finish (killed?); \
             nothing is connected to it. Drop it once you are sure: `DROP DATABASE {};`",
            at.format("%Y-%m-%d %H:%M:%S"),
            quote_ident(&name)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_01_forbidden_target_names() {
        for name in ["template0", "template1", "postgres"] {
            let err = check_target_name(name, "postgres").expect_err(name);
            assert_eq!(err.status, crate::exit::ExitStatus::Usage, "{name}");
            assert!(!err.hint.unwrap_or_default().contains("ALLOW_CONNECTIONS"), "{name}");
        }
        assert!(check_target_name("admin", "admin").is_err());
        assert!(check_target_name("postgres", "admin").is_ok());
        assert!(check_target_name("camp_backend_db", "postgres").is_ok());
    }

    #[test]
    fn item_19_names_over_63_bytes_are_refused() {
        assert!(check_target_name(&"a".repeat(63), "postgres").is_ok());
        let err = check_target_name(&"a".repeat(64), "postgres").expect_err("64 bytes");
        assert_eq!(err.status, crate::exit::ExitStatus::Usage);
        assert!(err.message.contains("64 bytes"), "{}", err.message);
        // Bytes, not characters: 32 two-byte characters are 64 bytes.
        assert!(check_target_name(&"ü".repeat(32), "postgres").is_err());
    }

    #[test]
    fn item_15_scratch_names_record_their_start() {
        let (command, at) = scratch_origin("shop__restore_20261129_030000").expect("a restore copy");
        assert_eq!(command, "restore");
        assert_eq!(at.format("%Y%m%d_%H%M%S").to_string(), "20261129_030000");
        let (command, _) = scratch_origin("shop__test_restore_20261129_030000_4242").expect("a scratch database");
        assert_eq!(command, "test-restore");
        assert!(scratch_origin("shop__pre_restore_20261129_030000").is_none());
        assert!(scratch_origin("shop__restore_later").is_none());
        assert!(scratch_origin("__restore_20261129_030000").is_none());
    }
}
