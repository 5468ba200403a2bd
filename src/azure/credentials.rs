//! The credential of a blob store, resolved from `[storage.azure]` and the environment.
//!
//! With `credential = "auto"` (the default) the first that is configured wins:
//!
//! 1. a connection string (`AZURE_STORAGE_CONNECTION_STRING`, else `connection_string`): with an `AccountKey`,
//!    campctl signs an account SAS from it ([`super::sas`]); with a `SharedAccessSignature`, that SAS is used;
//! 2. a SAS token (`AZURE_STORAGE_SAS_TOKEN`, else `sas_token`);
//! 3. the Entra ID chain ([`ChainCredential`]): a service principal from `AZURE_TENANT_ID` / `AZURE_CLIENT_ID` /
//!    `AZURE_CLIENT_SECRET`, workload identity (`AZURE_FEDERATED_TOKEN_FILE`), managed identity (with
//!    `managed_identity_client_id`), the Azure CLI.
//!
//! Any other `credential` value names exactly one of them. The description of the credential goes into
//! [`crate::storage::StoreError::Auth`], so an authentication failure says what was tried.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};
use azure_core::error::ErrorKind;
use azure_identity::{
    AzureCliCredential, ClientSecretCredential, ClientSecretCredentialOptions, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, UserAssignedId, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};

use super::pipeline::RetryPolicy;

use crate::env_vars::EnvVars;

const AZURE_TENANT_ID: &str = EnvVars::AZURE_TENANT_ID;
const AZURE_CLIENT_ID: &str = EnvVars::AZURE_CLIENT_ID;
const AZURE_CLIENT_SECRET: &str = EnvVars::AZURE_CLIENT_SECRET;
const AZURE_FEDERATED_TOKEN_FILE: &str = EnvVars::AZURE_FEDERATED_TOKEN_FILE;

/// A value of `[storage.azure] credential`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialChoice {
    Auto,
    ConnectionString,
    Sas,
    Environment,
    WorkloadIdentity,
    ManagedIdentity,
    Cli,
}

impl CredentialChoice {
    /// Every accepted spelling, for error messages and docs.
    pub const NAMES: &'static [&'static str] = &[
        "auto",
        "connection-string",
        "sas",
        "environment",
        "workload-identity",
        "managed-identity",
        "cli",
    ];

    /// Parses a configuration value (`None` for an unknown one).
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "auto" | "default" => Self::Auto,
            "connection-string" => Self::ConnectionString,
            "sas" | "sas-token" => Self::Sas,
            "environment" | "service-principal" => Self::Environment,
            "workload-identity" => Self::WorkloadIdentity,
            "managed-identity" => Self::ManagedIdentity,
            "cli" | "azure-cli" => Self::Cli,
            _ => return None,
        })
    }
}

/// One Entra ID credential of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    Environment,
    WorkloadIdentity,
    ManagedIdentity,
    Cli,
}

impl TokenSource {
    /// How the credential is named in messages.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Environment => {
                "the service principal from `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET`"
            }
            Self::WorkloadIdentity => "workload identity (`AZURE_FEDERATED_TOKEN_FILE`)",
            Self::ManagedIdentity => "the managed identity",
            Self::Cli => "the Azure CLI login (`az login`)",
        }
    }

    /// What to do when this credential is refused.
    pub fn hint(self) -> &'static str {
        match self {
            Self::Environment => {
                "Check the service principal's secret (it may have expired) and give it the `Storage Blob Data \
                 Contributor` role on the container or account"
            }
            Self::WorkloadIdentity => {
                "Check the federated credential of the app registration and give the identity the `Storage Blob \
                 Data Contributor` role on the container or account"
            }
            Self::ManagedIdentity => {
                "Give the managed identity the `Storage Blob Data Contributor` role on the container or account; \
                 for a user-assigned identity set `[storage.azure] managed_identity_client_id`"
            }
            Self::Cli => {
                "Run `az login`, and give your account the `Storage Blob Data Contributor` role on the container \
                 or account"
            }
        }
    }
}

