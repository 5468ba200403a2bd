//! `campctl backup azure` and the Azure REST client against the ARM stand-in (tests/common/arm.rs), with tokens
//! from the stand-in `az` (tests/common/az.rs).

mod backup;
mod config;
mod restore_pitr;

use std::process::Output;

use serde_json::Value;

use crate::common::TestContext;
use crate::common::arm::ArmStandIn;
use crate::common::az::AzCli;

/// One test's campctl, ARM stand-in and `az`.
pub(crate) struct AzureEnv {
    pub ctx: TestContext,
    pub arm: ArmStandIn,
    pub az: AzCli,
}

impl AzureEnv {
    /// A stand-in with server `pg1` and `[azure] postgres_server = "pg1"` plus `extra` config.
    pub(crate) fn new(extra: &str) -> Self {
        let ctx = TestContext::new();
        let arm = ArmStandIn::start();
        let az = AzCli::logged_in(ctx.home());
        arm.add_server("pg1");
        let env = Self { ctx, arm, az };
        env.config(&format!("postgres_server = \"pg1\"\n{extra}"));
        env
    }

    /// Writes `campctl.toml`: the stand-in's `[azure]` section with `keys` appended.
    pub(crate) fn config(&self, keys: &str) {
        self.ctx
            .write_file("campctl.toml", format!("{}{keys}\n", self.arm.azure_section()));
    }

    /// Runs campctl with `args` (global flags first), trusting the stand-in's CA and with the `az` stand-in on PATH.
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        let ca = self.arm.ca_file(&self.ctx);
        self.ctx
            .cmd()
            .env("SSL_CERT_FILE", ca)
            .env("PATH", self.az.path_env())
            .args(args)
            .output()
            .expect("run campctl")
    }

    /// Runs with `--format json` and parses stdout.
    pub(crate) fn json(&self, args: &[&str]) -> (Value, Output) {
        let mut all = vec!["--format", "json"];
        all.extend_from_slice(args);
        let output = self.run(&all);
        let value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
        (value, output)
    }
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Asserts that `actual` has exactly the keys of the JSON example marked `<!-- json: NAME -->` in docs/output.md.
#[track_caller]
pub(crate) fn assert_documented(name: &str, actual: &Value) {
    fn key_paths(value: &Value, path: &str, out: &mut std::collections::BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    let here = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    out.insert(here.clone());
                    key_paths(child, &here, out);
                }
            }
            Value::Array(items) => {
                for item in items {
                    key_paths(item, &format!("{path}[]"), out);
                }
            }
            _ => {}
        }
    }
    let doc = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/output.md"))
        .expect("read docs/output.md");
    let marker = format!("<!-- json: {name} -->\n```json\n");
    let start = doc
        .find(&marker)
        .unwrap_or_else(|| panic!("docs/output.md has no `{marker}`"))
        + marker.len();
    let end = start + doc[start..].find("\n```").expect("the example ends");
    let example: Value = serde_json::from_str(&doc[start..end]).expect("the example is JSON");
    let (mut expected, mut got) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
    key_paths(&example, "", &mut expected);
    key_paths(actual, "", &mut got);
    assert_eq!(
        got, expected,
        "`{name}`: the output and docs/output.md differ: {actual:#}"
    );
}
