//! Passwords that are fetched rather than configured: `[database] auth = "entra"` uses an Entra ID access token as
//! the password. `pg` knows only the shape: a [`TokenSource`] that fetches a token with its expiry; `settings` wires
//! the Azure credential into it (pg never imports azure, which sits on the same floor).
//!
//! [`TokenPassword`] caches the token and fetches a new one for a session when less than [`REFRESH_MARGIN`] of its
//! lifetime remains, so a run that outlives a token opens every later session (and starts every `pg_dump` /
//! `pg_restore`) with a fresh one. The token is a [`Secret`]: never printed, and given to children only in their
//! environment (`PGPASSWORD`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::Secret;
use crate::exit::UserError;

/// A token is fetched again when less than this remains of its lifetime.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// How campctl authenticates to PostgreSQL: `[database] auth`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMethod {
    /// A password from the layers, the password file, or none (libpq's rules).
    #[default]
    Password,
    /// An Entra ID access token for Azure Database for PostgreSQL, fetched for each new session.
    Entra,
}

impl AuthMethod {
    /// Parses a `[database] auth` value.
    ///
    /// # Errors
    /// An unknown value (exit 2).
    pub fn parse(text: &str, label: &str) -> Result<Self, UserError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "password" => Ok(Self::Password),
            "entra" | "entra-id" | "aad" => Ok(Self::Entra),
            other => Err(
                UserError::usage(format!("Unsupported `auth = \"{other}\"` (in {label})")).with_hint(
                    "Use `auth = \"password\"` (the default) or `auth = \"entra\"` (an Entra ID token as the \
                     password, docs/azure.md)",
                ),
            ),
        }
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Password => "password",
            Self::Entra => "entra",
        })
    }
}

/// A token with the time it stops being valid.
#[derive(Debug, Clone)]
pub struct FetchedToken {
    pub token: Secret,
    pub expires_at: SystemTime,
}

/// The future of [`TokenSource::fetch`].
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<FetchedToken>> + Send + 'a>>;

/// Where tokens come from (an Entra ID credential, wired in by `settings`).
pub trait TokenSource: Send + Sync {
    /// A new token; errors name the credential and what to do (exit 12).
    fn fetch(&self) -> FetchFuture<'_>;

    /// The credential, as named in messages and `config show`.
    fn describe(&self) -> String;
}

/// The cached token of one run; clones share the cache.
#[derive(Clone)]
pub struct TokenPassword {
    source: Arc<dyn TokenSource>,
    cache: Arc<tokio::sync::Mutex<Option<FetchedToken>>>,
}

impl fmt::Debug for TokenPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenPassword({})", self.source.describe())
    }
}

impl TokenPassword {
    pub fn new(source: Arc<dyn TokenSource>) -> Self {
        Self {
            source,
            cache: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }

    /// The credential, as named in messages.
    pub fn describe(&self) -> String {
        self.source.describe()
    }

    /// A token valid for at least [`REFRESH_MARGIN`] more (or the newest there is): the cached one, else a new one.
    ///
    /// # Errors
    /// The source's error (exit 12).
    pub async fn password(&self) -> anyhow::Result<Secret> {
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.as_ref()
            && cached
                .expires_at
                .duration_since(SystemTime::now())
                .is_ok_and(|left| left > REFRESH_MARGIN)
        {
            return Ok(cached.token.clone());
        }
        tracing::debug!("fetching a PostgreSQL access token from {}", self.source.describe());
        let fetched = self.source.fetch().await?;
        let token = fetched.token.clone();
        *cache = Some(fetched);
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    struct Counting {
        calls: AtomicU32,
        lifetime: Duration,
    }

    impl TokenSource for Counting {
        fn fetch(&self) -> FetchFuture<'_> {
            Box::pin(async move {
                let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
                Ok(FetchedToken {
                    token: Secret::new(format!("token-{n}")),
                    expires_at: SystemTime::now() + self.lifetime,
                })
            })
        }

        fn describe(&self) -> String {
            "a counting source".into()
        }
    }

    async fn twice(lifetime: Duration) -> (String, String, u32) {
        let source = Arc::new(Counting {
            calls: AtomicU32::new(0),
            lifetime,
        });
        let password = TokenPassword::new(source.clone());
        let first = password.password().await.expect("a token");
        let second = password.clone().password().await.expect("a token");
        (
            first.expose().to_string(),
            second.expose().to_string(),
            source.calls.load(Ordering::SeqCst),
        )
    }

    #[tokio::test]
    async fn a_token_is_cached_while_it_has_time_left_and_refetched_near_its_expiry() {
        assert_eq!(
            twice(Duration::from_secs(3600)).await,
            ("token-1".into(), "token-1".into(), 1)
        );
        assert_eq!(
            twice(Duration::from_secs(60)).await,
            ("token-1".into(), "token-2".into(), 2)
        );
    }

    #[test]
    fn auth_values() {
        assert_eq!(AuthMethod::parse("Entra", "x").expect("valid"), AuthMethod::Entra);
        assert_eq!(AuthMethod::parse("password", "x").expect("valid"), AuthMethod::Password);
        let err = AuthMethod::parse("kerberos", "config file").expect_err("unknown");
        assert!(err.message.contains("kerberos") && err.message.contains("config file"));
    }
}
