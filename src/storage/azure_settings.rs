//! `[storage.azure]` + environment → [`AzureSettings`]: the blob service URL, container and prefix, the credential
//! (SAS, account key, connection string, Entra ID, in the order docs/storage.md gives), block size, concurrency and
//! retries.
//!
//! This file only validates and resolves; it never opens a connection or builds a store (that is
//! [`AzureStore::new`](super::AzureStore::new), which takes these settings), and every error it returns names the
//! `[storage.azure]` key or environment variable the bad value came from. It must never read `config_file`:
//! `settings` converts the file's section into [`AzureKeys`].

use std::time::Duration;

use url::Url;

use super::block_checksum::{BlockChecksum, BlockChecksumChoice};
use super::keys::AzureKeys;
use crate::azure::connection_string::{ConnectionSecret, ConnectionString, DEVELOPMENT_ACCOUNT};
use crate::azure::credentials::{
    BlobAuth, ChainCredential, CredentialChoice, EnvLookup, TokenSource, token_credential,
};
use crate::azure::pipeline::RetryPolicy;
use crate::azure::sas::{AccountSas, looks_like_sas, redact_sas};
use crate::env_vars::EnvVars;
use crate::exit::UserError;

/// The largest block the service takes (4000 MiB).
const MAX_BLOCK_SIZE: u64 = 4000 << 20;
/// Default blocks in flight per upload.
pub(super) const DEFAULT_CONCURRENCY: usize = 4;
/// How long a SAS signed from an account key is valid. It never leaves the process; a long backup must not
/// outlive it.
const SIGNED_SAS_VALIDITY: chrono::Duration = chrono::Duration::days(7);

/// A resolved `[storage.azure]`.
#[derive(Debug, Clone)]
pub struct AzureSettings {
    /// The blob service URL (`https://acct.blob.core.windows.net`, `http://127.0.0.1:10000/devstoreaccount1`),
    /// without a SAS.
    pub endpoint: Url,
    pub container: String,
    /// `""` or a folder ending in `/`.
    pub prefix: String,
    pub auth: BlobAuth,
    /// Fixed block size; `None` sizes blocks from the expected size.
    pub block_size: Option<u64>,
    pub concurrency: usize,
    /// The check sent with each staged block.
    pub block_checksum: BlockChecksum,
    pub retry: RetryPolicy,
}

fn key_error(key: &str, message: impl std::fmt::Display) -> anyhow::Error {
    UserError::usage(format!("Invalid `[storage.azure] {key}`: {message}"))
        .with_hint("docs/storage.md lists every key of `[storage.azure]`")
        .into()
}

