//! A Flexible Server's backups (`…/flexibleServers/NAME/backups`, api-version [`api_version::FLEXIBLE_SERVER`]):
//! the list (automatic and on-demand, paged with `nextLink`) and on-demand backups (PUT, a long-running operation).

use azure_core::http::Method;
use serde::{Deserialize, Serialize};

use super::ResourceId;
use super::flexible_server::READ_ROLE;
use crate::azure::rest::error::Operation;
use crate::azure::rest::lro::{Pending, Progress, pending};
use crate::azure::rest::{RestClient, api_version};

/// One backup of a server.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub struct ServerBackup {
    pub id: String,
    pub name: String,
    pub properties: BackupProperties,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct BackupProperties {
    /// `Full` (automatic) or `Customer On-Demand`.
    pub backup_type: Option<String>,
    /// `Automatic` or `Customer On-Demand`… as Azure says.
    pub source: Option<String>,
    pub completed_time: Option<String>,
}

/// The RBAC an on-demand backup needs.
pub const BACKUP_ROLE: &str = "`Contributor` (or a role with `Microsoft.DBforPostgreSQL/flexibleServers/backups/write`) \
                               on the server or its resource group";

/// Whether `name` is a valid backup name (`^[-\w\._]+$`, the spec's pattern).
pub fn valid_backup_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The backups of one server.
pub struct Backups<'a> {
    pub client: &'a RestClient,
    pub server: &'a ResourceId,
}

impl Backups<'_> {
    fn operation(&self, action: String, role: &str) -> Operation {
        Operation::new(
            action,
            format!(
                "Flexible Server `{}` (resource group `{}`, subscription `{}`)",
                self.server.name, self.server.resource_group, self.server.subscription_id
            ),
            role,
        )
    }

    /// Every backup, all pages.
    ///
    /// # Errors
    /// See [`RestClient::list`].
    pub async fn list(&self) -> anyhow::Result<Vec<ServerBackup>> {
        let url = self
            .client
            .url(&format!("{}/backups", self.server), api_version::FLEXIBLE_SERVER)?;
        let operation = self.operation(
            format!("list the backups of the server `{}`", self.server.name),
            READ_ROLE,
        );
        self.client.list(url, &operation).await
    }

    fn create_operation(&self, name: &str) -> Operation {
        self.operation(
            format!(
                "take the on-demand backup `{name}` of the server `{}`",
                self.server.name
            ),
            BACKUP_ROLE,
        )
    }

    /// PUT an on-demand backup; returns the operation if Azure started one (`None`: done already).
    ///
    /// # Errors
    /// See [`RestClient::send`].
    pub async fn start_create(&self, name: &str) -> anyhow::Result<Option<Pending>> {
        let url = self
            .client
            .url(&self.server.child("backups", name), api_version::FLEXIBLE_SERVER)?;
        let response = self
            .client
            .send(Method::Put, url, None, &self.create_operation(name))
            .await?;
        Ok(pending(&response))
    }

    /// Follows an on-demand backup to its end and returns the backup.
    ///
    /// # Errors
    /// See [`RestClient::wait`].
    pub async fn finish_create(
        &self,
        name: &str,
        pending: Pending,
        on_progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> anyhow::Result<ServerBackup> {
        let url = self
            .client
            .url(&self.server.child("backups", name), api_version::FLEXIBLE_SERVER)?;
        let value = self
            .client
            .wait(pending, Some(url), &self.create_operation(name), on_progress)
            .await?;
        Ok(serde_json::from_value(value)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_names_follow_the_spec_pattern() {
        assert!(valid_backup_name("before-upgrade_2024.06"));
        assert!(!valid_backup_name(""));
        assert!(!valid_backup_name("a b"));
        assert!(!valid_backup_name("a/b"));
    }
}
