//! The layers of one connection, merged: which value wins, which service applies, and which password may be sent.
//!
//! Layers, lowest first: `[database]` of the file (its `url`, then its keys), the profile's `[database]` (likewise),
//! each libpq variable, then `--db-url` / `DATABASE_URL`. A value of a higher layer replaces the same value of a
//! lower one; an empty value (`dbname=''`) replaces it too and then means the default, as in libpq. The service
//! named by the highest layer that names one is read from the service file and sits just below that layer (below
//! all the variables for `PGSERVICE`, which libpq reads before the other variables).
//!
//! The password rule (the reason this file exists): a password belongs to the user, host and port that the layers
//! up to its own resolve to (for a service, up to the layer naming it). If the final connection differs in any of
//! them, that password is not used: the next lower password that does belong to it is, else the password file.
//! `PGPASSWORD` belongs to whatever the final connection is, as in libpq. This file never reads the environment or
//! the configuration schema: everything arrives in [`ConnSources`].

use std::path::Path;

use super::parse::{Partial, parse_conninfo};
use super::token::AuthMethod;
use super::{ConnSources, DEFAULT_SOCKET_DIR, FileKeys, Origins, service};
use crate::env_vars::EnvVars;
use crate::exit::UserError;

/// One layer's values, where they came from, and whom its password belongs to.
struct Layer {
    label: String,
    values: Partial,
    /// The layer through which the user, host and port of this layer's password are resolved; `None` when the
    /// password belongs to whatever the final connection is (`PGPASSWORD`).
    owner: Option<usize>,
    env: bool,
    /// `[database] auth` of a file layer. `entra` stands for a password (the token) that belongs, like any
    /// password, to the user, host and port this layer resolves to; `password` turns off a lower layer's `entra`.
    auth: Option<AuthMethod>,
}

/// The built-in host: the default socket directory when it exists, else `localhost`.
pub(super) fn default_host() -> String {
    if Path::new(DEFAULT_SOCKET_DIR).is_dir() {
        DEFAULT_SOCKET_DIR.into()
    } else {
        "localhost".into()
    }
}

/// The built-in user: the OS user, as libpq.
pub(super) fn default_user(sources: &ConnSources<'_>) -> String {
    sources.os_user.clone().unwrap_or_else(|| "postgres".into())
}

fn labelled(error: UserError, label: &str) -> UserError {
    UserError {
        message: format!("{} (in {label})", error.message),
        ..error
    }
}

/// Pushes the `url` and the keys of one `[database]` table.
fn push_file(layers: &mut Vec<Layer>, keys: &FileKeys) -> Result<(), UserError> {
    if let Some(url) = &keys.url {
        let values = parse_conninfo(url).map_err(|e| labelled(e, "`[database] url`"))?;
        layers.push(Layer {
            label: "config file (url)".into(),
            values,
            owner: Some(layers.len()),
            env: false,
            auth: None,
        });
    }
    let auth = keys
        .auth
        .as_deref()
        .map(|text| AuthMethod::parse(text, "`[database] auth`"))
        .transpose()?;
    if auth == Some(AuthMethod::Entra) && keys.password.is_some() {
        return Err(UserError::usage(
            "`[database]` sets both `auth = \"entra\"` and `password`: the password would never be used",
        )
        .with_hint("Remove `password` (the Entra ID token is the password) or set `auth = \"password\"`"));
    }
    let values = Partial {
        host: keys.host.clone(),
        port: keys.port.map(|p| p.to_string()),
        user: keys.user.clone(),
        password: keys.password.clone(),
        dbname: keys.dbname.clone(),
        sslmode: keys.sslmode.clone(),
        sslrootcert: keys.sslrootcert.as_ref().map(|p| p.display().to_string()),
        passfile: keys.passfile.as_ref().map(|p| p.display().to_string()),
        // Whole seconds, rounded up: `500ms` is a short timeout (libpq's 2 s), not `0` (no timeout).
        connect_timeout: keys
            .connect_timeout
            .map(|d| (d.as_secs() + u64::from(d.subsec_nanos() > 0)).to_string()),
        application_name: keys.application_name.clone(),
        service: None,
    };
    layers.push(Layer {
        label: "config file".into(),
        values,
        owner: Some(layers.len()),
        env: false,
        auth,
    });
    Ok(())
}