/// Reads an environment variable (tests pass a closure over a map, the binary `std::env::var`).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Builds one Entra ID credential. `probe` shortens the managed identity's wait when it is one of several choices
/// (off Azure its endpoint does not answer).
///
/// # Errors
/// When the variables the credential needs are missing or invalid.
pub fn token_credential(
    source: TokenSource,
    env: EnvLookup<'_>,
    managed_identity_client_id: Option<&str>,
    retry: RetryPolicy,
    probe: bool,
) -> anyhow::Result<Arc<dyn TokenCredential>> {
    let need = |name: &str| {
        env(name)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| anyhow::anyhow!("`{name}` is not set"))
    };
    let credential: Arc<dyn TokenCredential> = match source {
        TokenSource::Environment => {
            let tenant = need(AZURE_TENANT_ID)?;
            let options = ClientSecretCredentialOptions {
                client_options: retry.client_options(),
            };
            ClientSecretCredential::new(
                &tenant,
                need(AZURE_CLIENT_ID)?,
                Secret::new(need(AZURE_CLIENT_SECRET)?),
                Some(options),
            )?
        }
        TokenSource::WorkloadIdentity => {
            let mut options = WorkloadIdentityCredentialOptions {
                client_id: Some(need(AZURE_CLIENT_ID)?),
                tenant_id: Some(need(AZURE_TENANT_ID)?),
                token_file_path: Some(PathBuf::from(need(AZURE_FEDERATED_TOKEN_FILE)?)),
                ..WorkloadIdentityCredentialOptions::default()
            };
            options.credential_options.client_options = retry.client_options();
            WorkloadIdentityCredential::new(Some(options))?
        }
        TokenSource::ManagedIdentity => {
            let retry = if probe {
                RetryPolicy {
                    max_retries: 0,
                    timeout: retry.timeout.min(Duration::from_secs(5)),
                }
            } else {
                retry
            };
            let options = ManagedIdentityCredentialOptions {
                user_assigned_id: managed_identity_client_id.map(|id| UserAssignedId::ClientId(id.to_string())),
                client_options: retry.client_options(),
            };
            ManagedIdentityCredential::new(Some(options))?
        }
        TokenSource::Cli => AzureCliCredential::new(None)?,
    };
    Ok(credential)
}

/// Tries Entra ID credentials in order and sticks to the first that returns a token, like the SDKs'
/// `DefaultAzureCredential` (which the Rust SDK 1.0 does not have).
#[derive(Debug)]
pub struct ChainCredential {
    members: Vec<(TokenSource, Arc<dyn TokenCredential>)>,
    /// The member that last returned a token, to skip the others and to name it in errors.
    chosen: Mutex<Option<TokenSource>>,
}

impl ChainCredential {
    /// The chain of the members that can be built from this environment (the others are skipped, as the SDKs do).
    pub fn from_env(env: EnvLookup<'_>, managed_identity_client_id: Option<&str>, retry: RetryPolicy) -> Self {
        let mut members = Vec::new();
        for source in [
            TokenSource::Environment,
            TokenSource::WorkloadIdentity,
            TokenSource::ManagedIdentity,
            TokenSource::Cli,
        ] {
            match token_credential(source, env, managed_identity_client_id, retry, true) {
                Ok(credential) => members.push((source, credential)),
                Err(err) => tracing::debug!("credential chain: skipping {}: {err:#}", source.describe()),
            }
        }
        Self {
            members,
            chosen: Mutex::new(None),
        }
    }

