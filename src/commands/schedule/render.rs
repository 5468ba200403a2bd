//! The three outputs of `campctl schedule`, rendered from the resolved jobs: a crontab, systemd service and timer
//! units, Kubernetes CronJob manifests. Pure text; nothing here reads the configuration or writes a file.
//!
//! "The first Saturday of the month" has no cron expression: cron runs a job when the day of the month OR the day
//! of the week matches. The crontab and the CronJob schedule the days 1–7 and guard the command with
//! `[ "$(date +%u)" = 6 ]`; systemd says it directly (`Sat *-*-01..07`). With a time zone, the guard asks `date`
//! in that zone, since cron's `CRON_TZ` and Kubernetes' `timeZone` move the schedule, not the job's clock.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::settings::{Job, ScheduleSettings, When};
use crate::units::TimeZoneName;

/// The first line of every output.
fn header(kind: &str) -> String {
    format!(
        "# campctl schedule --{kind}: the runbook's calendar (campctl {}; docs/schedule.md)\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// A word for `sh`: as it is when it holds only safe characters, else in single quotes.
pub(crate) fn shell_quote(word: &str) -> Cow<'_, str> {
    let safe = !word.is_empty()
        && word
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"_-+=:,./@%".contains(&byte));
    if safe {
        Cow::Borrowed(word)
    } else {
        Cow::Owned(format!("'{}'", word.replace('\'', r"'\''")))
    }
}

