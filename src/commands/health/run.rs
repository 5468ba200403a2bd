//! Runs the selected checks at once, each under its own timeout, so that a run takes about as long as its slowest
//! check. A check that fails to run is UNKNOWN with the reason; one that times out is UNKNOWN (or CRITICAL with
//! `[health] timeout_status = "critical"`). Nothing a check does can fail the whole run.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use super::check::{CheckResult, Level};
use super::database;
use super::limits::CheckName;
use super::probe::Probe;
use super::{api, azure, backups, logs, redis, system};

type CheckFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<Vec<CheckResult>>> + Send + 'a>>;

/// The check `name`, not yet started.
fn start<'a>(name: CheckName, probe: &'a Probe<'a>) -> CheckFuture<'a> {
    match name {
        CheckName::Disk => Box::pin(system::disk(probe)),
        CheckName::Memory => Box::pin(system::memory(probe)),
        CheckName::Cpu => Box::pin(system::cpu(probe)),
        CheckName::Load => Box::pin(system::load(probe)),
        CheckName::Database => Box::pin(database::database(probe)),
        CheckName::Connections => Box::pin(database::connections(probe)),
        CheckName::Replication => Box::pin(database::replication(probe)),
        CheckName::Deadlocks => Box::pin(database::deadlocks(probe)),
        CheckName::LongQueries => Box::pin(database::long_queries(probe)),
        CheckName::IdleInTransaction => Box::pin(database::idle_in_transaction(probe)),
        CheckName::Wraparound => Box::pin(database::wraparound(probe)),
        CheckName::CacheHit => Box::pin(database::cache_hit(probe)),
        CheckName::Redis => Box::pin(redis::redis(probe)),
        CheckName::Api => Box::pin(api::api(probe)),
        CheckName::BackupAge => Box::pin(backups::backup_age(probe)),
        CheckName::VerifyAge => Box::pin(backups::verify_age(probe)),
        CheckName::AzureMetrics => Box::pin(azure::azure_metrics(probe)),
        CheckName::AppService => Box::pin(azure::app_service(probe)),
        CheckName::ErrorRate => Box::pin(logs::error_rate(probe)),
        CheckName::LatencyP95 => Box::pin(logs::latency_p95(probe)),
    }
}

/// Runs every selected check concurrently; the results come back in check order.
pub(crate) async fn run_all(probe: &Probe<'_>) -> Vec<CheckResult> {
    let runs = probe.settings.checks.iter().map(|&name| guarded(name, probe));
    futures::future::join_all(runs).await.into_iter().flatten().collect()
}

/// One check under its timeout, its failure turned into UNKNOWN, each result timed.
async fn guarded(name: CheckName, probe: &Probe<'_>) -> Vec<CheckResult> {
    let started = Instant::now();
    let timeout = probe.settings.timeout_of(name);
    let mut results = match tokio::time::timeout(timeout, start(name, probe)).await {
        Ok(Ok(results)) if !results.is_empty() => results,
        Ok(Ok(_)) => vec![CheckResult::unknown(name.name(), None, "the check measured nothing")],
        Ok(Err(err)) => vec![CheckResult::unknown(name.name(), None, format!("{err:#}"))],
        Err(_) => {
            let status = probe.settings.timeout_status;
            let mut message = format!("no answer within {}", crate::units::HumanDuration(timeout));
            if status == Level::Unknown {
                message.push_str(" (`[health] timeout_status = \"critical\"` makes this CRITICAL)");
            }
            vec![CheckResult::state(name.name(), None, status, message)]
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    for result in &mut results {
        result.duration_seconds = seconds;
    }
    results
}
