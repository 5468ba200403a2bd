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

pub(crate) use crate::common::documented::assert_documented;
