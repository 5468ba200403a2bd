//! Regression tests for the second hardening issue (issue 16): each test is named after the item it covers
//! (`item_NN_...`) and failed before its fix.

mod output;
