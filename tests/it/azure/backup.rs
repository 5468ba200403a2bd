//! `campctl backup azure show | set | list | create`.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{AzureEnv, assert_documented, stderr, stdout};
use crate::common::arm::{ArmStandIn, Outcome};
use crate::common::az::AzCli;
use crate::common::{Route, assert_exit};

fn pg1() -> String {
    ArmStandIn::server_id("pg1")
}

fn retention(env: &AzureEnv) -> u64 {
    env.arm.resource(&pg1()).expect("pg1")["properties"]["backup"]["backupRetentionDays"]
        .as_u64()
        .expect("days")
}

#[test]
fn show_prints_the_backup_settings_as_table_and_json() {
    let env = AzureEnv::new("");
    let (report, output) = env.json(&["backup", "azure", "show"]);
    assert_exit(&output, 0);
    assert_eq!(report["server"], "pg1");
    assert_eq!(report["retention_days"], 7);
    assert_eq!(report["geo_redundant_backup"], "Disabled");
    assert_eq!(report["earliest_restore_date"], "2026-11-28T03:00:00+00:00");
    assert_eq!(report["state"], "Ready");
    assert_eq!(report["version"], "16");
    assert_eq!(report["fqdn"], "pg1.postgres.database.azure.com");
    assert_eq!(report["sku"], "Standard_D2ds_v4");
    assert_documented("backup-azure-show", &report);
    let table = env.run(&["backup", "azure", "show"]);
    assert_exit(&table, 0);
    let text = stdout(&table);
    assert!(
        text.contains("retention_days") && text.contains("pg1.postgres.database.azure.com"),
        "{text}"
    );
    assert_eq!(env.arm.request_lines(), vec![format!("GET {}", pg1()); 2]);
    env.arm.assert_clean();
    // The token came from the stand-in `az` for ARM's scope.
    assert!(
        env.az
            .calls()
            .iter()
            .all(|call| call.contains("--scope https://management.azure.com/.default")),
        "{:?}",
        env.az.calls()
    );
}

#[test]
fn set_retention_patches_and_follows_the_operation_to_the_new_value() {
    let env = AzureEnv::new("");
    let (report, output) = env.json(&["--yes", "backup", "azure", "set", "--retention-days", "14"]);
    assert_exit(&output, 0);
    assert_eq!(report["retention_days"], 14, "{report:#}");
    assert_eq!(retention(&env), 14);
    let requests = env.arm.requests();
    let lines = env.arm.request_lines();
    assert_eq!(lines.len(), 6, "GET, PATCH, 3 polls, GET: {lines:#?}");
    assert_eq!(lines[0], format!("GET {}", pg1()));
    assert_eq!(lines[1], format!("PATCH {}", pg1()));
    assert_eq!(
        requests[1].json(),
        json!({ "properties": { "backup": { "backupRetentionDays": 14 } } })
    );
    assert!(
        lines[2..5].iter().all(|line| line.contains("/azureAsyncOperation/")),
        "{lines:#?}"
    );
    assert_eq!(lines[5], format!("GET {}", pg1()));
    let err = stderr(&output);
    assert!(
        err.contains("Azure says InProgress") && err.contains("Azure says Succeeded"),
        "{err}"
    );
    env.arm.assert_clean();
}

#[test]
fn retention_out_of_range_is_refused_before_any_request() {
    let env = AzureEnv::new("");
    for days in ["--retention-days=3", "--retention-days=40", "--retention-days=-1"] {
        let output = env.run(&["--yes", "backup", "azure", "set", days]);
        assert_exit(&output, 2);
        assert!(stderr(&output).contains("7 to 35 days"), "{}", stderr(&output));
    }
    assert!(env.arm.requests().is_empty());
    assert!(env.az.calls().is_empty(), "no token was even asked for");
}

