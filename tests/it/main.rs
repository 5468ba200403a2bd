//! Service tests: campctl against the real services (database, blob storage, cache) that the harness in
//! `tests/common` starts.

// Tests may keep `std::fs` (clippy.toml disallows it in src/ so that errors there name their paths).
#![allow(
    clippy::disallowed_methods,
    reason = "test code, where a panic message names the path"
)]

#[path = "../common/mod.rs"]
mod common;

mod archive;
mod azure;
mod backup;
mod cleanup;
mod connection;
mod entra;
mod hardening;
mod hardening2;
mod health;
mod logs;
mod notify;
mod pg_database;
mod reindex;
mod restore;
mod restore_safety;
mod services;
mod stats;
mod storage;
mod vacuum;
