//! The host's checks (runbook 5.1.1 and 9.1.1's `df -h` and `free -h`): `disk` per configured path, `memory` from
//! MemAvailable, `cpu` sampled from `/proc/stat` over an interval, `load` per core from `/proc/loadavg`.
//!
//! Linux only (campctl's platform): the `/proc` files are read as the kernel documents them (proc(5)).

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::check::{CheckResult, Unit};
use super::probe::Probe;
use crate::units::format_bytes;

/// `disk`: one result per configured path, each `statvfs` on a blocking thread (a hung network mount times out
/// alone instead of stalling the run).
pub(crate) async fn disk(probe: &Probe<'_>) -> anyhow::Result<Vec<CheckResult>> {
    let settings = &probe.settings.disk;
    let runs = settings.paths.iter().cloned().map(|path| async move {
        let target = Some(path.display().to_string());
        let usage = tokio::task::spawn_blocking({
            let path = path.clone();
            move || crate::os::fs_usage(&path)
        })
        .await;
        match usage {
            Ok(Ok(usage)) => CheckResult::measured(
                "disk",
                target,
                usage.percent(),
                Unit::Percent,
                settings.thresholds,
                format!(
                    "{} used, {} free",
                    format_bytes(i64::try_from(usage.used).unwrap_or(i64::MAX)),
                    format_bytes(i64::try_from(usage.available).unwrap_or(i64::MAX))
                ),
            ),
            Ok(Err(err)) => CheckResult::unknown("disk", target, format!("cannot read `{}`: {err}", path.display())),
            Err(err) => CheckResult::unknown("disk", target, format!("the check failed: {err}")),
        }
    });
    Ok(futures::future::join_all(runs).await)
}

/// The `key:   123 kB` lines of `/proc/meminfo` that `memory` needs, in bytes.
fn meminfo(text: &str) -> Option<(u64, u64)> {
    let field = |name: &str| {
        text.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix(':')?;
            let kib: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
            kib.checked_mul(1024)
        })
    };
    Some((field("MemTotal")?, field("MemAvailable")?))
}

/// `memory`: the share of memory not available to new work, `(MemTotal - MemAvailable) / MemTotal` (what `free`
/// shows as used, page cache excluded).
pub(crate) async fn memory(probe: &Probe<'_>) -> anyhow::Result<Vec<CheckResult>> {
    let text = read_proc("/proc/meminfo").await?;
    let (total, available) =
        meminfo(&text).context("`/proc/meminfo` has no MemTotal or MemAvailable (Linux 3.14 or later has both)")?;
    let used = total.saturating_sub(available);
    let percent = if total == 0 {
        0.0
    } else {
        used as f64 * 100.0 / total as f64
    };
    Ok(vec![CheckResult::measured(
        "memory",
        None,
        percent,
        Unit::Percent,
        probe.settings.memory,
        format!(
            "{} of {} in use, {} available",
            format_bytes(i64::try_from(used).unwrap_or(i64::MAX)),
            format_bytes(i64::try_from(total).unwrap_or(i64::MAX)),
            format_bytes(i64::try_from(available).unwrap_or(i64::MAX))
        ),
    )])
}

/// The busy and total jiffies of the `cpu` line of `/proc/stat` (idle and iowait are not busy).
fn cpu_times(text: &str) -> Option<(u64, u64)> {
    let line = text.lines().find(|line| line.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice, already counted in user and nice]
    let total: u64 = fields.iter().take(8).sum();
    let idle = fields.get(3)? + fields.get(4).copied().unwrap_or(0);
    Some((total.saturating_sub(idle), total))
}

/// `cpu`: the share of time the CPUs were busy over `[health.cpu] interval`.
pub(crate) async fn cpu(probe: &Probe<'_>) -> anyhow::Result<Vec<CheckResult>> {
    let settings = probe.settings.cpu;
    let parse = |text: String| cpu_times(&text).context("`/proc/stat` has no `cpu` line this check can read");
    let (busy_before, total_before) = parse(read_proc("/proc/stat").await?)?;
    tokio::time::sleep(settings.interval).await;
    let (busy_after, total_after) = parse(read_proc("/proc/stat").await?)?;
    let total = total_after.saturating_sub(total_before);
    let busy = busy_after.saturating_sub(busy_before);
    let percent = if total == 0 {
        0.0
    } else {
        busy as f64 * 100.0 / total as f64
    };
    Ok(vec![CheckResult::measured(
        "cpu",
        None,
        percent,
        Unit::Percent,
        settings.thresholds,
        format!(
            "busy over {} on {} cores",
            crate::units::HumanDuration(settings.interval),
            cores()
        ),
    )])
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// `load`: the 1-minute load average over the number of cores this process may use.
pub(crate) async fn load(probe: &Probe<'_>) -> anyhow::Result<Vec<CheckResult>> {
    let text = read_proc("/proc/loadavg").await?;
    let averages: Vec<f64> = text
        .split_whitespace()
        .take(3)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()
        .filter(|values: &Vec<f64>| values.len() == 3)
        .context("`/proc/loadavg` does not start with three load averages")?;
    let cores = cores();
    Ok(vec![CheckResult::measured(
        "load",
        None,
        averages[0] / cores as f64,
        Unit::Ratio,
        probe.settings.load,
        format!(
            "load {:.2} {:.2} {:.2} (1, 5, 15 min) on {cores} cores",
            averages[0], averages[1], averages[2]
        ),
    )])
}

async fn read_proc(path: &'static str) -> anyhow::Result<String> {
    let path = PathBuf::from(path);
    tokio::task::spawn_blocking(move || read(&path)).await?
}

fn read(path: &Path) -> anyhow::Result<String> {
    Ok(fs_err::read_to_string(path)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_and_cpu_lines_are_read_as_proc5_writes_them() {
        let text = "MemTotal:       16000000 kB\nMemFree:  100 kB\nMemAvailable:    4000000 kB\n";
        assert_eq!(meminfo(text), Some((16_000_000 * 1024, 4_000_000 * 1024)));
        assert_eq!(meminfo("MemTotal: 1 kB\n"), None);
        let stat = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n";
        assert_eq!(cpu_times(stat), Some((150, 1000)));
        assert_eq!(cpu_times("intr 1 2\n"), None);
    }
}
