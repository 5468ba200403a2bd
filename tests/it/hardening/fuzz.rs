//! Hardening regressions (fuzz): see `mod.rs`.
