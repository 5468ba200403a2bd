//! CLI snapshot tests: the `campctl` binary's help, argument, config and environment handling (`tests/common`).

// Tests may keep `std::fs` (clippy.toml disallows it in src/ so that errors there name their paths).
#![allow(
    clippy::disallowed_methods,
    reason = "test code, where a panic message names the path"
)]

#[path = "../common/mod.rs"]
mod common;

mod config;
mod help;
mod layers;
mod schedule;
mod source_rules;
mod usage;
