//! `campctl restore pitr` and `campctl restore geo` (runbook 2.3.2): Azure Database for PostgreSQL Flexible
//! Server's point-in-time restore and geo-restore, both into a **new** server, through Azure Resource Manager
//! ([`crate::azure::arm::restore`]).
//!
//! Everything is checked before the one write (the PUT of the new server): the arguments first, without a request
//! (the new name, the time's syntax, the ids' shapes), then with reads only: the source exists and is `Ready`, it
//! is not encrypted with a customer-managed key, the point in time lies between its earliest restore date and now,
//! geo-restore has geo-redundant backup to restore from, the network the new server needs is known, the new name is
//! free in the target resource group and that group exists. Then `--dry-run` shows the request, or the operator
//! confirms (`--yes`), the PUT is sent and Azure's operation followed with progress (or `--no-wait`). The result
//! names the new server's FQDN and a ready-made `campctl --db-url …` line.

mod report;

use chrono::{DateTime, SecondsFormat, Timelike as _, Utc};
use serde::Serialize;

use super::args::{NewServerArgs, RestoreAzureCommand};
use crate::azure::arm::ResourceId;
use crate::azure::arm::flexible_server::{FlexibleServer, FlexibleServers, Sku};
use crate::azure::arm::restore::{
    CreateMode, RestoreNetwork, RestoreProperties, RestoreRequest, new_server_id, resource_group_exists,
    storage_for_create, valid_server_name,
};
use crate::azure::rest::api_version;
use crate::azure::rest::lro::note_progress;
use crate::commands::Ctx;
use crate::exit::{ExitStatus, UserError};
use crate::printer::{Plan, Printer};
use crate::settings::azure::AzureSettings;
use crate::units::HumanDuration;

use report::{RestoreStarted, RestoredReport};

/// One restore, as the command line asks for it.
struct Request<'a> {
    mode: CreateMode,
    /// `--time` (geo: optional).
    time: Option<&'a str>,
    /// `--location` of a geo-restore, normalised.
    location: Option<String>,
    target: &'a NewServerArgs,
}

