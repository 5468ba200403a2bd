//! `campctl backup azure`: Azure Database for PostgreSQL Flexible Server's own backups (runbook 2.1.2, 2.2.2):
//! the backup settings ([`show`](AzureCommand::Show), [`set`](AzureCommand::Set)), the list of automatic and
//! on-demand backups ([`list`](AzureCommand::List)) and on-demand backups ([`create`](AzureCommand::Create)), through
//! Azure Resource Manager ([`crate::azure::rest`]). Every argument is checked before the first request.

mod report;

use clap::{Args, Subcommand};
use serde::Serialize;

use crate::azure::arm::ResourceId;
use crate::azure::arm::backups::{Backups, valid_backup_name};
use crate::azure::arm::flexible_server::{FlexibleServers, RETENTION_DAYS, retention_patch};
use crate::azure::rest::api_version;
use crate::azure::rest::lro::{Pending, note_progress as progress};
use crate::commands::Ctx;
use crate::exit::{ExitStatus, UserError};
use crate::printer::{Plan, Printer};
use crate::settings::azure::AzureSettings;

use report::{BackupsReport, OperationReport, ServerReport};

/// Options of `campctl backup azure`.
#[derive(Debug, Args)]
pub struct AzureArgs {
    #[command(subcommand)]
    pub command: AzureCommand,

