//! `Microsoft.DBforPostgreSQL/flexibleServers` (api-version [`api_version::FLEXIBLE_SERVER`]): the parts of the
//! `Server` resource campctl reads, and its backup settings update (PATCH, a long-running operation).

use azure_core::http::Method;
use serde::{Deserialize, Serialize};

use super::ResourceId;
use crate::azure::rest::error::Operation;
use crate::azure::rest::lro::{Pending, Progress, pending};
use crate::azure::rest::{RestClient, api_version};

/// The RBAC a read of a server needs.
pub const READ_ROLE: &str = "`Reader` (or any role with `Microsoft.DBforPostgreSQL/flexibleServers/read`) on the \
                             server or its resource group";
/// The RBAC a change of a server needs.
pub const WRITE_ROLE: &str = "`Contributor` (or a role with `Microsoft.DBforPostgreSQL/flexibleServers/write`) on \
                              the server or its resource group";

/// The backup retention Azure accepts, in days.
pub const RETENTION_DAYS: std::ops::RangeInclusive<u32> = 7..=35;

/// A Flexible Server (`Server`), the fields campctl uses; unknown fields are ignored.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct FlexibleServer {
    pub id: String,
    pub name: String,
    pub location: String,
    pub sku: Option<Sku>,
    pub properties: ServerProperties,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub struct Sku {
    pub name: String,
    pub tier: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct ServerProperties {
    pub version: Option<String>,
    pub minor_version: Option<String>,
    pub state: Option<String>,
    pub fully_qualified_domain_name: Option<String>,
    pub backup: Option<Backup>,
    pub storage: Option<serde_json::Value>,
    pub network: Option<Network>,
    pub high_availability: Option<serde_json::Value>,
    pub availability_zone: Option<String>,
    pub replication_role: Option<String>,
    /// The server admin's login (a restored server has the source's).
    pub administrator_login: Option<String>,
    /// `{"type": "SystemManaged" | "AzureKeyVault", …}`.
    pub data_encryption: Option<serde_json::Value>,
}

/// `properties.backup`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct Backup {
    pub backup_retention_days: Option<u32>,
    /// `Enabled` | `Disabled` (set only when a server is created).
    pub geo_redundant_backup: Option<String>,
    pub earliest_restore_date: Option<String>,
}

/// `properties.network`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct Network {
    pub public_network_access: Option<String>,
    pub delegated_subnet_resource_id: Option<String>,
    pub private_dns_zone_arm_resource_id: Option<String>,
}

/// The body of a PATCH that sets the backup retention.
pub fn retention_patch(days: u32) -> serde_json::Value {
    serde_json::json!({ "properties": { "backup": { "backupRetentionDays": days } } })
}

/// The operations on one server.
pub struct FlexibleServers<'a> {
    pub client: &'a RestClient,
    pub id: &'a ResourceId,
}

impl FlexibleServers<'_> {
    fn describe(&self) -> String {
        format!(
            "Flexible Server `{}` (resource group `{}`, subscription `{}`)",
            self.id.name, self.id.resource_group, self.id.subscription_id
        )
    }

    /// The operation "`action` the server", for errors.
    pub fn operation(&self, action: &str, role: &str) -> Operation {
        Operation::new(format!("{action} the server `{}`", self.id.name), self.describe(), role)
    }

    /// GET the server.
    ///
    /// # Errors
    /// See [`RestClient::send`].
    pub async fn get(&self) -> anyhow::Result<FlexibleServer> {
        let url = self.client.url(&self.id.to_string(), api_version::FLEXIBLE_SERVER)?;
        self.client.get(url, &self.operation("read", READ_ROLE)).await
    }

    /// PATCH the server with `body`; returns the operation if Azure started one (`None`: done already).
    ///
    /// # Errors
    /// See [`RestClient::send`].
    pub async fn start_update(&self, body: &serde_json::Value, action: &str) -> anyhow::Result<Option<Pending>> {
        let url = self.client.url(&self.id.to_string(), api_version::FLEXIBLE_SERVER)?;
        let response = self
            .client
            .send(Method::Patch, url, Some(body), &self.operation(action, WRITE_ROLE))
            .await?;
        Ok(pending(&response))
    }

    /// Follows an update to its end and returns the server as it is then.
    ///
    /// # Errors
    /// See [`RestClient::wait`].
    pub async fn finish(
        &self,
        pending: Pending,
        action: &str,
        on_progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> anyhow::Result<FlexibleServer> {
        let url = self.client.url(&self.id.to_string(), api_version::FLEXIBLE_SERVER)?;
        let value = self
            .client
            .wait(pending, Some(url), &self.operation(action, WRITE_ROLE), on_progress)
            .await?;
        Ok(serde_json::from_value(value)?)
    }
}
