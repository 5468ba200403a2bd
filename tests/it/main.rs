//! Service tests: campctl against the real services (database, blob storage, cache) that the harness in
//! `tests/common` starts.

#[path = "../common/mod.rs"]
mod common;

mod archive;
mod backup;
mod connection;
mod hardening;
mod pg_database;
mod reindex;
mod restore;
mod restore_safety;
mod services;
mod stats;
mod storage;
mod vacuum;
