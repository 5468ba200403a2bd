//! Regression tests for the hardening issue: each test is named after the defect it covers
//! (`item_NN_...`, the item's number in the issue) and failed before its fix. `fuzz` holds the bounded
//! fuzz and property tests of everything campctl parses that need a real service (pg_dump output).

pub(crate) mod backup;
mod fuzz;
mod output;
mod restore;
mod stats;
