//! Hardening regressions (restore): see `mod.rs`.
