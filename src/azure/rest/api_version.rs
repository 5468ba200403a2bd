//! The api-versions campctl sends, named once. Each is a stable (non-preview) version of its resource provider's
//! REST specification (azure-rest-api-specs); docs/azure.md lists them.

/// `Microsoft.DBforPostgreSQL/flexibleServers` and its `backups` (on-demand backups need 2024-08-01 or newer).
pub const FLEXIBLE_SERVER: &str = "2024-08-01";
/// `Microsoft.Resources/resourceGroups` (a resource group's existence).
pub const RESOURCE_GROUPS: &str = "2021-04-01";
/// `Microsoft.Insights/metrics` (Azure Monitor metrics).
pub const MONITOR_METRICS: &str = "2023-10-01";
/// `Microsoft.Insights/metricAlerts`.
pub const METRIC_ALERTS: &str = "2018-03-01";
/// `Microsoft.Web/sites` and `Microsoft.Web/serverfarms` (App Service).
pub const WEB: &str = "2023-12-01";
/// Log Analytics query API version (a path segment, not a query parameter).
pub const LOG_ANALYTICS: &str = "v1";
