//! The reports of `campctl backup azure`: a server's backup settings, a list of backups, a started operation.

use serde::Serialize;

use crate::azure::arm::ResourceId;
use crate::azure::arm::backups::ServerBackup;
use crate::azure::arm::flexible_server::FlexibleServer;
use crate::printer::{Cell, Report, Table};

/// `backup azure show` (and the result of `set`).
#[derive(Debug, Serialize)]
pub(super) struct ServerReport {
    pub server: String,
    pub resource_group: String,
    pub id: String,
    pub state: Option<String>,
    pub version: Option<String>,
    pub fqdn: Option<String>,
    pub sku: Option<String>,
    pub tier: Option<String>,
    pub location: String,
    pub retention_days: Option<u32>,
    pub geo_redundant_backup: Option<String>,
    pub earliest_restore_date: Option<String>,
}

impl ServerReport {
    pub(super) fn new(id: &ResourceId, server: &FlexibleServer) -> Self {
        let backup = server.properties.backup.clone().unwrap_or_default();
        Self {
            server: id.name.clone(),
            resource_group: id.resource_group.clone(),
            id: id.to_string(),
            state: server.properties.state.clone(),
            version: server.properties.version.clone(),
            fqdn: server.properties.fully_qualified_domain_name.clone(),
            sku: server.sku.as_ref().map(|sku| sku.name.clone()),
            tier: server.sku.as_ref().map(|sku| sku.tier.clone()),
            location: server.location.clone(),
            retention_days: backup.backup_retention_days,
            geo_redundant_backup: backup.geo_redundant_backup,
            earliest_restore_date: backup.earliest_restore_date,
        }
    }
}

impl Report for ServerReport {
    fn tables(&self) -> Vec<Table> {
        let mut table = Table::new(format!("Flexible Server `{}`", self.server), &["setting", "value"]);
        let rows: [(&str, Cell); 10] = [
            (
                "retention_days",
                self.retention_days.map_or(Cell::Null, |d| i64::from(d).into()),
            ),
            ("geo_redundant_backup", Cell::opt(self.geo_redundant_backup.clone())),
            ("earliest_restore_date", Cell::opt(self.earliest_restore_date.clone())),
            ("state", Cell::opt(self.state.clone())),
            ("version", Cell::opt(self.version.clone())),
            ("fqdn", Cell::opt(self.fqdn.clone())),
            ("sku", Cell::opt(self.sku.clone())),
            ("tier", Cell::opt(self.tier.clone())),
            ("location", self.location.as_str().into()),
            ("resource_group", self.resource_group.as_str().into()),
        ];
        for (name, value) in rows {
            table.row(vec![name.into(), value]);
        }
        vec![table]
    }
}

/// `backup azure list` (and the result of `create`).
#[derive(Debug, Serialize)]
pub(super) struct BackupsReport {
    pub server: String,
    pub backups: Vec<BackupRow>,
}

#[derive(Debug, Serialize)]
pub(super) struct BackupRow {
    pub name: String,
    #[serde(rename = "type")]
    pub backup_type: Option<String>,
    pub source: Option<String>,
    pub completed: Option<String>,
}

impl BackupsReport {
    pub(super) fn new(id: &ResourceId, backups: Vec<ServerBackup>) -> Self {
        Self {
            server: id.name.clone(),
            backups: backups
                .into_iter()
                .map(|backup| BackupRow {
                    name: backup.name,
                    backup_type: backup.properties.backup_type,
                    source: backup.properties.source,
                    completed: backup.properties.completed_time,
                })
                .collect(),
        }
    }
}

impl Report for BackupsReport {
    fn tables(&self) -> Vec<Table> {
        let mut table = Table::new(
            format!("Backups of Flexible Server `{}`", self.server),
            &["name", "type", "source", "completed"],
        )
        .empty_message("Azure lists no backups of this server yet");
        for backup in &self.backups {
            table.row(vec![
                backup.name.as_str().into(),
                Cell::opt(backup.backup_type.clone()),
                Cell::opt(backup.source.clone()),
                Cell::opt(backup.completed.clone()),
            ]);
        }
        vec![table]
    }
}

/// `--no-wait`: the operation started and how to follow it.
#[derive(Debug, Serialize)]
pub(super) struct OperationReport {
    pub operation_url: String,
    pub follow: String,
}

impl Report for OperationReport {
    fn tables(&self) -> Vec<Table> {
        let mut table = Table::new("Azure operation started", &["operation", "follow"]);
        table.row(vec![self.operation_url.as_str().into(), self.follow.as_str().into()]);
        vec![table]
    }
}