#[test]
fn geo_redundant_backup_cannot_be_changed_and_nothing_is_sent() {
    let env = AzureEnv::new("");
    let output = env.run(&["--yes", "backup", "azure", "set", "--geo-redundant-backup", "enabled"]);
    assert_exit(&output, 2);
    let err = stderr(&output);
    assert!(err.contains("only when a server is created"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    assert!(env.arm.requests().is_empty());
}

#[test]
fn dry_run_shows_the_patch_body_and_sends_nothing() {
    let env = AzureEnv::new("");
    let (plan, output) = env.json(&["--dry-run", "backup", "azure", "set", "--retention-days", "21"]);
    assert_exit(&output, 0);
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["method"], "PATCH");
    assert_eq!(
        plan["body"],
        json!({ "properties": { "backup": { "backupRetentionDays": 21 } } })
    );
    assert!(
        plan["url"]
            .as_str()
            .expect("url")
            .ends_with("/flexibleServers/pg1?api-version=2024-08-01"),
        "{plan:#}"
    );
    let (plan, output) = env.json(&["--dry-run", "backup", "azure", "create", "before-upgrade"]);
    assert_exit(&output, 0);
    assert_eq!(plan["method"], "PUT");
    assert!(env.arm.requests().is_empty());
    assert_eq!(retention(&env), 7);
    // A read changes nothing: `--dry-run show` shows.
    let (report, output) = env.json(&["--dry-run", "backup", "azure", "show"]);
    assert_exit(&output, 0);
    assert_eq!(report["retention_days"], 7);
    assert_eq!(env.arm.request_lines(), vec![format!("GET {}", pg1())]);
}

#[test]
fn without_a_terminal_or_yes_the_change_is_refused_after_reading_the_server() {
    let env = AzureEnv::new("");
    let output = env.run(&["backup", "azure", "set", "--retention-days", "14"]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("--yes"), "{}", stderr(&output));
    assert_eq!(env.arm.request_lines(), vec![format!("GET {}", pg1())]);
    assert_eq!(retention(&env), 7);
}

#[test]
fn list_follows_next_link_across_three_pages() {
    let env = AzureEnv::new("");
    env.arm.add_backups("pg1", 7);
    env.arm.page_size(3);
    let (report, output) = env.json(&["backup", "azure", "list"]);
    assert_exit(&output, 0);
    let backups = report["backups"].as_array().expect("backups");
    assert_eq!(backups.len(), 7, "{report:#}");
    assert_eq!(backups[0]["name"], "daily_20261101T030000");
    assert_eq!(backups[0]["type"], "Full");
    assert_eq!(backups[0]["source"], "Automatic");
    assert_eq!(backups[6]["completed"], "2026-11-07T03:05:19.902522+00:00");
    assert_documented("backup-azure-list", &report);
    let requests = env.arm.requests();
    assert_eq!(requests.len(), 3, "{:#?}", env.arm.request_lines());
    assert!(requests.iter().all(|r| r.path == format!("{}/backups", pg1())));
    assert_eq!(requests[0].query.as_deref(), Some("api-version=2024-08-01"));
    assert!(
        requests[2].query.as_deref().is_some_and(|q| q.contains("skipToken=6")),
        "{:?}",
        requests[2].query
    );
    env.arm.assert_clean();
}

#[test]
fn create_takes_an_on_demand_backup_and_waits_for_it() {
    let env = AzureEnv::new("");
    let (report, output) = env.json(&["backup", "azure", "create", "before-upgrade_1.0"]);
    assert_exit(&output, 0);
    assert_eq!(report["backups"][0]["name"], "before-upgrade_1.0", "{report:#}");
    assert_eq!(report["backups"][0]["type"], "Customer On-Demand");
    let path = format!("{}/backups/before-upgrade_1.0", pg1());
    assert!(env.arm.resource(&path).is_some());
    let lines = env.arm.request_lines();
    assert_eq!(lines[0], format!("PUT {path}"));
    assert_eq!(lines.last(), Some(&format!("GET {path}")));
    assert!(env.arm.requests()[0].body.is_empty(), "an on-demand backup has no body");
    env.arm.assert_clean();
}

#[test]
fn create_follows_a_location_header_too() {
    let env = AzureEnv::new("");
    env.arm.lro_via_location(true);
    let output = env.run(&["backup", "azure", "create", "weekly"]);
    assert_exit(&output, 0);
    let lines = env.arm.request_lines();
    assert!(
        lines.iter().filter(|line| line.contains("/operationResults/")).count() == 3,
        "{lines:#?}"
    );
    assert!(env.arm.resource(&format!("{}/backups/weekly", pg1())).is_some());
}

#[test]
fn an_invalid_backup_name_is_refused_before_any_request() {
    let env = AzureEnv::new("");
    let output = env.run(&["backup", "azure", "create", "nightly backup"]);
    assert_exit(&output, 2);
    assert!(
        stderr(&output).contains("not a valid backup name"),
        "{}",
        stderr(&output)
    );
    assert!(env.arm.requests().is_empty());
}

#[test]
fn no_wait_prints_the_operation_to_follow() {
    let env = AzureEnv::new("");
    let (report, output) = env.json(&["backup", "azure", "create", "quick", "--no-wait"]);
    assert_exit(&output, 0);
    let url = report["operation_url"].as_str().expect("operation_url");
    assert!(url.contains("/azureAsyncOperation/"), "{report:#}");
    assert!(report["follow"].as_str().expect("follow").contains("az rest"));
    assert_eq!(env.arm.requests().len(), 1, "only the PUT");
}

#[test]
fn unauthorized_is_exit_12_naming_the_credential() {
    let env = AzureEnv::new("");
    env.arm.fault(
        Some("GET"),
        "/flexibleservers/pg1",
        Route::json(
            401,
            &json!({ "error": { "code": "InvalidAuthenticationToken", "message": "The access token is invalid." } }),
        ),
        1,
    );
    let output = env.run(&["backup", "azure", "show"]);
    assert_exit(&output, 12);
    let err = stderr(&output);
    assert!(
        err.contains("`InvalidAuthenticationToken`: The access token is invalid."),
        "{err}"
    );
    assert!(err.contains("Azure CLI login"), "{err}");
}

#[test]
fn forbidden_is_exit_12_naming_the_role() {
    let env = AzureEnv::new("");
    env.arm.fault(
        Some("PUT"),
        "/backups/nightly",
        Route::json(
            403,
            &json!({ "error": { "code": "AuthorizationFailed",
                "message": "The client 'ops' does not have authorization to perform action 'Microsoft.DBforPostgreSQL/flexibleServers/backups/write'." } }),
        ),
        1,
    );
    let output = env.run(&["backup", "azure", "create", "nightly"]);
    assert_exit(&output, 12);
    let err = stderr(&output);
    assert!(err.contains("`AuthorizationFailed`"), "{err}");
    assert!(
        err.contains("`Contributor` (or a role with `Microsoft.DBforPostgreSQL/flexibleServers/backups/write`)"),
        "{err}"
    );
}

#[test]
fn a_missing_server_is_exit_10_naming_it() {
    let env = AzureEnv::new("");
    env.config("postgres_server = \"pg-gone\"");
    let output = env.run(&["backup", "azure", "show"]);
    assert_exit(&output, 10);
    let err = stderr(&output);
    assert!(
        err.contains("Flexible Server `pg-gone`") && err.contains("`ResourceNotFound`"),
        "{err}"
    );
}

#[test]
fn throttling_is_retried_after_retry_after() {
    let env = AzureEnv::new("");
    let throttled = Route::json(
        429,
        &json!({ "error": { "code": "TooManyRequests", "message": "Rate limit exceeded." } }),
    )
    .header("Retry-After", "1");
    env.arm.fault(Some("GET"), "/flexibleservers/pg1", throttled, 2);
    let started = Instant::now();
    let (report, output) = env.json(&["backup", "azure", "show"]);
    assert_exit(&output, 0);
    assert_eq!(report["retention_days"], 7);
    assert_eq!(env.arm.requests().len(), 3);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "waited what Retry-After asked"
    );
}

