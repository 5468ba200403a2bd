//! The connection service file (`pg_service.conf`), read as libpq reads it (fe-connect.c `parseServiceInfo`,
//! `parseServiceFile`): a service named by `PGSERVICE`, `service=` in a key/value string or `?service=` in a URL
//! is a group `[name]` of `key=value` lines whose values are defaults of the layer that names it.
//!
//! Where the group is looked for, in libpq's order: the file `PGSERVICEFILE` names (an error if it does not
//! exist), else `~/.pg_service.conf` if it exists; if the group is not there, `pg_service.conf` in `PGSYSCONFDIR`
//! (default [`DEFAULT_SYSCONFDIR`], Debian's). A service found nowhere is an error, as with psql. Lines are trimmed,
//! `#` starts a comment, the first value of a key wins, and a key libpq does not know, a nested `service=` or a line
//! without `=` is an error naming the file and line. This file only reads the file into a [`Partial`]; where that
//! layer sits is decided by `ConnParams::resolve`. It never reads the environment itself: the caller passes the
//! variables.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::parse::Partial;
use crate::env_vars::EnvVars;
use crate::exit::UserError;

/// Debian's libpq `SYSCONFDIR`, where `pg_service.conf` is read when `PGSYSCONFDIR` is not set.
pub(super) const DEFAULT_SYSCONFDIR: &str = "/etc/postgresql-common";

/// The values of service `name`, and the file they came from.
///
/// # Errors
/// The service is defined nowhere, `PGSERVICEFILE` names a file that does not exist, or a line of the group is
/// malformed (exit 2).
pub(super) fn lookup(
    name: &str,
    env: &BTreeMap<&'static str, String>,
    home: Option<&Path>,
) -> Result<(Partial, PathBuf), UserError> {
    let mut searched = Vec::new();
    let user_file = match env.get(EnvVars::PGSERVICEFILE).filter(|path| !path.is_empty()) {
        Some(path) => Some(PathBuf::from(path)),
        None => home
            .map(|home| home.join(".pg_service.conf"))
            .filter(|path| path.exists()),
    };
    if let Some(path) = user_file {
        if let Some(values) = read_group(&path, name)? {
            return Ok((values, path));
        }
        searched.push(path);
    }
    let sysconfdir = env
        .get(EnvVars::PGSYSCONFDIR)
        .filter(|dir| !dir.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_SYSCONFDIR), PathBuf::from);
    let system_file = sysconfdir.join("pg_service.conf");
    if system_file.exists() {
        if let Some(values) = read_group(&system_file, name)? {
            return Ok((values, system_file));
        }
        searched.push(system_file);
    }
    let searched = if searched.is_empty() {
        "no service file exists".to_string()
    } else {
        let names: Vec<String> = searched.iter().map(|path| format!("`{}`", path.display())).collect();
        format!("searched {}", names.join(" and "))
    };
    Err(
        UserError::usage(format!("Definition of service `{name}` not found ({searched})")).with_hint(format!(
            "Add a `[{name}]` group to ~/.pg_service.conf, to the file PGSERVICEFILE names or to \
             `$PGSYSCONFDIR/pg_service.conf` (default `{DEFAULT_SYSCONFDIR}/pg_service.conf`), or stop naming the \
             service (PGSERVICE, `service=`)"
        )),
    )
}

/// The group `[name]` of the file at `path`, or `None` when the file has no such group.
fn read_group(path: &Path, name: &str) -> Result<Option<Partial>, UserError> {
    let text = fs_err::read(path).map_err(|err| {
        UserError::usage(format!("Service file `{}` could not be read: {err}", path.display()))
            .with_hint("Point PGSERVICEFILE at an existing file, or unset it")
    })?;
    let text = String::from_utf8_lossy(&text);
    let mut found: Option<Partial> = None;
    let mut seen = BTreeSet::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |what: &str| {
            UserError::usage(format!(
                "{what} in service file `{}` line {} (service `{name}`)",
                path.display(),
                index + 1
            ))
            .with_hint("Each line of a service is `key=value` with a libpq parameter name, e.g. `host=db.example.com`")
        };
        if let Some(group) = line.strip_prefix('[') {
            if found.is_some() {
                break;
            }
            if group.strip_prefix(name).is_some_and(|rest| rest.starts_with(']')) {
                found = Some(Partial::default());
            }
            continue;
        }
        let Some(values) = found.as_mut() else {
            continue;
        };
        let Some((key, value)) = line.split_once('=') else {
            return Err(bad("Syntax error (no `=`)"));
        };
        if key == "service" {
            return Err(bad("Nested `service=` is not supported"));
        }
        // libpq keeps the first value of a key.
        if seen.insert(key.to_string()) {
            values.set(key, value.to_string()).map_err(|err| bad(&err.message))?;
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&'static str, &Path)]) -> BTreeMap<&'static str, String> {
        pairs
            .iter()
            .map(|(name, path)| (*name, path.display().to_string()))
            .collect()
    }

    #[test]
    fn groups_first_value_and_file_order() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let user = dir.path().join("user.conf");
        fs_err::write(
            &user,
            "# comment\n[other]\nhost=nope\n\n  [app]  \nhost=h1\nport=6000\nhost=h2\n[next]\nuser=x\n",
        )
        .expect("write");
        let sys = dir.path().join("sys");
        fs_err::create_dir(&sys).expect("mkdir");
        fs_err::write(sys.join("pg_service.conf"), "[app]\nhost=sys\n[only_sys]\nuser=s\n").expect("write");
        let env = env(&[(EnvVars::PGSERVICEFILE, &user), (EnvVars::PGSYSCONFDIR, &sys)]);
        let (values, path) = lookup("app", &env, None).expect("found");
        assert_eq!(
            (values.host.as_deref(), values.port.as_deref()),
            (Some("h1"), Some("6000"))
        );
        assert_eq!(values.user, None);
        assert_eq!(path, user);
        let (values, path) = lookup("only_sys", &env, None).expect("found in the system file");
        assert_eq!(values.user.as_deref(), Some("s"));
        assert_eq!(path, sys.join("pg_service.conf"));
        let err = lookup("missing", &env, None).expect_err("nowhere");
        assert!(err.message.contains("`missing` not found"), "{}", err.message);
        // `[app2]` is not `[app]`.
        fs_err::write(&user, "[app2]\nhost=x\n").expect("write");
        assert_eq!(lookup("app", &env, None).expect("sys").0.host.as_deref(), Some("sys"));
    }

    #[test]
    fn bad_lines_name_the_file_and_line() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let file = dir.path().join("s.conf");
        let env = env(&[(EnvVars::PGSERVICEFILE, &file), (EnvVars::PGSYSCONFDIR, dir.path())]);
        for (text, what) in [
            ("[a]\nhost\n", "no `=`"),
            ("[a]\nservice=b\n", "Nested"),
            ("[a]\nhostaddr=1.2.3.4\n", "hostaddr"),
        ] {
            fs_err::write(&file, text).expect("write");
            let err = lookup("a", &env, None).expect_err(text);
            assert!(
                err.message.contains(what) && err.message.contains("line 2"),
                "{}",
                err.message
            );
        }
        let missing = env_missing(dir.path());
        assert!(lookup("a", &missing, None).is_err());
    }

    fn env_missing(dir: &Path) -> BTreeMap<&'static str, String> {
        env(&[(EnvVars::PGSERVICEFILE, &dir.join("missing.conf"))])
    }
}
