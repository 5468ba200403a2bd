//! `campctl restore pitr | geo`: Flexible Server point-in-time and geo restores into a new server, against the ARM
//! stand-in. Every refusal is checked to have sent no write (the stand-in saw no PUT).

use std::process::Output;

use chrono::{Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{AzureEnv, stderr};
use crate::common::arm::{ArmStandIn, Outcome, RESOURCE_GROUP, SUBSCRIPTION};
use crate::common::{Recorded, Route, assert_exit};

const SUBNET: &str = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg-net/providers/\
                      Microsoft.Network/virtualNetworks/vnet-we/subnets/pg";
const DNS_ZONE: &str = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg-net/providers/\
                        Microsoft.Network/privateDnsZones/pg1.private.postgres.database.azure.com";

fn pg1() -> String {
    ArmStandIn::server_id("pg1")
}

fn rfc3339(time: chrono::DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `pg1` with restore points from 7 days ago, an admin login and `extra` merged into its properties.
fn env_with(extra: Value) -> AzureEnv {
    let env = AzureEnv::new("");
    let mut server = env.arm.resource(&pg1()).expect("pg1");
    let properties = server["properties"].as_object_mut().expect("properties");
    properties.insert("administratorLogin".into(), json!("campadmin"));
    properties["backup"]["earliestRestoreDate"] = json!(rfc3339(Utc::now() - Duration::days(7)));
    if let Value::Object(extra) = extra {
        for (name, value) in extra {
            if let (Some(Value::Object(into)), Value::Object(value)) = (properties.get_mut(&name), &value) {
                into.extend(value.clone());
            } else {
                properties.insert(name, value);
            }
        }
    }
    env.arm.set_resource(&pg1(), server);
    env
}

fn puts(env: &AzureEnv) -> Vec<Value> {
    env.arm
        .requests()
        .iter()
        .filter(|request| request.method == "PUT")
        .map(Recorded::json)
        .collect()
}

/// `campctl --yes restore pitr --time -1h --new-server pg1-restored ARGS…`, what most tests vary.
fn pitr(env: &AzureEnv, args: &[&str]) -> Output {
    let mut all = vec![
        "--yes",
        "restore",
        "pitr",
        "--time",
        "-1h",
        "--new-server",
        "pg1-restored",
    ];
    all.extend_from_slice(args);
    env.run(&all)
}

fn assert_no_put(env: &AzureEnv) {
    assert!(puts(env).is_empty(), "{:#?}", env.arm.request_lines());
}

#[test]
fn pitr_creates_the_new_server_with_one_put_copying_the_network() {
    let env = env_with(json!({ "network": { "publicNetworkAccess": "Disabled",
        "delegatedSubnetResourceId": SUBNET, "privateDnsZoneArmResourceId": DNS_ZONE } }));
    let time = rfc3339(Utc::now() - Duration::hours(1));
    let (report, output) = env.json(&[
        "--db-url",
        "postgres://app@localhost/appdb",
        "--yes",
        "restore",
        "pitr",
        "--time",
        &time,
        "--new-server",
        "pg1-restored",
    ]);
    assert_exit(&output, 0);
    let put = puts(&env);
    assert_eq!(put.len(), 1, "{:#?}", env.arm.request_lines());
    assert_eq!(
        put[0],
        json!({
            "location": "westeurope",
            "sku": { "name": "Standard_D2ds_v4", "tier": "GeneralPurpose" },
            "properties": {
                "createMode": "PointInTimeRestore",
                "sourceServerResourceId": pg1(),
                "pointInTimeUTC": time,
                "version": "16",
                "storage": { "storageSizeGB": 128, "autoGrow": "Disabled", "tier": "P10", "type": "Premium_LRS" },
                "network": { "delegatedSubnetResourceId": SUBNET, "privateDnsZoneArmResourceId": DNS_ZONE },
                "availabilityZone": "1"
            }
        })
    );
    let lines = env.arm.request_lines();
    let new_id = ArmStandIn::server_id("pg1-restored");
    assert_eq!(lines[0], format!("GET {}", pg1()));
    assert_eq!(lines[1], format!("GET {new_id}"), "the name was checked free first");
    assert_eq!(lines[2], format!("PUT {new_id}"));
    assert!(
        lines[3..lines.len() - 1]
            .iter()
            .all(|l| l.contains("/azureAsyncOperation/")),
        "{lines:#?}"
    );
    assert_eq!(lines.last(), Some(&format!("GET {new_id}")));
    assert_eq!(report["fqdn"], "pg1-restored.postgres.database.azure.com", "{report:#}");
    assert_eq!(report["state"], "Ready");
    assert_eq!(report["create_mode"], "PointInTimeRestore");
    assert_eq!(report["point_in_time"], time.as_str());
    assert_eq!(
        report["campctl"],
        "campctl --db-url \"postgres://campadmin@pg1-restored.postgres.database.azure.com:5432/appdb?sslmode=require\""
    );
    let err = stderr(&output);
    assert!(
        err.contains("Azure says InProgress") && err.contains("Azure says Succeeded"),
        "{err}"
    );
    assert!(err.contains("the name is free") && err.contains(SUBNET), "{err}");
    env.arm.assert_clean();
    // The table view ends with the same ready-made line.
    let table = env.run(&[
        "--yes",
        "restore",
        "pitr",
        "--time",
        "-30m",
        "--new-server",
        "pg1-restored-2",
    ]);
    assert_exit(&table, 0);
    assert!(
        String::from_utf8_lossy(&table.stdout).contains("campctl --db-url"),
        "{}",
        String::from_utf8_lossy(&table.stdout)
    );
}

#[test]
fn geo_restore_goes_to_the_location_without_the_zone() {
    let env = env_with(json!({ "backup": { "geoRedundantBackup": "Enabled" } }));
    let before = Utc::now() - Duration::seconds(1);
    let (report, output) = env.json(&[
        "--yes",
        "restore",
        "geo",
        "--location",
        "North Europe",
        "--new-server",
        "pg1-ne",
        "--sku",
        "Standard_E4ds_v5",
    ]);
    assert_exit(&output, 0);
    let put = puts(&env);
    assert_eq!(put.len(), 1);
    let body = &put[0];
    assert_eq!(body["location"], "northeurope");
    assert_eq!(
        body["sku"],
        json!({ "name": "Standard_E4ds_v5", "tier": "MemoryOptimized" })
    );
    assert_eq!(body["properties"]["createMode"], "GeoRestore");
    assert_eq!(body["properties"]["sourceServerResourceId"], pg1());
    assert!(body["properties"].get("availabilityZone").is_none(), "{body:#}");
    assert!(body["properties"].get("network").is_none(), "a public source: {body:#}");
    let time = chrono::DateTime::parse_from_rfc3339(body["properties"]["pointInTimeUTC"].as_str().expect("time"))
        .expect("RFC 3339");
    assert!(time >= before && time <= Utc::now(), "default: the latest, {time}");
    assert_eq!(report["location"], "northeurope", "{report:#}");
    env.arm.assert_clean();
}

#[test]
fn geo_restore_of_a_vnet_source_needs_a_subnet_in_the_new_region() {
    let env = env_with(json!({ "backup": { "geoRedundantBackup": "Enabled" },
        "network": { "delegatedSubnetResourceId": SUBNET, "privateDnsZoneArmResourceId": DNS_ZONE } }));
    let output = env.run(&[
        "--yes",
        "restore",
        "geo",
        "--location",
        "northeurope",
        "--new-server",
        "pg1-ne",
    ]);
    assert_exit(&output, 2);
    let err = stderr(&output);
    assert!(err.contains("VNet-integrated") && err.contains("--subnet"), "{err}");
    assert_no_put(&env);
    let ne_subnet = SUBNET.replace("vnet-we", "vnet-ne");
    let output = env.run(&[
        "--yes",
        "restore",
        "geo",
        "--location",
        "northeurope",
        "--new-server",
        "pg1-ne",
        "--subnet",
        &ne_subnet,
    ]);
    assert_exit(&output, 0);
    assert_eq!(
        puts(&env)[0]["properties"]["network"],
        json!({ "delegatedSubnetResourceId": ne_subnet, "privateDnsZoneArmResourceId": DNS_ZONE })
    );
}

#[test]
fn times_outside_the_restore_window_are_refused_before_any_write() {
    let env = env_with(json!({}));
    let earliest = rfc3339(Utc::now() - Duration::days(8));
    let future = rfc3339(Utc::now() + Duration::hours(1));
    for (time, expected) in [
        (earliest.as_str(), "before the earliest restore point"),
        (future.as_str(), "in the future"),
    ] {
        let output = env.run(&[
            "--yes",
            "restore",
            "pitr",
            "--time",
            time,
            "--new-server",
            "pg1-restored",
        ]);
        assert_exit(&output, 2);
        let err = stderr(&output);
        assert!(err.contains(expected), "{err}");
    }
    // Only the source was read: not even the new name was looked up.
    assert_eq!(env.arm.request_lines(), vec![format!("GET {}", pg1()); 2]);
    // A time campctl cannot read is refused before any request at all.
    let output = env.run(&[
        "--yes",
        "restore",
        "pitr",
        "--time",
        "yesterday",
        "--new-server",
        "pg1-restored",
    ]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("RFC 3339"), "{}", stderr(&output));
    assert_eq!(env.arm.requests().len(), 2);
}

#[test]
fn geo_restore_without_geo_redundant_backup_is_refused() {
    let env = env_with(json!({}));
    let output = env.run(&[
        "--yes",
        "restore",
        "geo",
        "--location",
        "northeurope",
        "--new-server",
        "pg1-ne",
    ]);
    assert_exit(&output, 2);
    let err = stderr(&output);
    assert!(err.contains("geo-redundant backup `Disabled`"), "{err}");
    assert!(err.contains("only when a server is created"), "{err}");
    assert_no_put(&env);
}

#[test]
fn names_taken_invalid_or_the_sources_are_refused() {
    let env = env_with(json!({}));
    env.arm.add_server("pg2");
    let output = env.run(&["--yes", "restore", "pitr", "--time", "-1h", "--new-server", "pg2"]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("already exists"), "{}", stderr(&output));
    assert_no_put(&env);
    let requests = env.arm.requests().len();
    for name in ["PG1-Restored", "pg", "-pg1", "pg1_restored", &"a".repeat(64)] {
        let flag = format!("--new-server={name}");
        let output = env.run(&["--yes", "restore", "pitr", "--time", "-1h", &flag]);
        assert_exit(&output, 2);
        assert!(
            stderr(&output).contains("not a valid Flexible Server name"),
            "{name}: {}",
            stderr(&output)
        );
    }
    let output = env.run(&["--yes", "restore", "pitr", "--time", "-1h", "--new-server", "pg1"]);
    assert_exit(&output, 2);
    assert!(
        stderr(&output).contains("the source server's name"),
        "{}",
        stderr(&output)
    );
    assert_eq!(env.arm.requests().len(), requests, "no request for a bad name");
}

#[test]
fn a_source_that_is_not_ready_or_uses_a_customer_key_is_refused() {
    let env = env_with(json!({ "state": "Stopped" }));
    let output = pitr(&env, &[]);
    assert_exit(&output, 2);
    let err = stderr(&output);
    assert!(
        err.contains("`Stopped`, not `Ready`") && err.contains("flexible-server start"),
        "{err}"
    );
    assert_no_put(&env);
    let env = env_with(json!({ "dataEncryption": { "type": "AzureKeyVault",
        "primaryKeyURI": "https://kv.vault.azure.net/keys/pg/1" } }));
    let output = pitr(&env, &[]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("customer-managed key"), "{}", stderr(&output));
    assert_no_put(&env);
}

#[test]
fn a_failed_restore_is_exit_1_with_azures_error_verbatim() {
    let env = env_with(json!({}));
    env.arm.next_outcome(Outcome::failed(
        "SubnetNotDelegated",
        "The subnet 'pg' is not delegated to Microsoft.DBforPostgreSQL/flexibleServers.",
    ));
    let output = pitr(&env, &[]);
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(
        err.contains(
            "as Failed: `SubnetNotDelegated`: The subnet 'pg' is not delegated to \
                      Microsoft.DBforPostgreSQL/flexibleServers."
        ),
        "{err}"
    );
    assert!(err.contains("quota") && err.contains("delegated"), "{err}");
    assert!(env.arm.resource(&ArmStandIn::server_id("pg1-restored")).is_none());
}

#[test]
fn a_canceled_restore_is_reported_as_canceled() {
    let env = env_with(json!({}));
    env.arm.next_outcome(Outcome::Canceled);
    let output = pitr(&env, &[]);
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(err.contains("as Canceled: `OperationCanceled`"), "{err}");
    assert!(err.contains("was canceled in Azure"), "{err}");
}

#[test]
fn dry_run_shows_the_request_and_writes_nothing() {
    let env = env_with(json!({}));
    let (plan, output) = env.json(&[
        "--dry-run",
        "restore",
        "pitr",
        "--time",
        "-2h",
        "--new-server",
        "pg1-restored",
    ]);
    assert_exit(&output, 0);
    assert_eq!(plan["dry_run"], true, "{plan:#}");
    assert_eq!(plan["command"], "restore pitr");
    assert_eq!(plan["method"], "PUT");
    assert!(
        plan["url"]
            .as_str()
            .expect("url")
            .ends_with("/flexibleServers/pg1-restored?api-version=2024-08-01"),
        "{plan:#}"
    );
    assert_eq!(plan["body"]["properties"]["createMode"], "PointInTimeRestore");
    assert_no_put(&env);
    // The text view prints the URL and the body on stderr.
    let output = env.run(&[
        "--dry-run",
        "restore",
        "pitr",
        "--time",
        "-2h",
        "--new-server",
        "pg1-restored",
    ]);
    assert_exit(&output, 0);
    let err = stderr(&output);
    assert!(
        err.contains("PUT https://") && err.contains("\"createMode\":\"PointInTimeRestore\""),
        "{err}"
    );
    assert_no_put(&env);
    assert!(env.arm.resource(&ArmStandIn::server_id("pg1-restored")).is_none());
    // Without `--yes` and without a terminal to ask on, the checks run and the restore is refused.
    let output = env.run(&["restore", "pitr", "--time", "-2h", "--new-server", "pg1-restored"]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("--yes"), "{}", stderr(&output));
    assert_no_put(&env);
}

#[test]
fn no_wait_prints_the_operation_and_how_to_follow_it() {
    let env = env_with(json!({}));
    let (report, output) = env.json(&[
        "--yes",
        "restore",
        "pitr",
        "--time",
        "-1h",
        "--new-server",
        "pg1-restored",
        "--no-wait",
    ]);
    assert_exit(&output, 0);
    let url = report["operation_url"].as_str().expect("operation_url");
    assert!(url.contains("/azureAsyncOperation/"), "{report:#}");
    let follow = report["follow"].as_str().expect("follow");
    assert!(
        follow.contains("campctl backup azure show --server") && follow.contains("az rest"),
        "{follow}"
    );
    let lines = env.arm.request_lines();
    assert_eq!(lines.len(), 3, "GET source, GET new name, PUT: {lines:#?}");
    assert!(lines[2].starts_with("PUT "));
}

#[test]
fn unauthorized_is_12_and_a_missing_source_is_10() {
    let env = env_with(json!({}));
    env.arm.fault(
        Some("GET"),
        "/flexibleservers/pg1",
        Route::json(
            401,
            &json!({ "error": { "code": "InvalidAuthenticationToken", "message": "The access token is invalid." } }),
        ),
        1,
    );
    let output = pitr(&env, &[]);
    assert_exit(&output, 12);
    assert!(
        stderr(&output).contains("`InvalidAuthenticationToken`"),
        "{}",
        stderr(&output)
    );
    let output = pitr(&env, &["--server", "nope"]);
    assert_exit(&output, 10);
    assert!(
        stderr(&output).contains("Flexible Server `nope`"),
        "{}",
        stderr(&output)
    );
    // A target resource group that does not exist is found before the write.
    let output = pitr(&env, &["--resource-group", "rg-missing"]);
    assert_exit(&output, 10);
    assert!(
        stderr(&output).contains("Resource group `rg-missing`"),
        "{}",
        stderr(&output)
    );
    assert_no_put(&env);
    // Once it exists, the new server goes there.
    env.arm.set_resource(
        &format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-dr"),
        json!({ "id": format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-dr"), "name": "rg-dr",
                "location": "westeurope" }),
    );
    let output = pitr(&env, &["--resource-group", "rg-dr"]);
    assert_exit(&output, 0);
    let new_id = ArmStandIn::server_id("pg1-restored").replace(RESOURCE_GROUP, "rg-dr");
    assert!(env.arm.resource(&new_id).is_some(), "{:#?}", env.arm.request_lines());
    assert_eq!(puts(&env)[0]["properties"]["sourceServerResourceId"], pg1());
}
