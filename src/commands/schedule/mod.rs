//! `campctl schedule`: the runbook's calendar (2.1.2, 7.1–7.3, 9.1) as a crontab, systemd timers or Kubernetes
//! CronJobs, each job a campctl command line with JSON logs.
//!
//! [`ScheduleArgs`] and `[schedule]` are resolved into jobs (`settings.rs`) before anything is written;
//! `render.rs` turns them into text. It writes nothing but stdout, or the unit files of `--systemd --output DIR`:
//! installing them (`crontab`, `systemctl enable --now`, `kubectl apply`) is left to the operator.

mod render;
mod settings;

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{ArgGroup, Args};

pub(crate) use self::settings::{ScheduleSettings, Target};
use crate::commands::Ctx;
use crate::exit::{ExitStatus, UserError};
use crate::printer::Printer;

/// Print the runbook's calendar as a crontab, systemd timers or Kubernetes CronJobs
///
/// Backup daily 03:00, files backup 04:00, cleanup 05:00, health every 5 minutes, test-restore on Wednesdays
/// 06:00, VACUUM FULL on the first Saturday of the month 02:00, REINDEX of bloated indexes on the first Sunday
/// 02:00: the times and the time zone come from `[schedule]`. Every job runs campctl with `--log-format json`.
/// Nothing is installed: docs/schedule.md shows how.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("output_kind").required(true).args(["cron", "systemd", "kubernetes"])))]
pub struct ScheduleArgs {
    /// A user crontab (five time fields and a command per line)
    #[arg(long)]
    pub(crate) cron: bool,

    /// A systemd service and timer per job
    #[arg(long)]
    pub(crate) systemd: bool,

    /// A batch/v1 CronJob per job (needs --image)
    #[arg(long, requires = "image")]
    pub(crate) kubernetes: bool,

    /// Write the units to DIR (created if missing) instead of printing them; with --dry-run, only name them
    #[arg(long, value_name = "DIR", conflicts_with_all = ["cron", "kubernetes"])]
    pub(crate) output: Option<PathBuf>,

    /// The container image of the CronJobs, with campctl in it
    #[arg(long, value_name = "IMAGE", conflicts_with_all = ["cron", "systemd"])]
    pub(crate) image: Option<String>,

    /// The Secret whose keys become the jobs' environment (envFrom), e.g. DATABASE_URL, AZURE_STORAGE_CONNECTION_STRING
    #[arg(long, value_name = "NAME", conflicts_with_all = ["cron", "systemd"])]
    pub(crate) secret: Option<String>,
}

impl ScheduleArgs {
    fn target(&self) -> Target {
        if self.kubernetes {
            Target::Kubernetes
        } else if self.systemd {
            Target::Systemd
        } else {
            Target::Cron
        }
    }
}

/// Runs `campctl schedule`.
///
/// # Errors
/// Settings errors (exit 2: a time that is not `HH:MM`, a bad zone, an empty image or Secret name), or stdout
/// or `--output` that cannot be written.
pub(crate) fn schedule(args: &ScheduleArgs, ctx: &Ctx, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let settings = ScheduleSettings::resolve(ctx, args.target())?;
    let text = match args.target() {
        Target::Cron => render::crontab(&settings),
        Target::Systemd => match &args.output {
            Some(dir) if ctx.settings.dry_run => {
                for (name, _) in render::systemd_units(&settings) {
                    printer.note(&format!("would write {}", dir.join(name).display()));
                }
                printer.note("--dry-run: nothing was written");
                return Ok(ExitStatus::Success);
            }
            Some(dir) => {
                write_units(dir, &render::systemd_units(&settings), printer)?;
                for job in &settings.left_out {
                    printer.warn(&format!("Not written: {job}"));
                }
                return Ok(ExitStatus::Success);
            }
            None => render::systemd_text(&settings),
        },
        Target::Kubernetes => {
            let image = args.image.as_deref().unwrap_or_default();
            if image.trim().is_empty() {
                return Err(UserError::usage("`--image` is empty")
                    .with_hint("Name the image with campctl in it, e.g. `--image registry.example.com/campctl:1.4`")
                    .into());
            }
            if let Some(secret) = &args.secret
                && !is_object_name(secret)
            {
                return Err(
                    UserError::usage(format!("`--secret {secret}` is not a Kubernetes object name"))
                        .with_hint("Use lowercase letters, digits, `-` and `.`, e.g. `--secret campctl-env`")
                        .into(),
                );
            }
            render::kubernetes(
                &settings,
                &render::KubernetesOptions {
                    image,
                    secret: args.secret.as_deref(),
                },
            )
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(ExitStatus::Success)
}

/// A DNS subdomain name (RFC 1123), as Kubernetes requires of a Secret's name.
fn is_object_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-' || byte == b'.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// Writes each unit into `dir`, replacing a unit of the same name, and names each file on stderr.
fn write_units(dir: &std::path::Path, units: &[(String, String)], printer: &Printer) -> anyhow::Result<()> {
    fs_err::create_dir_all(dir).with_context(|| format!("Failed to create `{}`", dir.display()))?;
    for (name, contents) in units {
        let path = dir.join(name);
        fs_err::write(&path, contents)?;
        printer.note(&format!("wrote {}", path.display()));
    }
    printer.note(
        "Install: copy them to /etc/systemd/system, then `systemctl daemon-reload` and `systemctl enable --now \
         campctl-*.timer` (docs/schedule.md)",
    );
    Ok(())
}