/// The job's command line for `sh`.
fn shell_command(settings: &ScheduleSettings, job: &Job) -> String {
    std::iter::once(settings.binary.as_str())
        .chain(job.args.iter().map(String::as_str))
        .map(shell_quote)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `[ "$(date +%u)" = 6 ]`: true on the weekday of a first-of-month job, in the schedule's zone.
fn weekday_guard(iso_day: u8, time_zone: Option<&TimeZoneName>) -> String {
    let zone = time_zone
        .map(|zone| format!("TZ={} ", shell_quote(zone.as_str())))
        .unwrap_or_default();
    format!("[ \"$({zone}date +%u)\" = {iso_day} ]")
}

/// The five cron fields.
fn cron_fields(when: When) -> String {
    match when {
        When::Daily(at) => format!("{} {} * * *", at.minute, at.hour),
        When::Weekly(day, at) => format!("{} {} * * {}", at.minute, at.hour, day.cron()),
        When::FirstOfMonth(_, at) => format!("{} {} 1-7 * *", at.minute, at.hour),
        When::EveryMinutes(minutes) => format!("*/{minutes} * * * *"),
    }
}

/// A user crontab (`crontab FILE`): five time fields and a command per job.
pub(crate) fn crontab(settings: &ScheduleSettings) -> String {
    let mut out = header("cron");
    out.push_str("# A user crontab: install it with `crontab FILE` (it replaces the user's crontab).\n");
    match &settings.time_zone {
        Some(zone) => {
            let _ = writeln!(
                out,
                "# Times are in {zone}. CRON_TZ is read by cronie (RHEL, Fedora, Arch) and systemd-cron; Debian's and \
                 Ubuntu's cron ignore it and use the system's zone.\nCRON_TZ={zone}"
            );
        }
        None => out.push_str("# Times are in the system's time zone (`[schedule] time_zone` adds CRON_TZ=).\n"),
    }
    out.push_str("SHELL=/bin/sh\n");
    for job in &settings.jobs {
        let _ = writeln!(
            out,
            "\n# {}: {} (runbook {})",
            job.title,
            job.when.describe(),
            job.runbook
        );
        let mut command = shell_command(settings, job);
        if let When::FirstOfMonth(day, _) = job.when {
            out.push_str(
                "# cron ORs day of month and day of week: the days 1-7 are scheduled and the guard lets the command \
                 run on the one that is a ",
            );
            let _ = writeln!(out, "{}.", day.name());
            command = format!("{} && {command}", weekday_guard(day.iso(), settings.time_zone.as_ref()));
        }
        // `%` ends a crontab command (the rest is its stdin) unless escaped.
        let _ = writeln!(out, "{} {}", cron_fields(job.when), command.replace('%', r"\%"));
    }
    left_out(&mut out, settings);
    out
}

/// `# Not written: …` lines for the jobs left out.
fn left_out(out: &mut String, settings: &ScheduleSettings) {
    if !settings.left_out.is_empty() {
        out.push('\n');
    }
    for job in &settings.left_out {
        let _ = writeln!(out, "# Not written: {job}");
    }
}

/// A word of a systemd command line: `%` and `$` escaped, quoted when it has spaces or quotes.
fn systemd_word(word: &str) -> String {
    let escaped = word.replace('%', "%%").replace('$', "$$");
    let plain = !escaped.is_empty()
        && escaped
            .bytes()
            .all(|byte| !byte.is_ascii_whitespace() && !b"\"'\\;".contains(&byte));
    if plain {
        escaped
    } else {
        format!("\"{}\"", escaped.replace('\\', r"\\").replace('"', "\\\""))
    }
}

/// The `OnCalendar=` value.
fn on_calendar(when: When, time_zone: Option<&TimeZoneName>) -> String {
    let calendar = match when {
        When::Daily(at) => format!("*-*-* {at}:00"),
        When::Weekly(day, at) => format!("{} *-*-* {at}:00", day.systemd()),
        When::FirstOfMonth(day, at) => format!("{} *-*-01..07 {at}:00", day.systemd()),
        When::EveryMinutes(minutes) => format!("*-*-* *:00/{minutes}:00"),
    };
    match time_zone {
        Some(zone) => format!("{calendar} {zone}"),
        None => calendar,
    }
}

/// A service and a timer per job: `(file name, contents)`.
pub(crate) fn systemd_units(settings: &ScheduleSettings) -> Vec<(String, String)> {
    let mut units = Vec::new();
    for job in &settings.jobs {
        let name = format!("campctl-{}", job.id);
        let exec = std::iter::once(settings.binary.as_str())
            .chain(job.args.iter().map(String::as_str))
            .map(systemd_word)
            .collect::<Vec<_>>()
            .join(" ");
        let mut service = header("systemd");
        let _ = write!(
            service,
            "# {}: {} (runbook {}); started by {name}.timer\n\
             [Unit]\n\
             Description=campctl {}\n\
             Wants=network-online.target\n\
             After=network-online.target\n\
             \n\
             [Service]\n\
             Type=oneshot\n\
             ExecStart={exec}\n",
            job.title,
            job.when.describe(),
            job.runbook,
            job.title,
        );
        if job.status_is_report {
            service.push_str(
                "# Exit 1-3 are WARNING, CRITICAL, UNKNOWN: written to the textfile, not a failure of the unit.\n\
                 SuccessExitStatus=1 2 3\n",
            );
        }
        let persistent = !matches!(job.when, When::EveryMinutes(_));
        let mut timer = header("systemd");
        let _ = write!(
            timer,
            "[Unit]\n\
             Description=campctl {}: {}\n\
             \n\
             [Timer]\n\
             OnCalendar={}\n",
            job.title,
            job.when.describe(),
            on_calendar(job.when, settings.time_zone.as_ref()),
        );
        if persistent {
            timer.push_str("# A run missed while the machine was off starts at the next boot.\nPersistent=true\n");
        }
        timer.push_str("\n[Install]\nWantedBy=timers.target\n");
        units.push((format!("{name}.service"), service));
        units.push((format!("{name}.timer"), timer));
    }
    units
}

/// Every unit in one text, each after a `# ---- NAME ----` line.
pub(crate) fn systemd_text(settings: &ScheduleSettings) -> String {
    let mut out = String::new();
    for (name, contents) in systemd_units(settings) {
        let _ = writeln!(out, "# ---- {name} ----\n{contents}");
    }
    let mut notes = String::new();
    left_out(&mut notes, settings);
    out.push_str(notes.trim_start_matches('\n'));
    out
}

/// A YAML scalar: a JSON string is a YAML double-quoted one.
fn yaml_string(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

/// A command or argument of a container: Kubernetes expands `$(VAR)` in them and reads `$$` as a `$`.
fn container_word(word: &str) -> String {
    yaml_string(&word.replace('$', "$$"))
}

/// What `campctl schedule --kubernetes` needs besides `[schedule]`.
pub(crate) struct KubernetesOptions<'a> {
    pub image: &'a str,
    pub secret: Option<&'a str>,
}

/// One `batch/v1` CronJob per job, as one multi-document YAML stream.
pub(crate) fn kubernetes(settings: &ScheduleSettings, options: &KubernetesOptions<'_>) -> String {
    let mut out = header("kubernetes");
    out.push_str("# Apply with `kubectl apply -f FILE`. ");
    match &settings.time_zone {
        Some(_) => out.push_str("timeZone needs Kubernetes 1.27 or later.\n"),
        None => out.push_str(
            "No timeZone: the schedules are in the zone of kube-controller-manager (usually UTC); set \
             `[schedule] time_zone`.\n",
        ),
    }
    for job in &settings.jobs {
        let name = format!("campctl-{}", job.id);
        let _ = write!(
            out,
            "---\n\
             # {}: {} (runbook {})\n\
             apiVersion: batch/v1\n\
             kind: CronJob\n\
             metadata:\n  \
               name: {name}\n  \
               labels:\n    \
                 app.kubernetes.io/name: campctl\n    \
                 app.kubernetes.io/component: {}\n\
             spec:\n  \
               schedule: {}\n",
            job.title,
            job.when.describe(),
            job.runbook,
            job.id,
            yaml_string(&cron_fields(job.when)),
        );
        if let Some(zone) = &settings.time_zone {
            let _ = writeln!(out, "  timeZone: {}", yaml_string(zone.as_str()));
        }
        out.push_str(
            "  # One run at a time: a run still going when the next is due makes the next one skip.\n  \
             concurrencyPolicy: Forbid\n  \
             startingDeadlineSeconds: 600\n  \
             successfulJobsHistoryLimit: 3\n  \
             failedJobsHistoryLimit: 3\n  \
             jobTemplate:\n    \
               spec:\n      \
                 backoffLimit: 0\n      \
                 template:\n        \
                   metadata:\n          \
                     labels:\n            \
                       app.kubernetes.io/name: campctl\n        \
                   spec:\n          \
                     restartPolicy: Never\n          \
                     containers:\n            \
                       - name: campctl\n              ",
        );
        let _ = writeln!(out, "image: {}", yaml_string(options.image));
        let list = |words: &mut dyn Iterator<Item = String>| {
            words.map(|word| container_word(&word)).collect::<Vec<_>>().join(", ")
        };
        match job.when {
            When::FirstOfMonth(day, _) => {
                let script = format!(
                    "{} || {{ echo 'not the first {} of the month: nothing to do'; exit 0; }}; exec {}",
                    weekday_guard(day.iso(), settings.time_zone.as_ref()),
                    day.name(),
                    shell_command(settings, job)
                );
                let _ = writeln!(
                    out,
                    "              # Scheduled on days 1-7; the shell runs campctl on the {} among them (needs \
                     /bin/sh, and tzdata for a timeZone, in the image; `$$` is Kubernetes' escape of `$`).\n              \
                     command: [{}]",
                    day.name(),
                    list(&mut ["/bin/sh".to_string(), "-c".to_string(), script].into_iter())
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "              command: [{}]\n              args: [{}]",
                    container_word(&settings.binary),
                    list(&mut job.args.iter().cloned())
                );
            }
        }
        if let Some(secret) = options.secret {
            let _ = writeln!(
                out,
                "              envFrom:\n                \
                   - secretRef:\n                    \
                       name: {}",
                yaml_string(secret)
            );
        }
    }
    left_out(&mut out, settings);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words() {
        assert_eq!(shell_quote("/usr/bin/campctl"), "/usr/bin/campctl");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$(rm)"), "'$(rm)'");
    }

    #[test]
    fn systemd_words() {
        assert_eq!(systemd_word("/usr/bin/campctl"), "/usr/bin/campctl");
        assert_eq!(systemd_word("50%"), "50%%");
        assert_eq!(systemd_word("a b"), "\"a b\"");
        assert_eq!(systemd_word("$HOME"), "$$HOME");
    }
}
