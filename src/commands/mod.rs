//! One module per command; each owns its clap `XArgs` and an `async fn x(args, ctx, printer)`.

pub mod backup;
pub mod config;
pub mod maintenance;
pub mod restore;
pub mod stats;
