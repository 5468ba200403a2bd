//! Regression tests for the second hardening issue (issue 16): each test is named after the item it covers
//! (`item_NN_...`, the item's number in the issue) and failed before its fix.

mod transport;