#[test]
fn a_retry_after_beyond_the_bound_fails_at_once() {
    let env = AzureEnv::new("");
    env.arm.fault(
        Some("GET"),
        "/flexibleservers/pg1",
        Route::json(
            429,
            &json!({ "error": { "code": "TooManyRequests", "message": "Slow down." } }),
        )
        .header("Retry-After", "3600"),
        1,
    );
    let output = env.run(&["backup", "azure", "show"]);
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(
        err.contains("retry after 3600s") && err.contains("max_retry_wait"),
        "{err}"
    );
    assert_eq!(env.arm.requests().len(), 1);
}

#[test]
fn a_failed_operation_is_exit_1_with_azures_message_verbatim() {
    let env = AzureEnv::new("");
    env.arm.next_outcome(Outcome::failed(
        "ServerIsBusy",
        "The server 'pg1' is busy with another operation. Please try your operation later.",
    ));
    let output = env.run(&["--yes", "backup", "azure", "set", "--retention-days", "30"]);
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(
        err.contains(
            "as Failed: `ServerIsBusy`: The server 'pg1' is busy with another operation. Please try your operation later."
        ),
        "{err}"
    );
    assert_eq!(retention(&env), 7, "a failed operation changes nothing");
}

#[test]
fn a_canceled_operation_is_reported() {
    let env = AzureEnv::new("");
    env.arm.next_outcome(Outcome::Canceled);
    let output = env.run(&["backup", "azure", "create", "nightly"]);
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(
        err.contains("as Canceled") && err.contains("The operation was canceled."),
        "{err}"
    );
    assert!(env.arm.resource(&format!("{}/backups/nightly", pg1())).is_none());
}

