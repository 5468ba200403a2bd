//! The libpq password file (`~/.pgpass`, `PGPASSFILE`, `passfile`): the first line whose host, port, database and
//! user match gives the password, read as libpq's `passwordFromFile` reads it (fe-connect.c).
//!
//! The rules, each as libpq has them: a field that is exactly `*` matches anything (`\*` is a literal star); `\:`
//! and `\\` are escapes; the password ends at the first unescaped `:`; a line that starts with `#` is a comment.
//! A unix socket connection is looked up by its socket directory, and only the default directory
//! ([`DEFAULT_SOCKET_DIR`](super::DEFAULT_SOCKET_DIR)) is also called `localhost`. A path that is not a plain file
//! (a directory) and a file with group or world access are ignored with a warning.
//!
//! This file only reads and matches; it never decides which file to read, and it must never put the password
//! anywhere but its return value.

use std::path::Path;

/// What the password file says for one connection.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Passfile {
    /// No file, an unreadable one, or no matching line.
    NoMatch,
    /// The file is ignored (not a plain file, or group or world access); the warning to show.
    Ignored(String),
    /// The password of the first matching line.
    Password(String),
}

/// The name a connection to `host` has in the password file: the host name, the socket directory, or `localhost`
/// for the default socket directory (libpq: "'localhost' matches pghost of '' or the default socket directory").
pub(super) fn host_key<'a>(host: &'a str, default_socket_dir: &str) -> &'a str {
    if host.is_empty() || host == default_socket_dir {
        "localhost"
    } else {
        host
    }
}

/// Looks up the password for `host:port/dbname` as `user` in the file at `path` (`host` as [`host_key`] names
/// it).
pub(super) fn lookup(path: &Path, host: &str, port: u16, dbname: &str, user: &str) -> Passfile {
    // libpq: no lookup without a database or a user name.
    if dbname.is_empty() || user.is_empty() {
        return Passfile::NoMatch;
    }
    let Ok(meta) = fs_err::metadata(path) else {
        return Passfile::NoMatch;
    };
    if !meta.is_file() {
        return Passfile::Ignored(format!(
            "password file `{}` is not a plain file and is ignored; point PGPASSFILE (or `passfile`) at the file \
             itself",
            path.display()
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            return Passfile::Ignored(format!(
                "password file `{}` has group or world access and is ignored; permissions should be u=rw (0600) \
                 or less (`chmod 600 {}`)",
                path.display(),
                path.display()
            ));
        }
    }
    let Ok(text) = fs_err::read(path) else {
        return Passfile::NoMatch;
    };
    let text = String::from_utf8_lossy(&text);
    let port = port.to_string();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields = fields(line);
        let [h, p, d, u, password, ..] = fields.as_slice() else {
            continue;
        };
        let matches = |field: &Field, value: &str| field.wildcard || field.text == value;
        if matches(h, host) && matches(p, &port) && matches(d, dbname) && matches(u, user) {
            tracing::debug!("password for `{user}` taken from `{}`", path.display());
            return Passfile::Password(password.text.clone());
        }
    }
    Passfile::NoMatch
}

/// One field of a line: its text with the escapes removed, and whether it was exactly `*`.
struct Field {
    text: String,
    wildcard: bool,
}

/// The fields of a line: four `:`-separated ones and the password, which ends at the next unescaped `:` (libpq
/// reads no further). A line with fewer than five fields has no password and never matches.
fn fields(line: &str) -> Vec<Field> {
    let mut fields = Vec::new();
    let mut text = String::new();
    let mut raw = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                raw.push(c);
                if let Some(escaped) = chars.next() {
                    raw.push(escaped);
                    text.push(escaped);
                }
            }
            ':' => {
                fields.push(Field {
                    wildcard: raw == "*",
                    text: std::mem::take(&mut text),
                });
                raw.clear();
                if fields.len() == 5 {
                    return fields;
                }
            }
            c => {
                raw.push(c);
                text.push(c);
            }
        }
    }
    if fields.len() == 4 {
        fields.push(Field { wildcard: false, text });
    }
    fields
}

/// A line's fields with the escapes removed (the five of a complete line; the password ends at an unescaped `:`).
#[cfg(test)]
pub(super) fn split_pgpass_line(line: &str) -> Vec<String> {
    fields(line).into_iter().map(|field| field.text).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let path = dir.join(".pgpass");
        fs_err::write(&path, text).expect("write");
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        path
    }

    #[test]
    fn pgpass_escapes() {
        let fields: Vec<String> = fields(r"h:5432:*:u:pa\:ss\\").into_iter().map(|f| f.text).collect();
        assert_eq!(fields, vec!["h", "5432", "*", "u", r"pa:ss\"]);
    }

    #[test]
    fn item_09_an_unescaped_colon_ends_the_password() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = write(dir.path(), "h:5432:*:u:pass:word\n");
        assert_eq!(lookup(&path, "h", 5432, "db", "u"), Passfile::Password("pass".into()));
        let path = write(dir.path(), "h:5432:*:u:pass\\:word\r\n");
        assert_eq!(
            lookup(&path, "h", 5432, "db", "u"),
            Passfile::Password("pass:word".into())
        );
    }

    #[test]
    fn item_09_a_directory_as_password_file_is_named() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let warning = lookup(dir.path(), "h", 5432, "db", "u");
        assert!(
            matches!(&warning, Passfile::Ignored(text) if text.contains("not a plain file")),
            "{warning:?}"
        );
    }

    #[test]
    fn item_05_a_socket_is_looked_up_by_its_directory() {
        assert_eq!(host_key("/tmp/sock", "/var/run/postgresql"), "/tmp/sock");
        assert_eq!(host_key("/var/run/postgresql", "/var/run/postgresql"), "localhost");
        assert_eq!(host_key("", "/var/run/postgresql"), "localhost");
        assert_eq!(host_key("db.example.com", "/var/run/postgresql"), "db.example.com");
    }

    #[test]
    fn only_a_whole_star_is_a_wildcard() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = write(dir.path(), "\\*:*:*:u:literal\nh*:*:*:u:prefix\n*:*:*:u:any\n");
        assert_eq!(lookup(&path, "*", 1, "db", "u"), Passfile::Password("literal".into()));
        assert_eq!(lookup(&path, "hx", 1, "db", "u"), Passfile::Password("any".into()));
    }

    #[test]
    fn the_first_matching_line_wins_and_an_open_file_is_ignored() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = write(
            dir.path(),
            "# comment\nother:5432:*:u:no\nlocalhost:*:app:u:first\n*:*:*:*:second\n",
        );
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
            matches!(lookup(&path, "localhost", 5432, "app", "u"), Passfile::Ignored(w) if w.contains("chmod 600"))
        );
    }
}