/// Runs `campctl restore pitr | geo`.
///
/// # Errors
/// Bad arguments or a refused preflight (exit 2, nothing created), the source not found (10), Azure refusing the
/// credential (12), and a failed or canceled restore (1, Azure's error verbatim).
pub(crate) async fn restore_azure(
    command: RestoreAzureCommand,
    ctx: &Ctx,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let request = match &command {
        RestoreAzureCommand::Pitr(args) => Request {
            mode: CreateMode::PointInTimeRestore,
            time: Some(args.time.as_str()),
            location: None,
            target: &args.target,
        },
        RestoreAzureCommand::Geo(args) => Request {
            mode: CreateMode::GeoRestore,
            time: args.time.as_deref(),
            location: Some(normalise_location(&args.location)?),
            target: &args.target,
        },
    };
    // Arguments first: nothing is resolved or sent for a bad one.
    let started = Utc::now();
    let point_in_time = match request.time {
        Some(text) => parse_time(text, started)?,
        None => started,
    };
    check_arguments(request.target)?;
    let target = request.target;

    let settings = AzureSettings::resolve(&ctx.settings.config)?;
    let source_id = match target.server.as_deref() {
        Some(server) => settings.resource("postgres_server", Some(server), ResourceId::FLEXIBLE_SERVER)?,
        None => settings.postgres_server()?,
    };
    let group = target
        .resource_group
        .clone()
        .unwrap_or_else(|| source_id.resource_group.clone());
    let new_id = new_server_id(&source_id.subscription_id, &group, &target.new_server);
    if target.new_server.eq_ignore_ascii_case(&source_id.name) {
        return Err(UserError::usage(format!(
            "`--new-server {}` is the source server's name: a restore creates a new server",
            target.new_server
        ))
        .with_hint("Give another name, e.g. `--new-server pg1-restored` (Azure advises against reusing the source's)")
        .into());
    }

    let client = settings.management_client()?;
    let source = FlexibleServers {
        client: &client,
        id: &source_id,
    }
    .get()
    .await?;
    let now = Utc::now();
    check_source(&source, &source_id, request.mode)?;
    check_window(point_in_time, &source, now)?;
    let location = request.location.clone().unwrap_or_else(|| source.location.clone());
    let network = plan_network(&source, &request, &location)?;
    let sku = plan_sku(&source, target)?;
    let storage_source = source.properties.storage.as_ref();
    check_storage(storage_source, target.storage_size_gb)?;
    preflight_notes(&source, &source_id, point_in_time, request.mode, printer);

    if group != source_id.resource_group && !resource_group_exists(&client, &new_id.subscription_id, &group).await? {
        return Err(UserError::new(
            ExitStatus::NotFound,
            format!(
                "Resource group `{group}` (`--resource-group`) does not exist in subscription `{}`",
                new_id.subscription_id
            ),
        )
        .with_hint("Create it first (`az group create`), or leave out `--resource-group` to use the source's")
        .into());
    }
    let new_servers = FlexibleServers {
        client: &client,
        id: &new_id,
    };
    if let Some(existing) = new_servers.find().await? {
        return Err(UserError::usage(format!(
            "A Flexible Server named `{}` already exists in resource group `{group}` (state {})",
            target.new_server,
            existing.properties.state.as_deref().unwrap_or("unknown")
        ))
        .with_hint("Choose another `--new-server` name; a restore never replaces a server")
        .into());
    }
    printer.note(&format!(
        "New server `{}` in resource group `{group}`, {location}: the name is free",
        target.new_server
    ));
    printer.note(&format!("Network: {}", describe_network(network.as_ref())));

    let body = RestoreRequest {
        location: location.clone(),
        sku,
        properties: RestoreProperties {
            create_mode: request.mode,
            source_server_resource_id: source.id.clone(),
            point_in_time_utc: format_time(point_in_time),
            version: source.properties.version.clone(),
            storage: storage_for_create(storage_source, target.storage_size_gb),
            network,
            // A geo-restored server is in another region, whose zones are not the source's.
            availability_zone: match request.mode {
                CreateMode::PointInTimeRestore => source.properties.availability_zone.clone(),
                CreateMode::GeoRestore => None,
            },
        },
    };
    let body = serde_json::to_value(&body)?;
    let url = client.url(&new_id.to_string(), api_version::FLEXIBLE_SERVER)?;
    let command_name = match request.mode {
        CreateMode::PointInTimeRestore => "restore pitr",
        CreateMode::GeoRestore => "restore geo",
    };
    if ctx.settings.dry_run {
        printer.plan(&Plan::new(
            command_name,
            RequestPlan {
                source: source_id.to_string(),
                new_server: new_id.to_string(),
                method: "PUT",
                url: url.to_string(),
                body: body.clone(),
            },
            vec![
                format!("PUT {url}"),
                format!("with the body {body}"),
                "then follow Azure's operation until it ends, and read the new server".to_string(),
            ],
        ))?;
        return Ok(ExitStatus::Success);
    }
    printer.confirm(
        &format!(
            "Create Flexible Server `{}` in `{group}` ({location}) from `{}` as of {} ({})?",
            target.new_server,
            source_id.name,
            format_time(point_in_time),
            request.mode.as_str()
        ),
        ctx.settings.yes,
    )?;
    let what = format!("restore into `{}`", target.new_server);
    let pending = new_servers
        .start_create(&body)
        .await
        .map_err(|err| with_restore_hint(err, request.mode, &group, &target.new_server))?;
    let server = match pending {
        Some(pending) if target.no_wait => {
            printer.report(&RestoreStarted {
                server: target.new_server.clone(),
                resource_group: group.clone(),
                id: new_id.to_string(),
                operation_url: pending.url.to_string(),
                follow: format!(
                    "`campctl backup azure show --server {new_id}` shows the new server (state `Ready` when done); \
                     `az rest --method get --url '{}'` shows the operation's status",
                    pending.url
                ),
            })?;
            return Ok(ExitStatus::Success);
        }
        Some(pending) => {
            printer.note(&format!(
                "Following Azure's operation; Ctrl-C stops following, not the restore (`campctl backup azure show \
                 --server {new_id}` shows the new server)"
            ));
            new_servers
                .finish(pending, "create", &mut note_progress(printer, &what))
                .await
                .map_err(|err| with_restore_hint(err, request.mode, &group, &target.new_server))?
        }
        None => new_servers.get().await?,
    };
    let user = source
        .properties
        .administrator_login
        .clone()
        .or_else(|| server.properties.administrator_login.clone());
    printer.report(&RestoredReport::new(
        &new_id,
        &server,
        &source_id,
        request.mode,
        &format_time(point_in_time),
        user.as_deref(),
        &ctx.settings.db.dbname,
    ))?;
    Ok(ExitStatus::Success)
}