/// Resolves `[storage.azure]` (which has a container) and the environment.
///
/// # Errors
/// A [`UserError`] (exit 2) naming the key of an invalid or missing value.
pub(super) fn azure_settings(config: &AzureKeys, env: EnvLookup<'_>) -> anyhow::Result<AzureSettings> {
    let container = config.container.clone().unwrap_or_default();
    validate_container(&container).map_err(|why| key_error("container", format!("`{container}` {why}")))?;
    let prefix = normalize_prefix(config.prefix.as_deref().unwrap_or(""));
    let retry = RetryPolicy {
        max_retries: config
            .max_retries
            .unwrap_or(crate::azure::pipeline::DEFAULT_MAX_RETRIES),
        timeout: config.timeout.map_or(crate::azure::pipeline::DEFAULT_TIMEOUT, |t| t.0),
    };
    if retry.timeout < Duration::from_secs(1) {
        return Err(key_error("timeout", "it must be at least `1s`"));
    }
    let block_size = config.block_size.map(|size| size.0);
    if let Some(size) = block_size
        && !(1..=MAX_BLOCK_SIZE).contains(&size)
    {
        return Err(key_error("block_size", "it must be between 1B and 4000MiB"));
    }
    let concurrency = match config.concurrency {
        None => DEFAULT_CONCURRENCY,
        Some(0) => return Err(key_error("concurrency", "it must be at least 1")),
        Some(n) => n as usize,
    };
    let block_checksum = match &config.block_checksum {
        None => BlockChecksumChoice::Auto,
        Some(text) => BlockChecksumChoice::parse(text).ok_or_else(|| {
            key_error(
                "block_checksum",
                format!("`{text}` is not one of {}", BlockChecksumChoice::NAMES.join(", ")),
            )
        })?,
    };
    let choice = match &config.credential {
        None => CredentialChoice::Auto,
        Some(text) => CredentialChoice::parse(text).ok_or_else(|| {
            key_error(
                "credential",
                format!("`{text}` is not one of {}", CredentialChoice::NAMES.join(", ")),
            )
        })?,
    };
    let non_empty = |value: Option<String>| value.filter(|value| !value.trim().is_empty());
    let (connection_string, connection_source) = match non_empty(env(EnvVars::AZURE_STORAGE_CONNECTION_STRING)) {
        Some(text) => (Some(text), "`AZURE_STORAGE_CONNECTION_STRING`"),
        None => (
            non_empty(config.connection_string.clone()),
            "`[storage.azure] connection_string`",
        ),
    };
    let (sas_token, sas_source) = match non_empty(env(EnvVars::AZURE_STORAGE_SAS_TOKEN)) {
        Some(text) => (Some(text), "`AZURE_STORAGE_SAS_TOKEN`"),
        None => (non_empty(config.sas_token.clone()), "`[storage.azure] sas_token`"),
    };
    let account_url = || account_url(config, env);
    let use_connection_string = match choice {
        CredentialChoice::ConnectionString => {
            if connection_string.is_none() {
                return Err(key_error(
                    "credential",
                    "`connection-string` needs `connection_string` or `AZURE_STORAGE_CONNECTION_STRING`",
                ));
            }
            true
        }
        CredentialChoice::Auto => connection_string.is_some(),
        _ => false,
    };
    let (endpoint, auth) = if use_connection_string {
        let text = connection_string.expect("checked above");
        let parsed = ConnectionString::parse(&text)?;
        let endpoint = parsed.blob_endpoint.clone();
        let auth = match parsed.secret {
            ConnectionSecret::AccountKey(key) => {
                let account = parsed
                    .account
                    .clone()
                    .expect("a connection string with a key names its account");
                let now = chrono::Utc::now();
                let token = AccountSas {
                    account: &account,
                    permissions: "rwdlac",
                    resource_types: "sco",
                    // Tolerate a few minutes of clock skew between this host and the service.
                    start: Some(now - chrono::Duration::minutes(15)),
                    expiry: now + SIGNED_SAS_VALIDITY,
                }
                .sign(&key)?;
                BlobAuth::Sas {
                    token,
                    description: format!("the account key of `{account}` from {connection_source}"),
                }
            }
            ConnectionSecret::Sas(token) => BlobAuth::Sas {
                token,
                description: format!("the SAS token of {connection_source}"),
            },
        };
        (endpoint, auth)
    } else if choice == CredentialChoice::Sas || (choice == CredentialChoice::Auto && sas_token.is_some()) {
        let Some(token) = sas_token else {
            return Err(key_error(
                "credential",
                "`sas` needs `sas_token` or `AZURE_STORAGE_SAS_TOKEN`",
            ));
        };
        if !looks_like_sas(&token) {
            return Err(key_error(
                "sas_token",
                format!("the token from {sas_source} has no `sig=`: give the query part of a SAS URL (`sv=…&sig=…`)"),
            ));
        }
        (
            account_url()?,
            BlobAuth::Sas {
                token: token.trim().trim_start_matches('?').to_string(),
                description: format!("the SAS token from {sas_source}"),
            },
        )
    } else {
        let endpoint = account_url()?;
        let client_id = config.managed_identity_client_id.as_deref();
        let single = |source| -> anyhow::Result<BlobAuth> {
            let credential = token_credential(source, env, client_id, retry, false)
                .map_err(|err| key_error("credential", format!("{} cannot be used: {err:#}", source.describe())))?;
            Ok(BlobAuth::Token { credential, source })
        };
        let auth = match choice {
            CredentialChoice::Environment => single(TokenSource::Environment)?,
            CredentialChoice::WorkloadIdentity => single(TokenSource::WorkloadIdentity)?,
            CredentialChoice::ManagedIdentity => single(TokenSource::ManagedIdentity)?,
            CredentialChoice::Cli => single(TokenSource::Cli)?,
            _ => BlobAuth::Chain(std::sync::Arc::new(ChainCredential::from_env(env, client_id, retry))),
        };
        if endpoint.scheme() != "https" {
            return Err(key_error(
                "account_url",
                format!(
                    "`{endpoint}` is not https, which Entra ID credentials ({}) require; use a connection string \
                     or a SAS token with an http endpoint such as Azurite",
                    auth.describe()
                ),
            ));
        }
        (endpoint, auth)
    };
    let block_checksum = block_checksum.resolve(is_emulator(&endpoint));
    Ok(AzureSettings {
        endpoint,
        container,
        prefix,
        auth,
        block_size,
        concurrency,
        block_checksum,
        retry,
    })
}

