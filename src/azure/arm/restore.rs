//! Point-in-time restore and geo-restore of a Flexible Server: both PUT a **new** server (`Servers_Create`, a
//! long-running operation) whose body names the source and the point in time ([`RestoreRequest`]). Also the reads
//! the preflight needs: whether a server name is taken ([`FlexibleServers::find`]) and whether a resource group
//! exists ([`resource_group_exists`]).

use azure_core::http::Method;
use serde::Serialize;

use super::ResourceId;
use super::flexible_server::{FlexibleServer, FlexibleServers, READ_ROLE, Sku, WRITE_ROLE};
use crate::azure::rest::error::Operation;
use crate::azure::rest::lro::{Pending, pending};
use crate::azure::rest::{RestClient, api_version};
use crate::exit::{ExitStatus, UserError};

/// `properties.createMode` of a restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CreateMode {
    PointInTimeRestore,
    GeoRestore,
}

impl CreateMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PointInTimeRestore => "PointInTimeRestore",
            Self::GeoRestore => "GeoRestore",
        }
    }
}

/// The body of the PUT that creates the restored server.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RestoreRequest {
    pub location: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<Sku>,
    pub properties: RestoreProperties,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RestoreProperties {
    pub create_mode: CreateMode,
    pub source_server_resource_id: String,
    /// `2026-12-05T03:00:00Z`.
    #[serde(rename = "pointInTimeUTC")]
    pub point_in_time_utc: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The writable part of the source's `storage` (size, tier, type, auto-grow, IOPS, throughput).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<RestoreNetwork>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
}

/// `properties.network` of a VNet-integrated new server.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RestoreNetwork {
    pub delegated_subnet_resource_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_dns_zone_arm_resource_id: Option<String>,
}

/// The keys of `properties.storage` a create request may set (the rest is read-only).
pub const WRITABLE_STORAGE_KEYS: [&str; 6] = ["storageSizeGB", "autoGrow", "tier", "type", "iops", "throughput"];

/// The writable part of a server's `storage`, with `size_gb` (when given) as its size.
pub fn storage_for_create(source: Option<&serde_json::Value>, size_gb: Option<u32>) -> Option<serde_json::Value> {
    let mut storage = serde_json::Map::new();
    if let Some(serde_json::Value::Object(source)) = source {
        for key in WRITABLE_STORAGE_KEYS {
            if let Some(value) = source.get(key).filter(|value| !value.is_null()) {
                storage.insert(key.to_string(), value.clone());
            }
        }
    }
    if let Some(size) = size_gb {
        storage.insert("storageSizeGB".to_string(), size.into());
    }
    (!storage.is_empty()).then_some(serde_json::Value::Object(storage))
}

/// Whether `name` is a valid Flexible Server name: 3–63 characters, lowercase letters, digits and hyphens, not
/// starting or ending with a hyphen.
pub fn valid_server_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

impl FlexibleServers<'_> {
    /// GET the server; `None` when Azure answers 404 (the name is free in its resource group).
    ///
    /// # Errors
    /// See [`RestClient::send`], apart from 404.
    pub async fn find(&self) -> anyhow::Result<Option<FlexibleServer>> {
        match self.get().await {
            Ok(server) => Ok(Some(server)),
            Err(err)
                if err
                    .downcast_ref::<UserError>()
                    .is_some_and(|err| err.status == ExitStatus::NotFound) =>
            {
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }

    /// The operation of creating this server by a restore, for errors.
    pub fn create_operation(&self) -> Operation {
        self.operation("create", WRITE_ROLE)
    }

    /// PUT this (new) server with `body`; returns the operation if Azure started one (`None`: done already).
    ///
    /// # Errors
    /// See [`RestClient::send`].
    pub async fn start_create(&self, body: &serde_json::Value) -> anyhow::Result<Option<Pending>> {
        let url = self.client.url(&self.id.to_string(), api_version::FLEXIBLE_SERVER)?;
        let response = self
            .client
            .send(Method::Put, url, Some(body), &self.create_operation())
            .await?;
        Ok(pending(&response))
    }
}

/// Whether resource group `group` of `subscription` exists (GET → 200; 404 → `false`).
///
/// # Errors
/// See [`RestClient::send`], apart from 404.
pub async fn resource_group_exists(client: &RestClient, subscription: &str, group: &str) -> anyhow::Result<bool> {
    let url = client.url(
        &format!("/subscriptions/{subscription}/resourcegroups/{group}"),
        api_version::RESOURCE_GROUPS,
    )?;
    let operation = Operation::new(
        format!("read the resource group `{group}`"),
        format!("Resource group `{group}` (subscription `{subscription}`)"),
        READ_ROLE.replace(
            "Microsoft.DBforPostgreSQL/flexibleServers/read",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
        ),
    );
    match client.send(Method::Get, url, None, &operation).await {
        Ok(_) => Ok(true),
        Err(err)
            if err
                .downcast_ref::<UserError>()
                .is_some_and(|err| err.status == ExitStatus::NotFound) =>
        {
            Ok(false)
        }
        Err(err) => Err(err),
    }
}

/// The resource id of a new server `name` in `group` of `subscription`.
pub fn new_server_id(subscription: &str, group: &str, name: &str) -> ResourceId {
    ResourceId::new(subscription, group, ResourceId::FLEXIBLE_SERVER, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_follow_azure_rules() {
        assert!(valid_server_name("pg1-restored"));
        assert!(valid_server_name("abc"));
        assert!(valid_server_name(&"a".repeat(63)));
        assert!(!valid_server_name("ab"));
        assert!(!valid_server_name(&"a".repeat(64)));
        assert!(!valid_server_name("-pg1"));
        assert!(!valid_server_name("pg1-"));
        assert!(!valid_server_name("PG1"));
        assert!(!valid_server_name("pg_1"));
        assert!(!valid_server_name("pg.1"));
    }

    #[test]
    fn the_body_has_the_documented_shape() {
        let body = RestoreRequest {
            location: "westeurope".into(),
            sku: Some(Sku {
                name: "Standard_D2ds_v4".into(),
                tier: "GeneralPurpose".into(),
            }),
            properties: RestoreProperties {
                create_mode: CreateMode::PointInTimeRestore,
                source_server_resource_id: "/subscriptions/s/resourceGroups/g/providers/x/y/pg1".into(),
                point_in_time_utc: "2026-12-05T03:00:00Z".into(),
                version: Some("16".into()),
                storage: storage_for_create(
                    Some(
                        &serde_json::json!({ "storageSizeGB": 128, "autoGrow": "Disabled", "iops": null,
                                              "storageSku": "x" }),
                    ),
                    None,
                ),
                network: None,
                availability_zone: Some("1".into()),
            },
        };
        assert_eq!(
            serde_json::to_value(&body).expect("json"),
            serde_json::json!({
                "location": "westeurope",
                "sku": { "name": "Standard_D2ds_v4", "tier": "GeneralPurpose" },
                "properties": {
                    "createMode": "PointInTimeRestore",
                    "sourceServerResourceId": "/subscriptions/s/resourceGroups/g/providers/x/y/pg1",
                    "pointInTimeUTC": "2026-12-05T03:00:00Z",
                    "version": "16",
                    "storage": { "storageSizeGB": 128, "autoGrow": "Disabled" },
                    "availabilityZone": "1"
                }
            })
        );
        assert_eq!(
            storage_for_create(None, Some(256)),
            Some(serde_json::json!({ "storageSizeGB": 256 }))
        );
        assert_eq!(storage_for_create(None, None), None);
    }
}
