//! `[database] auth = "entra"`: the Entra ID credential of `[azure]` (`credential`, `managed_identity_client_id`,
//! the cloud's PostgreSQL scope) wired into the connection as its token source. `pg` defines the shape
//! ([`TokenSource`]) and caches the token; this file only fetches one, and turns a failure into exit 12 naming the
//! credential and what to do.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::azure::AzureSettings;
use crate::azure::credentials::CredentialChoice;
use crate::azure::rest::EntraCredential;
use crate::config_file::LoadedConfig;
use crate::exit::{ExitStatus, UserError};
use crate::pg::conninfo::token::{FetchFuture, FetchedToken, TokenSource};
use crate::pg::conninfo::{AuthMethod, TokenPassword};
use crate::pg::{ConnParams, Secret};

/// Tokens for Azure Database for PostgreSQL from an Entra ID credential.
struct EntraTokens {
    credential: EntraCredential,
    choice: CredentialChoice,
    scope: String,
}

impl EntraTokens {
    fn hint(&self) -> String {
        let role = "and check that `[database] user` is the Entra principal's name as the server knows it (an Entra \
                    administrator or a role made with `pgaadauth_create_principal`)";
        match self.choice {
            CredentialChoice::Cli => format!("Run `az login` as that principal, {role}"),
            CredentialChoice::Environment => format!(
                "Check `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET` (the secret may have expired), \
                 {role}"
            ),
            CredentialChoice::WorkloadIdentity => {
                format!("Check the federated credential and `AZURE_FEDERATED_TOKEN_FILE`, {role}")
            }
            CredentialChoice::ManagedIdentity => format!(
                "Check that the machine has a managed identity (and `[azure] managed_identity_client_id` for a \
                 user-assigned one), {role}"
            ),
            _ => format!(
                "Run `az login`, set `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET`, or choose a \
                 credential with `[azure] credential`, {role}"
            ),
        }
    }
}

impl TokenSource for EntraTokens {
    fn fetch(&self) -> FetchFuture<'_> {
        Box::pin(async move {
            let credential = self.credential.token_credential();
            match credential.get_token(&[self.scope.as_str()], None).await {
                Ok(token) => {
                    let seconds = u64::try_from(token.expires_on.unix_timestamp()).unwrap_or_default();
                    Ok(FetchedToken {
                        token: Secret::new(token.token.secret()),
                        expires_at: SystemTime::UNIX_EPOCH + Duration::from_secs(seconds),
                    })
                }
                Err(err) => {
                    let reason = err.to_string().lines().next().unwrap_or_default().to_string();
                    Err(UserError::new(
                        ExitStatus::Auth,
                        format!(
                            "Failed to get an Entra ID token for PostgreSQL (`auth = \"entra\"`, scope `{}`) from {}: \
                             {reason}",
                            self.scope,
                            self.credential.describe()
                        ),
                    )
                    .with_hint(self.hint())
                    .into())
                }
            }
        })
    }

    fn describe(&self) -> String {
        self.credential.describe()
    }
}

/// Gives `db` its token source when `[database] auth = "entra"` applies to it.
///
/// # Errors
/// A bad `[azure]` section or a credential whose variables are missing (exit 2).
pub(super) fn wire(db: &mut ConnParams, config: &LoadedConfig) -> anyhow::Result<()> {
    if db.auth != AuthMethod::Entra {
        return Ok(());
    }
    let azure = AzureSettings::resolve(config)?;
    let tokens = EntraTokens {
        credential: azure.entra_credential()?,
        choice: azure.credential,
        scope: azure.endpoints.postgres_scope.clone(),
    };
    db.token = Some(TokenPassword::new(Arc::new(tokens)));
    Ok(())
}
