//! The reports of `campctl restore pitr | geo`: the restored server (with the `campctl --db-url …` line to use it)
//! and, with `--no-wait`, the operation started.

use serde::Serialize;

use crate::azure::arm::ResourceId;
use crate::azure::arm::flexible_server::FlexibleServer;
use crate::azure::arm::restore::CreateMode;
use crate::printer::{Cell, Report, Table};

/// The new server once Azure's operation succeeded.
#[derive(Debug, Serialize)]
pub(super) struct RestoredReport {
    pub server: String,
    pub resource_group: String,
    pub id: String,
    pub source: String,
    pub create_mode: &'static str,
    pub point_in_time: String,
    pub location: String,
    pub state: Option<String>,
    pub version: Option<String>,
    pub sku: Option<String>,
    pub fqdn: Option<String>,
    /// `postgres://USER@FQDN:5432/DB?sslmode=require`.
    pub db_url: Option<String>,
    /// `campctl --db-url "…"`: the line to run campctl against the new server.
    pub campctl: Option<String>,
}

impl RestoredReport {
    pub(super) fn new(
        id: &ResourceId,
        server: &FlexibleServer,
        source: &ResourceId,
        mode: CreateMode,
        point_in_time: &str,
        user: Option<&str>,
        database: &str,
    ) -> Self {
        let fqdn = server
            .properties
            .fully_qualified_domain_name
            .clone()
            .filter(|fqdn| !fqdn.is_empty());
        let database = if database.is_empty() { "postgres" } else { database };
        let db_url = fqdn.as_ref().map(|fqdn| {
            format!(
                "postgres://{}@{fqdn}:5432/{database}?sslmode=require",
                user.filter(|user| !user.is_empty()).unwrap_or("USER")
            )
        });
        Self {
            server: id.name.clone(),
            resource_group: id.resource_group.clone(),
            id: id.to_string(),
            source: source.to_string(),
            create_mode: mode.as_str(),
            point_in_time: point_in_time.to_string(),
            location: server.location.clone(),
            state: server.properties.state.clone(),
            version: server.properties.version.clone(),
            sku: server.sku.as_ref().map(|sku| sku.name.clone()),
            campctl: db_url.as_ref().map(|url| format!("campctl --db-url \"{url}\"")),
            db_url,
            fqdn,
        }
    }
}

impl Report for RestoredReport {
    fn tables(&self) -> Vec<Table> {
        let mut table = Table::new(
            format!("Restored Flexible Server `{}`", self.server),
            &["setting", "value"],
        );
        let rows: [(&str, Cell); 11] = [
            ("fqdn", Cell::opt(self.fqdn.clone())),
            ("campctl", Cell::opt(self.campctl.clone())),
            ("state", Cell::opt(self.state.clone())),
            ("create_mode", self.create_mode.into()),
            ("point_in_time", self.point_in_time.as_str().into()),
            ("source", self.source.as_str().into()),
            ("location", self.location.as_str().into()),
            ("resource_group", self.resource_group.as_str().into()),
            ("version", Cell::opt(self.version.clone())),
            ("sku", Cell::opt(self.sku.clone())),
            ("id", self.id.as_str().into()),
        ];
        for (name, value) in rows {
            table.row(vec![name.into(), value]);
        }
        vec![table]
    }
}

/// `--no-wait`: the restore started and how to follow it.
#[derive(Debug, Serialize)]
pub(super) struct RestoreStarted {
    pub server: String,
    pub resource_group: String,
    pub id: String,
    pub operation_url: String,
    pub follow: String,
}

impl Report for RestoreStarted {
    fn tables(&self) -> Vec<Table> {
        let mut table = Table::new(
            format!("Restore into `{}` started", self.server),
            &["operation", "follow"],
        );
        table.row(vec![self.operation_url.as_str().into(), self.follow.as_str().into()]);
        vec![table]
    }
}
