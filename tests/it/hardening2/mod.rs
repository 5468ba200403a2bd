//! Regression tests for the second hardening issue: each test is named after the defect it covers
//! (`item_NN_...`, the item's number in the issue) and failed before its fix.

mod connection;
mod files;
mod output;
mod transport;
