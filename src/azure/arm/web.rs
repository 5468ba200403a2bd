//! App Service web apps (`Microsoft.Web/sites`, api-version [`api_version::WEB`]): the parts of a `Site` campctl
//! reads (its state and availability).

use serde::{Deserialize, Serialize};

use super::ResourceId;
use crate::azure::rest::error::Operation;
use crate::azure::rest::{RestClient, api_version};

/// The RBAC a read of a web app needs.
pub const SITE_READ_ROLE: &str = "`Reader` or `Website Contributor` (any role with `Microsoft.Web/sites/read`) on \
                                  the web app or its resource group";

/// A web app (`Site`), the fields campctl uses; unknown fields are ignored.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub struct Site {
    pub id: String,
    pub name: String,
    pub properties: SiteProperties,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct SiteProperties {
    /// `Running`, `Stopped`, … (free text in the spec).
    pub state: Option<String>,
    /// `Normal`, `Limited` or `DisasterRecoveryMode`.
    pub availability_state: Option<String>,
    pub default_host_name: Option<String>,
    pub server_farm_id: Option<String>,
}

/// GET the web app `id`.
///
/// # Errors
/// See [`RestClient::send`].
pub async fn get_site(client: &RestClient, id: &ResourceId) -> anyhow::Result<Site> {
    let url = client.url(&id.to_string(), api_version::WEB)?;
    let operation = Operation::new(
        format!("read the web app `{}`", id.name),
        format!(
            "Web app `{}` (resource group `{}`, subscription `{}`)",
            id.name, id.resource_group, id.subscription_id
        ),
        SITE_READ_ROLE,
    );
    client.get(url, &operation).await
}
