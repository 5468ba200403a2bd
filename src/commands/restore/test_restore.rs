//! `campctl test-restore [BACKUP]`: restore into a scratch database, compare with what the backup recorded, drop it
//! (runbook 2.5.1, weekly and in CI). Each check is timed and reported as a table, JSON or JUnit; the result is
//! written into the backup's manifest so `backup list` shows it as verified.

use std::time::{Duration, Instant};

use chrono::Utc;

use super::args::TestRestoreArgs;
use super::read_lock::ReadLock;
use super::row_counts::{self, Comparison};
use super::run::{self, Restored, Step};
use super::settings::TestRestoreSettings;
use super::test_report::{CheckOutcome, TestRestorePlan, TestRestoreReport};
use super::{Prepared, failed_or, maintenance_server, names, preflight, prepare, sql_check};
use crate::catalog::manifest::TestRestoreResult;
use crate::catalog::select::Selected;
use crate::catalog::verification;
use crate::commands::Ctx;
use crate::exit::ExitStatus;
use crate::pg::ConnParams;
use crate::printer::{Plan, Printer};
use crate::storage::Store;

/// How long recording the result waits for a cleanup's or backup's store lock beyond `--wait-lock`: both hold it
/// for a short while (a cleanup's deletes, a backup's upload) compared with the test-restore that just ran.
const RECORD_WAIT: Duration = Duration::from_secs(60);

/// The server to restore on: `--target-url`, `[test_restore] target_url`, or the configured one. A target URL is
/// taken on its own; its warnings (a password file others can read) are shown as the main connection's are.
fn target_server(args: &TestRestoreArgs, ctx: &Ctx, printer: &Printer) -> anyhow::Result<ConnParams> {
    let config = &ctx.settings.config.sections;
    let (url, label) = match (&args.target_url, &config.test_restore.target_url) {
        (Some(url), _) => (url, "--target-url"),
        (None, Some(url)) => (url, "[test_restore] target_url"),
        (None, None) => return Ok(ctx.settings.db.clone()),
    };
    let target = ctx.settings.standalone_connection(url, label)?;
    for warning in &target.warnings {
        printer.warn(&format!("{warning} ({label})"));
    }
    Ok(target)
}

/// Runs `campctl test-restore`.
///
/// # Errors
/// Bad input (exit 2), no such backup (10), authentication (12); failed checks are not errors: they exit 1 with
/// the report.
pub(crate) async fn test_restore(args: TestRestoreArgs, ctx: &Ctx, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let started_at = Utc::now();
    let started = Instant::now();
    let target = target_server(&args, ctx, printer)?;
    // Everything that can be wrong with the input is found before any work: a usage error must never be recorded
    // as a failed test of a healthy backup.
    let TestRestoreSettings {
        source_db,
        mut options,
        maintenance_db,
        checks,
        junit,
        wait_lock,
    } = TestRestoreSettings::resolve(&args, &ctx.settings.db.dbname, &ctx.settings.config, printer.bars())?;
    let server = maintenance_server(&target, &maintenance_db, &ctx.settings.config);
    let Prepared {
        client,
        tool,
        selected,
        stores,
        ..
    } = prepare(&args.source, &source_db, &server, ctx, printer).await?;
    let database = selected.source_database().unwrap_or_else(|| source_db.clone());
    let scratch = names::unique_derived_name(&database, "__test_restore_", started_at);
    preflight::check_target_name(&scratch, &maintenance_db)?;
    preflight::check_not_template(&client, &scratch).await?;
    preflight::cap_jobs(&client, &mut options, printer).await?;

    printer.note(&format!(
        "Test-restoring `{}` from {} into `{scratch}` on {}",
        selected.name,
        selected.origin,
        target.target()
    ));
    if ctx.settings.dry_run {
        let plan = dry_run_plan(
            &args,
            &selected,
            &database,
            &target,
            &scratch,
            &options,
            &checks,
            junit.as_deref(),
        );
        printer.plan(&plan)?;
        return Ok(ExitStatus::Success);
    }

    let mut report = TestRestoreReport {
        backup: selected.name.clone(),
        origin: selected.origin.clone(),
        database,
        server: target.target(),
        scratch_database: scratch.clone(),
        kept: false,
        passed: false,
        started_at,
        duration_seconds: 0.0,
        restore_seconds: None,
        recorded_in: Vec::new(),
        host: crate::os::hostname(),
        checks: Vec::new(),
    };
    // The store lock of the backup's series, held only while the archive is read (cleanup cannot delete it).
    let read_lock = ReadLock::take(&selected, &stores, "test-restore", wait_lock).await?;
    let restore_started = Instant::now();
    match run::restore_into(
        &selected,
        &tool,
        &server,
        &scratch,
        "TEMPLATE template0",
        &options,
        read_lock,
    )
    .await
    {
        Ok(restored) => {
            report.restore_seconds = Some(restore_started.elapsed().as_secs_f64());
            restore_checks(&mut report, &restored, &selected, options.jobs);
            let scratch_params = server.with_dbname(&scratch);
            let compared = row_counts::compare(&scratch_params, &selected, &restored.fetched).await;
            let compared = match compared {
                Ok(comparison) => comparison,
                Err(err) => {
                    drop_scratch(restored, false).await;
                    return Err(err);
                }
            };
            comparison_checks(&mut report, &compared);
            sql_check::run(&mut report, &scratch_params, &checks).await;
            report.kept = args.keep;
            drop_scratch(restored, args.keep).await;
        }
        Err(failure) if crate::diagnostics::status_of(&failure.error) == ExitStatus::Failure => {
            failed_steps(&mut report, failure.step, &failure.error, checks.len());
        }
        Err(failure) => return Err(failure.error),
    }
    report.passed = report.checks.iter().all(|c| c.outcome == CheckOutcome::Pass);
    report.duration_seconds = started.elapsed().as_secs_f64();

    if !args.no_record {
        report.recorded_in = record(&selected, &stores, &report, wait_lock).await;
    }
    if let Some(path) = &junit {
        super::junit::write(path, &super::junit::render(&report))?;
    }
    printer.report(&report)?;
    if !report.passed {
        let failed: Vec<&str> = report
            .checks
            .iter()
            .filter(|c| c.outcome == CheckOutcome::Fail)
            .map(|c| c.name.as_str())
            .collect();
        printer.warn(&format!("test-restore FAILED: {}", failed.join(", ")));
    }
    Ok(failed_or(report.passed))
}