/// What a `--dry-run` shows: the one write request, not sent.
#[derive(Debug, Serialize)]
struct RequestPlan {
    source: String,
    new_server: String,
    method: &'static str,
    url: String,
    body: serde_json::Value,
}

/// `2026-12-05T03:00:00Z`, as `pointInTimeUTC` is written.
fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `--time`: RFC 3339 with a zone, `now`, or `-DURATION` (that long before `now`); whole seconds.
fn parse_time(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, UserError> {
    let trimmed = text.trim();
    let bad = || {
        UserError::usage(format!("`--time {text}` is not a point in time campctl understands")).with_hint(
            "Give RFC 3339 with a zone (`2026-12-05T03:00:00Z`, `2026-12-05T04:00:00+01:00`), `now`, or a time \
                 ago (`-2h`, `-1d12h`, `-90m`)",
        )
    };
    let time = if trimmed.eq_ignore_ascii_case("now") {
        now
    } else if let Some(ago) = trimmed.strip_prefix('-') {
        let ago: HumanDuration = ago.parse().map_err(|_| bad())?;
        let ago = chrono::Duration::from_std(ago.0).map_err(|_| bad())?;
        now.checked_sub_signed(ago).ok_or_else(bad)?
    } else {
        DateTime::parse_from_rfc3339(trimmed)
            .map_err(|_| bad())?
            .with_timezone(&Utc)
    };
    Ok(time.with_nanosecond(0).unwrap_or(time))
}

/// `--location`: Azure's region name (`northeurope`; `North Europe` is accepted).
fn normalise_location(text: &str) -> Result<String, UserError> {
    let location: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    if location.is_empty() || !location.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(
            UserError::usage(format!("`--location {text}` is not an Azure region name")).with_hint(
                "Give the region's name as `az account list-locations -o table` shows it, e.g. `northeurope`",
            ),
        );
    }
    Ok(location)
}

/// The arguments that need no request: the new name, the ids' shapes, the SKU's tier.
fn check_arguments(target: &NewServerArgs) -> Result<(), UserError> {
    if !valid_server_name(&target.new_server) {
        return Err(UserError::usage(format!(
            "`--new-server {}` is not a valid Flexible Server name: 3 to 63 lowercase letters, digits and hyphens, \
             not starting or ending with a hyphen",
            target.new_server
        ))
        .with_hint("For example `pg1-restored-20261205`"));
    }
    if let Some(group) = &target.resource_group
        && (group.is_empty()
            || group.len() > 90
            || !group
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')'))
            || group.ends_with('.'))
    {
        return Err(
            UserError::usage(format!("`--resource-group {group}` is not a valid resource group name"))
                .with_hint("Resource group names have 1 to 90 letters, digits, `-`, `_`, `.`, `(` and `)`"),
        );
    }
    if let Some(subnet) = &target.subnet
        && !id_of(subnet, "/providers/microsoft.network/virtualnetworks/", "/subnets/")
    {
        return Err(UserError::usage(format!("`--subnet {subnet}` is not a subnet's resource id")).with_hint(
            "Give `/subscriptions/SUB/resourceGroups/GROUP/providers/Microsoft.Network/virtualNetworks/VNET/subnets/\
             SUBNET` (a subnet delegated to Microsoft.DBforPostgreSQL/flexibleServers)",
        ));
    }
    if let Some(zone) = &target.private_dns_zone
        && !id_of(zone, "/providers/microsoft.network/privatednszones/", "")
    {
        return Err(UserError::usage(format!(
            "`--private-dns-zone {zone}` is not a private DNS zone's resource id"
        ))
        .with_hint("Give `/subscriptions/SUB/resourceGroups/GROUP/providers/Microsoft.Network/privateDnsZones/ZONE`"));
    }
    if let Some(sku) = &target.sku {
        tier_of(sku, target.tier.as_deref())?;
    }
    if target.storage_size_gb == Some(0) {
        return Err(UserError::usage(
            "`--storage-size-gb 0`: give the new server's storage in GiB, e.g. 256",
        ));
    }
    Ok(())
}

/// Whether `text` is an ARM id containing `provider` and then `child`.
fn id_of(text: &str, provider: &str, child: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.starts_with("/subscriptions/")
        && lower.contains("/resourcegroups/")
        && lower
            .split_once(provider)
            .is_some_and(|(_, rest)| !rest.is_empty() && rest.contains(child) && !rest.ends_with('/'))
}

