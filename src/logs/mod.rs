//! Application logs as JSON lines (runbook 4.2–4.4), read from files: what `campctl logs` reports and health's
//! `error-rate` / `latency-p95` judge when the source is `[logs] files`.
//!
//! Floor 3, a shared home of two commands: [`files`] expands and reads the inputs on a bounded pool of workers,
//! [`parse`] turns one line into a record through the configured [`fields::Fields`], [`reports`] folds records into
//! the three reports' aggregates (with the exact-then-sketched percentiles of `percentiles.rs`), and [`model`] holds
//! the report structs both sources (files and a Log Analytics workspace) print, so the JSON is the same. The
//! settings are resolved from `[logs]` on floor 4 (`settings/logs.rs`).

pub(crate) mod fields;
pub(crate) mod files;
pub(crate) mod model;
pub(crate) mod parse;
mod percentiles;
pub(crate) mod reports;