#[test]
fn a_missing_key_names_it_and_the_file() {
    let env = AzureEnv::new("");
    env.ctx.write_file(
        "campctl.toml",
        format!(
            "[azure]\nmanagement_endpoint = \"{}\"\ncredential = \"cli\"\npostgres_server = \"pg1\"\n",
            env.arm.endpoint()
        ),
    );
    let output = env.run(&["backup", "azure", "show"]);
    assert_exit(&output, 2);
    let err = stderr(&output);
    assert!(
        err.contains("`[azure] subscription_id` is not set in") && err.contains("campctl.toml"),
        "{err}"
    );
    assert!(env.arm.requests().is_empty());
    // A full resource id needs neither key; AZURE_SUBSCRIPTION_ID would also do.
    let output = env.run(&["backup", "azure", "show", "--server", &pg1()]);
    assert_exit(&output, 0);
}

#[test]
fn a_logged_out_az_is_exit_12() {
    let env = AzureEnv::new("");
    let az = AzCli::logged_out(&env.ctx.home().join("other"));
    let output = env
        .ctx
        .cmd()
        .env("SSL_CERT_FILE", env.arm.ca_file(&env.ctx))
        .env("PATH", az.path_env())
        .args(["backup", "azure", "show"])
        .output()
        .expect("run");
    assert_exit(&output, 12);
    let err = stderr(&output);
    assert!(err.contains("No Azure token") && err.contains("az login"), "{err}");
    assert!(env.arm.requests().is_empty());
}

#[test]
fn a_token_for_another_audience_is_refused_by_the_stand_in() {
    let env = AzureEnv::new("management_scope = \"https://api.loganalytics.io/.default\"");
    let output = env.run(&["backup", "azure", "show"]);
    assert_exit(&output, 12);
    assert!(
        stderr(&output).contains("InvalidAuthenticationTokenAudience"),
        "{}",
        stderr(&output)
    );
    assert_eq!(env.arm.violations().len(), 1, "{:?}", env.arm.violations());
}

#[test]
fn a_request_with_another_api_version_than_the_service_expects_is_caught_by_the_stand_in() {
    // The stand-in checks every request's api-version; here it expects another one than campctl's named
    // Flexible Server version, so the check must flag campctl's request (and Azure's answer is shown verbatim).
    let env = AzureEnv::new("");
    env.arm.expect_api_version("flexibleservers", "2099-01-01");
    let output = env.run(&["backup", "azure", "show"]);
    assert_exit(&output, 1);
    assert!(stderr(&output).contains("api-version"), "{}", stderr(&output));
    let violations = env.arm.violations();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0].contains("2024-08-01"), "{violations:?}");
}

#[test]
fn server_errors_are_retried_then_reported_verbatim() {
    let env = AzureEnv::new("max_retries = 1");
    env.arm.fault(
        Some("GET"),
        "/flexibleservers/pg1",
        Route::json(
            503,
            &json!({ "error": { "code": "ServiceUnavailable", "message": "The service is temporarily unavailable." } }),
        ),
        5,
    );
    let started = Instant::now();
    let output = env.run(&["backup", "azure", "show"]);
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("HTTP 503 `ServiceUnavailable`: The service is temporarily unavailable."),
        "{}",
        stderr(&output)
    );
    assert_eq!(env.arm.requests().len(), 2, "the first try and one retry");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "backed off before the retry"
    );
}

#[test]
fn setting_the_current_retention_sends_no_patch() {
    let env = AzureEnv::new("");
    let output = env.run(&["backup", "azure", "set", "--retention-days", "7"]);
    assert_exit(&output, 0);
    assert!(stderr(&output).contains("already 7 days"), "{}", stderr(&output));
    assert_eq!(env.arm.request_lines(), vec![format!("GET {}", pg1())]);
}

#[test]
fn a_next_link_to_another_host_is_not_followed() {
    let env = AzureEnv::new("");
    env.arm.fault(
        Some("GET"),
        "/flexibleservers/pg1/backups",
        Route::json(
            200,
            &json!({ "value": [], "nextLink": "https://attacker.example/steal?api-version=2024-08-01" }),
        ),
        1,
    );
    let output = env.run(&["backup", "azure", "list"]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("another host"), "{}", stderr(&output));
    assert_eq!(env.arm.requests().len(), 1);
}

#[test]
fn fixed_routes_of_the_stand_in_are_checked_like_the_rest() {
    let env = AzureEnv::new("");
    let mut server = env.arm.resource(&pg1()).expect("pg1");
    server["properties"]["state"] = json!("Stopped");
    env.arm.route("GET", &pg1(), Route::json(200, &server));
    let (report, output) = env.json(&["backup", "azure", "show"]);
    assert_exit(&output, 0);
    assert_eq!(report["state"], "Stopped");
    env.arm.assert_clean();
}
