//! Hardening regressions (stats): see `mod.rs`.