    /// The Flexible Server: a name in `[azure] resource_group`, or a full resource id [default: `[azure]
    /// postgres_server`]
    #[arg(long, value_name = "NAME|ID", global = true)]
    pub server: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AzureCommand {
    /// Backup settings (retention, geo-redundancy, earliest restore point), state, version, FQDN and SKU
    Show,
    /// Change the backup retention (7–35 days); asks first, follows Azure's operation
    ///
    /// `--dry-run` shows the PATCH request and sends nothing. Geo-redundant backup cannot be changed: Azure sets it
    /// only when a server is created.
    Set(SetArgs),
    /// The server's backups (automatic and on-demand), with type, source and completion time
    List,
    /// Take an on-demand backup named NAME (Azure keeps it for the retention period)
    Create(CreateArgs),
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// Days of automatic backups Azure keeps (7 to 35)
    #[arg(long, value_name = "DAYS")]
    pub retention_days: Option<i64>,

    /// Refused with an explanation: Azure allows geo-redundant backup only when a server is created
    #[arg(long, value_name = "enabled|disabled")]
    pub geo_redundant_backup: Option<String>,

    /// Start the change and print how to follow it, without waiting for Azure to finish
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Name of the backup (letters, digits, `-`, `_`, `.`)
    #[arg(value_name = "NAME")]
    pub name: String,

    /// Start the backup and print how to follow it, without waiting for Azure to finish
    #[arg(long)]
    pub no_wait: bool,
}

/// Runs `campctl backup azure …`.
///
/// # Errors
/// Bad arguments or `[azure]` settings (exit 2, before any request), and Azure's errors (see
/// [`crate::azure::rest`]).
pub(crate) async fn azure(args: AzureArgs, ctx: &Ctx, printer: &Printer) -> anyhow::Result<ExitStatus> {
    // Arguments first: a bad one is refused before settings are resolved or any request is sent.
    match &args.command {
        AzureCommand::Set(set) => check_set(set)?,
        AzureCommand::Create(create) => check_backup_name(&create.name)?,
        AzureCommand::Show | AzureCommand::List => {}
    }
    let settings = AzureSettings::resolve(&ctx.settings.config)?;
    let server_id = match args.server.as_deref() {
        Some(server) => settings.resource("postgres_server", Some(server), ResourceId::FLEXIBLE_SERVER)?,
        None => settings.postgres_server()?,
    };
    // `--dry-run` changes what `set` and `create` do; `show` and `list` change nothing and run as usual.
    if ctx.settings.dry_run && matches!(args.command, AzureCommand::Set(_) | AzureCommand::Create(_)) {
        return dry_run(&args.command, &settings, &server_id, printer);
    }
    let client = settings.management_client()?;
    let servers = FlexibleServers {
        client: &client,
        id: &server_id,
    };
    match args.command {
        AzureCommand::Show => {
            let server = servers.get().await?;
            printer.report(&ServerReport::new(&server_id, &server))?;
            Ok(ExitStatus::Success)
        }
        AzureCommand::Set(set) => {
            let Some(days) = set.retention_days else {
                return Err(nothing_to_set());
            };
            let days = u32::try_from(days).unwrap_or_default();
            let server = servers.get().await?;
            let current = server.properties.backup.as_ref().and_then(|b| b.backup_retention_days);
            if current == Some(days) {
                printer.note(&format!(
                    "The backup retention of `{}` is already {days} days: nothing to change",
                    server_id.name
                ));
                printer.report(&ServerReport::new(&server_id, &server))?;
                return Ok(ExitStatus::Success);
            }
            printer.confirm(
                &format!(
                    "Change the backup retention of Flexible Server `{}` from {} to {days} days?",
                    server_id.name,
                    current.map_or_else(|| "(unknown)".to_string(), |days| days.to_string())
                ),
                ctx.settings.yes,
            )?;
            let action = format!("set the backup retention to {days} days on");
            let Some(pending) = servers.start_update(&retention_patch(days), &action).await? else {
                let server = servers.get().await?;
                printer.report(&ServerReport::new(&server_id, &server))?;
                return Ok(ExitStatus::Success);
            };
            if set.no_wait {
                return no_wait(
                    &pending,
                    &format!("campctl backup azure show --server {server_id}"),
                    printer,
                );
            }
            let server = servers
                .finish(pending, &action, &mut progress(printer, "retention change"))
                .await?;
            printer.report(&ServerReport::new(&server_id, &server))?;
            Ok(ExitStatus::Success)
        }
        AzureCommand::List => {
            let backups = Backups {
                client: &client,
                server: &server_id,
            }
            .list()
            .await?;
            printer.report(&BackupsReport::new(&server_id, backups))?;
            Ok(ExitStatus::Success)
        }
        AzureCommand::Create(create) => {
            let backups = Backups {
                client: &client,
                server: &server_id,
            };
            let Some(pending) = backups.start_create(&create.name).await? else {
                printer.note(&format!("On-demand backup `{}` taken", create.name));
                return Ok(ExitStatus::Success);
            };
            if create.no_wait {
                return no_wait(
                    &pending,
                    &format!("campctl backup azure list --server {server_id}"),
                    printer,
                );
            }
            let backup = backups
                .finish_create(&create.name, pending, &mut progress(printer, "on-demand backup"))
                .await?;
            printer.report(&BackupsReport::new(&server_id, vec![backup]))?;
            Ok(ExitStatus::Success)
        }
    }
}

fn nothing_to_set() -> anyhow::Error {
    UserError::usage("`backup azure set` needs `--retention-days DAYS`")
        .with_hint("Give the days of automatic backups Azure should keep, 7 to 35 (runbook 2.1.2)")
        .into()
}

/// `set`'s arguments, before anything is sent.
fn check_set(args: &SetArgs) -> anyhow::Result<()> {
    if let Some(geo) = &args.geo_redundant_backup {
        return Err(UserError::usage(format!(
            "`--geo-redundant-backup {geo}`: Azure sets geo-redundant backup only when a server is created; an \
             existing server cannot change it"
        ))
        .with_hint(
            "To get geo-redundant backups, restore into a new server created with geo-redundant backup enabled (e.g. \
             a point-in-time restore to a new server), then move the application to it (docs/azure.md)",
        )
        .into());
    }
    let Some(days) = args.retention_days else {
        return Err(nothing_to_set());
    };
    if !u32::try_from(days).is_ok_and(|days| RETENTION_DAYS.contains(&days)) {
        return Err(UserError::usage(format!(
            "`--retention-days {days}` is out of range: Azure keeps automatic backups {} to {} days",
            RETENTION_DAYS.start(),
            RETENTION_DAYS.end()
        ))
        .with_hint("Give a number of days from 7 to 35 (the runbook asks for at least 7, 2.1.2)")
        .into());
    }
    Ok(())
}

fn check_backup_name(name: &str) -> anyhow::Result<()> {
    if valid_backup_name(name) {
        return Ok(());
    }
    Err(UserError::usage(format!(
        "`{name}` is not a valid backup name: Azure allows letters, digits, `-`, `_` and `.`"
    ))
    .with_hint("For example `before-upgrade-2026-12-05`")
    .into())
}

/// What a `--dry-run` shows: the request that would be sent. Nothing is sent, not even a read.
#[derive(Debug, Serialize)]
struct RequestPlan {
    server: String,
    method: &'static str,
    url: String,
    body: Option<serde_json::Value>,
}

fn dry_run(
    command: &AzureCommand,
    settings: &AzureSettings,
    server: &ResourceId,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let url = |path: &str| {
        format!(
            "{}{path}?api-version={}",
            settings.endpoints.management.endpoint,
            api_version::FLEXIBLE_SERVER
        )
    };
    let (command_name, method, url, body, step) = match command {
        AzureCommand::Set(set) => {
            let days = u32::try_from(set.retention_days.unwrap_or_default()).unwrap_or_default();
            let body = retention_patch(days);
            (
                "backup azure set",
                "PATCH",
                url(&server.to_string()),
                Some(body.clone()),
                format!("PATCH the server with {body}, then follow Azure's operation until it ends"),
            )
        }
        AzureCommand::Create(create) => (
            "backup azure create",
            "PUT",
            url(&server.child("backups", &create.name)),
            None,
            format!(
                "PUT the on-demand backup `{}` (no body), then follow Azure's operation until it ends",
                create.name
            ),
        ),
        AzureCommand::Show | AzureCommand::List => return Ok(ExitStatus::Success),
    };
    printer.plan(&Plan::new(
        command_name,
        RequestPlan {
            server: server.to_string(),
            method,
            url: url.clone(),
            body,
        },
        vec![format!("{method} {url}"), step],
    ))?;
    Ok(ExitStatus::Success)
}

/// `--no-wait`: what was started and how to follow it.
fn no_wait(pending: &Pending, follow: &str, printer: &Printer) -> anyhow::Result<ExitStatus> {
    printer.report(&OperationReport {
        operation_url: pending.url.to_string(),
        follow: format!(
            "`az rest --method get --url '{}'` shows the operation's status; `{follow}` shows the result",
            pending.url
        ),
    })?;
    Ok(ExitStatus::Success)
}
