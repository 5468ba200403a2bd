//! The libpq password file (`~/.pgpass`, `PGPASSFILE`, `passfile`): the first line whose host, port, database and
//! user match (`*` matches anything; `\:` and `\\` are escapes) gives the password.
//!
//! Like libpq, a file with group or world access is ignored with a warning. This file only reads and matches; it
//! never decides which file to read or what a socket connection is called (the caller passes `localhost` for a
//! socket, as libpq does), and it must never put the password anywhere but its return value.

use std::path::Path;

/// What the password file says for one connection.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Passfile {
    /// No file, an unreadable one, or no matching line.
    NoMatch,
    /// The file has group or world access and is ignored; the warning to show.
    Insecure(String),
    /// The password of the first matching line.
    Password(String),
}

/// Looks up the password for `host:port/dbname` as `user` in the file at `path`.
pub(super) fn lookup(path: &Path, host: &str, port: u16, dbname: &str, user: &str) -> Passfile {
    let Ok(text) = fs_err::read_to_string(path) else {
        return Passfile::NoMatch;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs_err::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            return Passfile::Insecure(format!(
                "password file `{}` has group or world access and is ignored; permissions should be u=rw (0600) \
                 or less (`chmod 600 {}`)",
                path.display(),
                path.display()
            ));
        }
    }
    let port = port.to_string();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_pgpass_line(line);
        let [h, p, d, u, password] = fields.as_slice() else {
            continue;
        };
        let matches = |pattern: &str, value: &str| pattern == "*" || pattern == value;
        if matches(h, host) && matches(p, &port) && matches(d, dbname) && matches(u, user) {
            tracing::debug!("password for `{user}` taken from `{}`", path.display());
            return Passfile::Password(password.clone());
        }
    }
    Passfile::NoMatch
}

pub(super) fn split_pgpass_line(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields.last_mut().expect("one field").extend(chars.next()),
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut().expect("one field").push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgpass_escapes() {
        assert_eq!(
            split_pgpass_line(r"h:5432:*:u:pa\:ss\\"),
            vec!["h", "5432", "*", "u", r"pa:ss\"]
        );
    }

    #[test]
    fn the_first_matching_line_wins_and_an_open_file_is_ignored() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join(".pgpass");
        fs_err::write(
            &path,
            "# comment\nother:5432:*:u:no\nlocalhost:*:app:u:first\n*:*:*:*:second\n",
        )
        .expect("write");
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert_eq!(
            lookup(&path, "localhost", 5432, "app", "u"),
            Passfile::Password("first".into())
        );
        assert_eq!(lookup(&path, "db", 6000, "x", "v"), Passfile::Password("second".into()));
        assert_eq!(
            lookup(&dir.path().join("missing"), "localhost", 5432, "app", "u"),
            Passfile::NoMatch
        );
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(
            matches!(lookup(&path, "localhost", 5432, "app", "u"), Passfile::Insecure(w) if w.contains("chmod 600"))
        );
    }
}