/// Whether `endpoint` is the storage emulator's well-known account (Azurite): path-style
/// `http://127.0.0.1:10000/devstoreaccount1` or host-style `http://devstoreaccount1.blob.localhost:10000`.
fn is_emulator(endpoint: &Url) -> bool {
    let first_segment = endpoint.path_segments().and_then(|mut segments| segments.next());
    let first_label = endpoint.host_str().and_then(|host| host.split('.').next());
    first_segment == Some(DEVELOPMENT_ACCOUNT) || first_label == Some(DEVELOPMENT_ACCOUNT)
}

/// `account_url`, else `https://<account>.blob.core.windows.net` from `account` or `AZURE_STORAGE_ACCOUNT`.
fn account_url(config: &AzureKeys, env: EnvLookup<'_>) -> anyhow::Result<Url> {
    if let Some(text) = &config.account_url {
        let url = Url::parse(text.trim().trim_end_matches('/'))
            .map_err(|err| key_error("account_url", format!("`{}` is not a URL ({err})", redact_sas(text))))?;
        if !matches!(url.scheme(), "http" | "https") || url.query().is_some() {
            return Err(key_error(
                "account_url",
                format!(
                    "`{}` must be an http(s) URL without a query (put a SAS into `sas_token`)",
                    url.origin().ascii_serialization()
                ),
            ));
        }
        return Ok(url);
    }
    let account = env(EnvVars::AZURE_STORAGE_ACCOUNT)
        .filter(|value| !value.is_empty())
        .or_else(|| config.account.clone())
        .ok_or_else(|| {
            UserError::usage("`[storage.azure]` names no storage account")
                .with_hint("Set `account_url`, `account` or `AZURE_STORAGE_ACCOUNT`, or give a connection string")
        })?;
    if account.is_empty() || !account.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) {
        return Err(key_error(
            "account",
            format!("`{account}` is not a storage account name (lowercase letters and digits)"),
        ));
    }
    Url::parse(&format!("https://{account}.blob.core.windows.net"))
        .map_err(|err| key_error("account", format!("`{account}` gives no valid URL ({err})")))
}

/// Container names: 3–63 characters, lowercase letters, digits and single hyphens, starting and ending with a letter
/// or digit (<https://learn.microsoft.com/rest/api/storageservices/naming-and-referencing-containers--blobs--and-metadata>).
pub fn validate_container(name: &str) -> Result<(), &'static str> {
    if !(3..=63).contains(&name.len()) {
        return Err("must be 3 to 63 characters long");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err("may hold only lowercase letters, digits and hyphens");
    }
    if name.starts_with('-') || name.ends_with('-') || name.contains("--") {
        return Err("must start and end with a letter or digit and have no double hyphens");
    }
    Ok(())
}