/// The tier of SKU `sku`: `tier` when given, else from the name (`Standard_B…` Burstable, `Standard_D…`
/// GeneralPurpose, `Standard_E…` MemoryOptimized).
fn tier_of(sku: &str, tier: Option<&str>) -> Result<String, UserError> {
    const TIERS: [&str; 3] = ["Burstable", "GeneralPurpose", "MemoryOptimized"];
    if let Some(tier) = tier {
        return TIERS
            .iter()
            .find(|known| known.eq_ignore_ascii_case(tier))
            .map(|known| (*known).to_string())
            .ok_or_else(|| {
                UserError::usage(format!("`--tier {tier}` is not a Flexible Server tier"))
                    .with_hint("Give Burstable, GeneralPurpose or MemoryOptimized")
            });
    }
    let rest = sku.strip_prefix("Standard_").unwrap_or_default();
    match rest.chars().next() {
        Some('B') => Ok("Burstable".into()),
        Some('D') => Ok("GeneralPurpose".into()),
        Some('E') => Ok("MemoryOptimized".into()),
        _ => Err(
            UserError::usage(format!("campctl cannot tell the tier of `--sku {sku}`"))
                .with_hint("Add `--tier Burstable|GeneralPurpose|MemoryOptimized`, or give a `Standard_…` SKU name"),
        ),
    }
}