fn layers(sources: &ConnSources<'_>) -> Result<Vec<Layer>, UserError> {
    let mut layers = Vec::new();
    for keys in [sources.file, sources.profile].into_iter().flatten() {
        push_file(&mut layers, keys)?;
    }
    if !sources.standalone {
        for (name, key) in [
            (EnvVars::PGHOST, "host"),
            (EnvVars::PGPORT, "port"),
            (EnvVars::PGUSER, "user"),
            (EnvVars::PGPASSWORD, "password"),
            (EnvVars::PGDATABASE, "dbname"),
            (EnvVars::PGSSLMODE, "sslmode"),
            (EnvVars::PGSSLROOTCERT, "sslrootcert"),
            (EnvVars::PGPASSFILE, "passfile"),
            (EnvVars::PGCONNECT_TIMEOUT, "connect_timeout"),
            (EnvVars::PGAPPNAME, "application_name"),
            (EnvVars::PGSERVICE, "service"),
        ] {
            if let Some(value) = sources.env.get(name).filter(|v| !v.is_empty()) {
                let mut values = Partial::default();
                values.set(key, value.clone())?;
                layers.push(Layer {
                    label: name.to_string(),
                    values,
                    owner: None,
                    env: true,
                    auth: None,
                });
            }
        }
    }
    if let Some((url, label)) = sources.url {
        let values = parse_conninfo(url).map_err(|e| labelled(e, label))?;
        layers.push(Layer {
            label: label.to_string(),
            values,
            owner: Some(layers.len()),
            env: false,
            auth: None,
        });
    }
    add_service(&mut layers, sources)?;
    Ok(layers)
}

/// Inserts the values of the service the highest layer names, just below that layer (above every variable when
/// `PGSERVICE` names it).
fn add_service(layers: &mut Vec<Layer>, sources: &ConnSources<'_>) -> Result<(), UserError> {
    let Some(naming) = layers.iter().rposition(|layer| layer.values.service.is_some()) else {
        return Ok(());
    };
    let name = layers[naming].values.service.clone().unwrap_or_default();
    let (values, path) = service::lookup(&name, &sources.env, sources.home.as_deref())
        .map_err(|e| labelled(e, &layers[naming].label))?;
    let at = if layers[naming].env {
        layers
            .iter()
            .rposition(|layer| layer.env)
            .map_or(naming, |last| last + 1)
    } else {
        naming
    };
    for layer in &mut layers[at..] {
        layer.owner = layer.owner.map(|owner| owner + 1);
    }
    // A service's password belongs to what the service and the layer naming it resolve to together.
    let owner = if layers[naming].env { at } else { naming + 1 };
    layers.insert(
        at,
        Layer {
            label: format!("service `{name}` ({})", path.display()),
            values,
            owner: Some(owner),
            env: false,
            auth: None,
        },
    );
    Ok(())
}

/// User, host and port as the merged values up to some layer resolve them (the port as a number when it is one).
fn endpoint(values: &Partial, sources: &ConnSources<'_>) -> (String, String, String) {
    let value = |field: &Option<String>| field.clone().filter(|value| !value.is_empty());
    let port = value(&values.port).unwrap_or_else(|| "5432".into());
    (
        value(&values.user).unwrap_or_else(|| default_user(sources)),
        value(&values.host).unwrap_or_else(default_host),
        port.trim().parse::<u16>().map_or(port, |port| port.to_string()),
    )
}