/// `"prod"` → `"prod/"`, `"/a//b/"` → `"a/b/"`, `""` → `""`.
fn normalize_prefix(prefix: &str) -> String {
    let parts: Vec<&str> = prefix.split('/').filter(|part| !part.is_empty()).collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("{}/", parts.join("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn prefixes_and_containers() {
        assert_eq!(normalize_prefix(""), "");
        assert_eq!(normalize_prefix("prod"), "prod/");
        assert_eq!(normalize_prefix("/a//b/"), "a/b/");
        assert!(validate_container("backups").is_ok());
        assert!(validate_container("Backups").is_err());
        assert!(validate_container("ab").is_err());
        assert!(validate_container("a--b").is_err());
    }

    #[test]
    fn credential_order_and_env_override() {
        let config = AzureKeys {
            container: Some("backups".into()),
            account: Some("acct".into()),
            sas_token: Some("sv=1&sig=file".into()),
            ..AzureKeys::default()
        };
        let settings = azure_settings(&config, &no_env).expect("sas from file");
        assert_eq!(settings.endpoint.as_str(), "https://acct.blob.core.windows.net/");
        assert!(
            settings.auth.describe().contains("sas_token"),
            "{}",
            settings.auth.describe()
        );
        let env = |name: &str| {
            (name == EnvVars::AZURE_STORAGE_CONNECTION_STRING).then(|| "UseDevelopmentStorage=true".to_string())
        };
        let settings = azure_settings(&config, &env).expect("connection string from env");
        assert_eq!(settings.endpoint.as_str(), "http://127.0.0.1:10000/devstoreaccount1");
        assert!(settings.auth.describe().contains("AZURE_STORAGE_CONNECTION_STRING"));
        let config = AzureKeys {
            credential: Some("kerberos".into()),
            ..config
        };
        let err = azure_settings(&config, &no_env).expect_err("bad credential");
        assert!(err.to_string().contains("`[storage.azure] credential`"), "{err}");
    }

    #[test]
    fn block_checksum_auto_is_md5_only_against_the_emulator() {
        let emulator = |text: &str| is_emulator(&Url::parse(text).expect("url"));
        assert!(emulator("http://127.0.0.1:10000/devstoreaccount1"));
        assert!(emulator("http://devstoreaccount1.blob.localhost:10000"));
        assert!(!emulator("https://acct.blob.core.windows.net"));
        assert!(!emulator("https://acct.blob.core.windows.net/devstoreaccount10"));
        let config = AzureKeys {
            container: Some("backups".into()),
            account: Some("acct".into()),
            sas_token: Some("sv=1&sig=file".into()),
            ..AzureKeys::default()
        };
        let settings = azure_settings(&config, &no_env).expect("auto");
        assert_eq!(settings.block_checksum, BlockChecksum::Crc64);
        let dev = |name: &str| {
            (name == EnvVars::AZURE_STORAGE_CONNECTION_STRING).then(|| "UseDevelopmentStorage=true".to_string())
        };
        assert_eq!(
            azure_settings(&config, &dev).expect("azurite").block_checksum,
            BlockChecksum::Md5
        );
        let config = AzureKeys {
            block_checksum: Some("none".into()),
            ..config
        };
        assert_eq!(
            azure_settings(&config, &no_env).expect("none").block_checksum,
            BlockChecksum::None
        );
        let config = AzureKeys {
            block_checksum: Some("sha1".into()),
            ..config
        };
        let err = azure_settings(&config, &no_env).expect_err("bad value");
        assert!(
            err.to_string().contains("`[storage.azure] block_checksum`") && err.to_string().contains("crc64"),
            "{err}"
        );
    }

    #[test]
    fn entra_id_needs_https() {
        let config = AzureKeys {
            container: Some("backups".into()),
            account_url: Some("http://127.0.0.1:10000/devstoreaccount1".into()),
            credential: Some("cli".into()),
            ..AzureKeys::default()
        };
        let err = azure_settings(&config, &no_env).expect_err("http with a token");
        assert!(err.to_string().contains("not https"), "{err}");
    }
}