/// The checks a run makes, by the names its report gives them.
const CHECKS: [&str; 5] = [
    "download + checksum",
    "archive readable",
    "pg_restore",
    "table count",
    "row counts",
];

/// `--dry-run`: what a test-restore would do, step by step; nothing is changed.
#[expect(
    clippy::too_many_arguments,
    reason = "the pieces of the plan, each resolved by the command already"
)]
fn dry_run_plan(
    args: &TestRestoreArgs,
    selected: &Selected,
    database: &str,
    target: &ConnParams,
    scratch: &str,
    options: &run::RestoreOptions,
    checks: &[crate::config_file::SqlCheck],
    junit: Option<&std::path::Path>,
) -> Plan<TestRestorePlan> {
    let mut steps = vec![
        super::restore_report::download_step(selected, "verify it: {}"),
        format!(
            "CREATE DATABASE {}; pg_restore --exit-on-error{}{}{} ({} job{})",
            crate::pg::quote_ident(scratch),
            if options.no_owner { " --no-owner" } else { "" },
            if options.no_acl { " --no-acl" } else { "" },
            if options.no_tablespaces {
                " --no-tablespaces"
            } else {
                ""
            },
            options.jobs,
            if options.jobs == 1 { "" } else { "s" }
        ),
        "compare the table count and every table's exact row count with the backup".to_string(),
    ];
    for check in checks {
        steps.push(format!("sql check {}: `{}` = {}", check.name, check.sql, check.expect));
    }
    steps.push(if args.keep {
        format!("keep `{scratch}` (--keep)")
    } else {
        format!("DROP DATABASE {}", crate::pg::quote_ident(scratch))
    });
    if !args.no_record {
        steps.push(format!("record the result in the manifest in {}", selected.origin));
    }
    if let Some(path) = junit {
        steps.push(format!("write the JUnit report to `{}`", path.display()));
    }
    let details = TestRestorePlan {
        backup: selected.name.clone(),
        origin: selected.origin.clone(),
        object: selected.object.clone(),
        checksum_verified: selected.manifest.is_some(),
        database: database.to_string(),
        server: target.target(),
        scratch_database: scratch.to_string(),
        jobs: options.jobs,
        verify_first: options.verify_first,
        no_owner: options.no_owner,
        no_acl: options.no_acl,
        no_tablespaces: options.no_tablespaces,
        keep: args.keep,
        record: !args.no_record,
        junit: junit.map(|path| path.display().to_string()),
        checks: CHECKS
            .iter()
            .map(|name| (*name).to_string())
            .chain(checks.iter().map(|check| format!("sql {}", check.name)))
            .collect(),
        sql_checks: checks.to_vec(),
    };
    Plan::new("test-restore", details, steps)
}

async fn drop_scratch(restored: Restored, keep: bool) {
    if keep {
        restored.cleanup.disarm();
        return;
    }
    if let Err(err) = restored.cleanup.run_now().await {
        tracing::error!("failed to drop the scratch database: {err:#}");
    }
}