/// The source must be `Ready`, not encrypted with a customer-managed key, and (geo) geo-redundantly backed up.
fn check_source(source: &FlexibleServer, id: &ResourceId, mode: CreateMode) -> Result<(), UserError> {
    let state = source.properties.state.as_deref().unwrap_or("unknown");
    if !state.eq_ignore_ascii_case("Ready") {
        return Err(UserError::usage(format!(
            "The source server `{}` is `{state}`, not `Ready`: Azure restores only from a ready server",
            id.name
        ))
        .with_hint(if state.eq_ignore_ascii_case("Stopped") {
            format!(
                "Start it (`az postgres flexible-server start --name {} --resource-group {}`), then run the restore \
                 again",
                id.name, id.resource_group
            )
        } else {
            "Wait until the operation on it ends (`campctl backup azure show` shows its state), then run the restore \
             again"
                .to_string()
        }));
    }
    let encryption = source
        .properties
        .data_encryption
        .as_ref()
        .and_then(|encryption| encryption.get("type"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    if encryption.eq_ignore_ascii_case("AzureKeyVault") {
        return Err(UserError::usage(format!(
            "The source server `{}` encrypts its data with a customer-managed key (`dataEncryption.type = \
             AzureKeyVault`): its restore needs a user-assigned identity with access to the key (and, for geo-restore, \
             a key in the target region), which campctl does not set up",
            id.name
        ))
        .with_hint(
            "Restore it with `az postgres flexible-server restore` (or `geo-restore`) and its `--identity`/`--key` \
             (`--backup-identity`/`--backup-key`) options (docs/azure.md)",
        ));
    }
    if mode == CreateMode::GeoRestore {
        let geo = source
            .properties
            .backup
            .as_ref()
            .and_then(|backup| backup.geo_redundant_backup.as_deref())
            .unwrap_or("Disabled");
        if !geo.eq_ignore_ascii_case("Enabled") {
            return Err(UserError::usage(format!(
                "The source server `{}` has geo-redundant backup `{geo}`: there is no copy in another region to \
                 geo-restore from",
                id.name
            ))
            .with_hint(
                "Azure sets geo-redundant backup only when a server is created; restore in the same region with \
                 `campctl restore pitr`, or create the server anew with geo-redundant backup enabled (docs/azure.md)",
            ));
        }
    }
    Ok(())
}

/// `earliestRestoreDate ≤ time ≤ now`.
fn check_window(time: DateTime<Utc>, source: &FlexibleServer, now: DateTime<Utc>) -> Result<(), UserError> {
    if time > now {
        return Err(UserError::usage(format!(
            "The point in time {} is in the future (now is {})",
            format_time(time),
            format_time(now)
        ))
        .with_hint("Give a time in the past, e.g. `--time -15m`, or `--time now` for the latest"));
    }
    let earliest = source
        .properties
        .backup
        .as_ref()
        .and_then(|backup| backup.earliest_restore_date.as_deref())
        .and_then(|date| DateTime::parse_from_rfc3339(date).ok())
        .map(|date| date.with_timezone(&Utc));
    if let Some(earliest) = earliest
        && time < earliest
    {
        return Err(UserError::usage(format!(
            "The point in time {} is before the earliest restore point of `{}`, {}",
            format_time(time),
            source.name,
            format_time(earliest)
        ))
        .with_hint(format!(
            "Give a time from {} to now; the server keeps {} days of backups (`campctl backup azure set \
             --retention-days` raises that for the future only)",
            format_time(earliest),
            source
                .properties
                .backup
                .as_ref()
                .and_then(|backup| backup.backup_retention_days)
                .map_or_else(|| "its retention's".to_string(), |days| days.to_string())
        )));
    }
    Ok(())
}

/// The network of the new server: the source's delegated subnet and private DNS zone (PITR), `--subnet` and
/// `--private-dns-zone` over them; `None`: public access.
fn plan_network(
    source: &FlexibleServer,
    request: &Request<'_>,
    location: &str,
) -> Result<Option<RestoreNetwork>, UserError> {
    let network = source.properties.network.clone().unwrap_or_default();
    let non_empty = |value: Option<String>| value.filter(|value| !value.is_empty());
    let source_subnet = non_empty(network.delegated_subnet_resource_id);
    let source_zone = non_empty(network.private_dns_zone_arm_resource_id);
    let target = request.target;
    let subnet = match (request.mode, &target.subnet, &source_subnet) {
        (_, Some(subnet), _) => Some(subnet.clone()),
        (CreateMode::PointInTimeRestore, None, source_subnet) => source_subnet.clone(),
        (CreateMode::GeoRestore, None, Some(source_subnet)) => {
            return Err(UserError::usage(format!(
                "The source server `{}` is VNet-integrated (subnet `{source_subnet}`): a geo-restored server in \
                 `{location}` needs a delegated subnet of a VNet in `{location}`",
                source.name
            ))
            .with_hint(format!(
                "Give `--subnet ID`: a subnet delegated to `Microsoft.DBforPostgreSQL/flexibleServers` in a VNet in \
                 `{location}` (and `--private-dns-zone ID` unless the source's zone is linked to that VNet)"
            )));
        }
        (CreateMode::GeoRestore, None, None) => None,
    };
    let Some(subnet) = subnet else {
        if let Some(zone) = &target.private_dns_zone {
            return Err(UserError::usage(format!(
                "`--private-dns-zone {zone}` needs a delegated subnet: the source server `{}` has public access",
                source.name
            ))
            .with_hint("Add `--subnet ID` to put the new server in a VNet, or leave out `--private-dns-zone`"));
        }
        return Ok(None);
    };
    Ok(Some(RestoreNetwork {
        delegated_subnet_resource_id: subnet,
        private_dns_zone_arm_resource_id: target.private_dns_zone.clone().or(source_zone),
    }))
}

fn describe_network(network: Option<&RestoreNetwork>) -> String {
    match network {
        None => "public access, as the source (no delegated subnet)".to_string(),
        Some(network) => format!(
            "delegated subnet `{}`, private DNS zone `{}`",
            network.delegated_subnet_resource_id,
            network.private_dns_zone_arm_resource_id.as_deref().unwrap_or("(none)")
        ),
    }
}

/// The new server's SKU: `--sku` (and its tier), else the source's.
fn plan_sku(source: &FlexibleServer, target: &NewServerArgs) -> Result<Option<Sku>, UserError> {
    match &target.sku {
        Some(name) => Ok(Some(Sku {
            name: name.clone(),
            tier: tier_of(name, target.tier.as_deref())?,
        })),
        None => Ok(source.sku.clone().filter(|sku| !sku.name.is_empty())),
    }
}

/// Azure cannot shrink storage: `--storage-size-gb` must be at least the source's.
fn check_storage(source: Option<&serde_json::Value>, size: Option<u32>) -> Result<(), UserError> {
    let current = source
        .and_then(|storage| storage.get("storageSizeGB"))
        .and_then(serde_json::Value::as_u64);
    if let (Some(current), Some(size)) = (current, size)
        && u64::from(size) < current
    {
        return Err(UserError::usage(format!(
            "`--storage-size-gb {size}` is less than the source's {current} GiB: a restored server cannot be smaller"
        ))
        .with_hint(format!("Give at least {current}, or leave it out")));
    }
    Ok(())
}

fn preflight_notes(source: &FlexibleServer, id: &ResourceId, time: DateTime<Utc>, mode: CreateMode, printer: &Printer) {
    let backup = source.properties.backup.clone().unwrap_or_default();
    printer.note(&format!(
        "Source `{}` (resource group `{}`): {}, PostgreSQL {}, {} {}, {}; restore points from {} to now; \
         geo-redundant backup {}",
        id.name,
        id.resource_group,
        source.properties.state.as_deref().unwrap_or("unknown"),
        source.properties.version.as_deref().unwrap_or("?"),
        source.sku.as_ref().map_or("?", |sku| sku.name.as_str()),
        source.sku.as_ref().map_or("", |sku| sku.tier.as_str()),
        source.location,
        backup.earliest_restore_date.as_deref().unwrap_or("(unknown)"),
        backup.geo_redundant_backup.as_deref().unwrap_or("(unknown)")
    ));
    printer.note(&format!("Restore point: {} ({})", format_time(time), mode.as_str()));
}

/// A failed restore's error with what to check instead of the generic hint.
fn with_restore_hint(mut err: anyhow::Error, mode: CreateMode, group: &str, new_server: &str) -> anyhow::Error {
    if let Some(user) = err.downcast_mut::<UserError>()
        && user.status == ExitStatus::Failure
    {
        let canceled = user.message.contains("as Canceled");
        user.hint = Some(if canceled {
            format!(
                "The restore was canceled in Azure (by a user, or by a newer operation on the same server): check the \
                 activity log of resource group `{group}`, delete `{new_server}` if it was left behind, then run the \
                 restore again"
            )
        } else {
            format!(
                "Check the network (the subnet is delegated to Microsoft.DBforPostgreSQL/flexibleServers and has free \
                 addresses; the private DNS zone is linked to its VNet), the subscription's vCore quota in the \
                 region{}, then the activity log of resource group `{group}`; delete `{new_server}` if it was left in a \
                 failed state before reusing its name",
                if mode == CreateMode::GeoRestore {
                    ", and that geo-restore into that region is allowed (the source region's pair)"
                } else {
                    ""
                }
            )
        });
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-05T04:00:00.750Z")
            .expect("a time")
            .with_timezone(&Utc)
    }

    #[test]
    fn times_are_rfc3339_now_or_ago() {
        assert_eq!(
            format_time(parse_time("now", now()).expect("now")),
            "2026-12-05T04:00:00Z"
        );
        assert_eq!(
            format_time(parse_time("-2h", now()).expect("ago")),
            "2026-12-05T02:00:00Z"
        );
        assert_eq!(
            format_time(parse_time("-1d12h", now()).expect("ago")),
            "2026-12-03T16:00:00Z"
        );
        assert_eq!(
            format_time(parse_time("2026-12-05T04:30:00+01:00", now()).expect("offset")),
            "2026-12-05T03:30:00Z"
        );
        for bad in ["2026-12-05 03:00", "yesterday", "-", "-2x", "2h"] {
            let err = parse_time(bad, now()).expect_err(bad);
            assert_eq!(err.status, ExitStatus::Usage);
        }
    }

    #[test]
    fn tiers_follow_the_sku_name() {
        assert_eq!(tier_of("Standard_B1ms", None).expect("b"), "Burstable");
        assert_eq!(tier_of("Standard_D4ds_v5", None).expect("d"), "GeneralPurpose");
        assert_eq!(tier_of("Standard_E8ds_v5", None).expect("e"), "MemoryOptimized");
        assert_eq!(
            tier_of("Custom", Some("generalpurpose")).expect("given"),
            "GeneralPurpose"
        );
        assert!(tier_of("Custom", None).is_err());
        assert!(tier_of("Standard_D2", Some("Premium")).is_err());
    }

    #[test]
    fn ids_and_locations_are_checked_by_shape() {
        assert!(id_of(
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/pg",
            "/providers/microsoft.network/virtualnetworks/",
            "/subnets/"
        ));
        assert!(!id_of(
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v",
            "/providers/microsoft.network/virtualnetworks/",
            "/subnets/"
        ));
        assert!(!id_of(
            "subnet-1",
            "/providers/microsoft.network/virtualnetworks/",
            "/subnets/"
        ));
        assert_eq!(normalise_location("North Europe").expect("ok"), "northeurope");
        assert!(normalise_location("north-europe").is_err());
        assert!(check_storage(Some(&serde_json::json!({ "storageSizeGB": 128 })), Some(64)).is_err());
        assert!(check_storage(Some(&serde_json::json!({ "storageSizeGB": 128 })), Some(256)).is_ok());
    }
}
