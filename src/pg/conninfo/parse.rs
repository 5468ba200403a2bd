//! Reading one layer of connection parameters: a `postgres://` URL or a libpq `key=value` string, and single keys
//! from the environment, into a [`Partial`] of raw strings.
//!
//! This file only splits, unquotes and percent-decodes; it never decides precedence, defaults or the meaning of a
//! value (a port that is not a number, an unknown sslmode): [`ConnParams::resolve`](super::ConnParams::resolve)
//! does that once all layers are merged, so its errors can name the layer a value came from. It must never read
//! the environment, a file or the configuration schema itself.

use std::collections::BTreeMap;

use crate::exit::UserError;

/// One layer of partial parameters (a URL, the environment, the file).
#[derive(Debug, Default, Clone)]
pub(super) struct Partial {
    pub(super) host: Option<String>,
    pub(super) port: Option<String>,
    pub(super) user: Option<String>,
    pub(super) password: Option<String>,
    pub(super) dbname: Option<String>,
    pub(super) sslmode: Option<String>,
    pub(super) sslrootcert: Option<String>,
    pub(super) passfile: Option<String>,
    pub(super) connect_timeout: Option<String>,
    pub(super) application_name: Option<String>,
    /// A service of the service file (`pg_service.conf`) whose values are this layer's defaults.
    pub(super) service: Option<String>,
}

impl Partial {
    pub(super) fn set(&mut self, key: &str, value: String) -> Result<(), UserError> {
        let slot = match key {
            "host" => &mut self.host,
            "port" => &mut self.port,
            "user" => &mut self.user,
            "password" => &mut self.password,
            "dbname" => &mut self.dbname,
            "sslmode" => &mut self.sslmode,
            "sslrootcert" => &mut self.sslrootcert,
            "passfile" => &mut self.passfile,
            "connect_timeout" => &mut self.connect_timeout,
            "application_name" => &mut self.application_name,
            "service" => &mut self.service,
            other => {
                return Err(
                    UserError::usage(format!("Unsupported connection parameter `{other}`")).with_hint(
                        "Supported: host, port, user, password, dbname, sslmode, sslrootcert, passfile, \
                     connect_timeout, application_name, service",
                    ),
                );
            }
        };
        *slot = Some(value);
        Ok(())
    }

    pub(super) fn apply(&self, label: &str, target: &mut Partial, origins: &mut BTreeMap<&'static str, String>) {
        macro_rules! take {
            ($($field:ident),*) => {$(
                if let Some(value) = &self.$field {
                    target.$field = Some(value.clone());
                    origins.insert(stringify!($field), label.to_string());
                }
            )*};
        }
        take!(
            host,
            port,
            user,
            password,
            dbname,
            sslmode,
            sslrootcert,
            passfile,
            connect_timeout,
            application_name
        );
    }
}

/// Parses `postgres://…` URLs and libpq `key=value` strings.
pub(super) fn parse_conninfo(input: &str) -> Result<Partial, UserError> {
    let trimmed = input.trim();
    if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
        parse_url(trimmed)
    } else if trimmed.contains('=') {
        parse_key_values(trimmed)
    } else {
        Err(
            UserError::usage("The database URL is neither a `postgres://` URL nor a `key=value` string")
                .with_hint("Write e.g. `postgres://user@host:5432/dbname?sslmode=verify-full` or `host=… dbname=…`"),
        )
    }
}

fn decode(part: &str) -> String {
    percent_encoding::percent_decode_str(part)
        .decode_utf8_lossy()
        .into_owned()
}

fn parse_url(input: &str) -> Result<Partial, UserError> {
    let invalid = |why: &str| {
        UserError::usage(format!("Invalid database URL: {why}")).with_hint(
            "Write e.g. `postgres://user@host:5432/dbname?sslmode=verify-full`; percent-encode `@ : / ?` in passwords",
        )
    };
    let rest = input.split_once("://").map_or(input, |(_, rest)| rest);
    let (rest, query) = rest.split_once('?').map_or((rest, None), |(a, b)| (a, Some(b)));
    let (authority, path) = rest.split_once('/').map_or((rest, None), |(a, b)| (a, Some(b)));
    let mut partial = Partial::default();
    let (userinfo, hostport) = authority
        .rsplit_once('@')
        .map_or((None, authority), |(a, b)| (Some(a), b));
    if let Some(userinfo) = userinfo {
        let (user, password) = userinfo.split_once(':').map_or((userinfo, None), |(a, b)| (a, Some(b)));
        if !user.is_empty() {
            partial.user = Some(decode(user));
        }
        // As libpq: `user:@host` gives no password (the password file is still read), not an empty one.
        if let Some(password) = password.filter(|password| !password.is_empty()) {
            partial.password = Some(decode(password));
        }
    }
    if hostport.contains(',') {
        return Err(invalid("several hosts are not supported; give one host"));
    }
    let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or_else(|| invalid("unclosed `[` in the host"))?;
        (host.to_string(), after.strip_prefix(':'))
    } else {
        let (host, port) = hostport.split_once(':').map_or((hostport, None), |(a, b)| (a, Some(b)));
        (decode(host), port)
    };
    if !host.is_empty() {
        partial.host = Some(host);
    }
    if let Some(port) = port.filter(|p| !p.is_empty()) {
        partial.port = Some(port.to_string());
    }
    if let Some(path) = path.filter(|p| !p.is_empty()) {
        partial.dbname = Some(decode(path));
    }
    for pair in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| invalid(&format!("parameter `{pair}` has no value")))?;
        partial.set(&decode(key), decode(value))?;
    }
    Ok(partial)
}

fn parse_key_values(input: &str) -> Result<Partial, UserError> {
    let mut partial = Partial::default();
    let mut chars = input.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=' && !c.is_whitespace())).collect();
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(UserError::usage(format!(
                "Invalid connection string: `{key}` is missing `=value`"
            )));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => {
                        return Err(UserError::usage(format!(
                            "Invalid connection string: unterminated quote in the value of `{key}`"
                        )));
                    }
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        partial.set(&key, value)?;
    }
    Ok(partial)
}