/// The first three checks, from a successful restore.
fn restore_checks(report: &mut TestRestoreReport, restored: &Restored, selected: &Selected, jobs: u32) {
    let fetched = &restored.fetched;
    report.check(
        "download + checksum",
        CheckOutcome::Pass,
        restored.fetch_seconds,
        if fetched.checksum_verified {
            format!(
                "{} bytes, SHA-256 {} matches the manifest",
                fetched.stored_bytes,
                &fetched.sha256[..16]
            )
        } else {
            format!(
                "{} bytes, SHA-256 {}; no manifest to compare with (not verified)",
                fetched.stored_bytes,
                &fetched.sha256[..16]
            )
        },
    );
    let summary = &fetched.summary;
    let archive_detail = format!(
        "format {} ({} compression outside, {} inside), {} TOC entries, {} tables with data, {} large objects",
        summary.version,
        fetched.compression,
        summary.compression,
        summary.toc_entries,
        summary.tables.len(),
        summary.large_objects
    );
    let version_matches = selected
        .manifest
        .as_ref()
        .and_then(|m| m.archive.as_ref())
        .is_none_or(|a| a.version == summary.version);
    report.check(
        "archive readable",
        if version_matches {
            CheckOutcome::Pass
        } else {
            CheckOutcome::Fail
        },
        0.0,
        if version_matches {
            archive_detail
        } else {
            format!("{archive_detail}; the manifest records another format version")
        },
    );
    report.check(
        "pg_restore",
        CheckOutcome::Pass,
        restored.restore_seconds,
        format!(
            "pg_restore --exit-on-error succeeded ({jobs} job{})",
            if jobs == 1 { "" } else { "s" }
        ),
    );
}

fn comparison_checks(report: &mut TestRestoreReport, comparison: &Comparison) {
    let tables_ok = comparison.restored_tables == comparison.expected_tables;
    report.check(
        "table count",
        if tables_ok {
            CheckOutcome::Pass
        } else {
            CheckOutcome::Fail
        },
        0.0,
        format!(
            "{} tables restored, the archive defines {}",
            comparison.restored_tables, comparison.expected_tables
        ),
    );
    let per_table = comparison.seconds / comparison.counts.len().max(1) as f64;
    for count in &comparison.counts {
        let (outcome, detail) = match (count.expected, count.restored) {
            (_, None) => (CheckOutcome::Fail, "missing from the restored database".to_string()),
            (None, Some(rows)) => (CheckOutcome::Pass, format!("{rows} rows (not counted in the backup)")),
            (Some(expected), Some(rows)) if expected == rows => (CheckOutcome::Pass, format!("{rows} rows")),
            (Some(expected), Some(rows)) => (
                CheckOutcome::Fail,
                format!("{rows} rows restored, the backup recorded {expected}"),
            ),
        };
        report.check(format!("rows {}", count.qualified()), outcome, per_table, detail);
    }
}

/// A restore that failed at `step`: that check fails, the earlier ones pass, the rest are skipped.
fn failed_steps(report: &mut TestRestoreReport, step: Step, error: &anyhow::Error, sql_checks: usize) {
    let steps = [
        (Step::Download, "download + checksum"),
        (Step::Archive, "archive readable"),
        (Step::PgRestore, "pg_restore"),
    ];
    let mut failed = false;
    for (this, name) in steps {
        if failed {
            report.check(name, CheckOutcome::Skip, 0.0, "skipped: an earlier check failed");
        } else if this == step {
            report.check(name, CheckOutcome::Fail, 0.0, format!("{error:#}"));
            failed = true;
        } else {
            report.check(name, CheckOutcome::Pass, 0.0, "");
        }
    }
    report.check(
        "table count",
        CheckOutcome::Skip,
        0.0,
        "skipped: an earlier check failed",
    );
    report.check(
        "row counts",
        CheckOutcome::Skip,
        0.0,
        "skipped: an earlier check failed",
    );
    if sql_checks > 0 {
        report.check(
            format!("{sql_checks} sql checks"),
            CheckOutcome::Skip,
            0.0,
            "skipped: an earlier check failed",
        );
    }
}

/// Writes the result into the manifest of the copy that was tested (an atomic replace); returns that store. Other
/// stores hold their own copies, which this run did not read.
///
/// The manifest is read, changed and written back under the store lock of the backup's series, taken again for
/// that moment (up to `wait_lock` plus [`RECORD_WAIT`]): a cleanup deleting the backup meanwhile would otherwise
/// have its manifest written back, pointing at an archive that is gone. A lock still held after that is a warning
/// and the result is not recorded.
async fn record(selected: &Selected, stores: &[Store], report: &TestRestoreReport, wait_lock: Duration) -> Vec<String> {
    let Some(object) = &selected.manifest_object else {
        return Vec::new();
    };
    let mut lock = match ReadLock::take(selected, stores, "test-restore", wait_lock.saturating_add(RECORD_WAIT)).await {
        Ok(lock) => lock,
        Err(err) => {
            tracing::warn!(
                "the result is not recorded in `{object}` of {}: {err:#}",
                selected.origin
            );
            return Vec::new();
        }
    };
    let result = TestRestoreResult {
        at: report.started_at,
        passed: report.passed,
        duration_seconds: report.duration_seconds,
        restore_seconds: report.restore_seconds.unwrap_or_default(),
    };
    let written = verification::record(&selected.store, object, result).await;
    lock.release().await;
    match written {
        Ok(()) => vec![selected.origin.clone()],
        Err(err) => {
            tracing::warn!(
                "could not record the result in `{object}` of {}: {err:#}",
                selected.origin
            );
            Vec::new()
        }
    }
}
