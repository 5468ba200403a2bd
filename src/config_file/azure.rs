//! `[azure]`: the Azure resources campctl manages (Flexible Server, App Service) and how it reaches Azure Resource
//! Manager, Monitor and Log Analytics. The schema only; `settings/azure.rs` resolves it with the environment.

use serde::{Deserialize, Serialize};

use crate::units::HumanDuration;

/// `[azure]` (docs/azure.md).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AzureConfig {
    /// The subscription id (`AZURE_SUBSCRIPTION_ID` overrides it).
    pub subscription_id: Option<String>,
    /// The resource group of the resources named below.
    pub resource_group: Option<String>,
    /// The Flexible Server: a name in `resource_group`, or a full resource id.
    pub postgres_server: Option<String>,
    /// The App Service (web app): a name or a full resource id.
    pub app_service: Option<String>,
    /// The App Service plan: a name or a full resource id.
    pub app_service_plan: Option<String>,
    /// `auto` (default), `environment`, `workload-identity`, `managed-identity`, `cli`.
    pub credential: Option<String>,
    /// Client id of a user-assigned managed identity.
    pub managed_identity_client_id: Option<String>,
    /// `public` (default), `china`, `usgov` or `custom`.
    pub cloud: Option<String>,
    /// Azure Resource Manager's endpoint (default: the cloud's, `https://management.azure.com`).
    pub management_endpoint: Option<String>,
    /// The token scope of ARM (default: the cloud's, `https://management.azure.com/.default`).
    pub management_scope: Option<String>,
    /// Log Analytics' endpoint (default: the cloud's, `https://api.loganalytics.io`).
    pub loganalytics_endpoint: Option<String>,
    /// The token scope of Log Analytics (default: the cloud's, `https://api.loganalytics.io/.default`).
    pub loganalytics_scope: Option<String>,
    /// Timeout of one try of one request (default `60s`).
    pub timeout: Option<HumanDuration>,
    /// Retries of one request after throttling or a server error (default 3).
    pub max_retries: Option<u32>,
    /// The longest `Retry-After` honoured before a retry or between two polls (default `60s`).
    pub max_retry_wait: Option<HumanDuration>,
    /// The wait between two polls of a long-running operation when Azure does not say (default `5s`).
    pub poll_interval: Option<HumanDuration>,
}
