//! CLI snapshot tests: the `campctl` binary's help, argument, config and environment handling (`tests/common`).

#[path = "../common/mod.rs"]
mod common;

mod config;
mod help;
mod layers;
mod source_rules;
mod usage;
