//! Azure Storage connection strings: `DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…;EndpointSuffix=…`,
//! `BlobEndpoint=…;SharedAccessSignature=…`, and `UseDevelopmentStorage=true` (Azurite on its default port).
//!
//! Only the parts the blob store needs are kept: the blob endpoint, the account name, and either the account key
//! (from which campctl signs a SAS, see [`super::sas`]) or a SAS token.

use std::fmt;

use url::Url;

use crate::exit::UserError;

/// The emulator's well-known account (Azurite's README and `dist/src/common/utils/constants.js`).
pub const DEVELOPMENT_ACCOUNT: &str = "devstoreaccount1";
/// The emulator's well-known, public account key.
pub const DEVELOPMENT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// Azurite's default blob endpoint, path-style.
pub const DEVELOPMENT_BLOB_ENDPOINT: &str = "http://127.0.0.1:10000/devstoreaccount1";

/// The secret half of a connection string.
#[derive(Clone, PartialEq, Eq)]
pub enum ConnectionSecret {
    /// `AccountKey=` (base64).
    AccountKey(String),
    /// `SharedAccessSignature=` (a SAS token without the leading `?`).
    Sas(String),
}

impl fmt::Debug for ConnectionSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AccountKey(_) => "AccountKey([REDACTED])",
            Self::Sas(_) => "Sas([REDACTED])",
        })
    }
}

/// A parsed connection string.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionString {
    /// The blob service URL without a trailing slash (`https://acct.blob.core.windows.net`).
    pub blob_endpoint: Url,
    /// The account name, when the string names one (a SAS-only string with a `BlobEndpoint` need not).
    pub account: Option<String>,
    pub secret: ConnectionSecret,
    /// Whether this is `UseDevelopmentStorage=true`.
    pub development: bool,
}

impl fmt::Debug for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionString")
            .field("blob_endpoint", &self.blob_endpoint.as_str())
            .field("account", &self.account)
            .field("secret", &self.secret)
            .field("development", &self.development)
            .finish()
    }
}

impl ConnectionString {
    /// Parses a connection string. Keys are case-insensitive; values may contain `=` (base64 keys do).
    ///
    /// # Errors
    /// A [`UserError`] (exit 2) naming what is missing; the message never repeats the secret.
    pub fn parse(text: &str) -> Result<Self, UserError> {
        let mut account = None;
        let mut key = None;
        let mut sas = None;
        let mut blob_endpoint = None;
        let mut protocol = None;
        let mut suffix = None;
        let mut development = false;
        for part in text.split(';').map(str::trim).filter(|part| !part.is_empty()) {
            let Some((name, value)) = part.split_once('=') else {
                return Err(invalid(&format!(
                    "the part `{}` is not `Key=Value`",
                    part.chars().take(24).collect::<String>()
                )));
            };
            let value = value.trim().to_string();
            match name.trim().to_ascii_lowercase().as_str() {
                "accountname" => account = Some(value),
                "accountkey" => key = Some(value),
                "sharedaccesssignature" => sas = Some(value.trim_start_matches('?').to_string()),
                "blobendpoint" => blob_endpoint = Some(value),
                "defaultendpointsprotocol" => protocol = Some(value),
                "endpointsuffix" => suffix = Some(value),
                "usedevelopmentstorage" => development = value.eq_ignore_ascii_case("true"),
                // Queue, table and file endpoints, DevelopmentStorageProxyUri: not used by a blob store.
                _ => {}
            }
        }
        if development {
            let endpoint = blob_endpoint.as_deref().unwrap_or(DEVELOPMENT_BLOB_ENDPOINT);
            return Ok(Self {
                blob_endpoint: parse_endpoint(endpoint)?,
                account: Some(account.unwrap_or_else(|| DEVELOPMENT_ACCOUNT.to_string())),
                secret: ConnectionSecret::AccountKey(key.unwrap_or_else(|| DEVELOPMENT_KEY.to_string())),
                development: true,
            });
        }
        let secret = match (key, sas) {
            (Some(key), _) => ConnectionSecret::AccountKey(key),
            (None, Some(sas)) => ConnectionSecret::Sas(sas),
            (None, None) => return Err(invalid("it has neither `AccountKey` nor `SharedAccessSignature`")),
        };
        let blob_endpoint = match (blob_endpoint, &account) {
            (Some(endpoint), _) => parse_endpoint(&endpoint)?,
            (None, Some(account)) => {
                let protocol = protocol.as_deref().unwrap_or("https");
                let suffix = suffix.as_deref().unwrap_or("core.windows.net");
                parse_endpoint(&format!("{protocol}://{account}.blob.{suffix}"))?
            }
            (None, None) => return Err(invalid("it has neither `AccountName` nor `BlobEndpoint`")),
        };
        if matches!(secret, ConnectionSecret::AccountKey(_)) && account.is_none() {
            return Err(invalid("it has an `AccountKey` but no `AccountName`"));
        }
        Ok(Self {
            blob_endpoint,
            account,
            secret,
            development: false,
        })
    }
}

fn parse_endpoint(text: &str) -> Result<Url, UserError> {
    let url = Url::parse(text.trim_end_matches('/')).map_err(|err| {
        invalid(&format!(
            "`BlobEndpoint` `{}` is not a URL ({err})",
            super::sas::redact_sas(text)
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(&format!(
            "`BlobEndpoint` `{}` is not an http(s) URL",
            super::sas::redact_sas(text)
        )));
    }
    Ok(url)
}

fn invalid(why: &str) -> UserError {
    UserError::usage(format!("The Azure Storage connection string is invalid: {why}")).with_hint(
        "Copy it from the portal (Storage account → Access keys) or use `UseDevelopmentStorage=true` for Azurite",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_key_with_suffix() {
        let parsed = ConnectionString::parse(
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5+/==;EndpointSuffix=core.chinacloudapi.cn",
        )
        .expect("parse");
        assert_eq!(
            parsed.blob_endpoint.as_str(),
            "https://acct.blob.core.chinacloudapi.cn/"
        );
        assert_eq!(parsed.account.as_deref(), Some("acct"));
        assert_eq!(parsed.secret, ConnectionSecret::AccountKey("a2V5+/==".into()));
        assert!(!format!("{parsed:?}").contains("a2V5"));
    }

    #[test]
    fn development_storage_and_blob_endpoint() {
        let parsed = ConnectionString::parse("UseDevelopmentStorage=true").expect("parse");
        assert_eq!(parsed.blob_endpoint.as_str(), DEVELOPMENT_BLOB_ENDPOINT);
        assert!(parsed.development);
        let parsed = ConnectionString::parse("BlobEndpoint=https://cdn.example/;SharedAccessSignature=?sv=1&sig=x")
            .expect("sas");
        assert_eq!(parsed.secret, ConnectionSecret::Sas("sv=1&sig=x".into()));
        assert_eq!(parsed.account, None);
    }

    #[test]
    fn missing_parts_are_named() {
        let err = ConnectionString::parse("AccountName=acct").expect_err("no secret");
        assert!(err.message.contains("neither `AccountKey`"), "{}", err.message);
        let err = ConnectionString::parse("AccountKey=secret").expect_err("no account");
        assert!(!err.message.contains("secret"), "{}", err.message);
        assert!(ConnectionString::parse("garbage").is_err());
    }
}