/// Merges the layers: the values that win (an empty one as `None`, so that the default applies), the layer of
/// each, and the password that belongs to the final connection, if any.
pub(super) fn merge(sources: &ConnSources<'_>) -> Result<(Partial, Origins), UserError> {
    let layers = layers(sources)?;
    let mut merged = Partial::default();
    let mut origins = Origins::new();
    let mut after = Vec::with_capacity(layers.len());
    for layer in &layers {
        layer.values.apply(&layer.label, &mut merged, &mut origins);
        after.push(merged.clone());
    }
    let target = endpoint(&merged, sources);
    merged.password = None;
    origins.remove("password");
    let mut entra_off = false;
    for layer in layers.iter().rev() {
        match layer.auth {
            Some(AuthMethod::Password) => entra_off = true,
            Some(AuthMethod::Entra) if !entra_off => {
                let owner = layer.owner.map(|owner| endpoint(&after[owner], sources));
                if owner.as_ref().is_none_or(|owner| *owner == target) {
                    origins.insert("auth", layer.label.clone());
                    origins.insert(
                        "password",
                        format!("Entra ID token (`auth = \"entra\"` in {})", layer.label),
                    );
                    break;
                }
                let (user, host, port) = owner.unwrap_or_default();
                tracing::debug!(
                    "`auth = \"entra\"` of {} is for `{user}` at `{host}:{port}`; no token is sent to `{}` at `{}:{}`",
                    layer.label,
                    target.0,
                    target.1,
                    target.2
                );
            }
            _ => {}
        }
        let Some(password) = &layer.values.password else {
            continue;
        };
        // An explicitly empty password hides the lower ones; the password file is read (libpq).
        if password.is_empty() {
            break;
        }
        let belongs = layer
            .owner
            .is_none_or(|owner| endpoint(&after[owner], sources) == target);
        if belongs {
            merged.password = Some(password.clone());
            origins.insert("password", layer.label.clone());
            break;
        }
        let (user, host, port) = layer
            .owner
            .map(|owner| endpoint(&after[owner], sources))
            .unwrap_or_default();
        tracing::debug!(
            "the password from {} is for `{user}` at `{host}:{port}`; not sent to `{}` at `{}:{}`",
            layer.label,
            target.0,
            target.1,
            target.2
        );
    }
    for (key, field) in [
        ("host", &mut merged.host),
        ("port", &mut merged.port),
        ("user", &mut merged.user),
        ("dbname", &mut merged.dbname),
    ] {
        if field.as_deref() == Some("") {
            *field = None;
            origins.remove(key);
        }
    }
    Ok((merged, origins))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::ConnParams;
    use super::*;

    fn password(params: &ConnParams) -> Option<&str> {
        params.password.as_ref().map(super::super::Secret::expose)
    }

    /// `auth = "entra"` is a password of its layer: the token goes only to the user, host and port that layer
    /// resolves to; a higher layer's `auth = "password"` turns it off.
    #[test]
    fn an_entra_token_stays_with_its_user_host_and_port() {
        use super::super::AuthMethod;
        let file = FileKeys {
            host: Some("pg1.postgres.database.azure.com".into()),
            user: Some("alice@example.com".into()),
            auth: Some("entra".into()),
            ..FileKeys::default()
        };
        let resolve = |profile: Option<&FileKeys>, env: &[(&'static str, &str)], url: Option<&str>| {
            let env: BTreeMap<&'static str, String> = env.iter().map(|(k, v)| (*k, (*v).to_string())).collect();
            ConnParams::resolve(&ConnSources {
                file: Some(&file),
                profile,
                env,
                url: url.map(|url| (url, "--db-url")),
                ..ConnSources::default()
            })
        };
        let params = resolve(None, &[(EnvVars::PGDATABASE, "app")], None).expect("valid");
        assert_eq!(params.auth, AuthMethod::Entra);
        assert_eq!(params.sslmode, super::super::SslMode::Require);
        assert_eq!(params.origins["auth"], "config file");
        assert_eq!(password(&params), None, "the token is fetched per session");
        for (env, url) in [
            (&[][..], Some("postgres://mallory@other-host/x")),
            (&[(EnvVars::PGHOST, "db2")][..], None),
            (&[(EnvVars::PGUSER, "bob")][..], None),
        ] {
            let params = resolve(None, env, url).expect("valid");
            assert_eq!(params.auth, AuthMethod::Password, "{env:?} {url:?}");
            assert!(!params.origins.contains_key("auth"));
        }
        let off = FileKeys {
            auth: Some("password".into()),
            ..FileKeys::default()
        };
        assert_eq!(
            resolve(Some(&off), &[], None).expect("valid").auth,
            AuthMethod::Password
        );
        let both = FileKeys {
            password: Some("secret".into()),
            ..file.clone()
        };
        let err = ConnParams::resolve(&ConnSources {
            file: Some(&both),
            ..ConnSources::default()
        })
        .expect_err("both");
        assert!(err.message.contains("both"), "{}", err.message);
        let err = resolve(None, &[(EnvVars::PGSSLMODE, "prefer")], None).expect_err("plain text possible");
        assert!(err.message.contains("sslmode=prefer"), "{}", err.message);
    }

    #[test]
    fn item_04_a_password_stays_with_its_user_host_and_port() {
        let file = FileKeys {
            url: Some("postgres://alice:secret@db1/app".into()),
            ..FileKeys::default()
        };
        let resolve = |env: &[(&'static str, &str)], url: Option<&str>| {
            let env: BTreeMap<&'static str, String> = env.iter().map(|(k, v)| (*k, (*v).to_string())).collect();
            ConnParams::resolve(&ConnSources {
                file: Some(&file),
                env,
                url: url.map(|url| (url, "--db-url")),
                ..ConnSources::default()
            })
            .expect("valid")
        };
        // Unchanged, or changed to the same values: alice's password.
        assert_eq!(password(&resolve(&[], None)), Some("secret"));
        assert_eq!(password(&resolve(&[(EnvVars::PGPORT, "5432")], None)), Some("secret"));
        assert_eq!(
            password(&resolve(&[(EnvVars::PGDATABASE, "other")], None)),
            Some("secret")
        );
        // Another user, host or port: not alice's password.
        for (env, url) in [
            (&[][..], Some("postgres://mallory@other-host:5432/x")),
            (&[][..], Some("host=db1 user=bob")),
            (&[(EnvVars::PGUSER, "bob")][..], None),
            (&[(EnvVars::PGHOST, "db2")][..], None),
            (&[(EnvVars::PGPORT, "6432")][..], None),
        ] {
            let params = resolve(env, url);
            assert_eq!(password(&params), None, "{env:?} {url:?}");
            assert!(!params.origins.contains_key("password"));
        }
        // PGPASSWORD applies to the final connection, unless a higher layer gives a password.
        let params = resolve(&[(EnvVars::PGPASSWORD, "env")], Some("postgres://bob@db2/x"));
        assert_eq!(password(&params), Some("env"));
        let params = resolve(&[(EnvVars::PGPASSWORD, "env")], Some("postgres://bob:url@db2/x"));
        assert_eq!(password(&params), Some("url"));
        // An explicitly empty password hides PGPASSWORD.
        let params = resolve(&[(EnvVars::PGPASSWORD, "env")], Some("host=db1 password=''"));
        assert_eq!(password(&params), None);
    }

    #[test]
    fn a_profile_is_a_layer_above_the_top_level() {
        let top = FileKeys {
            host: Some("db1".into()),
            password: Some("top".into()),
            ..FileKeys::default()
        };
        let profile = FileKeys {
            host: Some("db2".into()),
            ..FileKeys::default()
        };
        let params = ConnParams::resolve(&ConnSources {
            file: Some(&top),
            profile: Some(&profile),
            ..ConnSources::default()
        })
        .expect("valid");
        assert_eq!((params.host.as_str(), password(&params)), ("db2", None));
    }

    #[test]
    fn item_09_an_empty_database_name_is_the_user_name() {
        let mut env = BTreeMap::new();
        env.insert(EnvVars::PGDATABASE, "from_env".to_string());
        let params = ConnParams::resolve(&ConnSources {
            env,
            url: Some(("host=h user=bob dbname=''", "--db-url")),
            ..ConnSources::default()
        })
        .expect("valid");
        assert_eq!(params.dbname, "bob");
    }

    #[test]
    fn a_service_sits_below_the_layer_that_names_it() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let file = dir.path().join("services.conf");
        fs_err::write(
            &file,
            "[svc]\nhost=svc-host\nport=7000\nuser=svc_user\npassword=svc-pw\ndbname=svc_db\n",
        )
        .expect("write");
        let resolve = |env: &[(&'static str, &str)], url: Option<&str>| {
            let mut map: BTreeMap<&'static str, String> = env.iter().map(|(k, v)| (*k, (*v).to_string())).collect();
            map.insert(EnvVars::PGSERVICEFILE, file.display().to_string());
            map.insert(EnvVars::PGSYSCONFDIR, dir.path().display().to_string());
            ConnParams::resolve(&ConnSources {
                env: map,
                url: url.map(|url| (url, "--db-url")),
                ..ConnSources::default()
            })
        };
        // PGSERVICE: the service beats the other variables (libpq), the URL beats the service.
        let params = resolve(&[(EnvVars::PGSERVICE, "svc"), (EnvVars::PGHOST, "env-host")], None).expect("valid");
        assert_eq!(
            (params.host.as_str(), params.port, params.user.as_str()),
            ("svc-host", 7000, "svc_user")
        );
        assert_eq!(password(&params), Some("svc-pw"));
        assert!(
            params.origins["host"].starts_with("service `svc`"),
            "{:?}",
            params.origins
        );
        let params = resolve(&[(EnvVars::PGSERVICE, "svc")], Some("postgres:///url_db")).expect("valid");
        assert_eq!((params.host.as_str(), params.dbname.as_str()), ("svc-host", "url_db"));
        // `service=` in the URL: its own values win, the service's fill in; the variables are below both.
        let params = resolve(&[(EnvVars::PGUSER, "env_user")], Some("service=svc port=7001")).expect("valid");
        assert_eq!((params.port, params.user.as_str()), (7001, "svc_user"));
        // The service's password goes with the naming layer's changes (one libpq connection string) ...
        assert_eq!(password(&params), Some("svc-pw"));
        // ... and an unknown service is an error naming the layer.
        let err = resolve(&[], Some("service=nope")).expect_err("undefined");
        assert!(
            err.message.contains("`nope` not found") && err.message.contains("--db-url"),
            "{}",
            err.message
        );
    }
}
