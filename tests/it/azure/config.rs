//! `[azure]` in `config check` and `config show`.

use serde_json::Value;

use super::AzureEnv;
use crate::common::assert_exit;

fn azure_check(report: &Value) -> &Value {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|check| check["name"] == "[azure]")
        .unwrap_or_else(|| panic!("no [azure] check: {report:#}"))
}

#[test]
fn config_check_resolves_the_azure_section() {
    let env = AzureEnv::new("");
    let db = env.ctx.db();
    let url = db.url();
    let (report, output) = env.json(&["--db-url", &url, "config", "check"]);
    assert_exit(&output, 0);
    let check = azure_check(&report);
    assert_eq!(check["ok"], true, "{check:#}");
    assert!(
        check["detail"]
            .as_str()
            .expect("detail")
            .contains("Flexible Server `pg1`"),
        "{check:#}"
    );

    env.config("postgres_server = \"pg1\"\ncloud = \"mars\"");
    let (report, output) = env.json(&["--db-url", &url, "config", "check"]);
    assert_exit(&output, 2);
    let check = azure_check(&report);
    assert_eq!(check["ok"], false);
    assert!(
        check["detail"].as_str().expect("detail").contains("`[azure] cloud`"),
        "{check:#}"
    );
    assert!(env.arm.requests().is_empty(), "config check sends nothing to Azure");
}

#[test]
fn config_show_lists_the_azure_section() {
    let env = AzureEnv::new("max_retries = 5");
    let (report, output) = env.json(&["config", "show"]);
    assert_exit(&output, 0);
    assert_eq!(report["azure"]["postgres_server"], "pg1", "{:#}", report["azure"]);
    assert_eq!(report["azure"]["max_retries"], 5);
    assert_eq!(report["azure"]["credential"], "cli");
}
