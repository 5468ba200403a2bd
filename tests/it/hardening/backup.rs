//! Hardening regressions (backup): see `mod.rs`.
