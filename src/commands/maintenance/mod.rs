//! `campctl vacuum` and `campctl reindex`: database maintenance with vacuumdb's and reindexdb's options, selection
//! by measured bloat, and a before/after report. [`scope`] resolves the relations, [`jobs`] runs statements on
//! parallel sessions (cancelled on the server on Ctrl-C).

pub mod jobs;
pub mod scope;
pub mod vacuum;
