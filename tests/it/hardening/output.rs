//! Hardening regressions (output): see `mod.rs`.