    /// The member in use, once one returned a token.
    pub fn chosen(&self) -> Option<TokenSource> {
        *self.chosen.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The chain as named in messages: the member in use, or every member in order.
    pub fn describe(&self) -> String {
        match self.chosen() {
            Some(source) => format!("{} (from the credential chain)", source.describe()),
            None if self.members.is_empty() => "the credential chain (no member could be built from this \
                                                environment)"
                .to_string(),
            None => format!(
                "the credential chain ({})",
                self.members
                    .iter()
                    .map(|(source, _)| source.describe())
                    .collect::<Vec<_>>()
                    .join(", then ")
            ),
        }
    }

    async fn get(&self, scopes: &[&str], options: Option<TokenRequestOptions<'_>>) -> azure_core::Result<AccessToken> {
        if let Some(chosen) = self.chosen()
            && let Some((_, credential)) = self.members.iter().find(|(source, _)| *source == chosen)
        {
            return credential.get_token(scopes, options).await;
        }
        let mut failures = Vec::new();
        for (source, credential) in &self.members {
            match credential.get_token(scopes, options.clone()).await {
                Ok(token) => {
                    tracing::debug!("credential chain: using {}", source.describe());
                    *self.chosen.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(*source);
                    return Ok(token);
                }
                Err(err) => failures.push(format!("{}: {err}", source.describe())),
            }
        }
        Err(azure_core::Error::with_message(
            ErrorKind::Credential,
            format!("no credential of the chain returned a token ({})", failures.join("; ")),
        ))
    }
}

// `TokenCredential` is declared with `#[async_trait]`; this is that macro's expansion written out, so that campctl
// needs no `async-trait` dependency of its own.
impl TokenCredential for ChainCredential {
    fn get_token<'life0, 'life1, 'life2, 'life3, 'async_trait>(
        &'life0 self,
        scopes: &'life1 [&'life2 str],
        options: Option<TokenRequestOptions<'life3>>,
    ) -> Pin<Box<dyn Future<Output = azure_core::Result<AccessToken>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        'life3: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(self.get(scopes, options))
    }
}

/// How requests of a store are authorized.
#[derive(Clone)]
pub enum BlobAuth {
    /// A SAS token (`sv=…&sig=…`) carried in every URL: given, or signed from an account key.
    Sas { token: String, description: String },
    /// One Entra ID credential, named by `credential`.
    Token {
        credential: Arc<dyn TokenCredential>,
        source: TokenSource,
    },
    /// The Entra ID chain.
    Chain(Arc<ChainCredential>),
}

impl std::fmt::Debug for BlobAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl BlobAuth {
    /// The credential as named in an authentication error.
    pub fn describe(&self) -> String {
        match self {
            Self::Sas { description, .. } => description.clone(),
            Self::Token { source, .. } => source.describe().to_string(),
            Self::Chain(chain) => match chain.chosen() {
                Some(source) => format!("{} (from the credential chain)", source.describe()),
                None => format!(
                    "the credential chain ({})",
                    chain
                        .members
                        .iter()
                        .map(|(source, _)| source.describe())
                        .collect::<Vec<_>>()
                        .join(", then ")
                ),
            },
        }
    }

    /// What to do when the credential is refused.
    pub fn hint(&self) -> String {
        match self {
            Self::Sas { description, .. } if description.contains("account key") => {
                "Check the account key of the connection string (Storage account → Access keys; keys can be \
                 rotated)"
                    .to_string()
            }
            Self::Sas { .. } => "The SAS token may have expired or lack a permission: campctl needs read, write, \
                                 delete, list, add and create (`sp=rwdlac`) on the container's blobs"
                .to_string(),
            Self::Token { source, .. } => source.hint().to_string(),
            Self::Chain(chain) => match chain.chosen() {
                Some(source) => source.hint().to_string(),
                None => "Set `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET`, run `az login`, or \
                         configure `[storage.azure] connection_string` or `sas_token` (docs/storage.md)"
                    .to_string(),
            },
        }
    }

    /// The Entra ID credential, if requests carry a bearer token.
    pub fn token_credential(&self) -> Option<Arc<dyn TokenCredential>> {
        match self {
            Self::Sas { .. } => None,
            Self::Token { credential, .. } => Some(credential.clone()),
            Self::Chain(chain) => Some(chain.clone()),
        }
    }
}
